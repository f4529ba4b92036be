package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrForeign: tend's cgroup holds processes of another PID namespace
// than tend's: it is the cgroup of something bigger than tend's
// container (a host's init.scope, a pod's sandbox), and not tend's to
// rearrange, whatever [tend] cgroups says.
var ErrForeign = errors.New("it holds processes outside tend's PID namespace: it is not the container's own")

// ErrNotOwned: nothing says tend's cgroup is tend's to manage: tend is
// not PID 1, has no cgroup namespace of its own, and no one delegated
// the cgroup to it. That is a host's cgroup, a login session's or a
// service's that systemd manages; [tend] cgroups = "required" takes it
// anyway.
var ErrNotOwned = errors.New("neither a container's (tend is not PID 1 and has no cgroup namespace of its own) nor delegated to tend (systemd Delegate=yes)")

// Owned says why tend's cgroup is not tend's to manage, though it may
// be writable; nil when it is. Writable is not enough: root may write
// every cgroup of a host, and moving a host's processes into init.scope
// would take them from the units systemd keeps them in. The cgroup is
// tend's when, besides being writable (System.Err):
//
//   - it holds no process outside tend's PID namespace (cgroup.procs
//     shows those as 0), which every case below needs; and
//   - it is the root of tend's cgroup namespace (Path "/"): a
//     container's, on a v2 host (Docker, podman, Kubernetes); or
//   - systemd delegated it (the trusted.delegate or user.delegate
//     extended attribute, "1", which systemd 251 and later set for
//     Delegate=yes); or
//   - tend is PID 1 of its PID namespace (pid1): a container that
//     shares the host's cgroup namespace, in a cgroup of its own.
//
// Only the first of these is ErrForeign; the others are ErrNotOwned,
// which a caller told to (cgroups = "required") may pass over.
func (s *System) Owned(pid1 bool) error {
	if s.Err != nil {
		return s.Err
	}
	foreign := false
	err := eachLine0(filepath.Join(s.Dir, "cgroup.procs"), func(line []byte) bool {
		if string(line) == "0" {
			foreign = true
			return false
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("tend's cgroup %s: %w", s.Dir, err)
	}
	if foreign {
		return fmt.Errorf("tend's cgroup %s: %w", s.Dir, ErrForeign)
	}
	if s.Path == "/" || delegatedByXattr(s.Dir) || pid1 {
		return nil
	}
	return fmt.Errorf("tend's cgroup %s (%s) is %w", s.Path, s.Dir, ErrNotOwned)
}

// eachLine0 calls fn for each line of a cgroup.procs file, up to
// maxPids lines.
func eachLine0(path string, fn func(line []byte) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n := 0
	return eachLine(f, func(line []byte) bool {
		n++
		return fn(line) && n < maxPids
	})
}

// delegatedByXattr reports whether systemd marked dir delegated: it
// sets trusted.delegate (for a system unit) or user.delegate (for a
// user's) to "1" on the cgroup of a unit with Delegate=yes.
func delegatedByXattr(dir string) bool {
	for _, attr := range []string{"trusted.delegate", "user.delegate"} {
		var buf [8]byte
		n, err := unix.Getxattr(dir, attr, buf[:])
		if err == nil && bytes.Equal(bytes.TrimSpace(buf[:n]), []byte("1")) {
			return true
		}
	}
	return false
}

// SignalOutside sends sig to every process in the group that is not in
// process group pgid: those that left the program's process group (a
// daemon that called setsid). The supervisor sends the program's stop
// signal to its process group, and this sends it to the rest of its
// cgroup, so that no process gets it twice (a second TERM or INT is "now,
// and without cleaning up" to many programs). A process that forks in
// the meantime may leave a child unsignalled: the SIGKILL of the stop's
// deadline goes through Kill.
func (g *Group) SignalOutside(pgid int, sig unix.Signal) error {
	return eachPid(filepath.Join(g.dir, "cgroup.procs"), func(pid int) {
		if pg, err := unix.Getpgid(pid); err == nil && pg != pgid {
			unix.Kill(pid, sig)
		}
	})
}
