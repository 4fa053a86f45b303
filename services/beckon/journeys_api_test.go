package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
)

// TestJourneysThroughAPI runs `beckon journeys` with --api: every
// command goes through the API (the Kafka address given is unreachable),
// prints what it prints over Kafka, and reports validation problems
// exactly as local validation does.
func TestJourneysThroughAPI(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.Prefix(t)
	kafkaEnv := map[string]string{"BECKON_BROKERS": strings.Join(brokers, ","), "BECKON_TOPIC_PREFIX": prefix, "BECKON_REPLICATION_FACTOR": "1", "BECKON_PARTITIONS": "2"}
	if code, out, errs := beckon(t, kafkaEnv, "topics", "apply"); code != 0 {
		t.Fatalf("topics apply: %d\n%s%s", code, out, errs)
	}
	const readTok, writeTok = "read-token-for-the-test", "write-token-for-the-test"
	tokens, err := api.ParseTokens(strings.NewReader(fmt.Sprintf("viewer read %s\nrelease-bot write %s\n", api.HashToken(readTok), api.HashToken(writeTok))))
	if err != nil {
		t.Fatal(err)
	}
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := api.Start(ctx, api.Config{Kafka: []kgo.Opt{kgo.SeedBrokers(brokers...)}, JourneysTopic: prefix + "journeys", Codec: cd, Channels: journey.DefaultChannels, Server: api.Options{Tokens: tokens}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := s.WaitReady(wctx); err != nil {
		t.Fatalf("the API did not read the journeys topic: %v", err)
	}
	// No Kafka at this address: only the API can answer.
	env := map[string]string{"BECKON_BROKERS": "127.0.0.1:1", "BECKON_API_URL": srv.URL, "BECKON_API_TOKEN": writeTok}

	dir := writeFiles(t, map[string]string{"valid.yaml": validJourney, "invalid.yaml": invalidJourney, "line.yaml": lineJourney})
	path := func(name string) string { return filepath.Join(dir, name) }

	for _, file := range []string{"valid.yaml", "invalid.yaml", "line.yaml"} {
		lcode, lout, _ := beckon(t, nil, "journeys", "validate", path(file))
		rcode, rout, rerr := beckon(t, env, "journeys", "validate", path(file))
		if lcode != rcode || lout != rout {
			t.Errorf("validate %s through the API: exit %d\n%s%s\nlocally: exit %d\n%s", file, rcode, rout, rerr, lcode, lout)
		}
	}
	code, out, _ := beckon(t, env, "journeys", "publish", path("invalid.yaml"))
	if code != 1 || !strings.Contains(out, path("invalid.yaml")+`:3:3: trigger.evnt: unknown field; did you mean "event"?`) {
		t.Fatalf("publishing an invalid file through the API: exit %d\n%s", code, out)
	}

	for _, step := range []struct {
		args []string
		out  string
	}{
		{[]string{"draft", path("valid.yaml")}, "saved as draft version 1"},
		{[]string{"publish", "--draft", "welcome"}, "welcome: draft published as version 1, live"},
		{[]string{"pause", "welcome"}, "welcome: paused"},
		{[]string{"resume", "welcome"}, "welcome: live"},
		{[]string{"publish", path("valid.yaml")}, "published as version 2, live"},
		{[]string{"archive", "welcome"}, "welcome: archived"},
	} {
		code, out, errs := beckon(t, env, append([]string{"journeys"}, step.args...)...)
		if code != 0 || !strings.Contains(out, step.out) {
			t.Fatalf("journeys %v: exit %d\n%s%s", step.args, code, out, errs)
		}
	}
	cat := followCatalog(t, brokers, prefix)
	if st := cat.State("welcome"); st != records.JourneyArchived {
		t.Fatalf("state read from Kafka: %q", st)
	}
	if recs := cat.Records("welcome"); len(recs) != 2 || recs[1].PublishedBy != "release-bot" {
		t.Fatalf("versions read from Kafka: %+v", recs)
	}
	if code, _, errs := beckon(t, env, "journeys", "resume", "welcome"); code != 1 || !strings.Contains(errs, "archived") {
		t.Fatalf("resuming an archived journey: exit %d\n%s", code, errs)
	}
	env["BECKON_API_TOKEN"] = readTok
	if code, _, errs := beckon(t, env, "journeys", "pause", "welcome"); code != 1 || !strings.Contains(errs, "forbidden") {
		t.Fatalf("a read token pausing: exit %d\n%s", code, errs)
	}
}
