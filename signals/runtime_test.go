package signals

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRuntimeFacts checks, against the Go toolchain in use, what tend's
// handlers take from the runtime (deliver_linux.go), so that a Go
// upgrade that changes it fails here and not in a container:
//   - the runtime has installed a handler of its own for SIGURG, which
//     deliverOwn copies the flags, mask and restorer of, with SA_SIGINFO
//     (the handlers read the siginfo: pipeHandler) and SA_ONSTACK (they
//     run on the thread's signal stack);
//   - it installs that same handler, with those flags, for the signals
//     tend takes over, so one template fits them all.
//
// It looks in a fresh process (the test binary again), which nothing has
// subscribed or muted: the runtime's own set-up.
func TestRuntimeFacts(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TEND_SIGNALS_HELPER=facts")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("the runtime's signal set-up is not what tend's handlers rely on: %v\n%s", err, out)
	}
}

// runtimeFacts is the helper of TestRuntimeFacts: it prints each fact
// that does not hold, and exits 1 if any.
func runtimeFacts() {
	bad := false
	fail := func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
		bad = true
	}
	urg, err := getAction(unix.SIGURG)
	switch {
	case err != nil:
		fail("%v", err)
	case urg[0] == sigDfl || urg[0] == sigIgn:
		fail("SIGURG has no handler of the runtime's (%#x): deliverOwn has no template", urg[0])
	}
	// SA_SIGINFO and SA_ONSTACK, the same on every Linux port
	// (asm-generic/signal-defs.h); x/sys does not name them.
	const saSiginfo, saOnstack = 0x4, 0x08000000
	if want := uintptr(saSiginfo | saOnstack); urg[1]&want != want {
		fail("SIGURG's flags %#x lack SA_SIGINFO|SA_ONSTACK (%#x)", urg[1], want)
	}
	for _, s := range []syscall.Signal{unix.SIGUSR1, unix.SIGTERM, unix.SIGCHLD, unix.SIGPIPE, unix.SIGWINCH, 40} {
		act, err := getAction(s)
		if err != nil {
			fail("%v", err)
			continue
		}
		if act[0] != urg[0] || act[1] != urg[1] {
			fail("%s: handler %#x flags %#x; SIGURG's are %#x %#x: one template no longer fits", Name(s), act[0], act[1], urg[0], urg[1])
		}
	}
	if bad {
		os.Exit(1)
	}
}
