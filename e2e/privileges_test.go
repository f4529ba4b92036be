package e2e

// SPEC "Resources and privileges": rlimits, no_new_privs, capabilities,
// oom_score_adj and nice, set between fork and exec, as the programs of
// a real PID 1 find them; and a value the kernel refuses failing the
// start with the reason.

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func init() { moreHelpers["bind"] = bindPort }

// bindPort is "bind PORT": it listens on 0.0.0.0:PORT, as whoever it
// runs as, and says how that went.
func bindPort(args []string) int {
	name := os.Getenv("TEND_PROGRAM")
	l, err := net.Listen("tcp", "0.0.0.0:"+args[0])
	if err != nil {
		fmt.Printf("%s uid=%d %v\n", name, os.Getuid(), err)
		return 0
	}
	l.Close()
	fmt.Printf("%s uid=%d bound %s\n", name, os.Getuid(), args[0])
	return 0
}

// worldDir is a new directory that any user can enter and read, with
// every directory above it opened up to enter.
func worldDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// copyExecutable copies the executable at src into dir, mode 0755.
func copyExecutable(t *testing.T, src, dir string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, filepath.Base(src))
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestProgramPrivileges: with tend as root and PID 1 (in a network
// namespace of its own, so port 80 is free), a program running as
// nobody with capabilities = ["NET_BIND_SERVICE"] binds port 80, and the
// same program without it cannot; a program with every other key finds
// them set as it starts: /bin/cat reading its own /proc/self files; and
// its exec health check runs with them too.
func TestProgramPrivileges(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Fatal("this test runs programs as nobody and bind-mounts: it needs root")
	}
	dir := worldDir(t)
	bin := copyExecutable(t, self, dir) // nobody cannot reach the test binary where go test left it
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	passwd := write("passwd", "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n")
	group := write("group", "root:x:0:\nnogroup:x:65534:\n")
	probeOut := filepath.Join(dir, "probe.out")
	cfg, _ := svConfig(t, fmt.Sprintf(`
[programs.web]
type = "oneshot"
user = "nobody"
capabilities = ["NET_BIND_SERVICE"]
command = [%[1]q, "bind", "80"]

[programs.plain]
type = "oneshot"
user = "nobody"
command = [%[1]q, "bind", "80"]

[programs.limited]
type = "oneshot"
command = ["/bin/cat", "/proc/self/status", "/proc/self/limits", "/proc/self/oom_score_adj", "/proc/self/stat"]
stdout = "prefix"
rlimits = { nofile = [100, 200], core = 0, nproc = [512, 1024] }
no_new_privs = true
capabilities = ["CHOWN", "KILL"]
oom_score_adj = 500
nice = 7
umask = "027"

[programs.probed]
command = ["sleep", "3600"]
startsecs = 0
rlimits = { nofile = [100, 200], core = 0, nproc = [512, 1024] }
no_new_privs = true
capabilities = ["CHOWN", "KILL"]
oom_score_adj = 500
nice = 7
umask = "027"
[programs.probed.healthcheck]
exec = ["/bin/sh", "-c", "cat /proc/self/status /proc/self/limits /proc/self/oom_score_adj > %[2]s"]
interval = "100ms"
`, bin, probeOut))
	around := []string{"/bin/sh", "-c", `mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && shift 2 && exec unshare --net "$@"`,
		"sh", passwd, group}
	s := startSv(t, cfg, svOptions{around: around})
	// Waited for in any order, then read from the whole output.
	line := func(prefix string) string {
		return s.out.waitFrom(0, "a line starting "+prefix, func(e event) bool { return strings.HasPrefix(e.line, prefix) }).line
	}
	if got, want := line("web uid="), "web uid=65534 bound 80"; got != want {
		t.Errorf("web, nobody with NET_BIND_SERVICE: %q, want %q", got, want)
	}
	if got, want := line("plain uid="), "plain uid=65534 listen tcp 0.0.0.0:80: bind: permission denied"; got != want {
		t.Errorf("plain, nobody without it: %q, want %q", got, want)
	}

	// What /bin/cat found as it started, reading its own /proc/self;
	// /proc/self/stat is the last file.
	stat := strings.TrimPrefix(s.out.waitFrom(0, "limited's stat", func(e event) bool {
		return strings.HasPrefix(e.line, "limited | ") && strings.Contains(e.line, " (cat) ")
	}).line, "limited | ")
	want := []string{
		"NoNewPrivs:\t1", "Umask:\t0027",
		"CapBnd:\t0000000000000021", "CapPrm:\t0000000000000021", "CapEff:\t0000000000000021", "CapAmb:\t0000000000000000",
		"Max open files            100                  200                  files",
		"Max core file size        0                    0                    bytes",
		"Max processes             512                  1024                 processes",
		"500",
	}
	var limited []string
	for _, l := range s.output() {
		if l, ok := strings.CutPrefix(l, "limited | "); ok {
			limited = append(limited, strings.TrimRight(l, " "))
		}
	}
	for _, w := range want {
		if !slices.Contains(limited, w) {
			t.Errorf("limited did not start with %q", w)
		}
	}
	if f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+2:]); f[19-3] != "7" {
		t.Errorf("nice (field 19 of /proc/PID/stat) is %s, want 7: %s", f[19-3], stat)
	}

	s.tl.waitFrom(0, "probed healthy", func(e event) bool { return e.Program == "probed" && e.Health == "healthy" })
	// The probe: the same limits and privileges as its program.
	probe, err := os.ReadFile(probeOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(string(probe), w) {
			t.Errorf("the health check's own process lacks %q:\n%s", w, probe)
		}
	}

	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d", code)
	}
}

