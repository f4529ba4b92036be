// Command tend is a container init and process supervisor: as PID 1 it
// forwards signals to its child's process group, reaps every zombie and
// exits with the child's code; with a TOML file it supervises programs.
//
// See README.md and docs/ for the whole story; ../shared/SPEC.md is the
// contract.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/rs/zerolog"

	"tend/api"
	"tend/config"
	"tend/control"
	"tend/ctl"
	_ "tend/gomaxprocs" // one P, set before the other inits allocate
	"tend/internal/safe"
	"tend/logs"
	"tend/notify"
	"tend/signals"
	"tend/supervisor"
)

func main() {
	// The tools first: they are no init, and keep the signals' defaults,
	// so that Ctrl-C stops a tend ctl --wait.
	if code, ok := tool(os.Args[1:]); ok {
		os.Exit(code)
	}
	if c, err := parseArgs(os.Args[1:], os.Getenv); err == nil && c.tool != "" {
		// A tool after the image's ENTRYPOINT flags: `docker run IMAGE
		// check` runs `tend check` on the ENTRYPOINT's -c FILE.
		os.Exit(entrypointTool(c))
	}
	// Then, before anything can fail or block: until a signal is
	// subscribed the Go runtime dies of TERM, and a PID 1 without a
	// handler never sees it at all. Signals that arrive from here on
	// wait in the subscription's channels until the loop runs.
	sub := signals.Subscribe()
	os.Exit(run(os.Args[1:], sub))
}

// tool runs tend version, check, ctl or import, and says whether args
// named one.
func tool(args []string) (int, bool) {
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case "version":
		fmt.Println("tend", version())
		return 0, true
	case "check":
		return runCheck(args[1:], os.Getenv, os.Stdout, os.Stderr), true
	case "ctl":
		return ctl.Main(args[1:], os.Stdout, os.Stderr), true
	case "import":
		return runImport(args[1:], os.Stdout, os.Stderr), true
	}
	return 0, false
}

// entrypointTool runs the tool c names after tend's flags, with their
// -c FILE as the tool's default config.
func entrypointTool(c cli) int {
	getenv := func(k string) string {
		if k == "TEND_CONFIG" {
			return c.config
		}
		return os.Getenv(k)
	}
	switch c.tool {
	case "check":
		return runCheck(c.toolArgs, getenv, os.Stdout, os.Stderr)
	default:
		code, _ := tool(append([]string{c.tool}, c.toolArgs...))
		return code
	}
}

func run(args []string, sub signals.Subscription) int {
	c, err := parseArgs(args, os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tend: %v\n\n%s", err, usage)
		return exitUsage
	}
	if c.help {
		fmt.Print(usage)
		return 0
	}
	var cfg *config.Config
	if c.config != "" {
		if cfg, err = config.Load(c.config); err != nil {
			// Nothing has started: a bad file starts nothing.
			fmt.Fprintf(os.Stderr, "%v\n", err)
			return exitUsage
		}
		if !c.logFormatSet {
			c.logFormat = cfg.Tend.LogFormat
		}
	}
	// tend's log and the programs' prefixed lines share one lock per
	// stream, so a line of one never lands inside a line of the other.
	stdout, stderr := logs.NewDest(os.Stdout), logs.NewDest(os.Stderr)
	if cfg != nil {
		// Programs' output may be copied there (docs/logs.md).
		logs.GrowPipe(os.Stdout)
		logs.GrowPipe(os.Stderr)
	}
	log := newLogger(stderr, c.logFormat, c.verbose, cfg != nil)
	opts := supervisor.Options{
		Stdout:   stdout,
		Stderr:   stderr,
		Config:   cfg,
		Main:     c.cmd,
		NoGroup:  c.noGroup,
		Grace:    c.grace,
		Drain:    c.drain,
		Rewrite:  c.rewrite,
		ExitZero: c.exitZero,
		Log:      log,
		// -v logs every signal the handler forwards, at the cost of a
		// wake-up each: the forwarding path is otherwise tini's.
		LogForwarded: c.verbose > 0,
	}
	if cfg != nil {
		// tend's own service manager, if it has one (podman
		// --sdnotify=container, systemd Type=notify).
		nc, err := notify.FromEnv()
		if err != nil {
			log.Warn().Err(err).Msg("NOTIFY_SOCKET is set but unusable: tend will not report readiness to it")
		} else if nc != nil {
			opts.Notify = nc
			defer nc.Close()
		}
		reqs := make(chan api.Request)
		opts.Requests = reqs
		if cfg.Tend.Socket != "" {
			stop, err := serveControl(cfg, reqs, log)
			if err != nil {
				fmt.Fprintf(os.Stderr, "tend: %v\n", err)
				return exitUsage
			}
			defer stop()
		}
		if cfg.Tend.Metrics != "" {
			defer serveMetrics(cfg.Tend.Metrics, reqs, log)()
		}
	}
	startLine(log, c, cfg)
	return supervisor.New(opts, sub).Run()
}

