package engine_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec/interop"
	"github.com/beckon-dev/beckon/pkg/records"
)

// welcomeJourney sends at once on Signed Up, with a payload taken from the
// trigger event and the profile, so a send proves both were decoded.
const welcomeJourney = `
id: interop-welcome
trigger: {event: Signed Up}
steps:
  - id: hello
    send:
      channel: email
      template: welcome
      payload:
        first_name: profile.traits.first_name
        plan: event.properties.plan
`

// TestPeerRecordsThroughTheEngine: a Profile and an Event that Apache Avro
// Java (BinaryMessageEncoder) and fastavro encode in single-object encoding
// are produced to the engine's topics; the engine acts on them (a send
// command to the profile's address with the event's data), and both peers
// decode that send command to what Beckon's codec reads. With goavro's
// fingerprints, the peers' records were dead-lettered ("unknown schema
// fingerprint") and the peers rejected Beckon's send commands.
func TestPeerRecordsThroughTheEngine(t *testing.T) {
	peers := map[string]*interop.Peer{"u-java": interop.Java(t), "u-fastavro": interop.Fastavro(t)}
	h := newHarness(t)
	if _, err := h.control.Publish(h.ctx, []byte(welcomeJourney), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	for user, peer := range peers {
		p := records.Profile{
			UserID: user, Traits: records.JSON(`{"first_name":"Ada ` + user + `"}`),
			Addresses: records.Addresses{Email: user + "@example.com"},
			Consent:   map[string]records.Consent{"email": {Status: records.ConsentSubscribed, UpdatedAt: h.clock.now()}},
			UpdatedAt: h.clock.now(),
		}
		h.produceRaw("profiles", user, peer.Encode(t, interop.SchemaFile("profile.avsc"), interop.ProfileJSON(p)))
	}
	h.start()
	sends := h.read("send.email")
	for user, peer := range peers {
		e := records.Event{
			MessageID: "signup-" + user, Type: records.EventTrack, Name: "Signed Up", UserID: user,
			Timestamp: h.clock.now(), Properties: records.JSON(`{"plan":"pro-` + user + `"}`), Context: records.JSON(`{}`),
		}
		h.produceRaw("events", user, peer.Encode(t, interop.SchemaFile("event.avsc"), interop.EventJSON(e)))
	}
	recs := sends.wait(t, "a send command per peer's user", func(recs []*kgo.Record) bool { return len(recs) >= len(peers) })
	seen := map[string]bool{}
	for _, r := range recs {
		var cmd records.SendCommand
		if err := h.codec.Decode(h.ctx, r.Value, &cmd); err != nil {
			t.Fatal(err)
		}
		user := cmd.UserID
		if peers[user] == nil || seen[user] || string(r.Key) != user {
			t.Fatalf("unexpected send command %+v (key %q)", cmd, r.Key)
		}
		seen[user] = true
		var payload map[string]string
		if err := json.Unmarshal(cmd.Payload, &payload); err != nil {
			t.Fatal(err)
		}
		if cmd.Recipient != user+"@example.com" || payload["first_name"] != "Ada "+user || payload["plan"] != "pro-"+user {
			t.Errorf("send command for %s: recipient %q payload %s", user, cmd.Recipient, cmd.Payload)
		}
		for _, peer := range peers {
			got, err := peer.Decode(interop.SchemaFile("send_command.avsc"), r.Value)
			if err != nil {
				t.Fatalf("%s cannot decode the engine's send command: %v", peer, err)
			}
			if want := interop.SendCommandJSON(cmd); !reflect.DeepEqual(got, want) {
				t.Errorf("%s decodes the send command for %s to\n%v\nwant\n%v", peer, user, got, want)
			}
		}
	}
}
