package control

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"tend/api"
	"tend/internal/h1"
)

// The metrics listener, [tend] metrics = "host:port": a TCP listener of
// its own beside the control socket, for Prometheus and for HTTP probes.
// It answers three GETs and nothing else: nothing that changes state can
// be asked over it, as TCP carries no peer credentials to check or to
// log. Formats: docs/control.md.

// ServeMetrics answers GET /metrics, /healthz and /readyz on ln until ln
// is closed, with the connection handling, limits and timeouts of Serve.
func ServeMetrics(ln net.Listener, reqs chan<- api.Request, log zerolog.Logger) error {
	return serveWith(ln, reqs, log, defaultOptions, (*server).handleMetrics)
}

// metricsRoutes are the metrics listener's routes, read as the control
// API's are (server.read): /metrics asks the loop for health, then
// status; /healthz and /readyz for health. A slice of constants, as
// api.Routes is: no package init.
var metricsRoutes = []api.Route{
	{Path: pathMetrics, Method: "GET", Verb: api.VerbStatus, Body: api.BodyNone},
	{Path: pathHealthz, Method: "GET", Verb: api.VerbHealth, Body: api.BodyNone},
	{Path: pathReadyz, Method: "GET", Verb: api.VerbHealth, Body: api.BodyNone},
}

const (
	pathMetrics = "/metrics"
	pathHealthz = "/healthz"
	pathReadyz  = "/readyz"
)

// Content types of the metrics listener's answers: Prometheus's text
// exposition format, and plain text for the probes.
const (
	metricsType = "text/plain; version=0.0.4; charset=utf-8"
	textType    = "text/plain; charset=utf-8"
)

// handleMetrics answers one request on the metrics listener.
func (s *server) handleMetrics(x *exchange) {
	req, ok := s.read(x, metricsRoutes)
	if !ok {
		return
	}
	ctx, stop := s.watch(x)
	defer stop()

	health, herr := s.askAudited(ctx, api.Request{Verb: api.VerbHealth, Peer: req.Peer})
	if herr != nil {
		s.writeError(x, herr)
		return
	}
	switch x.req.Path {
	case pathHealthz: // the loop answers: tend is alive
		s.writeText(x, h1.StatusOK, textType, []byte("ok\n"))
	case pathReadyz:
		if health.Healthy {
			s.writeText(x, h1.StatusOK, textType, []byte("ok\n"))
		} else {
			s.writeText(x, h1.StatusServiceUnavailable, textType, []byte(health.Reason+"\n"))
		}
	case pathMetrics:
		status, herr := s.askAudited(ctx, req)
		if herr != nil {
			s.writeError(x, herr)
			return
		}
		var b bytes.Buffer
		writeMetrics(&b, status, health.Healthy)
		s.writeText(x, h1.StatusOK, metricsType, b.Bytes())
	}
}

