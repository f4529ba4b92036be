//go:build 386 || arm

package forkexec

import "golang.org/x/sys/unix"

// The system calls that take 32-bit ids: on 386 and arm the plain ones
// take 16 bits.
const (
	sysSetgroups = unix.SYS_SETGROUPS32
	sysSetgid    = unix.SYS_SETGID32
	sysSetuid    = unix.SYS_SETUID32
)
