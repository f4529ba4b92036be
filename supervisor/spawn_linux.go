package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"tend/cgroup"
	"tend/config"
	"tend/internal/execpath"
	"tend/internal/forkexec"
)

// Command is one process to start.
type Command struct {
	// Argv[0] is looked up in PATH unless it holds a slash.
	Argv []string
	// Env is the whole environment of the process; nil means tend's own.
	Env []string
	// Dir is the working directory; "" means tend's own.
	Dir string
	// Foreground hands the controlling terminal on fd 0 to the process's
	// group. Without it the process leads a session of its own.
	Foreground bool
	// Stdin, Stdout, Stderr become fds 0, 1, 2; nil means tend's own.
	Stdin, Stdout, Stderr *os.File
	// ExtraFiles become fds 3, 4, …; a nil entry is closed in the child
	// (as os/exec's ExtraFiles).
	ExtraFiles []*os.File
	// Umask is set in the child when >= 0.
	Umask int
	// Cred runs the process as another user when not nil.
	Cred *syscall.Credential
	// Privileges are set in the child between fork and exec.
	Privileges Privileges
	// Cgroup, when not nil, is the cgroup the process starts in: the
	// program's own (cgroups.go), placed by clone3 into it, or moved
	// there right after the fork where clone3 is refused.
	Cgroup placer
}

// Privileges are a program's resource limits and privileges (the keys
// of config.Program of the same names). They go to the program and to
// every process that runs for it (exec health checks, hooks): the zero
// value leaves tend's own.
type Privileges struct {
	Rlimits    []config.Rlimit
	NoNewPrivs bool
	// Capabilities, when not nil, is the process's bounding set, and
	// for a user other than root its ambient set too.
	Capabilities []config.Capability
	OOMScoreAdj  *int
	Nice         *int
}

// set reports whether pv sets anything: whether the process has to be
// started by internal/forkexec.
func (pv Privileges) set() bool {
	return len(pv.Rlimits) > 0 || pv.NoNewPrivs || pv.Capabilities != nil || pv.OOMScoreAdj != nil || pv.Nice != nil
}

// ExecError is a failure to start a program, with the exit code a shell
// would give it: 127 when it is not found, 126 when it is found but cannot
// be executed, or its working directory cannot be entered.
type ExecError struct {
	Path string
	Err  error
	// Dir: Path is the working directory, and entering it failed.
	Dir bool
}

