package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// chunks is a reader that returns its chunks one Read at a time, as a pipe
// returns what each write put in it.
type chunks struct {
	parts [][]byte
}

func (c *chunks) Read(p []byte) (int, error) {
	for len(c.parts) > 0 && len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	return n, nil
}

func (c *chunks) Close() error { return nil }

func newChunks(parts ...string) *chunks {
	c := &chunks{}
	for _, p := range parts {
		c.parts = append(c.parts, []byte(p))
	}
	return c
}

// byteByByte splits s into reads of one byte.
func byteByByte(s string) []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i : i+1]
	}
	return out
}

// writes records every Write it gets, to check that each is whole lines.
// It has no lock of its own: it counts the Writes that overlap, and the
// race detector sees them, so it is the Dest that must keep them apart.
type writes struct {
	active  atomic.Int32
	overlap atomic.Int32
	buf     bytes.Buffer
	calls   int
	torn    int // writes that did not end in '\n'
}

func (w *writes) Write(p []byte) (int, error) {
	if w.active.Add(1) != 1 {
		w.overlap.Add(1)
	}
	defer w.active.Add(-1)
	w.calls++
	if len(p) == 0 || p[len(p)-1] != '\n' {
		w.torn++
	}
	return w.buf.Write(p)
}

// String is the output; call it once the copiers are done.
func (w *writes) String() string { return w.buf.String() }

func TestCopyLines(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	const p = "p | "
	tests := []struct {
		name  string
		reads []string
		want  string
	}{
		{"empty", nil, ""},
		{"empty reads", []string{"", ""}, ""},
		{"one line", []string{"a\n"}, p + "a\n"},
		{"empty line", []string{"\n"}, p + "\n"},
		{"empty lines", []string{"\n\n\n"}, p + "\n" + p + "\n" + p + "\n"},
		{"no trailing newline", []string{"a\nb"}, p + "a\n" + p + "b\n"},
		{"only a partial line", []string{"abc"}, p + "abc\n"},
		{"crlf kept", []string{"a\r\nb\r\n"}, p + "a\r\n" + p + "b\r\n"},
		{"lone cr kept", []string{"a\rb\n"}, p + "a\rb\n"},
		{"split across reads", []string{"hel", "lo\nwor", "ld\n"}, p + "hello\n" + p + "world\n"},
		{"newline alone in a read", []string{"a", "\n", "b", "\n"}, p + "a\n" + p + "b\n"},
		{"many tiny writes", byteByByte("one\ntwo\n\nthree"), p + "one\n" + p + "two\n" + p + "\n" + p + "three\n"},
		{"MaxLine line", []string{x(MaxLine) + "\n"}, p + x(MaxLine) + "\n"},
		{"MaxLine line at EOF", []string{x(MaxLine)}, p + x(MaxLine) + "\n"},
		{"MaxLine+1 line", []string{x(MaxLine+1) + "\n"}, p + x(MaxLine) + "\n" + p + "x\n"},
		{"MaxLine+1 line at EOF", []string{x(MaxLine + 1)}, p + x(MaxLine) + "\n" + p + "x\n"},
		{"MaxLine+1 line in two reads", []string{x(MaxLine), "x\n"}, p + x(MaxLine) + "\n" + p + "x\n"},
		{"MaxLine line then its newline", []string{x(MaxLine), "\nb\n"}, p + x(MaxLine) + "\n" + p + "b\n"},
		{"2*MaxLine line", []string{x(2*MaxLine) + "\n"}, p + x(MaxLine) + "\n" + p + x(MaxLine) + "\n"},
		{"3*MaxLine+5 line in odd reads", []string{x(1000), x(3*MaxLine - 1000), x(5), "\nz"},
			strings.Repeat(p+x(MaxLine)+"\n", 3) + p + x(5) + "\n" + p + "z\n"},
		{"long line among short", []string{"a\n" + x(MaxLine+2) + "\nb\n"},
			p + "a\n" + p + x(MaxLine) + "\n" + p + "xx\n" + p + "b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &writes{}
			n, err := Copy(NewDest(w), newChunks(tt.reads...), p)
			if err != nil {
				t.Fatal(err)
			}
			if got := w.String(); got != tt.want {
				t.Errorf("got %s\nwant %s", short(got), short(tt.want))
			}
			if n != int64(len(tt.want)) {
				t.Errorf("n = %d, want %d", n, len(tt.want))
			}
			if w.torn > 0 {
				t.Errorf("%d of %d writes were not whole lines", w.torn, w.calls)
			}
		})
	}
}

