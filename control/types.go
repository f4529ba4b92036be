// Package control is tend's control channel: HTTP+JSON on a unix socket.
//
// It holds three things: the types the server and the supervisor loop
// exchange (this file), the server that turns HTTP requests into those
// messages (Listen, Serve), and the client behind `tend ctl` (Client,
// Main). The package owns no process state: every request becomes one
// Request sent to the loop's channel, and the loop answers it. Routes
// and wire formats are in docs/control.md.
package control

import (
	"time"

	"tend/api"
)

// Verbs: the value of Request.Verb.
const (
	VerbStatus   = "status"
	VerbStart    = "start"
	VerbStop     = "stop"
	VerbRestart  = "restart"
	VerbSignal   = "signal"
	VerbPause    = "pause"
	VerbResume   = "resume"
	VerbReload   = "reload"
	VerbShutdown = "shutdown"
	VerbHealth   = "health"
	VerbEvents   = "events"
)

// Request is one control action. The server sends it to the loop's
// channel; the loop answers exactly once on Reply (buffered, cap 1) and
// never blocks.
//
// The server has already validated what it sends: Verb is one of the
// Verb constants; every name is a non-empty, printable, valid path.Match
// pattern; Names is non-empty for start, stop, restart, signal, pause and
// resume and empty for reload, shutdown, health and events; Signal is
// non-empty (letters, digits, '+', '-') for signal only.
type Request struct {
	// Verb is "status", "start", "stop", "restart", "signal", "pause",
	// "resume", "reload", "shutdown", "health" or "events".
	Verb string
	// Names are program names or globs (path.Match syntax: "web:*");
	// empty = all (status, health) or an error (others). A pattern that
	// matches no program should be an error ("no program matches x").
	Names []string
	// Signal is for "signal": a name or number as the user typed it
	// ("HUP", "SIGHUP", "1"); the loop parses it.
	Signal string
	// Peer is who asked (SO_PEERCRED), for the audit log.
	Peer Peer
	// Reply is buffered (cap 1): the loop's one send never blocks, even
	// when the server has given up waiting.
	Reply chan Reply

	// Events is for "events" only: the loop registers Events as a
	// subscriber, replies once (Reply) to confirm, then sends one Event
	// per state change, never blocking (select with default). A
	// subscriber that falls behind (channel full) is dropped: the loop
	// closes Events and sends nothing more; the server then writes a
	// final JSON line {"dropped":true,"reason":"..."} and ends the
	// stream. The server creates Events with a bounded capacity (256).
	Events chan Event
	// Done is closed by the server when the client goes away (or the
	// server gave up before the loop answered), so the loop can forget
	// an events subscriber: it checks Done with a non-blocking select
	// when it sends. Once Done is closed nobody reads Events: the loop
	// forgets the subscriber (closing Events then is harmless).
	Done <-chan struct{}
}

// Peer is the process on the other end of the socket, from SO_PEERCRED
// at connection time. When the credentials cannot be read (not a unix
// socket), UID and GID are UnknownID and PID is 0.
type Peer struct {
	UID, GID uint32
	PID      int32
}

// UnknownID is Peer.UID and Peer.GID when the peer's credentials could
// not be read: (uid_t)-1, which no real user has.
const UnknownID = ^uint32(0)

// Reply is the loop's answer to one Request.
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
}

// Status is one program as `tend ctl status` shows it.
type Status struct {
	Name  string    `json:"name"`
	State api.State `json:"state"`
	// Health is "" when the program has no process.
	Health api.Health `json:"health,omitempty"`
	// Pid is the program's process (its group leader); 0 when none.
	Pid int `json:"pid"`
	// Since is when the program entered State.
	Since time.Time `json:"since,omitzero"`
	// ExitCode is the last run's exit code (128+S when killed by S); nil
	// before the first exit.
	ExitCode *int `json:"exit_code,omitempty"`
	// Restarts counts the starts after the first one.
	Restarts int  `json:"restarts"`
	Critical bool `json:"critical,omitempty"`
	Paused   bool `json:"paused,omitempty"`
	// Reason is why the program entered State, as the log line says.
	Reason string `json:"reason,omitempty"`
	// NextStart is when a program in BACKOFF starts again; zero in any
	// other state.
	NextStart time.Time `json:"next_start,omitzero"`
}

// Event is one state change, as streamed by GET /v1/events.
type Event struct {
	Program  string     `json:"program"`
	State    api.State  `json:"state"`
	From     api.State  `json:"from"`
	Pid      int        `json:"pid"`
	Time     time.Time  `json:"time"`
	ExitCode *int       `json:"exit_code,omitempty"`
	Signal   string     `json:"signal,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	Health   api.Health `json:"health,omitempty"`
	// NextStart is when a change to BACKOFF starts the program again.
	NextStart time.Time `json:"next_start,omitzero"`
}

// dropped is the last line of an events stream whose subscriber the
// loop dropped for falling behind.
type dropped struct {
	Dropped bool   `json:"dropped"`
	Reason  string `json:"reason"`
}