func (e *ExecError) Error() string {
	if e.Dir {
		return fmt.Sprintf("directory %s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("exec %s: %v", e.Path, e.Err)
}

func (e *ExecError) Unwrap() error { return e.Err }

// Code is 127 for "not found", 126 for anything else that kept the
// program from running (permission, format, a directory, a working
// directory that is not there).
func (e *ExecError) Code() int {
	if !e.Dir && (errors.Is(e.Err, fs.ErrNotExist) || errors.Is(e.Err, unix.ENOENT)) {
		return 127
	}
	return 126
}

// spawn starts c in a process group of its own and returns its pid. It is
// the only place tend starts a process, and it never waits: the pid's exit
// arrives through the reaper, so the caller must record the pid's owner
// before it next drains.
//
// The child starts with the signal mask tend was started with (the Go
// runtime restores it between fork and exec) and with every signal tend
// catches reset to its default by exec. Only fds 0, 1 and 2, and
// ExtraFiles, are passed on from tend's side: everything tend opens is
// close-on-exec.
func spawn(c Command) (int, error) {
	if len(c.Argv) == 0 {
		return 0, &ExecError{Err: errors.New("empty command")}
	}
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	path, err := execpath.Look(c.Argv[0], execpath.Env(env, "PATH"))
	if err != nil {
		return 0, &ExecError{Path: c.Argv[0], Err: err}
	}
	// Only the main program takes the terminal (Foreground), and it has
	// no config, so no privileges.
	if c.Privileges.set() && !c.Foreground {
		return spawnPrivileged(path, env, c)
	}
	sys := &syscall.SysProcAttr{Setsid: true, Credential: c.Cred}
	if c.Foreground {
		// Setpgid + TIOCSPGRP in the child, with every signal blocked, so
		// the child's SIGTTOU cannot stop it while it takes the terminal.
		sys = &syscall.SysProcAttr{Foreground: true, Ctty: 0, Credential: c.Cred}
	}
	if c.Umask >= 0 {
		// The umask is the process's, and ForkExec has no field for it:
		// set it around the fork. Only this goroutine starts processes; a
		// file another goroutine creates in these microseconds gets the
		// program's umask, which only narrows its mode.
		old := syscall.Umask(c.Umask)
		defer syscall.Umask(old)
	}
	files := append([]uintptr{fdOr(c.Stdin, 0), fdOr(c.Stdout, 1), fdOr(c.Stderr, 2)}, extraFds(c.ExtraFiles)...)
	attr := &syscall.ProcAttr{
		Dir:   c.Dir,
		Env:   env,
		Files: files,
		Sys:   sys,
	}
	pid, err := place(c.Cgroup, sys, func() (int, error) { return syscall.ForkExec(path, c.Argv, attr) })
	if _, ok := errors.AsType[*cgroup.PlaceError](err); ok {
		return pid, err // started, outside its cgroup
	}
	if err != nil {
		// The child's chdir and its exec fail with the same errnos, and
		// ForkExec does not say which step it was: a working directory
		// that is not there, or is no directory, is named as the cause.
		if derr := enterable(c.Dir); derr != nil {
			return 0, &ExecError{Path: c.Dir, Err: derr, Dir: true}
		}
		return 0, &ExecError{Path: path, Err: err}
	}
	return pid, nil
}

// spawnPrivileged is spawn for a Command with Privileges: Go's ForkExec
// has no field for them, and they must be set in the child between fork
// and exec, never on the running program, so internal/forkexec (which
// says why it is built as it is) forks and sets them. Everything else
// is as spawn's ForkExec would do it, but for the nofile limit: Go
// raises tend's own soft limit at start and puts the old one back only
// in the children it forks itself, and the old one is Go's secret. So a
// program started here inherits tend's raised one unless rlimits names
// nofile (docs/supervisor.md).
func spawnPrivileged(path string, env []string, c Command) (int, error) {
	pv := c.Privileges
	a := &forkexec.Attr{
		Dir:         c.Dir,
		Files:       [3]uintptr{fdOr(c.Stdin, 0), fdOr(c.Stdout, 1), fdOr(c.Stderr, 2)},
		Extra:       extraFds(c.ExtraFiles),
		Setsid:      true,
		Cred:        c.Cred,
		NoNewPrivs:  pv.NoNewPrivs,
		Nice:        pv.Nice,
		OOMScoreAdj: pv.OOMScoreAdj,
	}
	if c.Umask >= 0 {
		a.Umask = &c.Umask // set in the child: no window for tend's own files
	}
	for _, r := range pv.Rlimits {
		a.Rlimits = append(a.Rlimits, forkexec.Rlimit{Resource: r.Resource, Cur: r.Soft, Max: r.Hard})
	}
	if pv.Capabilities != nil {
		// The bounding set, whoever the user: for root it is what exec
		// grants; for another user it keeps a setuid or file-capability
		// binary from granting more than the list. And for a user other
		// than root the list as ambient capabilities, which exec grants
		// without a file capability: NET_BIND_SERVICE for nobody.
		a.Bounding = make([]int, len(pv.Capabilities))
		for i, cp := range pv.Capabilities {
			a.Bounding[i] = int(cp)
		}
		uid := os.Geteuid()
		if c.Cred != nil {
			uid = int(c.Cred.Uid)
		}
		if uid != 0 {
			a.Ambient = a.Bounding
		}
	}
	// The cgroup's fd comes from Group.Start in a SysProcAttr, as for
	// syscall.ForkExec; internal/forkexec's clone3 takes it the same way.
	sys := &syscall.SysProcAttr{}
	pid, err := place(c.Cgroup, sys, func() (int, error) {
		a.UseCgroupFD, a.CgroupFD = sys.UseCgroupFD, sys.CgroupFD
		return forkexec.Start(path, c.Argv, env, a)
	})
	if _, ok := errors.AsType[*cgroup.PlaceError](err); ok {
		return pid, err // started, outside its cgroup
	}
	if err != nil {
		return 0, privilegeError(path, c, err)
	}
	return pid, nil
}

// place runs fork, which starts a process with sys, in the cgroup pl
// (cgroup.Group.Start), or as it is when pl is nil. Placed, the process
// runs no instruction outside its cgroup; where clone3 is refused it is
// moved in right after the fork, and a *cgroup.PlaceError says it could
// not be.
func place(pl placer, sys *syscall.SysProcAttr, fork func() (int, error)) (int, error) {
	if pl == nil {
		return fork()
	}
	return pl.Start(sys, fork)
}

// privilegeError says which of c's settings the child failed at, in the
// words of the config: "nice = -5: permission denied".
func privilegeError(path string, c Command, err error) error {
	var fe *forkexec.Error
	if !errors.As(err, &fe) {
		return &ExecError{Path: path, Err: err}
	}
	pv := c.Privileges
	capability := config.Capability(fe.Index)
	switch fe.Step {
	case forkexec.StepExec:
		return &ExecError{Path: path, Err: fe.Err}
	case forkexec.StepChdir:
		return &ExecError{Path: c.Dir, Err: fe.Err, Dir: true}
	case forkexec.StepRlimit:
		if fe.Index < len(pv.Rlimits) {
			r := pv.Rlimits[fe.Index]
			return fmt.Errorf("rlimits.%s = [%s, %s]: %w", r.Name, config.FormatLimit(r.Soft), config.FormatLimit(r.Hard), fe.Err)
		}
	case forkexec.StepNice:
		return fmt.Errorf("nice = %d: %w", *pv.Nice, fe.Err)
	case forkexec.StepOOMScoreAdj:
		return fmt.Errorf("oom_score_adj = %d: %w", *pv.OOMScoreAdj, fe.Err)
	case forkexec.StepNoNewPrivs:
		return fmt.Errorf("no_new_privs: %w", fe.Err)
	case forkexec.StepBounding:
		return fmt.Errorf("capabilities: cannot drop %s from the bounding set: %w", capability, fe.Err)
	case forkexec.StepNotBounding:
		return fmt.Errorf("capabilities: %s is not in tend's bounding set", capability)
	case forkexec.StepAmbient:
		return fmt.Errorf("capabilities: cannot raise %s as an ambient capability (tend must hold it): %w", capability, fe.Err)
	case forkexec.StepCapset, forkexec.StepKeepCaps:
		return fmt.Errorf("capabilities: %s: %w", fe.Step, fe.Err)
	}
	return fe
}

// enterable reports why dir cannot be a working directory, as far as a
// stat tells: missing, or not a directory. "" is tend's own, always fine.
func enterable(dir string) error {
	if dir == "" {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	return nil
}

func fdOr(f *os.File, fd uintptr) uintptr {
	if f == nil {
		return fd
	}
	return f.Fd()
}

// ownsTerminal reports whether fd 0 is tend's controlling terminal and
// tend's group is in its foreground: only then is the terminal tend's to
// hand to the child (docker run -it). Stealing the foreground from a
// shell that started tend in the background would be wrong.
func ownsTerminal() bool {
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

// extraFds are the fds of ExtraFiles, ^uintptr(0) for a nil one (closed
// in the child).
func extraFds(files []*os.File) []uintptr {
	var fds []uintptr
	for _, f := range files {
		fds = append(fds, fdOr(f, ^uintptr(0)))
	}
	return fds
}
