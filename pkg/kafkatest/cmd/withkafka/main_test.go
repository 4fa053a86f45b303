package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// asMain makes the test binary act as withkafka, so the tests run the real
// command, exit codes and all, without building it.
const asMain = "BECKON_WITHKAFKA_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// withkafka runs the command with env added to a copy of this process's
// environment (CI and JAVA_HOME cleared first) and returns its exit code and
// stderr.
func withkafka(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CI=") && !strings.HasPrefix(kv, "JAVA_HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, asMain+"=1")
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run withkafka: %v", err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// Without Java the broker cannot start: a developer's run skips (exit 0,
// command not run) and says why; CI's run and -require fail.
func TestWithoutJava(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("needs sh for the command")
	}
	noJava := []string{"PATH=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir()}
	for _, tc := range []struct {
		name     string
		env      []string
		flags    []string
		wantCode int
		wantMsg  string
	}{
		{"developer", nil, nil, 0, "skipping the real-broker suite: "},
		{"CI", []string{"CI=true"}, nil, 1, "required (CI=true or -require) but the broker did not start"},
		{"require flag", nil, []string{"-require"}, 1, "required (CI=true or -require) but the broker did not start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "ran")
			args := append(tc.flags, "--", sh, "-c", "echo > "+marker)
			code, stderr := withkafka(t, append(noJava, tc.env...), args...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.wantCode, stderr)
			}
			if !strings.Contains(stderr, tc.wantMsg) || !strings.Contains(stderr, "java") {
				t.Errorf("stderr does not say %q and name java as the reason:\n%s", tc.wantMsg, stderr)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("the command ran without a broker")
			}
		})
	}
}

func TestNoCommandIsUsageError(t *testing.T) {
	code, stderr := withkafka(t, nil, "-require")
	if code != 2 || !strings.Contains(stderr, "usage: withkafka") {
		t.Errorf("exit code %d, stderr:\n%s\nwant 2 and the usage", code, stderr)
	}
}

// With a broker, the command sees its address and withkafka exits with the
// command's code. Like realkafka's own test it starts a real broker, so it
// runs only when asked or in CI.
func TestRunsCommandAgainstBroker(t *testing.T) {
	if os.Getenv("BECKON_REALKAFKA_TEST") != "1" && os.Getenv("CI") != "true" {
		t.Skip("starts a real Kafka broker; set BECKON_REALKAFKA_TEST=1 to run it (CI=true always does)")
	}
	out := filepath.Join(t.TempDir(), "brokers")
	code, stderr := withkafka(t, []string{"CI=true"}, "--", "sh", "-c", `echo "$BECKON_TEST_BROKERS" > `+out+`; exit 3`)
	if code != 3 {
		t.Fatalf("exit code %d, want the command's 3; stderr:\n%s", code, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the command did not run: %v; stderr:\n%s", err, stderr)
	}
	if addr := strings.TrimSpace(string(got)); !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("command saw BECKON_TEST_BROKERS=%q, want the broker's 127.0.0.1 address", addr)
	}
}
