package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
)

// Journeys is the journey control plane: it reads journeys from a catalog
// that follows the journeys topic and writes them through an
// engine.Control, then waits until the catalog has read its write back, so
// a client reads what it wrote.
type Journeys struct {
	// Catalog follows the journeys topic (engine.Catalog.Follow).
	Catalog *engine.Catalog
	// Control writes the journeys topic; its By is replaced by the
	// requesting token's name.
	Control engine.Control
	// Counts answers headline counts; nil omits them.
	Counts CountsSource
	// Metrics answers GET /v1/journeys/{id}/metrics; nil leaves the
	// route unmounted.
	Metrics MetricsSource
	// Logger receives failures to read counts; default discards.
	Logger *slog.Logger

	// mu serialises this process's writes: version numbers are chosen by
	// reading the topic, so two concurrent writes could choose the same.
	mu sync.Mutex
}

// Mount adds the control plane routes to s.
func (j *Journeys) Mount(s *Server) {
	if j.Logger == nil {
		j.Logger = slog.New(slog.DiscardHandler)
	}
	h := func(f func(*http.Request) (int, any, *Error)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !j.Catalog.Ready() {
				writeError(w, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "still reading the journeys topic"})
				return
			}
			status, body, e := f(r)
			switch {
			case e != nil:
				writeError(w, e)
			case body == nil:
				w.WriteHeader(status)
			default:
				writeJSON(w, status, body)
			}
		})
	}
	s.Handle("GET", "/v1/me", Read, h(me))
	s.Handle("GET", "/v1/journeys", Read, h(j.list))
	s.Handle("POST", "/v1/journeys", Write, h(j.create))
	s.Handle("POST", "/v1/journeys/validate", Read, h(j.validate))
	s.Handle("GET", "/v1/journeys/{id}", Read, h(j.get))
	s.Handle("PUT", "/v1/journeys/{id}/draft", Write, h(j.saveDraft))
	s.Handle("DELETE", "/v1/journeys/{id}/draft", Write, h(j.deleteDraft))
	s.Handle("POST", "/v1/journeys/{id}/publish", Write, h(j.publish))
	s.Handle("POST", "/v1/journeys/{id}/pause", Write, h(j.setState(records.JourneyPaused)))
	s.Handle("POST", "/v1/journeys/{id}/resume", Write, h(j.setState(records.JourneyLive)))
	s.Handle("POST", "/v1/journeys/{id}/archive", Write, h(j.setState(records.JourneyArchived)))
	s.Handle("POST", "/v1/journeys/{id}/clone", Write, h(j.clone))
	s.Handle("GET", "/v1/journeys/{id}/versions", Read, h(j.versions))
	s.Handle("GET", "/v1/journeys/{id}/versions/{version}", Read, h(j.version))
	if j.Metrics != nil {
		s.Handle("GET", "/v1/journeys/{id}/metrics", Read, h(j.metrics))
	}
}

// JourneySummary is a journey as listed.
type JourneySummary struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Status is draft (never published), live, paused, has-errors (its
	// current version does not validate: no entries, no sends) or
	// archived.
	Status         records.JourneyState `json:"status"`
	CurrentVersion int32                `json:"currentVersion,omitempty"`
	DraftVersion   int32                `json:"draftVersion,omitempty"`
	LatestVersion  int32                `json:"latestVersion"`
	PublishedAt    *time.Time           `json:"publishedAt,omitempty"`
	// Channels are the channels its sends use, in step order without
	// repeats (the console's list shows them).
	Channels    []string `json:"channels,omitempty"`
	Counts      *Counts  `json:"counts,omitempty"`
	CountsError string   `json:"countsError,omitempty"`
}

// Journey is one journey in detail: why its current version does not
// validate, when it does not.
type Journey struct {
	JourneySummary
	Errors []Field `json:"errors,omitempty"`
}

// VersionSummary is one version as listed.
type VersionSummary struct {
	JourneyID   string               `json:"journeyId"`
	Version     int32                `json:"version"`
	State       records.JourneyState `json:"state"`
	Format      string               `json:"format"`
	PublishedAt *time.Time           `json:"publishedAt,omitempty"`
	PublishedBy string               `json:"publishedBy,omitempty"`
	Valid       bool                 `json:"valid"`
	Errors      []Field              `json:"errors,omitempty"`
}

