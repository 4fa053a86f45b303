package realkafka

import (
	"os"
	"os/exec"
	"syscall"
)

// isolate puts the broker in its own process group, so signals aimed at
// the test run (Ctrl-C) leave its shutdown to Stop and Stop can signal the
// whole group, and asks the kernel to kill it if the thread that started it
// dies, so a crashed or timed-out test binary leaves no JVM behind.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group isolate created.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	return syscall.Kill(-p.Pid, sig)
}
