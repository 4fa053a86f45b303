package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/kafkatest/servicetest"
	"github.com/beckon-dev/beckon/pkg/settings"
)

// TestEngineServesReadinessAndStops: the engine command starts against a
// broker with provisioned topics, reports ready on /readyz, and exits 0
// on cancellation (SIGTERM).
func TestEngineServesReadinessAndStops(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	prefix := servicetest.Provision(t, kafkatest.Client(t, brokers), 2)
	addr := servicetest.FreeAddr(t)
	e := startEngine(engineEnv(t, brokers, prefix, addr))
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://%s/readyz", addr))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			e.wait()
			t.Fatalf("not ready within 30s: %v\n%s", err, e.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// /metrics, on the same address, says what /readyz says and the
	// runtime's series are there.
	_, body := servicetest.Get(t, "http://"+addr+"/metrics")
	for _, want := range []string{"beckon_ready 1", "beckon_healthy 1", "beckon_partitions_owned 2", "beckon_partitions_ready 2", "beckon_stream_restore_duration_seconds_count"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if code := e.wait(); code != 0 {
		t.Fatalf("exit %d\n%s", code, e.stderr.String())
	}
}

// engineEnv is the environment of engine instance e1 on brokers, with
// two partitions under prefix, serving HTTP on addr; extra adds
// variables (name, value, ...).
func engineEnv(t *testing.T, brokers []string, prefix, addr string, extra ...string) map[string]string {
	env := map[string]string{
		"BECKON_BROKERS": strings.Join(brokers, ","), "BECKON_TOPIC_PREFIX": prefix,
		"BECKON_PARTITIONS": "2", "BECKON_REPLICATION_FACTOR": "1",
		"BECKON_STATE_DIR": t.TempDir(), "BECKON_INSTANCE_ID": "e1", "BECKON_ENGINE_GROUP": prefix + "engine",
		"BECKON_HEALTH_ADDR": addr, "BECKON_QUERY_ADDR": "127.0.0.1:0",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// engineRun is the engine command running in the test's process.
type engineRun struct {
	stderr servicetest.Output
	stop   context.CancelFunc
	done   chan int
}

// startEngine runs the engine command with env.
func startEngine(env map[string]string) *engineRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &engineRun{stop: cancel, done: make(chan int, 1)}
	go func() { r.done <- run(ctx, nil, &r.stderr, func(k string) string { return env[k] }) }()
	return r
}

// wait cancels the engine (SIGTERM) and returns its exit code, or -1 if
// it did not stop within 30 seconds.
func (r *engineRun) wait() int {
	r.stop()
	select {
	case code := <-r.done:
		return code
	case <-time.After(30 * time.Second):
		return -1
	}
}

func TestEngineRejectsBadFlags(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--no-such-flag"}, &stderr, func(string) string { return "" }); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}

// TestConfigurationDoc keeps the engine's table in docs/configuration.md
// in step with its flags.
func TestConfigurationDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if table := settings.Markdown(engineSettings); !strings.Contains(string(doc), table) {
		t.Errorf("docs/configuration.md lacks the current engine table; paste:\n%s", table)
	}
}

// TestReadinessCoversTheProcessors: /readyz and beckon_ready answer for
// the engine and the processors beside it. With an activity topic that
// is not co-partitioned with receipts, the timeline and journey metrics
// groups can never be assigned: the engine restores its own partitions,
// but the instance stays not ready (and says why in its log). The same
// deployment without the processors is ready, so it is they that hold it.
func TestReadinessCoversTheProcessors(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	cl := kafkatest.Client(t, brokers)
	prefix := servicetest.Provision(t, cl, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreatePartitions(ctx, 1, prefix+"activity"); err != nil {
		t.Fatal(err)
	}
	// A real broker shows the new partition in its metadata a moment
	// later; an engine started before would balance on the old count.
	for { // polls the condition
		td, err := adm.ListTopics(ctx, prefix+"activity")
		if err == nil && len(td[prefix+"activity"].Partitions) == 3 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the activity topic's third partition does not show: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// get answers 0 until the health address listens.
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	addr := servicetest.FreeAddr(t)
	e := startEngine(engineEnv(t, brokers, prefix, addr))
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) { // polls the condition
		_, metrics := get("http://" + addr + "/metrics")
		if strings.Contains(e.stderr.String(), "are not co-partitioned") && strings.Contains(metrics, "beckon_partitions_ready 2") {
			break
		}
		if time.Now().After(deadline) {
			e.wait()
			t.Fatalf("the engine did not restore its partitions, or the processors' groups did not fail to balance, within a minute:\n%s\n%s", metrics, e.stderr.String())
		}
	}
	if code, body := servicetest.Get(t, "http://"+addr+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the processors unassigned: %d %s", code, body)
	}
	if _, metrics := servicetest.Get(t, "http://"+addr+"/metrics"); !strings.Contains(metrics, "beckon_ready 0") || !strings.Contains(metrics, "beckon_healthy 1") {
		t.Errorf("/metrics does not say what /readyz says:\n%s", metrics)
	}
	if code := e.wait(); code != 0 {
		t.Fatalf("exit %d\n%s", code, e.stderr.String())
	}

	addr = servicetest.FreeAddr(t)
	alone := startEngine(engineEnv(t, brokers, prefix, addr, "BECKON_ENGINE_GROUP", prefix+"alone", "BECKON_TIMELINES", "false", "BECKON_JOURNEY_METRICS", "false"))
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) { // polls readiness
		if code, _ := get("http://" + addr + "/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			alone.wait()
			t.Fatalf("the engine alone was not ready within a minute:\n%s", alone.stderr.String())
		}
	}
	if code := alone.wait(); code != 0 {
		t.Fatalf("exit %d\n%s", code, alone.stderr.String())
	}
}
