package logs

import (
	"io"
	"os"
	"sync"
)

// Dest is a destination several copiers share: each batch of whole lines
// is written under its mutex, so lines from different copiers never mix
// mid-line. Its methods are safe for concurrent use.
type Dest struct {
	mu sync.Mutex
	// w is where lines go; nil once the Dest is closed. Guarded by mu.
	w io.Writer
	// file is the rotating file behind w, closed by Close; nil for a Dest
	// made by NewDest, which does not own its writer. Guarded by mu.
	file *rotator
	// midLine is set when a write failed partway through a line: the next
	// write first ends that line, so the next batch does not join it.
	// Guarded by mu.
	midLine bool
}

// NewDest returns a Dest writing to w, os.Stdout or os.Stderr for prefix
// mode. Close does not close w.
func NewDest(w io.Writer) *Dest {
	return &Dest{w: w}
}

// Close stops the Dest: later writes fail with os.ErrClosed, and are
// counted as drops by their copiers. A Dest from OpenRotating closes its
// file. Closing twice does nothing.
func (d *Dest) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.w == nil {
		return nil
	}
	d.w = nil
	if d.file != nil {
		return d.file.close()
	}
	return nil
}

// write writes p, a batch of whole lines, in one piece with respect to
// other copiers, and returns how many bytes of it were written.
func (d *Dest) write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.w == nil {
		return 0, os.ErrClosed
	}
	if d.midLine {
		if _, err := d.w.Write(newline); err != nil {
			return 0, err
		}
		d.midLine = false
	}
	n, err := d.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil && n > 0 && p[n-1] != '\n' {
		d.midLine = true
	}
	return n, err
}

// Write makes a Dest an io.Writer for whole lines written in one call,
// such as tend's own log lines: they then take the same lock as the
// copiers' batches and never land in the middle of one.
func (d *Dest) Write(p []byte) (int, error) { return d.write(p) }
