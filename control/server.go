// Package control is tend's control channel: HTTP+JSON on a unix
// socket, and the metrics port.
//
// It listens (Listen, and refuses a socket someone else holds), serves
// (Serve, ServeMetrics), and turns each HTTP request into one
// api.Request for the supervisor's loop, by the verb table api.Routes;
// the loop answers it. The package owns no process state. The client
// behind `tend ctl` is package ctl; routes and wire formats are in
// docs/control.md.
package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tend/api"
	"tend/internal/h1"
	"tend/internal/safe"
)

// options are the server's limits. Tests shorten them.
type options struct {
	// loopTimeout bounds the wait for the loop to take a request, and
	// again for its answer: a stuck loop costs each client a 504, not a
	// goroutine forever.
	loopTimeout time.Duration
	// readTimeout bounds reading a request's headers and body, together:
	// a deadline set once, so that trickling bytes does not extend it.
	readTimeout time.Duration
	// writeTimeout bounds writing a response, and each line of an events
	// stream: a client that stops reading is cut off.
	writeTimeout time.Duration
	// eventsCap is the capacity of an events subscriber's channel.
	eventsCap int
	// maxConns caps open connections (at the cap, the oldest that has
	// not sent a whole request gives way: see conns.go; when all are
	// busy, requests get a 503) and maxStreams open events streams
	// (beyond, a 503). Each connection is a file descriptor PID 1 needs
	// for the programs it runs.
	maxConns, maxStreams int
}

var defaultOptions = options{
	loopTimeout:  5 * time.Second,
	readTimeout:  2 * time.Second,
	writeTimeout: 10 * time.Second,
	eventsCap:    256,
	maxConns:     1024,
	maxStreams:   128,
}

// server turns HTTP requests into Requests for the loop.
type server struct {
	reqs chan<- api.Request
	log  zerolog.Logger
	opt  options
	// answer answers one request: handle, or handleMetrics.
	answer func(*server, *exchange)
	// streams counts open events streams.
	streams atomic.Int64
	// open tracks the connections' goroutines, so Serve returns only
	// once every handler has.
	open sync.WaitGroup
	// quit is closed when Serve's listener is: events streams end.
	quit chan struct{}

	mu sync.Mutex // guards the fields below, and each conn's
	// conns holds the open connections; waiting, those of them that
	// have not sent a whole request, oldest first (conns.go).
	conns   map[*conn]struct{}
	waiting connList
	closing bool // Serve is shutting down: no connection takes another request
	// evicted counts the connections closed to make room, and
	// evictWarned is when that was last logged.
	evicted     int64
	evictWarned time.Time
}

// shutdownGrace is how long Serve lets requests in flight finish once
// its listener is closed, before it closes their connections.
const shutdownGrace = time.Second

// Serve answers control requests on ln until ln is closed. It then ends
// the events streams (cleanly: their clients see the end of the stream),
// gives requests in flight a second to finish, closes what is left,
// waits for the handlers to return (promptly: each waits on the loop or
// the client, and gives up when its connection closes) and returns nil. Each
// request is sent to reqs as an api.Request, with the peer's credentials
// (SO_PEERCRED, read once per connection). Routes: docs/control.md.
//
// Each connection is served on a goroutine of its own, started by Go: a
// handler's panic is logged and ends its connection, nothing more.
func Serve(ln net.Listener, reqs chan<- api.Request, log zerolog.Logger) error {
	return serve(ln, reqs, log, defaultOptions)
}

func serve(ln net.Listener, reqs chan<- api.Request, log zerolog.Logger, opt options) error {
	return serveWith(ln, reqs, log, opt, (*server).handle)
}

// serveWith is Serve with each request answered by handle: the control
// API's routes, or the metrics listener's (ServeMetrics).
func serveWith(ln net.Listener, reqs chan<- api.Request, log zerolog.Logger, opt options, handle func(*server, *exchange)) error {
	s := &server{reqs: reqs, log: log, opt: opt, answer: handle, quit: make(chan struct{}), conns: make(map[*conn]struct{})}
	err := s.accept(ln)
	close(s.quit)
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	t := time.AfterFunc(shutdownGrace, func() {
		defer safe.Recover(s.log, "control: shutdown")
		s.mu.Lock()
		defer s.mu.Unlock()
		for c := range s.conns {
			c.Close()
		}
	})
	s.open.Wait()
	t.Stop()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return fmt.Errorf("control server: %w", err)
}

