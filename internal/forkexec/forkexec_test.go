package forkexec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The tests start real processes, most of them /bin/cat reading its own
// /proc/self files: what the program is as it starts, before it could
// change any of it. They need root, as tend in a container has it.

func TestMain(m *testing.M) {
	// fds the test was started with, without close-on-exec (a CI shell
	// leaves some), would reach every program and blur TestFiles.
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
	os.Exit(m.Run())
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test sets users and capabilities: it needs root")
	}
}

// run starts argv with a, its stdout and stderr a pipe, and returns what
// it wrote once it has exited (reaped here), or Start's error.
func run(t *testing.T, a *Attr, argv ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a.Files = [3]uintptr{devNull(t), w.Fd(), w.Fd()}
	pid, err := Start(argv[0], argv, os.Environ(), a)
	w.Close()
	if err != nil {
		return "", err
	}
	out, _ := io.ReadAll(r)
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
		t.Fatalf("%q: %v, exit status %d; output:\n%s", argv, err, ws.ExitStatus(), out)
	}
	return string(out), nil
}

func devNull(t *testing.T) uintptr {
	t.Helper()
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f.Fd()
}

// self is what /bin/cat prints of the process it is.
type self struct {
	status map[string]string // /proc/self/status, by field
	limits map[string]string // /proc/self/limits, "Max open files" -> "100 200"
	oom    string
	nice   string // field 19 of /proc/self/stat
	extra  string // the rest: the files after these
}

// selfArgv reads the process's own state; more are further files to
// print (relative ones from its working directory).
func selfArgv(more ...string) []string {
	return append([]string{"/bin/cat", "/proc/self/status", "/proc/self/limits", "/proc/self/oom_score_adj", "/proc/self/stat"}, more...)
}

func parseSelf(t *testing.T, out string) self {
	t.Helper()
	s := self{status: map[string]string{}, limits: map[string]string{}}
	lines := strings.Split(out, "\n")
	i := 0
	for ; i < len(lines) && !strings.HasPrefix(lines[i], "Limit "); i++ {
		k, v, _ := strings.Cut(lines[i], ":")
		s.status[k] = strings.TrimSpace(v)
	}
	for i++; i < len(lines) && strings.HasPrefix(lines[i], "Max "); i++ {
		// Fixed columns: "Max open files            100                  200                  files     "
		l := lines[i] + strings.Repeat(" ", 68)
		s.limits[strings.TrimSpace(l[:26])] = strings.TrimSpace(l[26:47]) + " " + strings.TrimSpace(l[47:68])
	}
	if i+1 >= len(lines) {
		t.Fatalf("short output:\n%s", out)
	}
	s.oom = lines[i]
	stat := lines[i+1]
	fields := strings.Fields(stat[strings.LastIndexByte(stat, ')')+2:]) // from field 3, state
	s.nice = fields[19-3]
	s.extra = strings.Join(lines[i+2:], "\n")
	return s
}

// limitString is n as /proc/PID/limits writes it.
func limitString(n uint64) string {
	if n == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(n, 10)
}

func capHex(caps ...int) string {
	var m uint64
	for _, c := range caps {
		m |= 1 << c
	}
	return fmt.Sprintf("%016x", m)
}

func currentNice(t *testing.T) int {
	t.Helper()
	// getpriority(2) as a system call returns 20 - nice.
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	return 20 - prio
}

