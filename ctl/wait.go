package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"tend/api"
)

// waiter follows the programs an action touched until each reaches the
// verb's target state, fails, or time runs out.
type waiter struct {
	verb  api.Verb
	order []string // program names, in the order tend listed them
	progs map[string]*waitProg
}

type waitProg struct {
	// since is when the program entered the state tend reported right
	// after the action: anything seen from before is old news.
	since  time.Time
	state  api.State
	done   bool // reached the target
	failed bool // reached a state it will not leave by itself
}

func newWaiter(verb api.Verb) *waiter {
	return &waiter{verb: verb, progs: map[string]*waitProg{}}
}

// target reports whether state is what the verb waits for: RUNNING (or
// COMPLETED for a oneshot) after start and restart, any state without a
// process after stop.
func (w *waiter) target(state api.State) bool {
	if w.verb == api.VerbStop {
		return state.Down()
	}
	return state.Up()
}

// failure reports whether a start cannot succeed without another ctl
// action. STOPPED is not one: a restart passes through it, and a start
// waits there for its dependencies.
func (w *waiter) failure(state api.State) bool {
	if w.verb == api.VerbStop {
		return false
	}
	return state.Failed()
}

// add registers a program acted on, as tend reported it right after the
// action (zero since when it did not report it).
func (w *waiter) add(name string, since time.Time) {
	if _, ok := w.progs[name]; ok {
		return
	}
	w.order = append(w.order, name)
	w.progs[name] = &waitProg{since: since}
}

// observe records that name was in state at time at.
func (w *waiter) observe(name string, state api.State, at time.Time) {
	p := w.progs[name]
	if p == nil || p.done || p.failed || at.Before(p.since) {
		return
	}
	p.state = state
	switch {
	case w.target(state):
		p.done = true
	case w.failure(state):
		p.failed = true
	}
}

// finished reports whether every program is done or failed.
func (w *waiter) finished() bool {
	for _, p := range w.progs {
		if !p.done && !p.failed {
			return false
		}
	}
	return true
}

func (w *waiter) want() string {
	if w.verb == api.VerbStop {
		return "stopped"
	}
	return string(api.Running)
}

// actAndWait does start, stop or restart with --wait: it opens the
// events stream before acting, so no change can slip between the action
// and the watching, then reads events (and one status for what is
// already there) until every program acted on is where it should be.
func (c *command) actAndWait(ctx, tctx context.Context) int {
	stream, err := c.client.Events(tctx, c.args)
	if err != nil {
		return c.fail(ctx, err)
	}
	defer func() { stream.Close() }()
	reply, err := c.client.Do(tctx, c.verb, c.args, "")
	if err != nil {
		return c.fail(ctx, err)
	}
	w := newWaiter(c.verb)
	for _, p := range reply.Programs {
		w.add(p.Name, p.Since)
		w.observe(p.Name, p.State, p.Since)
	}
	refresh := func() error {
		names := w.order
		if len(names) == 0 {
			names = c.args // tend did not list what it acted on
		}
		progs, err := c.client.Status(tctx, names)
		for _, p := range progs {
			if len(reply.Programs) == 0 {
				w.add(p.Name, time.Time{})
			}
			w.observe(p.Name, p.State, p.Since)
		}
		return err
	}
	if err := refresh(); err != nil {
		return c.fail(ctx, err)
	}
	for !w.finished() {
		ev, err := stream.Next()
		if err == nil {
			w.observe(ev.Program, ev.State, ev.Time)
			continue
		}
		if tctx.Err() != nil {
			break
		}
		if errors.Is(err, io.EOF) {
			fmt.Fprintf(c.stderr, "tend ctl: %s: tend ended the events stream (is it shutting down?)\n", c.verb)
			return ExitFailed
		}
		if _, ok := errors.AsType[*DroppedError](err); !ok {
			return c.fail(ctx, err)
		}
		// Dropped: events were lost. Watch again, and look again.
		stream.Close()
		if stream, err = c.client.Events(tctx, c.args); err != nil {
			return c.fail(ctx, err)
		}
		if err := refresh(); err != nil {
			return c.fail(ctx, err)
		}
	}
	return c.report(ctx, tctx, w)
}

// report prints where the programs ended up and returns the exit code.
func (c *command) report(ctx, tctx context.Context, w *waiter) int {
	var bad []string
	for _, name := range w.order {
		p := w.progs[name]
		switch {
		case p.failed:
			bad = append(bad, fmt.Sprintf("%s is %s", api.Printable(name), api.Printable(string(p.state))))
		case !p.done:
			st := string(p.state)
			if st == "" {
				st = "unknown"
			}
			bad = append(bad, fmt.Sprintf("%s is %s, want %s", api.Printable(name), api.Printable(st), w.want()))
		}
	}
	if len(bad) > 0 {
		why := "failed"
		switch {
		case ctx.Err() != nil:
			why = "interrupted"
		case slices.ContainsFunc(w.order, func(n string) bool { p := w.progs[n]; return !p.done && !p.failed }):
			why = fmt.Sprintf("timed out after %v", c.timeout)
		}
		fmt.Fprintf(c.stderr, "tend ctl: %s: %s: %s\n", c.verb, why, strings.Join(bad, "; "))
		return ExitFailed
	}
	if c.json {
		// The whole status, as it is now.
		progs, err := c.client.Status(tctx, w.order)
		if err != nil {
			return c.fail(ctx, err)
		}
		return c.printJSON(progs)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	for _, name := range w.order {
		fmt.Fprintf(tw, "%s\t%s\n", api.Printable(name), api.Printable(string(w.progs[name].state)))
	}
	tw.Flush()
	return ExitOK
}
