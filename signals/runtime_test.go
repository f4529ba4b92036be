package signals

import (
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
// The test process has not subscribed: what it sees is the runtime's
// own set-up.
func TestRuntimeFacts(t *testing.T) {
	urg, err := getAction(unix.SIGURG)
	if err != nil {
		t.Fatal(err)
	}
	if urg[0] == sigDfl || urg[0] == sigIgn {
		t.Fatalf("SIGURG has no handler of the runtime's (%#x): deliverOwn has no template", urg[0])
	}
	// SA_SIGINFO and SA_ONSTACK, the same on every Linux port
	// (asm-generic/signal-defs.h); x/sys does not name them.
	const saSiginfo, saOnstack = 0x4, 0x08000000
	const want = saSiginfo | saOnstack
	if urg[1]&want != want {
		t.Errorf("SIGURG's flags %#x lack SA_SIGINFO|SA_ONSTACK (%#x)", urg[1], want)
	}
	for _, s := range []syscall.Signal{unix.SIGUSR1, unix.SIGTERM, unix.SIGCHLD, unix.SIGPIPE, unix.SIGWINCH, 40} {
		act, err := getAction(s)
		if err != nil {
			t.Fatal(err)
		}
		if act[0] != urg[0] || act[1] != urg[1] {
			t.Errorf("%s: handler %#x flags %#x; SIGURG's are %#x %#x: one template no longer fits", Name(s), act[0], act[1], urg[0], urg[1])
		}
	}
}
