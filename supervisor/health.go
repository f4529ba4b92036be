package supervisor

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"time"

	"tend/config"
	"tend/internal/h1"
)

// Health checks. A probe runs while its program is STARTING or RUNNING
// (never while PAUSED), `interval` from the start of one probe to the
// start of the next. exec probes are spawned by the loop like programs
// (the loop is the one owner of every wait) and killed at `timeout`;
// http and tcp probes run on a goroutine of their own that reports back,
// and the loop keeps their timeout in tend time, so a frozen container
// does not fail them on thaw. `retries` failures in a row make the
// program unhealthy, one success healthy; failures during `start_period`
// do not count.

// Health values, as status and events show them.
const (
	healthStarting  = "starting"
	healthHealthy   = "healthy"
	healthUnhealthy = "unhealthy"
)

// probe is the loop's record of a program's health checking.
type probe struct {
	due    time.Time // next probe start; zero: none scheduled
	end    time.Time // timeout of the probe in flight; zero: none in flight
	began  time.Time // start of the probe in flight, or of the last one
	pid    int       // exec probe in flight
	gen    uint64    // tags a goroutine probe's result; a stale one is dropped
	cancel context.CancelFunc
	fails  int // failures in a row
	health string
}

// probeResult is what a goroutine probe reports.
type probeResult struct {
	p   *program
	gen uint64
	err error
}

// healthy says whether p counts as healthy for depends_on: RUNNING and,
// with a health check, passing it.
func (p *program) healthy() bool {
	return p.state == Running && (p.cfg.Healthcheck == nil || p.probe.health == healthHealthy)
}

// resetHealth starts health checking over for a new process.
func (s *Supervisor) resetHealth(p *program) {
	s.cancelProbe(p)
	if p.cfg.Healthcheck == nil {
		return
	}
	p.probe.fails, p.probe.health = 0, healthStarting
	p.probe.due = s.now().Add(p.cfg.Healthcheck.Interval)
}

// cancelProbe forgets the probe in flight and the next one.
func (s *Supervisor) cancelProbe(p *program) {
	if p.probe.pid != 0 {
		s.os.kill(-p.probe.pid, killSignal)
		p.probe.pid = 0 // its exit is reaped as a stale probe's
	}
	if p.probe.cancel != nil {
		p.probe.cancel()
		p.probe.cancel = nil
	}
	p.probe.gen++
	p.probe.due, p.probe.end = time.Time{}, time.Time{}
}

// startProbe runs p's health check once.
func (s *Supervisor) startProbe(p *program) {
	hc := p.cfg.Healthcheck
	now := s.now()
	p.probe.began, p.probe.end = now, now.Add(hc.Timeout)
	p.probe.due = time.Time{}
	p.probe.gen++
	if hc.Exec != nil {
		// The probe runs as its program does: same user, directory,
		// environment and umask (a probe as root for a program that runs
		// as nobody would be a way up).
		cmd, err := s.command(p)
		var pid int
		if err == nil {
			cmd.Argv, cmd.Stdout, cmd.Stderr = hc.Exec, s.devNull, s.devNull
			pid, err = s.os.spawn(cmd)
		}
		if err != nil {
			s.probeDone(p, fmt.Errorf("probe: %w", err))
			return
		}
		p.probe.pid = pid
		s.probes[pid] = p
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.probe.cancel = cancel
	gen := p.probe.gen
	s.goSafe("probe "+p.cfg.Name, func() {
		s.probeResults <- probeResult{p: p, gen: gen, err: netProbe(ctx, hc)}
	})
}

// netProbe runs an http or tcp check until it answers or ctx ends.
func netProbe(ctx context.Context, hc *config.Healthcheck) error {
	if hc.TCP != "" {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", hc.TCP)
		if err != nil {
			return err
		}
		return c.Close()
	}
	code, err := httpGet(ctx, hc.HTTP)
	if err != nil {
		// Worded as net/http's client words it: `Get "URL": why`.
		return fmt.Errorf("Get %q: %w", hc.HTTP, err)
	}
	if code < 200 || code > 399 { // a 3xx is an answer, and healthy: not followed
		return fmt.Errorf("http status %d", code)
	}
	return nil
}

// httpGet sends GET rawURL (http://, as config checked) on a connection
// of its own and returns the answer's status code; the body is not read.
// The connection is closed when ctx is done.
func httpGet(ctx context.Context, rawURL string) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, err
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return 0, err
	}
	// The fields net/http's client sent, but Accept-Encoding: the body
	// is never read.
	h := h1.Header{{Name: "Host", Value: u.Host}, {Name: "User-Agent", Value: "Go-http-client/1.1"}}
	if u.User != nil {
		pass, _ := u.User.Password()
		auth := base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + pass))
		h = append(h, h1.Field{Name: "Authorization", Value: "Basic " + auth})
	}
	resp, err := h1.Do(ctx, c, "GET", u.RequestURI(), h, nil)
	if err != nil {
		return 0, err
	}
	resp.Close()
	return resp.Code, nil
}

