// Package sockfile binds unix sockets that nobody else can reach before
// they are ready: the control socket and the programs' notify sockets.
package sockfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// MaxPath is the longest path a unix socket address holds: sun_path's
// 108 bytes, NUL included.
const MaxPath = 107

// Bind binds a socket through listen in a fresh 0700 directory made in
// dir (named with prefix), through /proc/self/fd when that name would be
// too long for a socket address; then setup gives the bound file its
// owner and mode, and place moves it where it belongs (a rename), with
// the socket still unreachable until then. The directory is removed
// whatever happens; on an error the socket is closed.
func Bind[T io.Closer](dir, prefix string, listen func(name string) (T, error), setup, place func(tmp string) error) (T, error) {
	var zero T
	tmpDir, err := os.MkdirTemp(dir, prefix)
	if err != nil {
		return zero, err
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	name := tmp
	if len(tmp) > MaxPath {
		// Longer than the socket's own path by the temporary
		// directory's name: a short name for the same place.
		d, err := os.Open(tmpDir)
		if err != nil {
			return zero, err
		}
		defer d.Close()
		name = fmt.Sprintf("/proc/self/fd/%d/s", d.Fd())
	}
	s, err := listen(name)
	if err != nil {
		return zero, err
	}
	if err := setup(tmp); err != nil {
		s.Close()
		return zero, err
	}
	if err := place(tmp); err != nil {
		s.Close()
		return zero, err
	}
	return s, nil
}
