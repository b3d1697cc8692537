package loadtest

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrConfig is returned for an unusable SendConfig or BenchConfig.
	ErrConfig = errors.New("loadtest: invalid config")
	// ErrFormat is returned for an input format that is neither CSV nor
	// JSONL, or a CSV header that cannot be used.
	ErrFormat = errors.New("loadtest: invalid input format")
	// ErrNoProcess is returned by PeakRSS when the process status cannot
	// be read (no such pid, not Linux).
	ErrNoProcess = errors.New("loadtest: process status unavailable")
)

// LineError is an input line that could not be turned into a submit body.
// The line is reported and skipped; the other lines are still sent.
type LineError struct {
	Line int   // 1-based line number in the input file
	Err  error // what is wrong with it
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }
