package settings

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Setting is one configurable value.
type Setting struct {
	// Flag is the flag name, without dashes.
	Flag string
	// Env is the environment variable that sets the flag's default.
	Env string
	// Default is used when neither the flag nor the variable is set.
	Default string
	// Usage says what the setting means.
	Usage string
}

// Values holds the parsed values of bound settings.
type Values struct {
	vals map[string]*string
}

// Bind adds one flag per setting to fs, its default read from getenv
// (os.Getenv when nil).
func Bind(fs *flag.FlagSet, getenv func(string) string, list []Setting) *Values {
	if getenv == nil {
		getenv = os.Getenv
	}
	v := &Values{vals: make(map[string]*string, len(list))}
	for _, s := range list {
		def := s.Default
		if e := getenv(s.Env); e != "" {
			def = e
		}
		v.vals[s.Flag] = fs.String(s.Flag, def, s.Usage+" ($"+s.Env+")")
	}
	return v
}

// String returns a setting's value, trimmed. It panics on a name that was
// never bound, which is a programming error.
func (v *Values) String(name string) string {
	return strings.TrimSpace(v.raw(name))
}

// Secret returns a setting's value untrimmed (passwords may end in spaces).
func (v *Values) Secret(name string) string { return v.raw(name) }

// Bool parses a boolean setting; empty is false.
func (v *Values) Bool(name string) (bool, error) {
	s := v.String(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("--%s: %q is not a boolean", name, s)
	}
	return b, nil
}

// Int parses an integer setting that must fit in bits; empty is 0.
func (v *Values) Int(name string, bits int) (int64, error) {
	s := v.String(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("--%s: %q is not a whole number of at most %d bits", name, s, bits)
	}
	return n, nil
}

// List splits a comma-separated setting, dropping empty items.
func (v *Values) List(name string) []string {
	var out []string
	for _, p := range strings.Split(v.String(name), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (v *Values) raw(name string) string {
	p, ok := v.vals[name]
	if !ok {
		panic("settings: flag " + name + " was not bound")
	}
	return *p
}

// Markdown renders settings as a table for docs/configuration.md.
func Markdown(list []Setting) string {
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
	for _, s := range list {
		def := "(empty)"
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", s.Flag, s.Env, def, s.Usage)
	}
	return b.String()
}

// Float parses a decimal setting; empty is 0.
func (v *Values) Float(name string) (float64, error) {
	s := v.String(name)
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("--%s: %q is not a number", name, s)
	}
	return f, nil
}
