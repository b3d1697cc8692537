package bridge

import "errors"

// Sentinel errors of the endpoint store. They live here rather than in
// errors.go because the store and the delivery side are written in
// parallel; both files are part of the package's error vocabulary.
var (
	// ErrEndpointNotFound: no endpoint with that id, or it belongs to
	// another account (callers answer 404 either way, never 403).
	ErrEndpointNotFound = errors.New("bridge: endpoint not found")
	// ErrEndpointExists: Create was given an id that is already taken.
	ErrEndpointExists = errors.New("bridge: endpoint already exists")
	// ErrStaticEndpoint: the endpoint is declared in the config file, so
	// only its enabled flag may be changed through the API.
	ErrStaticEndpoint = errors.New("bridge: endpoint is declared in the config file")
	// ErrInvalidSecret: a secret is not "whsec_" + base64 of 24 to 64 bytes.
	ErrInvalidSecret = errors.New("bridge: invalid webhook secret")
	// ErrInvalidEndpoint: an endpoint failed validation (see
	// EndpointValidationError for the fields).
	ErrInvalidEndpoint = errors.New("bridge: invalid endpoint")
)

// EndpointValidationError lists every problem with an endpoint, by JSON
// field name, so the API can answer them all at once.
type EndpointValidationError struct {
	Fields []EndpointFieldError
}

// EndpointFieldError is one invalid field.
type EndpointFieldError struct {
	Field, Message string
}

func (e *EndpointValidationError) Error() string {
	s := "bridge: invalid endpoint"
	for i, f := range e.Fields {
		if i == 0 {
			s += ": "
		} else {
			s += "; "
		}
		s += f.Field + ": " + f.Message
	}
	return s
}

// Unwrap lets errors.Is(err, ErrInvalidEndpoint) match.
func (e *EndpointValidationError) Unwrap() error { return ErrInvalidEndpoint }
