package journey

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // Error() lines
	}{
		{
			name: "unknown field with a suggestion",
			src: `id: x
trigger: {event: E}
steps:
  - id: a
    send:
      channl: email
      template: t
`,
			want: []string{`steps[0].send.channl (line 6, col 7): unknown field; did you mean "channel"?`},
		},
		{
			name: "camel case",
			src:  "id: x\ntrigger: {event: E, maxInstances: 3}\nsteps: []\n",
			want: []string{`trigger.maxInstances (line 2, col 21): unknown field; did you mean "max_instances"?`},
		},
		{
			name: "unknown field without a near one",
			src:  "id: x\ntrigger: {event: E}\nowner: me\nsteps: []\n",
			want: []string{`owner (line 3, col 1): unknown field; want one of id, name, description, trigger, state, exit, goal, policies, steps`},
		},
		{
			name: "wrong scalar types",
			src: `id: x
trigger:
  event: E
  max_instances: many
policies:
  max_events_per_minute: 1.5
exit:
  - {event: E, any_key: 1}
steps: []
`,
			want: []string{
				`trigger.max_instances (line 4, col 18): want an integer, got "many"`,
				`policies.max_events_per_minute (line 6, col 26): want an integer, got 1.5`,
				`exit[0].any_key (line 8, col 25): want true or false, got 1`,
			},
		},
		{
			name: "wrong shapes",
			src:  "id: [x]\ntrigger: E\nsteps: {a: 1}\nstate: [1]\n",
			want: []string{
				`id (line 1, col 5): want a string, got a list`,
				`trigger (line 2, col 10): want a mapping, got "E"`,
				`steps (line 3, col 8): want a list, got a mapping`,
				`state[0] (line 4, col 9): want a mapping, got 1`,
			},
		},
		{
			name: "duplicate keys",
			src:  "id: x\nid: y\ntrigger: {event: E}\nsteps: [{id: a, send: {channel: email, template: t, payload: {a: x, a: y}}}]\n",
			want: []string{
				`id (line 2, col 1): duplicate key (first on line 1)`,
				`steps[0].send.payload.a (line 4, col 69): duplicate key (first on line 4)`,
			},
		},
		{
			name: "quoted map key path",
			src:  "id: x\ntrigger: {event: E}\nsteps: [{id: a, send: {payload: {'a.b': [1]}}}]\n",
			want: []string{`steps[0].send.payload["a.b"] (line 3, col 41): want a string, got a list`},
		},
		{name: "not a mapping", src: "[1, 2]\n", want: []string{`line 1, col 1: want a mapping, got a list`}},
		{name: "empty", src: "", want: []string{"empty document"}},
		{name: "only a comment", src: "# nothing\n", want: []string{"empty document"}},
		{name: "syntax", src: "id: x\ntrigger: {event: E\n", want: []string{"line 1: syntax error: did not find expected ',' or '}'"}},
		{name: "two documents", src: "id: x\n---\nid: y\n", want: []string{"line 2, col 1: more than one YAML document; want one journey per file"}},
		{name: "non-string key", src: "id: x\n[a]: 1\n", want: []string{"line 2, col 1: want a string key, got a list"}},
		{name: "merge of a scalar", src: "id: x\ntrigger: {<<: 1, event: E}\n", want: []string{"trigger (line 2, col 15): << wants a mapping or a list of mappings, got 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def, err := Parse([]byte(tc.src))
			if def != nil || !errors.Is(err, ErrInvalidJourney) {
				t.Fatalf("Parse = %v, %v; want a nil definition and an invalid journey", def, err)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	def, err := Parse([]byte(`
id: x
trigger:
  event: E
  max_instances: 0x10
  when: true
policies: {max_events_per_minute: 1_000}
exit:
  - event: E
    when:
    any_key: true
steps:
  - id: a
    send:
      channel: email
      template: 42
      payload: {n: "1", m: state.m}
  - id: done
    exit:
`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Definition{
		ID:       "x",
		Trigger:  Trigger{Event: "E", MaxInstances: 16, When: "true"},
		Policies: Policies{MaxEventsPerMinute: 1000},
		Exit:     []ExitRule{{Event: "E", AnyKey: true}},
		Steps: []Step{
			{ID: "a", Send: &Send{Channel: "email", Template: "42", Payload: map[string]string{"n": "1", "m": "state.m"}}},
			{ID: "done", Exit: &ExitStep{}}, // "exit:" with nothing is an exit step
		},
	}
	def.pos = nil
	if !reflect.DeepEqual(def, want) {
		t.Errorf("got  %+v\nwant %+v", def, want)
	}
}

// JSON is YAML: the same definition in both decodes the same.
func TestParseJSON(t *testing.T) {
	fromJSON, err := Parse([]byte("{\n\t\"id\": \"x\",\n\t\"trigger\": {\"event\": \"E\", \"max_instances\": 2},\n\t\"steps\": [{\"id\": \"a\", \"delay\": {\"for\": \"1d\"}}, {\"id\": \"b\", \"exit\": {}}]\n}"))
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := Parse([]byte("id: x\ntrigger:\n  event: E\n  max_instances: 2\nsteps:\n  - id: a\n    delay: {for: 1d}\n  - id: b\n    exit: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fromJSON.pos["steps[1].exit"]; got != (position{4, 69}) {
		t.Errorf("JSON position of steps[1].exit: %v", got)
	}
	fromJSON.pos, fromYAML.pos = nil, nil
	if !reflect.DeepEqual(fromJSON, fromYAML) {
		t.Errorf("JSON %+v\nYAML %+v", fromJSON, fromYAML)
	}
	_, err = Parse([]byte(`{"id": "x", "trigger": {"event": "E", "max_instances": "2"}}`))
	if err == nil || !strings.Contains(err.Error(), `trigger.max_instances (line 1, col 56): want an integer, got "2"`) {
		t.Errorf("a quoted number in JSON: %v", err)
	}
}

// Anchors, aliases and merge keys let authors share parts; a mapping's
// own keys override merged ones.
func TestParseMerge(t *testing.T) {
	_, err := Parse([]byte(`
id: x
trigger: {event: E}
x-send: &email {channel: email, template: base, deadline: 1h}
steps:
  - id: a
    send:
      <<: *email
      template: first
  - id: b
    send: *email
`))
	if err == nil || !strings.Contains(err.Error(), "x-send (line 4, col 1): unknown field") {
		t.Fatalf("an unknown top-level key holding the anchor: %v", err)
	}
	def, err := Parse([]byte(`
id: x
trigger: {event: E}
steps:
  - id: a
    send: &email {channel: email, template: base, deadline: 1h}
  - id: b
    send:
      <<: [{template: second}, *email]
      channel: sms
`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := *def.Steps[1].Send, (Send{Channel: "sms", Template: "second", Deadline: "1h"}); !reflect.DeepEqual(got, want) {
		t.Errorf("merged %+v, want %+v", got, want)
	}
}

// Aliases can make a small document expand to millions of values: Parse
// stops at maxNodes (a count, so the bound holds on any machine).
func TestParseAliasBomb(t *testing.T) {
	src := "id: x\ntrigger: {event: E}\nsteps:\n" +
		"  - {id: a, branch: {cases: &c [&k {when: 'true', next: exit}" + strings.Repeat(", *k", 2000) + "]}}\n" +
		"  - &s {id: b, branch: {cases: *c}}\n" +
		strings.Repeat("  - *s\n", 2000)
	_, err := Parse([]byte(src))
	if err == nil || !strings.Contains(err.Error(), "more than 100000 values (aliases expanded); the definition is too large") {
		t.Fatalf("err = %v", err)
	}
	// An alias of its own anchor decodes no deeper than the format.
	if _, err := Parse([]byte("id: x\nsteps: &s [*s]\n")); err == nil {
		t.Error("a self-referencing alias parsed")
	}
}

func TestParseTooBig(t *testing.T) {
	_, err := Parse([]byte("id: x\ndescription: " + strings.Repeat("a", MaxDefinitionSize)))
	if err == nil || !strings.Contains(err.Error(), "more than the 1048576 allowed") {
		t.Fatalf("err = %v", err)
	}
}

// Parse keeps where each field was, so that Validate can say where a
// semantic problem is.
func TestParsePositions(t *testing.T) {
	def, err := Parse([]byte("id: x\ntrigger:\n  event: E\nsteps:\n  - id: a\n    send: {channel: email}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]position{
		"":                      {1, 1},
		"trigger.event":         {3, 10},
		"steps[0]":              {5, 5},
		"steps[0].send.channel": {6, 21},
		"steps[0].send.locale":  {6, 11}, // absent: its parent's
		"policies.time_zone":    {1, 1},  // absent, and so is its parent
	} {
		if got := def.pos.at(path); got != want {
			t.Errorf("at(%q) = %v, want %v", path, got, want)
		}
	}
	err = Validate(def, nil)
	if err == nil || err.Error() != "steps[0].send.template (line 6, col 11): required" {
		t.Errorf("Validate: %v", err)
	}
}

func TestParentPath(t *testing.T) {
	for in, want := range map[string]string{
		"steps[2].send.channel":        "steps[2].send",
		"steps[2].send":                "steps[2]",
		"steps[2]":                     "steps",
		"steps":                        "",
		`steps[0].send.payload["a.b"]`: "steps[0].send.payload",
		`x["a]["]`:                     "x",
		"":                             "",
	} {
		if got := parentPath(in); got != want {
			t.Errorf("parentPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseValidate: no input makes Parse, Validate or Compile panic or
// hang.
func FuzzParseValidate(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, name := range files {
			if strings.HasSuffix(name, ".errors") {
				continue
			}
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(base))
	f.Fuzz(func(t *testing.T, data []byte) {
		def, err := Parse(data)
		if err != nil {
			if def != nil || !errors.Is(err, ErrInvalidJourney) {
				t.Fatalf("Parse: %v, %v", def, err)
			}
			return
		}
		verr := Validate(def, nil)
		j, cerr := Compile(def, 1, nil)
		if (verr == nil) != (cerr == nil) {
			t.Fatalf("Validate: %v; Compile: %v", verr, cerr)
		}
		if cerr != nil {
			if !errors.Is(cerr, ErrInvalidJourney) {
				t.Fatalf("Compile: %v", cerr)
			}
			return
		}
		for i := range j.Def.Steps {
			if _, k, ok := j.Step(j.Def.Steps[i].ID); !ok || k != i {
				t.Fatalf("Step(%q) = %d, %v", j.Def.Steps[i].ID, k, ok)
			}
			j.NextOf(i)
		}
	})
}
