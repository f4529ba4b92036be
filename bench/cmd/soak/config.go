package main

import (
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The soak's configuration: about twenty programs of every kind the
// soak stresses, in two valid variants the reloads switch between, and
// invalid files a reload must refuse.

const (
	// Rates of the writers, lines a second each, and the longest run of
	// lines before a writer exits by itself (and is restarted).
	prefixRate, prefixMax = 2500, 100_000
	fileRate, fileMax     = 100, 20_000
	// lineBytes is a writer's line, on average: its head and half the
	// longest padding.
	lineBytes = 40 + 104
	// fileMaxBytes is where the files rotate.
	fileMaxBytes = 2 << 20
)

// setup is what a configuration is made from.
type setup struct {
	dir, child, socket string
	ports              [2]int // the HTTP health targets'
	backups            int    // rotated files kept: enough never to drop one
}

func newSetup(dir, child string, d time.Duration) (*setup, error) {
	s := &setup{dir: dir, child: child, socket: filepath.Join(dir, "tend.sock")}
	for i := range s.ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		s.ports[i] = p
	}
	// Two writers share a file: its bytes over the whole run (the
	// quiet phases and the shutdown included), twice over, in files of
	// fileMaxBytes.
	total := 2 * fileRate * lineBytes * (d.Seconds() + 120)
	s.backups = int(math.Ceil(2*total/fileMaxBytes)) + 4
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	return s, nil
}

// freePort is a TCP port on 127.0.0.1 that nothing listened on a moment
// ago (the soak shares the host's network namespace).
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// filePaths are the rotated files' paths, for the line check.
func (s *setup) filePaths() []string {
	return []string{filepath.Join(s.dir, "logs", "shared.log"), filepath.Join(s.dir, "logs", "solo.log")}
}

