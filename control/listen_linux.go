package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"tend/internal/sockfile"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultMode is the control socket's mode when Listen is given 0: only
// tend's own user may connect (connecting needs write permission).
const DefaultMode os.FileMode = 0o600

// maxSocketPath is the longest path a unix socket can be bound to
// (sun_path is 108 bytes with its NUL).
const maxSocketPath = sockfile.MaxPath

// Listen opens the control socket at path with the given permission
// bits (0: DefaultMode), owned by group when group is not "" (a name or
// a numeric gid). A missing parent directory is created 0755.
//
// A socket file left behind by a crashed tend is replaced: if the path
// is a socket nobody answers on (ECONNREFUSED), it is removed. If a
// process answers, Listen fails with "another tend is listening on
// PATH"; if the path is anything but a socket, Listen fails and leaves
// it alone. So does a directory another user could move the socket out
// of (checkDir). Those errors match ErrRefused: tend must not start, or
// every `tend ctl` would talk to whatever holds the path.
//
// The socket is never reachable with the wrong mode or owner: it is
// bound inside a fresh 0700 directory next to path (through
// /proc/self/fd when that name would be too long for a socket), chowned
// and chmoded there, then renamed into place. No umask is changed: the
// umask is per process, and other goroutines create files. The returned listener does not remove
// the socket file when closed (it was bound under the temporary name);
// the next Listen replaces it as stale.
func Listen(path string, mode os.FileMode, group string) (*net.UnixListener, error) {
	if mode == 0 {
		mode = DefaultMode
	}
	if mode&^os.ModePerm != 0 {
		return nil, fmt.Errorf("control socket %s: mode %v: want permission bits only", path, mode)
	}
	gid := -1
	if group != "" {
		g, err := lookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("control socket %s: %w", path, err)
		}
		gid = g
	}
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket %s: path longer than %d bytes", path, maxSocketPath)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := checkDir(path, dir); err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}

	listen := func(name string) (*net.UnixListener, error) {
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
		if err == nil {
			// The file will live at path, not at name: closing must
			// not unlink whatever happens to be there.
			ln.SetUnlinkOnClose(false)
		}
		return ln, err
	}
	setup := func(tmp string) error {
		if gid >= 0 {
			if err := os.Chown(tmp, -1, gid); err != nil {
				return err
			}
		}
		return os.Chmod(tmp, mode)
	}
	place := func(tmp string) error {
		err := renameNoReplace(tmp, path)
		if errors.Is(err, fs.ErrExist) {
			return errors.New("the path appeared while tend was starting: is another tend starting?")
		}
		return err
	}
	ln, err := sockfile.Bind(dir, ".tend", listen, setup, place)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return ln, nil
}

// ErrRefused matches the errors of Listen after which tend must not
// start (errors.Is): the path is held by something live or something
// not a socket, or its directory is not safe. main exits 2 on them.
var ErrRefused = errors.New("control socket refused")

// refusal is an error that matches ErrRefused.
type refusal struct{ msg string }

func (e *refusal) Error() string        { return e.msg }
func (e *refusal) Is(target error) bool { return target == ErrRefused }

func refuse(format string, a ...any) error { return &refusal{fmt.Sprintf(format, a...)} }

// checkDir refuses a socket directory in which another user could move
// tend's socket away and put their own in its place, for every `tend ctl`
// (health probes included) to talk to: one owned by another user than
// root or tend's, or one that others may write without the sticky bit
// (which limits renaming to a file's owner). The directories above it
// are checked for the second: a writable one lets others rename the
// whole branch. Their owners are not (in a user namespace, root's files
// belong to an unmapped uid). /tmp (1777) and /run (root, 0755) pass.
func checkDir(path, dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	euid := uint32(os.Geteuid())
	for d := real; ; d = filepath.Dir(d) {
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil {
			return fmt.Errorf("control socket %s: %w", path, &fs.PathError{Op: "stat", Path: d, Err: err})
		}
		mode := fs.FileMode(st.Mode & 0o777)
		sticky := st.Mode&unix.S_ISVTX != 0
		if d == real && st.Uid != 0 && st.Uid != euid {
			return refuse("control socket %s: the directory %s belongs to uid %d, not to root or to tend's user (uid %d): its owner could move tend's socket away",
				path, d, st.Uid, euid)
		}
		if mode&0o022 != 0 && !sticky {
			who := "every user"
			if mode&0o002 == 0 {
				who = fmt.Sprintf("group %d", st.Gid)
			}
			return refuse("control socket %s: the directory %s (mode %v) may be written by %s, without the sticky bit: they could move tend's socket away; take a directory only root or tend's user may write, or set its sticky bit (chmod +t)",
				path, d, mode, who)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// removeStale removes path if it is a socket nobody listens on, and
// fails if it is a live socket or not a socket at all.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return refuse("control socket %s: the path exists and is not a socket (%s); not removing it", path, kind(fi.Mode()))
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	switch {
	case err == nil:
		c.Close()
		return refuse("another tend is listening on %s", path)
	case errors.Is(err, unix.ECONNREFUSED):
		// Left behind by a tend that did not get to clean up.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("control socket %s: removing the stale socket: %w", path, err)
		}
		return nil
	case errors.Is(err, unix.ENOENT):
		return nil // removed meanwhile
	default:
		// Something is there (a full backlog answers EAGAIN): not ours
		// to take.
		return &refusal{fmt.Sprintf("control socket %s: cannot tell whether another tend is listening: %v", path, err)}
	}
}

// renameNoReplace renames old to new, failing with fs.ErrExist if new
// exists: two tends starting at once must not steal each other's socket.
// Filesystems without RENAME_NOREPLACE get a plain rename.
func renameNoReplace(old, new string) error {
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return fs.ErrExist
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
		return os.Rename(old, new)
	default:
		return &os.LinkError{Op: "rename", Old: old, New: new, Err: err}
	}
}

// lookupGroup resolves a group name or a numeric gid.
func lookupGroup(group string) (int, error) {
	if n, err := strconv.ParseUint(group, 10, 32); err == nil {
		return int(n), nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, fmt.Errorf("group %q: %w", group, err)
	}
	n, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("group %q: gid %q: %w", group, g.Gid, err)
	}
	return n, nil
}

func kind(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "a regular file"
	case fs.ModeDir:
		return "a directory"
	case fs.ModeSymlink:
		return "a symlink"
	case fs.ModeNamedPipe:
		return "a named pipe"
	case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
		return "a device"
	default:
		return m.Type().String()
	}
}
