package realkafka

import (
	"os"
	"path/filepath"
	"testing"
)

func TestComplete(t *testing.T) {
	write := func(t *testing.T, path, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		manifest string // "" writes none
		jars     []string
		want     bool
	}{
		{"every listed jar present", "a.jar\nb.jar\n", []string{"a.jar", "b.jar"}, true},
		{"no manifest: interrupted fetch", "", []string{"a.jar"}, false},
		{"listed jar missing", "a.jar\nb.jar\n", []string{"a.jar"}, false},
		{"empty manifest", "\n", []string{"a.jar"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, j := range tc.jars {
				write(t, filepath.Join(dir, "libs", j), "jar")
			}
			if tc.manifest != "" {
				write(t, filepath.Join(dir, manifestName), tc.manifest)
			}
			if got := complete(dir); got != tc.want {
				t.Errorf("complete = %v, want %v", got, tc.want)
			}
		})
	}
}

// A complete cache is used as it is: no Maven run (none is on PATH here).
func TestLibDirReusesCache(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "kafka-"+Version)
	if err := os.MkdirAll(filepath.Join(dir, "libs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "libs", "kafka.jar"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, manifestName), []byte("kafka.jar\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	got, err := libDir(t.Context(), root)
	if err != nil {
		t.Fatalf("libDir with a complete cache: %v", err)
	}
	if want := filepath.Join(dir, "libs"); got != want {
		t.Errorf("libDir = %s, want %s", got, want)
	}
}
