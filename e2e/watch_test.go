package e2e

// The one way these tests read what tend and its programs say: a
// watcher over lines. It follows a stream as it comes (the programs'
// stdout, tend's stderr, tend's JSON log, its events stream, the output
// of `tend ctl events`), keeps every line with its position and the
// time the test read it, and, where a line is a JSON object, its fields.
// A test waits for the first line from a position on that matches a
// predicate, within the harness's deadline; or reads on from a cursor.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// event is one line a watcher read. When the line is a JSON object (a
// line of tend's log with --log-format json, an event of its events
// stream) the fields it has are set; for any other line only the
// position, time and text are.
type event struct {
	Level    string    `json:"level"`
	Message  string    `json:"message"`
	Program  string    `json:"program"`
	State    string    `json:"state"`
	From     string    `json:"from"`
	Pid      int       `json:"pid"`
	ExitCode *int      `json:"exit_code"`
	Signal   string    `json:"signal"`
	Reason   string    `json:"reason"`
	Health   string    `json:"health"`
	Time     time.Time `json:"time"`
	Failures int       `json:"failures"`
	RetryIn  string    `json:"retry_in"`

	i      int       // position among the watcher's lines
	at     time.Time // when the test read the line
	line   string    // the line, without its newline
	parsed bool      // the line is a JSON object: the fields above are its
}

func (e event) String() string { return fmt.Sprintf("#%d %s", e.i, e.line) }

// watcher follows one stream of lines. Lines come from one goroutine
// (follow, or the writer of Write); any number may wait.
type watcher struct {
	t    *testing.T
	name string // what it follows, for failure messages

	mu      sync.Mutex
	lines   []event       // guarded by mu: every line so far
	partial []byte        // guarded by mu: what Write has of a line yet to end
	ended   bool          // guarded by mu: no line will come any more
	changed chan struct{} // guarded by mu: closed, and replaced, at every line and at the end

	pos int // next's cursor: the test's goroutine only
}

func newWatcher(t *testing.T, name string) *watcher {
	return &watcher{t: t, name: name, changed: make(chan struct{})}
}

// wake tells every waiter something changed. mu is held.
func (w *watcher) wake() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// add takes one line, without its newline. mu is held.
func (w *watcher) add(text string, at time.Time) {
	var e event
	if strings.HasPrefix(text, "{") && json.Unmarshal([]byte(text), &e) == nil {
		e.parsed = true
	}
	e.i, e.at, e.line = len(w.lines), at, text
	w.lines = append(w.lines, e)
	w.wake()
}

// follow reads r line by line until it ends, then ends the watcher.
func (w *watcher) follow(r io.Reader) {
	br := bufio.NewReader(r)
	for {
		text, err := br.ReadString('\n')
		at := time.Now()
		w.mu.Lock()
		if text != "" {
			w.add(strings.TrimSuffix(text, "\n"), at)
		}
		if err != nil {
			w.ended = true
			w.wake()
		}
		w.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// Write takes lines as written, for an exec.Cmd's Stderr, say: a line
// counts once its newline is written (or at end).
func (w *watcher) Write(p []byte) (int, error) {
	at := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		n := slices.Index(w.partial, '\n')
		if n < 0 {
			break
		}
		w.add(string(w.partial[:n]), at)
		w.partial = w.partial[n+1:]
	}
	return len(p), nil
}

// end says no more lines will come; a line Write began is one.
func (w *watcher) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.add(string(w.partial), time.Now())
		w.partial = nil
	}
	w.ended = true
	w.wake()
}

// await returns the first line at position from or later that matches,
// waiting for it until the deadline; match sees each line once, in
// order, with mu held. When none came, why says so: the stream ended,
// or the deadline passed.
func (w *watcher) await(from int, match func(event) bool) (e event, why string) {
	return w.awaitWithin(from, deadline, match)
}

// awaitWithin is await with a deadline of its own, for the few waits
// whose work, not tend's answer, takes the time.
func (w *watcher) awaitWithin(from int, deadline time.Duration, match func(event) bool) (e event, why string) {
	timeout := time.NewTimer(deadline)
	defer timeout.Stop()
	for {
		w.mu.Lock()
		for ; from < len(w.lines); from++ {
			if e := w.lines[from]; match(e) {
				w.mu.Unlock()
				return e, ""
			}
		}
		ended, changed := w.ended, w.changed
		w.mu.Unlock()
		if ended {
			return event{}, "it ended first"
		}
		select {
		case <-changed:
		case <-timeout.C:
			return event{}, fmt.Sprintf("not within %v", deadline)
		}
	}
}

// waitFrom is await, failing the test when no line matches.
func (w *watcher) waitFrom(from int, what string, match func(event) bool) event {
	w.t.Helper()
	e, why := w.await(from, match)
	if why != "" {
		w.t.Fatalf("no %s in %s: %s", what, w.name, why)
	}
	return e
}

// next is waitFrom from the cursor, which it moves past the line.
func (w *watcher) next(what string, match func(event) bool) event {
	w.t.Helper()
	e := w.waitFrom(w.pos, what, match)
	w.pos = e.i + 1
	return e
}

// skip moves the cursor past every line so far: next sees only new ones.
func (w *watcher) skip() { w.pos = w.mark() }

// rest waits for the end and returns the text of every line after the
// cursor, which it moves to the end.
func (w *watcher) rest() []string {
	w.t.Helper()
	if !w.waitEnd() {
		w.t.Fatalf("%s did not end within %v", w.name, deadline)
	}
	var out []string
	for _, e := range w.all()[w.pos:] {
		out = append(out, e.line)
	}
	w.skip()
	return out
}

// quiet fails if a line comes after the cursor within d from now.
func (w *watcher) quiet(d time.Duration, why string) {
	w.t.Helper()
	time.Sleep(d) // a window in which nothing may happen: the subject of the check
	if evs := w.all(); len(evs) > w.pos {
		w.t.Fatalf("%s, but %s said %v", why, w.name, evs[w.pos])
	}
}

// waitEnd reports whether the stream ended within the deadline.
func (w *watcher) waitEnd() bool {
	_, why := w.await(0, func(event) bool { return false })
	return why == "it ended first"
}

// mark is the position of the next line to come.
func (w *watcher) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.lines)
}

// all is every line so far.
func (w *watcher) all() []event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.lines)
}

// events is every line so far that is a JSON object.
func (w *watcher) events() []event {
	return slices.DeleteFunc(w.all(), func(e event) bool { return !e.parsed })
}

// texts is the text of every line so far.
func (w *watcher) texts() []string {
	var out []string
	for _, e := range w.all() {
		out = append(out, e.line)
	}
	return out
}

// String is everything so far, as it was written.
func (w *watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for _, e := range w.lines {
		b.WriteString(e.line)
		b.WriteByte('\n')
	}
	b.Write(w.partial)
	return b.String()
}

// waitFor reports whether a line holding sub came within the deadline.
func (w *watcher) waitFor(sub string) bool {
	_, why := w.await(0, func(e event) bool { return strings.Contains(e.line, sub) })
	return why == ""
}