// config is the valid configuration; alt adds a program and changes the
// environment of the crash loops, so that a reload between the two adds,
// removes and restarts programs.
func (s *setup) config(alt bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[tend]\nsocket = %q\nshutdown_timeout = \"60s\"\n", s.socket)
	cmd := func(args ...any) string {
		parts := []string{fmt.Sprintf("%q", s.child)}
		for _, a := range args {
			parts = append(parts, fmt.Sprintf("%q", fmt.Sprint(a)))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	prog := func(name string, lines ...string) {
		fmt.Fprintf(&b, "\n[programs.%s]\n", name)
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	// Programs that end by themselves are restarted soon: every exit
	// after RUNNING backs off, up to backoff.max.
	const quickBackoff = "backoff = { initial = \"100ms\", max = \"2s\" }"
	prog("setup", "type = \"oneshot\"", "command = "+cmd("true"))
	crashEnv := "environment = { SOAK_VARIANT = \"a\" }"
	if alt {
		crashEnv = "environment = { SOAK_VARIANT = \"b\" }"
	}
	// Up for startsecs before they crash: restarted at once, then with
	// the backoff ladder, never FATAL.
	prog("crash", "command = "+cmd("crash", 300, 2000), "instances = 4", "autorestart = \"always\"",
		"startsecs = 0.2", "backoff = { initial = \"100ms\", max = \"1s\" }", "depends_on = [\"setup\"]", crashEnv)
	// Down before startsecs: FATAL within a second or two, until a
	// ctl start or a reload.
	prog("crashfast", "command = "+cmd("crash", 20, 150), "instances = 2", "startsecs = 1",
		"backoff = { initial = \"100ms\", max = \"500ms\" }")
	prog("orphan-esc", "command = "+cmd("orphan", "escape", 15000, 3000), "instances = 2",
		"autorestart = \"always\"", "startsecs = 0", quickBackoff)
	prog("orphan-grp", "command = "+cmd("orphan", "group", 15000, 3000), "autorestart = \"always\"", "startsecs = 0", quickBackoff)
	prog("orphan-pipe", "command = "+cmd("orphan", "pipe", 8000, 3000), "autorestart = \"always\"",
		"startsecs = 0", quickBackoff, "stdout = \"prefix\"")
	prog("wprefix", "command = "+cmd("writer", prefixRate, prefixMax), "instances = 4",
		"autorestart = \"always\"", "startsecs = 0", quickBackoff, "stdout = \"prefix\"", "stderr = \"prefix\"")
	files := s.filePaths()
	rotated := func(path string) []string {
		return []string{fmt.Sprintf("stdout = %q", path), fmt.Sprintf("stdout_maxbytes = %d", fileMaxBytes),
			fmt.Sprintf("stdout_backups = %d", s.backups)}
	}
	prog("wshared", append([]string{"command = " + cmd("writer", fileRate, fileMax), "instances = 2",
		"autorestart = \"always\"", "startsecs = 0", quickBackoff}, rotated(files[0])...)...)
	prog("wsolo", append([]string{"command = " + cmd("writer", fileRate, fileMax),
		"autorestart = \"always\"", "startsecs = 0", quickBackoff}, rotated(files[1])...)...)
	// Healthy, then failing: restarted by its health check, over and over.
	prog("flap", "command = "+cmd("http", fmt.Sprintf("127.0.0.1:%d", s.ports[0]), "ok:8s,fail:6s"), "startsecs = 0.5")
	fmt.Fprintf(&b, "[programs.flap.healthcheck]\nhttp = \"http://127.0.0.1:%d/health\"\ninterval = \"1s\"\n"+
		"timeout = \"500ms\"\nretries = 2\non_unhealthy = \"restart\"\n", s.ports[0])
	// Healthy, failing, hanging past the probe's timeout: only reported.
	prog("flapignore", "command = "+cmd("http", fmt.Sprintf("127.0.0.1:%d", s.ports[1]), "ok:5s,fail:5s,hang:5s"), "startsecs = 0.5")
	fmt.Fprintf(&b, "[programs.flapignore.healthcheck]\nhttp = \"http://127.0.0.1:%d/health\"\ninterval = \"1s\"\n"+
		"timeout = \"500ms\"\nretries = 2\non_unhealthy = \"ignore\"\n", s.ports[1])
	prog("idle", "command = "+cmd("idle"), "instances = 2")
	fmt.Fprintf(&b, "[programs.idle.healthcheck]\nexec = %s\ninterval = \"2s\"\n", cmd("true"))
	if alt {
		prog("extra", "command = "+cmd("idle"), "depends_on = { setup = \"completed\" }")
	}
	return b.String()
}

// programNames are the names the control flood picks from: every
// program and instance of the valid configuration, and globs.
var programNames = []string{
	"setup", "crash:0", "crash:1", "crash:2", "crash:3", "crashfast:0", "crashfast:1",
	"orphan-esc:0", "orphan-esc:1", "orphan-grp", "orphan-pipe",
	"wprefix:0", "wprefix:1", "wprefix:2", "wprefix:3", "wshared:0", "wshared:1", "wsolo",
	"flap", "flapignore", "idle:0", "idle:1",
	"crash:*", "wprefix:*", "orphan-*", "idle:*", "flap*",
}

// invalid is one configuration a reload must refuse, by name. The
// limits of SPEC's "Robustness" (a file over 1 MiB, more than 4,096
// programs, nesting deeper than 32) are used only if tend check refuses
// them: a tend that accepted 4,200 programs would start them.
type invalid struct {
	name  string
	limit bool
	text  func(s *setup) string
}

var invalids = []invalid{
	{"syntax", false, func(s *setup) string { return s.config(false) + "\n[programs.broken\ncommand = [\n" }},
	{"unknown key", false, func(s *setup) string {
		return s.config(false) + "\n[programs.typo]\ncommand = [\"/bin/true\"]\nautorestrat = \"always\"\n"
	}},
	{"cycle", false, func(s *setup) string {
		return s.config(false) + "\n[programs.cyc-a]\ncommand = [\"/bin/true\"]\ndepends_on = [\"cyc-b\"]\n" +
			"\n[programs.cyc-b]\ncommand = [\"/bin/true\"]\ndepends_on = [\"cyc-a\"]\n"
	}},
	{"over 1 MiB", true, func(s *setup) string {
		return s.config(false) + strings.Repeat("# padding padding padding padding padding padding padding\n", 20_000)
	}},
	{"too many programs", true, func(s *setup) string {
		var b strings.Builder
		b.WriteString(s.config(false))
		for i := range 4200 {
			fmt.Fprintf(&b, "[programs.many%d]\ncommand = [\"/bin/true\"]\n", i)
		}
		return b.String()
	}},
	{"too deep", true, func(s *setup) string {
		return s.config(false) + "\n[programs.deep]\ncommand = [\"/bin/true\"]\nenvironment = { X = " +
			strings.Repeat("[", 40) + "1" + strings.Repeat("]", 40) + " }\n"
	}},
}

// writeConfig replaces path with text through a rename, so that tend
// never reads half a file.
func writeConfig(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
