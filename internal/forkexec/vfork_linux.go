//go:build (amd64 || arm64) && !purego

package forkexec

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// vforkFlags make the child share tend's memory and suspend the forking
// thread until the child execs or exits, as Go's own ForkExec does: no
// page tables are copied, and tend's pages are not made copy-on-write
// for the microseconds the child lives, which a fork of a Go process
// with its heap and stacks would cost on every start.
const vforkFlags = unix.CLONE_VM | unix.CLONE_VFORK

// rawVfork is in vfork_$GOARCH.s.
func rawVfork(trap, a1, a2, a3 uintptr) (r1 uintptr, err syscall.Errno)
