// Package ctl is `tend ctl`: the client of tend's control socket
// (Client) and the command line around it (Main). What it takes for a
// verb, its usage line, and whether --wait applies are read from the
// verb table, api.Routes; what it prints for a verb is ctl.run.
package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"tend/api"
	"tend/internal/h1"
)

// Exit codes of `tend ctl`.
const (
	ExitOK          = 0 // done
	ExitFailed      = 1 // the action failed, or the state was not reached
	ExitUsage       = 2 // bad command line
	ExitUnreachable = 3 // cannot reach tend: no socket, refused, timed out
)

// usage is `tend ctl`'s usage; the verbs' lines come from the verb
// table (api.Routes).
func usage() string {
	var b strings.Builder
	b.WriteString("usage: tend ctl [--socket PATH] [--json] [--timeout D] VERB [ARGS]\n\nverbs:\n")
	for _, rt := range api.Routes {
		for i, line := range strings.Split(rt.Help, "\n") {
			first := ""
			if i == 0 {
				first = strings.TrimSpace(string(rt.Verb) + " " + rt.Args)
			}
			fmt.Fprintf(&b, "  %-21s  %s\n", first, line)
		}
	}
	b.WriteString(usageTail)
	return b.String()
}

const usageTail = `
NAME is a program name or a glob: web:0, 'web:*', '*' for all (quote globs
so the shell leaves them alone).

flags (before or after the verb):
  --socket PATH   control socket (default $TEND_SOCKET, else /run/tend.sock)
  --json          print JSON: the programs for status and actions, the
                  answer for health, each line for logs
  --wait          start, restart: wait until each program is RUNNING (COMPLETED
                  for a oneshot); stop: until each is stopped
  --timeout D     give up after D (default 30s); events, logs: only to connect
  -f, --follow    logs: print new lines as they come, until interrupted
  -n, --lines N   logs: the last N lines first (default 100; tend keeps 1000)
  -h, --help      this text

exit codes: 0 done; 1 the action failed or the state was not reached;
2 usage; 3 cannot reach tend (no socket, connection refused, timed out).
`

// cmdline is a parsed `tend ctl` command line.
type cmdline struct {
	socket  string
	json    bool
	wait    bool
	timeout time.Duration
	help    bool
	follow  bool
	lines   int // -1: not given
	verb    api.Verb
	args    []string
}

// Main runs `tend ctl ARGS` (args without "ctl") and returns its exit
// code. SIGINT and SIGTERM end it: `events` then exits 0, anything else
// 1.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer stop()
	return runMain(ctx, args, os.Getenv, stdout, stderr)
}

func runMain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	a, err := parse(args, getenv)
	if a.help && err == nil {
		fmt.Fprint(stdout, usage())
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "tend ctl: %v\n\n%s", err, usage())
		return ExitUsage
	}
	c := &command{cmdline: a, client: NewClient(a.socket), stdout: stdout, stderr: stderr}
	return c.run(ctx)
}

