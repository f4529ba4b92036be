package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"tend/config"
	"tend/internal/h1"
)

// Request limits: a name list longer than any real config, and names and
// signals far longer than any real one, are mistakes or attacks.
const (
	maxBody      = 64 << 10
	maxNames     = 1000
	maxNameLen   = config.MaxNameLen // a name the config accepts, ctl can ask for
	maxSignalLen = 32
)

// route is one endpoint: the verb it asks of the loop and what it takes.
// The control API's routes are also its verb table (routes): what `tend
// ctl` accepts for a verb, how it prints its usage, whether the server
// logs it as an action and whether --wait applies are read from the
// verb's row. Adding a verb is one row here, one case in the
// supervisor's serve (supervisor/requests.go) and its action.
type route struct {
	path   string
	method string
	verb   string
	body   bodyKind
	// query: the route takes ?name=PATTERN (repeatable).
	query bool
	// changes: the verb changes state; the server logs each request at
	// info with the peer's uid.
	changes bool
	// wait: `tend ctl VERB --wait` waits for the programs to get there.
	wait bool
	// args and help are the verb's line in `tend ctl`'s usage.
	args, help string
}

type bodyKind int

const (
	bodyNone   bodyKind = iota // GET: no body at all
	bodyEmpty                  // POST: empty, or {}
	bodyNames                  // POST: {"names":[…]} with at least one name
	bodySignal                 // POST: {"signal":"HUP","names":[…]}
)

// routes lists the endpoints, documented in docs/control.md. A slice
// rather than a map: the compiler lays a slice of constants out in the
// binary, where a map is built by code at start, which pulls this
// package's pages into the memory of every tend, ctl or not.
var routes = []route{
	{"/v1/status", "GET", VerbStatus, bodyNone, true, false, false,
		"[NAME...]", "programs and their state (all when no NAME)"},
	{"/v1/start", "POST", VerbStart, bodyNames, false, true, true,
		"NAME...", "start programs"},
	{"/v1/stop", "POST", VerbStop, bodyNames, false, true, true,
		"NAME...", "stop programs"},
	{"/v1/restart", "POST", VerbRestart, bodyNames, false, true, true,
		"NAME...", "stop, then start programs"},
	{"/v1/signal", "POST", VerbSignal, bodySignal, false, true, false,
		"SIG NAME...", "send SIG (HUP, SIGUSR1, 15, …) to the programs' process groups"},
	{"/v1/pause", "POST", VerbPause, bodyNames, false, true, false,
		"NAME...", "freeze programs (SIGSTOP to the group)"},
	{"/v1/resume", "POST", VerbResume, bodyNames, false, true, false,
		"NAME...", "thaw paused programs (SIGCONT)"},
	{"/v1/reload", "POST", VerbReload, bodyEmpty, false, true, false,
		"", "re-read the config: add, remove, restart changed programs"},
	{"/v1/events", "GET", VerbEvents, bodyNone, true, false, false,
		"[NAME...]", "print state changes as JSON lines until interrupted"},
	{"/v1/health", "GET", VerbHealth, bodyNone, false, false, false,
		"", "exit 0 when every critical program is RUNNING and healthy,\nelse print why and exit 1"},
	{"/v1/shutdown", "POST", VerbShutdown, bodyEmpty, false, true, false,
		"", "stop every program in order; tend exits"},
}

// verbRoute is the row of routes for verb.
func verbRoute(verb string) (route, bool) {
	for _, rt := range routes {
		if rt.verb == verb {
			return rt, true
		}
	}
	return route{}, false
}

// routeOf finds the endpoint for urlPath in table: routes, or the
// metrics listener's metricsRoutes.
func routeOf(table []route, urlPath string) (route, bool) {
	for _, rt := range table {
		if rt.path == urlPath {
			return rt, true
		}
	}
	return route{}, false
}

// httpError is a request the server refuses, with its HTTP status.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, a ...any) *httpError {
	return &httpError{h1.StatusBadRequest, fmt.Sprintf(format, a...)}
}

// lookup finds the route in table for method and path: 404 for an
// unknown path, 405 for a known path with the wrong method.
func lookup(table []route, method, urlPath string) (route, *httpError) {
	rt, ok := routeOf(table, urlPath)
	if !ok {
		return rt, &httpError{h1.StatusNotFound, fmt.Sprintf("no such endpoint: %s (see docs/control.md)", printable(urlPath))}
	}
	if method != rt.method {
		return rt, &httpError{h1.StatusMethodNotAllowed, fmt.Sprintf("%s takes %s, not %s", urlPath, rt.method, printable(method))}
	}
	return rt, nil
}

