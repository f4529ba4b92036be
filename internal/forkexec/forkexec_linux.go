// Package forkexec starts a process with what Go's syscall.ForkExec
// cannot set between fork and exec: resource limits, no_new_privs, the
// capability bounding set, ambient capabilities for a user other than
// root, the OOM score adjustment, the nice value and the umask. Each is
// set by the child itself, after the fork and before the exec, so the
// program never runs one instruction without them; a step the kernel
// refuses keeps the program from running and comes back as an *Error
// naming the step.
//
// # Why a fork of our own
//
// Of these attributes, no_new_privs, the bounding set and the nice value
// belong to a thread and are inherited by fork, so a goroutine locked to
// a fresh thread could set them and call syscall.ForkExec. Resource
// limits, oom_score_adj and the umask belong to the process: the only
// place to set them for the child alone is the child. Setting them on
// tend around the fork is wrong twice over: a hard limit lowered cannot
// be raised back without CAP_SYS_RESOURCE (which Docker does not grant),
// and every other goroutine of tend runs under the program's limits
// meanwhile (its nofile or nproc can make tend's own accept or thread
// start fail). Re-executing tend as a helper that sets them and execs
// the program costs a second exec and a Go runtime start on every start
// (docs/supervisor.md has the measurement). So the child runs code of
// ours, as Go's own ForkExec does: the runtime's fork hooks (which the
// runtime keeps linkable on purpose, go.dev/issue/67401), clone with
// CLONE_VM|CLONE_VFORK through a few lines of assembly (vfork_*.s), then
// raw system calls only, with no allocation, no stack growth and no
// lock, until execve.
//
// Only the supervisor's spawner (supervisor/spawn_linux.go) calls Start,
// for a program that asks for one of these attributes; every other
// process is started by syscall.ForkExec.
package forkexec

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"tend/reaper"
)

// Attr is how to start a process. The zero value starts it as tend
// runs, with fds 0, 1 and 2 set to Files (all zero: tend's stdin).
type Attr struct {
	// Dir is the working directory, entered as the new user; "" is
	// tend's.
	Dir string
	// Files become fds 0, 1 and 2, and Extra fds 3, 4, …, as os/exec's
	// ExtraFiles (^uintptr(0): that fd is closed in the child); every
	// other fd of tend's is close-on-exec.
	Files [3]uintptr
	Extra []uintptr
	// Setsid makes the process the leader of a new session and process
	// group.
	Setsid bool
	// Umask is set when it is not nil.
	Umask *int
	// Cred runs the process as another user; nil keeps tend's.
	Cred *syscall.Credential
	// Rlimits are set in order, before the user changes, so that a hard
	// limit may be raised while the child still holds tend's
	// CAP_SYS_RESOURCE, and RLIMIT_NPROC already applies when setuid
	// counts the new user's processes.
	Rlimits []Rlimit
	// Nice, when not nil, is the nice value, -20 to 19, set after the
	// limits (RLIMIT_NICE may be what allows it).
	Nice *int
	// OOMScoreAdj, when not nil, is written to /proc/self/oom_score_adj,
	// -1000 to 1000, before the user changes (the file then belongs to
	// root).
	OOMScoreAdj *int
	// Bounding, when not nil, is the capability bounding set: every
	// other capability is dropped from it and from the inheritable set,
	// so that a root program gets these at exec and no more. Each must be
	// in the bounding set already. Dropping takes CAP_SETPCAP.
	Bounding []int
	// Ambient are raised as ambient capabilities once the user has
	// changed (the permitted set is kept across setuid with
	// PR_SET_KEEPCAPS): how a program that is not root gets them at
	// exec. Each must be in tend's permitted set.
	Ambient []int
	// NoNewPrivs sets no_new_privs: neither setuid bits nor file
	// capabilities grant anything at exec, for good.
	NoNewPrivs bool
	// UseCgroupFD starts the process in the cgroup v2 directory open at
	// CgroupFD (clone3 with CLONE_INTO_CGROUP).
	UseCgroupFD bool
	CgroupFD    int
}

// Rlimit is one resource limit: Resource is unix.RLIMIT_*, Cur and Max
// the soft and hard limits, unix.RLIM_INFINITY for none.
type Rlimit struct {
	Resource int
	Cur, Max uint64
}

// Step names what the child was doing when it failed.
type Step string

