package cgroup

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// A mountinfo from a machine with v1 controllers and the unified
// hierarchy (this one's), a Docker v1 container's bind mount, and lines
// to skip.
const hybridMountinfo = `24 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime master:1 - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
garbage
42 31 0:39 / /x rw - 
`

func TestParseMountinfo(t *testing.T) {
	long := "99 1 0:1 / /long rw - overlay overlay lowerdir=" + strings.Repeat("a", 3*maxLine) + "\n"
	tests := []struct {
		name, in string
		want     []mountEntry
	}{
		{"hybrid", hybridMountinfo, []mountEntry{
			{root: "/", point: "/sys/fs/cgroup/cpu", super: "rw,cpu"},
			{root: "/docker/abc", point: "/sys/fs/cgroup/memory", super: "rw,memory"},
			{root: "/", point: "/sys/fs/cgroup/unified", v2: true, super: "rw"},
		}},
		{"v2 host", "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
			[]mountEntry{{root: "/", point: "/sys/fs/cgroup", v2: true, super: "rw,nsdelegate,memory_recursiveprot"}}},
		{"escaped space", `29 23 0:26 /a\040b /mnt/c\040g rw - cgroup2 cgroup2 rw`,
			[]mountEntry{{root: "/a b", point: "/mnt/c g", v2: true, super: "rw"}}},
		{"a line too long is skipped, the rest read", long + "41 31 0:38 / /u rw - cgroup2 cgroup2 rw\n",
			[]mountEntry{{root: "/", point: "/u", v2: true, super: "rw"}}},
		{"no separator", "41 31 0:38 / /u rw cgroup2 cgroup2 rw\n", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		got, err := parseMountinfo(strings.NewReader(tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
	var many strings.Builder
	for range maxMounts + 1 {
		many.WriteString("1 1 0:1 / /c rw - cgroup cgroup rw,cpu\n")
	}
	if _, err := parseMountinfo(strings.NewReader(many.String())); err == nil {
		t.Errorf("%d cgroup mounts: no error", maxMounts+1)
	}
}

func TestOwnCgroups(t *testing.T) {
	tests := []struct {
		name, in, v2, memory string
	}{
		{"v2 in a namespace", "0::/\n", "/", ""},
		{"hybrid", "9:name=systemd:/\n4:memory:/process_api/ace5\n1:cpu:/\n0::/\n", "/", "/process_api/ace5"},
		{"v1 joint controllers", "3:memory,hugetlb:/docker/x\n", "", "/docker/x"},
		{"a colon in a path", "0::/tend/web:0\n", "/tend/web:0", ""},
		{"no newline at the end", "0::/a", "/a", ""},
		{"garbage", "junk\n0:\n::\n", "", ""},
		{"a name= hierarchy is not memory", "1:name=memory:/x\n", "", ""},
	}
	for _, tt := range tests {
		v2, mem, err := ownCgroups(strings.NewReader(tt.in))
		if err != nil || v2 != tt.v2 || mem != tt.memory {
			t.Errorf("%s: got %q %q %v, want %q %q", tt.name, v2, mem, err, tt.v2, tt.memory)
		}
	}
}

func TestUnder(t *testing.T) {
	tests := []struct {
		path, root, rel string
		ok              bool
	}{
		{"/", "/", "", true},
		{"/a/b", "/", "a/b", true},
		{"/docker/abc", "/docker/abc", "", true},
		{"/docker/abc/x", "/docker/abc", "x", true},
		{"/docker/abcd", "/docker/abc", "", false},
		{"/other", "/docker/abc", "", false},
		{"/../..", "/", "", false},       // outside a cgroup namespace
		{"/a", "/..", "", false},         // a mount of what the namespace cannot see
		{"/a/../../etc", "/", "", false}, // never climbs out
		{"relative", "/", "", false},
	}
	for _, tt := range tests {
		rel, ok := under(tt.path, tt.root)
		if rel != tt.rel || ok != tt.ok {
			t.Errorf("under(%q, %q) = %q, %v; want %q, %v", tt.path, tt.root, rel, ok, tt.rel, tt.ok)
		}
	}
}

func TestFlatValue(t *testing.T) {
	events := "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n"
	tests := []struct {
		data, key string
		want      uint64
		ok        bool
	}{
		{events, "oom_kill", 2, true},
		{events, "oom", 3, true},
		{events, "oom_group", 0, false},
		{"oom_kill_disable 0\nunder_oom 0\noom_kill 7", "oom_kill", 7, true},
		{"populated 1\nfrozen 0\n", "frozen", 0, true},
		{"usage_usec 123456\nuser_usec 1\n", "usage_usec", 123456, true},
		{"oom_kill x\n", "oom_kill", 0, false},
		{"", "oom_kill", 0, false},
	}
	for _, tt := range tests {
		got, ok := flatValue([]byte(tt.data), tt.key)
		if got != tt.want || ok != tt.ok {
			t.Errorf("flatValue(%q, %q) = %d, %v; want %d, %v", tt.data, tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseStat(t *testing.T) {
	// Fields 14-17: utime stime cutime cstime.
	tests := []struct {
		name, in string
		want     statEntry
		ok       bool
	}{
		{"plain", "42 (sleep) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 1 1 1", statEntry{pgrp: 42, ticks: 13}, true},
		{"a name with spaces and parentheses", "43 (a) b (c) R 1 40 40 0 -1 0 0 0 0 0 10 20 0 0 20 0 1 0", statEntry{pgrp: 40, ticks: 30}, true},
		{"negative cutime counts as 0", "44 (x) S 1 44 44 0 -1 0 0 0 0 0 1 1 -5 0", statEntry{pgrp: 44, ticks: 2}, true},
		{"short", "45 (x) S 1 45", statEntry{}, false},
		{"no parenthesis", "46 x S 1 46 46 0 -1 0 0 0 0 0 1 1 1 1", statEntry{}, false},
		{"not numbers", "47 (x) S 1 x 47 0 -1 0 0 0 0 0 1 1 1 1", statEntry{}, false},
	}
	for _, tt := range tests {
		got, ok := parseStat([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: got %+v %v, want %+v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if n, ok := parseStatm([]byte("1000 250 100 1 0 50 0\n")); n != 250 || !ok {
		t.Errorf("parseStatm = %d %v", n, ok)
	}
	if _, ok := parseStatm([]byte("1000")); ok {
		t.Error("parseStatm of one field: ok")
	}
}

func TestDirName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"web", "web"},
		{"web:0", "web:0"},
		{"memory.max", "_memory.max"}, // would meet the kernel's file
		{"cgroup.procs", "_cgroup.procs"},
		{"init.scope", "_init.scope"}, // would meet tend's own
		{"_x", "__x"},
		{"x_", "x_"},
		{"a-b", "a-b"},
	}
	for _, tt := range tests {
		if got, err := dirName(tt.in); got != tt.want || err != nil {
			t.Errorf("dirName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a\x00b"} {
		if got, err := dirName(bad); err == nil {
			t.Errorf("dirName(%q) = %q, no error", bad, got)
		}
	}
	long := strings.Repeat("a", 256)
	got, err := dirName(long)
	if err != nil || len(got) != maxNameLen || !strings.Contains(got, "~") {
		t.Errorf("dirName(256 a's) = %q (%d bytes), %v", got, len(got), err)
	}
	other, _ := dirName(strings.Repeat("a", 255) + "b")
	if other == got {
		t.Errorf("two long names share %q", got)
	}
}

func TestCPUMax(t *testing.T) {
	tests := []struct {
		cpus float64
		want string
		ok   bool
	}{
		{0, "max 100000", true},
		{0.5, "50000 100000", true},
		{2, "200000 100000", true},
		{1.333333, "133333 100000", true},
		{0.01, "1000 100000", true},
		{0.005, "", false},
		{-1, "", false},
		{1e12, "", false},
	}
	for _, tt := range tests {
		got, err := cpuMax(tt.cpus)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("cpuMax(%v) = %q, %v; want %q ok=%v", tt.cpus, got, err, tt.want, tt.ok)
		}
	}
}

func TestLimitKeys(t *testing.T) {
	if got := (Limits{}).Keys(); got != nil {
		t.Errorf("no limits: keys %q", got)
	}
	got := Limits{MemoryMax: 1, CPUs: 1, PidsMax: 1}.Keys()
	if want := []string{KeyMemoryMax, KeyCPUs, KeyPidsMax}; !slices.Equal(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add(hybridMountinfo)
	f.Add(`1 1 0:1 /a\040b /c\1 rw - cgroup2 x y`)
	f.Fuzz(func(t *testing.T, s string) {
		ms, _ := parseMountinfo(strings.NewReader(s))
		if len(ms) > maxMounts {
			t.Fatalf("%d mounts", len(ms))
		}
		for _, m := range ms {
			// Every path kept came from a line, so is no longer than one.
			if len(m.root) > maxLine || len(m.point) > maxLine {
				t.Fatalf("a path longer than a line: %d, %d", len(m.root), len(m.point))
			}
		}
	})
}

func FuzzOwnCgroups(f *testing.F) {
	f.Add("9:name=systemd:/\n4:memory:/a\n0::/b:c\n")
	f.Fuzz(func(t *testing.T, s string) {
		v2, mem, err := ownCgroups(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		if v2 != "" && !strings.Contains(s, "0::"+v2) {
			t.Fatalf("v2 path %q is not in the input", v2)
		}
		if mem != "" && !strings.Contains(s, mem) {
			t.Fatalf("memory path %q is not in the input", mem)
		}
		// Whatever the paths, a directory made from them stays under
		// the mount.
		if rel, ok := under(v2, "/"); ok && (strings.HasPrefix(rel, "/") || slices.Contains(strings.Split(rel, "/"), "..")) {
			t.Fatalf("under(%q) = %q climbs out", v2, rel)
		}
	})
}

func FuzzFlatValue(f *testing.F) {
	f.Add("oom_kill 3\n", "oom_kill")
	f.Fuzz(func(t *testing.T, data, key string) {
		n, ok := flatValue([]byte(data), key)
		if !ok && n != 0 {
			t.Fatalf("not found, yet %d", n)
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add("42 (sleep) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 1 1 1")
	f.Add("1 ()) ) S")
	f.Fuzz(func(t *testing.T, s string) {
		parseStat([]byte(s))
		parseStatm([]byte(s))
	})
}

func FuzzDirName(f *testing.F) {
	f.Add("web", "web.1")
	f.Add("_a", "a")
	f.Fuzz(func(t *testing.T, a, b string) {
		da, erra := dirName(a)
		db, errb := dirName(b)
		for _, d := range []string{da, db} {
			if d == "" {
				continue
			}
			if len(d) > maxNameLen || d == "." || d == ".." || strings.ContainsAny(d, "/\x00") || d == LeafName {
				t.Fatalf("bad directory name %q", d)
			}
		}
		if erra == nil && errb == nil && a != b && da == db && utf8.ValidString(a) && len(a) < 200 && len(b) < 200 {
			t.Fatalf("%q and %q share the directory %q", a, b, da)
		}
	})
}
