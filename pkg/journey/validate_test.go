package journey

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the .errors golden files of testdata/invalid")

// problems parses and validates a definition and returns its problems as
// "LINE:COL: PATH: REASON" lines.
func problems(t *testing.T, src string, channels []string) []string {
	t.Helper()
	def, err := Parse([]byte(src))
	if err == nil {
		err = Validate(def, channels)
	}
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidJourney) {
		t.Fatalf("error %v (%T) is not a *ValidationError that is ErrInvalidJourney", err, err)
	}
	out := make([]string, len(ve.Errors))
	for i, fe := range ve.Errors {
		out[i] = fmt.Sprintf("%d:%d: %s: %s", fe.Line, fe.Column, fe.Path, fe.Reason)
	}
	return out
}

// Every file of testdata/valid is valid; every file of testdata/invalid
// has exactly the problems its .errors file lists.
func TestTestdata(t *testing.T) {
	valid, _ := filepath.Glob("testdata/valid/*")
	if len(valid) < 3 {
		t.Fatalf("only %d valid definitions", len(valid))
	}
	for _, name := range valid {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if p := problems(t, string(src), nil); p != nil {
				t.Fatalf("invalid:\n%s", strings.Join(p, "\n"))
			}
			def, _ := Parse(src)
			if _, err := Compile(def, 1, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	invalid, _ := filepath.Glob("testdata/invalid/*.yaml")
	for _, name := range invalid {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(problems(t, string(src), nil), "\n") + "\n"
			golden := strings.TrimSuffix(name, ".yaml") + ".errors"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("problems differ from %s (go test -run TestTestdata -update rewrites it)\ngot:\n%swant:\n%s", golden, got, want)
			}
		})
	}
}

// base is a valid definition that the table below breaks one way at a
// time: each case's edit replaces old with new.
const base = `id: base
trigger:
  event: Signed Up
steps:
  - id: welcome
    send: {channel: email, template: welcome}
  - id: wait
    delay: {for: 1d}
  - id: check
    branch:
      cases:
        - {when: 'has(event.properties.plan)', next: vip}
  - id: remind
    send: {channel: email, template: remind}
    next: exit
  - id: vip
    send: {channel: sms, template: vip}
`