// TestPrivilegesRefused: tend running as nobody may raise its programs'
// nice value and lower their limits, but not the other way round: such
// a program fails to start, with the key, the value and the kernel's
// reason, and runs nothing.
func TestPrivilegesRefused(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Fatal("this test starts tend as nobody: it needs root")
	}
	dir := worldDir(t)
	tend := copyExecutable(t, tendBin, dir)
	asNobody := filepath.Join(dir, "as-nobody")
	if err := os.WriteFile(asNobody, []byte("#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups "+tend+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "tend.toml") // nobody reads it
	err := os.WriteFile(cfg, []byte(`
[tend]
socket = ""

[programs.lower]
command = ["/bin/sh", "-c", "echo lower ran"]
nice = -20
startretries = 0

[programs.raise]
command = ["/bin/sh", "-c", "echo raise ran"]
rlimits = { nofile = [64, "infinity"] }
startretries = 0

[programs.fine]
type = "oneshot"
command = ["/bin/sh", "-c", "echo fine $(id -u) $(ulimit -Sn) $(ulimit -Hn) $(cut -d' ' -f19 /proc/self/stat)"]
rlimits = { nofile = [64, 128] }
nice = 5
no_new_privs = true
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	s := startSv(t, cfg, svOptions{bin: asNobody})
	for name, reason := range map[string]string{
		"lower": "spawn failed: nice = -20: permission denied",
		"raise": "spawn failed: rlimits.nofile = [64, infinity]: operation not permitted",
	} {
		e := s.tl.waitFrom(0, name+" refused", func(e event) bool { return e.Program == name && e.Reason != "" && e.State != "STARTING" })
		if !strings.HasPrefix(e.Reason, reason) {
			t.Errorf("%s: reason %q, want it to begin %q", name, e.Reason, reason)
		}
		s.tl.waitState(name, "FATAL")
	}
	s.tl.waitState("fine", "COMPLETED")
	if line := s.expect("fine "); line != "fine 65534 64 128 5" {
		t.Errorf("fine: %q, want %q", line, "fine 65534 64 128 5")
	}
	s.signal(syscall.SIGTERM)
	s.finish()
	for _, l := range s.output() {
		if strings.HasSuffix(l, " ran") {
			t.Errorf("a refused program ran: %q", l)
		}
	}
}
