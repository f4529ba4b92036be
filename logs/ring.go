package logs

import (
	"bytes"
	"sync"
)

// A Ring keeps the last lines of one program's output, its stdout's and
// stderr's (and its hooks'), for `tend ctl logs`: at most RingLines lines
// and RingBytes bytes, whichever is reached first, so that 100 programs
// with full rings take about 8 MiB.
//
// The copiers fill it as they go: once per read, one copy of the lines
// that read completed, under the ring's own lock, with the time of the
// read; nothing per line. Readers copy what they want out under the same
// lock (at most RingBytes), and format it outside it, so a reader never
// holds up a copier. Followers are told of new lines on a channel, with a
// send that never blocks.
type Ring struct {
	mu sync.Mutex
	// buf holds the bytes [start, end), each at its absolute offset
	// modulo len(buf), a power of two; it grows up to RingBytes as it
	// fills. start is always the start of a line. Guarded by mu.
	buf        []byte
	start, end uint64
	// marks has one mark per read, in a circular slice (oldest at m0, nm
	// of them) of a power-of-two length that grows up to ringMarks.
	// Guarded by mu.
	marks  []mark
	m0, nm int
	// labels names the sources of the lines: the program, and its hooks
	// ("web(pre_stop)"). Entries never change once added. Guarded by mu.
	labels []string
	// wakes are the followers' channels. Guarded by mu.
	wakes []chan struct{}
}

// The bounds of a Ring.
const (
	// RingLines is the most lines a Ring gives back.
	RingLines = 1000
	// RingBytes is the most bytes a Ring holds.
	RingBytes = 64 << 10
	// ringMarks is the most reads a Ring remembers: each holds at least
	// one line, so the last RingLines lines are always among them.
	ringMarks = 1024
	// ringMinBytes and ringMinMarks are where a Ring starts: a program
	// that says little costs little.
	ringMinBytes = 1 << 10
	ringMinMarks = 16
	// maxLabels bounds labels; a source beyond it is labelled as the
	// first (the program). A program has four sources.
	maxLabels = 16
)

// mark is one read's lines: where they end, when they came, from what.
type mark struct {
	at   int64  // Unix nanoseconds
	end  uint32 // the low 32 bits of the absolute offset of their end
	meta uint32 // label index << 1 | 1 for stderr
}

// NewRing returns an empty Ring; it takes memory as lines come.
func NewRing() *Ring { return &Ring{} }

// source returns the meta of lines from label's stream: stderr or not.
func (r *Ring) source(label string, stderr bool) uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := 0
	for i < len(r.labels) && r.labels[i] != label {
		i++
	}
	if i == len(r.labels) {
		if i < maxLabels {
			r.labels = append(r.labels, label)
		} else {
			i = 0
		}
	}
	m := uint32(i) << 1
	if stderr {
		m |= 1
	}
	return m
}

