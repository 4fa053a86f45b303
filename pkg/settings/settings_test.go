package settings

import (
	"flag"
	"slices"
	"strings"
	"testing"
)

var list = []Setting{
	{Flag: "n", Env: "T_N", Default: "3", Usage: "a number"},
	{Flag: "on", Env: "T_ON", Usage: "a switch"},
	{Flag: "names", Env: "T_NAMES", Usage: "a list"},
}

func bind(t *testing.T, env map[string]string, args ...string) *Values {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	v := Bind(fs, func(k string) string { return env[k] }, list)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPrecedence(t *testing.T) {
	v := bind(t, nil)
	if n, _ := v.Int("n", 32); n != 3 {
		t.Errorf("default: n = %d, want 3", n)
	}
	v = bind(t, map[string]string{"T_N": "5"})
	if n, _ := v.Int("n", 32); n != 5 {
		t.Errorf("environment: n = %d, want 5", n)
	}
	v = bind(t, map[string]string{"T_N": "5"}, "-n=7")
	if n, _ := v.Int("n", 32); n != 7 {
		t.Errorf("flag over environment: n = %d, want 7", n)
	}
}

func TestParseErrorsNameTheFlag(t *testing.T) {
	v := bind(t, map[string]string{"T_N": "lots", "T_ON": "maybe"})
	if _, err := v.Int("n", 32); err == nil || !strings.Contains(err.Error(), `--n: "lots"`) {
		t.Errorf("Int error = %v", err)
	}
	if _, err := v.Bool("on"); err == nil || !strings.Contains(err.Error(), `--on: "maybe"`) {
		t.Errorf("Bool error = %v", err)
	}
	if _, err := bind(t, map[string]string{"T_N": "40000"}).Int("n", 16); err == nil {
		t.Error("Int accepted a value that overflows 16 bits")
	}
}

func TestList(t *testing.T) {
	v := bind(t, nil, "-names= a, ,b ,c")
	if got := v.List("names"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("List = %q", got)
	}
}

func TestMarkdown(t *testing.T) {
	md := Markdown(list)
	if !strings.Contains(md, "| `--n` | `T_N` | `3` | a number |") || !strings.Contains(md, "| `--on` | `T_ON` | (empty) | a switch |") {
		t.Errorf("markdown:\n%s", md)
	}
}
