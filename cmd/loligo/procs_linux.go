package main

import "syscall"

// sysProcAttr puts a child in its own process group, so a terminal's
// Ctrl-C reaches only the supervisor, which stops the children in order
// (OSDs first). Pdeathsig sends the child SIGTERM if the supervisor is
// killed without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
