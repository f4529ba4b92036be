package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// options are the server's limits. Tests shorten them.
type options struct {
	// loopTimeout bounds the wait for the loop to take a request, and
	// again for its answer: a stuck loop costs each client a 504, not a
	// goroutine forever.
	loopTimeout time.Duration
	// readTimeout bounds reading a request's headers and body.
	readTimeout time.Duration
	// writeTimeout bounds writing a response, and each line of an events
	// stream: a client that stops reading is cut off.
	writeTimeout time.Duration
	// idleTimeout closes a keep-alive connection left idle.
	idleTimeout time.Duration
	// eventsCap is the capacity of an events subscriber's channel.
	eventsCap int
	// maxConns caps open connections and maxStreams open events
	// streams: beyond, requests get a 503. Each connection is a file
	// descriptor PID 1 needs for the programs it runs.
	maxConns, maxStreams int
}

var defaultOptions = options{
	loopTimeout:  5 * time.Second,
	readTimeout:  5 * time.Second,
	writeTimeout: 10 * time.Second,
	idleTimeout:  60 * time.Second,
	eventsCap:    256,
	maxConns:     1024,
	maxStreams:   128,
}

// server turns HTTP requests into Requests for the loop.
type server struct {
	reqs chan<- Request
	log  zerolog.Logger
	opt  options
	// conns counts open connections (ConnState hook), streams open
	// events streams: the only state the server keeps.
	conns, streams atomic.Int64
	// open tracks the connections' goroutines, so Serve returns only
	// once every handler has.
	open sync.WaitGroup
	// quit is closed when Serve's listener is: events streams end.
	quit chan struct{}
}

// shutdownGrace is how long Serve lets requests in flight finish once
// its listener is closed, before it closes their connections.
const shutdownGrace = time.Second

// Serve answers control requests on ln until ln is closed. It then ends
// the events streams (cleanly: their clients see the end of the stream),
// gives requests in flight a second to finish, closes what is left,
// waits for the handlers to return (promptly: each waits on the loop or
// the client, and gives up when its connection closes) and returns nil. Each
// request is sent to reqs as a Request, with the peer's credentials
// (SO_PEERCRED, read once per connection). Routes: docs/control.md.
//
// Serve starts no goroutine of its own; net/http's per-connection
// goroutines recover from a handler's panic.
func Serve(ln net.Listener, reqs chan<- Request, log zerolog.Logger) error {
	return serve(ln, reqs, log, defaultOptions)
}

func serve(ln net.Listener, reqs chan<- Request, log zerolog.Logger, opt options) error {
	s := &server{reqs: reqs, log: log, opt: opt, quit: make(chan struct{})}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: opt.readTimeout,
		ReadTimeout:       opt.readTimeout,
		WriteTimeout:      opt.writeTimeout,
		IdleTimeout:       opt.idleTimeout,
		MaxHeaderBytes:    16 << 10,
		ConnContext:       s.connContext,
		ConnState:         s.connState,
		ErrorLog:          stdlog.New(logWriter{log}, "", 0),
	}
	err := srv.Serve(ln)
	close(s.quit)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	_ = srv.Shutdown(ctx)
	cancel()
	srv.Close()
	s.open.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return fmt.Errorf("control server: %w", err)
}

type peerKey struct{}

// connContext reads the peer's credentials once, when the connection is
// accepted: SO_PEERCRED gives the connecting process, whoever later
// holds the file descriptor.
func (s *server) connContext(ctx context.Context, c net.Conn) (out context.Context) {
	out = ctx
	// Runs on Serve's accept goroutine, where a panic would end Serve.
	defer Recover(s.log, "control: peer credentials")
	p := Peer{UID: UnknownID, GID: UnknownID}
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
		if err != nil {
			s.log.Warn().Err(err).Msg("control: cannot read the peer's credentials")
		} else {
			p = Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}
		}
	}
	return context.WithValue(ctx, peerKey{}, p)
}

func peerOf(ctx context.Context) Peer {
	if p, ok := ctx.Value(peerKey{}).(Peer); ok {
		return p
	}
	return Peer{UID: UnknownID, GID: UnknownID}
}

func (s *server) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		// On Serve's goroutine, before the connection's own: this Add
		// happens before Serve's Wait.
		s.open.Add(1)
		s.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.conns.Add(-1)
		s.open.Done()
	}
}

// changes reports whether verb changes state: those requests are
// logged at info with the peer, the others at debug.
func changes(verb string) bool {
	switch verb {
	case VerbStatus, VerbHealth, VerbEvents:
		return false
	}
	return true
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n, most := s.conns.Load(), int64(s.opt.maxConns); n > most {
		w.Header().Set("Connection", "close")
		s.writeError(w, &httpError{http.StatusServiceUnavailable,
			fmt.Sprintf("tend is busy: %d control connections open, at most %d", n, most)})
		return
	}
	if _, herr := lookup(r.Method, r.URL.Path); herr != nil {
		if herr.code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", routes[r.URL.Path].method)
		}
		s.refuse(w, r, herr)
		return
	}
	body, herr := readBody(w, r)
	if herr != nil {
		s.refuse(w, r, herr)
		return
	}
	req, err := decode(r.Method, r.URL.Path, r.URL.RawQuery, body)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	req.Peer = peerOf(r.Context())
	if req.Verb == VerbEvents {
		s.stream(w, r, req)
		return
	}

	reply, herr := s.ask(r.Context(), req)
	s.audit(req, reply, herr)
	switch {
	case herr != nil:
		s.writeError(w, herr)
	case reply.Err != "":
		s.writeJSON(w, http.StatusUnprocessableEntity, reply)
	case req.Verb == VerbHealth:
		code := http.StatusOK
		if !reply.Healthy {
			code = http.StatusServiceUnavailable
		}
		s.writeJSON(w, code, healthBody{reply.Healthy, reply.Reason})
	default:
		s.writeJSON(w, http.StatusOK, reply)
	}
}

