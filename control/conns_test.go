package control

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tend/api"
)

// The read deadline and the eviction rule (conns.go), on fake time: a
// server on an in-memory listener (net.Pipe) in front of a small loop,
// all inside a synctest bubble.

// pipeListener is a net.Listener whose connections are net.Pipes.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// pipeServer is a server on a pipeListener, and its loop: health is
// always healthy; events subscribers get what emit sends.
type pipeServer struct {
	t      *testing.T
	ln     *pipeListener
	emit   chan api.Event
	served chan error
}

func newPipeServer(t *testing.T, opt options) *pipeServer {
	p := &pipeServer{t: t, ln: &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})},
		emit: make(chan api.Event), served: make(chan error, 1)}
	reqs := make(chan api.Request)
	go func() {
		var subs []chan<- api.Event
		for {
			select {
			case req, ok := <-reqs:
				if !ok {
					return
				}
				switch req.Verb {
				case api.VerbHealth:
					req.Reply <- api.Reply{Healthy: true}
				case api.VerbEvents:
					subs = append(subs, req.Events)
					req.Reply <- api.Reply{}
				default:
					req.Reply <- api.Reply{Err: "not in this test"}
				}
			case ev := <-p.emit:
				for _, s := range subs {
					select {
					case s <- ev:
					default:
					}
				}
			}
		}
	}()
	go func() {
		p.served <- serve(p.ln, reqs, zerolog.New(zerolog.NewTestWriter(t)), opt)
		close(reqs)
	}()
	return p
}

// dial connects, and returns once the server has taken the connection
// into its table.
func (p *pipeServer) dial() net.Conn {
	c, s := net.Pipe()
	p.ln.conns <- s
	synctest.Wait()
	return c
}

// stop closes the listener and waits for the server to return.
func (p *pipeServer) stop() {
	p.ln.Close()
	if err := <-p.served; err != nil {
		p.t.Errorf("serve: %v", err)
	}
}

// send writes s on c, from a goroutine: a pipe's Write waits for the
// reader.
func send(c net.Conn, s string) {
	go func() { _, _ = io.WriteString(c, s) }()
	synctest.Wait()
}

// ask sends a request on c and reads the answer's status and body.
func ask(t *testing.T, c net.Conn, br *bufio.Reader, path string) (int, string) {
	t.Helper()
	send(c, "GET "+path+" HTTP/1.1\r\nHost: tend\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// closed reports whether the server closed c: a read returns at once
// with the end of the stream.
func closed(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now()) // now: don't wait for more
	_, err := c.Read(make([]byte, 1))
	_ = c.SetReadDeadline(time.Time{})
	return err == io.EOF
}

// stream opens an events stream on a new connection, and returns its
// connection and body.
func (p *pipeServer) stream() (net.Conn, io.Reader) {
	p.t.Helper()
	c := p.dial()
	send(c, "GET /v1/events HTTP/1.1\r\nHost: tend\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		p.t.Fatalf("events: %v %v", resp, err)
	}
	return c, resp.Body
}

// TestEvictOldestWaiting: at the connection limit, a new connection
// closes the oldest one that has not sent a whole request (silent, or
// half a request), never an events stream; when all are busy, the new
// one's request gets a 503. An answered connection is closed, and leaves
// the table.
func TestEvictOldestWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opt := defaultOptions
		opt.maxConns, opt.maxStreams = 4, 4
		p := newPipeServer(t, opt)
		defer p.stop()

		answered := p.dial()
		defer answered.Close()
		if code, _ := ask(t, answered, bufio.NewReader(answered), "/v1/health"); code != 200 {
			t.Fatalf("health: %d", code)
		}
		synctest.Wait()
		if !closed(answered) {
			t.Fatal("a connection is open after its answer")
		}

		sc, stream := p.stream()
		defer sc.Close()
		silent := p.dial()
		defer silent.Close()
		time.Sleep(100 * time.Millisecond)
		half := p.dial()
		defer half.Close()
		send(half, "GET /v1/hea")
		time.Sleep(100 * time.Millisecond)
		late := p.dial()
		defer late.Close()
		// Four open: the stream, silent, half, late. Each new connection
		// closes the oldest waiting one; a silent one dialed after it
		// fills the table again, the newest waiting.
		for i, want := range []net.Conn{silent, half, late} {
			c := p.dial()
			defer c.Close()
			if !closed(want) {
				t.Fatalf("new connection %d: the oldest waiting connection is open", i)
			}
			if code, body := ask(t, c, bufio.NewReader(c), "/v1/health"); code != 200 {
				t.Fatalf("new connection %d: health: %d %s", i, code, body)
			}
			filler := p.dial()
			defer filler.Close()
		}
		// The stream was never the one to go.
		p.emit <- api.Event{Program: "db", State: api.Running}
		var ev api.Event
		if err := json.NewDecoder(stream).Decode(&ev); err != nil || ev.Program != "db" {
			t.Fatalf("stream after the evictions: %+v %v", ev, err)
		}

		// Every connection busy: three more streams take the places of
		// the three fillers; a fifth connection finds none to close, and
		// is told so.
		for range 3 {
			c, _ := p.stream()
			defer c.Close()
		}
		over := p.dial()
		defer over.Close()
		code, body := ask(t, over, bufio.NewReader(over), "/v1/health")
		if code != 503 || !strings.Contains(body, "tend is busy: 5 control connections open, at most 4") {
			t.Errorf("over the limit with every connection busy: %d %s", code, body)
		}
		if closed(sc) {
			t.Error("the first stream was closed")
		}
	})
}

