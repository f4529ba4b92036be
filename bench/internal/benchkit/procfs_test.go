package benchkit

import (
	"os"
	"testing"
)

func TestSwitches(t *testing.T) {
	a := Switches{Voluntary: 10, Nonvoluntary: 3, Threads: 2}
	b := Switches{Voluntary: 4, Nonvoluntary: 1, Threads: 5}
	if got := a.Minus(b); got != (Switches{6, 2, 2}) || got.Total() != 8 {
		t.Errorf("Minus = %+v", got)
	}
	if got := a.Plus(b); got != (Switches{14, 4, 7}) {
		t.Errorf("Plus = %+v", got)
	}
}

// TestReadSelf reads this test's own process: it is running, so every
// reading has something in it.
func TestReadSelf(t *testing.T) {
	pid := os.Getpid()
	tids, err := Tasks(pid)
	if err != nil || len(tids) == 0 {
		t.Fatalf("Tasks = %v, %v", tids, err)
	}
	if s, err := ReadSwitches(pid); err != nil || s.Threads == 0 || s.Total() == 0 {
		t.Errorf("ReadSwitches = %+v, %v", s, err)
	}
	if m, err := ReadMemory(pid); err != nil || m.VmRSS == 0 || m.Rss == 0 || m.RssAnon == 0 || m.RssFile == 0 || m.RssAnon+m.RssFile > m.VmRSS {
		t.Errorf("ReadMemory = %+v, %v", m, err)
	}
	if ns, err := ReadSchedNs(pid); err != nil || ns == 0 {
		t.Errorf("ReadSchedNs = %d, %v", ns, err)
	}
	if _, err := Niceness(); err != nil {
		t.Errorf("Niceness: %v", err)
	}
	if _, err := StatusField(pid, "NoSuchKey"); err == nil {
		t.Error("StatusField(NoSuchKey): no error")
	}
	if kB(" 1234 kB") != 1234 {
		t.Error("kB")
	}
}
