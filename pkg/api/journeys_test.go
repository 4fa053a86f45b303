package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
)

const welcome = `id: welcome
name: Welcome
trigger: {event: Signed Up}
steps:
  - id: hello
    send: {channel: email, template: welcome}
`

// welcomeV2 is the next version, in JSON.
const welcomeV2 = `{"id": "welcome", "name": "Welcome", "trigger": {"event": "Signed Up"},
 "steps": [{"id": "hello", "send": {"channel": "sms", "template": "welcome"}}]}`

// pigeon parses but does not validate: no such channel.
const pigeon = `id: welcome
trigger: {event: Signed Up}
steps:
  - id: hello
    send: {channel: pigeon, template: welcome}
`

// linePromo is valid only where the custom channel line is configured.
const linePromo = `id: line-promo
trigger: {event: Browsed}
steps:
  - id: promo
    send: {channel: line, template: promo}
`

const yamlType = "application/yaml"

// fakeCounts answers counts derived from the journey ID, and fails for
// one journey, so the test can tell the counts come from the source.
type fakeCounts struct{ failFor string }

func (f fakeCounts) JourneyCounts(_ context.Context, id string) (api.Counts, error) {
	if id == f.failFor {
		return api.Counts{}, errors.New("metrics store unavailable")
	}
	return api.Counts{Entered: int64(len(id)), Active: 1, Sent: 2, Delivered: 3, Opened: 4, Clicked: 5, Replied: 6, Converted: 7}, nil
}

func summaries(t *testing.T, r response) map[string]api.JourneySummary {
	t.Helper()
	out := map[string]api.JourneySummary{}
	for _, s := range decode[struct{ Journeys []api.JourneySummary }](t, r).Journeys {
		out[s.ID] = s
	}
	return out
}

// decode decodes a response body as T.
func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func version(t *testing.T, r response) api.Version { return decode[api.Version](t, r) }

func journeyOf(t *testing.T, r response) api.Journey { return decode[api.Journey](t, r) }

// docsErrorExample is the error body docs/api.md shows, decoded.
func docsErrorExample(t *testing.T) any {
	t.Helper()
	b, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("docs/api.md has no JSON example")
	}
	var v any
	if err := json.Unmarshal(m[1], &v); err != nil {
		t.Fatalf("docs/api.md's JSON example: %v", err)
	}
	return v
}