func TestCopyNoPrefix(t *testing.T) {
	w := &writes{}
	if _, err := Copy(NewDest(w), newChunks("a\nb", "c\nd"), ""); err != nil {
		t.Fatal(err)
	}
	if got, want := w.String(), "a\nbc\nd\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestCopyMatchesReference feeds random text, cut into random reads,
// and compares with a plain line splitter: where a read ends must change
// nothing.
func TestCopyMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := []int{0, 1, 2, 99, 1000, MaxLine - 1, MaxLine, MaxLine + 1, 2*MaxLine + 3}
	for round := range 40 {
		var in []byte
		for range 1 + rng.IntN(30) {
			in = append(in, bytes.Repeat([]byte{byte('a' + rng.IntN(26))}, lengths[rng.IntN(len(lengths))])...)
			in = append(in, '\n')
		}
		if rng.IntN(2) == 0 {
			in = in[:rng.IntN(len(in)+1)] // end anywhere, maybe mid-line
		}
		r := &chunks{}
		for rest := in; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(3*MaxLine))
			if rng.IntN(3) == 0 {
				k = min(len(rest), 1+rng.IntN(10))
			}
			r.parts = append(r.parts, rest[:k])
			rest = rest[k:]
		}
		prefix := strings.Repeat("p", rng.IntN(4))
		w := &writes{}
		if _, err := Copy(NewDest(w), r, prefix); err != nil {
			t.Fatal(err)
		}
		if got, want := w.String(), reference(string(in), prefix); got != want {
			t.Fatalf("round %d: %d bytes in: got %d bytes, want %d", round, len(in), len(got), len(want))
		}
		if w.torn > 0 {
			t.Fatalf("round %d: %d torn writes", round, w.torn)
		}
	}
}

// reference is Copy's output for in, done the simple way.
func reference(in, prefix string) string {
	var b strings.Builder
	if strings.HasSuffix(in, "\n") {
		in = in[:len(in)-1]
	} else if in == "" {
		return ""
	}
	for line := range strings.SplitSeq(in, "\n") {
		for len(line) > MaxLine {
			b.WriteString(prefix + line[:MaxLine] + "\n")
			line = line[MaxLine:]
		}
		b.WriteString(prefix + line + "\n")
	}
	return b.String()
}

// TestCopyInterleaving runs 8 copiers into one Dest through real pipes,
// their writers writing odd-sized chunks: every line out must be one whole
// line in, behind its own copier's prefix, each copier's lines in order.
func TestCopyInterleaving(t *testing.T) {
	const copiers, lines = 8, 10000
	w := &writes{}
	dest := NewDest(w)
	var wg sync.WaitGroup
	errs := make(chan error, 2*copiers)
	for c := range copiers {
		r, pw, err := Pipe()
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if _, err := Copy(dest, r, fmt.Sprintf("c%d | ", c)); err != nil {
				errs <- err
			}
		})
		wg.Go(func() {
			defer pw.Close()
			in := []byte(strings.Join(input(c, lines), ""))
			rng := rand.New(rand.NewPCG(uint64(c), 8))
			for len(in) > 0 {
				k := min(len(in), 1+2*rng.IntN(4000)) // odd sizes
				if _, err := pw.Write(in[:k]); err != nil {
					errs <- err
					return
				}
				in = in[k:]
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := make([][]string, copiers)
	for c := range copiers {
		want[c] = input(c, lines)
	}
	next := make([]int, copiers)
	count := 0
	for line := range strings.SplitAfterSeq(w.String(), "\n") {
		if line == "" {
			break
		}
		count++
		var c int
		if _, err := fmt.Sscanf(line, "c%d | ", &c); err != nil || c < 0 || c >= copiers {
			t.Fatalf("line %d: %s: no copier's prefix", count, short(line))
		}
		if next[c] >= lines || line != fmt.Sprintf("c%d | %s", c, want[c][next[c]]) {
			t.Fatalf("line %d: %s: not copier %d's line %d", count, short(line), c, next[c])
		}
		next[c]++
	}
	if count != copiers*lines {
		t.Errorf("%d lines, want %d", count, copiers*lines)
	}
	if w.torn > 0 || w.overlap.Load() > 0 {
		t.Errorf("%d of %d writes were not whole lines, %d overlapped", w.torn, w.calls, w.overlap.Load())
	}
}

// input is copier c's lines, each with a '\n', of random lengths.
func input(c, lines int) []string {
	rng := rand.New(rand.NewPCG(uint64(c), 7))
	out := make([]string, lines)
	for i := range out {
		out[i] = fmt.Sprintf("copier %d line %d %s\n", c, i, strings.Repeat("-", rng.IntN(300)))
	}
	return out
}

// failing is a destination that takes limit bytes, then fails with err.
type failing struct {
	limit int
	err   error
	buf   bytes.Buffer
}

func (f *failing) Write(p []byte) (int, error) {
	room := f.limit - f.buf.Len()
	if room >= len(p) {
		return f.buf.Write(p)
	}
	f.buf.Write(p[:max(room, 0)])
	return max(room, 0), f.err
}

// TestCopyWriteError: a dead destination does not stop the copier, which
// drains the pipe to EOF (the writer below would block forever
// otherwise), counts what it dropped, and reports the first error.
func TestCopyWriteError(t *testing.T) {
	const lines = 100000 // 2.5 MB: far more than a pipe holds
	for _, limit := range []int{0, 1000, 1234} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			f := &failing{limit: limit, err: syscall.ENOSPC}
			n, err := copyThroughPipe(t, NewDest(f), lines)
			var drop *DropError
			if !errors.As(err, &drop) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("err = %v, want a DropError of ENOSPC", err)
			}
			out := f.buf.String()
			if n != int64(len(out)) {
				t.Errorf("n = %d, but %d bytes written", n, len(out))
			}
			whole := int64(strings.Count(out, "\n"))
			if whole+drop.Lines != lines {
				t.Errorf("%d lines written + %d dropped, want %d", whole, drop.Lines, lines)
			}
		})
	}
}