// TestAttributes: every attribute, as the program finds it at its start.
func TestAttributes(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "marker"), []byte("in the directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var nofile, memlock unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile)
	unix.Getrlimit(unix.RLIMIT_MEMLOCK, &memlock) // raising it may take CAP_SYS_RESOURCE, which Docker does not give
	nice := min(currentNice(t)+5, 19)
	oom, umask := 500, 0o027
	out, err := run(t, &Attr{
		Dir:    dir,
		Setsid: true,
		Umask:  &umask,
		Rlimits: []Rlimit{
			{Resource: unix.RLIMIT_NOFILE, Cur: 100, Max: 200},
			{Resource: unix.RLIMIT_CORE, Cur: 0, Max: 0},
			{Resource: unix.RLIMIT_NPROC, Cur: 512, Max: 1024},
			{Resource: unix.RLIMIT_MEMLOCK, Cur: 1 << 20, Max: memlock.Max},
		},
		Nice:        &nice,
		OOMScoreAdj: &oom,
		NoNewPrivs:  true,
		Bounding:    []int{unix.CAP_NET_BIND_SERVICE, unix.CAP_CHOWN},
	}, selfArgv("marker")...)
	if err != nil {
		t.Fatal(err)
	}
	s := parseSelf(t, out)
	want := map[string]string{
		"NoNewPrivs": "1",
		"Umask":      "0027",
		// Root: the bounding set is what exec grants.
		"CapBnd": capHex(unix.CAP_NET_BIND_SERVICE, unix.CAP_CHOWN),
		"CapPrm": capHex(unix.CAP_NET_BIND_SERVICE, unix.CAP_CHOWN),
		"CapEff": capHex(unix.CAP_NET_BIND_SERVICE, unix.CAP_CHOWN),
		"CapInh": capHex(),
		"CapAmb": capHex(),
	}
	for k, v := range want {
		if s.status[k] != v {
			t.Errorf("%s: %q, want %q", k, s.status[k], v)
		}
	}
	for k, v := range map[string]string{
		"Max open files":     "100 200",
		"Max core file size": "0 0",
		"Max processes":      "512 1024",
		"Max locked memory":  "1048576 " + limitString(memlock.Max),
	} {
		if s.limits[k] != v {
			t.Errorf("limit %q: %q, want %q", k, s.limits[k], v)
		}
	}
	if s.oom != "500" {
		t.Errorf("oom_score_adj %q, want 500", s.oom)
	}
	if s.nice != strconv.Itoa(nice) {
		t.Errorf("nice %s, want %d", s.nice, nice)
	}
	if s.extra != "in the directory\n" {
		t.Errorf("after its /proc files it printed %q, want the marker file of its directory", s.extra)
	}
	// And none of it leaked into tend.
	var now unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &now)
	if now != nofile {
		t.Errorf("tend's nofile is %v, was %v", now, nofile)
	}
	if got, _ := os.ReadFile("/proc/self/oom_score_adj"); string(got) == "500\n" {
		t.Errorf("tend's oom_score_adj is the program's")
	}
}

// TestAmbient: a program that is not root gets its capabilities as
// ambient ones, and so in its effective set at exec; its bounding set is
// cut to them too.
func TestAmbient(t *testing.T) {
	needRoot(t)
	out, err := run(t, &Attr{
		Cred:     &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}},
		Bounding: []int{unix.CAP_NET_BIND_SERVICE},
		Ambient:  []int{unix.CAP_NET_BIND_SERVICE},
	}, selfArgv()...)
	if err != nil {
		t.Fatal(err)
	}
	s := parseSelf(t, out)
	nbs := capHex(unix.CAP_NET_BIND_SERVICE)
	for k, v := range map[string]string{
		"Uid": "65534\t65534\t65534\t65534", "Gid": "65534\t65534\t65534\t65534", "Groups": "",
		"CapAmb": nbs, "CapEff": nbs, "CapPrm": nbs, "CapInh": nbs, "CapBnd": nbs, "NoNewPrivs": "0",
	} {
		if s.status[k] != v {
			t.Errorf("%s: %q, want %q", k, s.status[k], v)
		}
	}
}

// TestNoCapabilities: an empty bounding set leaves root with nothing.
func TestNoCapabilities(t *testing.T) {
	needRoot(t)
	out, err := run(t, &Attr{Bounding: []int{}}, selfArgv()...)
	if err != nil {
		t.Fatal(err)
	}
	s := parseSelf(t, out)
	for _, k := range []string{"CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"} {
		if s.status[k] != capHex() {
			t.Errorf("%s: %q, want none", k, s.status[k])
		}
	}
}