// accept serves each connection ln accepts, until ln fails for good.
func (s *server) accept(ln net.Listener) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			// Out of file descriptors or memory, for now: try again later,
			// as net/http did, in its words.
			if !errors.Is(err, unix.EMFILE) && !errors.Is(err, unix.ENFILE) &&
				!errors.Is(err, unix.ENOBUFS) && !errors.Is(err, unix.ENOMEM) {
				return err
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn().Err(err).Str("retry_in", delay.String()).Msg("control: cannot accept a connection")
			time.Sleep(delay)
			continue
		}
		delay = 0
		// The whole request must come within readTimeout of now.
		_ = c.SetReadDeadline(time.Now().Add(s.opt.readTimeout))
		tc := s.add(c)
		if tc == nil {
			c.Close() // over twice the limit: see conns.go
			continue
		}
		// Before Serve's Wait, which runs on this goroutine.
		s.open.Add(1)
		safe.Go(s.log, "control: connection", func() { s.serveConn(tc) })
		yield()
	}
}

// serveConn answers the one request on c, and closes it: every answer
// says "Connection: close".
func (s *server) serveConn(c *conn) {
	defer s.open.Done()
	defer s.done(c)
	if !s.setState(c, connReading) {
		return
	}
	peer := s.peerOf(c.Conn)
	br := bufio.NewReader(c)
	// The read deadline is set: headers and body must come within
	// readTimeout of the connection.
	r, err := h1.ReadRequest(br)
	if err != nil {
		// Not HTTP, or headers too large: a plain-text answer, as
		// net/http gave. A connection closed or timed out in the middle
		// of its headers gets none.
		if herr, ok := errors.AsType[*h1.Error](err); ok {
			_ = c.SetWriteDeadline(time.Now().Add(s.opt.writeTimeout))
			_ = h1.WriteError(c, herr)
			linger(c)
		}
		return
	}
	_ = c.SetWriteDeadline(time.Now().Add(s.opt.writeTimeout))
	s.answer(s, &exchange{c: c, conn: c, br: br, req: r, peer: peer})
	if !r.Body.Done() {
		linger(c)
	}
}

// linger shuts the writing half of c and reads (and drops) what the
// client still sends, for a moment, before c is closed. A socket closed
// with data unread makes the client's next read fail with ECONNRESET,
// which may cost it the answer it was sent. net/http does the same
// (closeWriteAndWait).
func linger(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 1<<20))
}

// lingerTime is how long linger waits for the client to stop sending.
const lingerTime = 500 * time.Millisecond

// peerOf reads the peer's credentials: SO_PEERCRED gives the process
// that connected, whoever holds the file descriptor since.
func (s *server) peerOf(c net.Conn) api.Peer {
	p := api.Peer{UID: api.UnknownID, GID: api.UnknownID}
	if uc, ok := c.(*net.UnixConn); ok {
		var cred *unix.Ucred
		var cerr error
		raw, err := uc.SyscallConn()
		if err == nil {
			err = raw.Control(func(fd uintptr) {
				cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
			})
		}
		if err == nil {
			err = cerr
		}
		switch {
		case err == nil:
			p = api.Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}
		case errors.Is(err, net.ErrClosed):
			// Evicted before it was served (conns.go): nobody to answer.
		default:
			s.log.Warn().Err(err).Msg("control: cannot read the peer's credentials")
		}
	}
	return p
}

// exchange is one request on a connection, and what its answer needs.
type exchange struct {
	c    net.Conn
	conn *conn // c, in the server's table
	br   *bufio.Reader
	req  *h1.Request
	peer api.Peer
	// header holds the answer's fields before Content-Type: Allow.
	header h1.Header
}

// watch returns a context that is done when the client goes away, and
// the function that stops watching. x's request is read to the end of
// its body by then, so nothing else reads x.br until stop returns:
// reading it finds the end of the connection (or more bytes: the client
// is still there).
func (s *server) watch(x *exchange) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var stopping atomic.Bool
	done := make(chan struct{})
	_ = x.c.SetReadDeadline(time.Time{})
	safe.Go(s.log, "control: watch", func() {
		defer close(done)
		if _, err := x.br.Peek(1); err != nil && !stopping.Load() {
			cancel()
		}
	})
	return ctx, func() {
		stopping.Store(true)
		_ = x.c.SetReadDeadline(time.Unix(1, 0)) // in the past: Peek returns
		<-done
		cancel()
	}
}