// decode turns an HTTP request's method, path, raw query and body into a
// Request for the loop (Peer, Reply, Events and Done not set yet), by the
// routes of table, or an *httpError saying why not. It never panics and
// accepts only what is well formed: see Request for what the loop may
// rely on.
func decode(table []route, method, urlPath, rawQuery string, body []byte) (Request, error) {
	rt, herr := lookup(table, method, urlPath)
	if herr != nil {
		return Request{}, herr
	}
	req := Request{Verb: rt.verb}

	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Request{}, badRequest("bad query string: %v", err)
	}
	for k, vs := range q {
		if k != "name" || !rt.query {
			return Request{}, badRequest("%s takes no query parameter %s", urlPath, printable(k))
		}
		req.Names = append(req.Names, vs...)
	}

	switch rt.body {
	case bodyNone:
		if len(body) != 0 {
			return Request{}, badRequest("%s %s takes no body", method, urlPath)
		}
	case bodyEmpty:
		if len(trimJSONSpace(body)) != 0 {
			if err := decodeJSON(body, &struct{}{}); err != nil {
				return Request{}, err
			}
		}
	case bodyNames:
		var b struct {
			Names []string `json:"names"`
		}
		if err := decodeJSON(body, &b); err != nil {
			return Request{}, err
		}
		req.Names = b.Names
	case bodySignal:
		var b struct {
			Signal string   `json:"signal"`
			Names  []string `json:"names"`
		}
		if err := decodeJSON(body, &b); err != nil {
			return Request{}, err
		}
		if err := checkSignal(b.Signal); err != nil {
			return Request{}, badRequest("%v", err)
		}
		req.Signal, req.Names = b.Signal, b.Names
	}

	if err := checkNames(req.Names); err != nil {
		return Request{}, badRequest("%v", err)
	}
	if (rt.body == bodyNames || rt.body == bodySignal) && len(req.Names) == 0 {
		return Request{}, badRequest(`%s needs at least one program name: {"names":["web"]}; "*" means all`, rt.verb)
	}
	return req, nil
}

// decodeJSON decodes one JSON object into v, strictly: no unknown
// fields, nothing after it.
func decodeJSON(body []byte, v any) error {
	trimmed := trimJSONSpace(body)
	if len(trimmed) == 0 {
		return badRequest("missing JSON body")
	}
	if trimmed[0] != '{' {
		return badRequest("request body: want a JSON object")
	}
	if !utf8.Valid(trimmed) {
		// encoding/json would quietly turn it into U+FFFD.
		return badRequest("request body: not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("request body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("request body: data after the JSON object")
	}
	return nil
}

// trimJSONSpace trims the whitespace JSON allows around a value: space,
// tab, CR and LF. Not bytes.TrimSpace, which also takes \v, \f and
// Unicode spaces, and so let through a body that is not JSON (the
// fuzzer's testdata/fuzz/FuzzDecode/f4e088f7d5f7f34c).
func trimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

// checkNames validates program names or glob patterns.
func checkNames(names []string) error {
	if len(names) > maxNames {
		return fmt.Errorf("too many names: %d, at most %d", len(names), maxNames)
	}
	for _, n := range names {
		if err := CheckName(n); err != nil {
			return err
		}
	}
	return nil
}

// CheckName reports whether name is acceptable as a program name or
// glob: non-empty, at most 256 bytes of printable UTF-8, and a valid
// path.Match pattern.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("empty program name")
	case len(name) > maxNameLen:
		return fmt.Errorf("program name longer than %d bytes", maxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("program name %q is not valid UTF-8", name)
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("program name %q has unprintable characters", name)
	}
	if _, err := path.Match(name, ""); err != nil {
		return fmt.Errorf("program name %q: bad glob pattern", name)
	}
	return nil
}

// checkSignal validates the shape of a signal as typed ("HUP",
// "SIGRTMIN+3", "15"); the loop decides whether it names a signal.
func checkSignal(sig string) error {
	if sig == "" {
		return errors.New(`missing signal: {"signal":"HUP","names":[…]}`)
	}
	if len(sig) > maxSignalLen {
		return fmt.Errorf("signal longer than %d bytes", maxSignalLen)
	}
	for _, r := range sig {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-') {
			return fmt.Errorf("bad signal %q: want a name like HUP or a number", sig)
		}
	}
	return nil
}

// printable quotes s for an error message when it holds anything odd,
// and cuts it short: error text must not carry a client's garbage.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || r == utf8.RuneError }) >= 0 {
		return fmt.Sprintf("%q", s)
	}
	return s
}