// The steps, in the order the child takes them.
const (
	StepClone       Step = "clone"
	StepSetsid      Step = "setsid"
	StepFiles       Step = "dup"
	StepOOMScoreAdj Step = "oom_score_adj"
	StepRlimit      Step = "setrlimit"
	StepNice        Step = "setpriority"
	StepBounding    Step = "bounding set"
	StepNotBounding Step = "not in the bounding set"
	StepCapset      Step = "capset"
	StepKeepCaps    Step = "keepcaps"
	StepSetgroups   Step = "setgroups"
	StepSetgid      Step = "setgid"
	StepSetuid      Step = "setuid"
	StepAmbient     Step = "ambient"
	StepNoNewPrivs  Step = "no_new_privs"
	StepChdir       Step = "chdir"
	StepExec        Step = "execve"
)

// steps maps the child's report to a Step; index 0 is unused.
var steps = [...]Step{"", StepSetsid, StepFiles, StepOOMScoreAdj, StepRlimit, StepNice,
	StepBounding, StepNotBounding, StepCapset, StepKeepCaps, StepSetgroups, StepSetgid,
	StepSetuid, StepAmbient, StepNoNewPrivs, StepChdir, StepExec}

// Error is a step that failed: the process did not run the program.
type Error struct {
	Step Step
	// Index is, for StepRlimit, the index of the limit in Attr.Rlimits;
	// for StepBounding, StepNotBounding and StepAmbient, the capability.
	Index int
	Err   syscall.Errno
}

func (e *Error) Error() string {
	switch e.Step {
	case StepRlimit:
		return fmt.Sprintf("setrlimit #%d: %v", e.Index, e.Err)
	case StepBounding:
		return fmt.Sprintf("drop capability %d from the bounding set: %v", e.Index, e.Err)
	case StepNotBounding:
		return fmt.Sprintf("capability %d is not in the bounding set", e.Index)
	case StepAmbient:
		return fmt.Sprintf("raise ambient capability %d: %v", e.Index, e.Err)
	}
	return string(e.Step) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Start starts the program at path (no PATH lookup) with argv and env,
// as a says, and returns its pid once it has exec'd. A child that fails
// before the exec is reaped here, and its *Error returned.
func Start(path string, argv, env []string, a *Attr) (int, error) {
	p, err := newPlan(path, argv, env, a)
	if err != nil {
		return 0, err
	}
	// The fork lock keeps an fd that another goroutine opens without
	// close-on-exec from leaking into the child, as in syscall.forkExec.
	syscall.ForkLock.Lock()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		syscall.ForkLock.Unlock()
		return 0, fmt.Errorf("status pipe: %w", err)
	}
	p.pipe = fds[1]
	// Above every fd the child is given and every slot it fills: what
	// is moved there is overwritten by nothing.
	p.nextfd = max(slices.Max(p.fd), len(p.fd)-1) + 1
	pid, errno := forkChild(p)
	runtime_AfterFork()
	syscall.ForkLock.Unlock()
	unix.Close(fds[1])
	if errno != 0 {
		unix.Close(fds[0])
		return 0, &Error{Step: StepClone, Err: errno}
	}
	// The pipe is close-on-exec: nothing to read means the exec
	// succeeded. With vfork the child is already past it.
	var r report
	n, err := readReport(fds[0], &r)
	unix.Close(fds[0])
	runtime.KeepAlive(p)
	if n == 0 {
		// Nothing read: the exec succeeded (EOF), or the read failed and
		// the child may well have exec'd. Either way it is the program
		// now, and its exit is the one reaper's to take: never wait on
		// it here.
		return int(pid), nil
	}
	reaper.Collect(int(pid)) // it exits 253 right after the report
	if n != int(unsafe.Sizeof(r)) || r.step == 0 || int(r.step) >= len(steps) {
		return 0, &Error{Step: StepExec, Err: unix.EPIPE}
	}
	return 0, &Error{Step: steps[r.step], Index: int(r.index), Err: syscall.Errno(r.errno)}
}

