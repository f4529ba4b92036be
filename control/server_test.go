package control

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"tend/api"
	"tend/ctl"
)

// httpClient is a plain net/http client on the env's socket.
func (e *env) httpClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", e.sock)
			},
		},
	}
}

// raw writes data on a new connection, half-closes it when closeWrite,
// and returns what the server wrote until it closed the connection.
func (e *env) raw(data string, closeWrite bool) string {
	e.t.Helper()
	c, err := net.Dial("unix", e.sock)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		// The server may answer and close before reading it all.
		c.Write([]byte(data))
		if closeWrite {
			c.(*net.UnixConn).CloseWrite()
		}
	}()
	out, _ := io.ReadAll(c)
	return string(out)
}

func TestRequestErrors(t *testing.T) {
	e := newEnv(t)
	hc := e.httpClient()
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string // in the body
		allow              string
	}{
		{"GET", "/v1/nope", "", 404, `"error":"no such endpoint: /v1/nope (see docs/control.md)"`, ""},
		{"GET", "/", "", 404, "no such endpoint", ""},
		{"GET", "/v1/status/", "", 404, "no such endpoint", ""},
		{"POST", "/v1/status", "", 405, "/v1/status takes GET, not POST", "GET"},
		{"GET", "/v1/start", "", 405, "/v1/start takes POST, not GET", "POST"},
		{"DELETE", "/v1/events", "", 405, "takes GET", "GET"},
		{"POST", "/v1/start", `{"names":["web:0"],"extra":1}`, 400, `request body: unknown field \"extra\"`, ""},
		{"POST", "/v1/start", `{"names":`, 400, "request body: unexpected EOF", ""},
		{"POST", "/v1/start", `{"names":"web"}`, 400, "cannot unmarshal string", ""},
		{"POST", "/v1/start", `{}`, 400, "start needs at least one program name", ""},
		{"POST", "/v1/start", ``, 400, "missing JSON body", ""},
		{"POST", "/v1/start", `["web"]`, 400, "want a JSON object", ""},
		{"POST", "/v1/start", `{"names":["a"]} {"names":["b"]}`, 400, "data after the JSON object", ""},
		{"POST", "/v1/start", `{"names":["web:["]}`, 400, `bad glob pattern`, ""},
		{"POST", "/v1/start", `{"names":[""]}`, 400, `empty program name`, ""},
		{"POST", "/v1/start", `{"names":["a\u0000b"]}`, 400, `unprintable`, ""},
		{"POST", "/v1/signal", `{"names":["db"]}`, 400, "missing signal", ""},
		{"POST", "/v1/signal", `{"signal":"HUP;ls","names":["db"]}`, 400, `bad signal`, ""},
		{"POST", "/v1/signal", `{"signal":"HUP","names":[]}`, 400, `signal needs at least one program name`, ""},
		{"POST", "/v1/reload", `{"names":["x"]}`, 400, `unknown field \"names\"`, ""},
		{"GET", "/v1/status?bogus=1", "", 400, "/v1/status takes no query parameter bogus", ""},
		{"GET", "/v1/health?name=web", "", 400, "/v1/health takes no query parameter name", ""},
		{"GET", "/v1/status?name=%ZZ", "", 400, "bad query string", ""},
		{"GET", "/v1/status", `{"names":["db"]}`, 400, "GET /v1/status takes no body", ""},
		{"POST", "/v1/stop", `{"names":["nope"]}`, 422, `"error":"no program matches nope"`, ""},
		{"POST", "/v1/signal", `{"signal":"BOGUS","names":["db"]}`, 422, `"error":"bad signal BOGUS"`, ""},
		{"GET", "/v1/status?name=db&name=web:*", "", 200, `"name":"web:1"`, ""},
		{"GET", "/v1/health", "", 200, `{"healthy":true}`, ""},
		{"POST", "/v1/reload", "", 200, `{}`, ""},
		{"POST", "/v1/reload", " {} ", 200, `{}`, ""},
	} {
		t.Run(tc.method+" "+tc.path+" "+tc.body, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://tend"+tc.path, strings.NewReader(tc.body))
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.want) {
				t.Fatalf("%d %s, want %d with %s", resp.StatusCode, body, tc.code, tc.want)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if !json.Valid(body) {
				t.Errorf("not JSON: %s", body)
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
}

func TestGarbageHugeAndHalfClosed(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name       string
		data       string
		closeWrite bool
		want       string // prefix of the server's answer
		body       string // in the answer
	}{
		{"garbage", "\x00\x01\x02 garbage\r\n\r\n", false, "HTTP/1.1 400 Bad Request", ""},
		{"not HTTP at all", strings.Repeat("z", 10000) + "\n", false, "HTTP/1.1 400 Bad Request", ""},
		{"headers too large", "GET /v1/status HTTP/1.1\r\nHost: t\r\nX: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", false, "HTTP/1.1 431", ""},
		{"half-closed in the headers", "GET /v1/status HTTP/1.1\r\nHost: tend\r\n", true, "", ""},
		{"half-closed in the body", "POST /v1/start HTTP/1.1\r\nHost: tend\r\nContent-Length: 100\r\n\r\n{\"names\":", true,
			"HTTP/1.1 400 Bad Request", `{"error":"reading the request body: unexpected EOF"}`},
		{"1 MiB body, with length", "POST /v1/start HTTP/1.1\r\nHost: tend\r\nContent-Length: 1048576\r\n\r\n" + strings.Repeat(" ", 1<<20), false,
			"HTTP/1.1 413 Request Entity Too Large", `{"error":"request body larger than 64 KiB"}`},
		{"1 MiB body, chunked", "POST /v1/start HTTP/1.1\r\nHost: tend\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n" + strings.Repeat(" ", 1<<20) + "\r\n0\r\n\r\n", false,
			"HTTP/1.1 411 Length Required", "send Content-Length"},
		{"chunked, cut", "POST /v1/start HTTP/1.1\r\nHost: tend\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true,
			"HTTP/1.1 411 Length Required", "send Content-Length"},
		{"waits for 100 Continue", "POST /v1/start HTTP/1.1\r\nHost: tend\r\nExpect: 100-continue\r\nContent-Length: 16\r\n\r\n", false,
			"HTTP/1.1 417 Expectation Failed", "send the body with the request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := e.raw(tc.data, tc.closeWrite)
			if !strings.HasPrefix(out, tc.want) || !strings.Contains(out, tc.body) {
				t.Errorf("answer %q, want %q… with %q", abbrevString(out), tc.want, tc.body)
			}
			// tend is unharmed.
			e.mustCtl(0, "status", "db")
		})
	}
}

