package realkafka

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
)

// minJava is the oldest Java release that runs a Kafka 4.x broker.
const minJava = 17

// findJava returns the java launcher to run the broker with: the one in
// JAVA_HOME when that is set (as Kafka's own scripts do), else the one on
// PATH. It fails when there is none or it is older than minJava.
func findJava(ctx context.Context) (string, error) {
	java := ""
	if home := os.Getenv("JAVA_HOME"); home != "" {
		java = filepath.Join(home, "bin", "java")
		if _, err := os.Stat(java); err != nil {
			return "", fmt.Errorf("JAVA_HOME is %s but it has no bin/java (install a JDK %d or newer, or fix JAVA_HOME): %w", home, minJava, err)
		}
	} else {
		p, err := exec.LookPath("java")
		if err != nil {
			return "", fmt.Errorf("java is not on PATH and JAVA_HOME is unset; the real Kafka broker needs a JDK %d or newer: %w", minJava, err)
		}
		java = p
	}
	out, err := exec.CommandContext(ctx, java, "-version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("run %s -version: %w\n%s", java, err, out)
	}
	major, err := javaMajor(string(out))
	if err != nil {
		return "", fmt.Errorf("%s: %w", java, err)
	}
	if major < minJava {
		return "", fmt.Errorf("%s is Java %d; Kafka %s needs Java %d or newer", java, major, Version, minJava)
	}
	return java, nil
}

// versionRE matches the quoted version in `java -version` output:
// "17.0.15", "21", "1.8.0_392".
var versionRE = regexp.MustCompile(`version "(\d+)(?:\.(\d+))?`)

// javaMajor extracts the feature release from `java -version` output,
// mapping the old "1.x" scheme to x.
func javaMajor(versionOutput string) (int, error) {
	m := versionRE.FindStringSubmatch(versionOutput)
	if m == nil {
		return 0, fmt.Errorf("cannot read the Java version from %q", versionOutput)
	}
	major, _ := strconv.Atoi(m[1])
	if major == 1 && m[2] != "" {
		major, _ = strconv.Atoi(m[2])
	}
	return major, nil
}