func readReport(fd int, r *report) (int, error) {
	buf := unsafe.Slice((*byte)(unsafe.Pointer(r)), unsafe.Sizeof(*r))
	for {
		n, err := unix.Read(fd, buf)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// plan is everything the child needs, prepared by the parent: the child
// may not allocate, so every pointer it follows and every byte it
// writes is here. With vfork the child writes into this very memory
// (fd, pipe, caps); the parent reads none of it afterwards.
type plan struct {
	argv0      *byte
	argv, envv []*byte
	dir        *byte

	fd     []int // what becomes fd 0, 1, 2, …; -1: closed
	pipe   int
	nextfd int
	setsid bool
	umask  int // -1: unchanged

	rlimits  []rlimit
	setNice  bool
	nice     int
	oomPath  *byte
	oomValue []byte

	bounding bool
	keep     uint64 // the bounding set to keep, a bit per capability
	ambient  uint64
	caps     caps

	cred       bool
	uid, gid   uintptr
	setgroups  bool
	groups     []uint32
	noNewPrivs bool

	clone3 *cloneArgs
}

type rlimit struct {
	resource uintptr
	lim      unix.Rlimit
}

// caps is capget's and capset's argument, version 3 (two 32-bit words).
type caps struct {
	hdr  unix.CapUserHeader
	data [2]unix.CapUserData
}

// cloneArgs is struct clone_args of clone3(2), up to the cgroup field.
type cloneArgs struct {
	flags      uint64
	pidFD      uint64
	childTID   uint64
	parentTID  uint64
	exitSignal uint64
	stack      uint64
	stackSize  uint64
	tls        uint64
	setTID     uint64
	setTIDSize uint64
	cgroup     uint64
}

// report is what a child that failed writes to the status pipe.
type report struct {
	step  uint32 // an index into steps
	index uint32
	errno uint32
}

func newPlan(path string, argv, env []string, a *Attr) (*plan, error) {
	p := &plan{setsid: a.Setsid, umask: -1, noNewPrivs: a.NoNewPrivs}
	var err error
	if p.argv0, err = syscall.BytePtrFromString(path); err != nil {
		return nil, err
	}
	if p.argv, err = syscall.SlicePtrFromStrings(argv); err != nil {
		return nil, err
	}
	if p.envv, err = syscall.SlicePtrFromStrings(env); err != nil {
		return nil, err
	}
	if a.Dir != "" {
		if p.dir, err = syscall.BytePtrFromString(a.Dir); err != nil {
			return nil, err
		}
	}
	p.fd = make([]int, 0, len(a.Files)+len(a.Extra))
	for _, f := range a.Files {
		p.fd = append(p.fd, int(f))
	}
	for _, f := range a.Extra {
		if f == ^uintptr(0) {
			p.fd = append(p.fd, -1)
		} else {
			p.fd = append(p.fd, int(f))
		}
	}
	if a.Umask != nil {
		p.umask = *a.Umask & 0o777
	}
	for _, r := range a.Rlimits {
		p.rlimits = append(p.rlimits, rlimit{uintptr(r.Resource), unix.Rlimit{Cur: r.Cur, Max: r.Max}})
	}
	if a.Nice != nil {
		p.setNice, p.nice = true, *a.Nice
	}
	if a.OOMScoreAdj != nil {
		p.oomPath, _ = syscall.BytePtrFromString("/proc/self/oom_score_adj")
		p.oomValue = []byte(strconv.Itoa(*a.OOMScoreAdj))
	}
	if a.Bounding != nil {
		p.bounding = true
		if p.keep, err = capMask(a.Bounding); err != nil {
			return nil, err
		}
	}
	if p.ambient, err = capMask(a.Ambient); err != nil {
		return nil, err
	}
	p.caps.hdr.Version = unix.LINUX_CAPABILITY_VERSION_3
	if c := a.Cred; c != nil {
		p.cred, p.uid, p.gid = true, uintptr(c.Uid), uintptr(c.Gid)
		p.setgroups = !c.NoSetGroups
		p.groups = c.Groups
	}
	if a.UseCgroupFD {
		p.clone3 = &cloneArgs{
			flags:      vforkFlags | unix.CLONE_INTO_CGROUP,
			exitSignal: uint64(unix.SIGCHLD),
			cgroup:     uint64(a.CgroupFD),
		}
	}
	return p, nil
}

// capMask is caps as a bit mask.
func capMask(caps []int) (uint64, error) {
	var m uint64
	for _, c := range caps {
		if c < 0 || c > 63 {
			return 0, fmt.Errorf("capability %d out of range", c)
		}
		m |= 1 << c
	}
	return m, nil
}
