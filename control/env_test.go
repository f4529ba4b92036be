package control

import (
	"bytes"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tend/api"
	"tend/ctl"
	"tend/internal/fakeloop"
)

// env is a server on a real socket in a temporary directory, in front
// of a fake loop, and `tend ctl` to drive it.
type env struct {
	t    *testing.T
	sock string
	loop *fakeloop.Loop
	ln   net.Listener
	log  *syncBuffer
	// served gets Serve's result.
	served chan error
}

func newEnv(t *testing.T, tweak ...func(*options)) *env {
	t.Helper()
	return newEnvWithReqs(t, nil, tweak...)
}

// newEnvWithReqs is newEnv with the server sending to reqs, when not
// nil, instead of the fake loop.
func newEnvWithReqs(t *testing.T, reqs chan api.Request, tweak ...func(*options)) *env {
	t.Helper()
	opt := defaultOptions
	for _, f := range tweak {
		f(&opt)
	}
	sock := filepath.Join(t.TempDir(), "tend.sock")
	ln, err := Listen(sock, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sock: sock, ln: ln, log: &syncBuffer{}, served: make(chan error, 1)}
	if reqs == nil {
		e.loop = fakeloop.Start(t)
		reqs = e.loop.Reqs
	}
	log := zerolog.New(zerolog.MultiLevelWriter(zerolog.NewTestWriter(t), e.log))
	go func() { e.served <- serve(ln, reqs, log, opt) }()
	t.Cleanup(e.stop)
	return e
}

// stop closes the listener and waits for Serve to return.
func (e *env) stop() { stopServing(e.t, "Serve", e.ln, e.served) }

// stopServing closes ln and waits for the server on it to send its
// result to served, failing t if it is an error or takes over 10 s. It
// puts a nil back, so a second stop finds the server stopped.
func stopServing(t *testing.T, name string, ln net.Listener, served chan error) {
	ln.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		served <- nil // for a second stop
	case <-time.After(10 * time.Second):
		t.Errorf("%s did not return within 10s of closing its listener", name)
	}
}

// ctl runs `tend ctl --socket SOCK ARGS...`.
func (e *env) ctl(args ...string) (code int, stdout, stderr string) {
	return fakeloop.Ctl(ctl.Main, e.sock, args...)
}

// mustCtl runs ctl and fails the test unless it exits with want.
func (e *env) mustCtl(want int, args ...string) (stdout, stderr string) {
	e.t.Helper()
	return fakeloop.MustCtl(e.t, ctl.Main, e.sock, want, args...)
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor polls cond every 10ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
