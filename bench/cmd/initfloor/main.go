// Command initfloor is the least a Go program can be and still serve as
// PID 1 for one child: it forwards every signal to the child's process
// group, reaps every exit with wait4, and exits with the child's code. It
// has no flags, no config and no output of its own. The init benchmark
// (bench/cmd/initbench) measures its memory beside tend's, to show how
// much of tend's RSS any Go init holds before it does anything more.
//
//	initfloor -- /ABSOLUTE/PATH [ARG...]
//
// Build tags add, step by step, the two libraries tend's SPEC names: the
// logger, set up as tend sets it up in init mode (warnings and errors
// only, so nothing is written), and the TOML parser, linked but not run,
// as in tend's init mode:
//
//	(none)                                   the Go runtime, os/signal, syscall, fmt
//	floor_zerolog                            + zerolog writing JSON (tend --log-format json)
//	floor_zerolog,floor_console              + zerolog's ConsoleWriter (tend's default)
//	floor_zerolog,floor_console,floor_toml   + BurntSushi/toml
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 3 || os.Args[1] != "--" {
		fmt.Fprintln(os.Stderr, "usage: initfloor -- /ABSOLUTE/PATH [ARG...]")
		os.Exit(2)
	}
	// Subscribe before the child exists: its first SIGCHLD must not be
	// missed, and a PID 1 without a handler never sees a TERM.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	pid, err := syscall.ForkExec(os.Args[2], os.Args[2:], &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "initfloor: %v\n", err)
		os.Exit(127)
	}
	logStarted(pid)
	for s := range sigs {
		switch sig := s.(syscall.Signal); sig {
		case syscall.SIGCHLD:
			if code, done := reap(pid); done {
				os.Exit(code)
			}
		case syscall.SIGURG: // the Go runtime's preemption signal, not the user's
		default:
			_ = syscall.Kill(-pid, sig)
		}
	}
}

// reap collects every exited child, and says the child's exit code once
// the child is among them.
func reap(child int) (code int, done bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return code, done
		}
		if pid == child {
			code, done = ws.ExitStatus(), true
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
	}
}
