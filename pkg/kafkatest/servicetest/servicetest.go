// Package servicetest holds what the tests of the service commands
// (services/...) share: provisioning a deployment's topics on a test
// broker, a free loopback address for a service's HTTP endpoints, and
// reading those endpoints.
package servicetest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// Provision applies Beckon's topic layout, with partitions per
// user-keyed topic and one replica, under a prefix of the test's own
// (kafkatest.Prefix) through cl, and returns the prefix.
func Provision(t testing.TB, cl *kgo.Client, partitions int32) string {
	t.Helper()
	prefix := kafkatest.Prefix(t)
	layout, err := topics.Declare(topics.Options{Prefix: prefix, Partitions: partitions, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := topics.Apply(ctx, cl, layout); err != nil {
		t.Fatal(err)
	}
	return prefix
}

// FreeAddr returns a loopback address with a port nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Get returns the status and body of a GET of url.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	return GetAs(t, url, "")
}

// GetAs is Get with a bearer token (none when empty), as an API client
// sends it.
func GetAs(t testing.TB, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Output collects what a running service writes (its logs, its banner)
// for a test to read while it runs.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
