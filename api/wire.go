package api

import (
	"encoding/json"
	"time"
)

// What the control API's answers carry, as JSON (docs/control.md).

// Reply is the supervisor's answer to one request.
type Reply struct {
	// Err is "" on success; else a one-line reason (unknown program, bad
	// signal, …).
	Err string `json:"error,omitempty"`
	// Programs is, for status, the matched programs; for start, stop,
	// restart, signal, pause, resume and reload, the programs acted on,
	// in their state right after the action was taken.
	Programs []Status `json:"programs,omitempty"`
	// Healthy is for health: every critical program is RUNNING and
	// healthy.
	Healthy bool `json:"healthy,omitempty"`
	// Reason is for health: one line, e.g. "web is BACKOFF".
	Reason string `json:"reason,omitempty"`
	// Logs is for logs: what the server reads and streams (never on the
	// wire itself).
	Logs LogReader `json:"-"`
	// Freezes and FrozenSeconds are, for status, how many times tend
	// found the container had been frozen, and for how long in all.
	Freezes       int     `json:"freezes,omitempty"`
	FrozenSeconds float64 `json:"frozen_seconds,omitempty"`
}

// Status is one program as `tend ctl status` shows it.
type Status struct {
	Name  string `json:"name"`
	State State  `json:"state"`
	// Health is "" when the program has no process.
	Health Health `json:"health,omitempty"`
	// Pid is the program's process (its group leader); 0 when none.
	Pid int `json:"pid"`
	// Since is when the program entered State.
	Since time.Time `json:"since,omitzero"`
	// Started is when its process started, while it has one: unlike
	// Since, a pause and a resume leave it alone.
	Started time.Time `json:"started,omitzero"`
	// ExitCode is the last run's exit code (128+S when killed by S); nil
	// before the first exit.
	ExitCode *int `json:"exit_code,omitempty"`
	// Restarts counts the starts after the first one.
	Restarts int  `json:"restarts"`
	Critical bool `json:"critical,omitempty"`
	// NextRun is, for a scheduled oneshot whose timetable runs, when it
	// runs next (wall clock, as tend expects it now).
	NextRun time.Time `json:"next_run,omitzero"`
	// Reason is why the program entered State, as the log line says.
	Reason string `json:"reason,omitempty"`
	// NextStart is when a program in BACKOFF starts again; zero in any
	// other state.
	NextStart time.Time `json:"next_start,omitzero"`
	// CPUSeconds and MemoryBytes are, for status, what the program's
	// processes use, read as the request came: summed over its cgroup,
	// or its process group (docs/supervisor.md, "Usage"). nil when it
	// has no process, or they could not be read.
	CPUSeconds  *float64 `json:"cpu_seconds,omitempty"`
	MemoryBytes *uint64  `json:"memory_bytes,omitempty"`
	// OOMKills counts the runs the kernel's OOM killer ended.
	OOMKills int `json:"oom_kills,omitempty"`
	// Ready: RUNNING, having said it is ready (with a ready setting),
	// and passing its readiness check (with one).
	Ready bool `json:"ready"`
	// StatusText is the last STATUS= the program's run sent on its
	// NOTIFY_SOCKET (ready = "notify"); "" when none.
	StatusText string `json:"status_text,omitempty"`
}

// MarshalJSON writes s with "paused":true when its state is PAUSED.
// State says it; the field stays on the wire, after the others, as
// docs/control.md has always shown it, for the clients that read it.
func (s Status) MarshalJSON() ([]byte, error) {
	type status Status // without this method
	return json.Marshal(struct {
		status
		Paused bool `json:"paused,omitempty"`
	}{status(s), s.State == Paused})
}

// Event is one state change of one program: the supervisor logs it
// (one line, with the fixed keys) and streams it to GET /v1/events, or
// one change of its health (State == From, Health set), or of its
// readiness (State == From, no Health).
type Event struct {
	Program  string    `json:"program"`
	State    State     `json:"state"`
	From     State     `json:"from"`
	Pid      int       `json:"pid"`
	Time     time.Time `json:"time"`
	ExitCode *int      `json:"exit_code,omitempty"`
	Signal   string    `json:"signal,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Health   Health    `json:"health,omitempty"`
	// Ready is whether the program is ready after the change.
	Ready bool `json:"ready"`
	// NextStart is when a change to BACKOFF starts the program again.
	NextStart time.Time `json:"next_start,omitzero"`
	// Failures (failed starts in a row, for BACKOFF and FATAL) and
	// RetryIn (BACKOFF's wait) go to tend's log line, not to the stream.
	Failures int           `json:"-"`
	RetryIn  time.Duration `json:"-"`
	// Kind is set for an event of tend's own rather than of a program
	// (Program is then ""): EventThaw, EventDraining. Such an event is
	// {"event":KIND,"time":…} with its own fields, and passes every
	// name filter of the stream.
	Kind string `json:"-"`
	// FrozenS is, for EventThaw, how long the container was frozen.
	FrozenS float64 `json:"-"`
}

// Kinds of tend's own events.
const (
	// EventThaw: tend found the container had been frozen (docker
	// pause), for FrozenS seconds, and ran every probe at once.
	EventThaw = "thaw"
	// EventDraining: a shutdown with [tend] drain began; tend is not
	// ready, and stops its programs once the drain is over.
	EventDraining = "draining"
)

// MarshalJSON writes a program's change with every field of Event, and
// one of tend's own events ({"event":"thaw","time":…,"frozen_s":…})
// with only those that mean something for it.
func (e Event) MarshalJSON() ([]byte, error) {
	if e.Kind != "" {
		return json.Marshal(struct {
			Kind    string    `json:"event"`
			Time    time.Time `json:"time"`
			FrozenS float64   `json:"frozen_s,omitempty"`
			Reason  string    `json:"reason,omitempty"`
		}{e.Kind, e.Time, e.FrozenS, e.Reason})
	}
	type plain Event // without this method
	return json.Marshal(plain(e))
}

// UnmarshalJSON reads either form MarshalJSON writes.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event // without this method
	var v struct {
		plain
		Kind    string  `json:"event"`
		FrozenS float64 `json:"frozen_s"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = Event(v.plain)
	e.Kind, e.FrozenS = v.Kind, v.FrozenS
	return nil
}

// LogLine is one line of a program's output, as `stdout = "json"` writes
// it on tend's stdout and GET /v1/logs streams it. Program is the
// instance ("web:0"), or a hook of it ("web(pre_stop)"); Stream is
// "stdout" or "stderr"; Line is the line without its '\n', each byte that
// is not UTF-8 as U+FFFD.
type LogLine struct {
	Time    time.Time `json:"time"`
	Program string    `json:"program"`
	Stream  string    `json:"stream"`
	Line    string    `json:"line"`
}

// Dropped is the last line of an events or logs stream whose reader was
// dropped for falling behind: {"dropped":true,"reason":"…"}.
type Dropped struct {
	Dropped bool   `json:"dropped"`
	Reason  string `json:"reason"`
}

// HealthBody is GET /v1/health's answer: healthy is always present.
type HealthBody struct {
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason,omitempty"`
}

// ErrorBody is every error's answer: {"error":"…"}.
type ErrorBody struct {
	Error string `json:"error"`
}
