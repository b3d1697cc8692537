package loadtest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// PeakRSS is the peak resident set size of process pid in bytes (VmHWM in
// /proc/<pid>/status; Linux only). pid 0 means this process.
func PeakRSS(pid int) (int64, error) { return procStatusKB(pid, "VmHWM:") }

// CurrentRSS is the resident set size of process pid in bytes now (VmRSS
// in /proc/<pid>/status; Linux only). pid 0 means this process.
func CurrentRSS(pid int) (int64, error) { return procStatusKB(pid, "VmRSS:") }

func procStatusKB(pid int, key string) (int64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNoProcess, err)
	}
	defer f.Close()
	return parseStatusKB(f, key)
}

// parseStatusKB reads the "<key>   123456 kB" line of a proc status file.
func parseStatusKB(r io.Reader, key string) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), key)
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("%w: %s line %q: want \"<n> kB\"", ErrNoProcess, key, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("%w: %s value %q", ErrNoProcess, key, fields[0])
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNoProcess, err)
	}
	return 0, fmt.Errorf("%w: no %s line", ErrNoProcess, key)
}
