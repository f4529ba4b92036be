package h1

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// MaxHeaderBytes bounds a request's line and header fields together.
const MaxHeaderBytes = 16 << 10

// MaxHeaderFields bounds the number of a request's header fields. The
// bytes alone would let 16 KiB of "a:" lines cost a connection some
// 200 KiB of Fields; real clients (tend ctl, curl, Prometheus, kubelet)
// send fewer than ten.
const MaxHeaderFields = 100

// Request is a request as the server reads it. The server answers one
// request per connection, and closes it: every answer says
// "Connection: close".
type Request struct {
	Method string
	// Target is as sent: "/v1/status?name=db". Path is its path,
	// %-decoded, RawQuery its query.
	Target, Path, RawQuery string
	// Minor is the protocol's minor version: 1 for HTTP/1.1, 0 for 1.0.
	Minor  int
	Header Header
	// ContentLength is the body's length, 0 when none.
	ContentLength int64
	Body          *Body
}

// Error is a request the server cannot take: it answers with WriteError
// and closes the connection.
type Error struct {
	Code int
	Msg  string // "" or what is wrong, for the answer's text
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return StatusText(e.Code)
	}
	return StatusText(e.Code) + ": " + e.Msg
}

// ReadRequest reads a request's line and header fields from br, and
// leaves its body to Request.Body.
//
// A body comes with a Content-Length, or not at all: a chunked request
// is refused with 411 (Length Required), which tells the client to send
// the length, and an Expect field (100-continue) with 417: tend's
// requests are small, and a client sends the body with the head. Errors:
// io.EOF when the connection ended before a request began; an *Error
// for a request to refuse (malformed: 400; header over MaxHeaderBytes or
// more than MaxHeaderFields fields: 431; chunked: 411; another transfer
// coding: 501; Expect: 417; a protocol other than HTTP/1.x: 505);
// anything else (the connection ended or timed out in the middle) is
// answered by closing.
func ReadRequest(br *bufio.Reader) (*Request, error) {
	budget := MaxHeaderBytes
	line, err := readHeadLine(br, &budget)
	if err != nil {
		return nil, headErr(err)
	}
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !isToken(method) {
		return nil, &Error{Code: StatusBadRequest}
	}
	req := &Request{Method: method, Target: target, Body: &Body{}}
	switch proto {
	case "HTTP/1.1":
		req.Minor = 1
	case "HTTP/1.0":
	default:
		if strings.HasPrefix(proto, "HTTP/") {
			return nil, &Error{StatusHTTPVersion, "unsupported protocol version"}
		}
		return nil, &Error{Code: StatusBadRequest}
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, &Error{Code: StatusBadRequest}
	}
	req.Path, req.RawQuery = u.Path, u.RawQuery

	if req.Header, err = readHeader(br, &budget, MaxHeaderFields); err != nil {
		return nil, headErr(err)
	}
	h := req.Header
	switch hosts := h.values("Host"); {
	case len(hosts) > 1:
		return nil, &Error{StatusBadRequest, "too many Host headers"}
	case len(hosts) == 0 && req.Minor == 1:
		return nil, &Error{StatusBadRequest, "missing required Host header"}
	}
	if err := req.framing(br); err != nil {
		return nil, err
	}
	if len(h.values("Expect")) > 0 {
		return nil, &Error{StatusExpectationFailed, "send the body with the request"}
	}
	return req, nil
}

// framing sets up the request's body: Content-Length bytes, or none.
func (req *Request) framing(br *bufio.Reader) error {
	n, err := contentLength(req.Header)
	if err != nil {
		return &Error{StatusBadRequest, err.Error()}
	}
	te := req.Header.values("Transfer-Encoding")
	switch {
	case len(te) > 0 && req.Minor == 0:
		return &Error{StatusBadRequest, "transfer encoding in HTTP/1.0"}
	case len(te) == 1 && strings.EqualFold(te[0], "chunked"):
		return &Error{StatusLengthRequired, "a chunked body is not taken: send Content-Length"}
	case len(te) > 0:
		return &Error{StatusNotImplemented, "unsupported transfer encoding"}
	case n > 0:
		req.ContentLength = n
		req.Body.r = &lengthReader{br, n}
	}
	return nil
}

// headErr turns a failure to read a request's head into ReadRequest's
// error.
func headErr(err error) error {
	switch err {
	case errLong:
		return &Error{Code: StatusHeaderTooLarge}
	case errFields:
		return &Error{StatusHeaderTooLarge, "more than " + strconv.Itoa(MaxHeaderFields) + " header fields"}
	case errMalformed:
		return &Error{Code: StatusBadRequest}
	}
	return err
}

// WriteError answers a request that ReadRequest refused with e, in plain
// text as net/http does. Close the connection after.
func WriteError(w io.Writer, e *Error) error {
	status := strconv.Itoa(e.Code) + " " + StatusText(e.Code)
	text := status
	if e.Msg != "" {
		text += ": " + e.Msg
	}
	_, err := fmt.Fprintf(w, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, len(text), text)
	return err
}

// Respond writes the answer to req: code, the fields of h, Date,
// Content-Length, "Connection: close", and body (left out for HEAD).
func (req *Request) Respond(w io.Writer, code int, h Header, body []byte) error {
	b := req.head(code, h)
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = endHead(append(b, "\r\n"...))
	if req.Method != "HEAD" {
		b = append(b, body...)
	}
	_, err := w.Write(b)
	return err
}

// Stream writes the head of an answer whose body follows in pieces, and
// returns the body's writer: each Write is sent at once. For HTTP/1.1 the
// body is chunked, and Close ends it: the client sees a clean end. For
// HTTP/1.0 it ends when the connection does.
func (req *Request) Stream(w io.Writer, code int, h Header) (io.WriteCloser, error) {
	b := req.head(code, h)
	if req.Minor == 1 {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if _, err := w.Write(endHead(b)); err != nil {
		return nil, err
	}
	if req.Minor == 0 {
		return nopCloser{w}, nil
	}
	return chunkWriter{w}, nil
}

// head is an answer's status line and fields, up to Date, with the
// order and the protocol version that net/http gave it.
func (req *Request) head(code int, h Header) []byte {
	b := appendHead(make([]byte, 0, 512), "HTTP/1."+strconv.Itoa(req.Minor)+" "+strconv.Itoa(code)+" "+StatusText(code), h)
	return append(b, "Date: "+date()+"\r\n"...)
}

// endHead adds "Connection: close", since the connection ends after
// every answer, and the empty line that ends the head.
func endHead(b []byte) []byte {
	return append(b, "Connection: close\r\n\r\n"...)
}

// chunkWriter writes each Write as one chunk.
type chunkWriter struct{ w io.Writer }

func (c chunkWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // an empty chunk would end the body
	}
	b := make([]byte, 0, len(p)+20)
	b = strconv.AppendInt(b, int64(len(p)), 16)
	b = append(b, "\r\n"...)
	b = append(b, p...)
	b = append(b, "\r\n"...)
	if _, err := c.w.Write(b); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close writes the last chunk, ending the body.
func (c chunkWriter) Close() error {
	_, err := io.WriteString(c.w, "0\r\n\r\n")
	return err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