// Version is one version with its definition's text as written.
type Version struct {
	VersionSummary
	Definition string `json:"definition"`
	// Parsed is the definition as JSON with the keys of
	// schemas/journey.schema.json, when it parses: what the console draws
	// its flowchart from without a YAML parser of its own.
	Parsed *journey.Definition `json:"parsed,omitempty"`
}

// Validation is the result of validating a definition.
type Validation struct {
	Valid     bool    `json:"valid"`
	JourneyID string  `json:"journeyId,omitempty"`
	Steps     int     `json:"steps,omitempty"`
	Errors    []Field `json:"errors"`
	// Parsed is the definition as JSON, when it parses (valid or not),
	// so an editor can draw what it would run.
	Parsed *journey.Definition `json:"parsed,omitempty"`
}

func (j *Journeys) list(r *http.Request) (int, any, *Error) {
	out := []JourneySummary{}
	for _, id := range j.Catalog.JourneyIDs() {
		if recs := j.Catalog.Records(id); len(recs) > 0 {
			out = append(out, j.summary(r.Context(), recs))
		}
	}
	return http.StatusOK, map[string]any{"journeys": out}, nil
}

func (j *Journeys) get(r *http.Request) (int, any, *Error) {
	recs, e := j.records(r.PathValue("id"))
	if e != nil {
		return 0, nil, e
	}
	return http.StatusOK, j.detail(r.Context(), recs), nil
}

func (j *Journeys) detail(ctx context.Context, recs []engine.VersionRecord) Journey {
	out := Journey{JourneySummary: j.summary(ctx, recs)}
	if cur := current(recs); cur != nil && cur.Err != nil {
		out.Errors = problems(cur.Err)
	}
	return out
}

func (j *Journeys) summary(ctx context.Context, recs []engine.VersionRecord) JourneySummary {
	last := recs[len(recs)-1]
	s := JourneySummary{ID: last.JourneyID, LatestVersion: last.Version, Status: records.JourneyDraft}
	if d := draft(recs); d != nil {
		s.DraftVersion = d.Version
	}
	shown := last
	if cur := current(recs); cur != nil {
		shown = *cur
		s.CurrentVersion, s.Status = cur.Version, cur.State
		if cur.Err != nil && cur.State == records.JourneyLive {
			s.Status = records.JourneyHasErrors
		}
		if !cur.PublishedAt.IsZero() {
			t := cur.PublishedAt
			s.PublishedAt = &t
		}
	}
	if def, err := journey.Parse([]byte(shown.Definition)); err == nil {
		s.Name = def.Name
		for _, st := range def.Steps {
			if st.Send != nil && !slices.Contains(s.Channels, st.Send.Channel) {
				s.Channels = append(s.Channels, st.Send.Channel)
			}
		}
	}
	if j.Counts != nil {
		c, err := j.Counts.JourneyCounts(ctx, s.ID)
		if err != nil {
			// One journey's missing counts do not fail the listing.
			j.Logger.Warn("journey counts", "journey", s.ID, "err", err)
			s.CountsError = err.Error()
		} else {
			s.Counts = &c
		}
	}
	return s
}

// current is the highest non-draft version, the one engines run.
func current(recs []engine.VersionRecord) *engine.VersionRecord {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].State != records.JourneyDraft {
			return &recs[i]
		}
	}
	return nil
}

func draft(recs []engine.VersionRecord) *engine.VersionRecord {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].State == records.JourneyDraft {
			return &recs[i]
		}
	}
	return nil
}

func (j *Journeys) records(id string) ([]engine.VersionRecord, *Error) {
	recs := j.Catalog.Records(id)
	if len(recs) == 0 {
		return nil, errNotFound(fmt.Sprintf("no journey %q", id))
	}
	return recs, nil
}

func (j *Journeys) versions(r *http.Request) (int, any, *Error) {
	recs, e := j.records(r.PathValue("id"))
	if e != nil {
		return 0, nil, e
	}
	out := make([]VersionSummary, len(recs))
	for i, v := range recs {
		out[i] = versionSummary(v)
	}
	return http.StatusOK, map[string]any{"versions": out}, nil
}