// TestBoundingCutsInheritable: a root program's permitted set at exec is
// its bounding set plus its inheritable set, so cutting the bounding set
// cuts an inheritable set tend was started with too (runtimes have
// handed out inheritable capabilities: CVE-2022-24769).
func TestBoundingCutsInheritable(t *testing.T) {
	needRoot(t)
	var out string
	var err error
	onThreadInheriting(t, nil, nil, []int{unix.CAP_NET_RAW, unix.CAP_CHOWN}, func() {
		out, err = run(t, &Attr{Bounding: []int{unix.CAP_CHOWN}}, selfArgv()...)
	})
	if err != nil {
		t.Fatal(err)
	}
	s := parseSelf(t, out)
	for _, k := range []string{"CapBnd", "CapPrm", "CapEff", "CapInh"} {
		if s.status[k] != capHex(unix.CAP_CHOWN) {
			t.Errorf("%s: %q, want CAP_CHOWN alone", k, s.status[k])
		}
	}
}

// onThread runs f on a thread of its own whose effective and permitted
// sets lack drop and whose bounding set lacks unbound: a process forked
// there is like one tend starts without those capabilities. The thread
// ends with f (locked, never unlocked), taking its credentials with it.
func onThread(t *testing.T, drop, unbound []int, f func()) {
	t.Helper()
	onThreadInheriting(t, drop, unbound, nil, f)
}

// onThreadInheriting is onThread with inherit added to the thread's
// inheritable set.
func onThreadInheriting(t *testing.T, drop, unbound, inherit []int, f func()) {
	t.Helper()
	failed := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			failed <- err
			return
		}
		for _, c := range unbound {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
				failed <- err
				return
			}
		}
		for _, c := range drop {
			data[c/32].Effective &^= 1 << (c % 32)
			data[c/32].Permitted &^= 1 << (c % 32)
		}
		for _, c := range inherit {
			data[c/32].Inheritable |= 1 << (c % 32)
		}
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			failed <- err
			return
		}
		f()
		failed <- nil
	}()
	if err := <-failed; err != nil {
		t.Fatal(err)
	}
}

