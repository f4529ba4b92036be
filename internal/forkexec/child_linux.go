package forkexec

import (
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The runtime's fork hooks, as syscall.forkAndExecInChild calls them:
// BeforeFork blocks signals and makes any stack growth in the child
// fatal; AfterFork undoes that in the parent; AfterForkInChild resets
// the runtime's signal handlers and restores the signal mask in the
// child. The runtime keeps them linkable for code outside the standard
// library (go.dev/issue/67401).

//go:linkname runtime_BeforeFork syscall.runtime_BeforeFork
func runtime_BeforeFork()

//go:linkname runtime_AfterFork syscall.runtime_AfterFork
func runtime_AfterFork()

//go:linkname runtime_AfterForkInChild syscall.runtime_AfterForkInChild
func runtime_AfterForkInChild()

// cloneFlags is what clone(2) gets: the child reports its exit with
// SIGCHLD, to the reaper like any other.
const cloneFlags = vforkFlags | uintptr(unix.SIGCHLD)

// atFDCWD is unix.AT_FDCWD (-100) as a system call argument.
const atFDCWD = ^uintptr(99)

// The child's steps, reported by index into steps.
const (
	_ = iota
	stepSetsid
	stepFiles
	stepOOMScoreAdj
	stepRlimit
	stepNice
	stepBounding
	stepNotBounding
	stepCapset
	stepKeepCaps
	stepSetgroups
	stepSetgid
	stepSetuid
	stepAmbient
	stepNoNewPrivs
	stepChdir
	stepExec
)

// forkChild forks, and in the child carries out p and execs; it returns
// in the parent only. It is syscall.forkAndExecInChild1 cut down to what
// tend uses, with the steps Go has no field for.
//
// With vfork the child runs in this very stack frame, on the parent's
// stack, until it execs: so the child never returns from it, and the
// parent returns at once and uses nothing but pid and err1, which it
// writes after the child is gone. Every variable is declared at the top,
// before the fork, in case one is moved to the heap; after the fork the
// child calls only the runtime's hook and nosplit system call wrappers
// (a stack check would now fail: runtime_BeforeFork saw to that), and
// allocates nothing. Not instrumented by the race detector or checkptr,
// as the child must not call into them.
//
//go:noinline
//go:norace
//go:nocheckptr
func forkChild(p *plan) (pid uintptr, err1 syscall.Errno) {
	var (
		r      report
		i      int
		c      uintptr
		fd     uintptr
		bit    uint64
		pipe   = p.pipe
		nextfd = p.nextfd
		groups uintptr
	)
	if len(p.groups) > 0 {
		groups = uintptr(unsafe.Pointer(&p.groups[0]))
	}

	runtime_BeforeFork()
	switch {
	case p.clone3 != nil:
		pid, err1 = rawVfork(unix.SYS_CLONE3, uintptr(unsafe.Pointer(p.clone3)), unsafe.Sizeof(*p.clone3), 0)
	case runtime.GOARCH == "s390x": // flags second
		pid, err1 = rawVfork(unix.SYS_CLONE, 0, cloneFlags, 0)
	default:
		pid, err1 = rawVfork(unix.SYS_CLONE, cloneFlags, 0, 0)
	}
	if err1 != 0 || pid != 0 {
		return // the parent, or no child
	}

	// The child, until execve.
	if p.setsid {
		if _, _, err1 = syscall.RawSyscall(unix.SYS_SETSID, 0, 0, 0); err1 != 0 {
			r.step = stepSetsid
			goto fail
		}
	}
	runtime_AfterForkInChild()

	// Files first, as syscall does them, but before the limits: a low
	// nofile would refuse the fds this moves them through. Pass 1 moves
	// the pipe and any fd[i] < i above every fd in use, so that pass 2,
	// dup'ing each onto i, overwrites none it still needs.
	if pipe < nextfd {
		if _, _, err1 = syscall.RawSyscall(unix.SYS_DUP3, uintptr(pipe), uintptr(nextfd), unix.O_CLOEXEC); err1 != 0 {
			r.step = stepFiles
			goto fail
		}
		pipe = nextfd
		nextfd++
	}
	for i = 0; i < len(p.fd); i++ {
		if p.fd[i] >= 0 && p.fd[i] < i {
			if nextfd == pipe {
				nextfd++
			}
			if _, _, err1 = syscall.RawSyscall(unix.SYS_DUP3, uintptr(p.fd[i]), uintptr(nextfd), unix.O_CLOEXEC); err1 != 0 {
				r.step = stepFiles
				goto fail
			}
			p.fd[i] = nextfd
			nextfd++
		}
	}
	for i = 0; i < len(p.fd); i++ {
		if p.fd[i] < 0 {
			// Closed in the child, as os/exec's nil ExtraFiles. No
			// source is there any more: a later slot's was moved above
			// every slot in pass 1, an earlier slot's is done.
			syscall.RawSyscall(unix.SYS_CLOSE, uintptr(i), 0, 0)
			continue
		}
		if p.fd[i] == i {
			// dup3(i, i) is an error, and dup2 would keep close-on-exec.
			_, _, err1 = syscall.RawSyscall(unix.SYS_FCNTL, uintptr(i), unix.F_SETFD, 0)
		} else {
			_, _, err1 = syscall.RawSyscall(unix.SYS_DUP3, uintptr(p.fd[i]), uintptr(i), 0)
		}
		if err1 != 0 {
			r.step = stepFiles
			goto fail
		}
	}

	// Before the user changes: lowering it takes CAP_SYS_RESOURCE, and
	// the file is root's once the uid is not. Before the limits: it
	// takes an fd. vfork or not, the value is the child's own (the
	// kernel writes it for every process sharing the memory, but not
	// through a vfork).
	if p.oomPath != nil {
		fd, _, err1 = syscall.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(p.oomPath)),
			unix.O_WRONLY|unix.O_CLOEXEC, 0, 0, 0)
		if err1 == 0 {
			_, _, err1 = syscall.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p.oomValue[0])), uintptr(len(p.oomValue)))
			syscall.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
		}
		if err1 != 0 {
			r.step = stepOOMScoreAdj
			goto fail
		}
	}

	for i = 0; i < len(p.rlimits); i++ {
		_, _, err1 = syscall.RawSyscall6(unix.SYS_PRLIMIT64, 0, p.rlimits[i].resource,
			uintptr(unsafe.Pointer(&p.rlimits[i].lim)), 0, 0, 0)
		if err1 != 0 {
			r.step, r.index = stepRlimit, uint32(i)
			goto fail
		}
	}

	// The calling thread's nice value: the child's only thread, and so
	// the program's first.
	if p.setNice {
		if _, _, err1 = syscall.RawSyscall(unix.SYS_SETPRIORITY, unix.PRIO_PROCESS, 0, uintptr(p.nice)); err1 != 0 {
			r.step = stepNice
			goto fail
		}
	}

	if p.umask >= 0 {
		syscall.RawSyscall(unix.SYS_UMASK, uintptr(p.umask), 0, 0)
	}

	// The bounding set, while the child still has tend's CAP_SETPCAP.
	// PR_CAPBSET_READ says EINVAL past the kernel's last capability.
	if p.bounding {
		for c = 0; c < 64; c++ {
			bit = 1 << c
			fd, _, err1 = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_READ, c, 0, 0, 0, 0)
			if err1 == unix.EINVAL {
				break
			}
			if err1 != 0 {
				r.step, r.index = stepBounding, uint32(c)
				goto fail
			}
			if p.keep&bit != 0 {
				if fd != 1 {
					err1 = unix.EPERM
					r.step, r.index = stepNotBounding, uint32(c)
					goto fail
				}
				continue
			}
			if fd == 1 {
				if _, _, err1 = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, c, 0, 0, 0, 0); err1 != 0 {
					r.step, r.index = stepBounding, uint32(c)
					goto fail
				}
			}
		}
		if c < 64 && p.keep>>c != 0 { // one the kernel does not know
			for p.keep&(1<<c) == 0 {
				c++
			}
			err1 = unix.EINVAL
			r.step, r.index = stepNotBounding, uint32(c)
			goto fail
		}
		// A root program's permitted set at exec is the bounding set
		// plus the inheritable set: cut that too (which takes any
		// ambient capability outside the list with it).
		if _, _, err1 = syscall.RawSyscall(unix.SYS_CAPGET, uintptr(unsafe.Pointer(&p.caps.hdr)), uintptr(unsafe.Pointer(&p.caps.data[0])), 0); err1 != 0 {
			r.step = stepCapset
			goto fail
		}
		if p.caps.data[0].Inheritable&^uint32(p.keep) != 0 || p.caps.data[1].Inheritable&^uint32(p.keep>>32) != 0 {
			p.caps.data[0].Inheritable &= uint32(p.keep)
			p.caps.data[1].Inheritable &= uint32(p.keep >> 32)
			if _, _, err1 = syscall.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&p.caps.hdr)), uintptr(unsafe.Pointer(&p.caps.data[0])), 0); err1 != 0 {
				r.step = stepCapset
				goto fail
			}
		}
	}

	// Keep the permitted set across setuid, for the ambient set.
	if p.ambient != 0 {
		if _, _, err1 = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0, 0, 0, 0); err1 != 0 {
			r.step = stepKeepCaps
			goto fail
		}
	}

	// The user. Raw setuid changes this thread only, which is the whole
	// child.
	if p.cred {
		if p.setgroups {
			if _, _, err1 = syscall.RawSyscall(sysSetgroups, uintptr(len(p.groups)), groups, 0); err1 != 0 {
				r.step = stepSetgroups
				goto fail
			}
		}
		if _, _, err1 = syscall.RawSyscall(sysSetgid, p.gid, 0, 0); err1 != 0 {
			r.step = stepSetgid
			goto fail
		}
		if _, _, err1 = syscall.RawSyscall(sysSetuid, p.uid, 0, 0); err1 != 0 {
			r.step = stepSetuid
			goto fail
		}
	}

	// Ambient: each must be permitted (kept from tend) and inheritable
	// (added here) before it can be raised; exec then makes the ambient
	// set the program's permitted and effective sets.
	if p.ambient != 0 {
		if _, _, err1 = syscall.RawSyscall(unix.SYS_CAPGET, uintptr(unsafe.Pointer(&p.caps.hdr)), uintptr(unsafe.Pointer(&p.caps.data[0])), 0); err1 != 0 {
			r.step = stepCapset
			goto fail
		}
		for c = 0; c < 64; c++ {
			if p.ambient&(1<<c) == 0 {
				continue
			}
			if p.caps.data[c>>5].Permitted&(1<<(c&31)) == 0 {
				err1 = unix.EPERM
				r.step, r.index = stepAmbient, uint32(c)
				goto fail
			}
			p.caps.data[c>>5].Inheritable |= 1 << (c & 31)
		}
		if _, _, err1 = syscall.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&p.caps.hdr)), uintptr(unsafe.Pointer(&p.caps.data[0])), 0); err1 != 0 {
			r.step = stepCapset
			goto fail
		}
		for c = 0; c < 64; c++ {
			if p.ambient&(1<<c) == 0 {
				continue
			}
			if _, _, err1 = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, c, 0, 0, 0); err1 != 0 {
				r.step, r.index = stepAmbient, uint32(c)
				goto fail
			}
		}
	}

	if p.noNewPrivs {
		if _, _, err1 = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); err1 != 0 {
			r.step = stepNoNewPrivs
			goto fail
		}
	}

	// As the program's user, as syscall does it.
	if p.dir != nil {
		if _, _, err1 = syscall.RawSyscall(unix.SYS_CHDIR, uintptr(unsafe.Pointer(p.dir)), 0, 0); err1 != 0 {
			r.step = stepChdir
			goto fail
		}
	}

	_, _, err1 = syscall.RawSyscall(unix.SYS_EXECVE,
		uintptr(unsafe.Pointer(p.argv0)),
		uintptr(unsafe.Pointer(&p.argv[0])),
		uintptr(unsafe.Pointer(&p.envv[0])))
	r.step = stepExec

fail:
	r.errno = uint32(err1)
	syscall.RawSyscall(unix.SYS_WRITE, uintptr(pipe), uintptr(unsafe.Pointer(&r)), unsafe.Sizeof(r))
	for {
		syscall.RawSyscall(unix.SYS_EXIT, 253, 0, 0)
	}
}
