package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// readAll reads a request from data, and its body.
func readAll(data string) (*Request, string, error) {
	req, err := ReadRequest(bufio.NewReader(strings.NewReader(data)))
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(req.Body)
	return req, string(body), err
}

func TestReadRequest(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		code     int    // refused with this code; 0: accepted
		body     string // accepted: the body read
	}{
		{"get", "GET /v1/status?name=web%3A* HTTP/1.1\r\nHost: tend\r\n\r\n", 0, ""},
		{"bare LF", "GET / HTTP/1.1\nHost: tend\n\n", 0, ""},
		{"length", "POST /v1/stop HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", 0, "hello"},
		{"same length twice", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi", 0, "hi"},
		{"http/1.0 without host", "GET / HTTP/1.0\r\n\r\n", 0, ""},
		{"absolute form", "GET http://tend/v1/status?x HTTP/1.1\r\nHost: tend\r\n\r\n", 0, ""},
		{"garbage", "\x00\x01\x02 garbage\r\n\r\n", 400, ""},
		{"no protocol", "GET /\r\n\r\n", 400, ""},
		{"two spaces", "GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400, ""},
		{"bad method", "G(T / HTTP/1.1\r\nHost: t\r\n\r\n", 400, ""},
		{"bad target", "GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400, ""},
		{"control in target", "GET /\x7f HTTP/1.1\r\nHost: t\r\n\r\n", 400, ""},
		{"http/2", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, ""},
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400, ""},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, ""},
		{"folded line", "GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400, ""},
		{"space before colon", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400, ""},
		{"no colon", "GET / HTTP/1.1\r\nHost t\r\n\r\n", 400, ""},
		{"control in value", "GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", 400, ""},
		{"CR in value", "GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n", 400, ""},
		{"bad length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello", 400, ""},
		{"two lengths", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 4\r\n\r\nhello", 400, ""},
		{"gzip", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501, ""},
		{"gzip, chunked", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, ""},
		{"chunked in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, ""},
		// One request per connection, its body sent with its head, with
		// its length: no chunked body, no 100 Continue.
		{"chunked", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nhel\r\n2 \r\nlo\r\n0\r\nTrailer: x\r\n\r\n", 411, ""},
		{"Chunked, and a length", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\nContent-Length: 3\r\n\r\n1\r\na\r\n0\r\n\r\n", 411, ""},
		{"expect 100-continue", "POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", 417, ""},
		{"expect", "POST / HTTP/1.1\r\nHost: t\r\nExpect: sugar\r\nContent-Length: 1\r\n\r\nx", 417, ""},
		{"header too large", "GET / HTTP/1.1\r\nHost: t\r\nX: " + strings.Repeat("a", MaxHeaderBytes) + "\r\n\r\n", 431, ""},
		{"line too large", "GET /" + strings.Repeat("a", MaxHeaderBytes) + " HTTP/1.1\r\n\r\n", 431, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, body, err := readAll(tc.in)
			var e *Error
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code == 0 && body != tc.body:
				t.Fatalf("body %q, want %q", body, tc.body)
			case tc.code != 0 && (!errors.As(err, &e) || e.Code != tc.code):
				t.Fatalf("%+v %v, want refused with %d", req, err, tc.code)
			}
		})
	}
}

func TestReadRequestFields(t *testing.T) {
	req, _, err := readAll("GET /v1/%73tatus?name=web%3A*&name=db HTTP/1.1\r\nhost:  tend \r\nConnection: Keep-Alive, close\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "GET" || req.Path != "/v1/status" || req.RawQuery != "name=web%3A*&name=db" || req.Minor != 1 ||
		req.Header.Get("Host") != "tend" || req.ContentLength != 0 || !req.Body.Done() {
		t.Errorf("%+v", req)
	}
}

// The connection ends before a request, in its head, or in its body.
func TestReadRequestCut(t *testing.T) {
	if _, _, err := readAll(""); err != io.EOF {
		t.Errorf("nothing: %v, want EOF", err)
	}
	for _, in := range []string{"GET / HTTP/1.1\r\nHost: t\r\n", "GET / HT"} {
		if _, _, err := readAll(in); err != io.ErrUnexpectedEOF {
			t.Errorf("%q: %v, want unexpected EOF", in, err)
		}
	}
	if _, _, err := readAll("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\nhello"); err != io.ErrUnexpectedEOF {
		t.Errorf("a body cut short: %v, want unexpected EOF", err)
	}
}

// A chunked body, as the client reads an answer's (the events stream's):
// extensions and trailers dropped, a cut or a malformed chunk an error.
func TestReadResponseChunked(t *testing.T) {
	read := func(chunks string) (string, error) {
		resp, err := ReadResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)))
		if err != nil {
			return "", err
		}
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}
	if body, err := read("3;ext=1\r\nhel\r\n2 \r\nlo\r\n0\r\nTrailer: x\r\n\r\n"); body != "hello" || err != nil {
		t.Errorf("%q %v, want hello", body, err)
	}
	for in, want := range map[string]error{
		"9\r\nhello":            io.ErrUnexpectedEOF,
		"5\r\nhello\r\n":        io.ErrUnexpectedEOF,
		"zz\r\n":                errChunkLength,
		"\r\n":                  errChunkLength,
		"5\nhello\r\n0\r\n\r\n": errChunked, // bare LF
		"5\r\nhelloX\r\n":       errChunked,
		"1;a\rb\r\nx\r\n":       errChunked,
		"0\r\nX y\r\n\r\n":      errChunked, // a malformed trailer
	} {
		if _, err := read(in); err != want {
			t.Errorf("chunks %q: %v, want %v", in, err, want)
		}
	}
}

// What Respond, Stream and WriteError write, net/http reads as meant.
func TestAnswersReadByNetHTTP(t *testing.T) {
	read := func(req *Request, out string) (*http.Response, string) {
		t.Helper()
		hreq := &http.Request{Method: req.Method}
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), hreq)
		if err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		return resp, string(body)
	}
	h := Header{{"Content-Type", "application/json"}, {"Allow", "GET"}}

	req, _, _ := readAll("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	var out bytes.Buffer
	if err := req.Respond(&out, 405, h, []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	resp, body := read(req, out.String())
	if resp.StatusCode != 405 || resp.Status != "405 Method Not Allowed" || body != "{}\n" || !resp.Close ||
		resp.Header.Get("Allow") != "GET" || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Date") == "" {
		t.Errorf("%q", out.String())
	}

	// A body left unread, keep-alive asked for, HTTP/1.0: the answer is
	// the same, and the connection closes after it.
	for _, head := range []string{
		"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
		"GET / HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	} {
		req, err := ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err != nil {
			t.Fatal(err)
		}
		out.Reset()
		req.Respond(&out, 413, nil, []byte("too large"))
		if resp, body := read(req, out.String()); resp.StatusCode != 413 || !resp.Close || body != "too large" ||
			!strings.Contains(out.String(), "\r\nConnection: close\r\n") {
			t.Errorf("%q: %q", head, out.String())
		}
	}

	// HEAD: the length, not the body.
	req, _, _ = readAll("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
	out.Reset()
	req.Respond(&out, 200, nil, []byte("hello"))
	if resp, body := read(req, out.String()); resp.ContentLength != 5 || body != "" || strings.HasSuffix(out.String(), "hello") {
		t.Errorf("%q", out.String())
	}

	// A stream: chunked for 1.1, to the end of the connection for 1.0.
	for _, proto := range []string{"1.1", "1.0"} {
		req, _, _ = readAll("GET /v1/events HTTP/" + proto + "\r\nHost: t\r\n\r\n")
		out.Reset()
		w, err := req.Stream(&out, 200, Header{{"Content-Type", "application/x-ndjson"}})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("{\"a\":1}\n"))
		w.Write(nil) // not the end
		w.Write([]byte("{\"b\":2}\n"))
		w.Close()
		resp, body := read(req, out.String())
		if body != "{\"a\":1}\n{\"b\":2}\n" || (proto == "1.1") != (resp.TransferEncoding != nil) || !resp.Close {
			t.Errorf("HTTP/%s: %q", proto, out.String())
		}
	}

	out.Reset()
	WriteError(&out, &Error{Code: 400})
	if resp, body := read(&Request{Method: "GET"}, out.String()); resp.StatusCode != 400 || !resp.Close || body != "400 Bad Request" ||
		!strings.HasPrefix(out.String(), "HTTP/1.1 400 Bad Request\r\n") {
		t.Errorf("%q", out.String())
	}
}