func (j *Journeys) version(r *http.Request) (int, any, *Error) {
	id := r.PathValue("id")
	n, err := strconv.ParseInt(r.PathValue("version"), 10, 32)
	if err != nil || n < 1 {
		return 0, nil, errInvalid("version", "want a version number of at least 1")
	}
	recs, e := j.records(id)
	if e != nil {
		return 0, nil, e
	}
	i := slices.IndexFunc(recs, func(v engine.VersionRecord) bool { return v.Version == int32(n) })
	if i < 0 {
		return 0, nil, errNotFound(fmt.Sprintf("journey %q has no version %d", id, n))
	}
	out := Version{VersionSummary: versionSummary(recs[i]), Definition: recs[i].Definition}
	if def, err := journey.Parse([]byte(out.Definition)); err == nil {
		out.Parsed = def
	}
	return http.StatusOK, out, nil
}

func versionSummary(v engine.VersionRecord) VersionSummary {
	s := VersionSummary{JourneyID: v.JourneyID, Version: v.Version, State: v.State, Format: v.Format, PublishedBy: v.PublishedBy, Valid: v.Err == nil}
	if !v.PublishedAt.IsZero() {
		t := v.PublishedAt
		s.PublishedAt = &t
	}
	if v.Err != nil {
		s.Errors = problems(v.Err)
	}
	return s
}

// problems lists why a version does not compile.
func problems(err error) []Field {
	var ve *journey.ValidationError
	if errors.As(err, &ve) {
		return fieldsOf(ve)
	}
	return []Field{{Reason: err.Error()}}
}

// definition reads a request body holding a journey definition in YAML
// or JSON, as `beckon journeys` reads a file.
func definition(r *http.Request) ([]byte, string, *Error) {
	format := records.FormatYAML
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			return nil, "", &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported", Message: "Content-Type " + ct + " does not parse"}
		case mt == "application/json" || mt == "text/json":
			format = records.FormatJSON
		case mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data":
			return nil, "", &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported",
				Message: "a definition is sent as the raw body with Content-Type application/yaml or application/json (curl: --data-binary @FILE, not -d)"}
		}
	}
	b, e := readBody(r)
	if e != nil {
		return nil, "", e
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, "", errInvalid("body", "empty: want a journey definition in YAML or JSON")
	}
	return b, format, nil
}

// readBody reads the request body within the server's size limit.
func readBody(r *http.Request) ([]byte, *Error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, tooLarge(tooBig.Limit)
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "read body: " + err.Error()}
	}
	return b, nil
}

// definitionFor reads a definition for the journey id of the URL.
func definitionFor(r *http.Request, id string) ([]byte, string, *Error) {
	text, format, e := definition(r)
	if e != nil {
		return nil, "", e
	}
	if _, e := parse(text, id); e != nil {
		return nil, "", e
	}
	return text, format, nil
}

// parse parses a definition whose id must be want (when not empty).
func parse(text []byte, want string) (*journey.Definition, *Error) {
	def, err := journey.Parse(text)
	if err != nil {
		return nil, invalidDefinition(err)
	}
	if want != "" && def.ID != want {
		return nil, errInvalid("id", fmt.Sprintf("the definition's id %q is not the journey %q of the URL", def.ID, want))
	}
	return def, nil
}

func invalidDefinition(err error) *Error {
	var ve *journey.ValidationError
	if errors.As(err, &ve) {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "the journey definition is invalid", Fields: fieldsOf(ve)}
	}
	return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}
}

func (j *Journeys) validate(r *http.Request) (int, any, *Error) {
	text, _, e := definition(r)
	if e != nil {
		return 0, nil, e
	}
	def, err := journey.Parse(text)
	if err == nil {
		err = journey.Validate(def, j.Control.Channels)
	}
	out := Validation{Valid: err == nil, Errors: []Field{}}
	if def != nil {
		out.JourneyID, out.Steps, out.Parsed = def.ID, len(def.Steps), def
	}
	if err != nil {
		var ve *journey.ValidationError
		if !errors.As(err, &ve) {
			return 0, nil, invalidDefinition(err)
		}
		out.Errors = fieldsOf(ve)
	}
	return http.StatusOK, out, nil
}

