package control

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"tend/api"
	"tend/ctl"
)

// TestLogsStream: GET /v1/logs answers the last lines as JSON lines and
// ends; with follow=true it goes on with each new line.
func TestLogsStream(t *testing.T) {
	e := newEnv(t)
	hc := e.httpClient()
	resp, err := hc.Get("http://tend/v1/logs?name=web:0&n=2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var lines []api.LogLine
	for l := range strings.Lines(string(body)) {
		var ll api.LogLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		lines = append(lines, ll)
	}
	if len(lines) != 2 || lines[0].Line != "web0 line 2" || lines[1].Line != "web0 line 3" ||
		lines[1].Program != "web:0" || lines[1].Stream != "stdout" || time.Since(lines[1].Time) > time.Minute {
		t.Errorf("lines %+v", lines)
	}

	resp, err = hc.Get("http://tend/v1/logs?name=web:1&n=0&follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	e.loop.Output <- "web:1 hello"
	if !sc.Scan() {
		t.Fatal(sc.Err())
	}
	if l := sc.Text(); !strings.Contains(l, `"program":"web:1","stream":"stdout","line":"hello"}`) {
		t.Errorf("followed %s", l)
	}

	resp2, err := hc.Get("http://tend/v1/logs?name=stuck")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != 422 || !strings.Contains(string(body), "inherited") {
		t.Errorf("stuck: %d %s", resp2.StatusCode, body)
	}
}

// TestLogsEndWithServer: a follower's stream ends cleanly when tend
// shuts its server down; tend ctl logs -f exits 0.
func TestLogsEndWithServer(t *testing.T) {
	e := newEnv(t)
	var out, errOut syncBuffer
	code := make(chan int, 1)
	go func() { code <- ctl.Main([]string{"--socket", e.sock, "logs", "-f", "web:0"}, &out, &errOut) }()
	if !waitFor(10*time.Second, func() bool { return strings.Count(out.String(), "\n") == 3 }) {
		t.Fatalf("logs printed %q", out.String())
	}
	e.stop()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d, stderr %q", c, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs -f did not end with the server")
	}
}

// TestSlowLogsFollowerDropped: a follower that stops reading holds up
// no copier and no loop; once the program has written more than tend
// keeps, it is dropped, and its stream ends with the dropped line.
func TestSlowLogsFollowerDropped(t *testing.T) {
	e := newEnv(t)
	c, err := net.Dial("unix", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "GET /v1/logs?name=db&n=0&follow=true HTTP/1.1\r\nHost: tend\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The answer's head: the follower is registered.
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Write far more than the socket and the ring hold, while the client
	// reads nothing; the loop goes on answering.
	line := strings.Repeat("x", 1000)
	for range 4000 {
		e.loop.Output <- "db " + line
	}
	e.mustCtl(0, "status", "db")
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	n, last := 0, ""
	for sc.Scan() {
		if last != "" {
			n++
		}
		last = sc.Text()
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("after %d lines: %v", n, err)
	}
	var d api.Dropped
	if err := json.Unmarshal([]byte(last), &d); err != nil || !d.Dropped || !strings.Contains(d.Reason, "fell behind") {
		t.Fatalf("last line %q, want the dropped line", last)
	}
	if n == 0 || n >= 4000 {
		t.Errorf("%d lines before the drop, want some and not all 4000", n)
	}
	t.Logf("%d of 4000 lines delivered before the drop", n)
}
