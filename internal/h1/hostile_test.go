package h1

import (
	"bufio"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// A hostile request corpus, as CI runs it: whatever a client sends,
// ReadRequest never panics, stops reading after a bounded number of
// bytes (so a stream without end costs nothing more), allocates a
// bounded amount per request, and refuses with a status that says why.
// The server's part (413 for a body too large, 408 for one too slow,
// dropping a slowloris) is in package control and in e2e.

// repeat reads head, then body over and over, forever: a client that
// never stops sending.
type repeat struct {
	head, body string
	off        int // in head, then in body
	inBody     bool
	n          int64 // bytes read
}

func (r *repeat) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		s := r.head
		if r.inBody {
			s = r.body
		}
		k := copy(p[n:], s[r.off:])
		n, r.off = n+k, r.off+k
		if r.off == len(s) {
			r.off, r.inBody = 0, true
		}
	}
	r.n += int64(n)
	return n, nil
}

// hostileCase is one input: a reader, and the status ReadRequest must
// refuse it with (0: accepted; -1: the input ends, io.EOF or
// io.ErrUnexpectedEOF).
type hostileCase struct {
	name string
	in   func() io.Reader
	code int
}

func hostileCorpus() []hostileCase {
	fixed := func(s string) func() io.Reader { return func() io.Reader { return strings.NewReader(s) } }
	endless := func(head, body string) func() io.Reader {
		return func() io.Reader { return &repeat{head: head, body: body} }
	}
	const get = "GET /v1/status HTTP/1.1\r\nHost: tend\r\n\r\n"
	cs := []hostileCase{
		{"endless request line", endless("GET /", "a"), StatusHeaderTooLarge},
		{"endless method", endless("", "G"), StatusHeaderTooLarge},
		{"endless header value", endless("GET / HTTP/1.1\r\nHost: t\r\nX: ", "a"), StatusHeaderTooLarge},
		{"endless empty-ish fields", endless("GET / HTTP/1.1\r\nHost: t\r\n", "a:\r\n"), StatusHeaderTooLarge},
		{"endless fields", endless("GET / HTTP/1.1\r\nHost: t\r\n", "X-Flood: 1\r\n"), StatusHeaderTooLarge},
		{"endless CRLF", endless("", "\r\n"), StatusBadRequest},
		{"endless NULs", endless("", "\x00"), StatusHeaderTooLarge},
		{"endless garbage lines", endless("", "\x01\x02\xff garbage\n"), StatusBadRequest},
		{"1 GB body claimed", fixed("POST /v1/start HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\n\r\n{"), 0},
		{"endless body sent", endless("POST /v1/start HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\n\r\n", "x"), 0},
		{"endless chunked body", endless("POST /v1/start HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", "1000\r\n"+strings.Repeat("x", 0x1000)+"\r\n"), StatusLengthRequired},
		{"endless body after 100-continue", endless("POST /v1/start HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1000000000\r\n\r\n", "x"), StatusExpectationFailed},
		{"huge Content-Length", fixed("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n"), StatusBadRequest},
		{"negative Content-Length", fixed("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n"), StatusBadRequest},
		{"101 fields", fixed("GET / HTTP/1.1\r\nHost: t\r\n" + strings.Repeat("A: b\r\n", MaxHeaderFields) + "\r\n"), StatusHeaderTooLarge},
		{"100 fields", fixed("GET / HTTP/1.1\r\n" + "Host: t\r\n" + strings.Repeat("A: b\r\n", MaxHeaderFields-1) + "\r\n"), 0},
	}
	// Every cut of a whole request: the client stops in the middle.
	for i := range len(get) {
		cs = append(cs, hostileCase{"cut at " + string(rune('0'+i/10)) + string(rune('0'+i%10)), fixed(get[:i]), -1})
	}
	// Random bytes, and random bytes after a good request line: refused
	// or cut, never accepted as anything but what they are.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		b := make([]byte, rng.IntN(4096))
		for j := range b {
			b[j] = byte(rng.UintN(256))
		}
		prefix := ""
		if i%2 == 1 {
			prefix = "GET / HTTP/1.1\r\n"
		}
		cs = append(cs, hostileCase{"random", fixed(prefix + string(b)), -2})
	}
	return cs
}

