package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/topics"
)

const validJourney = `id: welcome
trigger: {event: Signed Up}
steps:
  - id: hello
    send: {channel: email, template: welcome}
`

// A LINE channel is custom: valid only when configured.
const lineJourney = `id: line-promo
trigger: {event: Browsed}
steps:
  - id: promo
    send: {channel: line, template: promo}
`

const invalidJourney = `id: Broken
trigger:
  evnt: Signed Up
steps:
  - id: hello
    send: {channel: email, template: welcome}
    next: nowhere
  - id: check
    branch:
      cases:
        - {when: 'evnt.x > 1', next: exit}
`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestJourneysValidate(t *testing.T) {
	dir := writeFiles(t, map[string]string{"valid.yaml": validJourney, "line.yaml": lineJourney, "invalid.yaml": invalidJourney})
	path := func(name string) string { return filepath.Join(dir, name) }

	code, out, errs := beckon(t, nil, "journeys", "validate", path("valid.yaml"))
	if code != 0 || out != path("valid.yaml")+": ok (journey welcome, 1 step)\n" {
		t.Errorf("valid: exit %d\n%s%s", code, out, errs)
	}

	// Parse problems come first and alone: a definition that does not
	// decode is not validated.
	code, out, errs = beckon(t, nil, "journeys", "validate", path("valid.yaml"), path("invalid.yaml"))
	want := path("valid.yaml") + ": ok (journey welcome, 1 step)\n" +
		path("invalid.yaml") + `:3:3: trigger.evnt: unknown field; did you mean "event"?` + "\n" +
		"1 of 2 files invalid\n"
	if code != 1 || out != want {
		t.Errorf("invalid: exit %d, want 1\ngot:\n%s%s\nwant:\n%s", code, out, errs, want)
	}

	// Once it decodes, every semantic problem, sorted by position.
	fixed := strings.Replace(invalidJourney, "evnt: Signed Up", "event: Signed Up", 1)
	if err := os.WriteFile(path("invalid.yaml"), []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = beckon(t, nil, "journeys", "validate", path("invalid.yaml"))
	want = path("invalid.yaml") + `:1:5: id: "Broken": want lowercase letters, digits and dashes (not first or last), at most 64` + "\n" +
		path("invalid.yaml") + `:7:11: steps[0].next: unknown step "nowhere"; steps are hello, check` + "\n" +
		path("invalid.yaml") + `:11:18: steps[1].branch.cases[0].when: CEL error at 1:1: undeclared reference to 'evnt'` + "\n" +
		"1 of 1 files invalid\n"
	if code != 1 || out != want {
		t.Errorf("semantic problems: exit %d\ngot:\n%s\nwant:\n%s", code, out, want)
	}

	// Custom channels: the flag, or BECKON_CHANNELS as for `beckon topics`.
	code, out, _ = beckon(t, nil, "journeys", "validate", path("line.yaml"))
	if code != 1 || !strings.Contains(out, `:5:21: steps[0].send.channel: unknown channel "line"`) {
		t.Errorf("line without --channels: exit %d\n%s", code, out)
	}
	if code, out, errs := beckon(t, nil, "journeys", "validate", "--channels", "line,viber", path("line.yaml")); code != 0 {
		t.Errorf("--channels line: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := beckon(t, map[string]string{"BECKON_CHANNELS": "line"}, "journeys", "validate", path("line.yaml")); code != 0 {
		t.Errorf("BECKON_CHANNELS=line: exit %d\n%s%s", code, out, errs)
	}
}

// The example definitions shipped with the docs validate.
func TestJourneysValidateExamples(t *testing.T) {
	files, _ := filepath.Glob("../../pkg/journey/testdata/valid/*")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	code, out, errs := beckon(t, nil, append([]string{"journeys", "validate"}, files...)...)
	if code != 0 || strings.Count(out, ": ok (journey ") != len(files) {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}

func TestJourneysValidateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"journeys"},
		{"journeys", "check", "x.yaml"},
		{"journeys", "validate"},
		{"journeys", "validate", "--nope", "x.yaml"},
		{"journeys", "validate", "/does/not/exist.yaml"},
	} {
		if code, _, _ := beckon(t, nil, args...); code != 2 {
			t.Errorf("beckon %q: exit %d, want 2", args, code)
		}
	}
}

// journey.DefaultChannels and the topics' built-in channels are one list:
// a journey can send on exactly the channels that have a topic.
func TestDefaultChannelsHaveTopics(t *testing.T) {
	if !slices.Equal(journey.DefaultChannels, topics.Channels) {
		t.Errorf("journey.DefaultChannels %v, topics.Channels %v", journey.DefaultChannels, topics.Channels)
	}
}

