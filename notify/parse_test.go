package notify

import (
	"bytes"
	"runtime/metrics"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	long := strings.Repeat("é", 300) // 600 bytes
	cases := []struct {
		in   string
		want Message
		ok   bool
	}{
		{"", Message{}, true},
		{"\n\n\n", Message{}, true},
		{"READY=1", Message{Ready: true}, true},
		{"READY=1\n", Message{Ready: true}, true},
		{"READY=1\nSTATUS=Processing requests\n", Message{Ready: true, Status: "Processing requests", HasStatus: true}, true},
		{"READY=0", Message{}, true},
		{"ready=1", Message{}, true},
		{" READY=1", Message{}, true},
		{"READY=1 ", Message{}, true},
		{"READY=1\r\n", Message{}, true}, // as systemd: the line is "READY=1\r"
		{"READY", Message{}, true},
		{"RELOADING=1", Message{Reloading: true}, true},
		{"STOPPING=1", Message{Stopping: true}, true},
		{"STOPPING=1\nREADY=1", Message{Stopping: true, Ready: true}, true},
		{"WATCHDOG=1", Message{Watchdog: true}, true},
		{"WATCHDOG=trigger", Message{WatchdogTrigger: true}, true},
		{"WATCHDOG=2", Message{}, true},
		{"MAINPID=1234\nREADY=1", Message{Ready: true}, true},
		{"FDSTORE=1\nBARRIER=1\nERRNO=2\nEXTEND_TIMEOUT_USEC=1000\nWATCHDOG_USEC=5", Message{}, true},
		{"=1\n=\nX", Message{}, true},
		{"STATUS=", Message{HasStatus: true}, true},
		{"STATUS=a\nSTATUS=b", Message{Status: "b", HasStatus: true}, true},
		{"STATUS=a\tb\x1bc\x7fd\u0085e", Message{Status: "a b c d e", HasStatus: true}, true},
		{"STATUS=\xff\xfeok", Message{Status: "\uFFFD\uFFFDok", HasStatus: true}, true},
		{"STATUS=" + long, Message{Status: long[:MaxStatus], HasStatus: true}, true},
		{"STATUS=x" + long, Message{Status: "x" + long[:MaxStatus-2], HasStatus: true}, true}, // cut before a split é
		{"STATUS=a=b", Message{Status: "a=b", HasStatus: true}, true},
		{"READY=1\x00", Message{}, false},
		{"STATUS=x\x00y\nREADY=1", Message{}, false},
		{"READY=1\nX=\x00", Message{}, false},
	}
	for _, c := range cases {
		got, ok := Parse([]byte(c.in))
		if ok != c.ok || got != c.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// TestMerge: an Update is the datagrams merged in arrival order.
func TestMerge(t *testing.T) {
	cases := []struct {
		in   []string
		want Update
	}{
		{[]string{"READY=1"}, Update{ReadySeen: true, Phase: Ready}},
		{[]string{"READY=1", "RELOADING=1"}, Update{ReadySeen: true, Phase: Reloading}},
		{[]string{"RELOADING=1", "READY=1"}, Update{ReadySeen: true, Phase: Ready}},
		{[]string{"READY=1", "STOPPING=1"}, Update{ReadySeen: true, Phase: Stopping}},
		{[]string{"READY=1\nSTOPPING=1"}, Update{ReadySeen: true, Phase: Stopping}},
		{[]string{"RELOADING=1\nREADY=1"}, Update{ReadySeen: true, Phase: Ready}},
		{[]string{"STOPPING=1", "RELOADING=1"}, Update{Phase: Reloading}},
		{[]string{"STATUS=a", "WATCHDOG=1", "STATUS=b"}, Update{Status: "b", StatusSet: true, Watchdog: true}},
		{[]string{"STATUS=a", "STATUS="}, Update{StatusSet: true}},
		{[]string{"WATCHDOG=trigger", "WATCHDOG=1"}, Update{Watchdog: true, WatchdogTrigger: true}},
		{[]string{"MAINPID=1"}, Update{}},
	}
	for _, c := range cases {
		var u Update
		for _, in := range c.in {
			m, _ := Parse([]byte(in))
			u.merge(m)
		}
		if u != c.want {
			t.Errorf("%q merged: %+v, want %+v", c.in, u, c.want)
		}
		if u.empty() != (c.want == Update{}) {
			t.Errorf("%q merged: empty() = %v", c.in, u.empty())
		}
	}
}

// FuzzParse: Parse never panics, allocates no more than one STATUS
// text, agrees with a plain split on what the lines say, and its Status
// is one printable line of at most MaxStatus bytes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"READY=1", "READY=1\nSTATUS=ok\n", "STATUS=\xff\x00", "WATCHDOG=trigger\nSTOPPING=1",
		"STATUS=" + strings.Repeat("\u00e9", 200), "RELOADING=1\nMAINPID=3\n\n", strings.Repeat("STATUS=x\n", 400),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		// The count is the process's, and the fuzzing engine allocates
		// too: the least of a few rounds of calls is Parse's. A Parse
		// that kept a string per STATUS line (400 in 4 KiB) would stand
		// out.
		const calls = 16
		least := ^uint64(0)
		for range 5 {
			before := allocated()
			for range calls {
				Parse(b)
			}
			least = min(least, allocated()-before)
		}
		if least > calls*MaxStatus+4<<10 {
			t.Fatalf("Parse allocated %d bytes a call for %d bytes of input", least/calls, len(b))
		}
		m, ok := Parse(b)
		if !bytes.Equal(in, b) {
			t.Fatal("Parse changed its input")
		}
		if ok == bytes.Contains(b, []byte{0}) {
			t.Fatalf("ok = %v for %q", ok, b)
		}
		if !ok {
			if m != (Message{}) {
				t.Fatalf("not ok, yet %+v", m)
			}
			return
		}
		lines := strings.Split(string(b), "\n")
		has := func(l string) bool {
			for _, x := range lines {
				if x == l {
					return true
				}
			}
			return false
		}
		want := Message{Ready: has("READY=1"), Reloading: has("RELOADING=1"), Stopping: has("STOPPING=1"),
			Watchdog: has("WATCHDOG=1"), WatchdogTrigger: has("WATCHDOG=trigger")}
		for _, l := range lines {
			if s, found := strings.CutPrefix(l, "STATUS="); found {
				want.Status, want.HasStatus = CleanStatus([]byte(s)), true
			}
		}
		if m != want {
			t.Fatalf("Parse(%q) = %+v, want %+v", b, m, want)
		}
		if len(m.Status) > MaxStatus || !utf8.ValidString(m.Status) {
			t.Fatalf("status %q: %d bytes, valid UTF-8 %v", m.Status, len(m.Status), utf8.ValidString(m.Status))
		}
		for _, r := range m.Status {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("status %q holds control character %U", m.Status, r)
			}
		}
	})
}

// allocated is the bytes allocated so far, garbage included.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
