package api

import (
	"encoding/json"
	"net/http"

	"github.com/beckon-dev/beckon/pkg/journey"
)

// Error is the JSON body of every error response:
// {"error": {"code": ..., "message": ..., "fields": [...]}}.
type Error struct {
	// Status is the HTTP status; not part of the body.
	Status int `json:"-"`
	// Code is a stable, machine-readable name: unauthorized, forbidden,
	// not_found, invalid, conflict, too_large, unsupported, unavailable,
	// internal.
	Code string `json:"code"`
	// Message says what went wrong, for people.
	Message string `json:"message"`
	// Fields lists each invalid field with the reason, for invalid.
	Fields []Field `json:"fields,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Field is one invalid input field: a journey definition's field path (as
// `beckon journeys validate` prints it) or a request parameter's name,
// with the reason, and where known the line and column in the definition.
type Field struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

// fieldsOf converts a journey validation error's problems.
func fieldsOf(ve *journey.ValidationError) []Field {
	out := make([]Field, len(ve.Errors))
	for i, fe := range ve.Errors {
		out[i] = Field{Path: fe.Path, Reason: fe.Reason, Line: fe.Line, Column: fe.Column}
	}
	return out
}

// FieldErrors converts fields back to the journey package's problems, so
// that a client prints them exactly as local validation does.
func FieldErrors(fs []Field) []journey.FieldError {
	out := make([]journey.FieldError, len(fs))
	for i, f := range fs {
		out[i] = journey.FieldError{Path: f.Path, Reason: f.Reason, Line: f.Line, Column: f.Column}
	}
	return out
}

func errInvalid(path, reason string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: path + ": " + reason, Fields: []Field{{Path: path, Reason: reason}}}
}

func errNotFound(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: msg}
}

func errConflict(msg string) *Error {
	return &Error{Status: http.StatusConflict, Code: "conflict", Message: msg}
}

// writeError writes e as the JSON error body.
func writeError(w http.ResponseWriter, e *Error) {
	switch e.Status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="beckon"`)
	case http.StatusServiceUnavailable:
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "2") // every 503 is worth retrying
		}
	}
	writeJSON(w, e.Status, struct {
		Error *Error `json:"error"`
	}{e})
}

// writeJSON writes v as the response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the status is sent; a failed write is the client's loss
}
