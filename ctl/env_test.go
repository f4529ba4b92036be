package ctl

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"tend/api"
	"tend/control"
	"tend/internal/fakeloop"
)

// env is tend's control server on a real socket in a temporary
// directory, in front of a fake loop: `tend ctl` against all of tend
// but its supervisor.
type env struct {
	t    *testing.T
	sock string
	loop *fakeloop.Loop
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "tend.sock")
	ln, err := control.Listen(sock, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sock: sock, loop: fakeloop.Start(t)}
	served := make(chan error, 1)
	go func() { served <- control.Serve(ln, e.loop.Reqs, zerolog.New(zerolog.NewTestWriter(t))) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return e
}

// ctl runs `tend ctl --socket SOCK ARGS...`.
func (e *env) ctl(args ...string) (code int, stdout, stderr string) {
	return fakeloop.Ctl(Main, e.sock, args...)
}

// mustCtl runs ctl and fails the test unless it exits with want.
func (e *env) mustCtl(want int, args ...string) (stdout, stderr string) {
	e.t.Helper()
	return fakeloop.MustCtl(e.t, Main, e.sock, want, args...)
}

// statusOf asks the loop for one program's state.
func (e *env) statusOf(name string) api.Status {
	e.t.Helper()
	progs, err := NewClient(e.sock).Status(context.Background(), []string{name})
	if err != nil || len(progs) != 1 {
		e.t.Fatalf("status %s: %v %v", name, progs, err)
	}
	return progs[0]
}