// labelValue escapes a label value as the text format wants: backslash,
// double quote and newline, nothing else. A function, not a package-level
// strings.Replacer: that would give this package an init, which every
// tend runs at start, init mode too (see TestInits).
func labelValue(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// writeMetrics writes the programs and tend's health in the Prometheus
// text exposition format, one family after another, the programs in the
// loop's order.
func writeMetrics(b *bytes.Buffer, status api.Reply, healthy bool) {
	progs := status.Programs
	family := func(name, typ, help string, each func(p api.Status) (value string, ok bool)) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, p := range progs {
			if v, ok := each(p); ok {
				fmt.Fprintf(b, "%s{program=\"%s\"} %s\n", name, labelValue(p.Name), v)
			}
		}
	}
	bit := func(on bool) string {
		if on {
			return "1"
		}
		return "0"
	}

	fmt.Fprintf(b, "# HELP tend_healthy 1 when every critical program is RUNNING, healthy and ready: tend ctl health exits 0, /readyz answers 200.\n"+
		"# TYPE tend_healthy gauge\ntend_healthy %s\n", bit(healthy))
	fmt.Fprintf(b, "# HELP tend_freezes_total Times tend found the container had been frozen (docker pause), not counting stalls of the host.\n"+
		"# TYPE tend_freezes_total counter\ntend_freezes_total %d\n", status.Freezes)
	fmt.Fprintf(b, "# HELP tend_frozen_seconds_total How long the container was frozen, in all.\n"+
		"# TYPE tend_frozen_seconds_total counter\ntend_frozen_seconds_total %s\n", strconv.FormatFloat(status.FrozenSeconds, 'f', 3, 64))
	family("tend_program_up", "gauge", "1 when the program is RUNNING.",
		func(p api.Status) (string, bool) { return bit(p.State == api.Running), true })
	fmt.Fprintf(b, "# HELP tend_program_state The program's state, as tend ctl status shows it: one series, of value 1, per program.\n"+
		"# TYPE tend_program_state gauge\n")
	for _, p := range progs {
		fmt.Fprintf(b, "tend_program_state{program=\"%s\",state=\"%s\"} 1\n", labelValue(p.Name), labelValue(string(p.State)))
	}
	family("tend_program_healthy", "gauge", "1 when the program's health check passes, 0 while it is starting or failing; absent for a program with no health check or no process.",
		func(p api.Status) (string, bool) { return bit(p.Health == api.HealthHealthy), p.Health != "" })
	family("tend_program_ready", "gauge", "1 when the program is ready: RUNNING, having said so (with a ready setting), and passing its readiness check (with one).",
		func(p api.Status) (string, bool) { return bit(p.Ready), true })
	family("tend_program_restarts_total", "counter", "Starts of the program after its first.",
		func(p api.Status) (string, bool) { return strconv.Itoa(p.Restarts), true })
	family("tend_program_state_since_seconds", "gauge", "When the program entered its state, in seconds since the Unix epoch.",
		func(p api.Status) (string, bool) {
			return strconv.FormatFloat(float64(p.Since.UnixMilli())/1e3, 'f', 3, 64), !p.Since.IsZero()
		})
	family("tend_program_next_start_seconds", "gauge", "When a program in BACKOFF starts again, in seconds since the Unix epoch; absent in any other state.",
		func(p api.Status) (string, bool) {
			return strconv.FormatFloat(float64(p.NextStart.UnixMilli())/1e3, 'f', 3, 64), !p.NextStart.IsZero()
		})
	family("tend_program_exit_code", "gauge", "The exit code of the program's last run (128+N if signal N killed it); absent before its first exit.",
		func(p api.Status) (string, bool) {
			if p.ExitCode == nil {
				return "", false
			}
			return strconv.Itoa(*p.ExitCode), true
		})
	family("tend_program_cpu_seconds_total", "counter", "CPU time (user and system) of the program's processes: its cgroup's, exited processes included, or its process group's live members'; absent for a program with no process.",
		func(p api.Status) (string, bool) {
			if p.CPUSeconds == nil {
				return "", false
			}
			return strconv.FormatFloat(*p.CPUSeconds, 'f', 3, 64), true
		})
	family("tend_program_memory_bytes", "gauge", "Memory of the program's processes: its cgroup's memory.current, or the resident sets of its processes summed; absent for a program with no process.",
		func(p api.Status) (string, bool) {
			if p.MemoryBytes == nil {
				return "", false
			}
			return strconv.FormatUint(*p.MemoryBytes, 10), true
		})
	family("tend_oom_kills_total", "counter", "Runs of the program the kernel's OOM killer ended (reason oom-killed).",
		func(p api.Status) (string, bool) { return strconv.Itoa(p.OOMKills), true })
}

// writeText writes body as the answer, bounded by writeTimeout.
func (s *server) writeText(x *exchange, code int, contentType string, body []byte) {
	_ = x.c.SetWriteDeadline(time.Now().Add(s.opt.writeTimeout))
	h := append(x.header, h1.Field{Name: "Content-Type", Value: contentType})
	_ = x.req.Respond(x.c, code, h, body)
}
