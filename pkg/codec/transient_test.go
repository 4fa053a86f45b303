package codec

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/beckon-dev/beckon/pkg/records"
)

// TestIsTransient: a registry that does not answer, or answers with an
// error about itself, is transient (retry the record); bytes that cannot
// be decoded, and a schema ID the registry says it does not have, are
// permanent (dead-letter it). The class survives wrapping.
func TestIsTransient(t *testing.T) {
	ctx := context.Background()
	_, cl := newRegistry(t)
	producer := mustNew(t, WithRegistry(cl))
	ev := records.Event{MessageID: "m1", Type: records.EventTrack, Name: "Product Added", UserID: "u1", Timestamp: time.UnixMilli(1700000000000).UTC()}
	confluent := mustEncode(t, producer, ev) // an ID no fresh codec has cached
	single := mustEncode(t, mustNew(t), ev)

	client := func(url string) *sr.Client {
		t.Helper()
		c, err := sr.NewClient(sr.URLs(url))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	answering := func(status int) *sr.Client {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error_code":%d,"message":"test"}`, status*100+1)
		}))
		t.Cleanup(srv.Close)
		return client(srv.URL)
	}
	down := httptest.NewServer(nil)
	down.Close()
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hanging.Close)

	shortCtx := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		t.Cleanup(cancel)
		return c
	}
	decodeWith := func(c *Codec, cx context.Context, data []byte) error {
		var got records.Event
		return c.Decode(cx, data, &got)
	}
	for _, tt := range []struct {
		name      string
		err       error
		transient bool
	}{
		{"registry unreachable", decodeWith(mustNew(t, WithRegistry(client(down.URL))), ctx, confluent), true},
		{"registry does not answer in time", decodeWith(mustNew(t, WithRegistry(client(hanging.URL))), shortCtx(), confluent), true},
		{"registry server error", decodeWith(mustNew(t, WithRegistry(answering(http.StatusServiceUnavailable))), ctx, confluent), true},
		{"registry refuses the credentials", decodeWith(mustNew(t, WithRegistry(answering(http.StatusUnauthorized))), ctx, confluent), true},
		{"registry unreachable when encoding", func() error {
			_, err := mustNew(t, WithRegistry(client(down.URL))).Encode(ctx, "events", &ev)
			return err
		}(), true},
		{"wrapped", fmt.Errorf("decode event: %w", decodeWith(mustNew(t, WithRegistry(client(down.URL))), ctx, confluent)), true},

		{"registry does not have the ID", decodeWith(mustNew(t, WithRegistry(cl)), ctx, cat(appendConfluentHeader(nil, 999), confluent[5:])), false},
		{"no registry configured", decodeWith(mustNew(t), ctx, confluent), false},
		{"garbage", decodeWith(mustNew(t), ctx, []byte("not avro")), false},
		{"truncated", decodeWith(mustNew(t), ctx, single[:len(single)-3]), false},
		{"unknown fingerprint", decodeWith(mustNew(t), ctx, cat([]byte{0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, single[10:])), false},
		{"wrong type", func() error {
			var rc records.Receipt
			return mustNew(t).Decode(ctx, single, &rc)
		}(), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("no error: the case does not fail as it should")
			}
			if got := IsTransient(tt.err); got != tt.transient {
				t.Fatalf("IsTransient(%v) = %v, want %v", tt.err, got, tt.transient)
			}
		})
	}
	if IsTransient(nil) || IsTransient(errors.New("other")) {
		t.Fatal("nil or a foreign error is transient")
	}
}