// control returns the writer for the request, recording its token's name
// as the publisher.
func (j *Journeys) control(r *http.Request) *engine.Control {
	c := j.Control
	if t, ok := TokenFrom(r.Context()); ok {
		c.By = t.Name
	}
	return &c
}

func (j *Journeys) create(r *http.Request) (int, any, *Error) {
	text, format, e := definition(r)
	if e != nil {
		return 0, nil, e
	}
	def, e := parse(text, "")
	if e != nil {
		return 0, nil, e
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.Catalog.Records(def.ID)) > 0 {
		return 0, nil, errConflict(fmt.Sprintf("journey %q exists; save a draft with PUT /v1/journeys/%s/draft", def.ID, def.ID))
	}
	return j.saveDraftLocked(r, def.ID, text, format, http.StatusCreated)
}

func (j *Journeys) saveDraft(r *http.Request) (int, any, *Error) {
	id := r.PathValue("id")
	text, format, e := definitionFor(r, id)
	if e != nil {
		return 0, nil, e
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.saveDraftLocked(r, id, text, format, http.StatusOK)
}

func (j *Journeys) saveDraftLocked(r *http.Request, id string, text []byte, format string, status int) (int, any, *Error) {
	v, err := j.control(r).Draft(r.Context(), text, format)
	if err != nil {
		return 0, nil, j.failed(err)
	}
	return j.readBack(r.Context(), id, v, status, func(rec engine.VersionRecord) bool {
		return rec.State == records.JourneyDraft && rec.Definition == string(text)
	})
}

// readBack waits until the catalog holds version v of journey id as ok
// says, and answers it.
func (j *Journeys) readBack(ctx context.Context, id string, v int32, status int, ok func(engine.VersionRecord) bool) (int, any, *Error) {
	var got engine.VersionRecord
	e := j.await(ctx, func() bool {
		for _, rec := range j.Catalog.Records(id) {
			if rec.Version == v && ok(rec) {
				got = rec
				return true
			}
		}
		return false
	})
	if e != nil {
		return 0, nil, e
	}
	return status, Version{VersionSummary: versionSummary(got), Definition: got.Definition}, nil
}

// await waits until cond holds of the catalog.
func (j *Journeys) await(ctx context.Context, cond func() bool) *Error {
	for {
		changed := j.Catalog.Changed()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the change was written to the journeys topic but not yet read back; read it again shortly"}
		}
	}
}

// failed classifies a control plane error.
func (j *Journeys) failed(err error) *Error {
	var ve *journey.ValidationError
	switch {
	case errors.As(err, &ve):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "the journey definition is invalid", Fields: fieldsOf(ve)}
	case errors.Is(err, engine.ErrNoDraft):
		return errNotFound(err.Error())
	case errors.Is(err, engine.ErrState):
		return errConflict(err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the journeys topic did not answer in time: " + err.Error()}
	}
	j.Logger.Error("journey control", "err", err)
	return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the journeys topic failed: " + err.Error()}
}