// changes reports whether verb changes state: those requests are
// logged at info with the peer, the others at debug.
func changes(verb api.Verb) bool {
	rt, _ := api.RouteOf(verb)
	return rt.Changes
}

// tooBusy answers a request with 503, and says so, when more than
// maxConns connections are open and none can give way to this one:
// every other is busy (or new).
func (s *server) tooBusy(x *exchange) bool {
	n, ok := s.makeRoom(x.conn)
	if ok {
		return false
	}
	most := s.opt.maxConns
	s.writeError(x, &httpError{h1.StatusServiceUnavailable,
		fmt.Sprintf("tend is busy: %d control connections open, at most %d", n, most)})
	return true
}

// read takes one request by the routes of table: it refuses (and
// answers) one over the connection limit, for an unknown path or method,
// or with a body or query the route does not take, and returns the
// Request for the loop, with the peer, and true otherwise.
func (s *server) read(x *exchange, table []api.Route) (api.Request, bool) {
	r := x.req
	if s.tooBusy(x) {
		return api.Request{}, false
	}
	rt, herr := lookup(table, r.Method, r.Path)
	if herr != nil {
		if herr.code == h1.StatusMethodNotAllowed {
			x.header = h1.Header{{Name: "Allow", Value: rt.Method}}
		}
		s.refuse(x, herr)
		return api.Request{}, false
	}
	body, herr := readBody(r, rt.Body)
	if herr != nil {
		s.refuse(x, herr)
		return api.Request{}, false
	}
	// The request is whole: its connection no longer gives way to a new
	// one. Evicted meanwhile, it is closed: nobody to answer.
	if !s.setState(x.conn, connBusy) {
		return api.Request{}, false
	}
	req, err := decode(table, r.Method, r.Path, r.RawQuery, body)
	if err != nil {
		s.refuse(x, err)
		return api.Request{}, false
	}
	req.Peer = x.peer
	return req, true
}

// handle answers one request of the control API.
func (s *server) handle(x *exchange) {
	req, ok := s.read(x, api.Routes)
	if !ok {
		return
	}
	ctx, stop := s.watch(x)
	defer stop()
	switch req.Verb {
	case api.VerbEvents:
		s.stream(ctx, x, req)
		return
	case api.VerbLogs:
		s.logs(ctx, x, req)
		return
	}

	reply, herr := s.askAudited(ctx, req)
	switch {
	case herr != nil:
		s.writeError(x, herr)
	case reply.Err != "":
		s.writeJSON(x, h1.StatusUnprocessableEntity, reply)
	case req.Verb == api.VerbHealth:
		code := h1.StatusOK
		if !reply.Healthy {
			code = h1.StatusServiceUnavailable
		}
		s.writeJSON(x, code, api.HealthBody{Healthy: reply.Healthy, Reason: reply.Reason})
	default:
		s.writeJSON(x, h1.StatusOK, reply)
	}
}

// readBody reads the request body: at most maxBody bytes, or for a route
// that takes none, one byte, enough for decode to refuse it (the rest is
// dropped as the answer goes: see h1.Request.Respond).
func readBody(r *h1.Request, kind api.BodyKind) ([]byte, *httpError) {
	if r.ContentLength > maxBody {
		return nil, tooLarge()
	}
	limit := int64(maxBody)
	if kind == api.BodyNone {
		limit = 0
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1)); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, &httpError{h1.StatusRequestTimeout, "the request did not come whole within the read timeout"}
		}
		return nil, badRequest("reading the request body: %v", err)
	}
	if buf.Len() > maxBody {
		return nil, tooLarge()
	}
	return buf.Bytes(), nil
}

func tooLarge() *httpError {
	return &httpError{h1.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d KiB", maxBody>>10)}
}

// errGone: the client went away; there is nobody to answer.
var errGone = &httpError{code: 499, msg: "the client went away"}

// ask sends req to the loop and waits for its answer, each step bounded
// by loopTimeout and by the client's presence.
func (s *server) ask(ctx context.Context, req api.Request) (api.Reply, *httpError) {
	req.Reply = make(chan api.Reply, 1)
	t := time.NewTimer(s.opt.loopTimeout)
	defer t.Stop()
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		return api.Reply{}, errGone
	case <-t.C:
		return api.Reply{}, &httpError{h1.StatusGatewayTimeout,
			fmt.Sprintf("tend is busy: the supervisor did not take the request within %v", s.opt.loopTimeout)}
	}
	t.Reset(s.opt.loopTimeout)
	select {
	case reply := <-req.Reply:
		return reply, nil
	case <-ctx.Done():
		return api.Reply{}, errGone
	case <-t.C:
		return api.Reply{}, &httpError{h1.StatusGatewayTimeout,
			fmt.Sprintf("tend is busy: the supervisor did not answer within %v", s.opt.loopTimeout)}
	}
}

