package logs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// decodeLines reads the JSON lines a View wrote.
func decodeLines(t *testing.T, out []byte) []jsonLine {
	t.Helper()
	var ls []jsonLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l jsonLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%q: %v", sc.Bytes(), err)
		}
		ls = append(ls, l)
	}
	return ls
}

// tail is what a View of rings gives as their last n lines.
func tail(t *testing.T, n int, rings ...*Ring) []jsonLine {
	t.Helper()
	var buf bytes.Buffer
	if err := NewView(rings).Tail(&buf, n, false); err != nil {
		t.Fatal(err)
	}
	return decodeLines(t, buf.Bytes())
}

func texts(ls []jsonLine) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Line
	}
	return out
}

func numbered(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

func lines(ls ...string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }

func TestRingTail(t *testing.T) {
	long := strings.Repeat("x", 1000)
	for _, c := range []struct {
		name string
		adds [][]byte
		n    int
		want []string
	}{
		{"empty", nil, 100, nil},
		{"fewer than n", [][]byte{lines("a", "b", "c")}, 100, []string{"a", "b", "c"}},
		{"last n", [][]byte{lines("a", "b"), lines("c", "d")}, 3, []string{"b", "c", "d"}},
		{"n = 0", [][]byte{lines("a")}, 0, nil},
		{"a line without its newline gets one", [][]byte{[]byte("a\nb"), []byte("c\n")}, 10, []string{"a", "b", "c"}},
		{"empty lines", [][]byte{[]byte("\n\na\n")}, 10, []string{"", "", "a"}},
		{"at most RingLines", [][]byte{lines(numbered("", 0, 3000)...)}, 5000, numbered("", 2000, 3000)},
		{"one line per read, more reads than marks", func() (a [][]byte) {
			for i := range 3000 {
				a = append(a, lines(fmt.Sprint(i)))
			}
			return
		}(), 5000, numbered("", 2000, 3000)},
		{"bytes bound whole lines", func() (a [][]byte) {
			for i := range 200 {
				a = append(a, lines(fmt.Sprintf("%03d%s", i, long)))
			}
			return
		}(), 1000, func() (w []string) {
			k := RingBytes / (len(long) + 4) // lines of 1004 bytes with '\n'
			for i := 200 - k; i < 200; i++ {
				w = append(w, fmt.Sprintf("%03d%s", i, long))
			}
			return
		}()},
		{"a read larger than the ring keeps its last lines", [][]byte{lines("old"), lines(numbered(long, 0, 100)...)}, 1000,
			// lines of 1003 bytes with '\n': 65 fit, and the old line
			append([]string{"old"}, numbered(long, 100-RingBytes/(len(long)+3), 100)...)},
		{"a read just larger than the ring", [][]byte{lines("old"), append(lines(strings.Repeat("a", 99)), lines(strings.Repeat("b", RingBytes-100))...)}, 10,
			[]string{"old", strings.Repeat("b", RingBytes-100)}},
		{"a line longer than the ring keeps its end", [][]byte{lines("old"), []byte(strings.Repeat("y", RingBytes+10) + "end")}, 10,
			[]string{strings.Repeat("y", RingBytes-4) + "end"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := NewRing()
			meta := r.source("web", false)
			for i, a := range c.adds {
				r.add(a, int64(i), meta)
			}
			got := strings.Join(texts(tail(t, c.n, r)), "\n")
			if want := strings.Join(c.want, "\n"); got != want {
				t.Errorf("got %d lines, %d bytes: %s; want %d, %d bytes: %s",
					strings.Count(got, "\n")+1, len(got), short(got), len(c.want), len(want), short(want))
			}
		})
	}
}

// TestRingModel checks a ring against a model that keeps every line:
// after random reads of random lines, the ring gives the last lines that
// fit in RingBytes, come from its last ringMarks reads, and number at
// most RingLines; whole, in order, with their sources and times.
func TestRingModel(t *testing.T) {
	type mline struct {
		text string
		read int
		meta uint32
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		r := NewRing()
		metas := []uint32{r.source("web", false), r.source("web", true), r.source("web(pre_stop)", false)}
		var model []mline
		for read := range rnd.IntN(3000) {
			meta := metas[rnd.IntN(len(metas))]
			var b []byte
			for range 1 + rnd.IntN(20) {
				n := rnd.IntN(200)
				if rnd.IntN(50) == 0 {
					n = rnd.IntN(20000)
				}
				text := fmt.Sprintf("%d.%d:%s", round, len(model), strings.Repeat("z", n))
				b = append(append(b, text...), '\n')
				model = append(model, mline{text, read, meta})
			}
			if rnd.IntN(5) == 0 { // a read that ends mid-line: the ring ends it
				b = b[:len(b)-1]
			}
			r.add(b, int64(read), meta)
		}
		// The model's kept lines: from the last ringMarks reads, the
		// longest run back from the end within RingBytes.
		lastRead := 0
		if len(model) > 0 {
			lastRead = model[len(model)-1].read
		}
		k, size := len(model), 0
		for k > 0 {
			m := model[k-1]
			if m.read <= lastRead-ringMarks || size+len(m.text)+1 > RingBytes {
				break
			}
			size += len(m.text) + 1
			k--
		}
		want := model[k:]
		if len(want) > RingLines {
			want = want[len(want)-RingLines:]
		}
		got := tail(t, RingLines, r)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d lines, want %d", round, len(got), len(want))
		}
		for i := range got {
			w := want[i]
			label := []string{"web", "web(pre_stop)"}[w.meta>>2&1|w.meta>>1&1] // metas: 0, 1, 2
			if got[i].Line != w.text || got[i].Time.UnixNano() != int64(w.read) || got[i].Stream != stream(w.meta) || got[i].Program != label {
				t.Fatalf("round %d line %d: %+v, want %+v", round, i, got[i], w)
			}
		}
	}
}