func TestValidate(t *testing.T) {
	if p := problems(t, base, nil); p != nil {
		t.Fatalf("base is invalid: %v", p)
	}
	for _, tc := range []struct {
		name     string
		old, new string
		want     string // the only problem, as "PATH: REASON" (a prefix of the reason)
	}{
		{"id format", "id: base", "id: Base", `id: "Base": want lowercase`},
		{"id dash at end", "id: base", "id: base-", `id: "base-": want lowercase`},
		{"missing event", "event: Signed Up", "event: ''", "trigger.event: required"},
		{"reentry enum", "event: Signed Up", "event: Signed Up\n  reentry: twice", `trigger.reentry: "twice" is not one of always, once, once_per_session, cooldown`},
		{"cooldown without reentry", "event: Signed Up", "event: Signed Up\n  cooldown: 1d", "trigger.cooldown: only applies with reentry cooldown"},
		{"reentry without cooldown", "event: Signed Up", "event: Signed Up\n  reentry: cooldown", "trigger.cooldown: required with reentry cooldown"},
		{"bad cooldown", "event: Signed Up", "event: Signed Up\n  reentry: cooldown\n  cooldown: 1y", `trigger.cooldown: "1y" is not a duration`},
		{"negative max instances", "event: Signed Up", "event: Signed Up\n  max_instances: -1", "trigger.max_instances: must not be negative"},
		{"condition not bool", "event: Signed Up", "event: Signed Up\n  when: '1 + 2'", "trigger.when: the expression gives int, want a bool"},
		{"condition optional", "event: Signed Up", "event: Signed Up\n  when: 'event.?x'", "trigger.when: the expression gives optional_type(dyn), want a bool"},
		{"state at trigger", "event: Signed Up", "event: Signed Up\n  when: 'state.n > 1'", "trigger.when: state is not available here"},
		{"event in audience", "event: Signed Up", "event: Signed Up\n  audience: 'event.name == \"x\"'", "trigger.audience: event is not available here"},
		{"key a list", "event: Signed Up", "event: Signed Up\n  key: '[1]'", "trigger.key: the expression gives list(int), want a string or a number"},
		{"undeclared", "has(event.properties.plan)", "evnt.x", "steps[2].branch.cases[0].when: CEL error at 1:1: undeclared reference to 'evnt'"},
		{"syntax error", "has(event.properties.plan)", "event.x ==", "steps[2].branch.cases[0].when: CEL error at 1:11: Syntax error"},
		{"duplicate step", "id: remind", "id: wait", `steps[3].id: duplicate step id "wait" (first at steps[1])`},
		{"reserved step id", "id: vip\n", "id: exit\n", "steps[4].id: exit is reserved"},
		{"step id chars", "id: vip\n", "id: v.i.p\n", `steps[4].id: "v.i.p": want letters`},
		{"unknown next", "next: exit", "next: remnd", `steps[3].next: unknown step "remnd"; did you mean "remind"?`},
		{"unknown case next", "next: vip}", "next: nobody}", `steps[2].branch.cases[0].next: unknown step "nobody"; steps are welcome, wait, check, remind, vip`},
		{"two kinds", "delay: {for: 1d}", "delay: {for: 1d}\n    exit: {}", "steps[1]: several step kinds (delay, exit): want exactly one"},
		{"no kind", "delay: {for: 1d}", "next: check", "steps[1]: no step kind"},
		{"unreachable", "next: vip}", "next: remind}", `steps[4]: step "vip" is unreachable from the first step`},
		{"unknown channel", "channel: sms", "channel: pigeon", `steps[4].send.channel: unknown channel "pigeon"; configured channels are email, sms, push, whatsapp, inapp, webhook`},
		{"near channel", "channel: sms", "channel: smss", `steps[4].send.channel: unknown channel "smss"; did you mean "sms"?`},
		{"missing template", "template: vip", "template: ''", "steps[4].send.template: required"},
		{"bad delay", "for: 1d", "for: 1 day", `steps[1].delay.for: "1 day" is not a duration`},
		{"zero delay", "for: 1d", "for: 0s", `steps[1].delay.for: "0s" is not a positive duration`},
		{"empty delay", "delay: {for: 1d}", "delay: {}", "steps[1].delay: want for, at_time or until"},
		{"until with for", "delay: {for: 1d}", "delay: {for: 1d, until: now}", "steps[1].delay.until: until stands alone"},
		{"until not a time", "delay: {for: 1d}", "delay: {until: 'true'}", "steps[1].delay.until: the expression gives bool, want a timestamp"},
		{"bad at_time", "delay: {for: 1d}", "delay: {at_time: '9am'}", `steps[1].delay.at_time: "9am" is not a time of day`},
		{"next on split", "next: exit", "next: exit\n  - id: s\n    split: {paths: [{name: a, weight: 1, next: exit}]}\n    next: vip", "steps[4].next: a split has no next"},
		{"next on exit", "send: {channel: sms, template: vip}", "exit: {}\n    next: welcome", "steps[4].next: an exit step has no next"},
		{"next and else", "next: vip}", "next: vip}\n      else: remind\n    next: vip", "steps[2].next: never taken"},
		{"wait_receipt of a delay", "delay: {for: 1d}", "wait_receipt: {of: check, timeout: 1d}", `steps[1].wait_receipt.of: step "check" is not a send step`},
		{"receipt status", "delay: {for: 1d}", "wait_receipt: {of: welcome, timeout: 1d, on: {read: exit}}", `steps[1].wait_receipt.on.read: "read" is not a receipt status`},
		{"hold when without event", "delay: {for: 1d}", "hold: {timeout: 1d, when: 'true'}", "steps[1].hold.when: needs event"},
		{"hold without timeout", "delay: {for: 1d}", "hold: {event: X}", "steps[1].hold.timeout: required"},
		{"state name reserved", "steps:", "state:\n  - {on: X, increment: [items]}\nsteps:", `state[0].increment[0]: "items" is reserved`},
		{"state rule does nothing", "steps:", "state:\n  - {on: X}\nsteps:", "state[0]: does nothing"},
		{"remove_item value", "steps:", "state:\n  - {on: X, remove_item: {key: event.id, value: event}}\nsteps:", "state[0].remove_item.value: only add_item has a value"},
		{"quantity not a number", "steps:", "state:\n  - {on: X, add_item: {key: event.id, quantity: '\"two\"'}}\nsteps:", "state[0].add_item.quantity: the expression gives string, want a number"},
		{"time zone", "steps:", "policies: {time_zone: Local}\nsteps:", `policies.time_zone: "Local" is not an IANA time zone`},
		{"window equal ends", "steps:", "policies: {quiet_hours: {from: '10:00', to: '10:00'}}\nsteps:", "policies.quiet_hours.to: equals from"},
		{"window day", "steps:", "policies: {quiet_hours: {from: '22:00', to: '07:00', days: [sat, sunday, holiday]}}\nsteps:", `policies.quiet_hours.days[2]: "holiday" is not a day`},
		{"cap channel", "steps:", "policies: {frequency_caps: [{channel: fax, max: 1, per: 1d}]}\nsteps:", `policies.frequency_caps[0].channel: unknown channel "fax"`},
		{"paused", "steps:", "policies: {paused: {action: later}}\nsteps:", `policies.paused.action: "later" is not one of send_late, skip`},
		{"split holdout", "next: exit", "next: exit\n  - id: s\n    split: {holdout: 101, paths: [{name: a, weight: 1, next: vip}]}", "steps[4].split.holdout: want a percentage, 0 to 100, got 101"},
		{"loop without wait", "next: exit", "next: check", `steps[2]: loop with no wait: steps "check", "remind" can repeat forever`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(base, tc.old) {
				t.Fatalf("base lacks %q", tc.old)
			}
			src := strings.Replace(base, tc.old, tc.new, 1)
			got := problems(t, src, nil)
			var matched bool
			for _, p := range got {
				_, rest, _ := strings.Cut(p, ": ") // drop LINE:COL
				if strings.HasPrefix(rest, tc.want) {
					matched = true
				}
			}
			if !matched {
				t.Errorf("want %q among the problems, got:\n%s\nof:\n%s", tc.want, strings.Join(got, "\n"), src)
			}
		})
	}
}