// askAudited asks the loop, as ask, and logs the request (audit).
func (s *server) askAudited(ctx context.Context, req api.Request) (api.Reply, *httpError) {
	reply, herr := s.ask(ctx, req)
	s.audit(req, reply, herr)
	return reply, herr
}

// audit logs a request: who asked what, and how it went.
func (s *server) audit(req api.Request, reply api.Reply, herr *httpError) {
	ev := s.log.Debug()
	switch {
	case herr != nil || reply.Err != "":
		if changes(req.Verb) {
			ev = s.log.Warn()
		}
	case changes(req.Verb):
		ev = s.log.Info()
	}
	ev = ev.Str("verb", string(req.Verb)).Uint32("peer_uid", req.Peer.UID).
		Uint32("peer_gid", req.Peer.GID).Int32("peer_pid", req.Peer.PID)
	if len(req.Names) > 0 {
		ev = ev.Strs("names", req.Names)
	}
	if req.Signal != "" {
		ev = ev.Str("signal", req.Signal)
	}
	switch {
	case herr != nil:
		ev = ev.Str("reason", herr.msg)
	case reply.Err != "":
		ev = ev.Str("reason", reply.Err)
	}
	ev.Msg("control request")
}

// stream answers GET /v1/events: one JSON line per event, each sent at
// once, until the client goes away or the loop drops the subscriber.
func (s *server) stream(ctx context.Context, x *exchange, req api.Request) {
	if !s.takeStream(x) {
		return
	}
	defer s.streams.Add(-1)

	// The loop sends every event; the server filters. Names stay out of
	// the Request: for events the loop takes none.
	filter := req.Names
	req.Names = nil
	events := make(chan api.Event, s.opt.eventsCap)
	done := make(chan struct{})
	// Also when ask gave up after the loop took the request: the loop
	// then forgets a subscriber nobody reads.
	defer close(done)
	req.Events, req.Done = events, done

	reply, herr := s.askAudited(ctx, req)
	if herr != nil {
		s.writeError(x, herr)
		return
	}
	if reply.Err != "" {
		s.writeJSON(x, h1.StatusUnprocessableEntity, reply)
		return
	}

	st := s.openStream(x)
	if st == nil {
		return
	}
	for {
		select {
		case <-ctx.Done(): // the client is gone
			return
		case <-s.quit:
			st.end()
			return
		case ev, ok := <-events:
			if !ok {
				s.drop(st, req, "events subscriber", fmt.Sprintf("the client fell behind: more than %d events were waiting, later ones were lost", cap(events)))
				return
			}
			if len(filter) > 0 && ev.Kind == "" && !matchAny(filter, ev.Program) {
				continue
			}
			if st.writeJSON(ev) != nil {
				return
			}
		}
	}
}

// matchAny reports whether name matches one of the patterns (already
// validated by decode).
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// writeJSON writes v as the answer, bounded by writeTimeout.
func (s *server) writeJSON(x *exchange, code int, v any) {
	var body bytes.Buffer
	_ = json.NewEncoder(&body).Encode(v)
	s.writeText(x, code, "application/json", body.Bytes())
}

// refuse answers a request that never reached the loop.
func (s *server) refuse(x *exchange, err error) {
	s.log.Debug().Str("method", api.Printable(x.req.Method)).Str("path", api.Printable(x.req.Path)).
		Uint32("peer_uid", x.peer.UID).Int32("peer_pid", x.peer.PID).Str("reason", err.Error()).
		Msg("control: bad request")
	s.writeError(x, err)
}

func (s *server) writeError(x *exchange, err error) {
	herr, ok := errors.AsType[*httpError](err)
	if !ok {
		herr = &httpError{h1.StatusInternalServerError, err.Error()}
	}
	if herr == errGone {
		return
	}
	s.writeJSON(x, herr.code, api.ErrorBody{Error: herr.msg})
}
