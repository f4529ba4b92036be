package logs

import (
	"errors"
	"fmt"
	"path/filepath"
)

// Files gives each log file one Dest, however many streams name it (the
// stdout and stderr of one program, or several programs), so that their
// lines never mix mid-line and one file has one size to rotate by.
//
// Files is not safe for concurrent use: one goroutine, the supervisor's
// loop, opens and releases, while the copiers write to the Dests from
// theirs. The zero value is ready to use.
type Files struct {
	// open maps a cleaned path to its Dest and the number of streams
	// holding it. Owned by the caller's goroutine.
	open map[string]*sharedFile
}

type sharedFile struct {
	dest *Dest
	refs int
}

// Open returns the Dest of the file at path, opening it with OpenRotating
// if no stream holds it yet. The first opener's maxBytes and backups hold
// until the last Release. Each Open must be matched by one Release.
func (f *Files) Open(path string, maxBytes int64, backups int) (*Dest, error) {
	key := filepath.Clean(path)
	if s, ok := f.open[key]; ok {
		s.refs++
		return s.dest, nil
	}
	d, err := OpenRotating(key, maxBytes, backups)
	if err != nil {
		return nil, err
	}
	if f.open == nil {
		f.open = make(map[string]*sharedFile)
	}
	f.open[key] = &sharedFile{dest: d, refs: 1}
	return d, nil
}

// Release gives back one Open of path, and closes the file when no stream
// holds it any more. Call it once the Copy writing there has returned: a
// copier still running would see its lines dropped.
func (f *Files) Release(path string) error {
	key := filepath.Clean(path)
	s, ok := f.open[key]
	if !ok {
		return fmt.Errorf("release log %s: not open", path)
	}
	if s.refs--; s.refs > 0 {
		return nil
	}
	delete(f.open, key)
	return s.dest.Close()
}

// Close closes every file still open, whoever holds it.
func (f *Files) Close() error {
	var err error
	for key, s := range f.open {
		err = errors.Join(err, s.dest.Close())
		delete(f.open, key)
	}
	return err
}
