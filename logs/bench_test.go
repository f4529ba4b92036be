package logs

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// The benchmarks push 100-byte lines through a pipe from Pipe, written in
// 64 KiB blocks by a goroutine, to /dev/null. BenchmarkCopyPlain is the
// baseline: the same pipe copied the way cat copies (read, write, 128 KiB
// buffer; no splice). The target is BenchmarkCopyPrefix at 0.7 of it or
// more; docs/logs.md has the numbers.

func BenchmarkCopyPrefix(b *testing.B) {
	benchPipe(b, func(null *os.File, r *os.File) error {
		_, err := Copy(NewDest(null), r, "web | ")
		return err
	})
}

func BenchmarkCopyPlain(b *testing.B) {
	benchPipe(b, func(null *os.File, r *os.File) error {
		// The wrappers hide ReadFrom and WriteTo, which could splice.
		_, err := io.CopyBuffer(struct{ io.Writer }{null}, struct{ io.Reader }{r}, make([]byte, 128<<10))
		return err
	})
}

// BenchmarkLines is the copier's own work, without the pipe: splitting a
// 64 KiB read into lines and building the batch.
func BenchmarkLines(b *testing.B) {
	block := lineBlock()
	c := copier{dst: NewDest(io.Discard), prefix: "web | ", out: make([]byte, 0, outSize)}
	b.SetBytes(int64(len(block)))
	for b.Loop() {
		c.lines(block)
		c.out = c.out[:0]
	}
}

// lineBlock is 655 lines of 100 bytes: as close to 64 KiB as they come.
func lineBlock() []byte {
	line := append(bytes.Repeat([]byte("0123456789"), 10)[:99], '\n')
	return bytes.Repeat(line, 655)
}

func benchPipe(b *testing.B, copyFn func(null, r *os.File) error) {
	r, w, err := Pipe()
	if err != nil {
		b.Fatal(err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	block := lineBlock()
	b.SetBytes(int64(len(block)))
	b.ReportAllocs()
	werr := make(chan error, 1)
	b.ResetTimer()
	go func() {
		defer w.Close()
		for range b.N {
			if _, err := w.Write(block); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	if err := copyFn(null, r); err != nil {
		b.Fatal(err)
	}
	if err := <-werr; err != nil {
		b.Fatal(err)
	}
}
