package realkafka

import "testing"

func TestJavaMajor(t *testing.T) {
	for _, tc := range []struct {
		out  string
		want int
	}{
		{`openjdk version "17.0.15" 2025-04-15`, 17},
		{`openjdk version "21" 2023-09-19`, 21},
		{`java version "1.8.0_392"`, 8},
		{`openjdk version "11.0.2" 2019-01-15 LTS`, 11},
	} {
		got, err := javaMajor(tc.out)
		if err != nil || got != tc.want {
			t.Errorf("javaMajor(%q) = %d, %v; want %d", tc.out, got, err, tc.want)
		}
	}
	if _, err := javaMajor("command not found"); err == nil {
		t.Error("javaMajor of output without a version: want an error")
	}
}