// TestRefused: what the kernel refuses fails the start, before the
// program runs a single instruction, with the step that failed, and
// leaves no zombie behind.
func TestRefused(t *testing.T) {
	needRoot(t)
	var nofile unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile)
	lower := currentNice(t) - 1
	if lower < -20 {
		t.Fatalf("the test runs at nice %d: no lower value to be refused", currentNice(t))
	}
	oom := -1000
	tests := []struct {
		name          string
		drop, unbound []int
		a             Attr
		argv          []string
		want          Error
	}{
		{"nice below tend's without CAP_SYS_NICE", []int{unix.CAP_SYS_NICE}, nil,
			Attr{Nice: &lower}, nil, Error{Step: StepNice, Err: unix.EACCES}},
		{"hard limit above tend's without CAP_SYS_RESOURCE", []int{unix.CAP_SYS_RESOURCE}, nil,
			Attr{Rlimits: []Rlimit{{unix.RLIMIT_CORE, 0, 0}, {unix.RLIMIT_NOFILE, nofile.Cur, nofile.Max + 1}}}, nil,
			Error{Step: StepRlimit, Index: 1, Err: unix.EPERM}},
		{"soft above hard", nil, nil,
			Attr{Rlimits: []Rlimit{{unix.RLIMIT_NOFILE, 20, 10}}}, nil, Error{Step: StepRlimit, Err: unix.EINVAL}},
		{"oom_score_adj -1000 without CAP_SYS_RESOURCE", []int{unix.CAP_SYS_RESOURCE}, nil,
			Attr{OOMScoreAdj: &oom}, nil, Error{Step: StepOOMScoreAdj, Err: unix.EACCES}},
		{"a capability tend's bounding set lacks", nil, []int{unix.CAP_NET_RAW},
			Attr{Bounding: []int{unix.CAP_CHOWN, unix.CAP_NET_RAW}}, nil,
			Error{Step: StepNotBounding, Index: unix.CAP_NET_RAW, Err: unix.EPERM}},
		{"a capability the kernel does not know", nil, nil,
			Attr{Bounding: []int{63}}, nil, Error{Step: StepNotBounding, Index: 63, Err: unix.EINVAL}},
		{"bounding set without CAP_SETPCAP", []int{unix.CAP_SETPCAP}, nil,
			Attr{Bounding: []int{unix.CAP_NET_BIND_SERVICE}}, nil, Error{Step: StepBounding, Index: 0, Err: unix.EPERM}},
		{"ambient tend does not hold", []int{unix.CAP_NET_BIND_SERVICE}, nil,
			Attr{Cred: &syscall.Credential{Uid: 65534, Gid: 65534}, Ambient: []int{unix.CAP_NET_BIND_SERVICE}}, nil,
			Error{Step: StepAmbient, Index: unix.CAP_NET_BIND_SERVICE, Err: unix.EPERM}},
		{"another user without CAP_SETGID", []int{unix.CAP_SETGID}, nil,
			Attr{Cred: &syscall.Credential{Uid: 65534, Gid: 65534}}, nil, Error{Step: StepSetgroups, Err: unix.EPERM}},
		{"no directory", nil, nil, Attr{Dir: "/nonexistent", NoNewPrivs: true}, nil, Error{Step: StepChdir, Err: unix.ENOENT}},
		{"no program", nil, nil, Attr{NoNewPrivs: true}, []string{"/nonexistent/program"}, Error{Step: StepExec, Err: unix.ENOENT}},
		{"a directory as the program", nil, nil, Attr{NoNewPrivs: true}, []string{"/"}, Error{Step: StepExec, Err: unix.EACCES}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := tt.argv
			if argv == nil {
				argv = []string{"/bin/true"}
			}
			var err error
			onThread(t, tt.drop, tt.unbound, func() {
				a := tt.a
				a.Files = [3]uintptr{0, 1, 2}
				_, err = Start(argv[0], argv, nil, &a)
			})
			var fe *Error
			if !errors.As(err, &fe) || *fe != tt.want {
				t.Errorf("Start: %v (%#v), want %#v", err, fe, tt.want)
			}
			if z := zombies(t); len(z) > 0 {
				t.Errorf("zombies left: %v", z)
			}
		})
	}
}

// zombies lists this process's children that are zombies.
func zombies(t *testing.T) []int {
	t.Helper()
	tasks, _ := os.ReadDir("/proc/self/task")
	var z []int
	for _, task := range tasks {
		b, _ := os.ReadFile("/proc/self/task/" + task.Name() + "/children")
		for _, f := range strings.Fields(string(b)) {
			st, _ := os.ReadFile("/proc/" + f + "/stat")
			s := string(st)
			if i := strings.LastIndexByte(s, ')'); i > 0 && strings.HasPrefix(s[i+1:], " Z") {
				pid, _ := strconv.Atoi(f)
				z = append(z, pid)
			}
		}
	}
	return z
}

