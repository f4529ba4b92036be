package supervisor

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tend/config"
)

// TestNewChecker: each kind gets its checker, and a kind the loop does
// not know fails every probe with its name instead of taking tend down.
func TestNewChecker(t *testing.T) {
	exec := newChecker(&config.Healthcheck{Kind: config.ProbeExec, Exec: []string{"check", "-q"}})
	if c, ok := exec.(*execChecker); !ok || !slices.Equal(c.argv, []string{"check", "-q"}) {
		t.Errorf("exec: %#v, want an execChecker running check -q", exec)
	}
	for _, k := range []config.ProbeKind{config.ProbeHTTP, config.ProbeTCP} {
		if c, ok := newChecker(&config.Healthcheck{Kind: k}).(*goChecker); !ok || c.run == nil {
			t.Errorf("%s: %#v, want a goChecker", k, c)
		}
	}
	c, ok := newChecker(&config.Healthcheck{Kind: "grpc"}).(*goChecker)
	if !ok {
		t.Fatalf("unknown kind: %#v, want a goChecker that fails", c)
	}
	if err := c.run(context.Background()); err == nil || !strings.Contains(err.Error(), `unknown probe kind "grpc"`) {
		t.Errorf("unknown kind: %v, want it named", err)
	}
}

// TestGoChecker: a goroutine probe reports on probeResults, tagged with
// the generation it started in, and stop cancels it.
func TestGoChecker(t *testing.T) {
	s := &Supervisor{log: zerolog.New(zerolog.NewTestWriter(t)), probeResults: make(chan probeResult, 1)}
	p := &program{cfg: &config.Program{Name: "p"}}
	p.probe.prog, p.probe.gen = p, 7
	c := &goChecker{run: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
	if err := c.start(s, &p.probe); err != nil {
		t.Fatal(err)
	}
	c.stop(s)
	c.stop(s) // twice is harmless
	select {
	case r := <-s.probeResults:
		if r.pr != &p.probe || r.gen != 7 || !errors.Is(r.err, context.Canceled) {
			t.Errorf("result %+v, want p's, gen 7, context canceled", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stopped probe did not report")
	}
}

// TestExecCheckerExited: only the exit of the probe in flight is its
// outcome; a stale pid's is not, nor a second report of the same one.
func TestExecCheckerExited(t *testing.T) {
	c := &execChecker{pid: 42}
	if mine, _ := c.exited(41, 0); mine {
		t.Error("the exit of another pid was taken as the probe's")
	}
	if mine, err := c.exited(42, 3); !mine || err == nil || err.Error() != "exit code 3" {
		t.Errorf("exit 3: %v %v, want the probe's, failed with exit code 3", mine, err)
	}
	if mine, _ := c.exited(42, 0); mine {
		t.Error("an exit was taken twice")
	}
	c.pid = 43
	if mine, err := c.exited(43, 0); !mine || err != nil {
		t.Errorf("exit 0: %v %v, want the probe's, passed", mine, err)
	}
}

// TestTCPCheck: an accepted connection passes; a refused one fails.
func TestTCPCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := tcpCheck(context.Background(), addr); err != nil {
		t.Errorf("listening: %v, want a pass", err)
	}
	ln.Close()
	if err := tcpCheck(context.Background(), addr); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("closed: %v, want connection refused", err)
	}
}
