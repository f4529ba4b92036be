package e2e

// Helper programs for the supervisor-mode tests (supervisor_test.go).
// Most supervised programs there are one-line shell commands; these are
// the ones a shell cannot play without races: a program whose signal
// handling is in place before it says "ready".

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// svProg is a long-running program. It sets up its signal handling,
// prints "NAME ready", then prints "NAME got USR1" for every SIGUSR1.
// On SIGTERM:
//
//	-term default   dies of it (no handler)
//	-term ignore    ignores it: only SIGKILL ends it
//	-term exit:N    prints "NAME got TERM" and exits N
func svProg(args []string) int {
	fs := flag.NewFlagSet("sv-prog", flag.ContinueOnError)
	name := fs.String("name", "prog", "what to call itself in its output")
	term := fs.String("term", "default", "default, ignore or exit:N")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c := make(chan os.Signal, 8)
	signal.Notify(c, syscall.SIGUSR1)
	code := -1
	switch {
	case *term == "ignore":
		signal.Ignore(syscall.SIGTERM)
	case strings.HasPrefix(*term, "exit:"):
		n, err := strconv.Atoi(strings.TrimPrefix(*term, "exit:"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "sv-prog: -term", *term)
			return 2
		}
		code = n
		signal.Notify(c, syscall.SIGTERM)
	case *term != "default":
		fmt.Fprintln(os.Stderr, "sv-prog: -term", *term)
		return 2
	}
	fmt.Println(*name, "ready")
	for s := range c {
		if s == syscall.SIGUSR1 {
			fmt.Println(*name, "got USR1")
			continue
		}
		fmt.Println(*name, "got TERM")
		return code
	}
	return 1
}

// stderrFd3 makes fd 3 its stderr and execs argv: it puts tend's own
// log on a pipe of the test's, read line by line as it is written,
// while the harness keeps the rest of its plumbing. The exec keeps the
// pid, so tend is still unshare's one child (PID 1 of the namespace).
func stderrFd3(argv []string) int {
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "stderr-fd3: no command")
		return 2
	}
	if err := unix.Dup3(3, 2, 0); err != nil {
		fmt.Fprintln(os.Stderr, "stderr-fd3: dup:", err)
		return 1
	}
	unix.Close(3) // tend would pass an inherited fd 3 on to every program
	err := syscall.Exec(argv[0], argv, os.Environ())
	fmt.Fprintln(os.Stderr, "stderr-fd3: exec:", err)
	return 1
}
