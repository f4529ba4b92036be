package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The chaos: actors that run side by side until the soak's duration is
// up, each at a bounded rate so that the machine stays responsive. They
// pace themselves with sleeps; nothing they check waits on one.

// pace waits d, or less if ctx ends; false when it has.
func pace(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func between(lo, hi time.Duration) time.Duration { return lo + rand.N(hi-lo+1) }

func pick[T any](xs []T) T { return xs[rand.IntN(len(xs))] }

// killer SIGKILLs a random process of the namespace, a program or a
// grandchild, every 0.3 to 1.5 s.
func (s *soak) killer(ctx context.Context) {
	for pace(ctx, between(300*time.Millisecond, 1500*time.Millisecond)) {
		var live []nsProc
		for _, p := range s.ns.procs() {
			if p.State != 'Z' {
				live = append(live, p)
			}
		}
		if len(live) == 0 {
			continue
		}
		p := pick(live)
		fd, err := s.ns.kill(p)
		if err != nil {
			continue // gone by itself
		}
		unix.Close(fd)
		what := p.Mode
		if what == "" {
			what = p.Comm
		}
		s.count("SIGKILL a " + what)
	}
}

// signaller sends tend 50 signals a second that it ignores without a
// main program: USR1, USR2, WINCH.
func (s *soak) signaller(ctx context.Context) {
	sigs := []unix.Signal{unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH}
	for pace(ctx, time.Second) {
		for range 50 {
			if unix.Kill(s.tendPid, pick(sigs)) == nil {
				s.count("signal to tend (USR1, USR2, WINCH)")
			}
		}
	}
}

// ctlVerbs are the control flood's commands, by weight.
var ctlVerbs = []struct {
	weight int
	args   func() []string
}{
	{4, func() []string { return []string{"status"} }},
	{2, func() []string { return []string{"status", pick(programNames)} }},
	{1, func() []string { return []string{"--json", "status"} }},
	{3, func() []string { return []string{"health"} }},
	{3, func() []string { return []string{"start", pick(programNames)} }},
	{2, func() []string { return []string{"stop", pick(programNames)} }},
	{2, func() []string { return []string{"restart", pick(programNames)} }},
	{2, func() []string {
		return []string{"signal", pick([]string{"HUP", "USR1", "USR2", "CONT", "TERM", "KILL"}), pick(programNames)}
	}},
	{2, func() []string { return []string{"pause", pick(programNames)} }},
	{3, func() []string { return []string{"resume", pick(programNames)} }},
	{1, func() []string { return []string{"start", "--wait", "--timeout", "5s", pick(programNames)} }},
	{1, func() []string { return []string{"events"} }}, // read for a while, then interrupted
}

// controller runs one random tend ctl command at a time, every 50 to
// 300 ms. Exit codes 0 and 1 are answers (1: refused, e.g. resuming a
// program that is not paused); 2 and 3 are failures: a command the soak
// got wrong, or a tend that did not answer.
func (s *soak) controller(ctx context.Context) {
	total := 0
	for _, v := range ctlVerbs {
		total += v.weight
	}
	for pace(ctx, between(50*time.Millisecond, 300*time.Millisecond)) {
		n := rand.IntN(total)
		var args []string
		for _, v := range ctlVerbs {
			if n -= v.weight; n < 0 {
				args = v.args()
				break
			}
		}
		verb := args[0]
		if verb == "--json" {
			verb = args[1]
		}
		var code int
		var out string
		if verb == "events" {
			code, out = s.readEvents(between(time.Second, 3*time.Second))
		} else {
			code, out = s.ctl(args...)
		}
		s.count(fmt.Sprintf("ctl %s: exit %d", verb, code))
		if code >= 2 {
			s.fail("tend ctl %v: exit %d: %s", args, code, out)
		}
	}
}

// readEvents runs tend ctl events, reads it for d, and interrupts it:
// exit 0 is expected.
func (s *soak) readEvents(d time.Duration) (int, string) {
	cmd := exec.Command(s.tend, "ctl", "--socket", s.setup.socket, "events")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return -1, err.Error()
	}
	if err := cmd.Start(); err != nil {
		return -1, err.Error()
	}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := out.Read(buf); err != nil {
				return
			}
		}
	}()
	t := time.AfterFunc(d, func() { _ = cmd.Process.Signal(unix.SIGINT) })
	defer t.Stop()
	return exitCode(cmd.Wait()), ""
}

// stalled are events streams that are never read: tend ctl events
// with its stdout a pipe nobody reads, and raw requests for the stream
// whose answer nobody reads. tend must drop them, not wait for them.
type stalled struct {
	mu    sync.Mutex
	ctls  []*stalledCtl
	conns []stalledConn
}

type stalledCtl struct {
	cmd  *exec.Cmd
	pipe *os.File // the read end, held and never read
	done chan struct{}
	code int
}

