package api

// Verb is what a control request asks of tend: `tend ctl VERB`, and the
// last element of its route's path, /v1/VERB.
type Verb string

// The verbs, each with its row in Routes.
const (
	VerbStatus   Verb = "status"
	VerbStart    Verb = "start"
	VerbStop     Verb = "stop"
	VerbRestart  Verb = "restart"
	VerbSignal   Verb = "signal"
	VerbPause    Verb = "pause"
	VerbResume   Verb = "resume"
	VerbReload   Verb = "reload"
	VerbShutdown Verb = "shutdown"
	VerbHealth   Verb = "health"
	VerbEvents   Verb = "events"
	VerbLogs     Verb = "logs"
	VerbScale    Verb = "scale"
)

// BodyKind is what a route's request carries in its body.
type BodyKind int

const (
	BodyNone   BodyKind = iota // GET: no body at all
	BodyEmpty                  // POST: empty, or {}
	BodyNames                  // POST: {"names":[…]} with at least one name
	BodySignal                 // POST: {"signal":"HUP","names":[…]}
	BodyScale                  // POST: {"name":"worker","instances":3}
)

// QueryKind is what a route takes in its query string.
type QueryKind int

const (
	QueryNone  QueryKind = iota // no query string
	QueryNames                  // ?name=PATTERN (repeatable)
	QueryLogs                   // ?name=PATTERN, and ?n=LINES, ?follow=true (logs)
)

// Route is one row of the verb table: where a verb is asked, what it
// carries, and what the server and `tend ctl` make of it.
type Route struct {
	Verb   Verb
	Path   string
	Method string
	Body   BodyKind
	// Query is what the route takes in its query string.
	Query QueryKind
	// Changes: the verb changes state; the server logs each request at
	// info with the peer's uid (the audit trail).
	Changes bool
	// Wait: `tend ctl VERB --wait` waits for the programs to get there.
	Wait bool
	// Args and Help are the verb's line in `tend ctl`'s usage.
	Args, Help string
}

// Routes is the verb table, documented in docs/control.md: the control
// server routes by it, and `tend ctl` reads from a verb's row what it
// takes, how its usage reads, and whether --wait applies. Adding a verb
// is one row here, one case in the supervisor's serve
// (supervisor/requests.go) and its action (supervisor/actions.go).
//
// A slice rather than a map: the compiler lays a slice of constants out
// in the binary, where a map is built by code at start, which pulls this
// package's pages into the memory of every tend, ctl or not.
var Routes = []Route{
	{VerbStatus, "/v1/status", "GET", BodyNone, QueryNames, false, false,
		"[NAME...]", "programs and their state (all when no NAME)"},
	{VerbStart, "/v1/start", "POST", BodyNames, QueryNone, true, true,
		"NAME...", "start programs"},
	{VerbStop, "/v1/stop", "POST", BodyNames, QueryNone, true, true,
		"NAME...", "stop programs"},
	{VerbRestart, "/v1/restart", "POST", BodyNames, QueryNone, true, true,
		"NAME...", "stop, then start programs"},
	{VerbSignal, "/v1/signal", "POST", BodySignal, QueryNone, true, false,
		"SIG NAME...", "send SIG (HUP, SIGUSR1, 15, …) to the programs' process groups"},
	{VerbPause, "/v1/pause", "POST", BodyNames, QueryNone, true, false,
		"NAME...", "freeze programs (their cgroups' freezer, else SIGSTOP to the group)"},
	{VerbResume, "/v1/resume", "POST", BodyNames, QueryNone, true, false,
		"NAME...", "thaw paused programs (the freezer, or SIGCONT)"},
	{VerbReload, "/v1/reload", "POST", BodyEmpty, QueryNone, true, false,
		"", "re-read the config: add, remove, restart changed programs"},
	{VerbEvents, "/v1/events", "GET", BodyNone, QueryNames, false, false,
		"[NAME...]", "print state changes as JSON lines until interrupted"},
	{VerbLogs, "/v1/logs", "GET", BodyNone, QueryLogs, false, false,
		"[NAME...]", "the last lines the programs wrote (-n N: N of them, default 100);\n-f: then each new one, until interrupted"},
	{VerbScale, "/v1/scale", "POST", BodyScale, QueryNone, true, false,
		"NAME N", "run N instances of program NAME until the next reload:\nstart the new ones, stop the surplus, highest first"},
	{VerbHealth, "/v1/health", "GET", BodyNone, QueryNone, false, false,
		"", "exit 0 when every critical program is RUNNING and healthy,\nelse print why and exit 1"},
	{VerbShutdown, "/v1/shutdown", "POST", BodyEmpty, QueryNone, true, false,
		"", "stop every program in order; tend exits"},
}

// RouteOf is the row of Routes for verb.
func RouteOf(verb Verb) (Route, bool) {
	for _, rt := range Routes {
		if rt.Verb == verb {
			return rt, true
		}
	}
	return Route{}, false
}
