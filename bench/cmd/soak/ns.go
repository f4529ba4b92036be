package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"tend/bench/internal/benchkit"
)

// This file looks at tend's PID namespace from the host: which
// processes are in it, what tend holds, and how to SIGKILL one of them
// without hitting a process that took its pid after it died.

// nsProc is a process of the namespace, by its host pid.
type nsProc struct {
	Pid, PPid int
	State     byte   // R, S, D, T, Z, …
	Start     uint64 // start time in clock ticks since boot: pid and start name a process
	Comm      string
	Mode      string // soakchild's mode (argv[1]), when it is soakchild
}

// namespace is tend's PID namespace: ino is readlink /proc/TEND/ns/pid.
type namespace struct {
	tend int
	ino  string
}

func openNamespace(tend int) (namespace, error) {
	ino, err := os.Readlink(benchkit.ProcPath(tend, "ns/pid"))
	if err != nil {
		return namespace{}, err
	}
	if self, _ := os.Readlink("/proc/self/ns/pid"); self == ino {
		return namespace{}, errors.New("tend is in the driver's own PID namespace")
	}
	return namespace{tend: tend, ino: ino}, nil
}

// has reports whether pid is in the namespace now.
func (ns namespace) has(pid int) bool {
	ino, err := os.Readlink(benchkit.ProcPath(pid, "ns/pid"))
	return err == nil && ino == ns.ino
}