// TestFiles: the three fds land where Files says, whatever numbers they
// had (the two passes), with close-on-exec cleared; nothing else of the
// parent's reaches the program.
func TestFiles(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	target := func(fd uintptr) string {
		s, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	const closed = ^uintptr(0)
	for _, c := range []struct {
		files [3]uintptr
		extra []uintptr
	}{
		{files: [3]uintptr{r.Fd(), w.Fd(), w.Fd()}},
		{files: [3]uintptr{w.Fd(), r.Fd(), 0}}, // fd 2 from fd 0: moved up first
		{files: [3]uintptr{1, 0, 2}},           // crossed: 0 gets 1 and 1 gets 0
		{files: [3]uintptr{0, 1, 2}},           // in place: close-on-exec cleared
		// fds 3 to 5 (a readiness fd): 4 closed; 3 and 5 from fds
		// that are, or may be, slots of their own.
		{files: [3]uintptr{0, 1, 2}, extra: []uintptr{w.Fd(), closed, r.Fd()}},
		{files: [3]uintptr{0, 1, 2}, extra: []uintptr{closed, closed, 2}},
		{files: [3]uintptr{r.Fd(), 1, 2}, extra: []uintptr{0}},
	} {
		files := c.files
		pid, err := Start("/bin/sleep", []string{"sleep", "60"}, nil, &Attr{Files: files, Extra: c.extra, NoNewPrivs: true})
		if err != nil {
			t.Fatal(err)
		}
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		var got []string
		for _, e := range ents {
			s, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
			got = append(got, e.Name()+" "+s)
		}
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		want := []string{"0 " + target(files[0]), "1 " + target(files[1]), "2 " + target(files[2])}
		for i, f := range c.extra {
			if f != closed {
				want = append(want, fmt.Sprintf("%d %s", 3+i, target(f)))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("Files %v, Extra %v: the program has\n%q, want\n%q", files, c.extra, got, want)
		}
	}
}

// TestManyStarts: a thousand starts, each reaped, leave no fd behind.
func TestManyStarts(t *testing.T) {
	before, _ := os.ReadDir("/proc/self/fd")
	for i := range 1000 {
		pid, err := Start("/bin/true", []string{"true"}, nil, &Attr{Files: [3]uintptr{0, 1, 2}, NoNewPrivs: true, Setsid: true,
			Rlimits: []Rlimit{{unix.RLIMIT_CORE, 0, 0}}})
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
			t.Fatalf("start %d: %v, %v", i, err, ws)
		}
	}
	after, _ := os.ReadDir("/proc/self/fd")
	if len(after) != len(before) {
		t.Errorf("%d fds before, %d after", len(before), len(after))
	}
}

// TestCgroup: UseCgroupFD starts the process in that cgroup.
func TestCgroup(t *testing.T) {
	needRoot(t)
	mnt := cgroup2Mount(t)
	dir, err := os.MkdirTemp(mnt, "tend-forkexec-")
	if err != nil {
		t.Skipf("cgroup v2 at %s is not writable here: %v", mnt, err)
	}
	defer os.Remove(dir)
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	out, err := run(t, &Attr{UseCgroupFD: true, CgroupFD: fd, NoNewPrivs: true}, "/bin/cat", "/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	// dir is under the mount's root, not under the test's own cgroup.
	want := "0::/" + filepath.Base(dir)
	if !strings.Contains(out, want+"\n") {
		t.Errorf("the program's cgroups:\n%s\nwant the line %s", out, want)
	}
}

// cgroup2Mount is where the cgroup v2 hierarchy tend's cgroup is in is
// mounted.
func cgroup2Mount(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if ok && strings.HasPrefix(post, "cgroup2 ") && len(f) > 4 {
			return f[4]
		}
	}
	t.Skip("no cgroup v2 mounted")
	return ""
}

// BenchmarkStart compares a start through Start, with limits and
// no_new_privs, with one through syscall.ForkExec: each iteration
// starts /bin/true in a session of its own and reaps it. With -tags
// purego, Start is a plain fork (docs/supervisor.md has the numbers).
func BenchmarkStart(b *testing.B) {
	b.Run("syscall.ForkExec", func(b *testing.B) {
		for b.Loop() {
			pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{
				Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{Setsid: true}})
			if err != nil {
				b.Fatal(err)
			}
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
		}
	})
	b.Run("forkexec.Start", func(b *testing.B) {
		for b.Loop() {
			pid, err := Start("/bin/true", []string{"true"}, nil, &Attr{Files: [3]uintptr{0, 1, 2}, Setsid: true,
				Rlimits: []Rlimit{{unix.RLIMIT_NOFILE, 4096, 4096}, {unix.RLIMIT_CORE, 0, 0}}, NoNewPrivs: true})
			if err != nil {
				b.Fatal(err)
			}
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
		}
	})
}
