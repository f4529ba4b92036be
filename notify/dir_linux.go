package notify

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"tend/internal/sockfile"

	"golang.org/x/sys/unix"

	"tend/api"
)

// DirMode is the notify directory's mode: tend's user alone may list it
// or create in it; every user may pass through it to the one socket
// whose file lets them in.
const DirMode fs.FileMode = 0o711

// maxSocketPath is the longest path a unix socket can be bound to
// (sun_path is 108 bytes with its NUL).
const maxSocketPath = sockfile.MaxPath

// maxDir is the longest notify directory: its sockets' paths need room
// for a slash and a cut name with its hash ("x~1a2b3c4d").
const maxDir = maxSocketPath - 1 - 10

// DirFor is the notify directory that goes with a control socket: next
// to it, its name without the extension plus ".notify", so
// /run/tend.sock has /run/tend.notify. A tend without a control socket
// ("") uses the default socket's, /run/tend.notify. Two tends that
// could share it would share a control socket path too, which the
// control socket refuses; and NewServer refuses a directory with a live
// socket in it.
func DirFor(controlSocket string) string {
	if controlSocket == "" {
		controlSocket = api.DefaultSocket
	}
	dir, base := filepath.Split(controlSocket)
	if ext := filepath.Ext(base); ext != base {
		base = strings.TrimSuffix(base, ext)
	}
	return filepath.Join(dir, base+".notify")
}

// prepareDir makes dir tend's notify directory: created DirMode if
// missing (its parent 0755, as the control socket's), else it must be a
// directory of tend's own user, and is set to DirMode. A directory above
// it that others may write without the sticky bit is refused: they could
// move tend's directory away and put theirs in its place. Sockets left in
// it by a tend that is gone are removed; a live one is an error: another
// tend uses the directory.
func prepareDir(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("notify directory %s: not an absolute path", dir)
	}
	dir = filepath.Clean(dir)
	if len(dir) > maxDir {
		return fmt.Errorf("notify directory %s: longer than %d bytes, which leaves no room for socket names (a socket path has at most %d)", dir, maxDir, maxSocketPath)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("notify directory %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, DirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("notify directory %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("notify directory %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("notify directory %s: exists and is not a directory", dir)
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return fmt.Errorf("notify directory %s: belongs to uid %d, not to tend's user (uid %d)", dir, st.Uid, euid)
	}
	// The umask may have narrowed Mkdir's mode, and an old directory may
	// have another: tend owns it, so it sets it.
	if fs.FileMode(st.Mode&0o7777) != DirMode {
		if err := os.Chmod(dir, DirMode); err != nil {
			return fmt.Errorf("notify directory %s: %w", dir, err)
		}
	}
	if err := checkAncestors(dir); err != nil {
		return err
	}
	return sweep(dir)
}

// checkAncestors refuses a directory above dir that users other than
// its owner may write without the sticky bit (which limits renaming to a
// file's owner). /tmp (1777) and /run (0755) pass. Owners are not
// checked: in a user namespace, root's files belong to an unmapped uid.
func checkAncestors(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("notify directory %s: %w", dir, err)
	}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil {
			return fmt.Errorf("notify directory %s: %w", dir, &fs.PathError{Op: "stat", Path: d, Err: err})
		}
		if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
			return fmt.Errorf("notify directory %s: %s (mode %v) may be written by others, without the sticky bit: they could move tend's directory away",
				dir, d, fs.FileMode(st.Mode&0o777))
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// sweep removes the sockets a tend that is gone left in dir, and the
// temporary directories of a bind it did not finish; it fails for a
// socket something still reads. Other files are left alone.
func sweep(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("notify directory %s: %w", dir, err)
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		switch {
		case e.Type() == fs.ModeSocket:
			if len(path) > maxSocketPath {
				continue // not one of tend's: it never binds such a name
			}
			c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
			if err == nil {
				c.Close()
				return fmt.Errorf("notify directory %s: %s is in use: does another tend use this directory?", dir, path)
			}
			if errors.Is(err, unix.ECONNREFUSED) {
				if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("notify directory %s: removing a stale socket: %w", dir, err)
				}
			}
		case e.IsDir() && strings.HasPrefix(e.Name(), bindPrefix):
			os.RemoveAll(path)
		}
	}
	return nil
}
