package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/kafkatest/servicetest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/settings"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSenderPostsAndStops: the command, configured from the environment,
// delivers a command to the URL signed with the secret, and exits 0 on
// cancellation (SIGTERM).
func TestSenderPostsAndStops(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	cl := kafkatest.Client(t, brokers)
	prefix := servicetest.Provision(t, cl, 2)
	produceCommand(t, cl, prefix)
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.Header.Clone():
		default:
		}
	}))
	defer srv.Close()
	env := map[string]string{
		"BECKON_BROKERS": strings.Join(brokers, ","), "BECKON_TOPIC_PREFIX": prefix,
		"BECKON_WEBHOOK_URL": srv.URL, "BECKON_WEBHOOK_SECRET": "k", "BECKON_WEBHOOK_GROUP": prefix + "webhook",
		"BECKON_HEALTH_ADDR": servicetest.FreeAddr(t),
	}
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(runCtx, nil, &stderr, func(k string) string { return env[k] }) }()
	select {
	case h := <-got:
		if h.Get("Idempotency-Key") != "c1" || !strings.HasPrefix(h.Get("X-Beckon-Signature"), "sha256=") {
			t.Errorf("headers %v", h)
		}
	case <-time.After(30 * time.Second):
		stop()
		<-done
		t.Fatalf("no request within 30s\n%s", stderr.String())
	}
	base := "http://" + env["BECKON_HEALTH_ADDR"]
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := servicetest.Get(t, base+path); code != http.StatusOK {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	if _, body := servicetest.Get(t, base+"/metrics"); !strings.Contains(body, "beckon_ready 1") || !strings.Contains(body, "beckon_healthy 1") {
		t.Errorf("/metrics lacks beckon_ready 1 and beckon_healthy 1:\n%s", body)
	}
	// The outcome is counted once its receipt is produced.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, body := servicetest.Get(t, base+"/metrics")
		if strings.Contains(body, `beckon_webhook_commands_total{status="delivered"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never counted the delivered command:\n%s", body)
		}
	}
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("did not stop within 30s of cancellation")
	}
}

// produceCommand writes one webhook send command (c1, for u1).
func produceCommand(t *testing.T, cl *kgo.Client, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	v, err := cd.Encode(ctx, prefix+"send.webhook", records.SendCommand{CommandID: "c1", UserID: "u1", Channel: "webhook", Deadline: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: prefix + "send.webhook", Key: []byte("u1"), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func TestSenderRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"--no-such-flag"}},
		{"no url", nil},
		{"bad url", []string{"--url=ftp://x"}},
		{"bad duration", []string{"--url=http://x", "--timeout=10"}},
		{"retry cap below base", []string{"--url=http://x", "--retry-base=1s", "--retry-max=10ms"}},
		{"bad concurrency", []string{"--url=http://x", "--concurrency=0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(context.Background(), tt.args, &stderr, func(string) string { return "" }); code != 2 {
				t.Fatalf("exit %d, want 2\n%s", code, stderr.String())
			}
		})
	}
}

// TestConfigurationDoc keeps the webhook sender's table in
// docs/configuration.md in step with its flags.
func TestConfigurationDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if table := settings.Markdown(senderSettings); !strings.Contains(string(doc), table) {
		t.Errorf("docs/configuration.md lacks the current webhook sender table; paste:\n%s", table)
	}
}
