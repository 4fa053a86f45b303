//go:build !linux

package realkafka

import (
	"os"
	"os/exec"
	"syscall"
)

// isolate would give the broker its own process group; outside Linux the
// broker stays in ours and Stop signals the JVM alone.
func isolate(cmd *exec.Cmd) {}

// signalGroup sends sig to the broker process.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	if sig == syscall.SIGKILL {
		return p.Kill()
	}
	return p.Signal(sig)
}
