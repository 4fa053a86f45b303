package kafkatest

import (
	"regexp"
	"strings"
	"testing"
)

func TestPrefix(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9-]+\.[0-9a-f]{8}\.$`)
	for _, name := range []string{"plain", "With_Underscore and space", "very long name " + strings.Repeat("x", 300)} {
		t.Run(name, func(t *testing.T) {
			a, b := Prefix(t), Prefix(t)
			if a == b {
				t.Errorf("two calls both gave %q", a)
			}
			for _, p := range []string{a, b} {
				if !valid.MatchString(p) || len(p) > maxPrefixName+10 {
					t.Errorf("Prefix = %q: want lower-case letters, digits and '-', a random suffix, a final '.', at most %d characters", p, maxPrefixName+10)
				}
			}
			if want := "testprefix-"; !strings.HasPrefix(a, want) {
				t.Errorf("Prefix = %q, want it to start with the test name %q", a, want)
			}
		})
	}
}
