package benchkit

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// This file reads the kernel's process-events connector
// (CONFIG_PROC_EVENTS, a netlink socket; root only): every fork, exec
// and exit on the machine, each with the CLOCK_MONOTONIC time of the
// event itself. svbench follows its supervisors' processes through it
// for timing, the soak the processes tend leaves when it exits.

// Connector constants from <linux/connector.h> and <linux/cn_proc.h>.
const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1
	nlmsgHdrLen       = 16
	cnMsgLen          = 20
)

// Kinds of process event (what in <linux/cn_proc.h>).
const (
	ProcFork uint32 = 0x00000001
	ProcExec uint32 = 0x00000002
	ProcExit uint32 = 0x80000000
)

// OpenProcEvents returns a netlink socket subscribed to the process
// events, with a receive buffer of rcvbuf bytes (forced past the
// system's limit, as root may): every process event on the machine
// comes through it. The caller reads it with unix.Recvfrom, hands each
// datagram to ParseProcEvents, and closes it.
func OpenProcEvents(rcvbuf int) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return -1, fmt.Errorf("netlink connector socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind netlink connector: %w", err)
	}
	// The subscription: a netlink header, a cn_msg for the proc
	// connector, and PROC_CN_MCAST_LISTEN.
	msg := make([]byte, nlmsgHdrLen+cnMsgLen+4)
	le := binary.LittleEndian
	le.PutUint32(msg[0:], uint32(len(msg)))
	le.PutUint16(msg[4:], unix.NLMSG_DONE)
	le.PutUint32(msg[12:], uint32(os.Getpid()))
	le.PutUint32(msg[16:], cnIdxProc)
	le.PutUint32(msg[20:], cnValProc)
	le.PutUint16(msg[32:], 4)
	le.PutUint32(msg[36:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("subscribe to process events (needs root and CONFIG_PROC_EVENTS): %w", err)
	}
	return fd, nil
}

// ProcEvent is one process event.
type ProcEvent struct {
	// Kind is ProcFork, ProcExec or ProcExit; 0 for another kind, or one
	// too short to read (its Ns is still right).
	Kind uint32
	Ns   int64 // CLOCK_MONOTONIC
	// Tgid is the process: the one forked, the one that exec'd, the one
	// a thread of which exited. Pid is the thread: for a fork, Pid ==
	// Tgid makes a process, else a thread of Tgid.
	Pid, Tgid int
	// Parent is the forking process's tgid (fork; for a new thread, the
	// parent of the whole thread group).
	Parent int
	Code   uint32 // exit: the wait status
}

// ParseProcEvents calls f with each event of b, one datagram read from
// a socket of OpenProcEvents, in order.
func ParseProcEvents(b []byte, f func(ProcEvent)) {
	le := binary.LittleEndian
	for len(b) >= nlmsgHdrLen {
		l := int(le.Uint32(b[0:]))
		if l < nlmsgHdrLen || l > len(b) {
			return
		}
		m := b[nlmsgHdrLen:l]
		b = b[min((l+3)&^3, len(b)):]
		if len(m) < cnMsgLen+16 {
			continue
		}
		ev := m[cnMsgLen:]
		e := ProcEvent{Kind: le.Uint32(ev[0:]), Ns: int64(le.Uint64(ev[8:]))}
		d := ev[16:]
		switch {
		case e.Kind == ProcFork && len(d) >= 16:
			e.Parent, e.Pid, e.Tgid = int(le.Uint32(d[4:])), int(le.Uint32(d[8:])), int(le.Uint32(d[12:]))
		case e.Kind == ProcExec && len(d) >= 8:
			e.Pid, e.Tgid = int(le.Uint32(d[0:])), int(le.Uint32(d[4:]))
		case e.Kind == ProcExit && len(d) >= 12:
			e.Pid, e.Tgid, e.Code = int(le.Uint32(d[0:])), int(le.Uint32(d[4:])), le.Uint32(d[8:])
		default:
			e.Kind = 0
		}
		f(e)
	}
}
