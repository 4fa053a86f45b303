package codec

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// at returns a UTC time with millisecond precision, what the wire keeps.
func at(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Typical payloads, also used by the benchmarks.
const (
	productAddedProperties = `{"product_id":"507f1f77bcf86cd799439011","sku":"G-32","category":"Games","name":"Monopoly: 3rd Edition","brand":"Hasbro","price":18.99,"quantity":1,"tags":["board","family"]}`
	productAddedContext    = `{"ip":"203.0.113.7","user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15","locale":"fr-FR","timezone":"Europe/Paris","page":{"url":"https://shop.example.com/p/G-32","path":"/p/G-32","referrer":"https://shop.example.com/c/games","title":"Monopoly"},"library":{"name":"analytics.js","version":"4.1.0"}}`
)

// cartPayload is a ~1.5 KiB send payload: trigger event, traits, a 3-item
// cart enriched from the product lookup, and a coupon.
var cartPayload = `{"trigger":{"event":"Checkout Started","message_id":"01HZX3K9V7Q2WJ8N5R4T6Y1M0B","timestamp":"2024-05-14T09:31:07.412Z"},` +
	`"user":{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","loyalty_tier":"gold","points":1200,"locale":"fr-FR"},` +
	`"cart":{"id":"cart-7f3a9c","currency":"EUR","total":93.47,"items":[` +
	`{"sku":"G-32","name":"Monopoly: 3rd Edition","brand":"Hasbro","price":18.99,"quantity":1,"image_url":"https://cdn.example.com/img/G-32-800x800.jpg","url":"https://shop.example.com/p/G-32","category":"Games"},` +
	`{"sku":"B-1024","name":"The Art of Computer Programming, Vol. 1","brand":"Addison-Wesley","price":59.99,"quantity":1,"image_url":"https://cdn.example.com/img/B-1024-800x800.jpg","url":"https://shop.example.com/p/B-1024","category":"Books"},` +
	`{"sku":"M-77","name":"Ceramic Mug, 350 ml","brand":"Beckon Home","price":7.245,"quantity":2,"image_url":"https://cdn.example.com/img/M-77-800x800.jpg","url":"https://shop.example.com/p/M-77","category":"Kitchen"}]},` +
	`"coupon":{"code":"COMEBACK10","discount_percent":10,"expires_at":"2024-05-21T23:59:59Z"},` +
	`"links":{"cart":"https://shop.example.com/cart?utm_source=beckon&utm_medium=email&utm_campaign=abandoned-cart","unsubscribe":"https://shop.example.com/u/unsubscribe?token=eyJ1IjoidXNlci00MiIsImMiOiJlbWFpbCJ9"}}`

func sampleEvent() records.Event {
	return records.Event{
		MessageID:   "01HZX3K9V7Q2WJ8N5R4T6Y1M0A",
		Type:        records.EventTrack,
		Name:        "Product Added",
		UserID:      "user-42",
		AnonymousID: "anon-5f0c",
		Timestamp:   at(1715678467412),
		Properties:  records.JSON(productAddedProperties),
		Context:     records.JSON(productAddedContext),
		SessionID:   "sess-991",
	}
}

func sampleSendCommand() records.SendCommand {
	return records.SendCommand{
		CommandID:      "cmd-4b1d3c0ffee",
		JourneyID:      "abandoned-cart",
		JourneyVersion: 7,
		InstanceID:     "user-42/abandoned-cart/cart-7f3a9c",
		StepID:         "remind-email",
		UserID:         "user-42",
		Channel:        "email",
		Recipient:      "ada@example.com",
		TemplateID:     "cart-reminder-v3",
		Locale:         "fr-FR",
		Payload:        records.JSON(cartPayload),
		CreatedAt:      at(1715682067412),
		Deadline:       at(1715768467412),
		TraceParent:    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
}

// sampleRecords returns one fully populated value of every record type, every
// optional field set so a round trip exercises all of them.
func sampleRecords() []records.Record {
	return []records.Record{
		sampleEvent(),
		records.Profile{
			UserID: "user-42",
			Traits: records.JSON(`{"first_name":"Ada","plan":"pro"}`),
			Addresses: records.Addresses{
				Email:      "ada@example.com",
				Phone:      "+14155550123",
				PushTokens: []records.PushToken{{Token: "apns-1", Platform: "ios"}, {Token: "fcm-2", Platform: "android"}},
				WhatsApp:   "+14155550124",
				Custom:     map[string]string{"slack": "U024BE7LH"},
			},
			TimeZone: "Europe/Paris",
			Locale:   "fr-FR",
			Consent: map[string]records.Consent{
				"email": {Status: records.ConsentSubscribed, UpdatedAt: at(1700000000000)},
				"sms":   {Status: records.ConsentUnsubscribed, UpdatedAt: at(1700000001000)},
			},
			UpdatedAt: at(1715678400000),
		},
		records.Fact{UserID: "user-42", Name: "loyalty_tier", Value: records.JSON(`"gold"`), UpdatedAt: at(1715600000000)},
		records.LookupRecord{Table: "products", ID: "G-32", Attributes: records.JSON(`{"name":"Monopoly","price":18.99}`), UpdatedAt: at(1715500000000)},
		sampleSendCommand(),
		records.Receipt{
			ReceiptID: "rcpt-1", CommandID: "cmd-4b1d3c0ffee", UserID: "user-42", Channel: "whatsapp",
			Status: records.ReceiptReplied, ReplyText: "Is it still in stock?", FailureReason: "n/a",
			OccurredAt: at(1715682100000), Attributes: records.JSON(`{"provider_message_id":"wamid.HBgL"}`),
		},
		records.Activity{
			ActivityID: "act-1", InstanceID: "user-42/abandoned-cart/cart-7f3a9c", JourneyID: "abandoned-cart",
			JourneyVersion: 7, UserID: "user-42", EntryKey: "cart-7f3a9c", StepID: "remind-email",
			Kind: records.ActivitySkipped, Reason: "quiet_hours", At: at(1715682067412),
			TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
			Details: records.JSON(`{"resume_at":"2024-05-15T07:00:00Z"}`),
		},
		records.Handoff{
			HandoffID: "ho-1", InstanceID: "user-42/support/1", JourneyID: "support", UserID: "user-42", Channel: "whatsapp",
			Conversation: []records.ConversationMessage{
				{Direction: records.Outbound, Text: "Your cart is waiting", At: at(1715682067412), CommandID: "cmd-1"},
				{Direction: records.Inbound, Text: "Can I talk to someone?", At: at(1715682100000)},
			},
			Profile: records.JSON(`{"name":"Ada"}`), Payload: records.JSON(`{"reason":"asked_for_human"}`),
			CreatedAt: at(1715682101000),
		},
		records.JourneyDefinition{
			JourneyID: "abandoned-cart", Version: 7, State: records.JourneyLive, Format: records.FormatYAML,
			Definition: "trigger: {event: Checkout Started}\n", PublishedAt: at(1715000000000), PublishedBy: "ada@example.com",
		},
	}
}

// topicFor returns a plausible topic for a record, for subject names.
func topicFor(r records.Record) string {
	return strings.ToLower(strings.TrimPrefix(r.AvroName(), "dev.beckon."))
}

// newRegistry starts an in-process schema registry and returns a client for it.
func newRegistry(t testing.TB) (*srfake.Registry, *sr.Client) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return reg, cl
}

func mustNew(t testing.TB, opts ...Option) *Codec {
	t.Helper()
	c, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustEncode(t testing.TB, c *Codec, r records.Record) []byte {
	t.Helper()
	b, err := c.Encode(context.Background(), topicFor(r), r)
	if err != nil {
		t.Fatalf("encode %s: %v", r.AvroName(), err)
	}
	return b
}
