package records

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestJSONMap(t *testing.T) {
	tests := []struct {
		name    string
		in      JSON
		want    map[string]any
		wantErr bool
	}{
		{"absent", nil, map[string]any{}, false},
		{"blank", JSON("  "), map[string]any{}, false},
		{"null", JSON("null"), map[string]any{}, false},
		{"object", JSON(`{"sku":"A-1","price":19.99,"tags":["x"]}`), map[string]any{"sku": "A-1", "price": 19.99, "tags": []any{"x"}}, false},
		{"array", JSON(`[1]`), nil, true},
		{"scalar", JSON(`"gold"`), nil, true},
		{"invalid", JSON(`{"a":`), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Map()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestJSONDecode(t *testing.T) {
	var tier string
	if err := JSON(`"gold"`).Decode(&tier); err != nil || tier != "gold" {
		t.Fatalf("Decode scalar: %q %v", tier, err)
	}
	keep := "unchanged"
	if err := JSON(nil).Decode(&keep); err != nil || keep != "unchanged" {
		t.Fatalf("Decode absent changed the target: %q %v", keep, err)
	}
	if err := JSON(`{`).Decode(&keep); err == nil {
		t.Fatal("Decode of invalid JSON succeeded")
	}
}

// JSON nests in JSON documents as the raw value, like json.RawMessage, and
// an absent value as null.
func TestJSONMarshal(t *testing.T) {
	type doc struct {
		P JSON `json:"p"`
		Q JSON `json:"q"`
	}
	b, err := json.Marshal(doc{P: JSON(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"p":{"a":1},"q":null}` {
		t.Fatalf("marshal: %s", b)
	}
	var back doc
	if err := json.Unmarshal([]byte(`{"p":{"a":[1,2]},"q":"x"}`), &back); err != nil {
		t.Fatal(err)
	}
	if string(back.P) != `{"a":[1,2]}` || string(back.Q) != `"x"` {
		t.Fatalf("unmarshal: %s %s", back.P, back.Q)
	}
	j, err := NewJSON(map[string]int{"n": 1})
	if err != nil || string(j) != `{"n":1}` {
		t.Fatalf("NewJSON: %s %v", j, err)
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		rec  Record
		key  string
		name string
	}{
		{Event{UserID: "u1"}, "u1", "dev.beckon.Event"},
		{Profile{UserID: "u1"}, "u1", "dev.beckon.Profile"},
		{Fact{UserID: "u1"}, "u1", "dev.beckon.Fact"},
		{LookupRecord{ID: "SKU-1"}, "SKU-1", "dev.beckon.LookupRecord"},
		{SendCommand{UserID: "u1"}, "u1", "dev.beckon.SendCommand"},
		{Receipt{UserID: "u1"}, "u1", "dev.beckon.Receipt"},
		{Activity{UserID: "u1"}, "u1", "dev.beckon.Activity"},
		{Handoff{UserID: "u1"}, "u1", "dev.beckon.Handoff"},
		{JourneyDefinition{JourneyID: "welcome", Version: 3}, "welcome/3", "dev.beckon.JourneyDefinition"},
	}
	for _, tt := range tests {
		if got := tt.rec.Key(); got != tt.key {
			t.Errorf("%T.Key() = %q, want %q", tt.rec, got, tt.key)
		}
		if got := tt.rec.AvroName(); got != tt.name {
			t.Errorf("%T.AvroName() = %q, want %q", tt.rec, got, tt.name)
		}
	}
}

func TestConsentFor(t *testing.T) {
	p := Profile{Consent: map[string]Consent{"email": {Status: ConsentSubscribed}, "sms": {}}}
	for ch, want := range map[string]ConsentStatus{"email": ConsentSubscribed, "sms": ConsentUnknown, "push": ConsentUnknown} {
		if got := p.ConsentFor(ch); got != want {
			t.Errorf("ConsentFor(%q) = %q, want %q", ch, got, want)
		}
	}
}
