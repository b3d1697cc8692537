package faulttest

import "syscall"

// childAttr makes the kernel kill a child when the test process dies, so a
// crashed or interrupted test run leaves no gateway or NATS node behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