func TestHostileCorpus(t *testing.T) {
	// What ReadRequest may read of the head: the budget, and what the
	// bufio.Reader fetched beyond it.
	const maxRead = MaxHeaderBytes + 4096
	for _, tc := range hostileCorpus() {
		in := tc.in()
		br := bufio.NewReader(in)
		req, err := ReadRequest(br)
		switch e, ok := errors.AsType[*Error](err); {
		case tc.code == -2: // random: anything but a panic, and a known status
			if ok && StatusText(e.Code) == "" {
				t.Errorf("%s: refused with %d, a code without a text", tc.name, e.Code)
			}
		case tc.code == -1:
			if err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Errorf("%s: %v, want the input's end", tc.name, err)
			}
		case tc.code == 0:
			if err != nil {
				t.Errorf("%s: refused: %v", tc.name, err)
			}
		case !ok || e.Code != tc.code:
			t.Errorf("%s: %+v %v, want refused with %d", tc.name, req, err, tc.code)
		}
		if r, ok := in.(*repeat); ok && r.n > maxRead {
			t.Errorf("%s: read %d bytes of the head, want at most %d", tc.name, r.n, maxRead)
		}
		if req != nil && tc.code == 0 {
			// The body reads as what it is: the server bounds it (64 KiB,
			// then 413) with a LimitReader, as here.
			n, err := io.Copy(io.Discard, io.LimitReader(req.Body, 1<<20))
			if err != nil && err != io.ErrUnexpectedEOF {
				t.Errorf("%s: body: %v", tc.name, err)
			}
			if n > 1<<20 {
				t.Errorf("%s: body read %d bytes", tc.name, n)
			}
		}
	}
}

// TestHostileCorpusMemory: reading any request of the corpus allocates
// at most a fixed amount, and nothing is held after.
func TestHostileCorpusMemory(t *testing.T) {
	read := func(tc hostileCase) {
		req, err := ReadRequest(bufio.NewReader(tc.in()))
		if err == nil && req.ContentLength > 0 {
			_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, 1<<16))
		}
	}
	// Per request: the bufio.Reader (4 KiB), a head of up to 16 KiB read
	// as lines (the line as it grows, then its string), up to 100 fields.
	const maxPerReq = 64 << 10
	var base, before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	const rounds = 10
	worst, worstName := 0.0, ""
	for _, tc := range hostileCorpus() {
		read(tc) // warm up
		runtime.ReadMemStats(&before)
		for range rounds {
			read(tc)
		}
		runtime.ReadMemStats(&after)
		perReq := float64(after.TotalAlloc-before.TotalAlloc) / rounds
		if perReq > maxPerReq {
			t.Errorf("%s: %.0f bytes allocated per request, want at most %d", tc.name, perReq, maxPerReq)
		}
		if perReq > worst {
			worst, worstName = perReq, tc.name
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(base.HeapAlloc)
	if grew > 256<<10 {
		t.Errorf("live heap grew %d bytes over the corpus", grew)
	}
	t.Logf("at most %.0f bytes allocated per request (%s); live heap %+d bytes after", worst, worstName, grew)
}

// TestHostileResponses: whatever a server sends (an http health check's
// target, say), ReadResponse and a chunked body's reader stop after a
// bounded number of bytes, with an error: a status line, header or
// chunk line without end costs nothing more.
func TestHostileResponses(t *testing.T) {
	const chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, tc := range []struct {
		name string
		in   *repeat
		max  int64 // bytes it may read
	}{
		{"endless status line", &repeat{head: "HTTP/1.1 200 ", body: "a"}, maxResponseHeader},
		{"endless fields", &repeat{head: "HTTP/1.1 200 OK\r\n", body: "X-Flood: 1\r\n"}, maxResponseHeader},
		{"endless 1xx answers", &repeat{body: "HTTP/1.1 103 Early Hints\r\n\r\n"}, maxResponseHeader},
		{"endless chunk size", &repeat{head: chunked, body: "1"}, int64(len(chunked)) + maxChunkLine},
		{"endless chunk extension", &repeat{head: chunked + "1;", body: "x"}, int64(len(chunked)) + maxChunkLine},
		{"endless trailers", &repeat{head: chunked + "0\r\n", body: "X: y\r\n"}, int64(len(chunked)) + maxChunkLine},
	} {
		resp, err := ReadResponse(bufio.NewReader(tc.in))
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
		}
		if err == nil || err == io.EOF {
			t.Errorf("%s: read to the end: %v", tc.name, err)
		}
		if tc.in.n > tc.max+4096 { // the bufio.Reader's buffer beyond the budget
			t.Errorf("%s: read %d bytes, want at most %d", tc.name, tc.in.n, tc.max+4096)
		}
	}
}
