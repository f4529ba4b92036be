package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The parsers never panic, and accept only what is well formed: checked
// on its own terms, against net/http's parsers (what h1 accepts, net/http
// reads the same way; h1 may refuse more), and by writing a request back
// and reading it again.

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET /v1/status?name=web%3A* HTTP/1.1\r\nHost: tend\r\n\r\n",
		"GET / HTTP/1.0\n\n",
		"POST /v1/stop HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"names\":[\"db\"]}",
		"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nTrailer: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n1\r\na\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
		"GET http://tend/v1/events HTTP/1.1\r\nHost: tend\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"\x00\x01\x02 garbage\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			if e, ok := errors.AsType[*Error](err); ok && StatusText(e.Code) == "" {
				t.Fatalf("refused with %d, a code without a text", e.Code)
			}
			return
		}
		body, berr := io.ReadAll(io.LimitReader(req.Body, 1<<20))

		if !isToken(req.Method) || req.Target == "" || strings.ContainsAny(req.Target, " \r\n\x00") || req.Minor > 1 {
			t.Fatalf("accepted %+v", req)
		}
		for _, f := range req.Header {
			if !isToken(f.Name) || !isFieldValue(f.Value) || strings.TrimSpace(f.Value) != f.Value {
				t.Fatalf("accepted the field %q: %q", f.Name, f.Value)
			}
		}
		if req.ContentLength < 0 || berr == nil && req.ContentLength >= 0 && int64(len(body)) != min(req.ContentLength, 1<<20) {
			t.Fatalf("Content-Length %d, read %d bytes", req.ContentLength, len(body))
		}

		hreq, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatalf("accepted what net/http refuses (%v):\n%q", err, data)
		}
		if hreq.Method != req.Method || hreq.URL.Path != req.Path || hreq.URL.RawQuery != req.RawQuery || hreq.ProtoMinor != req.Minor {
			t.Fatalf("read %s %q %q 1.%d, net/http %s %q %q 1.%d", req.Method, req.Path, req.RawQuery, req.Minor,
				hreq.Method, hreq.URL.Path, hreq.URL.RawQuery, hreq.ProtoMinor)
		}
		if berr != nil {
			return
		}
		hbody, err := io.ReadAll(io.LimitReader(hreq.Body, 1<<20))
		if err != nil || !bytes.Equal(hbody, body) {
			t.Fatalf("body %q, net/http's %q (%v)", body, hbody, err)
		}

		// Written back, with the body's length, it reads the same.
		var h Header
		for _, f := range req.Header {
			if !strings.EqualFold(f.Name, "Content-Length") && !strings.EqualFold(f.Name, "Transfer-Encoding") {
				h = append(h, f)
			}
		}
		h = append(h, Field{"Content-Length", strconv.Itoa(len(body))})
		b := appendHead(nil, req.Method+" "+req.Target+" HTTP/1."+strconv.Itoa(req.Minor), h)
		b = append(append(b, "\r\n"...), body...)
		req2, err := ReadRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatalf("written back as %q: %v", b, err)
		}
		body2, err := io.ReadAll(req2.Body)
		if err != nil || req2.Method != req.Method || req2.Target != req.Target || req2.Path != req.Path ||
			req2.Minor != req.Minor || len(req2.Header) != len(h) || !bytes.Equal(body2, body) {
			t.Fatalf("written back as %q, read %+v %q %v", b, req2, body2, err)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{}\n",
		"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{}\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nTrailer: 1\r\n\r\n",
		// Once FuzzParseRequest's, when requests could be chunked.
		"HTTP/1.1 200 OK\nTrAnsfer-EnCoding:Chunked\n\n0\r\n\n",
		"HTTP/1.1 200 OK\nTrAnsfer-EnCoding:Chunked\nContent-Length:\n\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200\r\n\r\nto the end",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
		"HTTP/1.1 301 Moved Permanently\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"ICY 200 OK\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := ReadResponse(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		body, berr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.Code < 100 || resp.Code > 999 || !strings.HasPrefix(resp.Status, strconv.Itoa(resp.Code)) {
			t.Fatalf("accepted %d %q", resp.Code, resp.Status)
		}
		for _, f := range resp.Header {
			if !isToken(f.Name) || !isFieldValue(f.Value) {
				t.Fatalf("accepted the field %q: %q", f.Name, f.Value)
			}
		}

		// net/http's ReadResponse does not skip 1xx answers: skip them
		// here.
		br := bufio.NewReader(bytes.NewReader(data))
		var hresp *http.Response
		for {
			if hresp, err = http.ReadResponse(br, nil); err != nil {
				t.Fatalf("accepted what net/http refuses (%v):\n%q", err, data)
			}
			if hresp.StatusCode/100 != 1 || hresp.StatusCode == 101 {
				break
			}
		}
		if hresp.StatusCode != resp.Code {
			t.Fatalf("read %d, net/http %d", resp.Code, hresp.StatusCode)
		}
		if berr != nil {
			return
		}
		hbody, err := io.ReadAll(io.LimitReader(hresp.Body, 1<<20))
		if err != nil || !bytes.Equal(hbody, body) {
			t.Fatalf("body %q, net/http's %q (%v)", body, hbody, err)
		}
	})
}
