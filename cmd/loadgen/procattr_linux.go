package main

import "syscall"

// childAttr makes the started server receive SIGTERM if loadgen dies
// without stopping it (killed, or a closed pipe on its output).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