// TestRequestDeadline: a request must come whole within 2 s of the
// connection, however its bytes trickle in.
func TestRequestDeadline(t *testing.T) {
	const req = "GET /v1/health HTTP/1.1\r\nHost: tend\r\n\r\n"
	// trickle writes s a byte at a time until the server ends c, and
	// then closes the channel it returned.
	trickle := func(c net.Conn, s string) <-chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range len(s) {
				if _, err := c.Write([]byte{s[i]}); err != nil {
					return
				}
				time.Sleep(time.Second / 2) // the slow client under test
			}
		}()
		return done
	}
	// dropped waits for the server to end c, and says after how long
	// and with what answer.
	dropped := func(c net.Conn) (time.Duration, string) {
		start := time.Now()
		out, _ := io.ReadAll(c)
		return time.Since(start), string(out)
	}

	t.Run("head", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPipeServer(t, defaultOptions)
			defer p.stop()
			c := p.dial()
			defer c.Close()
			done := trickle(c, req)
			if d, out := dropped(c); d != 2*time.Second || out != "" {
				t.Errorf("a request trickling in: dropped after %v with %q, want 2s and no answer", d, out)
			}
			<-done
		})
	})
	t.Run("body", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := newPipeServer(t, defaultOptions)
			defer p.stop()
			c := p.dial()
			defer c.Close()
			send(c, "POST /v1/reload HTTP/1.1\r\nHost: tend\r\nContent-Length: 20\r\n\r\n")
			done := trickle(c, strings.Repeat(" ", 20))
			d, out := dropped(c)
			<-done
			if d != 2*time.Second+lingerTime || !strings.HasPrefix(out, "HTTP/1.1 408 Request Timeout\r\n") {
				t.Errorf("a body trickling in: ended after %v with %q, want 408 at 2s", d, out)
			}
		})
	})
}

// socketPair returns the two ends of a connected unix socket: tend's
// and the client's.
func socketPair(t *testing.T) (tend, client net.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var cs [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs[i] = c
	}
	return cs[0], cs[1]
}

// TestSlowestPassesOver: the connection to give way is the oldest that
// was read, other than the one asking, and not one whose socket holds
// bytes tend has not read (tend is slow there, not the client); a
// connection not read yet never gives way, and beyond twice the limit a
// new one is refused.
func TestSlowestPassesOver(t *testing.T) {
	opt := defaultOptions
	opt.maxConns = 3
	var s *server
	// open adds a connection; read: as its goroutine does once it runs.
	open := func(read bool) (*conn, net.Conn) {
		t.Helper()
		sc, cc := socketPair(t)
		c := s.add(sc)
		if c == nil {
			t.Fatalf("connection %d refused", len(s.conns)+1)
		}
		if read && !s.setState(c, connReading) {
			t.Fatal("setState: gone")
		}
		return c, cc
	}
	gone := func(cs ...*conn) []bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		var g []bool
		for _, c := range cs {
			g = append(g, c.state == connGone)
		}
		return g
	}
	fresh := func() { s = &server{opt: opt, log: zerolog.Nop(), conns: make(map[*conn]struct{})} }

	fresh()
	a, ac := open(true)
	b, _ := open(true)
	c, _ := open(true)
	if _, err := ac.Write([]byte("GET /")); err != nil { // a's bytes, unread
		t.Fatal(err)
	}
	open(true)
	if g := gone(a, b, c); g[0] || !g[1] || g[2] {
		t.Errorf("a fourth connection: gone a, b, c: %v; want b alone (a has bytes unread)", g)
	}

	// Connections not read yet do not give way: the table grows, to
	// twice the limit, then refuses.
	fresh()
	var news []*conn
	for range 2 * opt.maxConns {
		c, _ := open(false)
		news = append(news, c)
	}
	if g := gone(news...); slices.Contains(g, true) {
		t.Errorf("connections not read yet were closed: %v", g)
	}
	sc, _ := socketPair(t)
	if c := s.add(sc); c != nil {
		t.Errorf("a connection beyond twice the limit was taken")
	}

	// Over the limit, a request read on n0 closes the oldest waiting
	// connections but n0, until the table is within the limit.
	for _, c := range news[:4] {
		s.setState(c, connReading)
	}
	if n, ok := s.makeRoom(news[0]); !ok || n != opt.maxConns {
		t.Errorf("makeRoom: %d open, ok %v; want %d, true", n, ok, opt.maxConns)
	}
	if g := gone(news[:4]...); !slices.Equal(g, []bool{false, true, true, true}) {
		t.Errorf("gone after makeRoom for the first: %v, want the next three", g)
	}
	// None left to give way (n0 busy, the others new): over the limit
	// it stays, and says so.
	s.setState(news[0], connBusy)
	last, _ := open(true)
	if n, ok := s.makeRoom(last); ok || n != opt.maxConns+1 {
		t.Errorf("makeRoom with none waiting: %d open, ok %v; want %d, false", n, ok, opt.maxConns+1)
	}
}