// healthBody is GET /v1/health's answer: healthy is always present.
type healthBody struct {
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason,omitempty"`
}

// readBody reads at most maxBody bytes of the request body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *httpError) {
	if r.ContentLength > maxBody {
		return nil, tooLarge()
	}
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge()
		}
		return nil, badRequest("reading the request body: %v", err)
	}
	return buf.Bytes(), nil
}

func tooLarge() *httpError {
	return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d KiB", maxBody>>10)}
}

// errGone: the client went away; there is nobody to answer.
var errGone = &httpError{code: 499, msg: "the client went away"}

// ask sends req to the loop and waits for its answer, each step bounded
// by loopTimeout and by the client's presence.
func (s *server) ask(ctx context.Context, req Request) (Reply, *httpError) {
	req.Reply = make(chan Reply, 1)
	t := time.NewTimer(s.opt.loopTimeout)
	defer t.Stop()
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		return Reply{}, errGone
	case <-t.C:
		return Reply{}, &httpError{http.StatusGatewayTimeout,
			fmt.Sprintf("tend is busy: the supervisor did not take the request within %v", s.opt.loopTimeout)}
	}
	t.Reset(s.opt.loopTimeout)
	select {
	case reply := <-req.Reply:
		return reply, nil
	case <-ctx.Done():
		return Reply{}, errGone
	case <-t.C:
		return Reply{}, &httpError{http.StatusGatewayTimeout,
			fmt.Sprintf("tend is busy: the supervisor did not answer within %v", s.opt.loopTimeout)}
	}
}

// audit logs a request: who asked what, and how it went.
func (s *server) audit(req Request, reply Reply, herr *httpError) {
	ev := s.log.Debug()
	switch {
	case herr != nil || reply.Err != "":
		if changes(req.Verb) {
			ev = s.log.Warn()
		}
	case changes(req.Verb):
		ev = s.log.Info()
	}
	ev = ev.Str("verb", req.Verb).Uint32("peer_uid", req.Peer.UID).
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

// stream answers GET /v1/events: one JSON line per event, flushed as it
// comes, until the client goes away or the loop drops the subscriber.
func (s *server) stream(w http.ResponseWriter, r *http.Request, req Request) {
	if n, most := s.streams.Add(1), int64(s.opt.maxStreams); n > most {
		s.streams.Add(-1)
		s.writeError(w, &httpError{http.StatusServiceUnavailable,
			fmt.Sprintf("tend is busy: %d events streams open, at most %d", n-1, most)})
		return
	}
	defer s.streams.Add(-1)

	// The loop sends every event; the server filters. Names stay out of
	// the Request: for events the loop takes none.
	filter := req.Names
	req.Names = nil
	events := make(chan Event, s.opt.eventsCap)
	done := make(chan struct{})
	// Also when ask gave up after the loop took the request: the loop
	// then forgets a subscriber nobody reads.
	defer close(done)
	req.Events, req.Done = events, done

	ctx := r.Context()
	reply, herr := s.ask(ctx, req)
	s.audit(req, reply, herr)
	if herr != nil {
		s.writeError(w, herr)
		return
	}
	if reply.Err != "" {
		s.writeJSON(w, http.StatusUnprocessableEntity, reply)
		return
	}

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	enc := json.NewEncoder(w)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.quit:
			return
		case ev, ok := <-events:
			if !ok {
				reason := fmt.Sprintf("the client fell behind: more than %d events were waiting, later ones were lost", cap(events))
				s.log.Warn().Uint32("peer_uid", req.Peer.UID).Int32("peer_pid", req.Peer.PID).
					Str("reason", reason).Msg("control: events subscriber dropped")
				_ = rc.SetWriteDeadline(time.Now().Add(s.opt.writeTimeout))
				if enc.Encode(dropped{Dropped: true, Reason: reason}) == nil {
					_ = rc.Flush()
				}
				return
			}
			if len(filter) > 0 && !matchAny(filter, ev.Program) {
				continue
			}
			_ = rc.SetWriteDeadline(time.Now().Add(s.opt.writeTimeout))
			if enc.Encode(ev) != nil || rc.Flush() != nil {
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

// writeJSON writes v as the response, bounded by writeTimeout.
func (s *server) writeJSON(w http.ResponseWriter, code int, v any) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opt.writeTimeout))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is every error's JSON: {"error":"..."}.
type errorBody struct {
	Error string `json:"error"`
}

// refuse answers a request that never reached the loop.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	p := peerOf(r.Context())
	s.log.Debug().Str("method", printable(r.Method)).Str("path", printable(r.URL.Path)).
		Uint32("peer_uid", p.UID).Int32("peer_pid", p.PID).Str("reason", err.Error()).
		Msg("control: bad request")
	s.writeError(w, err)
}

func (s *server) writeError(w http.ResponseWriter, err error) {
	herr, ok := errors.AsType[*httpError](err)
	if !ok {
		herr = &httpError{http.StatusInternalServerError, err.Error()}
	}
	if herr == errGone {
		return
	}
	s.writeJSON(w, herr.code, errorBody{herr.msg})
}

// logWriter sends net/http's own complaints (accept errors, recovered
// panics) to tend's log.
type logWriter struct{ log zerolog.Logger }

func (l logWriter) Write(p []byte) (int, error) {
	l.log.Warn().Str("component", "control").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
