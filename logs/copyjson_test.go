package logs

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// jsonTexts decodes a JSON copier's output into its lines' texts,
// checking each line's program and stream.
func jsonTexts(t *testing.T, out []byte, program, stream string) []string {
	t.Helper()
	var got []string
	for _, l := range decodeLines(t, out) {
		if l.Program != program || l.Stream != stream {
			t.Fatalf("line %+v: want program %s, stream %s", l, program, stream)
		}
		if time.Since(l.Time) > time.Minute || l.Time.Location() != time.UTC {
			t.Fatalf("line %+v: time", l)
		}
		got = append(got, l.Line)
	}
	return got
}

// refLines is reference's lines without their prefix and '\n'.
func refLines(in string) []string {
	ref := reference(in, "")
	if ref == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(ref, "\n"), "\n")
}

// TestCopyJSONMatchesReference: a JSON copier gives the lines a prefix
// copier gives (pieces of long lines included), however the reads fall,
// each one JSON line, every write whole lines; the ring keeps them too.
func TestCopyJSONMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lengths := []int{0, 1, 7, 8, 9, 99, 1000, MaxLine - 1, MaxLine, MaxLine + 1, 2*MaxLine + 3}
	short := []int{0, 1, 7, 8, 9, 99, 1000}
	alphabet := []byte("ab\"\\\t\r\x01\x7fé\xff日")
	for round := range 40 {
		// Odd rounds have no line longer than MaxLine: the ring keeps
		// the lines as they were read, and the output has pieces.
		cut := round%2 == 0
		var in []byte
		for range 1 + rng.IntN(30) {
			n := short[rng.IntN(len(short))]
			if cut {
				n = lengths[rng.IntN(len(lengths))]
			}
			for range n {
				in = append(in, alphabet[rng.IntN(len(alphabet))])
			}
			in = append(in, '\n')
		}
		if rng.IntN(2) == 0 {
			in = in[:rng.IntN(len(in)+1)]
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
		w := &writes{}
		ring := NewRing()
		n, err := CopyTo(r, Sink{Dest: NewDest(w), JSON: true, Program: "web:1", Stream: StreamStderr, Ring: ring})
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(w.buf.Len()) {
			t.Fatalf("round %d: n = %d, wrote %d", round, n, w.buf.Len())
		}
		want := refLines(string(in))
		got := jsonTexts(t, w.buf.Bytes(), "web:1", StreamStderr)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d lines, want %d", round, len(got), len(want))
		}
		for i := range want {
			if w := validEach(want[i]); got[i] != w {
				t.Fatalf("round %d line %d: %q, want %q", round, i, got[i], w)
			}
		}
		if w.torn > 0 {
			t.Fatalf("round %d: %d torn writes", round, w.torn)
		}
		if cut {
			continue
		}
		// The ring: the last lines, as the copier read them.
		kept := jsonTexts(t, viewTail(t, ring, RingLines), "web:1", StreamStderr)
		if len(want) > 0 && len(kept) == 0 || len(kept) > len(want) {
			t.Fatalf("round %d: the ring kept %d lines of %d", round, len(kept), len(want))
		}
		for i, k := range kept {
			if w := validEach(want[len(want)-len(kept)+i]); k != w {
				t.Fatalf("round %d: ring line %d: %q, want %q", round, i, k, w)
			}
		}
	}
}

// validEach is s with each byte that is not UTF-8 as U+FFFD, as
// encoding/json makes it.
func validEach(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

func viewTail(t *testing.T, r *Ring, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := NewView([]*Ring{r}).Tail(&buf, n, false); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCopyKeeps: a prefix copier keeps in its ring the lines without the
// prefix, named by Program and Stream.
func TestCopyKeeps(t *testing.T) {
	ring := NewRing()
	w := &writes{}
	if _, err := CopyTo(newChunks("a\nb", "c\n", "d"), Sink{Dest: NewDest(w), Prefix: "web | ", Program: "web", Stream: StreamStdout, Ring: ring}); err != nil {
		t.Fatal(err)
	}
	if got := w.String(); got != "web | a\nweb | bc\nweb | d\n" {
		t.Errorf("output %q", got)
	}
	if got := fmt.Sprint(jsonTexts(t, viewTail(t, ring, 10), "web", StreamStdout)); got != "[a bc d]" {
		t.Errorf("kept %s", got)
	}
}

// TestCopyJSONInterleaving is TestCopyInterleaving for JSON copiers, and
// a prefix copier, into one Dest: every line out is one whole JSON line
// (or prefixed line), each copier's in order.
func TestCopyJSONInterleaving(t *testing.T) {
	const copiers, lines = 8, 5000
	w := &writes{}
	dest := NewDest(w)
	var wg sync.WaitGroup
	errs := make(chan error, 2*copiers)
	for c := range copiers {
		r, pw, err := Pipe()
		if err != nil {
			t.Fatal(err)
		}
		sink := Sink{Dest: dest, JSON: true, Program: fmt.Sprintf("c%d", c), Stream: StreamStdout}
		if c == 0 {
			sink = Sink{Dest: dest, Prefix: "c0 | "}
		}
		wg.Go(func() {
			if _, err := CopyTo(r, sink); err != nil {
				errs <- err
			}
		})
		wg.Go(func() {
			defer pw.Close()
			in := []byte(strings.Join(input(c, lines), ""))
			rng := rand.New(rand.NewPCG(uint64(c), 8))
			for len(in) > 0 {
				k := min(len(in), 1+2*rng.IntN(4000))
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
	var plain bytes.Buffer
	for line := range bytes.SplitAfterSeq(w.buf.Bytes(), []byte("\n")) {
		if bytes.HasPrefix(line, []byte("c0 | ")) {
			if want := "c0 | " + want[0][next[0]]; string(line) != want {
				t.Fatalf("%s: want %s", short(string(line)), short(want))
			}
			next[0]++
			continue
		}
		plain.Write(line)
	}
	for _, l := range decodeLines(t, plain.Bytes()) {
		var c int
		if _, err := fmt.Sscanf(l.Program, "c%d", &c); err != nil || c < 1 || c >= copiers {
			t.Fatalf("line %+v: no copier's", l)
		}
		if want := strings.TrimSuffix(want[c][next[c]], "\n"); l.Line != want {
			t.Fatalf("copier %d line %d: %s, want %s", c, next[c], short(l.Line), short(want))
		}
		next[c]++
	}
	for c, n := range next {
		if n != lines {
			t.Errorf("copier %d: %d lines, want %d", c, n, lines)
		}
	}
	if w.torn > 0 || w.overlap.Load() > 0 {
		t.Errorf("%d of %d writes were not whole lines, %d overlapped", w.torn, w.calls, w.overlap.Load())
	}
}
