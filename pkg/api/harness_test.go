package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
)

// harness is a running API over a journeys topic on kfake or the real
// broker, with one read and one write token. Every response it receives
// is checked against docs/openapi.yaml.
type harness struct {
	t           *testing.T
	url         string
	read, write string
	doc         *openAPI
	brokers     []string
	topic       string
	codec       *codec.Codec
	svc         *api.Service
}

func randomToken(t testing.TB) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// startAPI starts the API on a new cluster (kfake, or the real broker
// with fresh topics); with changes the configuration further.
func startAPI(t *testing.T, counts api.CountsSource, metrics api.MetricsSource, with ...func(*api.Config)) *harness {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Prefix(t) + "journeys"
	kafkatest.CreateTopics(t, brokers, 1, topic)
	return startAPIOn(t, brokers, topic, counts, metrics, with...)
}

// startAPIOn starts the API on brokers over an existing journeys topic,
// with the given sources of counts and metrics (nil: none); with changes
// the configuration further.
func startAPIOn(t *testing.T, brokers []string, topic string, counts api.CountsSource, metrics api.MetricsSource, with ...func(*api.Config)) *harness {
	t.Helper()
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, read: randomToken(t), write: randomToken(t), doc: loadOpenAPI(t), brokers: brokers, topic: topic, codec: cd}
	tokens, err := api.ParseTokens(strings.NewReader(fmt.Sprintf("# test tokens\nviewer read %s\nci write %s\n", api.HashToken(h.read), api.HashToken(h.write))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := api.Config{
		Kafka: []kgo.Opt{kgo.SeedBrokers(brokers...)}, JourneysTopic: topic, Codec: cd,
		Channels: journey.DefaultChannels, Counts: counts, Metrics: metrics,
		Server: api.Options{Tokens: tokens, RequestTimeout: 30 * time.Second},
	}
	for _, f := range with {
		f(&cfg)
	}
	s, err := api.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mountSimulations(t, s, brokers, topic, cd)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	h.url, h.svc = srv.URL, s
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := s.WaitReady(wctx); err != nil {
		t.Fatalf("the API did not read the journeys topic: %v", err)
	}
	return h
}

// control writes the journeys topic directly, as the CLI without --api
// does, with the given extra channels.
func (h *harness) control(channels ...string) *engine.Control {
	return &engine.Control{Kafka: []kgo.Opt{kgo.SeedBrokers(h.brokers...)}, Topic: h.topic, Codec: h.codec, Channels: append(journey.DefaultChannels[:len(journey.DefaultChannels):len(journey.DefaultChannels)], channels...), By: "test"}
}

// response is one answer, decoded.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   any
}

// field returns a top-level property of an object body.
func (r response) field(name string) any {
	m, _ := r.body.(map[string]any)
	return m[name]
}

// call sends a request and checks the answer against the document: the
// status is documented for the operation, the body (decoded as JSON)
// matches the documented schema, and documented headers are present.
func (h *harness) call(method, path, token, contentType, body string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			h.t.Fatalf("%s %s: %s: body is not JSON: %v\n%s", method, path, statusText(r.status), err, raw)
		}
	}
	op, ok := h.doc.find(method, path)
	if !ok {
		h.t.Fatalf("%s %s: no operation in docs/openapi.yaml", method, path)
	}
	schema, headers, ok := h.doc.response(op, r.status)
	switch {
	case !ok:
		h.t.Errorf("%s %s answered %s, which docs/openapi.yaml does not document for %s %s\n%s", method, path, statusText(r.status), op.method, op.path, raw)
	case schema == nil && len(raw) > 0:
		h.t.Errorf("%s %s: %s has a body the document does not declare: %s", method, path, statusText(r.status), raw)
	case schema != nil:
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			h.t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
		}
		for _, e := range h.doc.check(schema, r.body, "body") {
			h.t.Errorf("%s %s: %s: %s", method, path, statusText(r.status), e)
		}
	}
	for name := range headers {
		if resp.Header.Get(name) == "" {
			h.t.Errorf("%s %s: %s without the documented %s header", method, path, statusText(r.status), name)
		}
	}
	return r
}

// expect calls and fails the test unless the status is want.
func (h *harness) expect(want int, method, path, token, contentType, body string) response {
	h.t.Helper()
	r := h.call(method, path, token, contentType, body)
	if r.status != want {
		h.t.Fatalf("%s %s: %s, want %s\n%s", method, path, statusText(r.status), statusText(want), r.raw)
	}
	return r
}

// fieldsOf decodes an error or validation body's fields.
func fieldsOf(t testing.TB, r response) []api.Field {
	t.Helper()
	var body struct {
		Error  *api.Error  `json:"error"`
		Errors []api.Field `json:"errors"`
	}
	if err := json.Unmarshal(r.raw, &body); err != nil {
		t.Fatal(err)
	}
	if body.Error != nil {
		return body.Error.Fields
	}
	return body.Errors
}

// localProblems is what `beckon journeys validate` reports for text.
func localProblems(t testing.TB, text string, channels []string) []api.Field {
	t.Helper()
	def, err := journey.Parse([]byte(text))
	if err == nil {
		err = journey.Validate(def, channels)
	}
	ve, ok := err.(*journey.ValidationError)
	if !ok {
		t.Fatalf("want a validation error, got %v", err)
	}
	out := make([]api.Field, len(ve.Errors))
	for i, fe := range ve.Errors {
		out[i] = api.Field{Path: fe.Path, Reason: fe.Reason, Line: fe.Line, Column: fe.Column}
	}
	return out
}
