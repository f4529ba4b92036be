// Package api is what tend and its clients (`tend ctl`, /metrics) say
// to each other: the verb table (verbs.go) that the control server routes
// by and `tend ctl` reads its usage and arguments from; what a request
// may name (names.go); the answers, events and statuses on the wire
// (wire.go); program states and health, typed (this file); and where
// tend listens by default. It imports nothing of tend's, so that the
// supervisor, the control server and the client can all share it; no
// state or health is spelled as a string literal anywhere else.
package api

// DefaultSocket is the control socket tend opens when [tend] does not
// set one, and where `tend ctl` looks for it without --socket or
// TEND_SOCKET.
const DefaultSocket = "/run/tend.sock"

// State is where a program is in its life (SPEC "Program states").
type State string

// Program states. STOPPED is the first: a program waits there until it
// is wanted and its dependencies are met.
const (
	Stopped   State = "STOPPED"
	Starting  State = "STARTING"
	Running   State = "RUNNING"
	Backoff   State = "BACKOFF"
	Stopping  State = "STOPPING"
	Exited    State = "EXITED"
	Fatal     State = "FATAL"
	Completed State = "COMPLETED"
	Failed    State = "FAILED"
	Paused    State = "PAUSED" // frozen by `tend ctl pause`
)

// Final reports whether st is an end a program stays in until someone
// acts: a critical program reaching one of the failed ones stops tend.
func (st State) Final() bool {
	return st == Exited || st == Fatal || st == Completed || st == Failed
}

// Failed reports whether st is an end that needs someone to act for the
// program to run again: FATAL, FAILED, or EXITED.
func (st State) Failed() bool {
	return st == Fatal || st == Failed || st == Exited
}

// Up reports whether st is what a start aims at: RUNNING, or COMPLETED
// for a oneshot.
func (st State) Up() bool { return st == Running || st == Completed }

// Down reports whether st has no process and none coming on its own:
// STOPPED or a final state.
func (st State) Down() bool { return st == Stopped || st.Final() }

// Health is what a program's health check says of it.
type Health string

// Health values. "" is a program with no process to check.
const (
	// HealthStarting: no verdict yet (start_period, or no probe has
	// ended since the program started).
	HealthStarting  Health = "starting"
	HealthHealthy   Health = "healthy"
	HealthUnhealthy Health = "unhealthy"
)