// startLine logs what this tend is: version, mode, config and how many
// programs, at info level (supervisor mode shows it; init mode is quiet,
// as tini is, unless -v).
func startLine(log zerolog.Logger, c cli, cfg *config.Config) {
	ev := log.Info()
	if !ev.Enabled() {
		// Init mode, quiet: not even the version is read (the build
		// info's pages would be tend's memory from then on).
		return
	}
	mode, n := "init", 0
	if cfg != nil {
		mode, n = "supervisor", len(cfg.Programs)
		if c.cmd != nil {
			mode = "supervisor with a main program"
		}
	}
	if c.cmd != nil {
		n++
	}
	ev = ev.Str("version", version()).Str("mode", mode)
	if cfg != nil {
		ev = ev.Str("config", cfg.File)
	}
	ev.Int("programs", n).Int("pid", os.Getpid()).Msg("tend starting")
}

// serveControl opens the control socket and serves it on a goroutine.
// A socket that cannot be opened is logged and left out: the programs
// still run, and tend ctl says it cannot reach tend (exit 3). But a path
// held by something else, or a directory another user could swap the
// socket in (control.ErrRefused), is an error: tend does not start, as
// every tend ctl would talk to the squatter.
func serveControl(cfg *config.Config, reqs chan<- api.Request, log zerolog.Logger) (stop func(), err error) {
	ln, err := control.Listen(cfg.Tend.Socket, cfg.Tend.SocketMode, cfg.Tend.SocketGroup)
	if errors.Is(err, control.ErrRefused) {
		return nil, err
	}
	if err != nil {
		log.Error().Err(err).Msg("control socket disabled")
		return func() {}, nil
	}
	stopServer := serveOn("control server", ln, control.Serve, reqs, log)
	log.Debug().Str("socket", cfg.Tend.Socket).Msg("control socket listening")
	return func() {
		stopServer()
		os.Remove(cfg.Tend.Socket)
	}, nil
}

// serveMetrics listens on addr for /metrics, /healthz and /readyz and
// serves them on a goroutine. An address that cannot be listened on is
// logged and left out, as the control socket is.
func serveMetrics(addr string, reqs chan<- api.Request, log zerolog.Logger) (stop func()) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error().Err(err).Msg("metrics listener disabled")
		return func() {}
	}
	// At info: with port 0 this is where the port is told.
	log.Info().Str("metrics", ln.Addr().String()).Msg("metrics listening")
	return serveOn("metrics server", ln, control.ServeMetrics, reqs, log)
}

// serveOn serves ln with serve on a goroutine, and returns what stops
// it: closing ln, then waiting for open requests and event streams to
// end cleanly (tend ctl events exits 0), but never holding tend's exit
// for long.
func serveOn(name string, ln net.Listener, serve func(net.Listener, chan<- api.Request, zerolog.Logger) error,
	reqs chan<- api.Request, log zerolog.Logger) (stop func()) {
	served := make(chan struct{})
	safe.Go(log, name, func() {
		defer close(served)
		if err := serve(ln, reqs, log); err != nil {
			log.Error().Err(err).Msg(name + " stopped")
		}
	})
	return func() {
		ln.Close()
		select {
		case <-served:
		case <-time.After(2 * time.Second):
		}
	}
}
