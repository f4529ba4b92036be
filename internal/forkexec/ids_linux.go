//go:build !386 && !arm

package forkexec

import "golang.org/x/sys/unix"

// The system calls that take 32-bit ids.
const (
	sysSetgroups = unix.SYS_SETGROUPS
	sysSetgid    = unix.SYS_SETGID
	sysSetuid    = unix.SYS_SETUID
)
