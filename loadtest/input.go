package loadtest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/smsgw/smsgw/client"
)

// Format is an input file format.
type Format string

// Input formats.
const (
	// CSV: a header row naming submit body fields (to, text, from,
	// encoding, validity, route, callback_url, metadata.<key>), then one
	// message per row.
	CSV Format = "csv"
	// JSONL: one submit body (a JSON object) per line.
	JSONL Format = "jsonl"
)

// MaxLineBytes caps one input line (a JSONL object or a CSV record); the
// API refuses bodies above 1 MiB anyway.
const MaxLineBytes = 1 << 20

// FormatFor picks the format from a file name's extension: .csv is CSV;
// .jsonl, .ndjson and .json are JSONL.
func FormatFor(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".jsonl", ".ndjson", ".json":
		return JSONL, nil
	}
	return "", fmt.Errorf("%w: %q: want a .csv or .jsonl file (or name the format)", ErrFormat, path)
}

// ParseFormat parses a --format value.
func ParseFormat(s string) (Format, error) {
	switch Format(strings.ToLower(s)) {
	case CSV:
		return CSV, nil
	case JSONL, "ndjson":
		return JSONL, nil
	}
	return "", fmt.Errorf("%w: %q: want csv or jsonl", ErrFormat, s)
}

// Item is one message read from an input file: its line number and submit
// body, or Err (a *LineError) when the line is unusable.
type Item struct {
	Line int
	Req  client.SubmitRequest
	Err  error
}

// ReadItems reads every message of r. Bad lines become Items with Err set
// (line number included) so the caller can report them; the returned error
// is for input that cannot be read at all (I/O error, unusable CSV header,
// a line longer than MaxLineBytes).
func ReadItems(r io.Reader, f Format) ([]Item, error) {
	switch f {
	case CSV:
		return readCSV(r)
	case JSONL:
		return readJSONL(r)
	}
	return nil, fmt.Errorf("%w: %q", ErrFormat, f)
}

// csvColumn sets one field of a submit body from a CSV cell.
type csvColumn func(req *client.SubmitRequest, v string)

var csvFields = map[string]csvColumn{
	"to":           func(r *client.SubmitRequest, v string) { r.To = v },
	"text":         func(r *client.SubmitRequest, v string) { r.Text = v },
	"from":         func(r *client.SubmitRequest, v string) { r.From = v },
	"encoding":     func(r *client.SubmitRequest, v string) { r.Encoding = v },
	"validity":     func(r *client.SubmitRequest, v string) { r.Validity = v },
	"route":        func(r *client.SubmitRequest, v string) { r.Route = v },
	"callback_url": func(r *client.SubmitRequest, v string) { r.CallbackURL = v },
}

func csvHeader(header []string) ([]csvColumn, error) {
	cols := make([]csvColumn, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		name := strings.TrimSpace(h)
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff") // a BOM from spreadsheet exports
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: CSV header: column %q appears twice", ErrFormat, name)
		}
		seen[name] = true
		if key, ok := strings.CutPrefix(name, "metadata."); ok {
			if key == "" {
				return nil, fmt.Errorf("%w: CSV header: column %d: metadata. needs a key (metadata.<key>)", ErrFormat, i+1)
			}
			cols[i] = func(r *client.SubmitRequest, v string) {
				// An empty cell means "no such key for this message".
				if v == "" {
					return
				}
				if r.Metadata == nil {
					r.Metadata = map[string]string{}
				}
				r.Metadata[key] = v
			}
			continue
		}
		col, ok := csvFields[name]
		if !ok {
			return nil, fmt.Errorf("%w: CSV header: unknown column %q (want to, text, from, encoding, validity, route, callback_url or metadata.<key>)", ErrFormat, name)
		}
		cols[i] = col
	}
	if !seen["to"] || !seen["text"] {
		return nil, fmt.Errorf("%w: CSV header: needs the columns to and text", ErrFormat)
	}
	return cols, nil
}

func readCSV(r io.Reader) ([]Item, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 64<<10))
	cr.FieldsPerRecord = -1 // checked here, with a clearer message
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: CSV: empty file (want a header row)", ErrFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: CSV header: %w", ErrFormat, err)
	}
	cols, err := csvHeader(header)
	if err != nil {
		return nil, err
	}
	var items []Item
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			items = append(items, Item{Line: pe.StartLine, Err: &LineError{Line: pe.StartLine, Err: pe.Err}})
			continue
		}
		if err != nil {
			return items, fmt.Errorf("loadtest: read CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(cols) {
			items = append(items, Item{Line: line, Err: &LineError{Line: line,
				Err: fmt.Errorf("has %d fields, the header has %d", len(rec), len(cols))}})
			continue
		}
		var req client.SubmitRequest
		for i, v := range rec {
			cols[i](&req, v)
		}
		items = append(items, Item{Line: line, Req: req})
	}
}

func readJSONL(r io.Reader) ([]Item, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
	var items []Item
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\ufeff"))
		}
		if len(b) == 0 {
			continue
		}
		var req client.SubmitRequest
		dec := json.NewDecoder(bytes.NewReader(b))
		// Unknown fields are refused here too, so a typo is reported with
		// its line instead of 1,000 identical 400s.
		dec.DisallowUnknownFields()
		err := dec.Decode(&req)
		if err == nil && dec.More() {
			err = errors.New("trailing data after the JSON object")
		}
		if err != nil {
			items = append(items, Item{Line: line, Err: &LineError{Line: line, Err: jsonLineError(err)}})
			continue
		}
		items = append(items, Item{Line: line, Req: req})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return items, fmt.Errorf("%w: line %d: longer than %d bytes", ErrFormat, line+1, MaxLineBytes)
		}
		return items, fmt.Errorf("loadtest: read JSONL: %w", err)
	}
	return items, nil
}

// jsonLineError words a decode error for one line.
func jsonLineError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	case errors.As(err, &te):
		return fmt.Errorf("field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	return err
}
