package main

import (
	"context"
	"encoding/json"
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
	"github.com/beckon-dev/beckon/pkg/simulate"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// TestJourneysSimulate runs `beckon journeys simulate` over Kafka and
// through the API (--api, with no Kafka reachable from the CLI): both
// report the same run of the file on the same window, and an invalid
// file is reported as validate reports it.
func TestJourneysSimulate(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	prefix := kafkatest.Prefix(t)
	kafkaEnv := map[string]string{"BECKON_BROKERS": strings.Join(brokers, ","), "BECKON_TOPIC_PREFIX": prefix, "BECKON_REPLICATION_FACTOR": "1", "BECKON_PARTITIONS": "2"}
	if code, out, errs := beckon(t, kafkaEnv, "topics", "apply"); code != 0 {
		t.Fatalf("topics apply: %d\n%s%s", code, out, errs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	cl := kafkatest.Client(t, brokers)
	at := time.Now().Add(-time.Hour)
	put := func(base, key string, r records.Record) {
		b, err := cd.Encode(ctx, prefix+base, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: prefix + base, Key: []byte(key), Value: b, Timestamp: at}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		u := fmt.Sprintf("u%d", i)
		put("profiles", u, records.Profile{UserID: u, Addresses: records.Addresses{Email: u + "@example.com"}, Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}}})
		put("events", u, records.Event{MessageID: "m-" + u, Type: records.EventTrack, Name: "Signed Up", UserID: u, Timestamp: at})
	}
	dir := writeFiles(t, map[string]string{"valid.yaml": validJourney, "invalid.yaml": invalidJourney})
	path := func(name string) string { return filepath.Join(dir, name) }

	code, out, errs := beckon(t, kafkaEnv, "journeys", "simulate", path("valid.yaml"), "--from", "2h", "--json")
	if code != 0 {
		t.Fatalf("simulate: exit %d\n%s%s", code, out, errs)
	}
	var local simulate.Report
	if err := json.Unmarshal([]byte(out), &local); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if local.Entered != 5 || len(local.Sends) != 1 || local.Sends[0].Count != 5 || local.Input.Partitions != 2 {
		t.Fatalf("report %+v", local)
	}
	if !strings.Contains(errs, "2 of 2 partitions done") {
		t.Errorf("no progress on stderr:\n%s", errs)
	}
	code, out, _ = beckon(t, kafkaEnv, "journeys", "simulate", path("valid.yaml"), "--from", "2h")
	if code != 0 || !strings.Contains(out, "Entered    5 instances (5 users)") || !strings.Contains(out, "       5  hello  email welcome") {
		t.Errorf("text report: exit %d\n%s", code, out)
	}
	code, out, _ = beckon(t, kafkaEnv, "journeys", "simulate", path("valid.yaml"), "--from", "2h", "--users", "2", "--json")
	var limited simulate.Report
	if err := json.Unmarshal([]byte(out), &limited); code != 0 || err != nil || limited.Input.Users > 2 || limited.Input.Users < 1 || limited.Input.UsersLimit != 2 {
		t.Errorf("--users 2: exit %d, input %+v (%v)", code, limited.Input, err)
	}

	layout, err := topics.Declare(topics.Options{Prefix: prefix, Partitions: 2, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	const readTok = "read-token-for-the-simulation"
	tokens, err := api.ParseTokens(strings.NewReader("viewer read " + api.HashToken(readTok) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	kopts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	s, err := api.Start(ctx, api.Config{Kafka: kopts, JourneysTopic: prefix + "journeys", Codec: cd, Channels: journey.DefaultChannels, Server: api.Options{Tokens: tokens}})
	if err != nil {
		t.Fatal(err)
	}
	(&api.Simulations{Kafka: kopts, Layout: layout, Codec: cd}).Mount(s.Server)
	srv := httptest.NewServer(s)
	defer srv.Close()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := s.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BECKON_BROKERS": "127.0.0.1:1", "BECKON_API_URL": srv.URL, "BECKON_API_TOKEN": readTok}
	code, out, errs = beckon(t, env, "journeys", "simulate", path("valid.yaml"), "--from", "2h", "--json")
	if code != 0 {
		t.Fatalf("simulate --api: exit %d\n%s%s", code, out, errs)
	}
	var remote simulate.Report
	if err := json.Unmarshal([]byte(out), &remote); err != nil {
		t.Fatal(err)
	}
	if remote.Entered != local.Entered || remote.Input.Events != local.Input.Events || fmt.Sprint(remote.Sends) != fmt.Sprint(local.Sends) {
		t.Errorf("through the API %+v\nover Kafka %+v", remote, local)
	}

	_, want, _ := beckon(t, nil, "journeys", "validate", path("invalid.yaml"))
	want = strings.TrimSuffix(want, "1 of 1 files invalid\n")
	for _, e := range []map[string]string{kafkaEnv, env} {
		code, out, _ := beckon(t, e, "journeys", "simulate", path("invalid.yaml"), "--from", "2h")
		if code != 1 || out != want {
			t.Errorf("simulate an invalid file (API %q): exit %d\n%s\nwant validate's\n%s", e["BECKON_API_URL"], code, out, want)
		}
	}
}