// add keeps p, whole lines, the last of them possibly without its '\n'
// (a piece of a long line, or the end of the output), which it gets.
// When p is larger than the ring, its last lines are kept, or the end of
// its last line if that alone is too long.
func (r *Ring) add(p []byte, at int64, meta uint32) {
	if len(p) == 0 {
		return
	}
	nl := p[len(p)-1] != '\n'
	n := len(p)
	if nl {
		n++
	}
	if n > RingBytes {
		k := n - RingBytes // to drop from p's front; a line starts at k or after
		if i := bytes.IndexByte(p[k-1:], '\n'); i >= 0 && k+i < len(p) {
			p = p[k+i:]
		} else {
			p = p[k:]
		}
		n = len(p)
		if nl {
			n++
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reserve(uint64(n))
	ringPut(r.buf, r.end, p)
	if nl {
		ringPut(r.buf, r.end+uint64(len(p)), newline)
	}
	r.end += uint64(n)
	r.push(mark{at: at, end: uint32(r.end), meta: meta})
	for _, ch := range r.wakes {
		select {
		case ch <- struct{}{}:
		default: // already woken
		}
	}
}

// reserve makes room for n more bytes (n ≤ RingBytes): it grows buf, or
// drops the oldest lines.
func (r *Ring) reserve(n uint64) {
	need := r.end + n - r.start
	if need > uint64(len(r.buf)) && len(r.buf) < RingBytes {
		size := max(len(r.buf), ringMinBytes)
		for uint64(size) < need && size < RingBytes {
			size *= 2
		}
		nb := make([]byte, size)
		for from := r.start; from < r.end; {
			seg := ringSeg(r.buf, from, r.end)
			ringPut(nb, from, seg)
			from += uint64(len(seg))
		}
		r.buf = nb
	}
	if need <= uint64(len(r.buf)) {
		return
	}
	// The new start is the first line that starts at low or after: the
	// first '\n' at low-1 or after ends the line before it.
	low := r.end + n - uint64(len(r.buf))
	r.start = r.end
	for from := low - 1; from < r.end; {
		seg := ringSeg(r.buf, from, r.end)
		if i := bytes.IndexByte(seg, '\n'); i >= 0 {
			r.start = from + uint64(i) + 1
			break
		}
		from += uint64(len(seg))
	}
	for r.nm > 0 && r.markEnd(r.marks[r.m0]) <= r.start {
		r.m0 = (r.m0 + 1) & (len(r.marks) - 1)
		r.nm--
	}
}

// push adds m, dropping the oldest mark, and its lines, when there are
// ringMarks already.
func (r *Ring) push(m mark) {
	if r.nm == len(r.marks) {
		if len(r.marks) < ringMarks {
			nm := make([]mark, max(2*len(r.marks), ringMinMarks))
			for k := range r.nm {
				nm[k] = r.marks[(r.m0+k)&(len(r.marks)-1)]
			}
			r.marks, r.m0 = nm, 0
		} else {
			r.start = max(r.start, r.markEnd(r.marks[r.m0]))
			r.m0 = (r.m0 + 1) & (len(r.marks) - 1)
			r.nm--
		}
	}
	r.marks[(r.m0+r.nm)&(len(r.marks)-1)] = m
	r.nm++
}

// markEnd is the absolute offset m ends at: within 4 GiB of end, as
// every mark kept is.
func (r *Ring) markEnd(m mark) uint64 {
	return r.end - uint64(uint32(r.end)-m.end)
}

// ringSeg is the longest run of buf, read as a ring, from the absolute
// offset from towards to that does not wrap.
func ringSeg(buf []byte, from, to uint64) []byte {
	i := from & uint64(len(buf)-1)
	j := min(uint64(len(buf)), i+(to-from))
	return buf[i:j]
}

// ringPut writes p into buf, read as a ring, at the absolute offset at.
func ringPut(buf []byte, at uint64, p []byte) {
	for len(p) > 0 {
		k := copy(buf[at&uint64(len(buf)-1):], p)
		p, at = p[k:], at+uint64(k)
	}
}

// snapshot is a copy of what a Ring held from some offset on.
type snapshot struct {
	data   []byte // the bytes [base, base+len(data))
	base   uint64
	spans  []span // the reads they came in, in order, covering data
	labels []string
}

// span is the part of a read's lines in a snapshot.
type span struct {
	begin, end uint64
	at         int64
	meta       uint32
}

// snap copies into s what r holds from the offset from on, or from its
// start when from is older, which behind then reports: lines were lost.
// With wake set, r sends to it when lines come after the snapshot.
func (r *Ring) snap(s *snapshot, from uint64, wake chan struct{}) (behind bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	behind = from < r.start
	from = max(from, r.start)
	s.base = from
	s.data = s.data[:0]
	for f := from; f < r.end; {
		seg := ringSeg(r.buf, f, r.end)
		s.data = append(s.data, seg...)
		f += uint64(len(seg))
	}
	s.spans = s.spans[:0]
	prev := r.start
	for k := range r.nm {
		m := r.marks[(r.m0+k)&(len(r.marks)-1)]
		end := r.markEnd(m)
		if b := max(prev, from); end > b {
			s.spans = append(s.spans, span{begin: b, end: end, at: m.at, meta: m.meta})
		}
		prev = end
	}
	s.labels = r.labels // entries never change; a later append does not touch these
	if wake != nil {
		r.wakes = append(r.wakes, wake)
	}
	return behind
}

// unfollow stops sending to wake.
func (r *Ring) unfollow(wake chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, ch := range r.wakes {
		if ch == wake {
			r.wakes = append(r.wakes[:i], r.wakes[i+1:]...)
			return
		}
	}
}

// line is the line at absolute offset begin (without its '\n'), and its
// source, if r still holds it.
func (r *Ring) line(dst []byte, begin uint64) (l []byte, at int64, label string, meta uint32, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if begin < r.start || begin >= r.end {
		return dst, 0, "", 0, false
	}
	prev := r.start
	for k := range r.nm {
		m := r.marks[(r.m0+k)&(len(r.marks)-1)]
		end := r.markEnd(m)
		if begin >= prev && begin < end {
			at, meta = m.at, m.meta
			break
		}
		prev = end
	}
	l = dst
	for f := begin; f < r.end; {
		seg := ringSeg(r.buf, f, r.end)
		if i := bytes.IndexByte(seg, '\n'); i >= 0 {
			l = append(l, seg[:i]...)
			break
		}
		l = append(l, seg...)
		f += uint64(len(seg))
	}
	return l, at, r.labels[meta>>1], meta, true
}

// lastLines returns the offset in s.data where its last n lines begin.
func (s *snapshot) lastLines(n int) int {
	cut := len(s.data)
	for k := 0; k < n && cut > 0; k++ {
		cut = bytes.LastIndexByte(s.data[:cut-1], '\n') + 1
	}
	return cut
}

// each calls fn for each line of s from the offset from in s.data on,
// with its source and the offset it begins at.
func (s *snapshot) each(from int, fn func(line []byte, begin uint64, at int64, meta uint32)) {
	for _, sp := range s.spans {
		b, e := int(sp.begin-s.base), int(sp.end-s.base)
		if e <= from {
			continue
		}
		b = max(b, from)
		for chunk := s.data[b:e]; len(chunk) > 0; {
			i := bytes.IndexByte(chunk, '\n')
			fn(chunk[:i], s.base+uint64(b), sp.at, sp.meta)
			chunk, b = chunk[i+1:], b+i+1
		}
	}
}

// stream is the name of the stream meta says.
func stream(meta uint32) string {
	if meta&1 != 0 {
		return StreamStderr
	}
	return StreamStdout
}
