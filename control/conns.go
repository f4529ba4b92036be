package control

import (
	"net"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The connection table: which connections are open, and which of them
// may give way to a new one.
//
// A connection that was read and has not delivered its whole request
// (tend answers one request per connection) is waiting; one whose whole
// request is being answered (an events stream too, for as long as it
// lasts) is busy. Waiting connections are kept in a list, oldest first.
// At the connection limit, a new connection closes the oldest waiting
// one: a client that holds connections open without finishing a
// request (a slowloris) then cannot keep a probe of /healthz or `tend
// ctl health` out, since the probe's request is whole when it is first
// read, and its connection is never the oldest. Busy connections never
// give way: their clients sent what they had to, and are bounded by
// their own limits (5 s for the loop, 10 s per write, 128 streams).
//
// A connection accepted and not read yet (its goroutine has not run) is
// new, and does not give way either: under a flood of connections made
// again as fast as they are closed, the probe's would otherwise be
// closed before it was read, its request waiting unread. The accept
// loop yields after each connection, so that new ones are read before
// more come, and never holds more than twice the limit.
//
// A waiting connection with bytes in its socket that tend has not read
// yet is passed over (up to a few): its client is not slow, tend is. In
// a flood of new connections, a probe's request may wait there while its
// goroutine waits for its turn to run.
//
// No timer runs for this: a waiting connection's read deadline (2 s for
// the whole request) drops it on its own, and the list
// is only looked at when a connection is accepted or a request read.

// connState is where a connection is in its exchange.
type connState int

const (
	connNew     connState = iota // accepted, not read yet
	connReading                  // waiting: reading its request, not yet whole
	connBusy                     // a whole request is being answered
	connGone                     // closed and out of the table
)

// conn is one open connection. Its fields are guarded by server.mu.
type conn struct {
	net.Conn
	state connState
	// prev and next link it into server.waiting while it waits.
	prev, next *conn
}

// connList is a list of waiting connections, oldest first.
type connList struct {
	head, tail *conn
	n          int
}

func (l *connList) pushBack(c *conn) {
	c.prev, c.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
	l.n++
}

func (l *connList) remove(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
	l.n--
}

// waits reports whether a connection in state st is in the waiting list.
func waits(st connState) bool { return st == connReading }

// evictWarnEvery spaces the warnings that connections are being closed
// to make room: one line per minute of attack, not one per connection.
const evictWarnEvery = time.Minute

// add records a connection just accepted, new. At the connection limit
// it first closes the oldest waiting connection to make room; when none
// is waiting (every other one is busy, or new), nc is taken all the
// same, and its request answered 503 (tooBusy) unless room is made
// meanwhile. Beyond twice the limit, add refuses nc: it returns nil,
// and the caller closes it unread.
func (s *server) add(nc net.Conn) *conn {
	c := &conn{Conn: nc}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) >= s.opt.maxConns && s.waiting.head != nil {
		s.evict(s.slowest(nil))
	}
	if len(s.conns) >= 2*s.opt.maxConns {
		return nil
	}
	s.conns[c] = struct{}{}
	return c
}

// yield lets the connections just accepted be read before the accept
// loop takes more (tend runs Go on one P): see above.
func yield() { runtime.Gosched() }

// makeRoom is for the connection whose request head was just read, c:
// over the limit, it closes the oldest waiting connections other than
// c until the table is back within it, or none is left. It returns how
// many connections are open, and whether that is within the limit.
func (s *server) makeRoom(c *conn) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.conns) > s.opt.maxConns {
		w := s.slowest(c)
		if w == nil {
			break
		}
		s.evict(w)
	}
	return len(s.conns), len(s.conns) <= s.opt.maxConns
}

// maxPassOver bounds how many waiting connections slowest looks at.
const maxPassOver = 16

// slowest returns the connection to close to make room: the oldest
// waiting one other than except, passing over up to maxPassOver with
// bytes not read yet. nil when none is waiting. Called with s.mu held.
func (s *server) slowest(except *conn) *conn {
	var first *conn
	n := 0
	for w := s.waiting.head; w != nil && n < maxPassOver; w = w.next {
		if w == except {
			continue
		}
		if first == nil {
			first = w
		}
		if !unread(w.Conn) {
			return w
		}
		n++
	}
	return first
}

// unread reports whether c's socket holds bytes not read yet.
// (TIOCINQ is FIONREAD, SIOCINQ: for TCP and unix sockets alike.)
func unread(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	if raw.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }) != nil {
		return false
	}
	return n > 0
}

// evict closes c to make room for a new connection. Its goroutine's read
// fails at once, and it ends. Called with s.mu held.
func (s *server) evict(c *conn) {
	s.forget(c)
	c.Close()
	s.evicted++
	if now := time.Now(); now.Sub(s.evictWarned) >= evictWarnEvery {
		s.evictWarned = now
		s.log.Warn().Int("max_conns", s.opt.maxConns).Int64("evicted", s.evicted).
			Msg("control: at the connection limit: closing the oldest connections that have not sent a whole request")
	}
}

// forget takes c out of the table. Called with s.mu held.
func (s *server) forget(c *conn) {
	if waits(c.state) {
		s.waiting.remove(c)
	}
	delete(s.conns, c)
	c.state = connGone
}

// setState moves c to state st: a waiting state puts it at the end of
// the waiting list, the newest. It returns false when c is gone
// (evicted), or when it is to wait for a request while Serve shuts
// down: its goroutine then ends, and closes it.
func (s *server) setState(c *conn, st connState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.state == connGone || s.closing && waits(st) {
		return false
	}
	if waits(c.state) {
		s.waiting.remove(c)
	}
	c.state = st
	if waits(st) {
		s.waiting.pushBack(c)
	}
	return true
}

// done takes c out of the table when its goroutine ends, and closes it.
func (s *server) done(c *conn) {
	s.mu.Lock()
	if c.state != connGone {
		s.forget(c)
	}
	s.mu.Unlock()
	c.Close()
}
