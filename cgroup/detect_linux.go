package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// System is what Detect found: where tend's cgroups are, and whether
// tend may make cgroups of its own under its v2 one.
type System struct {
	// Mount is where the v2 hierarchy is mounted, "" when it is not.
	Mount string
	// Path is tend's v2 cgroup as /proc/self/cgroup names it: "/" in a
	// container with a cgroup namespace of its own.
	Path string
	// Dir is that cgroup's directory, "" when tend cannot reach it.
	Dir string
	// Controllers are those Dir may hand to its children
	// (cgroup.controllers).
	Controllers []string
	// Err is why tend cannot give programs cgroups of their own; nil
	// when it can. Setup returns it.
	Err error
	// V1Memory is tend's cgroup in the v1 memory hierarchy, "" when
	// there is none (or it cannot be reached): where a v1 container's
	// OOM kills are counted.
	V1Memory string
}

// Mount points of the v2 hierarchy, in the order tend prefers them:
// /sys/fs/cgroup on a v2 host (and in its containers), the unified one
// on a host with v1 controllers too (systemd's hybrid layout).
var v2Points = []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}

// Detect reads /proc/self/mountinfo and /proc/self/cgroup and looks at
// what they point to.
func Detect() *System {
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return &System{Err: fmt.Errorf("cgroups: %w", err)}
	}
	defer mi.Close()
	self, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return &System{Err: fmt.Errorf("cgroups: %w", err)}
	}
	defer self.Close()
	return DetectIn("", mi, self)
}

// DetectIn is Detect with the mountinfo and cgroup files given, and
// every mount point taken under root: tests lay out a tree in a
// temporary directory and point DetectIn at it.
func DetectIn(root string, mountinfo, selfCgroup io.Reader) *System {
	s := &System{}
	mounts, err := parseMountinfo(mountinfo)
	if err != nil {
		s.Err = fmt.Errorf("cgroups: mountinfo: %w", err)
		return s
	}
	v2, memory, err := ownCgroups(selfCgroup)
	if err != nil {
		s.Err = fmt.Errorf("cgroups: /proc/self/cgroup: %w", err)
		return s
	}
	if memory != "" {
		s.V1Memory = v1Dir(root, mounts, memory)
	}
	s.Path = v2
	m, ok := pickV2(mounts)
	if !ok {
		s.Err = errors.New("no cgroup v2 hierarchy is mounted")
		return s
	}
	s.Mount = filepath.Join(root, m.point)
	if v2 == "" {
		s.Err = errors.New("tend is in no cgroup v2 (/proc/self/cgroup has no 0:: line)")
		return s
	}
	rel, ok := under(v2, m.root)
	if !ok {
		s.Err = fmt.Errorf("tend's cgroup %s is outside the cgroup v2 tree mounted at %s (its root: %s)", v2, m.point, m.root)
		return s
	}
	s.Dir = filepath.Join(s.Mount, rel)
	if data, err := readSmall(filepath.Join(s.Dir, "cgroup.controllers")); err != nil {
		s.Err = fmt.Errorf("tend's cgroup %s: %w", s.Dir, err)
		return s
	} else {
		s.Controllers = strings.Fields(string(data))
	}
	s.Err = delegated(s.Dir)
	return s
}

// pickV2 is the cgroup2 mount to use: the last one on a preferred
// point (a later mount hides an earlier one), else the first there is.
func pickV2(mounts []mountEntry) (mountEntry, bool) {
	for _, p := range v2Points {
		for i := len(mounts) - 1; i >= 0; i-- {
			if mounts[i].v2 && mounts[i].point == p {
				return mounts[i], true
			}
		}
	}
	for _, m := range mounts {
		if m.v2 {
			return m, true
		}
	}
	return mountEntry{}, false
}

// v1Dir is the directory of the v1 memory cgroup path, or "".
func v1Dir(root string, mounts []mountEntry, path string) string {
	for i := len(mounts) - 1; i >= 0; i-- {
		m := mounts[i]
		if m.v2 || !hasOption(m.super, "memory") {
			continue
		}
		if rel, ok := under(path, m.root); ok {
			return filepath.Join(root, m.point, rel)
		}
	}
	return ""
}

// errRoot: the root of the hierarchy is exempt from the "no internal
// processes" rule, and holds every process of the machine that is in
// no other cgroup; tend does not move them all, nor make cgroups at the
// top of a host's tree.
var errRoot = errors.New("tend is in the root cgroup of the machine, not in a cgroup of its own (a container's, or a systemd unit's with Delegate=yes)")

// delegated says why tend may not manage cgroups under dir, or nil.
// The kernel has the last word, when Setup writes; this is what can be
// told by looking: a read-only mount (Docker's default), files tend's
// user may not write (no delegation), the machine's root cgroup (no
// cgroup.type), a threaded cgroup (no per-process children).
func delegated(dir string) error {
	typ, err := readSmall(filepath.Join(dir, "cgroup.type"))
	if errors.Is(err, os.ErrNotExist) {
		return errRoot
	}
	if err != nil {
		return fmt.Errorf("tend's cgroup %s: %w", dir, err)
	}
	if t := string(bytes.TrimSpace(typ)); t != "domain" {
		return fmt.Errorf("tend's cgroup %s is of type %q, not domain", dir, t)
	}
	for _, p := range []string{dir, filepath.Join(dir, "cgroup.procs"), filepath.Join(dir, "cgroup.subtree_control")} {
		// access(2) checks the real uid, which is tend's (it is not
		// setuid), and says EROFS for a read-only mount; it is never
		// filtered, where faccessat2 may be by an old seccomp profile.
		if err := unix.Access(p, unix.W_OK); err != nil {
			why := ""
			switch {
			case errors.Is(err, unix.EROFS):
				why = " (read-only: the cgroupfs of a container that was not given its cgroup)"
			case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
				why = " (not delegated to tend's user)"
			}
			return fmt.Errorf("tend's cgroup %s is not writable: %s: %w%s", dir, p, err, why)
		}
	}
	return nil
}

// maxSmall bounds what readSmall reads: the cgroup files tend reads
// are a few hundred bytes.
const maxSmall = 64 << 10

// readSmall reads a small kernel file (up to maxSmall bytes).
func readSmall(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	for len(buf) < maxSmall {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
}

// writeFile writes s to a kernel file in one write(2), which is how
// cgroupfs takes a command. The file must exist: a missing limit file
// means a missing controller, not a file to create.
func writeFile(path, s string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	for {
		_, err = unix.Write(fd, []byte(s))
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}