type stalledConn struct {
	conn  net.Conn
	until time.Time
}

const stalledCtls, stalledConns = 4, 4

// staller keeps stalledCtls and stalledConns streams open: a tend ctl
// events that tend has dropped (exit 1) is replaced; a raw connection is
// closed and opened again after 20 to 60 s.
func (s *soak) staller(ctx context.Context) {
	for pace(ctx, 2*time.Second) {
		s.stalled.mu.Lock()
		for i, c := range s.stalled.ctls {
			select {
			case <-c.done:
				s.count(fmt.Sprintf("stalled ctl events: exit %d", c.code))
				c.pipe.Close()
				s.stalled.ctls[i] = nil
			default:
			}
		}
		s.stalled.ctls = compact(s.stalled.ctls)
		for len(s.stalled.ctls) < stalledCtls {
			c, err := s.startStalledCtl()
			if err != nil {
				s.fail("starting tend ctl events: %v", err)
				break
			}
			s.stalled.ctls = append(s.stalled.ctls, c)
		}
		now := time.Now()
		kept := s.stalled.conns[:0]
		for _, c := range s.stalled.conns {
			if now.After(c.until) {
				c.conn.Close()
				continue
			}
			kept = append(kept, c)
		}
		s.stalled.conns = kept
		for len(s.stalled.conns) < stalledConns {
			c, err := net.Dial("unix", s.setup.socket)
			if err != nil {
				s.fail("connecting to the control socket: %v", err)
				break
			}
			if _, err := c.Write([]byte("GET /v1/events HTTP/1.1\r\nHost: tend\r\n\r\n")); err != nil {
				c.Close()
				s.count("stalled raw events: write failed")
				break
			}
			s.count("stalled raw events: opened")
			s.stalled.conns = append(s.stalled.conns, stalledConn{c, now.Add(between(20*time.Second, 60*time.Second))})
		}
		s.stalled.mu.Unlock()
	}
}

func compact[T comparable](xs []T) []T {
	var zero T
	out := xs[:0]
	for _, x := range xs {
		if x != zero {
			out = append(out, x)
		}
	}
	return out
}

func (s *soak) startStalledCtl() (*stalledCtl, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.tend, "ctl", "--socket", s.setup.socket, "events")
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	w.Close()
	c := &stalledCtl{cmd: cmd, pipe: r, done: make(chan struct{})}
	go func() {
		c.code = exitCode(cmd.Wait())
		close(c.done)
	}()
	s.count("stalled ctl events: started")
	return c, nil
}

// closeStalled ends every stalled stream and waits for the tend ctl
// processes to exit.
func (s *soak) closeStalled() {
	s.stalled.mu.Lock()
	defer s.stalled.mu.Unlock()
	for _, c := range s.stalled.ctls {
		_ = c.cmd.Process.Kill()
		<-c.done
		c.pipe.Close()
	}
	s.stalled.ctls = nil
	for _, c := range s.stalled.conns {
		c.conn.Close()
	}
	s.stalled.conns = nil
}

// reloader rewrites the config every 3 to 8 s, valid (switching between
// the two variants) or invalid, and has tend reload it with tend ctl
// reload or SIGHUP. ctl reload must succeed on a valid file and fail on
// an invalid one.
func (s *soak) reloader(ctx context.Context) {
	alt := false
	for pace(ctx, between(3*time.Second, 8*time.Second)) {
		valid := rand.IntN(2) == 0
		name, text := "valid", ""
		if valid {
			alt = !alt
			text = s.setup.config(alt)
		} else {
			bad := pick(s.invalids)
			name, text = bad.name, bad.text(s.setup)
		}
		if err := writeConfig(s.cfgPath, text); err != nil {
			s.fail("writing the config: %v", err)
			return
		}
		if rand.IntN(2) == 0 {
			_ = unix.Kill(s.tendPid, unix.SIGHUP)
			s.count("reload by SIGHUP: " + name)
			continue
		}
		code, out := s.ctl("reload")
		s.count(fmt.Sprintf("ctl reload: %s: exit %d", name, code))
		if valid && code != 0 || !valid && code != 1 {
			s.fail("ctl reload of a %s config: exit %d: %s", name, code, out)
		}
	}
}

// sampler reads tend and the namespace every 10 s.
func (s *soak) sampler(ctx context.Context) {
	for pace(ctx, 10*time.Second) {
		s.sample("chaos")
	}
}

// ctl runs tend ctl ARGS against the soak's tend, bounded by 10 s.
func (s *soak) ctl(args ...string) (int, string) {
	cmd := exec.Command(s.tend, append([]string{"ctl", "--socket", s.setup.socket, "--timeout", "10s"}, args...)...)
	out, err := cmd.CombinedOutput()
	return exitCode(err), string(out)
}

// exitCode is a command's exit code from its error, -1 if it did not
// run or was killed.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