// The client against net/http's server.
func TestDoAgainstNetHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("X-Method", r.Method)
			w.Header().Set("X-Conn", r.Header.Get("Connection"))
			w.Write(body)
		case "/chunked":
			for _, s := range []string{"one\n", "two\n"} {
				w.Write([]byte(s))
				w.(http.Flusher).Flush()
			}
		case "/early":
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte("tea"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/hang":
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	do := func(ctx context.Context, method, path string, body []byte) (*Response, string, error) {
		t.Helper()
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		resp, err := Do(ctx, c, method, path, Header{{"Host", "x"}}, body)
		if err != nil {
			return nil, "", err
		}
		defer resp.Close()
		data, err := io.ReadAll(resp.Body)
		return resp, string(data), err
	}
	ctx := context.Background()
	if resp, body, err := do(ctx, "POST", "/echo", []byte("ping")); err != nil || resp.Code != 200 || resp.Status != "200 OK" ||
		body != "ping" || resp.Header.Get("X-Method") != "POST" || resp.Header.Get("X-Conn") != "close" {
		t.Errorf("echo: %+v %q %v", resp, body, err)
	}
	if resp, body, err := do(ctx, "GET", "/chunked", nil); err != nil || body != "one\ntwo\n" || resp.Header.Get("Transfer-Encoding") != "chunked" {
		t.Errorf("chunked: %+v %q %v", resp, body, err)
	}
	if resp, body, err := do(ctx, "GET", "/early", nil); err != nil || resp.Code != 418 || body != "tea" {
		t.Errorf("103 then 418: %+v %q %v", resp, body, err)
	}
	if resp, body, err := do(ctx, "GET", "/empty", nil); err != nil || resp.Code != 204 || body != "" {
		t.Errorf("204: %+v %q %v", resp, body, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, _, err := do(ctx, "GET", "/hang", nil); err != context.DeadlineExceeded {
		t.Errorf("hang: %v, want the context's error", err)
	}
}

// An answer delimited by the end of the connection, as an HTTP/1.0
// server sends it.
func TestDoUntilClose(t *testing.T) {
	client, server := net.Pipe()
	go func() {
		bufio.NewReader(server).ReadString('\n')
		io.WriteString(server, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
		server.Close()
	}()
	resp, err := Do(context.Background(), client, "GET", "/", Header{{"Host", "x"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	if body, err := io.ReadAll(resp.Body); string(body) != "all of it" || err != nil {
		t.Errorf("%q %v", body, err)
	}
}

func TestReadResponseRefuses(t *testing.T) {
	for _, in := range []string{
		"",
		"HTTP/1.1 200 OK\r\n",
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 abc OK\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX y\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 3) + "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxResponseHeader) + "\r\n\r\n",
	} {
		if resp, err := ReadResponse(bufio.NewReader(strings.NewReader(in))); err == nil {
			t.Errorf("%q: accepted %+v", abbrev(in), resp)
		}
	}
}
