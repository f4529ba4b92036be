package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Tests against a directory laid out like a cgroupfs: what the kernel
// would decide (which writes it takes) is not tested here, only what
// tend reads and writes. The real_*_test.go files test the kernel's
// side where this machine has it.

// fakeTree writes files (path → content) under a temporary root.
func fakeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// cgroupFiles are the files of a non-root v2 cgroup at dir.
func cgroupFiles(dir, controllers string) map[string]string {
	return map[string]string{
		dir + "/cgroup.controllers":     controllers,
		dir + "/cgroup.type":            "domain\n",
		dir + "/cgroup.procs":           "",
		dir + "/cgroup.subtree_control": "",
		dir + "/cgroup.events":          "populated 0\nfrozen 0\n",
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

const v2Mountinfo = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"

func TestDetectFakeTree(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		mountinfo string
		self      string
		dir       string // under the root
		ctrls     []string
		err       string // in System.Err, "" for none
		v1memory  string // under the root
	}{
		{
			name:      "a container with a cgroup namespace on a v2 host",
			files:     cgroupFiles("sys/fs/cgroup", "cpuset cpu io memory pids\n"),
			mountinfo: v2Mountinfo, self: "0::/\n",
			dir: "sys/fs/cgroup", ctrls: []string{"cpuset", "cpu", "io", "memory", "pids"},
		},
		{
			name:      "a systemd unit: the host's whole tree, tend's cgroup down in it",
			files:     cgroupFiles("sys/fs/cgroup/system.slice/app.service", "memory pids\n"),
			mountinfo: v2Mountinfo, self: "0::/system.slice/app.service\n",
			dir: "sys/fs/cgroup/system.slice/app.service", ctrls: []string{"memory", "pids"},
		},
		{
			name: "hybrid: the unified tree beside v1 controllers, v1 memory bind-mounted at the container's cgroup",
			files: merge(cgroupFiles("sys/fs/cgroup/unified/ct", ""),
				map[string]string{"sys/fs/cgroup/memory/memory.oom_control": "oom_kill 0\n"}),
			mountinfo: hybridMountinfo, self: "4:memory:/docker/abc\n0::/ct\n",
			dir: "sys/fs/cgroup/unified/ct", ctrls: []string{}, v1memory: "sys/fs/cgroup/memory",
		},
		{
			name:      "the machine's root cgroup: no cgroup.type",
			files:     map[string]string{"sys/fs/cgroup/cgroup.controllers": "memory\n"},
			mountinfo: v2Mountinfo, self: "0::/\n",
			dir: "sys/fs/cgroup", ctrls: []string{"memory"}, err: "root cgroup",
		},
		{
			name: "a threaded cgroup",
			files: merge(cgroupFiles("sys/fs/cgroup", "cpu\n"),
				map[string]string{"sys/fs/cgroup/cgroup.type": "threaded\n"}),
			mountinfo: v2Mountinfo, self: "0::/\n",
			dir: "sys/fs/cgroup", ctrls: []string{"cpu"}, err: `type "threaded"`,
		},
		{
			name:      "v1 only",
			files:     map[string]string{"sys/fs/cgroup/memory/memory.oom_control": "oom_kill 0\n"},
			mountinfo: "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
			self:      "4:memory:/\n",
			err:       "no cgroup v2", v1memory: "sys/fs/cgroup/memory",
		},
		{
			name:      "tend outside what the namespace shows",
			files:     cgroupFiles("sys/fs/cgroup", ""),
			mountinfo: v2Mountinfo, self: "0::/../../other\n",
			err: "outside",
		},
		{
			name:      "a bind mount of another cgroup",
			files:     cgroupFiles("sys/fs/cgroup", ""),
			mountinfo: "29 23 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", self: "0::/docker/xyz\n",
			err: "outside",
		},
		{
			name:      "the cgroup is not there",
			files:     cgroupFiles("sys/fs/cgroup", ""),
			mountinfo: v2Mountinfo, self: "0::/gone\n",
			dir: "sys/fs/cgroup/gone", err: "no such file",
		},
		{
			name:      "no 0:: line",
			files:     cgroupFiles("sys/fs/cgroup", ""),
			mountinfo: v2Mountinfo, self: "1:cpu:/\n",
			err: "no 0:: line",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeTree(t, tt.files)
			s := DetectIn(root, strings.NewReader(tt.mountinfo), strings.NewReader(tt.self))
			if want := join(root, tt.dir); s.Dir != want {
				t.Errorf("Dir = %q, want %q", s.Dir, want)
			}
			if tt.ctrls != nil && !slices.Equal(s.Controllers, tt.ctrls) && !(len(s.Controllers) == 0 && len(tt.ctrls) == 0) {
				t.Errorf("Controllers = %q, want %q", s.Controllers, tt.ctrls)
			}
			switch {
			case tt.err == "" && s.Err != nil:
				t.Errorf("Err = %v", s.Err)
			case tt.err != "" && (s.Err == nil || !strings.Contains(s.Err.Error(), tt.err)):
				t.Errorf("Err = %v, want one saying %q", s.Err, tt.err)
			}
			if want := join(root, tt.v1memory); s.V1Memory != want {
				t.Errorf("V1Memory = %q, want %q", s.V1Memory, want)
			}
			if _, err := s.Setup(); (err == nil) != (tt.err == "") {
				t.Errorf("Setup: %v, with Err %v", err, s.Err)
			}
		})
	}
}

