//go:build (!amd64 && !arm64) || purego

package forkexec

import "syscall"

// vforkFlags: without the assembly of vfork_$GOARCH.s (another
// architecture, or -tags purego) the child is a plain fork, a copy of
// tend's memory, on which it may return from the system call and go on
// in Go. Slower, the same in every other way.
const vforkFlags = 0

//go:nosplit
//go:norace
func rawVfork(trap, a1, a2, a3 uintptr) (uintptr, syscall.Errno) {
	r1, _, err := syscall.RawSyscall6(trap, a1, a2, a3, 0, 0, 0)
	return r1, err
}
