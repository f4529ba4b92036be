// Package notify carries readiness from programs to tend and from tend
// to whoever started it:
//
//   - Server and Socket: one sd_notify datagram socket per program, in a
//     directory tend owns, reachable by that program's user alone; what
//     arrives from the program's process group is parsed (Parse),
//     coalesced per socket (Update) and handed to the supervisor loop
//     through one wake-up channel, without ever blocking it.
//   - Pipe: s6-style readiness, a pipe whose write end becomes fd N of
//     the program; the first newline on it means ready.
//   - Client: tend's own sd_notify client, for NOTIFY_SOCKET in tend's
//     environment (systemd Type=notify, podman --sdnotify=container), and
//     Strip, which keeps that socket from tend's programs.
//
// docs/readiness.md says what each message means and the limits.
package notify

import (
	"bytes"
	"unicode/utf8"
)

// MaxMessage is the longest datagram read, in bytes: a longer one is
// dropped whole. It is systemd's limit (PIPE_BUF), so whatever a program
// sends to systemd fits.
const MaxMessage = 4096

// MaxStatus is the longest STATUS= text kept, in bytes: it is shown on
// one line in `tend ctl status` and in the log. A longer one is cut at a
// character boundary.
const MaxStatus = 256

// Message is what one datagram says. Keys tend does not know (MAINPID=,
// ERRNO=, FDSTORE=, EXTEND_TIMEOUT_USEC=, BARRIER=, ...) are ignored,
// and so are known keys with other values (READY=0).
type Message struct {
	Ready     bool // READY=1: started, or done reloading
	Reloading bool // RELOADING=1: reloading, not ready until READY=1
	Stopping  bool // STOPPING=1: shutting down
	// Watchdog is WATCHDOG=1, the keep-alive; WatchdogTrigger is
	// WATCHDOG=trigger, the program asking to be treated as hung.
	Watchdog, WatchdogTrigger bool
	// Status is the last STATUS= line's text, cleaned (see CleanStatus);
	// HasStatus tells an empty STATUS= (which clears it) from none.
	Status    string
	HasStatus bool
}

// Parse reads one datagram of the sd_notify protocol: KEY=VALUE
// assignments, one a line. ok is false for a datagram holding a NUL
// byte, which is ignored whole, as systemd does. Parse allocates at most
// one string of MaxStatus bytes, whatever b holds.
func Parse(b []byte) (m Message, ok bool) {
	var status []byte
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return Message{}, false
		}
		switch string(line) { // no allocation: the compiler compares in place
		case "READY=1":
			m.Ready = true
		case "RELOADING=1":
			m.Reloading = true
		case "STOPPING=1":
			m.Stopping = true
		case "WATCHDOG=1":
			m.Watchdog = true
		case "WATCHDOG=trigger":
			m.WatchdogTrigger = true
		default:
			if len(line) >= 7 && string(line[:7]) == "STATUS=" {
				status, m.HasStatus = line[7:], true
			}
		}
	}
	if m.HasStatus {
		m.Status = CleanStatus(status)
	}
	return m, true
}

// CleanStatus makes b one printable line of at most MaxStatus bytes:
// control characters become spaces, invalid UTF-8 becomes U+FFFD, and
// the text is cut at the last whole character that fits.
func CleanStatus(b []byte) string {
	var room [MaxStatus]byte // on the stack: the string is the one allocation
	out := room[:0]
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = ' ' // C0 and C1 controls: tabs, newlines, escapes
		}
		if len(out)+utf8.RuneLen(r) > MaxStatus {
			break
		}
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}