// TestLoops pins what counts as waiting in a loop.
func TestLoops(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps string
		loop  bool
	}{
		{"self", "  - {id: a, send: {channel: email, template: t}, next: a}", true},
		{"through a branch", "  - {id: a, send: {channel: email, template: t}}\n  - {id: b, branch: {cases: [{when: 'true', next: a}]}}", true},
		{"through a split", "  - {id: a, split: {paths: [{name: x, weight: 1, next: b}]}}\n  - {id: b, handoff: {}, next: a}", true},
		{"with a delay", "  - {id: a, send: {channel: email, template: t}}\n  - {id: b, delay: {for: 1h}, next: a}", false},
		{"with a hold", "  - {id: a, hold: {timeout: 1h}, next: a}", false},
		{"with a wait_receipt", "  - {id: a, send: {channel: email, template: t}}\n  - {id: b, wait_receipt: {of: a, timeout: 1h}, next: a}", false},
		{"no loop", "  - {id: a, send: {channel: email, template: t}}\n  - {id: b, branch: {cases: [{when: 'true', next: exit}]}}", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(t, "id: l\ntrigger: {event: E}\nsteps:\n"+tc.steps+"\n", nil)
			var loop bool
			for _, p := range got {
				if strings.Contains(p, "loop with no wait") {
					loop = true
				} else {
					t.Errorf("unexpected problem %s", p)
				}
			}
			if loop != tc.loop {
				t.Errorf("loop reported %v, want %v", loop, tc.loop)
			}
		})
	}
}

// Custom channels are allowed only when configured.
func TestValidateChannels(t *testing.T) {
	src := strings.Replace(base, "channel: sms", "channel: line", 1)
	if p := problems(t, src, nil); len(p) != 1 {
		t.Errorf("line with the default channels: %v, want one problem", p)
	}
	if p := problems(t, src, append(DefaultChannels[:len(DefaultChannels):len(DefaultChannels)], "line")); p != nil {
		t.Errorf("line configured: %v", p)
	}
}

// Definitions built in Go (no Parse) validate too, without positions.
func TestValidateWithoutPositions(t *testing.T) {
	def := &Definition{ID: "x", Trigger: Trigger{Event: "E"}, Steps: []Step{{ID: "a", Send: &Send{Channel: "email"}}}}
	err := Validate(def, nil)
	want := "steps[0].send.template: required"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if err := Validate(nil, nil); !errors.Is(err, ErrInvalidJourney) {
		t.Fatalf("nil definition: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"90s", 90 * time.Second},
		{"30m", 30 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"1d", 24 * time.Hour},
		{"2w", 14 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{"1w1d1h1m1s", (8*24+1)*time.Hour + time.Minute + time.Second},
		{"250ms", 250 * time.Millisecond},
		{"1us", time.Microsecond},
		{"1µs", time.Microsecond},
		{"", 0},
		{"0s", 0},
		{"-1h", 0},
		{"+1h", 0},
		{"1", 0},
		{"d", 0},
		{"1y", 0},
		{"1 d", 0},
		{"1D", 0},
		{"1d ", 0},
		{"15300w", 0}, // more than 292 years
		{"9223372036854775807ns1ns", 0},
	} {
		got, err := ParseDuration(tc.in)
		if got != tc.want || (err == nil) != (tc.want > 0) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestFieldErrorString(t *testing.T) {
	for _, tc := range []struct {
		e    FieldError
		want string
	}{
		{FieldError{Path: "steps[2].send.channl", Line: 14, Column: 7, Reason: "unknown field"}, "steps[2].send.channl (line 14, col 7): unknown field"},
		{FieldError{Path: "id", Reason: "required"}, "id: required"},
		{FieldError{Line: 3, Reason: "syntax error: x"}, "line 3: syntax error: x"},
		{FieldError{Reason: "empty document"}, "empty document"},
	} {
		if got := tc.e.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
	err := &ValidationError{Errors: []FieldError{{Path: "a", Reason: "x"}, {Path: "b", Reason: "y"}}}
	if err.Error() != "a: x\nb: y" || !errors.Is(err, ErrInvalidJourney) {
		t.Errorf("Error() = %q", err.Error())
	}
}
