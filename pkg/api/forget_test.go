package api_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// TestForgetUser: DELETE /v1/users/{userId} writes a ForgetRequest keyed
// by the user to the forget topic, on the partition Kafka's default
// partitioner gives the user (the engine's), names the token that asked,
// and answers 202 with the request ID the record carries; a user ID the
// engine could never hold is a 400 naming the field and the reason.
func TestForgetUser(t *testing.T) {
	h := startAPI(t, nil, nil)
	user := "user 42/ü"
	r := h.expect(202, "DELETE", "/v1/users/"+url.PathEscape(user), h.write, "", "")
	var got api.ForgetAccepted
	if id, _ := r.field("requestId").(string); id == "" || r.field("userId") != user {
		t.Fatalf("body %s: want the request ID and the user ID", r.raw)
	} else {
		got.RequestID = id
	}

	topic := strings.TrimSuffix(h.topic, "journeys") + "forget"
	cl := kafkatest.Client(t, h.brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rec *kgo.Record
	for rec == nil {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("the forget request never reached the forget topic")
		}
		fs.EachRecord(func(r *kgo.Record) { rec = r })
	}
	if string(rec.Key) != user {
		t.Errorf("key %q, want the user ID %q", rec.Key, user)
	}
	tds, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if want := stream.PartitionFor([]byte(user), int32(len(tds[topic].Partitions))); rec.Partition != want {
		t.Errorf("partition %d, want %d (murmur2 of the user ID)", rec.Partition, want)
	}
	var req records.ForgetRequest
	if err := h.codec.Decode(ctx, rec.Value, &req); err != nil {
		t.Fatal(err)
	}
	if req.RequestID != got.RequestID || req.UserID != user || req.RequestedBy != "ci" || req.RequestedAt.IsZero() {
		t.Errorf("record %+v: want request %s of user %q by ci", req, got.RequestID, user)
	}

	for path, reason := range map[string]string{
		"/v1/users/%20":                          "is empty",
		"/v1/users/a%00b":                        "holds a zero byte",
		"/v1/users/%ff":                          "is not valid UTF-8",
		"/v1/users/" + strings.Repeat("x", 1025): "is longer than 1024 bytes",
	} {
		r := h.expect(400, "DELETE", path, h.write, "", "")
		fs := fieldsOf(t, r)
		if len(fs) != 1 || fs[0].Path != "userId" || !strings.HasPrefix(fs[0].Reason, reason) {
			t.Errorf("DELETE %s: fields %+v, want userId: %s", path, fs, reason)
		}
	}
	h.expect(403, "DELETE", "/v1/users/u1", h.read, "", "")
}
