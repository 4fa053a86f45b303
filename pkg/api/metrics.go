package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/beckon-dev/beckon/pkg/journeymetrics"
)

// MetricsSource answers a journey's metrics report;
// *journeymetrics.Reader is one. It returns journeymetrics.ErrNotReady
// while it loads.
type MetricsSource interface {
	Journey(journeyID string, q journeymetrics.Query) (journeymetrics.Report, error)
}

// metrics serves GET /v1/journeys/{id}/metrics. Only journeys the
// catalog knows have metrics: an unknown ID is 404, so a typo is not
// mistaken for a journey nobody entered; a known journey with no
// activity yet is 200 with zeros.
func (j *Journeys) metrics(r *http.Request) (int, any, *Error) {
	q, e := metricsQuery(r)
	if e != nil {
		return 0, nil, e
	}
	if _, e := j.records(r.PathValue("id")); e != nil {
		return 0, nil, e
	}
	rep, err := j.Metrics.Journey(r.PathValue("id"), q)
	switch {
	case errors.Is(err, journeymetrics.ErrNotReady):
		return 0, nil, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "still reading the journey metrics topic"}
	case err != nil:
		j.Logger.Error("journey metrics", "journey", r.PathValue("id"), "err", err)
		return 0, nil, &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "journey metrics: " + err.Error()}
	}
	return http.StatusOK, rep, nil
}

// metricsQuery reads the parameters that select the hourly series.
func metricsQuery(r *http.Request) (journeymetrics.Query, *Error) {
	var q journeymetrics.Query
	v := r.URL.Query()
	if s := v.Get("version"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 1 {
			return q, errInvalid("version", "want a version number of at least 1")
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
				return q, errInvalid(b.name, "want an RFC 3339 time such as 2026-03-02T10:00:00Z")
			}
			*b.t = t
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, errInvalid("to", "want a time after from")
	}
	return q, nil
}
