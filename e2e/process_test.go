package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestProgramProcess: what a supervised program starts with, as the
// program itself sees it: user, supplementary groups, umask, working
// directory, environment (with ${VAR} expanded, TEND_PROGRAM and
// TEND_INSTANCE), and /dev/null as stdin. The users come from a passwd
// and group file of the test's own, bind-mounted over /etc inside the
// namespace tend runs in (so the host's files are never touched).
func TestProgramProcess(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Fatal("this test sets users and bind-mounts: it needs root")
	}
	dir := t.TempDir()
	// The unprivileged user must reach its working directory.
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	passwd := write("passwd", "root:x:0:0::/root:/bin/sh\ntuser:x:4242:4343::/nonexistent:/bin/false\n")
	group := write("group", "root:x:0:\ntgroup:x:4343:\nextra1:x:5001:tuser\nextra2:x:5002:other,tuser\n")
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o755)
	report := `echo "$TEND_PROGRAM uid=$(id -u) gid=$(id -g) groups=$(id -G | tr ' ' ,) umask=$(umask) pwd=$(pwd) foo=$FOO inst=$${TEND_INSTANCE:-none} stdin=$(readlink /proc/self/fd/0)"`
	cfg := write("tend.toml", `
[tend]
socket = ""

[programs.named]
type = "oneshot"
command = '''`+report+`'''
user = "tuser"
umask = "027"
directory = "`+work+`"
environment = { FOO = "${TEND_TEST_FOO:-unset}" }

[programs.numeric]
type = "oneshot"
command = '''`+report+`'''
user = "1234:5678"

[programs.pool]
type = "oneshot"
instances = 2
command = '''`+report+`'''
`)
	// tend expands ${...} in the file at load time, from its own
	// environment; $${...} is left for the shell (TEND_INSTANCE is set per
	// process, so only the shell can read it).
	mount := []string{"/bin/sh", "-c", `mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && shift 2 && exec "$@"`, "sh", passwd, group}
	r := startWith(t, options{around: mount, env: []string{"TEND_TEST_FOO=from-env"},
		raw: []string{"-c", cfg}}, nil)
	got := map[string]string{}
	for len(got) < 4 {
		line := r.expect("")
		name, rest, _ := strings.Cut(line, " ")
		if strings.HasPrefix(rest, "uid=") {
			got[name] = rest
		}
	}
	want := map[string]string{
		"named":   "uid=4242 gid=4343 groups=4343,5001,5002 umask=0027 pwd=" + work + " foo=from-env inst=none stdin=/dev/null",
		"numeric": "uid=1234 gid=5678 groups=5678 umask=0022 pwd=/ foo= inst=none stdin=/dev/null",
		"pool:0":  "uid=0 gid=0 groups=0 umask=0022 pwd=/ foo= inst=0 stdin=/dev/null",
		"pool:1":  "uid=0 gid=0 groups=0 umask=0022 pwd=/ foo= inst=1 stdin=/dev/null",
	}
	for name, w := range want {
		g := got[name]
		if name == "numeric" || strings.HasPrefix(name, "pool") {
			// pwd is tend's own working directory; only its presence matters.
			g = replacePwd(g)
		}
		if g != w {
			t.Errorf("%s:\n got %s\nwant %s", name, g, w)
		}
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(); code != 0 {
		t.Errorf("tend exited %d", code)
	}
}

// replacePwd turns "pwd=ANY " into "pwd=/ ".
func replacePwd(s string) string {
	f := strings.Fields(s)
	i := slices.IndexFunc(f, func(x string) bool { return strings.HasPrefix(x, "pwd=") })
	if i >= 0 {
		f[i] = "pwd=/"
	}
	return strings.Join(f, " ")
}

// TestPrefixNoLineLost: a program writes 10,000 lines to stdout and some
// to stderr with stdout = stderr = "prefix", and leaves a grandchild that
// writes after its parent has exited. Every line reaches tend's stdout
// (or stderr) exactly once, whole, behind "name | ", before tend exits.
// The grandchild is in the program's process group, which tend stops
// once the parent has exited (the program is one unit): it ignores
// stopsignal (from its fork on: the parent sets it), and has its
// stopwaitsecs to write and exit.
func TestPrefixNoLineLost(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tend.toml")
	os.WriteFile(cfg, []byte(`
[tend]
socket = ""
[programs.talk]
type = "oneshot"
stdout = "prefix"
stderr = "prefix"
command = '''
i=0; while [ $i -lt 10000 ]; do echo "line $i of 10000, padded to make it longer"; i=$((i+1)); done
echo "to stderr" >&2
trap '' TERM
(sleep 0.3; echo "from the grandchild") &
'''
`), 0o644)
	r := startWith(t, options{raw: []string{"-c", cfg}}, nil)
	r.expect("talk | from the grandchild")
	r.signal(syscall.SIGTERM)
	if code := r.wait(); code != 0 {
		t.Fatalf("tend exited %d", code)
	}
	seen := map[string]int{}
	for _, l := range r.output() {
		if !strings.HasPrefix(l, "talk | ") {
			t.Fatalf("a line without its prefix, or two lines mixed: %q", l)
		}
		seen[strings.TrimPrefix(l, "talk | ")]++
	}
	for i := 0; i < 10000; i++ {
		if n := seen[fmt.Sprintf("line %d of 10000, padded to make it longer", i)]; n != 1 {
			t.Fatalf("line %d arrived %d times", i, n)
		}
	}
	if len(seen) != 10001 {
		t.Errorf("%d distinct lines on stdout, want 10,000 and the grandchild's", len(seen))
	}
	if !strings.Contains(r.log.String(), "talk | to stderr\n") {
		t.Errorf("the stderr line is not on tend's stderr, prefixed")
	}
}
