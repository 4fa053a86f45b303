package journey

import (
	"errors"
	"os"
	"testing"
	"time"
)

func compileFile(t *testing.T, name string) *Journey {
	t.Helper()
	src, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	def, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	j, err := Compile(def, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestCompile(t *testing.T) {
	j := compileFile(t, "testdata/valid/abandoned-cart.yaml")
	if j.Version != 7 || j.Location.String() != "Europe/Berlin" || j.Def.ID != "abandoned-cart" {
		t.Errorf("Version %d, Location %v, ID %q", j.Version, j.Location, j.Def.ID)
	}
	// Every expression and duration the definition uses is ready.
	for _, src := range []string{
		j.Def.Trigger.Key, j.Def.Trigger.When, j.Def.Trigger.Audience,
		j.Def.State[0].AddItem.Key, j.Def.State[0].AddItem.Value, j.Def.State[0].AddItem.Quantity,
		j.Def.State[2].Set["last_viewed"], j.Def.Steps[1].Branch.Cases[0].When, j.Def.Steps[2].Send.Payload["cart_url"],
	} {
		if e := j.Expr(src); e == nil || e.Source() != src {
			t.Errorf("Expr(%q) = %v", src, e)
		}
	}
	for s, want := range map[string]time.Duration{"1h": time.Hour, "1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "1w": 7 * 24 * time.Hour, "6h": 6 * time.Hour} {
		if got := j.Duration(s); got != want {
			t.Errorf("Duration(%q) = %v, want %v", s, got, want)
		}
	}
	if j.Expr("") != nil || j.Duration("") != 0 {
		t.Error("empty strings compile to something")
	}
	key, err := j.Expr(j.Def.Trigger.Key).String(&Vars{Event: map[string]any{"properties": map[string]any{"cart_id": 981.0}}})
	if err != nil || key != "981" {
		t.Errorf("entry key %q, %v", key, err)
	}

	if loc := compileFile(t, "testdata/valid/whatsapp-reply.yaml").Location; loc != time.UTC {
		t.Errorf("default location %v, want UTC", loc)
	}
}

func TestCompileInvalid(t *testing.T) {
	def, err := Parse([]byte("id: x\ntrigger: {event: E}\nsteps: [{id: a, send: {channel: fax, template: t}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := Compile(def, 1, nil)
	var ve *ValidationError
	if j != nil || !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Path != "steps[0].send.channel" || ve.Errors[0].Line != 3 {
		t.Fatalf("Compile = %v, %v", j, err)
	}
	if _, err := Compile(def, 1, append(DefaultChannels[:len(DefaultChannels):len(DefaultChannels)], "fax")); err != nil {
		t.Fatalf("with fax configured: %v", err)
	}
}

func TestStepsAndNext(t *testing.T) {
	j := compileFile(t, "testdata/valid/onboarding-nudge.json")
	for _, tc := range []struct {
		id   string
		idx  int
		next string // NextOf(idx)
	}{
		{"welcome", 0, "next-morning"},
		{"activated", 2, "test"},
		{"push-nudge", 4, "done"}, // its next
		{"email-nudge", 5, "done"},
		{"done", 6, "exit"}, // the last step
	} {
		s, i, ok := j.Step(tc.id)
		if !ok || i != tc.idx || s.ID != tc.id || s != &j.Def.Steps[i] {
			t.Errorf("Step(%q) = %v, %d, %v", tc.id, s, i, ok)
		}
		if got := j.NextOf(tc.idx); got != tc.next {
			t.Errorf("NextOf(%d) = %q, want %q", tc.idx, got, tc.next)
		}
	}
	if s, i, ok := j.Step("nope"); ok || s != nil || i != -1 {
		t.Errorf("Step(nope) = %v, %d, %v", s, i, ok)
	}
	if j.NextOf(-1) != ExitTarget || j.NextOf(99) != ExitTarget {
		t.Error("NextOf out of range is not exit")
	}
}
