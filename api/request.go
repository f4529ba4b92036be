package api

import "io"

// Request and Peer are what the control server hands the supervisor's
// loop: not on the wire, but the supervisor's side of the API, shared so
// that the supervisor (and the tests' fake loop) need not import the
// server.

// Request is one control action. The server sends it to the loop's
// channel; the loop answers exactly once on Reply (buffered, cap 1) and
// never blocks.
//
// The server has already validated what it sends: Verb has a row in
// Routes; every name is a non-empty, printable, valid path.Match
// pattern; Names is non-empty for start, stop, restart, signal, pause and
// resume and empty for reload, shutdown, health and events; Signal is
// non-empty (letters, digits, '+', '-') for signal only.
type Request struct {
	Verb Verb
	// Names are program names or globs (path.Match syntax: "web:*");
	// empty = all (status, health) or an error (others). A pattern that
	// matches no program should be an error ("no program matches x").
	Names []string
	// Signal is for "signal": a name or number as the user typed it
	// ("HUP", "SIGHUP", "1"); the loop parses it.
	Signal string
	// Instances is for "scale": how many instances Names[0] (one name)
	// is to have, 1 to MaxInstances.
	Instances int
	// Lines and Follow are for "logs": how many of the last lines to
	// give (0 or more; at most 1000 are kept), and whether to follow.
	// The loop answers with Reply.Logs; the server reads it.
	Lines  int
	Follow bool
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

// LogReader is the loop's answer to "logs": the kept output of the
// programs asked for (package logs' View), which the server reads on its
// own goroutine, never the loop's.
type LogReader interface {
	// Tail writes the last n lines, as JSON lines (LogLine); with follow
	// set, Wake then tells when More has more.
	Tail(w io.Writer, n int, follow bool) error
	// More writes the lines that came since the last Tail or More. An
	// error that is not w's says lines were lost: the reader is to be
	// dropped.
	More(w io.Writer) error
	Wake() <-chan struct{}
	// Close stops following.
	Close()
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
