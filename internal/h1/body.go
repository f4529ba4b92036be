package h1

import (
	"bufio"
	"cmp"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Body is a request's body, as the server reads it: Content-Length
// bytes.
type Body struct {
	r    io.Reader // nil: no body
	done bool
}

// Read reads the body; io.EOF at its end, io.ErrUnexpectedEOF when the
// connection ends before it.
func (b *Body) Read(p []byte) (int, error) {
	if b.r == nil || b.done {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.done = true
	}
	return n, err
}

// Done reports whether the body was read to its end, or there was none:
// if not, the client may still be sending it, and closing the
// connection at once could cost it the answer.
func (b *Body) Done() bool { return b.r == nil || b.done }

// lengthReader reads a body of n bytes.
type lengthReader struct {
	r io.Reader
	n int64
}

func (l *lengthReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if err == io.EOF && l.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// maxChunkLine bounds a chunk's size line, and its trailers.
const maxChunkLine = 4 << 10

// chunkedReader reads a chunked body (RFC 9112 section 7.1), dropping
// chunk extensions and trailers: an answer's (the events stream's), as
// the client reads it.
type chunkedReader struct {
	br      *bufio.Reader
	n       int64 // left of the current chunk
	started bool  // a chunk was read: its CRLF comes before the next size
	err     error // sticky: io.EOF at the end
}

// Error texts as net/http's, which clients and tests know.
var (
	errChunkLength = errors.New("invalid byte in chunk length")
	errChunked     = errors.New("malformed chunked encoding")
)

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err == nil && c.n == 0 {
		c.err = c.next()
	}
	if c.err != nil {
		return 0, c.err
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.br.Read(p)
	c.n -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	c.err = err
	return n, err
}

// next reads up to the next chunk's data: io.EOF after the last chunk.
func (c *chunkedReader) next() error {
	budget := maxChunkLine
	// Chunk lines end with CRLF, and hold no other CR: net/http is as
	// strict.
	line := func() (string, error) {
		s, err := readLine(c.br, &budget)
		switch {
		case err == io.EOF:
			return "", io.ErrUnexpectedEOF
		case err == errLong || err == nil && (!strings.HasSuffix(s, "\r") || strings.Count(s, "\r") > 1):
			return "", errChunked
		}
		return strings.TrimSuffix(s, "\r"), err
	}
	if c.started { // the CRLF that ends the previous chunk's data
		if s, err := line(); err != nil {
			return err
		} else if s != "" {
			return errChunked
		}
	}
	c.started = true
	s, err := line()
	if err != nil {
		return err
	}
	size, _, _ := strings.Cut(s, ";")
	n, err := strconv.ParseUint(strings.TrimRight(size, " \t"), 16, 63)
	if err != nil {
		return errChunkLength
	}
	if n == 0 {
		// The last chunk; then trailer fields, dropped, and an empty line.
		for {
			s, err := line()
			if err != nil || s == "" {
				return cmp.Or(err, io.EOF)
			}
			if name, value, ok := strings.Cut(s, ":"); !ok || !isToken(name) || !isFieldValue(strings.Trim(value, " \t")) {
				return errChunked
			}
		}
	}
	c.n = int64(n)
	return nil
}