func (j *Journeys) deleteDraft(r *http.Request) (int, any, *Error) {
	id := r.PathValue("id")
	if _, e := j.records(id); e != nil {
		return 0, nil, e
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	v, err := j.control(r).DeleteDraft(r.Context(), id)
	if err != nil {
		return 0, nil, j.failed(err)
	}
	if e := j.await(r.Context(), func() bool {
		return !slices.ContainsFunc(j.Catalog.Records(id), func(rec engine.VersionRecord) bool { return rec.Version == v })
	}); e != nil {
		return 0, nil, e
	}
	return http.StatusNoContent, nil, nil
}

// publish publishes the request body as the journey's next version, or
// with an empty body the journey's draft.
func (j *Journeys) publish(r *http.Request) (int, any, *Error) {
	id := r.PathValue("id")
	b, e := readBody(r)
	if e != nil {
		return 0, nil, e
	}
	c := j.control(r)
	if len(bytes.TrimSpace(b)) == 0 {
		if _, e := j.records(id); e != nil {
			return 0, nil, e
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		v, err := c.PublishDraft(r.Context(), id)
		if err != nil {
			return 0, nil, j.failed(err)
		}
		return j.readBack(r.Context(), id, v, http.StatusOK, func(rec engine.VersionRecord) bool { return rec.State == records.JourneyLive })
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	text, format, e := definitionFor(r, id)
	if e != nil {
		return 0, nil, e
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	v, err := c.Publish(r.Context(), text, format)
	if err != nil {
		return 0, nil, j.failed(err)
	}
	return j.readBack(r.Context(), id, v, http.StatusOK, func(rec engine.VersionRecord) bool {
		return rec.State == records.JourneyLive && rec.Definition == string(text)
	})
}

func (j *Journeys) setState(state records.JourneyState) func(*http.Request) (int, any, *Error) {
	return func(r *http.Request) (int, any, *Error) {
		id := r.PathValue("id")
		if _, e := j.records(id); e != nil {
			return 0, nil, e
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		if err := j.control(r).SetState(r.Context(), id, state); err != nil {
			return 0, nil, j.failed(err)
		}
		var recs []engine.VersionRecord
		if e := j.await(r.Context(), func() bool {
			recs = j.Catalog.Records(id)
			cur := current(recs)
			return cur != nil && cur.State == state
		}); e != nil {
			return 0, nil, e
		}
		return http.StatusOK, j.detail(r.Context(), recs), nil
	}
}

// CloneRequest names the new journey and the version to copy.
type CloneRequest struct {
	// ID is the new journey's ID.
	ID string `json:"id"`
	// Version to copy; default the current version, or the draft of a
	// journey never published.
	Version int32 `json:"version,omitempty"`
}

// clone saves a copy of a version, under a new journey ID, as that
// journey's draft.
func (j *Journeys) clone(r *http.Request) (int, any, *Error) {
	id := r.PathValue("id")
	b, e := readBody(r)
	if e != nil {
		return 0, nil, e
	}
	var req CloneRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return 0, nil, errInvalid("body", "want JSON {\"id\": NEW-ID, \"version\": N}: "+err.Error())
	}
	if req.ID == "" {
		return 0, nil, errInvalid("id", "required: the new journey's ID")
	}
	recs, e := j.records(id)
	if e != nil {
		return 0, nil, e
	}
	src := current(recs)
	if src == nil {
		src = draft(recs)
	}
	if req.Version != 0 {
		i := slices.IndexFunc(recs, func(v engine.VersionRecord) bool { return v.Version == req.Version })
		if i < 0 {
			return 0, nil, errNotFound(fmt.Sprintf("journey %q has no version %d", id, req.Version))
		}
		src = &recs[i]
	}
	text, err := renamed([]byte(src.Definition), src.Format, req.ID)
	if err != nil {
		return 0, nil, errConflict(fmt.Sprintf("version %d of %q cannot be copied: %v", src.Version, id, err))
	}
	def, perr := journey.Parse(text)
	if perr != nil {
		return 0, nil, errConflict(fmt.Sprintf("version %d of %q does not parse: %v", src.Version, id, perr))
	}
	var ve *journey.ValidationError
	if err := journey.Validate(def, j.Control.Channels); errors.As(err, &ve) {
		if i := slices.IndexFunc(ve.Errors, func(f journey.FieldError) bool { return f.Path == "id" }); i >= 0 {
			return 0, nil, errInvalid("id", ve.Errors[i].Reason)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.Catalog.Records(req.ID)) > 0 {
		return 0, nil, errConflict(fmt.Sprintf("journey %q exists", req.ID))
	}
	return j.saveDraftLocked(r, req.ID, text, src.Format, http.StatusCreated)
}

// renamed returns a definition with its top-level id set to id, keeping
// the rest (and in YAML, its comments).
func renamed(text []byte, format, id string) ([]byte, error) {
	if format == records.FormatJSON {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(text, &m); err != nil {
			return nil, err
		}
		m["id"], _ = json.Marshal(id)
		return json.MarshalIndent(m, "", "  ")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a mapping")
	}
	m := doc.Content[0]
	found := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "id" {
			m.Content[i+1].SetString(id)
			found = true
		}
	}
	if !found {
		return nil, errors.New("no id field")
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}
