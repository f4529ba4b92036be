package main

import (
	"encoding/binary"
	"sync"
	"testing"

	"tend/bench/internal/benchkit"
)

// event builds one netlink message of the process-events connector: a
// netlink header (16 bytes), a cn_msg (20), the proc_event header (16)
// and its data.
func event(what uint32, ts uint64, data ...uint32) []byte {
	const nlmsgHdrLen, cnMsgLen = 16, 20
	b := make([]byte, nlmsgHdrLen+cnMsgLen+16+4*len(data))
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(len(b)))
	ev := b[nlmsgHdrLen+cnMsgLen:]
	le.PutUint32(ev[0:], what)
	le.PutUint64(ev[8:], ts)
	for i, d := range data {
		le.PutUint32(ev[16+4*i:], d)
	}
	return b
}

func fork(ts uint64, parent, child, childTgid uint32) []byte {
	return event(benchkit.ProcFork, ts, parent, parent, child, childTgid)
}
func execEv(ts uint64, pid uint32) []byte { return event(benchkit.ProcExec, ts, pid, pid) }
func exitEv(ts uint64, pid, tgid uint32) []byte {
	return event(benchkit.ProcExit, ts, pid, tgid, 0, 17, 1, 1)
}

func TestProcTreeFollowsDescendants(t *testing.T) {
	const self = 100
	tr := &procTree{self: self, procs: map[int]*proc{self: {Tgid: self, threads: 1}}, byTop: map[int][]*proc{}}
	tr.cond = sync.NewCond(&tr.mu)
	feed := func(msgs ...[]byte) {
		for _, m := range msgs {
			tr.parse(m)
		}
	}
	feed(
		fork(1, self, 200, 200), // the supervisor
		execEv(2, 200),
		fork(3, 100, 201, 200), // its second thread: "parent" is the group's parent
		fork(4, 200, 300, 300), // a program
		execEv(5, 300),
		fork(6, 999, 400, 400), // not ours
		execEv(7, 400),
		fork(8, 300, 301, 301), // a grandchild
	)
	if p := tr.procs[300]; p == nil || p.Top != 200 || p.Depth != 1 || len(p.ExecNs) != 1 || p.ExecNs[0] != 5 {
		t.Fatalf("program record: %+v", p)
	}
	if p := tr.procs[301]; p == nil || p.Top != 200 || p.Depth != 2 {
		t.Fatalf("grandchild record: %+v", p)
	}
	if tr.procs[400] != nil {
		t.Fatal("a stranger was recorded")
	}
	last, err := tr.spawned(200, 1, 1, 1, 0)
	if err != nil || last != 5 {
		t.Fatalf("spawned = %d, %v; want 5", last, err)
	}

	// The supervisor is gone once both its threads have exited.
	feed(exitEv(10, 201, 200))
	if tr.procs[200].ExitNs != 0 {
		t.Fatal("supervisor gone after one of two threads exited")
	}
	feed(exitEv(11, 200, 200), exitEv(12, 300, 300))
	if tr.procs[200].ExitNs != 11 || tr.procs[300].ExitNs != 12 {
		t.Fatalf("exits: %d %d, want 11 12", tr.procs[200].ExitNs, tr.procs[300].ExitNs)
	}
	// Pid 300 comes back as a stranger's process: its events change
	// nothing in the old record.
	feed(fork(20, 999, 300, 300), execEv(21, 300), exitEv(22, 300, 300))
	if p := tr.procs[300]; p.ExitNs != 12 || len(p.ExecNs) != 1 {
		t.Fatalf("a reused pid changed the record: %+v", p)
	}
	if n := len(tr.tree(200)); n != 3 {
		t.Fatalf("tree has %d processes, want 3", n)
	}
}

func TestPairs(t *testing.T) {
	rs, err := parseRecords("start 10 1\nexit 20 1\nstart 25 2\nexit 40 2\nstart 41 3\nexit 50 3\n")
	if err != nil {
		t.Fatal(err)
	}
	ps := pairs(rs)
	if len(ps) != 2 || ps[0].next.ns-ps[0].exit.ns != 5 || ps[1].next.ns-ps[1].exit.ns != 1 {
		t.Fatalf("pairs = %+v", ps)
	}
}