// TestOneRequestPerConnection: tend answers one request per connection,
// says so (Connection: close), and closes it, keep-alive asked or not:
// a second request on it goes unanswered.
func TestOneRequestPerConnection(t *testing.T) {
	e := newEnv(t)
	for _, conn := range []string{"", "Connection: keep-alive\r\n"} {
		req := "GET /v1/status?name=db HTTP/1.1\r\nHost: tend\r\n" + conn + "\r\n"
		out := e.raw(req+req, false)
		if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.Contains(out, "\r\nConnection: close\r\n") ||
			strings.Count(out, "HTTP/1.1 ") != 1 {
			t.Errorf("two requests, %q: answer %q, want one, with Connection: close", conn, abbrevString(out))
		}
	}
}

func abbrevString(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func TestSlowClientTimedOut(t *testing.T) {
	e := newEnv(t, func(o *options) { o.readTimeout = 200 * time.Millisecond })
	c, err := net.Dial("unix", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.Write([]byte("GET /v1/status HTTP/1.1\r\nHost: te")) // and nothing more
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("server did not close a connection stuck in its headers: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v", d)
	}
	t.Logf("answer to a stuck request: %q", out)
	e.mustCtl(0, "status")
}

func TestPeerCredentials(t *testing.T) {
	e := newEnv(t)
	e.mustCtl(0, "status")
	e.mustCtl(0, "stop", "db")
	for _, verb := range []api.Verb{api.VerbStatus, api.VerbStop} {
		req, _ := e.loop.Last(verb)
		want := api.Peer{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), PID: int32(os.Getpid())}
		if req.Peer != want {
			t.Errorf("%s: peer %+v, want %+v", verb, req.Peer, want)
		}
	}
	// The state change is in the audit log with the peer's uid.
	if log := e.log.String(); !strings.Contains(log, fmt.Sprintf(`"verb":"stop","peer_uid":%d,`, os.Getuid())) {
		t.Errorf("no audit line for stop in:\n%s", log)
	}
}

