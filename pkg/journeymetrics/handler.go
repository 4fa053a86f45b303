package journeymetrics

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// maxJourneyIDBytes bounds the path parameter: journey IDs are short
// names.
const maxJourneyIDBytes = 256

// Handler serves GET /v1/journeys/{id}/metrics from r. It does no
// authentication: the API server that mounts it does. The route must be
// registered with a ServeMux pattern naming the wildcard {id}.
//
// Query parameters (all optional): version (a positive integer) and step
// restrict the hourly series; from and to (RFC 3339) bound it to hours
// starting in [from, to).
func Handler(r *Reader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		id := req.PathValue("id")
		if id == "" || len(id) > maxJourneyIDBytes {
			badRequest(w, "id", "a journey ID of 1 to 256 bytes")
			return
		}
		q, field, reason := parseQuery(req)
		if field != "" {
			badRequest(w, field, reason)
			return
		}
		rep, err := r.Journey(id, q)
		if errors.Is(err, ErrNotReady) {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "journey metrics are loading; retry"})
			return
		}
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
}

func parseQuery(req *http.Request) (q Query, field, reason string) {
	v := req.URL.Query()
	if s := v.Get("version"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 1 {
			return q, "version", "a positive integer"
		}
		q.Version = int32(n)
	}
	q.Step = v.Get("step")
	for _, b := range []struct {
		name string
		t    *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(b.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return q, b.name, "an RFC 3339 time such as 2026-03-02T10:00:00Z"
			}
			*b.t = t
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, "to", "after from"
	}
	return q, "", ""
}

// errorBody is the JSON body of an error answer.
type errorBody struct {
	Error  string `json:"error"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func badRequest(w http.ResponseWriter, field, reason string) {
	writeJSON(w, http.StatusBadRequest, errorBody{Error: "invalid " + field + ": want " + reason, Field: field, Reason: reason})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
