package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// OpenRotating returns a Dest that appends to the file at path and
// rotates it by size, as supervisord and lumberjack do: before a write
// would take the file past maxBytes, path.(backups-1) is renamed to
// path.(backups), and so on down, path to path.1, and a new path is
// opened. The oldest backup is dropped; with backups == 0 the file is
// simply started again. maxBytes <= 0 never rotates.
//
// Files are cut only between lines. A write that would not fit is split at
// its last line that fits, under the Dest's mutex so no other copier's
// lines come in between; a file therefore never exceeds maxBytes, except
// one that holds a single line longer than maxBytes (at most the prefix,
// MaxLine bytes and '\n'), which gets a file of its own.
//
// The file is created with mode 0640 (less tend's umask): program output
// may hold what others on the machine should not read. Its directory
// must exist. An existing file is appended to, and counts toward maxBytes.
func OpenRotating(path string, maxBytes int64, backups int) (*Dest, error) {
	r := &rotator{path: path, maxBytes: maxBytes, backups: max(backups, 0)}
	if err := r.open(); err != nil {
		return nil, err
	}
	return &Dest{w: r, file: r}, nil
}

// rotator is the file behind a rotating Dest, used under the Dest's
// mutex.
type rotator struct {
	path     string
	maxBytes int64
	backups  int
	// f is the open file; nil when opening a new one failed, in which case
	// the next write tries again.
	f    *os.File
	size int64 // bytes in f
}

func (r *rotator) Write(p []byte) (int, error) {
	written := 0
	rotated := false // since the last write: a new file takes a line whatever its size
	for len(p) > 0 {
		if r.f == nil {
			if err := r.open(); err != nil {
				return written, err
			}
		}
		next := p
		if r.maxBytes > 0 && r.size+int64(len(p)) > r.maxBytes {
			room := min(r.maxBytes-r.size, int64(len(p)))
			end := -1
			if room > 0 {
				end = bytes.LastIndexByte(p[:room], '\n')
			}
			switch {
			case end < 0 && r.size > 0 && !rotated:
				if err := r.rotate(); err != nil {
					return written, err
				}
				rotated = true
				continue
			case end < 0:
				// A new file takes one line whatever its size: a line
				// longer than maxBytes gets a file of its own.
				end = bytes.IndexByte(p, '\n')
				if end < 0 {
					end = len(p) - 1
				}
			}
			next = p[:end+1]
		}
		n, err := r.f.Write(next)
		rotated = false
		r.size += int64(n)
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// rotate closes the file, shifts the backups and opens a new file.
func (r *rotator) rotate() error {
	// A failed close still closes; what it reports (a lost NFS write)
	// is past saving, and is no reason to keep appending to this file.
	_ = r.close()
	var err error
	if r.backups == 0 {
		err = ignoreMissing(os.Remove(r.path))
	} else {
		// Drop the oldest first, so that no rename below replaces a file:
		// renaming over one makes ext4 flush the renamed file inside
		// rename(2), with the program blocked on a full pipe meanwhile
		// (22% of tend's CPU for file output, measured).
		err = ignoreMissing(os.Remove(r.backup(r.backups)))
		for i := r.backups - 1; i >= 1; i-- {
			err = errors.Join(err, ignoreMissing(os.Rename(r.backup(i), r.backup(i+1))))
		}
		err = errors.Join(err, ignoreMissing(os.Rename(r.path, r.backup(1))))
	}
	if err != nil {
		// Opening again would go on appending to the same file: better to
		// lose this batch and try the whole rotation again at the next.
		return fmt.Errorf("rotate log: %w", err)
	}
	return r.open()
}

func (r *rotator) backup(i int) string {
	return r.path + "." + strconv.Itoa(i)
}

func (r *rotator) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log: %w", err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

func (r *rotator) close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

func ignoreMissing(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