// waitSubscribed waits until the fake loop registered n more subscribers.
func (e *env) waitSubscribed(n int) {
	e.t.Helper()
	for range n {
		select {
		case <-e.loop.Subscribed:
		case <-time.After(10 * time.Second):
			e.t.Fatal("no events subscriber registered")
		}
	}
}

func TestEventsStream(t *testing.T) {
	e := newEnv(t)
	resp, err := e.httpClient().Get("http://tend/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("%s %v", resp.Status, resp.Header)
	}
	e.waitSubscribed(1)
	e.mustCtl(0, "stop", "--wait", "db")
	sc := bufio.NewScanner(resp.Body)
	for i, want := range []struct {
		state, from string
		pid         float64
	}{{"STOPPING", "RUNNING", 103}, {"STOPPED", "STOPPING", 0}} {
		if !sc.Scan() {
			t.Fatalf("line %d: %v", i, sc.Err())
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %q: %v", i, sc.Text(), err)
		}
		for _, k := range []string{"program", "state", "from", "pid", "time"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %q has no %q", sc.Text(), k)
			}
		}
		if m["program"] != "db" || m["state"] != want.state || m["from"] != want.from || m["pid"] != want.pid {
			t.Errorf("line %d: %q, want db %s from %s pid %v", i, sc.Text(), want.state, want.from, want.pid)
		}
		if ts, _ := m["time"].(string); ts == "" {
			t.Errorf("time %v", m["time"])
		} else if tm, err := time.Parse(time.RFC3339Nano, ts); err != nil || time.Since(tm) > time.Minute {
			t.Errorf("time %q: %v", ts, err)
		}
	}
}

