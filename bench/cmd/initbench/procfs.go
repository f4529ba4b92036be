package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"tend/bench/internal/benchkit"
)

// This file reads what only initbench needs of /proc (bench/internal/benchkit
// has the rest). Everything is read from the outside: looking at an
// init's /proc files does not wake it.

// children lists the children of pid, over all its threads: a child
// belongs to the thread that forked it. The kernel lists them in O(n²),
// so this is for a handful of children, not for ten thousand.
func children(pid int) ([]int, error) {
	tids, err := benchkit.Tasks(pid)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, tid := range tids {
		b, err := os.ReadFile(benchkit.ProcPath(pid, "task/"+strconv.Itoa(tid)+"/children"))
		if err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// nsPids is the NSpid line of /proc/PID/status: pid's number in each PID
// namespace it is in, outermost first.
func nsPids(pid int) ([]int, error) {
	v, err := benchkit.StatusField(pid, "NSpid")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(v) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("NSpid %q: %w", v, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// cpu is the CPU time an init has used so far.
type cpu struct {
	// StatTicks is utime+stime from /proc/PID/stat: the whole thread
	// group, in clock ticks (USER_HZ, 100 per second on Linux).
	StatTicks int64
	// SchedNs is the sum over its threads of /proc/PID/task/*/schedstat's
	// time on CPU: the same time, to the nanosecond.
	SchedNs int64
}

const userHZ = 100

func readCPU(pid int) (cpu, error) {
	var c cpu
	b, err := os.ReadFile(benchkit.ProcPath(pid, "stat"))
	if err != nil {
		return c, err
	}
	// The command name may hold spaces and parentheses: count from the
	// last ')'. After it: state (field 3), ..., utime (14), stime (15).
	i := bytes.LastIndexByte(b, ')')
	f := bytes.Fields(b[i+1:])
	if i < 0 || len(f) < 13 {
		return c, fmt.Errorf("pid %d: malformed stat", pid)
	}
	ut, _ := strconv.ParseInt(string(f[11]), 10, 64)
	st, _ := strconv.ParseInt(string(f[12]), 10, 64)
	c.StatTicks = ut + st
	c.SchedNs, err = benchkit.ReadSchedNs(pid)
	return c, err
}

// nsProc reads the /proc of an init's PID namespace (the one unshare
// --mount-proc mounted) through /proc/PID/root, without allocating per
// process: the reaping benchmark lists ten thousand processes in a loop.
type nsProc struct {
	dir  int // fd of /proc/INIT/root/proc
	dbuf []byte
	sbuf []byte
	path []byte
}

func openNSProc(initPid int) (*nsProc, error) {
	fd, err := unix.Open(benchkit.ProcPath(initPid, "root/proc"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &nsProc{dir: fd, dbuf: make([]byte, 1<<16), sbuf: make([]byte, 256), path: make([]byte, 0, 32)}, nil
}

func (p *nsProc) close() { unix.Close(p.dir) }

// walk calls fn with every pid in the namespace, in pid order.
func (p *nsProc) walk(fn func(pid int)) error {
	if _, err := unix.Seek(p.dir, 0, 0); err != nil {
		return err
	}
	for {
		n, err := unix.Getdents(p.dir, p.dbuf)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		for off := 0; off < n; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			reclen := int(*(*uint16)(unsafe.Pointer(&p.dbuf[off+16])))
			name := p.dbuf[off+19 : off+reclen]
			if name[0] >= '1' && name[0] <= '9' {
				pid := 0
				for _, c := range name {
					if c == 0 {
						break
					}
					pid = pid*10 + int(c-'0')
				}
				fn(pid)
			}
			off += reclen
		}
	}
}

// count is the number of processes in the namespace, zombies included
// (a pid is freed when its zombie is reaped).
func (p *nsProc) count() (int, error) {
	n := 0
	err := p.walk(func(int) { n++ })
	return n, err
}

// state is the state letter of a process in the namespace ('Z' for a
// zombie), or 0 if it is gone.
func (p *nsProc) state(pid int) byte {
	p.path = strconv.AppendInt(p.path[:0], int64(pid), 10)
	p.path = append(p.path, "/stat\x00"...)
	fd, err := openat(p.dir, p.path)
	if err != nil {
		return 0
	}
	n, _ := unix.Read(fd, p.sbuf)
	unix.Close(fd)
	b := p.sbuf[:max(n, 0)]
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// exists reports whether pid is in the namespace, zombie or not.
func (p *nsProc) exists(pid int) bool {
	var st unix.Stat_t
	return unix.Fstatat(p.dir, strconv.Itoa(pid), &st, unix.AT_SYMLINK_NOFOLLOW) == nil
}

// openat opens a NUL-terminated path relative to dir without converting
// it to a string.
func openat(dir int, path []byte) (int, error) {
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dir), uintptr(unsafe.Pointer(&path[0])),
		unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}
