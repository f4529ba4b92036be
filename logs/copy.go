package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxLine is the longest line Copy writes whole. A longer line is written
// in pieces of MaxLine bytes, each with the prefix and a '\n' of its own,
// so that a copier's memory stays fixed whatever a program writes.
const MaxLine = 64 << 10

const (
	// readRoom is the least room each read gets. A pipe holds 64 KiB
	// unless it was grown, and a read never returns more than it holds.
	readRoom = 64 << 10
	// outSize is the least size of the output buffer: a full read of lines
	// of 100 bytes or more behind a prefix of up to 25 fits in it, so it
	// costs one write.
	outSize = readRoom + readRoom/4
)

// DropError is what Copy returns when its destination failed: Lines lines
// (or pieces of lines) were not written, and Err is the first write error.
type DropError struct {
	Lines int64
	Err   error
}

func (e *DropError) Error() string {
	return fmt.Sprintf("%d lines dropped: %v", e.Lines, e.Err)
}

func (e *DropError) Unwrap() error { return e.Err }

// Copy reads r until EOF and writes every line to dst behind prefix, then
// closes r. It returns the bytes written to dst (prefixes included).
//
// Lines end at '\n' and are written as they are, '\r' included. A final
// line without '\n' gets one. A line longer than MaxLine is written in
// pieces of MaxLine bytes, each behind the prefix and ended by a '\n' of
// its own. Every read is written at once, in as few writes as its lines
// fit in (one, for lines of ordinary length), so nothing waits for more
// input before it shows.
//
// A failed write drops the lines of that batch, and Copy goes on reading,
// and trying each later batch, so the program is never stalled by a dead
// destination; once r is at EOF it returns a *DropError holding the first
// write error and the number of lines dropped. A read error other than
// EOF ends the copy as EOF would, and is returned when no write failed.
//
// Each Copy holds two buffers of fixed size, about 210 KiB in all, and
// allocates nothing per line or per read.
func Copy(dst *Dest, r io.ReadCloser, prefix string) (int64, error) {
	return CopyWatch(dst, r, prefix, nil)
}

// CopyWatch is Copy that also shows watch every line it copies, without
// its '\n' (and without a '\r' before it), until watch returns true; it
// then looks no further. watch runs on the copier's goroutine, after
// the line was read and before it is written; it must not keep line. A
// line longer than MaxLine is shown in the pieces it is written in. nil
// watches nothing.
func CopyWatch(dst *Dest, r io.ReadCloser, prefix string, watch func(line []byte) bool) (int64, error) {
	c := copier{
		dst:    dst,
		prefix: prefix,
		watch:  watch,
		in:     make([]byte, MaxLine+readRoom),
		out:    make([]byte, 0, max(outSize, len(prefix)+MaxLine+1)),
	}
	rerr := c.run(r)
	r.Close() // a pipe's read end: nothing to learn from its close
	if c.werr != nil {
		return c.written, &DropError{Lines: c.dropped, Err: c.werr}
	}
	return c.written, rerr
}

// copier is the state of one Copy; its buffers never grow.
type copier struct {
	dst    *Dest
	prefix string
	// in holds the unfinished line carried from the last read (at most
	// MaxLine bytes), then the next read, which always gets at least
	// readRoom bytes.
	in []byte
	// out is the batch being built; cap(out) fits the prefix and a
	// longest piece with its '\n'.
	out     []byte
	written int64 // bytes written to dst
	dropped int64 // lines lost to write errors
	werr    error // the first write error
	// watch is shown each line until it returns true; nil: none.
	watch func(line []byte) bool
}

func (c *copier) run(r io.Reader) error {
	carry := 0
	for {
		n, err := r.Read(c.in[carry:])
		data := c.in[:carry+n]
		rest := c.lines(data)
		if err != nil {
			c.see(data)
			if len(rest) > 0 {
				c.piece(rest)
			}
			c.flush()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read: %w", err)
		}
		c.see(data[:len(data)-len(rest)])
		c.flush()
		carry = copy(c.in, rest)
	}
}

// see shows watch the lines of p, the last one with or without its
// '\n', until it has had what it looks for.
func (c *copier) see(p []byte) {
	for c.watch != nil && len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		// A piece of a long line never ends here unless it ends p.
		for len(line) > MaxLine {
			if c.watch(line[:MaxLine]) {
				c.watch = nil
				return
			}
			line = line[MaxLine:]
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if c.watch(line) {
			c.watch = nil
		}
	}
}

// lines adds every complete line of data to the batch, and returns the
// unfinished line at its end, cut down to at most MaxLine bytes by adding
// pieces. A piece is cut only when MaxLine+1 bytes without '\n' are seen,
// so where a line is cut does not depend on how reads split it.
func (c *copier) lines(data []byte) []byte {
	// The hot loop: for 100-byte lines, finding the '\n' costs more than
	// the two copies; slicing a local out instead of append saves a tenth.
	out, prefix := c.out[:cap(c.out)], c.prefix
	o := len(c.out)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i+1]
		data = data[i+1:]
		if len(line) > MaxLine+1 || o+len(prefix)+len(line) > len(out) {
			c.out = out[:o]
			for len(line) > MaxLine+1 {
				c.piece(line[:MaxLine])
				line = line[MaxLine:]
			}
			c.room(len(line))
			o = len(c.out)
		}
		o += copy(out[o:], prefix)
		o += copy(out[o:], line)
	}
	c.out = out[:o]
	for len(data) > MaxLine {
		c.piece(data[:MaxLine])
		data = data[MaxLine:]
	}
	return data
}

// piece adds p, which holds no '\n', as a line of its own.
func (c *copier) piece(p []byte) {
	c.room(len(p) + 1)
	c.out = append(c.out, c.prefix...)
	c.out = append(c.out, p...)
	c.out = append(c.out, '\n')
}

// room flushes the batch unless it has room for the prefix and n bytes.
func (c *copier) room(n int) {
	if len(c.out)+len(c.prefix)+n > cap(c.out) {
		c.flush()
	}
}

// flush writes the batch to dst in one write, and counts what a failed
// write lost.
func (c *copier) flush() {
	if len(c.out) == 0 {
		return
	}
	n, err := c.dst.write(c.out)
	c.written += int64(n)
	if err != nil {
		c.dropped += int64(bytes.Count(c.out[n:], newline))
		if c.werr == nil {
			c.werr = err
		}
	}
	c.out = c.out[:0]
}

var newline = []byte{'\n'}