func TestEventsCLI(t *testing.T) {
	e := newEnv(t)
	var out, errOut syncBuffer
	code := make(chan int, 1)
	go func() { code <- ctl.Main([]string{"--socket", e.sock, "events", "web:*"}, &out, &errOut) }()
	e.waitSubscribed(1)
	e.mustCtl(0, "stop", "--wait", "db", "web:0")
	if !waitFor(10*time.Second, func() bool { return strings.Count(out.String(), "\n") >= 2 }) {
		t.Fatalf("events printed:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, l := range lines {
		var ev api.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Program != "web:0" || ev.Time.IsZero() {
			t.Errorf("line %q (%v): want web:0 only", l, err)
		}
	}
	// tend drops the reader: the stream ends, exit 1 with the reason.
	e.loop.Drop <- struct{}{}
	select {
	case c := <-code:
		if c != 1 || !strings.Contains(errOut.String(), "tend dropped the events stream") {
			t.Errorf("exit %d, stderr %q", c, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("events did not end when dropped")
	}
}

func TestEventsEndWithServer(t *testing.T) {
	e := newEnv(t)
	var out, errOut syncBuffer
	code := make(chan int, 1)
	go func() { code <- ctl.Main([]string{"--socket", e.sock, "events"}, &out, &errOut) }()
	e.waitSubscribed(1)
	e.stop() // Serve returns (checked by stop), and ends the stream
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d, stderr %q", c, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("events did not end with the server")
	}
}

// A client that stops reading must not block the loop: the loop drops it
// (the fake, like the real one, never blocks on a subscriber), and the
// server ends the stream with a last "dropped" line.
func TestSlowSubscriberDropped(t *testing.T) {
	e := newEnv(t)
	c, err := net.Dial("unix", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "GET /v1/events HTTP/1.1\r\nHost: tend\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	e.waitSubscribed(1)
	// Events come in small batches, as state changes do, so the server
	// keeps up until the client's socket is full; then the channel
	// fills, and the loop drops the subscriber.
	const batch = 50
	n := 0
	for dropped := false; !dropped; {
		if n > 200000 {
			t.Fatalf("the loop did not drop the subscriber after %d events", n)
		}
		e.loop.Flood <- batch
		n += batch
		select {
		case <-e.loop.Dropped:
			dropped = true
		case <-time.After(time.Millisecond):
		}
	}
	// The loop is free: it answers while the client still reads nothing.
	e.mustCtl(0, "status", "db")

	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	events, last := 0, ""
	for sc.Scan() {
		if last != "" {
			events++
		}
		last = sc.Text()
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("after %d events: %v", events, err)
	}
	var d api.Dropped
	if err := json.Unmarshal([]byte(last), &d); err != nil || !d.Dropped || !strings.Contains(d.Reason, "fell behind") {
		t.Fatalf("last line %q, want the dropped line", last)
	}
	// More than the channel holds: the server wrote until the client's
	// socket was full.
	if events <= defaultOptions.eventsCap || events >= n {
		t.Errorf("%d events before the drop, want more than %d and fewer than %d", events, defaultOptions.eventsCap, n)
	}
	t.Logf("%d of %d events delivered before the drop; last line %s", events, n, last)
	e.mustCtl(0, "status")
}

func TestServeReturnsWhenClosed(t *testing.T) {
	e := newEnv(t)
	stream, err := ctl.NewClient(e.sock).Events(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	e.waitSubscribed(1)
	e.stop()
	if _, err := stream.Next(); err != io.EOF {
		t.Errorf("stream after Serve returned: %v, want EOF", err)
	}
	if code, _, errOut := e.ctl("status"); code != 3 {
		t.Errorf("status after close: exit %d, %s", code, errOut)
	}
}

func TestLimits(t *testing.T) {
	e := newEnv(t, func(o *options) { o.maxConns, o.maxStreams = 3, 1 })
	stream, err := ctl.NewClient(e.sock).Events(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	e.waitSubscribed(1)
	_, errOut := e.mustCtl(1, "events")
	if !strings.Contains(errOut, "tend is busy: 1 events and logs streams open, at most 1") {
		t.Errorf("second stream: %q", errOut)
	}
	// Two silent connections, and the stream's: a fourth takes the
	// place of the oldest silent one (conns.go), and is answered.
	var silent []net.Conn
	for range 2 {
		c, err := net.Dial("unix", e.sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	// The listener's queue is first in, first out: the server takes
	// them in this order, and ctl's after.
	e.mustCtl(0, "status", "db")
	silent[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := silent[0].Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the oldest silent connection: read %d, %v; want it closed", n, err)
	}
}

// The read timeout bounds reading a request, not an events stream.
func TestEventsOutliveReadTimeout(t *testing.T) {
	e := newEnv(t, func(o *options) { o.readTimeout = 100 * time.Millisecond })
	stream, err := ctl.NewClient(e.sock).Events(context.Background(), []string{"db"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	e.waitSubscribed(1)
	time.Sleep(300 * time.Millisecond) // three read timeouts
	e.mustCtl(0, "stop", "db")
	ev, err := stream.Next()
	if err != nil || ev.Program != "db" || ev.State != "STOPPING" {
		t.Fatalf("%+v %v", ev, err)
	}
}

// TestCtlLoopStuck: a loop that does not answer costs `tend ctl` a 504
// from the server, and exit code 3, as tend could not be reached.
func TestCtlLoopStuck(t *testing.T) {
	// A loop that takes requests and never answers.
	stuck := make(chan api.Request)
	e2 := newEnvWithReqs(t, stuck, func(o *options) { o.loopTimeout = 200 * time.Millisecond })
	_, errOut := e2.mustCtl(3, "status")
	if !strings.Contains(errOut, "did not take the request within 200ms") {
		t.Errorf("stderr %q", errOut)
	}
	go func() { <-stuck }()
	_, errOut = e2.mustCtl(3, "stop", "db")
	if !strings.Contains(errOut, "did not answer within 200ms") {
		t.Errorf("stderr %q", errOut)
	}
	// The client's own timeout, shorter than the server's.
	_, errOut = e2.mustCtl(3, "--timeout", "50ms", "status")
	if !strings.Contains(errOut, "no answer in time") {
		t.Errorf("stderr %q", errOut)
	}
}