// TestJourneysControl: publish writes validated versions to the journeys
// topic of a running deployment; pause, resume and archive change the
// journey's state there, as every engine's catalog sees it.
func TestJourneysControl(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.Prefix(t)
	env := map[string]string{
		"BECKON_BROKERS": strings.Join(brokers, ","), "BECKON_TOPIC_PREFIX": prefix,
		"BECKON_REPLICATION_FACTOR": "1", "BECKON_PARTITIONS": "2", "USER": "ada",
	}
	if code, out, errs := beckon(t, env, "topics", "apply"); code != 0 {
		t.Fatalf("topics apply: %d\n%s%s", code, out, errs)
	}
	dir := writeFiles(t, map[string]string{"valid.yaml": validJourney, "invalid.yaml": invalidJourney})
	code, out, errs := beckon(t, env, "journeys", "publish", filepath.Join(dir, "valid.yaml"))
	if code != 0 || !strings.Contains(out, "published as version 1, live") {
		t.Fatalf("publish: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = beckon(t, env, "journeys", "publish", filepath.Join(dir, "valid.yaml"))
	if code != 0 || !strings.Contains(out, "version 2") {
		t.Fatalf("second publish: exit %d\n%s", code, out)
	}
	code, out, _ = beckon(t, env, "journeys", "publish", filepath.Join(dir, "invalid.yaml"))
	if code != 1 || !strings.Contains(out, "invalid.yaml:") {
		t.Fatalf("publishing an invalid definition: exit %d, want 1 with its problems\n%s", code, out)
	}
	state := func() records.JourneyState {
		cat := followCatalog(t, brokers, prefix)
		if v := cat.Version("welcome", 2); v == nil || v.Def.Steps[0].Send.Template != "welcome" {
			t.Fatalf("version 2 not in the catalog")
		}
		return cat.State("welcome")
	}
	if s := state(); s != records.JourneyLive {
		t.Fatalf("state after publish %q", s)
	}
	for _, step := range []struct {
		verb string
		want records.JourneyState
	}{{"pause", records.JourneyPaused}, {"resume", records.JourneyLive}, {"archive", records.JourneyArchived}} {
		if code, out, errs := beckon(t, env, "journeys", step.verb, "welcome"); code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", step.verb, code, out, errs)
		}
		if s := state(); s != step.want {
			t.Fatalf("after %s: state %q, want %q", step.verb, s, step.want)
		}
	}
	if code, _, errs := beckon(t, env, "journeys", "resume", "welcome"); code != 1 || !strings.Contains(errs, "archived") {
		t.Fatalf("resuming an archived journey: exit %d\n%s", code, errs)
	}
	if code, _, errs := beckon(t, env, "journeys", "pause", "nope"); code != 1 || !strings.Contains(errs, "no published version") {
		t.Fatalf("pausing an unknown journey: exit %d\n%s", code, errs)
	}
}

// TestJourneysDraftLifecycle: draft -> live (publish --draft) -> paused ->
// live -> archived; a draft is not run, and saving again replaces it.
func TestJourneysDraftLifecycle(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.Prefix(t)
	env := map[string]string{"BECKON_BROKERS": strings.Join(brokers, ","), "BECKON_TOPIC_PREFIX": prefix, "BECKON_REPLICATION_FACTOR": "1", "BECKON_PARTITIONS": "2"}
	if code, out, errs := beckon(t, env, "topics", "apply"); code != 0 {
		t.Fatalf("topics apply: %d\n%s%s", code, out, errs)
	}
	dir := writeFiles(t, map[string]string{"valid.yaml": validJourney})
	catalog := func() *engine.Catalog { return followCatalog(t, brokers, prefix) }
	for range 2 {
		if code, out, errs := beckon(t, env, "journeys", "draft", filepath.Join(dir, "valid.yaml")); code != 0 || !strings.Contains(out, "saved as draft version 1") {
			t.Fatalf("draft: exit %d\n%s%s", code, out, errs)
		}
	}
	if cat := catalog(); len(cat.Current()) != 0 || cat.State("welcome") == records.JourneyLive {
		t.Fatalf("a draft is running: state %q", cat.State("welcome"))
	}
	if code, out, errs := beckon(t, env, "journeys", "publish", "--draft", "welcome"); code != 0 || !strings.Contains(out, "draft published as version 1, live") {
		t.Fatalf("publish --draft: exit %d\n%s%s", code, out, errs)
	}
	if cat := catalog(); cat.State("welcome") != records.JourneyLive || len(cat.Current()) != 1 {
		t.Fatalf("after publishing the draft: state %q", cat.State("welcome"))
	}
	if code, _, errs := beckon(t, env, "journeys", "publish", "--draft", "welcome"); code != 1 || !strings.Contains(errs, "no draft") {
		t.Fatalf("publishing a missing draft: exit %d\n%s", code, errs)
	}
}

// followCatalog reads the deployment's journeys topic as an engine does,
// up to where it stands now.
func followCatalog(t *testing.T, brokers []string, prefix string) *engine.Catalog {
	t.Helper()
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	cat := engine.NewCatalog(journey.DefaultChannels, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ready := make(chan struct{})
	go func() { _ = cat.Follow(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, prefix+"journeys", cd, ready) }()
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatal("the journeys catalog did not catch up within 30s")
	}
	return cat
}