func TestRingSources(t *testing.T) {
	r := NewRing()
	out, errs, hook := r.source("web", false), r.source("web", true), r.source("web(pre_stop)", false)
	if out == errs || out == hook || r.source("web", false) != out {
		t.Fatalf("metas %d %d %d", out, errs, hook)
	}
	r.add(lines("o"), 1, out)
	r.add(lines("e"), 2, errs)
	r.add(lines("h"), 3, hook)
	got := tail(t, 10, r)
	want := []jsonLine{
		{time.Unix(0, 1), "web", StreamStdout, "o"},
		{time.Unix(0, 2), "web", StreamStderr, "e"},
		{time.Unix(0, 3), "web(pre_stop)", StreamStdout, "h"},
	}
	for i := range want {
		if i >= len(got) || !got[i].Time.Equal(want[i].Time) || got[i].Program != want[i].Program ||
			got[i].Stream != want[i].Stream || got[i].Line != want[i].Line {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
	for i := range 2 * maxLabels {
		r.source(fmt.Sprint("h", i), false)
	}
	if len(r.labels) != maxLabels {
		t.Errorf("%d labels, want at most %d", len(r.labels), maxLabels)
	}
}

// TestViewMerge: the last lines of several rings, by time.
func TestViewMerge(t *testing.T) {
	a, b := NewRing(), NewRing()
	ma, mb := a.source("w:0", false), b.source("w:1", false)
	for i := range 10 {
		r, m := a, ma
		if i%3 == 0 {
			r, m = b, mb
		}
		r.add(lines(fmt.Sprint(i)), int64(i), m)
	}
	got := tail(t, 4, a, b)
	if s := fmt.Sprint(texts(got)); s != "[6 7 8 9]" {
		t.Errorf("got %s", s)
	}
	if got[0].Program != "w:1" || got[1].Program != "w:0" {
		t.Errorf("programs %+v", got)
	}
	if n := len(tail(t, 100, a, b)); n != 10 {
		t.Errorf("%d lines, want 10", n)
	}
	if n := len(tail(t, 0, a, b)); n != 0 {
		t.Errorf("%d lines for n = 0", n)
	}
}

func TestViewFollow(t *testing.T) {
	a, b := NewRing(), NewRing()
	ma, mb := a.source("a", false), b.source("b", true)
	a.add(lines("a0", "a1"), 1, ma)
	v := NewView([]*Ring{a, b})
	defer v.Close()
	var buf bytes.Buffer
	if err := v.Tail(&buf, 1, true); err != nil {
		t.Fatal(err)
	}
	if got := texts(decodeLines(t, buf.Bytes())); fmt.Sprint(got) != "[a1]" {
		t.Fatalf("tail %v", got)
	}
	select {
	case <-v.Wake():
		t.Fatal("woken with nothing new")
	default:
	}
	a.add(lines("a2"), 2, ma)
	b.add(lines("b0", "b1"), 3, mb)
	<-v.Wake() // sent by add: no wait
	buf.Reset()
	if err := v.More(&buf); err != nil {
		t.Fatal(err)
	}
	if got := texts(decodeLines(t, buf.Bytes())); fmt.Sprint(got) != "[a2 b0 b1]" {
		t.Fatalf("more %v", got)
	}
	buf.Reset()
	if err := v.More(&buf); err != nil || buf.Len() != 0 {
		t.Fatalf("more again: %q, %v", buf.Bytes(), err)
	}

	// More than the ring holds before the reader reads: behind.
	for i := range 2 * RingBytes / 10 {
		a.add(lines(fmt.Sprintf("%08d", i)), 4, ma)
	}
	if err := v.More(&buf); !errors.Is(err, ErrBehind) {
		t.Fatalf("more after a flood: %v, want ErrBehind", err)
	}
	if !strings.Contains(ErrBehind.Error(), fmt.Sprintf("(%d KiB)", RingBytes>>10)) {
		t.Errorf("ErrBehind says %q", ErrBehind)
	}

	v.Close()
	if len(a.wakes) != 0 || len(b.wakes) != 0 {
		t.Errorf("followers left after Close: %d %d", len(a.wakes), len(b.wakes))
	}
}

// TestViewFollowSinceRequest: following with n = 0, the lines written
// between the request (NewView) and Tail are More's, and the View wakes
// for them itself: the ring woke no one for them. (control's
// TestLogsStream waited for a line so, under -race, until its timeout.)
func TestViewFollowSinceRequest(t *testing.T) {
	for _, rings := range []int{1, 2} {
		a, b := NewRing(), NewRing()
		ma := a.source("a", false)
		a.add(lines("old"), 1, ma)
		v := NewView([]*Ring{a, b}[:rings])
		a.add(lines("new"), 2, ma)
		var buf bytes.Buffer
		if err := v.Tail(&buf, 0, true); err != nil || buf.Len() != 0 {
			t.Fatalf("%d rings: tail 0: %q, %v", rings, buf.Bytes(), err)
		}
		select {
		case <-v.Wake():
		default:
			t.Fatalf("%d rings: not woken for the line written since the request", rings)
		}
		if err := v.More(&buf); err != nil {
			t.Fatal(err)
		}
		if got := texts(decodeLines(t, buf.Bytes())); fmt.Sprint(got) != "[new]" {
			t.Errorf("%d rings: more %v, want [new]", rings, got)
		}
		v.Close()
	}
}

// TestRingConcurrent: copiers of two streams add while followers read;
// every follower sees each stream's lines in order, none twice, none
// missing, unless it is told it fell behind. Run with -race. Small: the
// lines fit in the ring, so no follower may fall behind; flood: they do
// not, and a follower that falls behind is told so.
func TestRingConcurrent(t *testing.T) {
	t.Run("small", func(t *testing.T) { ringConcurrent(t, 3000, false) })
	t.Run("flood", func(t *testing.T) { ringConcurrent(t, 20000, true) })
}

func ringConcurrent(t *testing.T, perStream int, mayFallBehind bool) {
	r := NewRing()
	done := make(chan struct{})
	var readers sync.WaitGroup
	var behind atomic.Int32
	var ready sync.WaitGroup // every follower is there before the first line
	for range 3 {
		ready.Add(1)
		readers.Go(func() {
			v := NewView([]*Ring{r})
			defer v.Close()
			var buf bytes.Buffer
			err := v.Tail(&buf, 50, true)
			ready.Done()
			if err != nil {
				t.Error(err)
				return
			}
			next := map[string]int{"out": 0, "err": 0}
			check := func() bool {
				for _, l := range decodeLines(t, buf.Bytes()) {
					var name string
					var i int
					if _, err := fmt.Sscanf(l.Line, "%s %d", &name, &i); err != nil {
						t.Errorf("line %q", l.Line)
						return false
					}
					if n := next[name]; i != n {
						t.Errorf("%s: line %d after %d", name, i, n-1)
						return false
					}
					next[name] = i + 1
				}
				buf.Reset()
				return true
			}
			if !check() {
				return
			}
			for {
				finished := false
				select {
				case <-v.Wake():
				case <-done: // the copiers are done: one last look
					finished = true
				}
				err := v.More(&buf)
				if errors.Is(err, ErrBehind) && mayFallBehind {
					behind.Add(1)
					return // said so: a gap is allowed
				}
				if err != nil || !check() {
					t.Error(err)
					return
				}
				if finished {
					if next["out"] != perStream || next["err"] != perStream {
						t.Errorf("follower ended at %v", next)
					}
					return
				}
			}
		})
	}
	ready.Wait()
	var wg sync.WaitGroup
	for s, name := range []string{"out", "err"} {
		meta := r.source("web", s == 1)
		wg.Go(func() {
			var b []byte
			for i := 0; i < perStream; {
				b = b[:0]
				for k := 0; k < 1+i%7 && i < perStream; k++ {
					b = fmt.Appendf(b, "%s %d\n", name, i)
					i++
				}
				r.add(b, time.Now().UnixNano(), meta)
			}
		})
	}
	for range 20 {
		tail(t, 100, r) // readers of the tail alone, meanwhile
	}
	wg.Wait()
	close(done)
	readers.Wait()
	t.Logf("%d of 3 followers fell behind", behind.Load())
}

// TestRingMemory: 100 programs with full rings take at most 10 MiB more
// than without (docs/logs.md).
func TestRingMemory(t *testing.T) {
	line := append(bytes.Repeat([]byte("0123456789"), 10)[:99], '\n')
	block := bytes.Repeat(line, 10)
	before := heapInUse()
	rings := make([]*Ring, 100)
	for i := range rings {
		rings[i] = NewRing()
		out, errs := rings[i].source("web", false), rings[i].source("web", true)
		// Single lines (a mark each) and blocks, both streams: the
		// marks fill as well as the bytes.
		for k := range 2 * RingBytes / len(line) {
			rings[i].add(line, int64(k), out)
			if k%10 == 0 {
				rings[i].add(block, int64(k), errs)
			}
		}
	}
	grown := heapInUse() - before
	runtime.KeepAlive(rings)
	t.Logf("100 full rings: %.2f MiB", float64(grown)/(1<<20))
	if grown > 10<<20 {
		t.Errorf("100 full rings take %.2f MiB, want at most 10", float64(grown)/(1<<20))
	}
	for _, r := range rings {
		if len(r.buf) != RingBytes || r.end-r.start < RingBytes-uint64(len(block)) {
			t.Fatalf("ring not full: %d bytes of %d", r.end-r.start, len(r.buf))
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkRingAdd: the cost a copier pays per 64 KiB read to keep it.
func BenchmarkRingAdd(b *testing.B) {
	r := NewRing()
	meta := r.source("web", false)
	block := lineBlock()
	b.SetBytes(int64(len(block)))
	b.ReportAllocs()
	for b.Loop() {
		r.add(block, 1, meta)
	}
}
