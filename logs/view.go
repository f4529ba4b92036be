package logs

import (
	"cmp"
	"container/heap"
	"fmt"
	"io"
	"slices"
	"time"
)

// A View reads the Rings of some programs for one reader of `tend ctl
// logs`: their last lines, merged in time order, then, when it follows,
// the lines that come after, as JSON lines (see AppendJSONLine). It is
// used by one goroutine; its memory is bounded whatever the rings hold:
// one snapshot of a ring (RingBytes) and one batch of output at a time.
type View struct {
	rings []*Ring
	// next is, for each ring, the offset of the first line not read yet;
	// valid once following.
	next      []uint64
	wake      chan struct{}
	following bool
	snap      snapshot
	out       []byte
	// from is, for each ring, its end when the View was made (when
	// tend took the request): Tail with n = 0 follows from there, so a
	// line written between the request and Tail is not missed.
	from []uint64
}

// ErrBehind ends a View's following: a ring dropped lines the reader had
// not read yet, because the program wrote faster than the reader read.
// A constant: a variable made by a call would cost the package an init.
const ErrBehind = viewError("the reader fell behind: the program wrote more than tend keeps (64 KiB) before it was read, and lines were lost")

type viewError string

func (e viewError) Error() string { return string(e) }

// flushAt is the size at which a View writes out what it has formatted.
const flushAt = 32 << 10

// NewView returns a View of rings.
func NewView(rings []*Ring) *View {
	v := &View{rings: rings, next: make([]uint64, len(rings)), from: make([]uint64, len(rings)), wake: make(chan struct{}, 1)}
	for i, r := range rings {
		r.snap(&v.snap, 0, nil)
		v.from[i] = v.snap.base + uint64(len(v.snap.data))
	}
	return v
}

// Tail writes to w the last n lines of the rings (at most RingLines),
// oldest first; with follow set, the View then follows: Wake tells when
// More has lines to write, from the first that Tail did not.
func (v *View) Tail(w io.Writer, n int, follow bool) error {
	n = min(max(n, 0), RingLines)
	var wake chan struct{}
	if follow && !v.following {
		v.following, wake = true, v.wake
	}
	if len(v.rings) == 1 {
		r := v.rings[0]
		r.snap(&v.snap, 0, wake)
		v.next[0] = v.snap.base + uint64(len(v.snap.data))
		if n == 0 {
			v.sinceRequest(0, wake)
		}
		v.snap.each(v.snap.lastLines(n), v.format)
		return v.flush(w, 0)
	}
	// Several rings: the n newest of their last n lines each, by time,
	// then each line read again (the ring may have moved on meanwhile:
	// a line it no longer holds is left out).
	var h newest
	for i, r := range v.rings {
		r.snap(&v.snap, 0, wake)
		v.next[i] = v.snap.base + uint64(len(v.snap.data))
		if n == 0 {
			v.sinceRequest(i, wake)
		}
		v.snap.each(v.snap.lastLines(n), func(_ []byte, begin uint64, at int64, _ uint32) {
			e := pick{at: at, ring: i, begin: begin}
			switch {
			case h.Len() < n:
				heap.Push(&h, e)
			case n > 0 && e.after(h[0]):
				h[0] = e
				heap.Fix(&h, 0)
			}
		})
	}
	slices.SortFunc(h, func(a, b pick) int {
		if a.after(b) {
			return 1
		}
		return -1
	})
	var line []byte
	for _, e := range h {
		var (
			at    int64
			label string
			meta  uint32
			ok    bool
		)
		line, at, label, meta, ok = v.rings[e.ring].line(line[:0], e.begin)
		if !ok {
			continue
		}
		v.out = AppendJSONLine(v.out, time.Unix(0, at), label, stream(meta), line)
		if err := v.flush(w, flushAt); err != nil {
			return err
		}
	}
	return v.flush(w, 0)
}

// sinceRequest has ring i read on from where it ended when tend took the
// request (More says if the ring dropped some of it). Lines that came
// between the request and Tail came before Tail asked the ring to wake
// the View: with follow (wake not nil) the View wakes itself for them,
// or they would wait for the next line to be written.
func (v *View) sinceRequest(i int, wake chan struct{}) {
	if v.from[i] < v.next[i] && wake != nil {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	v.next[i] = v.from[i]
}

// Wake is sent to when lines have come since the last Tail or More.
func (v *View) Wake() <-chan struct{} { return v.wake }

// More writes to w the lines that came since the last Tail or More, ring
// by ring. It returns ErrBehind when lines were lost: they came faster
// than the reader took them, and a ring dropped some before they were
// read.
func (v *View) More(w io.Writer) error {
	for i, r := range v.rings {
		behind := r.snap(&v.snap, v.next[i], nil)
		if behind {
			return ErrBehind
		}
		v.next[i] = v.snap.base + uint64(len(v.snap.data))
		v.snap.each(0, v.format)
		if err := v.flush(w, 0); err != nil {
			return err
		}
	}
	return nil
}

// Close stops following.
func (v *View) Close() {
	if v.following {
		for _, r := range v.rings {
			r.unfollow(v.wake)
		}
		v.following = false
	}
}

// format adds one line of v.snap to the output.
func (v *View) format(line []byte, _ uint64, at int64, meta uint32) {
	v.out = AppendJSONLine(v.out, time.Unix(0, at), v.snap.labels[meta>>1], stream(meta), line)
}

// flush writes the output to w once it holds at least least bytes.
func (v *View) flush(w io.Writer, least int) error {
	if len(v.out) == 0 || len(v.out) < least {
		return nil
	}
	_, err := w.Write(v.out)
	v.out = v.out[:0]
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	return nil
}

// pick is one line Tail may give, from several rings.
type pick struct {
	at    int64
	ring  int
	begin uint64
}

// after orders picks by time, then by ring and offset.
func (p pick) after(q pick) bool {
	if c := cmp.Or(cmp.Compare(p.at, q.at), cmp.Compare(p.ring, q.ring), cmp.Compare(p.begin, q.begin)); c != 0 {
		return c > 0
	}
	return false
}

// newest is a min-heap of picks: the oldest of the newest n on top.
type newest []pick

func (h newest) Len() int           { return len(h) }
func (h newest) Less(i, j int) bool { return h[j].after(h[i]) }
func (h newest) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *newest) Push(x any)        { *h = append(*h, x.(pick)) }
func (h *newest) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
