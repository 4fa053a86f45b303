package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/kafkatest/servicetest"
)

// TestNoSecretInTheOutput: the sender runs with a SASL password, a
// signing secret and an endpoint whose URL holds a token, logging at
// debug level, through a failed delivery and its retry; none of the three
// appears in anything it writes or serves at /metrics.
func TestNoSecretInTheOutput(t *testing.T) {
	const (
		saslPassword = "sasl-pw-Zq81xV"
		signing      = "signing-secret-Kw27pL"
		urlToken     = "url-token-Hn55tR"
	)
	brokers := kafkatest.SASLBrokers(t, "beckon", saslPassword)
	cl := kafkatest.Client(t, brokers, kgo.SASL(plain.Auth{User: "beckon", Pass: saslPassword}.AsMechanism()))
	prefix := servicetest.Provision(t, cl, 2)
	produceCommand(t, cl, prefix)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	env := map[string]string{
		"BECKON_BROKERS": strings.Join(brokers, ","), "BECKON_TOPIC_PREFIX": prefix,
		"BECKON_SASL_MECHANISM": "PLAIN", "BECKON_SASL_USERNAME": "beckon", "BECKON_SASL_PASSWORD": saslPassword,
		"BECKON_WEBHOOK_URL": srv.URL + "/hook?token=" + urlToken, "BECKON_WEBHOOK_SECRET": signing,
		"BECKON_WEBHOOK_GROUP": prefix + "webhook", "BECKON_WEBHOOK_RETRY_BASE": "10ms",
		"BECKON_HEALTH_ADDR": servicetest.FreeAddr(t), "BECKON_LOG_LEVEL": "debug",
	}
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(runCtx, nil, &stderr, func(k string) string { return env[k] }) }()
	deadline := time.Now().Add(30 * time.Second)
	for requests.Load() < 2 {
		if time.Now().After(deadline) {
			stop()
			<-done
			t.Fatalf("no retried request within 30s\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, metricsBody := servicetest.Get(t, "http://"+env["BECKON_HEALTH_ADDR"]+"/metrics")
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	out := stderr.String()
	if !strings.Contains(out, "webhook sender starting") || !strings.Contains(out, "/hook?redacted") {
		t.Fatalf("the sender did not log its start with the endpoint, redacted:\n%s", out)
	}
	for _, secret := range []string{saslPassword, signing, urlToken} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows the secret %q:\n%s", secret, out)
		}
		if strings.Contains(metricsBody, secret) {
			t.Errorf("/metrics shows the secret %q", secret)
		}
	}
}
