package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
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
	// bigRoom is the room each read gets once a read has come back full:
	// the program writes faster than it is copied, and the pipe (Pipe's
	// 256 KiB) holds more than readRoom. Reads and writes four times as
	// large cost the copier, the program and whoever reads tend's stdout
	// a quarter of the wake-ups. A copier grows so once, to about
	// 650 KiB; one that never falls behind keeps its 210 KiB.
	bigRoom = 256 << 10
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
// Each Copy holds two buffers, about 210 KiB in all, and allocates
// nothing per line or per read. When a read fills its buffer (the
// program writes faster than it is copied), they grow, once, to about
// 650 KiB, for reads and writes four times as large.
func Copy(dst *Dest, r io.ReadCloser, prefix string) (int64, error) {
	return CopyTo(r, Sink{Dest: dst, Prefix: prefix})
}

// Sink is where CopyTo puts the lines of one stream, and how.
type Sink struct {
	// Dest gets the lines.
	Dest *Dest
	// Prefix goes before each line: "web | " in prefix mode, "" for a
	// file.
	Prefix string
	// JSON writes each line as a JSON line instead (AppendJSONLine),
	// with Program and Stream, and the time of the read that brought it;
	// Prefix is not used. A piece of a long line is a line of its own.
	JSON bool
	// Program and Stream (StreamStdout, StreamStderr) name the lines, in
	// JSON lines and in Ring: "web", or "web(pre_stop)" for a hook.
	Program, Stream string
	// Ring, when set, keeps the last lines too (without prefix), as they
	// are read.
	Ring *Ring
	// Watch, when set, is shown every line copied, without its '\n'
	// (and without a '\r' before it), until it returns true; it then
	// looks no further. It runs on the copier's goroutine, after the
	// line was read and before it is written; it must not keep line. A
	// line longer than MaxLine is shown in the pieces it is written in.
	Watch func(line []byte) bool
}

// CopyWatch is Copy that also shows watch every line it copies (Sink's
// Watch).
func CopyWatch(dst *Dest, r io.ReadCloser, prefix string, watch func(line []byte) bool) (int64, error) {
	return CopyTo(r, Sink{Dest: dst, Prefix: prefix, Watch: watch})
}

// CopyTo is Copy with the lines written as s says. A JSON copier's output
// buffer grows, once, to fit the longest line escaped (about 400 KiB)
// when such a line comes.
func CopyTo(r io.ReadCloser, s Sink) (int64, error) {
	c := copier{
		dst:    s.Dest,
		prefix: s.Prefix,
		watch:  s.Watch,
		in:     make([]byte, MaxLine+readRoom),
		ring:   s.Ring,
	}
	if s.JSON {
		c.prefix = ""
		c.json = &jsonLabel{program: s.Program, stream: s.Stream}
	}
	c.out = make([]byte, 0, max(outSize, len(c.prefix)+MaxLine+1))
	if c.ring != nil {
		c.meta = c.ring.source(s.Program, s.Stream == StreamStderr)
	}
	rerr := c.run(r)
	r.Close() // a pipe's read end: nothing to learn from its close
	if c.werr != nil {
		return c.written, &DropError{Lines: c.dropped, Err: c.werr}
	}
	return c.written, rerr
}

// jsonLabel is what a JSON copier's lines say of where they come from,
// and the head they share within one read.
type jsonLabel struct {
	program, stream string
	head            []byte
}

// copier is the state of one Copy; its buffers grow at most once each
// (grow; and a JSON copier's output buffer, for the longest line).
type copier struct {
	dst    *Dest
	prefix string
	json   *jsonLabel // nil: lines are written as they are, behind prefix
	ring   *Ring      // nil: none
	meta   uint32     // the ring's label for these lines
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
		var at int64
		if c.json != nil || c.ring != nil {
			now := time.Now()
			at = now.UnixNano()
			if c.json != nil {
				c.json.head = appendJSONHead(c.json.head[:0], now, c.json.program, c.json.stream)
			}
		}
		var rest []byte
		if c.json != nil {
			rest = c.jsonLines(data)
		} else {
			rest = c.lines(data)
		}
		if err != nil {
			c.see(data)
			if len(rest) > 0 {
				if c.json != nil {
					c.jsonLine(rest)
				} else {
					c.piece(rest)
				}
			}
			c.keep(data, at)
			c.flush()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read: %w", err)
		}
		c.keep(data[:len(data)-len(rest)], at)
		c.see(data[:len(data)-len(rest)])
		c.flush()
		full := n == len(c.in)-carry
		carry = copy(c.in, rest)
		if full && len(c.in) < MaxLine+bigRoom {
			c.grow(carry)
		}
	}
}

// grow gives the copier bigRoom to read into, and an output buffer to
// match; what it carries comes along.
func (c *copier) grow(carry int) {
	in := make([]byte, MaxLine+bigRoom)
	copy(in, c.in[:carry])
	c.in = in
	if size := bigRoom + bigRoom/4; cap(c.out) < size {
		c.out = make([]byte, 0, size)
	}
}

// keep adds the lines p to the ring, if any.
func (c *copier) keep(p []byte, at int64) {
	if c.ring != nil {
		c.ring.add(p, at, c.meta)
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

// jsonLines is lines for a JSON copier: each complete line of data, cut
// in pieces as lines cuts them, becomes a JSON line in the batch.
func (c *copier) jsonLines(data []byte) []byte {
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i]
		data = data[i+1:]
		for len(line) > MaxLine {
			c.jsonLine(line[:MaxLine])
			line = line[MaxLine:]
		}
		c.jsonLine(line)
	}
	for len(data) > MaxLine {
		c.jsonLine(data[:MaxLine])
		data = data[MaxLine:]
	}
	return data
}

// jsonLine adds p, which holds no '\n', as one JSON line.
func (c *copier) jsonLine(p []byte) {
	need := len(c.json.head) + maxEscaped*len(p) + len(jsonTail)
	if len(c.out)+need > cap(c.out) {
		c.flush()
		if need > cap(c.out) {
			// The worst case of the longest line, so this happens once
			// (a later head may be a few bytes longer: the time's
			// trailing zeros are dropped).
			c.out = make([]byte, 0, len(c.json.head)+64+maxEscaped*MaxLine+len(jsonTail))
		}
	}
	// Most lines need no escaping: copied whole, without append's
	// checks (the room is there).
	out := c.out[:cap(c.out)]
	o := len(c.out)
	o += copy(out[o:], c.json.head)
	if plainRun(p) == len(p) {
		o += copy(out[o:], p)
	} else {
		o = len(appendEscaped(out[:o], p))
	}
	o += copy(out[o:], jsonTail)
	c.out = out[:o]
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
