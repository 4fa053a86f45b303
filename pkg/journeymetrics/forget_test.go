package journeymetrics

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// TestForgetMovesAndDeletesUserEntries: an instance's position and a
// send's record kept under the keys used before the user hash (restored
// from the changelog as an older processor left them) are moved under
// the user's prefix when first read, the send's expiry timer with it,
// and still count (the receipt is attributed to the send's step); the
// user's activity tombstone then deletes both, and the timer, while the
// counts stay.
func TestForgetMovesAndDeletesUserEntries(t *testing.T) {
	e := newEnv(t, 1, topics.Options{})
	const user, inst, cmd = "u1", "inst-1", "cmd-1"
	changelog := e.topic("changelog." + topics.JourneyMetricsStore)
	due := time.Now().Add(time.Hour).UnixMilli()
	dueBytes := binary.BigEndian.AppendUint64(nil, uint64(due))
	// The runtime's changelog keys: 's' state, 'k' timer, 'd' due index.
	state := func(k []byte) string { return "s" + string(k) }
	timer := func(k []byte) string { return "k" + string(k) }
	oldPos, oldSend := legacyKey(nsPosition, inst), legacyKey(nsSend, cmd)
	for k, v := range map[string]string{
		state(oldPos):                            "idle",
		state(oldSend):                           `{"j":"cart","v":1,"s":"remind","k":true}`,
		timer(oldSend):                           string(dueBytes),
		"d" + string(dueBytes) + string(oldSend): "",
	} {
		if err := e.cl.ProduceSync(e.ctx, &kgo.Record{Topic: changelog, Partition: 0, Key: []byte(k), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	p, err := New(Config{Topics: e.layout, Codec: e.codec, Group: e.prefix + "metrics"})
	if err != nil {
		t.Fatal(err)
	}
	e.runGroup(p.Group(), stream.Options{StateDir: t.TempDir(), InstanceID: "metrics-1"})
	e.produce("activity", user, records.Activity{ActivityID: inst + "-3", InstanceID: inst, JourneyID: "cart", JourneyVersion: 1,
		UserID: user, StepID: "remind", Kind: records.ActivityWaiting, At: time.Now()})
	e.produce("receipts", user, records.Receipt{ReceiptID: "r1", CommandID: cmd, UserID: user, Channel: "email", Status: records.ReceiptDelivered, OccurredAt: time.Now()})

	newPos, newSend := userKey(nsPosition, user, inst), userKey(nsSend, user, cmd)
	live := func() map[string]string {
		out := map[string]string{}
		for _, r := range e.readTopic(changelog) {
			if r.Value == nil {
				delete(out, string(r.Key))
			} else {
				out[string(r.Key)] = string(r.Value)
			}
		}
		return out
	}
	delivered := `"m":"delivered"`
	waitFor(t, "the legacy entries moved under the user and the receipt counted", func() bool {
		l := live()
		_, oldLeft := l[state(oldPos)]
		_, oldSendLeft := l[state(oldSend)]
		_, oldTimer := l[timer(oldSend)]
		counted := false
		for k := range l {
			counted = counted || strings.Contains(k, delivered) && strings.Contains(k, `"s":"remind"`)
		}
		return !oldLeft && !oldSendLeft && !oldTimer && l[state(newPos)] == "remind" && l[timer(newSend)] == string(dueBytes) &&
			strings.Contains(l[state(newSend)], `"s":"remind"`) && counted
	})

	if err := e.cl.ProduceSync(e.ctx, &kgo.Record{Topic: e.topic("activity"), Key: []byte(user)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the user's entries and timer deleted, the counts kept", func() bool {
		l := live()
		counted := false
		for k := range l {
			if strings.Contains(k, string(userPrefix(nsPosition, user))) || strings.Contains(k, string(userPrefix(nsSend, user))) {
				return false
			}
			counted = counted || strings.Contains(k, delivered)
		}
		return counted
	})
}