// TestJourneyLifecycle drives one journey through drafts, validation,
// publish, pause, resume, versions, clone and archive, reading back each
// change, and checks every problem report against local validation.
func TestJourneyLifecycle(t *testing.T) {
	h := startAPI(t, fakeCounts{failFor: "welcome-copy"}, nil)
	w := h.write

	if got := summaries(t, h.expect(200, "GET", "/v1/journeys", h.read, "", "")); len(got) != 0 {
		t.Fatalf("a new deployment lists %v", got)
	}

	// A draft must parse, not validate; its problems are the CLI's.
	v := version(t, h.expect(201, "POST", "/v1/journeys", w, yamlType, pigeon))
	want := localProblems(t, pigeon, journey.DefaultChannels)
	if v.Version != 1 || v.State != records.JourneyDraft || v.Valid || !reflect.DeepEqual(v.Errors, want) {
		t.Fatalf("draft = %+v, want version 1, draft, invalid with %+v", v, want)
	}
	if want[0].Path != "steps[0].send.channel" || want[0].Line != 5 {
		t.Fatalf("local validation changed: %+v", want)
	}
	h.expect(409, "POST", "/v1/journeys", w, yamlType, pigeon)
	if got := fieldsOf(t, h.expect(400, "POST", "/v1/journeys", w, yamlType, "id: [")); len(got) == 0 || got[0].Line == 0 {
		t.Fatalf("unparseable definition: fields %+v, want a located problem", got)
	}
	h.expect(415, "POST", "/v1/journeys", w, "application/x-www-form-urlencoded", welcome)

	// Validate answers the same problems, valid or not, and saves nothing.
	val := h.expect(200, "POST", "/v1/journeys/validate", h.read, yamlType, pigeon)
	if val.field("valid") != false || !reflect.DeepEqual(fieldsOf(t, val), want) {
		t.Fatalf("validate: %s, want %+v", val.raw, want)
	}
	broken := "id: x\ntrigger:\n  evnt: Signed Up\n"
	if got := fieldsOf(t, h.expect(200, "POST", "/v1/journeys/validate", h.read, yamlType, broken)); !reflect.DeepEqual(got, localProblems(t, broken, journey.DefaultChannels)) {
		t.Fatalf("validate of an unparseable definition: %+v", got)
	}
	if ok := h.expect(200, "POST", "/v1/journeys/validate", h.read, yamlType, welcome); ok.field("valid") != true || ok.field("journeyId") != "welcome" {
		t.Fatalf("validate welcome: %s", ok.raw)
	}

	// Publishing an invalid draft is refused with the same problems.
	if got := fieldsOf(t, h.expect(400, "POST", "/v1/journeys/welcome/publish", w, "", "")); !reflect.DeepEqual(got, want) {
		t.Fatalf("publish of the invalid draft: %+v, want %+v", got, want)
	}
	if got := fieldsOf(t, h.expect(400, "PUT", "/v1/journeys/welcome/draft", w, yamlType, linePromo)); len(got) != 1 || got[0].Path != "id" {
		t.Fatalf("a draft for another journey's URL: %+v, want the id field", got)
	}
	v = version(t, h.expect(200, "PUT", "/v1/journeys/welcome/draft", w, yamlType, welcome))
	if v.Version != 1 || !v.Valid || v.Definition != welcome || v.PublishedBy != "ci" {
		t.Fatalf("replaced draft = %+v", v)
	}
	s := summaries(t, h.expect(200, "GET", "/v1/journeys", h.read, "", ""))["welcome"]
	if s.Status != records.JourneyDraft || s.DraftVersion != 1 || s.CurrentVersion != 0 || s.Name != "Welcome" || s.Counts == nil || s.Counts.Entered != 7 {
		t.Fatalf("listed draft = %+v", s)
	}

	v = version(t, h.expect(200, "POST", "/v1/journeys/welcome/publish", w, "", ""))
	if v.Version != 1 || v.State != records.JourneyLive || v.PublishedAt == nil {
		t.Fatalf("published = %+v", v)
	}
	h.expect(404, "POST", "/v1/journeys/welcome/publish", w, "", "") // no draft left

	for _, step := range []struct {
		verb string
		want records.JourneyState
	}{{"pause", records.JourneyPaused}, {"resume", records.JourneyLive}} {
		if j := journeyOf(t, h.expect(200, "POST", "/v1/journeys/welcome/"+step.verb, w, "", "")); j.Status != step.want || j.CurrentVersion != 1 {
			t.Fatalf("%s: %+v", step.verb, j)
		}
	}

	// A draft beside the live version, then deleted.
	h.expect(200, "PUT", "/v1/journeys/welcome/draft", w, yamlType, strings.Replace(welcome, "email", "push", 1))
	j := journeyOf(t, h.expect(200, "GET", "/v1/journeys/welcome", h.read, "", ""))
	if j.Status != records.JourneyLive || j.CurrentVersion != 1 || j.DraftVersion != 2 || j.LatestVersion != 2 {
		t.Fatalf("live with a draft: %+v", j)
	}
	h.expect(204, "DELETE", "/v1/journeys/welcome/draft", w, "", "")
	h.expect(404, "DELETE", "/v1/journeys/welcome/draft", w, "", "")

	// Publishing a body directly, in JSON.
	v = version(t, h.expect(200, "POST", "/v1/journeys/welcome/publish", w, "application/json", welcomeV2))
	if v.Version != 2 || v.Format != records.FormatJSON || v.State != records.JourneyLive {
		t.Fatalf("published body = %+v", v)
	}
	invalid := h.expect(400, "POST", "/v1/journeys/welcome/publish", w, yamlType, pigeon)
	if got := fieldsOf(t, invalid); !reflect.DeepEqual(got, want) {
		t.Fatalf("publish of an invalid body: %+v", got)
	}
	if doc := docsErrorExample(t); !reflect.DeepEqual(doc, invalid.body) {
		t.Fatalf("docs/api.md's error example is not what the API answers:\n%v\nwant\n%s", doc, invalid.raw)
	}

	vs := decode[struct{ Versions []api.VersionSummary }](t, h.expect(200, "GET", "/v1/journeys/welcome/versions", h.read, "", ""))
	if len(vs.Versions) != 2 || vs.Versions[0].Version != 1 || vs.Versions[1].Version != 2 || vs.Versions[0].Format != records.FormatYAML {
		t.Fatalf("versions = %+v", vs.Versions)
	}
	if got := version(t, h.expect(200, "GET", "/v1/journeys/welcome/versions/1", h.read, "", "")); got.Definition != welcome {
		t.Fatalf("version 1's definition = %q", got.Definition)
	}
	if got := fieldsOf(t, h.expect(400, "GET", "/v1/journeys/welcome/versions/one", h.read, "", "")); len(got) != 1 || got[0].Path != "version" {
		t.Fatalf("a bad version number: %+v", got)
	}
	h.expect(404, "GET", "/v1/journeys/welcome/versions/9", h.read, "", "")
	h.expect(404, "GET", "/v1/journeys/nope", h.read, "", "")

	// Clone copies version 1 (YAML) under a new ID as a draft.
	v = version(t, h.expect(201, "POST", "/v1/journeys/welcome/clone", w, "application/json", `{"id": "welcome-copy", "version": 1}`))
	if v.JourneyID != "welcome-copy" || v.State != records.JourneyDraft || !v.Valid || !strings.Contains(v.Definition, "id: welcome-copy") || !strings.Contains(v.Definition, "channel: email") {
		t.Fatalf("clone = %+v", v)
	}
	h.expect(409, "POST", "/v1/journeys/welcome/clone", w, "application/json", `{"id": "welcome-copy"}`)
	if got := fieldsOf(t, h.expect(400, "POST", "/v1/journeys/welcome/clone", w, "application/json", `{"id": "Not An ID"}`)); len(got) != 1 || got[0].Path != "id" {
		t.Fatalf("clone to a bad ID: %+v", got)
	}
	// The current version is JSON: its clone stays JSON.
	if v = version(t, h.expect(201, "POST", "/v1/journeys/welcome/clone", w, "application/json", `{"id": "welcome-json"}`)); v.Format != records.FormatJSON || !strings.Contains(v.Definition, `"welcome-json"`) {
		t.Fatalf("JSON clone = %+v", v)
	}
	list := summaries(t, h.expect(200, "GET", "/v1/journeys", h.read, "", ""))
	if c := list["welcome-copy"]; c.Counts != nil || c.CountsError == "" || list["welcome"].Counts == nil {
		t.Fatalf("a failed counts read should cost only that journey its counts: %+v", list)
	}

	// A live version that does not compile here is has-errors, and
	// resuming it is refused with its problems.
	if _, err := h.control("line").Publish(context.Background(), []byte(linePromo), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := h.call("GET", "/v1/journeys/line-promo", h.read, "", "")
		if r.status == 200 {
			j = journeyOf(t, r)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API never read line-promo: %s", r.raw)
		}
		time.Sleep(10 * time.Millisecond) // between polls of the condition
	}
	if j.Status != records.JourneyHasErrors || len(j.Errors) != 1 || j.Errors[0].Path != "steps[0].send.channel" {
		t.Fatalf("line-promo = %+v", j)
	}
	h.expect(200, "POST", "/v1/journeys/line-promo/pause", w, "", "")
	if got := fieldsOf(t, h.expect(400, "POST", "/v1/journeys/line-promo/resume", w, "", "")); len(got) != 1 || got[0].Path != "steps[0].send.channel" {
		t.Fatalf("resume of an invalid version: %+v", got)
	}

	if j := journeyOf(t, h.expect(200, "POST", "/v1/journeys/welcome/archive", w, "", "")); j.Status != records.JourneyArchived {
		t.Fatalf("archive: %+v", j)
	}
	h.expect(409, "POST", "/v1/journeys/welcome/resume", w, "", "")
	h.expect(409, "POST", "/v1/journeys/welcome-copy/pause", w, "", "") // never published
}