// parse reads flags anywhere before a "--" and the verb and its
// arguments, and checks them.
func parse(args []string, getenv func(string) string) (cmdline, error) {
	a := cmdline{timeout: 30 * time.Second}
	fs := flag.NewFlagSet("tend ctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&a.socket, "socket", "", "")
	fs.BoolVar(&a.json, "json", false, "")
	fs.BoolVar(&a.wait, "wait", false, "")
	fs.DurationVar(&a.timeout, "timeout", a.timeout, "")
	fs.BoolVar(&a.help, "h", false, "")
	fs.BoolVar(&a.help, "help", false, "")
	fs.BoolVar(&a.follow, "f", false, "")
	fs.BoolVar(&a.follow, "follow", false, "")
	a.lines = -1
	fs.IntVar(&a.lines, "n", -1, "")
	fs.IntVar(&a.lines, "lines", -1, "")

	var pos []string
	for rest := args; len(rest) > 0; {
		if rest[0] == "--" {
			pos = append(pos, rest[1:]...)
			break
		}
		if err := fs.Parse(rest); err != nil {
			return a, err
		}
		// Parse stops at the first non-flag (take it, go on) or after
		// a "--" (the rest is all arguments).
		used := len(rest) - fs.NArg()
		if used > 0 && rest[used-1] == "--" {
			pos = append(pos, fs.Args()...)
			break
		}
		rest = fs.Args()
		if len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
	}
	if a.help {
		return a, nil
	}
	if a.socket == "" {
		a.socket = getenv("TEND_SOCKET")
	}
	if a.socket == "" {
		a.socket = api.DefaultSocket
	}
	if a.timeout <= 0 {
		return a, errors.New("--timeout must be positive")
	}
	if len(pos) == 0 {
		return a, errors.New("missing VERB")
	}
	a.verb, a.args = api.Verb(pos[0]), pos[1:]

	// The arguments a verb takes are what its route carries.
	rt, ok := api.RouteOf(a.verb)
	if !ok {
		return a, fmt.Errorf("unknown verb %s", api.Printable(string(a.verb)))
	}
	names := a.args
	switch {
	case rt.Body == api.BodyScale:
		if len(names) != 2 {
			return a, fmt.Errorf("%s needs NAME and N, the number of instances", a.verb)
		}
		if n, err := strconv.Atoi(names[1]); err != nil || n < 1 || n > api.MaxInstances {
			return a, fmt.Errorf("%s: N must be a number from 1 to %d, not %s", a.verb, api.MaxInstances, api.Printable(names[1]))
		}
		names = names[:1]
	case rt.Body == api.BodySignal:
		if len(names) < 2 {
			return a, fmt.Errorf("%s needs SIG and at least one NAME", a.verb)
		}
		if err := api.CheckSignal(names[0]); err != nil {
			return a, err
		}
		names = names[1:]
	case rt.Body == api.BodyNames:
		if len(names) == 0 {
			return a, fmt.Errorf("%s needs at least one NAME ('*' for all)", a.verb)
		}
	case rt.Query == api.QueryNone:
		if len(names) > 0 {
			return a, fmt.Errorf("%s takes no arguments", a.verb)
		}
	}
	if err := api.CheckNames(names); err != nil {
		return a, err
	}
	if a.wait && !rt.Wait {
		var can []string
		for _, r := range api.Routes {
			if r.Wait {
				can = append(can, string(r.Verb))
			}
		}
		return a, fmt.Errorf("--wait is for %s, not %s", strings.Join(can, ", "), a.verb)
	}
	if rt.Query != api.QueryLogs && (a.follow || a.lines != -1) {
		return a, fmt.Errorf("-f and -n are for logs, not %s", a.verb)
	}
	if a.lines < -1 {
		return a, errors.New("-n must be 0 or more")
	}
	return a, nil
}

// command runs one parsed command line.
type command struct {
	cmdline
	client         *Client
	stdout, stderr io.Writer
}

func (c *command) run(ctx context.Context) int {
	switch c.verb {
	case api.VerbEvents:
		return c.events(ctx)
	case api.VerbLogs:
		return c.logs(ctx)
	}
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	switch c.verb {
	case api.VerbStatus:
		progs, err := c.client.Status(tctx, c.args)
		if err != nil {
			return c.failNames(ctx, tctx, err)
		}
		if c.json {
			return c.printJSON(progs)
		}
		printStatus(c.stdout, progs, time.Now())
		return ExitOK
	case api.VerbHealth:
		reply, err := c.client.Health(tctx)
		if err != nil {
			return c.fail(ctx, err)
		}
		if c.json {
			c.printJSON(api.HealthBody{Healthy: reply.Healthy, Reason: reply.Reason})
		} else if reply.Healthy {
			fmt.Fprintln(c.stdout, "healthy")
		} else {
			fmt.Fprintf(c.stdout, "unhealthy: %s\n", oneLine(reply.Reason))
		}
		if !reply.Healthy {
			return ExitFailed
		}
		return ExitOK
	}
	if c.wait {
		return c.actAndWait(ctx, tctx)
	}
	if c.verb == api.VerbScale {
		n, _ := strconv.Atoi(c.args[1]) // parse checked it
		reply, err := c.client.Scale(tctx, c.args[0], n)
		if err != nil {
			return c.failNames(ctx, tctx, err)
		}
		return c.printActed(reply.Programs)
	}
	names, sig := c.args, ""
	if c.verb == api.VerbSignal {
		sig, names = c.args[0], c.args[1:]
	}
	reply, err := c.client.Do(tctx, c.verb, names, sig)
	if err != nil {
		return c.failNames(ctx, tctx, err)
	}
	return c.printActed(reply.Programs)
}

// noMatch starts tend's answer when a name matches no program (the
// supervisor's match).
const noMatch = "no program matches "

// maxListed is how many program names a failed match lists.
const maxListed = 20

// failNames is fail, and when the error is a name that matches no
// program, a line with the names that do exist, the first maxListed.
func (c *command) failNames(ctx, tctx context.Context, err error) int {
	code := c.fail(ctx, err)
	if e, ok := errors.AsType[*APIError](err); !ok || e.Code != h1.StatusUnprocessableEntity || !strings.HasPrefix(e.Msg, noMatch) {
		return code
	}
	progs, serr := c.client.Status(tctx, nil)
	if serr != nil {
		return code
	}
	names := make([]string, 0, min(len(progs), maxListed))
	for _, p := range progs[:min(len(progs), maxListed)] {
		names = append(names, api.Printable(p.Name))
	}
	line := "programs: " + strings.Join(names, ", ")
	switch {
	case len(progs) == 0:
		line = "tend runs no programs"
	case len(progs) > maxListed:
		line += fmt.Sprintf(" …and %d more", len(progs)-maxListed)
	}
	fmt.Fprintln(c.stderr, line)
	return code
}

// printActed prints the programs an action touched.
func (c *command) printActed(progs []api.Status) int {
	if c.json {
		return c.printJSON(progs)
	}
	switch c.verb {
	case api.VerbShutdown:
		fmt.Fprintln(c.stdout, "tend is shutting down")
	case api.VerbReload:
		fmt.Fprintln(c.stdout, "reloaded")
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	for _, p := range progs {
		fmt.Fprintf(tw, "%s\t%s\n", api.Printable(p.Name), api.Printable(string(p.State)))
	}
	tw.Flush()
	return ExitOK
}

// fail prints err and returns its exit code.
func (c *command) fail(ctx context.Context, err error) int {
	if ctx.Err() != nil {
		fmt.Fprintf(c.stderr, "tend ctl: %s: interrupted\n", c.verb)
		return ExitFailed
	}
	// Every line: a reload refused for a bad file names each problem on a
	// line of its own (file:line: key: message).
	fmt.Fprintf(c.stderr, "tend ctl: %s: %s\n", c.verb, strings.TrimSpace(err.Error()))
	if _, ok := errors.AsType[*UnreachableError](err); ok {
		return ExitUnreachable
	}
	if e, ok := errors.AsType[*APIError](err); ok && e.Code == h1.StatusGatewayTimeout {
		return ExitUnreachable // tend is there, its supervisor does not answer
	}
	return ExitFailed
}

func (c *command) printJSON(v any) int {
	if progs, ok := v.([]api.Status); ok && progs == nil {
		v = []api.Status{}
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(c.stderr, "tend ctl: %v\n", err)
		return ExitFailed
	}
	fmt.Fprintf(c.stdout, "%s\n", data)
	return ExitOK
}

// events prints every event as a JSON line until interrupted (exit 0),
// tend ends the stream (exit 0) or drops this reader (exit 1).
func (c *command) events(ctx context.Context) int {
	// Only opening the stream is bounded by --timeout: the request's
	// context governs the body too, so the timer is stopped once open.
	octx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(c.timeout, cancel)
	stream, err := c.client.Events(octx, c.args)
	if !timer.Stop() { // fired: octx is done, and the stream with it
		if stream != nil {
			stream.Close()
		}
		if ctx.Err() == nil {
			err = &UnreachableError{Socket: c.socket, Err: fmt.Errorf("no answer within %v", c.timeout)}
		}
	}
	if err != nil {
		return c.fail(ctx, err)
	}
	defer stream.Close()
	enc := json.NewEncoder(c.stdout)
	for {
		ev, err := stream.Next()
		switch {
		case err == nil:
			if enc.Encode(ev) != nil {
				return ExitFailed // stdout is gone
			}
		case errors.Is(err, io.EOF), ctx.Err() != nil:
			return ExitOK
		default:
			fmt.Fprintf(c.stderr, "tend ctl: events: %v\n", err)
			if _, ok := errors.AsType[*UnreachableError](err); ok {
				return ExitUnreachable
			}
			return ExitFailed
		}
	}
}

// logs prints the last lines the programs wrote, and with -f the lines
// that come after, until interrupted (exit 0), tend ends the stream (exit
// 0) or drops this reader (exit 1). Lines go to stdout, or to stderr for
// the programs' stderr, as the programs wrote them; each behind
// "program | " unless it comes from the one program named; with --json,
// as tend sends them.
func (c *command) logs(ctx context.Context) int {
	n := c.lines
	if n < 0 {
		n = api.DefaultLogLines
	}
	octx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(c.timeout, cancel)
	stream, err := c.client.Logs(octx, c.args, n, c.follow)
	if !timer.Stop() {
		if stream != nil {
			stream.Close()
		}
		if ctx.Err() == nil {
			err = &UnreachableError{Socket: c.socket, Err: fmt.Errorf("no answer within %v", c.timeout)}
		}
	}
	if err != nil {
		tctx, tcancel := context.WithTimeout(ctx, c.timeout)
		defer tcancel()
		return c.failNames(ctx, tctx, err)
	}
	defer stream.Close()
	one := ""
	if len(c.args) == 1 {
		one = c.args[0]
	}
	for {
		l, raw, err := stream.Next()
		switch {
		case err == nil:
			w := c.stdout
			if l.Stream == "stderr" && !c.json {
				w = c.stderr
			}
			var werr error
			switch {
			case c.json:
				_, werr = fmt.Fprintf(w, "%s\n", raw)
			case l.Program == one:
				_, werr = fmt.Fprintln(w, l.Line)
			default:
				_, werr = fmt.Fprintf(w, "%s | %s\n", api.Printable(l.Program), l.Line)
			}
			if werr != nil {
				return ExitFailed // stdout is gone
			}
		case errors.Is(err, io.EOF), ctx.Err() != nil:
			return ExitOK
		default:
			fmt.Fprintf(c.stderr, "tend ctl: logs: %v\n", err)
			if _, ok := errors.AsType[*UnreachableError](err); ok {
				return ExitUnreachable
			}
			return ExitFailed
		}
	}
}

// printStatus prints the status table: IN STATE is how long each program
// has been in its state, UPTIME how long its process has run (a pause
// and a resume leave it alone); READY is yes or no for a program with a
// process; CPU and MEM what its processes use; NEXT RUN, shown only when
// some program has one, is when a scheduled oneshot runs next; STATUS,
// last and only when some program has one, what programs said with
// STATUS= on their NOTIFY_SOCKET.
func printStatus(w io.Writer, progs []api.Status, now time.Time) {
	next := slices.ContainsFunc(progs, func(p api.Status) bool { return !p.NextRun.IsZero() })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	withText := slices.ContainsFunc(progs, func(p api.Status) bool { return p.StatusText != "" })
	head := "NAME\tSTATE\tIN STATE\tPID\tUPTIME\tHEALTH\tREADY\tEXIT\tCPU\tMEM"
	if next {
		head += "\tNEXT RUN"
	}
	if withText {
		head += "\tSTATUS"
	}
	fmt.Fprintln(tw, head)
	for _, p := range progs {
		pid, inState, uptime, health, ready, exit, cpu, mem := "-", "-", "-", "-", "-", "-", "-", "-"
		if !p.Since.IsZero() {
			inState = age(now.Sub(p.Since))
		}
		if p.Pid != 0 {
			pid = fmt.Sprint(p.Pid)
			if !p.Started.IsZero() {
				uptime = age(now.Sub(p.Started))
			}
			ready = "no"
			if p.Ready {
				ready = "yes"
			}
		}
		if p.Health != "" {
			health = api.Printable(string(p.Health))
		}
		if p.ExitCode != nil {
			exit = fmt.Sprint(*p.ExitCode)
		}
		if p.CPUSeconds != nil {
			cpu = cpuTime(*p.CPUSeconds)
		}
		if p.MemoryBytes != nil {
			mem = bytesIEC(*p.MemoryBytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", api.Printable(p.Name), api.Printable(string(p.State)), inState, pid, uptime, health, ready, exit, cpu, mem)
		if next {
			run := "-"
			if !p.NextRun.IsZero() {
				run = age(p.NextRun.Sub(now))
			}
			fmt.Fprintf(tw, "\t%s", run)
		}
		if withText {
			fmt.Fprintf(tw, "\t%s", api.Printable(p.StatusText))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// age formats a duration the way uptime columns do: 45s, 3m07s, 5h02m,
// 12d03h.
func age(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	s := int64(d / time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", s)
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", s/3600, s/60%60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, s/3600%24)
	}
}

// cpuTime formats CPU seconds as the CPU column shows them: 0.42s,
// 12.3s, then as age does (3m07s, 5h02m).
func cpuTime(s float64) string {
	switch {
	case s < 10:
		return fmt.Sprintf("%.2fs", s)
	case s < 60:
		return fmt.Sprintf("%.1fs", s)
	}
	return age(time.Duration(s * float64(time.Second)))
}

// bytesIEC formats a byte count as the MEM column shows it: 512K,
// 48.2M, 1.5G (powers of 1024, as ps and top count).
func bytesIEC(n uint64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%dB", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v < 10 {
		return fmt.Sprintf("%.1f%c", v, units[i])
	}
	return fmt.Sprintf("%.0f%c", v, units[i])
}

// oneLine keeps the first line of s.
func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