// procs lists every process of the namespace but tend, by host pid.
func (ns namespace) procs() []nsProc {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []nsProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == ns.tend || !ns.has(pid) {
			continue
		}
		if p, err := readProc(pid); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// readProc reads pid's stat, and its argv[1] when its argv[0] is
// soakchild.
func readProc(pid int) (nsProc, error) {
	b, err := os.ReadFile(benchkit.ProcPath(pid, "stat"))
	if err != nil {
		return nsProc{}, err
	}
	open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || close < open {
		return nsProc{}, errors.New("malformed stat")
	}
	f := bytes.Fields(b[close+1:])
	if len(f) < 20 {
		return nsProc{}, errors.New("malformed stat")
	}
	p := nsProc{Pid: pid, Comm: string(b[open+1 : close]), State: f[0][0]}
	p.PPid, _ = strconv.Atoi(string(f[1]))
	p.Start, _ = strconv.ParseUint(string(f[19]), 10, 64)
	if cmd, err := os.ReadFile(benchkit.ProcPath(pid, "cmdline")); err == nil {
		argv := strings.Split(string(cmd), "\x00")
		if len(argv) > 1 && strings.HasSuffix(argv[0], "soakchild") {
			p.Mode = argv[1]
		}
	}
	return p, nil
}

// kill sends SIGKILL to p through a pidfd, having checked through the
// same pidfd's pid that p is still the process it was: same namespace,
// same start time. It returns the pidfd (to wait on), or -1.
func (ns namespace) kill(p nsProc) (int, error) {
	fd, err := unix.PidfdOpen(p.Pid, 0)
	if err != nil {
		return -1, err
	}
	// The pidfd pins the process it was opened on; /proc/PID now may be
	// another one only if that one died before the open, which the start
	// time tells.
	q, err := readProc(p.Pid)
	if err != nil || q.Start != p.Start || !ns.has(p.Pid) {
		unix.Close(fd)
		return -1, errors.New("gone")
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// waitPidfds waits until every process of fds has exited, and closes them.
func waitPidfds(fds []int) error {
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	pending := slices.Clone(fds)
	for len(pending) > 0 {
		pfds := make([]unix.PollFd, len(pending))
		for i, fd := range pending {
			pfds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
		}
		n, err := unix.Poll(pfds, 30_000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%d processes still alive 30 s after SIGKILL", len(pending))
		}
		pending = pending[:0]
		for _, p := range pfds {
			if p.Revents == 0 {
				pending = append(pending, int(p.Fd))
			}
		}
	}
	return nil
}

// sample is one reading of tend and its namespace.
type sample struct {
	At      float64 `json:"at_s"` // seconds since tend started
	Phase   string  `json:"phase"`
	RssAnon int64   `json:"rssanon_kib"`
	VmRSS   int64   `json:"vmrss_kib"`
	Threads int     `json:"threads"`
	Fds     int     `json:"fds"`
	// FdKinds counts tend's fds by what they are: socket, pipe,
	// anon_inode:[eventpoll], a file's path.
	FdKinds map[string]int `json:"fd_kinds"`
	// ThreadsIn counts tend's threads by the system call they are in:
	// "futex" is a thread parked (an idle M the Go runtime keeps for
	// reuse, or one waiting on a lock), "running" one not in a call.
	ThreadsIn map[string]int `json:"threads_in"`
	Procs     int            `json:"procs"`   // processes in the namespace but tend
	Zombies   int            `json:"zombies"` // of them, zombies
	// Load1 is the machine's load average over the last minute: other
	// work on the machine starves tend too.
	Load1 float64 `json:"load1"`
	// StallMs is the longest the driver itself waited past a 100 ms
	// tick since the last sample: when it is large the whole machine
	// stalled, tend with it.
	StallMs int64 `json:"stall_ms"`
	// TendZombies are the zombies whose parent is tend: tend's to reap.
	TendZombies []nsProc `json:"tend_zombies,omitempty"`
}

// read samples tend and the namespace.
func (ns namespace) read(at float64, phase string) (sample, error) {
	s := sample{At: at, Phase: phase}
	m, err := benchkit.ReadMemory(ns.tend)
	if err != nil {
		return s, err
	}
	s.RssAnon, s.VmRSS = m.RssAnon, m.VmRSS
	tids, err := benchkit.Tasks(ns.tend)
	if err != nil {
		return s, err
	}
	s.Threads = len(tids)
	s.ThreadsIn = map[string]int{}
	for _, tid := range tids {
		s.ThreadsIn[threadCall(ns.tend, tid)]++
	}
	if s.FdKinds, err = fdKinds(ns.tend); err != nil {
		return s, err
	}
	for _, n := range s.FdKinds {
		s.Fds += n
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscan(string(b), &s.Load1)
	}
	for _, p := range ns.procs() {
		s.Procs++
		if p.State == 'Z' {
			s.Zombies++
			if p.PPid == ns.tend {
				s.TendZombies = append(s.TendZombies, p)
			}
		}
	}
	return s, nil
}

// syscallNames name the calls tend's threads wait in.
var syscallNames = map[int]string{
	unix.SYS_FUTEX: "futex", unix.SYS_EPOLL_PWAIT: "epoll_pwait", unix.SYS_READ: "read",
	unix.SYS_WRITE: "write", unix.SYS_NANOSLEEP: "nanosleep", unix.SYS_RT_SIGTIMEDWAIT: "rt_sigtimedwait",
	unix.SYS_WAIT4: "wait4", unix.SYS_WAITID: "waitid", unix.SYS_PPOLL: "ppoll",
	unix.SYS_CLONE: "clone", unix.SYS_RT_SIGSUSPEND: "rt_sigsuspend",
}

// threadCall is the system call tid of pid is in, from
// /proc/PID/task/TID/syscall: its name, "running", or "?".
func threadCall(pid, tid int) string {
	b, err := os.ReadFile(benchkit.ProcPath(pid, "task/"+strconv.Itoa(tid)+"/syscall"))
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return "running"
	}
	if name, ok := syscallNames[n]; ok {
		return name
	}
	return "syscall " + f[0]
}

// fdKinds reads what each of pid's fds is.
func fdKinds(pid int) (map[string]int, error) {
	dir := benchkit.ProcPath(pid, "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	kinds := map[string]int{}
	for _, e := range ents {
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue // closed since the listing
		}
		kinds[fdKind(target)]++
	}
	return kinds, nil
}

// fdKind is "socket" for socket:[123], "pipe" for pipe:[123],
// anon_inode:[eventpoll] as it is, and a path as it is.
func fdKind(target string) string {
	if strings.HasPrefix(target, "anon_inode:") {
		return target
	}
	if k, _, ok := strings.Cut(target, ":["); ok && !strings.HasPrefix(target, "/") {
		return k
	}
	return target
}

// kindsString is "pipe=3 socket=2 …", sorted, for the report.
func kindsString(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}