func join(root, p string) string {
	if p == "" {
		return ""
	}
	return filepath.Join(root, p)
}

// fakeSetup lays out tend's cgroup, with init.scope as the kernel would
// make it (the fake mkdir makes an empty directory), and sets it up.
func fakeSetup(t *testing.T, controllers string, programs ...string) (string, *Tree) {
	t.Helper()
	files := merge(cgroupFiles("cg", controllers), map[string]string{
		"cg/init.scope/cgroup.procs":  "",
		"cg/init.scope/cgroup.kill":   "",
		"cg/init.scope/cgroup.freeze": "0\n",
	})
	for _, p := range programs {
		d, _ := dirName(p)
		files = merge(files, cgroupFiles("cg/"+d, ""), map[string]string{
			"cg/" + d + "/memory.max": "max\n",
			"cg/" + d + "/cpu.max":    "max 100000\n",
			"cg/" + d + "/pids.max":   "max\n",
		})
	}
	root := fakeTree(t, files)
	s := DetectIn(root, strings.NewReader(strings.ReplaceAll(v2Mountinfo, "/sys/fs/cgroup", "/cg")), strings.NewReader("0::/\n"))
	tree, err := s.Setup()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "cg"), tree
}

func TestSetupFake(t *testing.T) {
	dir, tree := fakeSetup(t, "cpuset cpu io memory pids hugetlb\n")
	if got := read(t, filepath.Join(dir, "cgroup.subtree_control")); got != "+cpu +memory +pids" {
		t.Errorf("subtree_control: %q", got)
	}
	if got := tree.Controllers(); !slices.Equal(got, []string{"cpu", "memory", "pids"}) {
		t.Errorf("controllers %q", got)
	}
	if !tree.CanKill() || !tree.CanFreeze() {
		t.Errorf("CanKill %v, CanFreeze %v", tree.CanKill(), tree.CanFreeze())
	}
}

