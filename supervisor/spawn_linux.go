package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"tend/internal/execpath"
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
	files := []uintptr{fdOr(c.Stdin, 0), fdOr(c.Stdout, 1), fdOr(c.Stderr, 2)}
	for _, f := range c.ExtraFiles {
		files = append(files, fdOr(f, ^uintptr(0))) // -1: closed in the child
	}
	pid, err := syscall.ForkExec(path, c.Argv, &syscall.ProcAttr{
		Dir:   c.Dir,
		Env:   env,
		Files: files,
		Sys:   sys,
	})
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
