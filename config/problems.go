package config

import (
	"fmt"
	"strings"
)

// Problem is one invalid value, named by its key path.
type Problem struct {
	// Path is the key path, e.g. "smscs[1].tps" or "http.addr".
	Path string
	// Message says what is wrong, e.g. "must be >= 0".
	Message string
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// Problems is every problem found in a config. It implements error: one
// line per problem, "path: message". Load and Validate return it as
// *Problems so callers can errors.As it and list the problems.
type Problems []Problem

func (ps *Problems) Error() string {
	var b strings.Builder
	for i, p := range *ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func (ps *Problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}
