package control

import (
	"net"
	"time"
)

// The connection table: which connections are open, and which of them
// may give way to a new one.
//
// A connection that has not delivered a whole request (its first, or
// the next after an answer) is waiting; one whose whole request is being
// answered (an events stream too, for as long as it lasts) is busy.
// Waiting connections are kept in a list, oldest first. At the
// connection limit, a new connection closes the oldest waiting one: a
// client that holds connections open without finishing a request (a
// slowloris) then cannot keep a probe of /healthz or `tend ctl health`
// out, since the probe's request is whole a moment after it connects,
// and its connection is never the oldest. Busy connections never give
// way: their clients sent what they had to, and are bounded by their
// own limits (5 s for the loop, 10 s per write, 128 streams).
//
// No timer runs for this: a waiting connection's read deadline (2 s for
// a request, 60 s between requests) drops it on its own, and the list
// is only looked at when a connection is accepted.

// connState is where a connection is in its exchange.
type connState int

const (
	connReading connState = iota // waiting: reading a request, not yet whole
	connIdle                     // waiting: kept alive, for the next request
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
func waits(st connState) bool { return st == connReading || st == connIdle }

// evictWarnEvery spaces the warnings that connections are being closed
// to make room: one line per minute of attack, not one per connection.
const evictWarnEvery = time.Minute

// add records a connection just accepted, reading its first request. At
// the connection limit it first closes the oldest waiting connections
// to make room; when every connection is busy, c is taken all the same,
// and answered 503 (tooBusy) unless a connection closes meanwhile. Either
// way the table holds at most maxConns connections plus those that came
// while all were busy, each of which is waiting and so gives way to the
// next.
func (s *server) add(nc net.Conn) *conn {
	c := &conn{Conn: nc}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.conns) >= s.opt.maxConns && s.waiting.head != nil {
		s.evict(s.waiting.head)
	}
	s.conns[c] = struct{}{}
	s.waiting.pushBack(c)
	return c
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

func (s *server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
