package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// DefaultMaxBodyBytes is the body limit when none is configured (contract
// section 2: 1 MiB).
const DefaultMaxBodyBytes int64 = 1 << 20

// Decode reads r's body as one JSON value into v. Unknown fields, syntax
// errors, wrong types, an empty body and trailing data are 400 problems
// naming what is wrong; a body over the MaxBytes limit is 413. It returns
// nil on success.
func Decode(r *http.Request, v any) *Problem {
	body, p := ReadBody(r)
	if p != nil {
		return p
	}
	return DecodeBytes(body, v)
}

// DecodeBytes is Decode for a body already read (batch items, fuzzing).
func DecodeBytes(body []byte, v any) *Problem {
	if len(bytes.TrimSpace(body)) == 0 {
		return NewProblem(http.StatusBadRequest, "request body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err, body)
	}
	// A second value (or garbage) after the first is an error: "{}{}" is
	// not one JSON document.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return NewProblem(http.StatusBadRequest,
			fmt.Sprintf("unexpected data after the JSON value at offset %d", dec.InputOffset()))
	}
	return nil
}

// unknownFieldPrefix is how encoding/json reports DisallowUnknownFields
// violations; it has no typed error for them, so the text is the only
// signal (covered by a test so a change in Go would be noticed).
const unknownFieldPrefix = "json: unknown field "

func decodeProblem(err error, body []byte) *Problem {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return NewProblem(http.StatusBadRequest,
			fmt.Sprintf("malformed JSON at offset %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: ")))
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := te.Field
		if field == "" {
			return NewProblem(http.StatusBadRequest,
				fmt.Sprintf("request body must be a JSON %s, not %s", jsonKind(te.Type.Kind().String()), te.Value))
		}
		return NewProblem(http.StatusBadRequest, "request body has invalid fields",
			FieldError{Field: field, Message: fmt.Sprintf("must be %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)})
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return NewProblem(http.StatusBadRequest,
			fmt.Sprintf("malformed JSON: unexpected end of input at offset %d", len(body)))
	}
	if name, ok := strings.CutPrefix(err.Error(), unknownFieldPrefix); ok {
		if uq, uerr := strconv.Unquote(name); uerr == nil {
			name = uq
		}
		return NewProblem(http.StatusBadRequest, "request body has an unknown field",
			FieldError{Field: name, Message: "unknown field"})
	}
	return NewProblem(http.StatusBadRequest, "malformed JSON request body")
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "ptr", "interface":
		return "a value"
	}
	return "a " + k
}

// MaxBytes caps every request body at limit bytes (DefaultMaxBodyBytes when
// limit <= 0); Decode turns an overrun into 413. A declared Content-Length
// over the limit is refused before reading anything.
func MaxBytes(limit int64, next http.Handler) http.Handler {
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			WriteProblem(w, NewProblem(http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body is larger than %d bytes", limit)))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// ReadBody reads r's whole body, turning a MaxBytes overrun into a 413
// problem. Use it with DecodeBytes when the raw bytes are needed too.
func ReadBody(r *http.Request) ([]byte, *Problem) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, NewProblem(http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
		}
		return nil, NewProblem(http.StatusBadRequest, "could not read the request body")
	}
	return body, nil
}
