package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
)

// maxResponseHeader bounds an answer's status line and header fields.
const maxResponseHeader = 1 << 20

// Response is an answer as the client reads it.
type Response struct {
	Code int
	// Status is the code and reason phrase as sent: "404 Not Found".
	Status string
	Header Header
	// Body reads the rest: Content-Length bytes, chunked, or up to the
	// end of the connection.
	Body io.Reader

	conn net.Conn
	stop func() bool // stops closing conn when the context is done
}

// Close ends the exchange: it closes the connection.
func (r *Response) Close() error {
	if r.stop != nil {
		r.stop()
	}
	if r.conn == nil {
		return nil
	}
	return r.conn.Close()
}

// Do makes one request on c: method, target (path and query), the
// fields of h (Host among them), Content-Length and body when body is
// not nil, and "Connection: close": one request per connection. It
// returns the answer once its header is read (1xx answers skipped); the
// caller reads Body, then calls Response.Close.
//
// Do owns c: it closes c when it fails, when ctx is done (which ends any
// read or write under way, Do's own or the caller's reading Body), and
// on Response.Close. When ctx is done, Do's error is ctx.Err().
func Do(ctx context.Context, c net.Conn, method, target string, h Header, body []byte) (*Response, error) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	b := appendHead(nil, method+" "+target+" HTTP/1.1", h)
	if body != nil {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Connection: close\r\n\r\n"...)
	b = append(b, body...)
	_, werr := c.Write(b)
	// A server may answer (413, say) without reading all it was sent:
	// its answer is worth more than the failed write.
	resp, err := ReadResponse(bufio.NewReader(c))
	if err != nil {
		stop()
		c.Close()
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case werr != nil:
			return nil, werr
		}
		return nil, err
	}
	resp.conn, resp.stop = c, stop
	return resp, nil
}

// ReadResponse reads an answer's status line and header fields from br,
// skipping 1xx answers (but 101), and sets its Body to read the rest. Not
// for an answer to HEAD.
func ReadResponse(br *bufio.Reader) (*Response, error) {
	budget := maxResponseHeader
	for {
		line, err := readHeadLine(br, &budget)
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF // closed without an answer
		}
		if err != nil {
			return nil, respErr(err)
		}
		proto, status, _ := strings.Cut(line, " ")
		code, ok := 0, len(status) >= 3 && (len(status) == 3 || status[3] == ' ')
		if ok {
			code, err = strconv.Atoi(status[:3])
			ok = err == nil && code >= 100
		}
		if proto != "HTTP/1.1" && proto != "HTTP/1.0" || !ok {
			return nil, errors.New("malformed HTTP status line: " + strconv.Quote(abbrev(line)))
		}
		h, err := readHeader(br, &budget, 0)
		if err != nil {
			return nil, respErr(err)
		}
		resp := &Response{Code: code, Status: strings.TrimRight(status, " "), Header: h}
		if code/100 == 1 && code != 101 {
			continue // informational: the answer follows
		}
		if resp.Body, err = responseBody(br, resp, proto == "HTTP/1.0"); err != nil {
			return nil, err
		}
		return resp, nil
	}
}

// responseBody returns the reader of resp's body (RFC 9112 section 6.3).
func responseBody(br *bufio.Reader, resp *Response, http10 bool) (io.Reader, error) {
	n, err := contentLength(resp.Header)
	if err != nil {
		return nil, err
	}
	if resp.Code/100 == 1 || resp.Code == 204 || resp.Code == 304 {
		return strings.NewReader(""), nil
	}
	if te := resp.Header.values("Transfer-Encoding"); len(te) > 0 {
		if http10 || len(te) > 1 || !strings.EqualFold(te[0], "chunked") {
			return nil, errors.New("unsupported transfer encoding: " + strconv.Quote(abbrev(strings.Join(te, ", "))))
		}
		return &chunkedReader{br: br}, nil
	}
	if n < 0 {
		return br, nil // up to the end of the connection
	}
	return &lengthReader{br, n}, nil
}

func respErr(err error) error {
	switch err {
	case errLong:
		return errors.New("answer's header larger than 1 MiB")
	case errMalformed:
		return errors.New("malformed header line in the answer")
	}
	return err
}

// abbrev is the start of s, for an error message.
func abbrev(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