// onProbeResult takes a goroutine probe's answer, unless it is stale.
func (s *Supervisor) onProbeResult(r probeResult) {
	if r.gen != r.p.probe.gen || r.p.probe.end.IsZero() {
		return
	}
	if r.p.probe.cancel != nil {
		r.p.probe.cancel()
		r.p.probe.cancel = nil
	}
	s.probeDone(r.p, r.err)
}

// onProbeExit takes an exec probe's exit.
func (s *Supervisor) onProbeExit(p *program, pid, code int) {
	if p.probe.pid != pid {
		return // timed out or cancelled already
	}
	p.probe.pid = 0
	var err error
	if code != 0 {
		err = fmt.Errorf("exit code %d", code)
	}
	s.probeDone(p, err)
}

// onProbeTimeout: the probe in flight took longer than `timeout`.
func (s *Supervisor) onProbeTimeout(p *program) {
	timeout := p.cfg.Healthcheck.Timeout
	if p.probe.pid != 0 {
		s.os.kill(-p.probe.pid, killSignal)
		p.probe.pid = 0
	}
	if p.probe.cancel != nil {
		p.probe.cancel()
		p.probe.cancel = nil
	}
	p.probe.gen++
	s.probeDone(p, fmt.Errorf("timed out after %v", timeout))
}

// probeDone counts one probe's outcome and schedules the next.
func (s *Supervisor) probeDone(p *program, err error) {
	hc := p.cfg.Healthcheck
	p.probe.end = time.Time{}
	p.probe.due = p.probe.began.Add(hc.Interval)
	if err == nil {
		p.probe.fails = 0
		s.setHealth(p, healthHealthy, "probe passed")
		return
	}
	if s.now().Sub(p.started) < hc.StartPeriod {
		s.log.Debug().Str("program", p.cfg.Name).Err(err).Msg("probe failed in start_period: not counted")
		return
	}
	p.probe.fails++
	s.log.Debug().Str("program", p.cfg.Name).Err(err).Int("failures", p.probe.fails).Msg("probe failed")
	if p.probe.fails < hc.Retries {
		return
	}
	s.setHealth(p, healthUnhealthy, fmt.Sprintf("%d probes failed in a row: %v", p.probe.fails, err))
	if hc.OnUnhealthy == config.UnhealthyRestart && s.phase == running && p.state == Running {
		p.restart = true
		s.stop(p, "unhealthy")
	}
}

// setHealth records a change of health, as one log line and one event.
func (s *Supervisor) setHealth(p *program, health, reason string) {
	if p.probe.health == health {
		return
	}
	p.probe.health = health
	ev := s.log.Info()
	if health == healthUnhealthy {
		ev = s.log.Warn()
	}
	ev.Str("program", p.cfg.Name).Int("pid", p.pid).Str("state", string(p.state)).
		Str("health", health).Str("reason", reason).Msg("health")
	s.publish(Change{Program: p.cfg.Name, State: p.state, From: p.state, Pid: p.pid,
		Time: time.Now(), Health: health, Reason: reason})
}

// probeDeadlines runs the probes that are due and times out the ones that
// are late; the loop calls it from onTimer.
func (s *Supervisor) probeDeadlines(now time.Time) {
	for _, p := range s.programs {
		if p.cfg.Healthcheck == nil {
			continue
		}
		if !p.probe.end.IsZero() && !now.Before(p.probe.end) {
			s.onProbeTimeout(p)
		}
		if !p.probe.due.IsZero() && !now.Before(p.probe.due) && p.probe.end.IsZero() &&
			(p.state == Running || p.state == Starting) && s.phase == running {
			s.startProbe(p)
		}
	}
}
