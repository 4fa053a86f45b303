package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/simulate"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// Simulations serves POST /v1/simulations: a draft run on a window of
// past traffic (pkg/simulate). It reads Kafka and writes nothing, so it
// needs only the read role; its work is bounded, since one request can
// ask for a week of every user's events.
type Simulations struct {
	Kafka    []kgo.Opt
	Layout   topics.Layout
	Codec    *codec.Codec
	Channels []string
	// MaxRecords caps the events and receipts one simulation reads;
	// default DefaultSimulationMaxRecords.
	MaxRecords int64
	// MaxUsers caps the users one simulation runs; a request asking for
	// more, or for all, gets this many. Default DefaultSimulationMaxUsers.
	MaxUsers int

	// running admits one simulation at a time: each already uses every
	// core.
	running chan struct{}
}

// Bounds of one simulation through the API.
const (
	DefaultSimulationMaxRecords = 2_000_000
	DefaultSimulationMaxUsers   = 100_000
)

// Mount adds the route to s.
func (sim *Simulations) Mount(s *Server) {
	if sim.MaxRecords <= 0 {
		sim.MaxRecords = DefaultSimulationMaxRecords
	}
	if sim.MaxUsers <= 0 {
		sim.MaxUsers = DefaultSimulationMaxUsers
	}
	sim.running = make(chan struct{}, 1)
	s.Handle("POST", "/v1/simulations", Read, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep, e := sim.simulate(r)
		if e != nil {
			writeError(w, e)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	}))
}

func (sim *Simulations) simulate(r *http.Request) (*simulate.Report, *Error) {
	now := time.Now()
	q := r.URL.Query()
	o := simulate.Options{Kafka: sim.Kafka, Layout: sim.Layout, Codec: sim.Codec, Channels: sim.Channels, MaxRecords: sim.MaxRecords, Users: sim.MaxUsers}
	var err error
	if q.Get("from") == "" {
		return nil, errInvalid("from", "required: an RFC 3339 time or a duration before now such as 168h")
	}
	if o.From, err = simulate.ParseTime(q.Get("from"), now); err != nil {
		return nil, errInvalid("from", err.Error())
	}
	o.To = now
	if v := q.Get("to"); v != "" {
		if o.To, err = simulate.ParseTime(v, now); err != nil {
			return nil, errInvalid("to", err.Error())
		}
	}
	if !o.From.Before(o.To) {
		return nil, errInvalid("from", "must be before to")
	}
	if v := q.Get("users"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, errInvalid("users", "want a number of users of at least 1")
		}
		o.Users = min(n, sim.MaxUsers)
	}
	text, _, e := definition(r)
	if e != nil {
		return nil, e
	}
	select {
	case sim.running <- struct{}{}:
		defer func() { <-sim.running }()
	default:
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "another simulation is running on this API instance; retry"}
	}
	rep, err := simulate.Run(r.Context(), text, o)
	var ve *journey.ValidationError
	switch {
	case errors.As(err, &ve):
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "the journey definition is invalid", Fields: fieldsOf(ve)}
	case errors.Is(err, context.DeadlineExceeded):
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "the simulation did not finish within the API's request timeout: simulate a shorter window or fewer users (users=N)"}
	case err != nil:
		// The definition is valid: what failed is reading Kafka.
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: fmt.Sprintf("simulate: %v", err)}
	}
	return rep, nil
}