func TestLimitsFake(t *testing.T) {
	dir, tree := fakeSetup(t, "cpu memory pids\n", "web:0", "app.v2")
	g, err := tree.Group("web:0")
	if err != nil {
		t.Fatal(err)
	}
	miss, err := g.SetLimits(Limits{MemoryMax: 512 << 20, CPUs: 0.5, PidsMax: 256})
	if err != nil || miss != nil {
		t.Fatalf("SetLimits: %q, %v", miss, err)
	}
	for file, want := range map[string]string{"memory.max": "536870912", "cpu.max": "50000 100000", "pids.max": "256"} {
		if got := read(t, filepath.Join(dir, "web:0", file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	// A reload that drops the limits writes "max".
	if _, err := g.SetLimits(Limits{}); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"memory.max": "max", "cpu.max": "max 100000", "pids.max": "max"} {
		if got := read(t, filepath.Join(dir, "web:0", file)); got != want {
			t.Errorf("after no limits: %s = %q, want %q", file, got, want)
		}
	}
	// A name with a dot has its own directory, apart from the kernel's.
	g2, err := tree.Group("app.v2")
	if err != nil || g2.Dir() != filepath.Join(dir, "_app.v2") {
		t.Fatalf("Group(app.v2) = %v, %v", g2, err)
	}
	if _, err := g2.SetLimits(Limits{PidsMax: 10}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(dir, "_app.v2", "pids.max")); got != "10" {
		t.Errorf("pids.max = %q", got)
	}
	// What the kernel refuses fails with the key named.
	os.Remove(filepath.Join(dir, "web:0", "pids.max"))
	os.Mkdir(filepath.Join(dir, "web:0", "pids.max"), 0o755)
	if _, err := g.SetLimits(Limits{PidsMax: 5}); err == nil || !strings.HasPrefix(err.Error(), "pids_max = 5: ") {
		t.Errorf("a refused write: %v", err)
	}
	if _, err := g.SetLimits(Limits{CPUs: 0.001}); err == nil || !strings.HasPrefix(err.Error(), "cpus: ") {
		t.Errorf("cpus 0.001: %v", err)
	}
}

func TestMissingFake(t *testing.T) {
	all := Limits{MemoryMax: 1 << 30, CPUs: 1, PidsMax: 100}
	var none *Tree
	if got := none.Missing(all); !slices.Equal(got, []string{KeyMemoryMax, KeyCPUs, KeyPidsMax}) {
		t.Errorf("no tree: missing %q", got)
	}
	if got := none.Missing(Limits{PidsMax: 1}); !slices.Equal(got, []string{KeyPidsMax}) {
		t.Errorf("no tree, pids only: missing %q", got)
	}
	_, tree := fakeSetup(t, "pids io\n", "web")
	if got := tree.Missing(all); !slices.Equal(got, []string{KeyMemoryMax, KeyCPUs}) {
		t.Errorf("pids only: missing %q", got)
	}
	g, _ := tree.Group("web")
	miss, err := g.SetLimits(all)
	if err != nil || !slices.Equal(miss, []string{KeyMemoryMax, KeyCPUs}) {
		t.Errorf("SetLimits: missing %q, %v", miss, err)
	}
	if got := read(t, filepath.Join(g.Dir(), "memory.max")); got != "max\n" {
		t.Errorf("memory.max written without the controller: %q", got)
	}
}

// TestWaitFrozenWakesOnChange changes a group's cgroup.events once
// the wait has had its first look (waitLooked): only the inotify
// wake-up can end the wait before its minute is up, and a wait that
// spun instead of sleeping would look more than once.
func TestWaitFrozenWakesOnChange(t *testing.T) {
	_, tree := fakeSetup(t, "", "a", "b")
	a, _ := tree.Group("a")
	b, _ := tree.Group("b")
	writeEvents(t, b, "populated 1\nfrozen 1\n")
	var looks atomic.Int32
	looked := make(chan struct{}, 1)
	waitLooked = func() {
		looks.Add(1)
		select {
		case looked <- struct{}{}:
		default:
		}
	}
	defer func() { waitLooked = nil }()
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- WaitFrozen(start.Add(time.Minute), a, b) }()
	<-looked
	// In place, no truncation: the kernel's file changes in one write
	// too.
	f, err := os.OpenFile(filepath.Join(a.Dir(), "cgroup.events"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("populated 1\nfrozen 1\n")
	f.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if n := looks.Load(); n != 1 {
		t.Errorf("%d looks before the change, want 1", n)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the wait took %v: woken by the deadline, not the change", d)
	}
}

func TestWaitFrozenDeadline(t *testing.T) {
	_, tree := fakeSetup(t, "", "a")
	a, _ := tree.Group("a")
	err := WaitFrozen(time.Now().Add(50*time.Millisecond), a)
	if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "not yet in a") {
		t.Errorf("err = %v", err)
	}
}

func writeEvents(t *testing.T, g *Group, s string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(g.Dir(), "cgroup.events"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestUsageAndCountersFake(t *testing.T) {
	_, tree := fakeSetup(t, "memory\n", "web")
	g, _ := tree.Group("web")
	os.WriteFile(filepath.Join(g.Dir(), "cpu.stat"), []byte("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n"), 0o644)
	os.WriteFile(filepath.Join(g.Dir(), "memory.current"), []byte("1048576\n"), 0o644)
	u, err := g.Usage()
	if err != nil || u.CPU != 2500*time.Millisecond || u.Memory != 1<<20 {
		t.Errorf("Usage = %+v, %v", u, err)
	}
	if c := g.OOMKills(); c.Valid() {
		t.Errorf("a counter without memory.events: %q", c.File())
	}
	os.WriteFile(filepath.Join(g.Dir(), "memory.events"), []byte("low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n"), 0o644)
	if n, err := g.OOMKills().Count(); n != 2 || err != nil {
		t.Errorf("Count = %d, %v", n, err)
	}
	if _, err := (Counter{}).Count(); !errors.Is(err, ErrNoCounter) {
		t.Errorf("Count of no counter: %v", err)
	}
}

func TestContainerOOMFake(t *testing.T) {
	root := fakeTree(t, merge(cgroupFiles("sys/fs/cgroup/unified/ct", ""), map[string]string{
		"sys/fs/cgroup/memory/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n",
	}))
	s := DetectIn(root, strings.NewReader(hybridMountinfo), strings.NewReader("4:memory:/docker/abc\n0::/ct\n"))
	// No v2 memory controller: the v1 count.
	if n, err := s.ContainerOOM().Count(); n != 5 || err != nil {
		t.Errorf("v1: %d, %v (%s)", n, err, s.ContainerOOM().File())
	}
	// With one, v2's, which counts the programs' cgroups too.
	os.WriteFile(filepath.Join(s.Dir, "memory.events"), []byte("oom_kill 1\n"), 0o644)
	if n, err := s.ContainerOOM().Count(); n != 1 || err != nil {
		t.Errorf("v2: %d, %v", n, err)
	}
}

func TestProcessGroupUsageFake(t *testing.T) {
	proc := fakeTree(t, map[string]string{
		"10/stat":  "10 (a) S 1 10 10 0 -1 0 0 0 0 0 100 50 0 0 20 0",
		"10/statm": "1000 10 0 0 0 0 0",
		"11/stat":  "11 (b c) S 10 10 10 0 -1 0 0 0 0 0 20 10 5 5 20 0",
		"11/statm": "1000 20 0 0 0 0 0",
		"12/stat":  "12 (other) S 1 12 12 0 -1 0 0 0 0 0 999 999 0 0 20 0",
		"12/statm": "1000 999 0 0 0 0 0",
		"13/stat":  "garbage",
		"self/":    "",
		"cpuinfo":  "",
	})
	got, err := processGroupUsage(proc, []int{10, 77})
	if err != nil {
		t.Fatal(err)
	}
	tick := time.Second / time.Duration(clockTicks())
	page := uint64(os.Getpagesize())
	if want := (Usage{CPU: 190 * tick, Memory: 30 * page}); got[10] != want {
		t.Errorf("group 10: %+v, want %+v", got[10], want)
	}
	if got[77] != (Usage{}) || len(got) != 2 {
		t.Errorf("got %+v", got)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestReleaseAtLeast(t *testing.T) {
	tests := []struct {
		release string
		want    bool
	}{
		{"5.7.0", true},
		{"5.6.19-arch1", false},
		{"6.1.0-13-amd64", true},
		{"4.19.0", false},
		{"5.10", true},
		{"junk", false},
	}
	for _, tt := range tests {
		if got := releaseAtLeast(tt.release, 5, 7); got != tt.want {
			t.Errorf("releaseAtLeast(%q, 5, 7) = %v", tt.release, got)
		}
	}
}