// TestCopyBrokenPipe: the destination is a pipe nobody reads any more.
func TestCopyBrokenPipe(t *testing.T) {
	dr, dw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	dr.Close()
	defer dw.Close()
	_, err = copyThroughPipe(t, NewDest(dw), 100000)
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("err = %v, want EPIPE", err)
	}
}

// TestCopyPartialWriteKeepsLinesWhole: after a write that stopped
// mid-line, the next batch starts on a line of its own.
func TestCopyPartialWriteKeepsLinesWhole(t *testing.T) {
	w := &flaky{}
	dest := NewDest(w)
	_, err := Copy(dest, newChunks("aaaa\nbbbb\n", "cccc\n"), "")
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("err = %v", err)
	}
	if got, want := w.buf.String(), "aaaa\nbb\ncccc\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if d := err.(*DropError); d.Lines != 1 {
		t.Errorf("%d lines dropped, want 1", d.Lines)
	}
}

// flaky fails its first write after 7 bytes.
type flaky struct {
	buf    bytes.Buffer
	failed bool
}

func (f *flaky) Write(p []byte) (int, error) {
	if !f.failed {
		f.failed = true
		f.buf.Write(p[:7])
		return 7, syscall.EIO
	}
	return f.buf.Write(p)
}

// copyThroughPipe writes lines of 25 bytes into a real pipe and copies it
// to dest.
func copyThroughPipe(t *testing.T, dest *Dest, lines int) (int64, error) {
	t.Helper()
	r, w, err := Pipe()
	if err != nil {
		t.Fatal(err)
	}
	werr := make(chan error, 1)
	go func() {
		defer w.Close()
		var b []byte
		for i := range lines {
			b = fmt.Appendf(b[:0], "line %18d\n", i)
			if _, err := w.Write(b); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	n, err := Copy(dest, r, "")
	if e := <-werr; e != nil {
		t.Fatalf("writer: %v", e)
	}
	return n, err
}

func TestDestClosed(t *testing.T) {
	w := &writes{}
	d := NewDest(w)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := Copy(d, newChunks("a\nb\n"), "")
	if !errors.Is(err, os.ErrClosed) || err.(*DropError).Lines != 2 {
		t.Errorf("err = %v, want 2 lines dropped, closed", err)
	}
}

// TestCopyReadError: a read error ends the copy like EOF, lines kept.
func TestCopyReadError(t *testing.T) {
	w := &writes{}
	_, err := Copy(NewDest(w), io.NopCloser(io.MultiReader(strings.NewReader("a\nb"), errReader{})), "")
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("err = %v, want EIO", err)
	}
	if got := w.String(); got != "a\nb\n" {
		t.Errorf("got %q", got)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, syscall.EIO }

// TestCopyMemoryFixed: a never-ending line costs no more memory than a
// short one.
func TestCopyMemoryFixed(t *testing.T) {
	long := &repeat{b: bytes.Repeat([]byte{'x'}, 4096), left: 64 << 20}
	allocs := testing.AllocsPerRun(1, func() {
		long.left = 64 << 20
		if _, err := Copy(NewDest(io.Discard), long, "p | "); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 10 {
		t.Errorf("%v allocations for a 64 MiB line", allocs)
	}
}

// repeat reads b over and over, left bytes in all.
type repeat struct {
	b    []byte
	left int
}

func (r *repeat) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.left > 0 {
		k := copy(p[n:min(len(p), n+r.left)], r.b)
		n += k
		r.left -= k
	}
	return n, nil
}

func (r *repeat) Close() error { return nil }

func short(s string) string {
	if len(s) > 200 {
		return fmt.Sprintf("%q...(%d bytes)", s[:200], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// TestDestWrite: tend's own log lines, written straight to a Dest, take
// the copiers' lock and land between their lines, never inside one.
func TestDestWrite(t *testing.T) {
	w := &writes{}
	d := NewDest(w)
	var wg sync.WaitGroup
	wg.Go(func() {
		r := &chunks{}
		for range 1000 {
			r.parts = append(r.parts, []byte("program line\nprogram line\n"))
		}
		if _, err := Copy(d, r, "p | "); err != nil {
			t.Error(err)
		}
	})
	wg.Go(func() {
		for range 1000 {
			if _, err := d.Write([]byte("tend log line\n")); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	counts := map[string]int{}
	for _, l := range lines {
		counts[l]++
	}
	if counts["p | program line"] != 2000 || counts["tend log line"] != 1000 || len(counts) != 2 {
		t.Errorf("lines: %v", counts)
	}
	if w.overlap.Load() > 0 {
		t.Errorf("%d writes overlapped", w.overlap.Load())
	}
}

// TestCopyWatch: watch sees every line as it is copied, without its
// '\n' or a '\r' before it, whatever the reads' split, the last line
// without '\n' too; it is asked no more once it has said yes; and the
// copy is the same as without it.
func TestCopyWatch(t *testing.T) {
	const in = "starting\r\nlistening on :80\nafter\nlast"
	for _, parts := range [][]string{{in}, byteByByte(in), {"start", "ing\r\nlisten", "ing on :80\nafter\nla", "st"}} {
		var seen []string
		var w writes
		_, err := CopyWatch(NewDest(&w), newChunks(parts...), "p | ", func(line []byte) bool {
			seen = append(seen, string(line))
			return strings.HasPrefix(string(line), "listening")
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"starting", "listening on :80"}; !slices.Equal(seen, want) {
			t.Errorf("reads %q: watch saw %q, want %q", parts, seen, want)
		}
		if want := "p | starting\r\np | listening on :80\np | after\np | last\n"; w.String() != want {
			t.Errorf("copied %q, want %q", w.String(), want)
		}
	}
	var seen []string
	CopyWatch(NewDest(io.Discard), newChunks("a\nb\n", "c"), "", func(line []byte) bool {
		seen = append(seen, string(line))
		return false
	})
	if want := []string{"a", "b", "c"}; !slices.Equal(seen, want) {
		t.Errorf("watch saw %q, want %q", seen, want)
	}
	// A line longer than MaxLine is shown in MaxLine pieces.
	var sizes []int
	long := strings.Repeat("x", 2*MaxLine+5) + "\n"
	CopyWatch(NewDest(io.Discard), newChunks(long), "", func(line []byte) bool {
		sizes = append(sizes, len(line))
		return false
	})
	if want := []int{MaxLine, MaxLine, 5}; !slices.Equal(sizes, want) {
		t.Errorf("pieces of %d, want %d", sizes, want)
	}
}

// TestCopyGrows: a copier whose read comes back full reads four times as
// much from then on, its carry kept; one whose reads never fill stays
// small.
func TestCopyGrows(t *testing.T) {
	block := strings.Repeat(string(lineBlock()), 3)
	for _, c := range []struct {
		name  string
		reads []string
		grown bool
	}{
		{"small reads", []string{"a\n", "b", "c\n"}, false},
		{"a full read", []string{"x" + block[:MaxLine+readRoom-1], "tail\n"}, true},
		{"a read not quite full", []string{"x" + block[:MaxLine+readRoom-2], "tail\n"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := &writes{}
			cp := copier{dst: NewDest(w), prefix: "p | ", in: make([]byte, MaxLine+readRoom), out: make([]byte, 0, outSize)}
			if err := cp.run(newChunks(c.reads...)); err != nil {
				t.Fatal(err)
			}
			if grown := len(cp.in) == MaxLine+bigRoom; grown != c.grown || grown && cap(cp.out) < bigRoom {
				t.Errorf("grown %v (in %d, out %d), want %v", grown, len(cp.in), cap(cp.out), c.grown)
			}
			if got, want := w.String(), reference(strings.Join(c.reads, ""), "p | "); got != want {
				t.Errorf("got %s, want %s", short(got), short(want))
			}
		})
	}
}
