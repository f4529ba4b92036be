package supervisor

import (
	"context"
	"fmt"

	"tend/config"
)

// checker is one kind of probe: what a health check does, apart from
// when (the loop's probe record: interval, timeout, start_period) and
// what its outcome means (probeDone). The loop makes one per run of a
// program with newChecker, the one place that looks at a probe's kind,
// and has at most one probe of it in flight.
//
// start and stop run on the loop goroutine and must not block. The
// outcome of a probe comes back to the loop as a message, never as a
// return value: an exec probe's exit through the reaper (onProbeExit),
// a goroutine's answer on s.probeResults (onProbeResult). A new kind is
// one checker (or, when it is slow work that can run on a goroutine, one
// func for goChecker) and one case in newChecker and in config's decoder.
type checker interface {
	// start begins one probe of pr's program. An error means that it
	// could not start; it counts as a failed probe.
	start(s *Supervisor, pr *probe) error
	// stop ends the probe in flight, if there is one, and releases what
	// it holds. The loop calls it when a probe has answered, timed out,
	// or its program stopped or paused; an outcome that still comes is
	// dropped.
	stop(s *Supervisor)
}

// newChecker picks the checker for hc's kind.
func newChecker(hc *config.Healthcheck) checker {
	switch hc.Kind {
	case config.ProbeExec:
		return &execChecker{argv: hc.Exec}
	case config.ProbeHTTP:
		return &goChecker{run: func(ctx context.Context) error { return httpCheck(ctx, hc.HTTP) }}
	case config.ProbeTCP:
		return &goChecker{run: func(ctx context.Context) error { return tcpCheck(ctx, hc.TCP) }}
	}
	// config decides the kind; this is a kind the loop was not taught.
	// Failing each probe says so without taking PID 1 down.
	err := fmt.Errorf("unknown probe kind %q", hc.Kind)
	return &goChecker{run: func(context.Context) error { return err }}
}

// goChecker runs a probe on a goroutine of its own, which reports on
// s.probeResults: slow work (a connect, an HTTP answer) must not block
// the loop. The loop keeps the timeout in tend time, so a frozen
// container does not fail the probe on thaw; stop cancels run's ctx.
type goChecker struct {
	run    func(ctx context.Context) error
	cancel context.CancelFunc // of the probe in flight; loop-owned
}

func (c *goChecker) start(s *Supervisor, pr *probe) error {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	gen, run := pr.gen, c.run
	s.goSafe(pr.name()+" "+pr.prog.cfg.Name, func() {
		s.probeResults <- probeResult{pr: pr, gen: gen, err: run(ctx)}
	})
	return nil
}

func (c *goChecker) stop(*Supervisor) {
	if c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
}
