package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseArgs(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	none := env(nil)
	base := cli{grace: 5 * time.Second, logFormat: "console"}
	with := func(f func(*cli)) cli { c := base; f(&c); return c }
	cases := []struct {
		args []string
		env  func(string) string
		want cli
	}{
		{[]string{"--", "app", "-x"}, none, with(func(c *cli) { c.cmd = []string{"app", "-x"} })},
		{[]string{"--", "app", "--", "y"}, none, with(func(c *cli) { c.cmd = []string{"app", "--", "y"} })},
		{[]string{"-g", "--no-group", "--", "a"}, none, with(func(c *cli) { c.noGroup = true; c.cmd = []string{"a"} })},
		{[]string{"-e", "143", "-e", "1", "--", "a"}, none, with(func(c *cli) { c.exitZero = []int{143, 1}; c.cmd = []string{"a"} })},
		{[]string{"--grace", "250ms", "--", "a"}, none, with(func(c *cli) { c.grace = 250 * time.Millisecond; c.cmd = []string{"a"} })},
		{[]string{"--grace=0s", "--", "a"}, none, with(func(c *cli) { c.grace = 0; c.cmd = []string{"a"} })},
		{[]string{"-v", "-v", "--", "a"}, none, with(func(c *cli) { c.verbose = 2; c.cmd = []string{"a"} })},
		{[]string{"-vv", "--", "a"}, none, with(func(c *cli) { c.verbose = 2; c.cmd = []string{"a"} })},
		{[]string{"--log-format", "json", "--", "a"}, none, with(func(c *cli) { c.logFormat = "json"; c.logFormatSet = true; c.cmd = []string{"a"} })},
		{[]string{"-c", "f.toml"}, none, with(func(c *cli) { c.config = "f.toml" })},
		{[]string{"-c", "f.toml", "--", "a"}, none, with(func(c *cli) { c.config = "f.toml"; c.cmd = []string{"a"} })},
		{nil, env(map[string]string{"TEND_CONFIG": "e.toml"}), with(func(c *cli) { c.config = "e.toml" })},
		{[]string{"-c", "f.toml"}, env(map[string]string{"TEND_CONFIG": "e.toml"}), with(func(c *cli) { c.config = "f.toml" })},
		{[]string{"--help"}, none, with(func(c *cli) { c.help = true })},
		{[]string{"-c", "f.toml", "check", "--strict"}, none, with(func(c *cli) { c.config = "f.toml"; c.tool = "check"; c.toolArgs = []string{"--strict"} })},
		{[]string{"version"}, env(map[string]string{"TEND_CONFIG": "e.toml"}), with(func(c *cli) { c.config = "e.toml"; c.tool = "version"; c.toolArgs = []string{} })},
		{[]string{"-c", "f.toml", "import", "supervisord", "/etc/s.conf"}, none, with(func(c *cli) {
			c.config = "f.toml"
			c.tool = "import"
			c.toolArgs = []string{"supervisord", "/etc/s.conf"}
		})},
		{[]string{"--drain", "3s", "--", "a"}, none, with(func(c *cli) { c.drain = 3 * time.Second; c.cmd = []string{"a"} })},
		{[]string{"--rewrite", "TERM:QUIT", "--rewrite=sigusr1:12", "--rewrite", "2:9", "--", "a"}, none, with(func(c *cli) {
			c.rewrite = map[syscall.Signal]syscall.Signal{unix.SIGTERM: unix.SIGQUIT, unix.SIGUSR1: unix.SIGUSR2, unix.SIGINT: unix.SIGKILL}
			c.cmd = []string{"a"}
		})},
	}
	for _, c := range cases {
		got, err := parseArgs(c.args, c.env)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseArgs(%q) = %+v, %v; want %+v", c.args, got, err, c.want)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	cases := map[string][]string{
		"nothing to run":           nil,
		"no command after":         {"--"},
		"must not be negative":     {"--grace", "-1s", "--", "a"},
		"want console or json":     {"--log-format", "xml", "--", "a"},
		"0 to 255":                 {"-e", "256", "--", "a"},
		"put the command after --": {"app"},
		"unexpected \"check\"":     {"-c", "f", "check", "--", "a"},
		"subreaper by itself":      {"-s", "--", "a"},
		"not defined":              {"--bogus", "--", "a"},
		"takes no value":           {"-v=false", "--", "a"},
		"--drain must not be":      {"--drain", "-1s", "--", "a"},
		"want FROM:TO":             {"--rewrite", "TERM", "--", "a"},
		"unknown signal":           {"--rewrite", "TERM:NOPE", "--", "a"},
		"does not forward CHLD":    {"--rewrite", "CHLD:TERM", "--", "a"},
		"does not forward KILL":    {"--rewrite", "KILL:TERM", "--", "a"},
	}
	for want, args := range cases {
		_, err := parseArgs(args, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseArgs(%q) error %v, want one saying %q", args, err, want)
		}
	}
}

// TestCheckExitCodes runs tend check on a valid file, one with a warning
// (a command not found) and one with an error, with and without
// --strict: warnings go to stderr marked as such and fail only under
// --strict (1); errors always fail (2).
func TestCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.toml", "[programs.a]\ncommand = \"sleep 1\"\n")
	warned := write("warned.toml", "[programs.a]\ncommand = [\"no-such-command-x\"]\n")
	bad := write("bad.toml", "[programs.a]\ncommand = [\"no-such-command-x\"]\nstartsecs = -1\n")
	cases := []struct {
		args       []string
		code       int
		stdout     string
		stderr     string
		noWarnings bool
	}{
		{[]string{"-c", good}, 0, good + ": ok, 1 programs, 0 warnings\n", "", true},
		{[]string{"--strict", "-c", good}, 0, good + ": ok, 1 programs, 0 warnings\n", "", true},
		{[]string{"-c", warned}, 0, warned + ": ok, 1 programs, 1 warnings\n",
			warned + `:2: warning: programs.a.command: command "no-such-command-x" not found in PATH`, false},
		{[]string{"--strict", "-c", warned}, 1, warned + ": ok, 1 programs, 1 warnings\n",
			warned + `:2: warning: programs.a.command: command "no-such-command-x" not found in PATH`, false},
		{[]string{"-c", bad}, 2, "", bad + ":3: programs.a.startsecs: must not be negative, not -1\n", true},
		{[]string{"--strict", "-c", bad}, 2, "", bad + ":3: programs.a.startsecs: must not be negative, not -1\n", true},
		{[]string{"-c", filepath.Join(dir, "missing.toml")}, 2, "", "load config: open " + dir + "/missing.toml: no such file or directory\n", true},
		{nil, 2, "", "tend check: check needs -c FILE", true},
		{[]string{"--bogus"}, 2, "", "tend check: flag provided but not defined: -bogus", true},
		{[]string{"-c", good, "extra"}, 2, "", `tend check: unexpected "extra"`, true},
	}
	for _, c := range cases {
		var stdout, stderr strings.Builder
		code := runCheck(c.args, func(string) string { return "" }, &stdout, &stderr)
		if code != c.code || stdout.String() != c.stdout || !strings.HasPrefix(stderr.String(), c.stderr) ||
			c.noWarnings == strings.Contains(stderr.String(), "warning:") {
			t.Errorf("tend check %q = %d\nstdout %q\nstderr %q\nwant %d, %q, %q", c.args, code, stdout.String(), stderr.String(), c.code, c.stdout, c.stderr)
		}
	}
	// TEND_CONFIG stands for -c, as for tend itself.
	var stdout, stderr strings.Builder
	if code := runCheck([]string{"--strict"}, func(k string) string { return map[string]string{"TEND_CONFIG": warned}[k] }, &stdout, &stderr); code != 1 {
		t.Errorf("tend check --strict with TEND_CONFIG: %d, want 1; %s", code, stderr.String())
	}
}

// TestImportCLI runs tend import on real files: the TOML on stdout and
// warnings on stderr (exit 0); errors with file and line, and usage
// errors, on stderr (exit 2).
func TestImportCLI(t *testing.T) {
	root := filepath.Join("importer", "testdata")
	cases := []struct {
		args           []string
		code           int
		stdout, stderr string // prefixes; stdout "" wants nothing
	}{
		{[]string{"supervisord", "--root", filepath.Join(root, "trafex-php-nginx"), "/etc/supervisor/conf.d/supervisord.conf"}, 0,
			"# Converted by `tend import supervisord` from /etc/supervisor/conf.d/supervisord.conf.", ""},
		{[]string{"supervisord", "--root", filepath.Join(root, "mailcow-sogo"), "/etc/supervisor/supervisord.conf"}, 0,
			"# Converted by", "/etc/supervisor/supervisord.conf:10: warning: [program:syslog-ng] stdout_syslog: tend does not copy output to syslog\n"},
		{[]string{"supervisord", "--root", filepath.Join(root, "ubuntu-vnc-desktop-rootfs"), "/etc/supervisor/conf.d/supervisord.conf"}, 2,
			"", "/etc/supervisor/conf.d/supervisord.conf:43: [program:cloud9] user: %U: a % that is not %(NAME)s nor %%"},
		{[]string{"supervisord", filepath.Join(root, "missing.conf")}, 2, "", filepath.Join(root, "missing.conf") + ": open: no such file or directory"},
		{nil, 2, "", "tend import: import needs a format"},
		{[]string{"systemd", "x"}, 2, "", `tend import: unknown format "systemd"`},
		{[]string{"supervisord"}, 2, "", "tend import: import supervisord needs one FILE"},
		{[]string{"supervisord", "a", "b"}, 2, "", "tend import: import supervisord needs one FILE"},
		{[]string{"supervisord", "--bogus", "a"}, 2, "", "tend import: flag provided but not defined: -bogus"},
	}
	for _, c := range cases {
		var stdout, stderr strings.Builder
		code := runImport(c.args, &stdout, &stderr)
		if code != c.code || !strings.HasPrefix(stdout.String(), c.stdout) || (c.stdout == "") != (stdout.Len() == 0) ||
			!strings.HasPrefix(stderr.String(), c.stderr) || c.stderr == "" && stderr.Len() > 0 {
			t.Errorf("tend import %q = %d\nstdout %q\nstderr %q\nwant %d, %q, %q", c.args, code, stdout.String(), stderr.String(), c.code, c.stdout, c.stderr)
		}
	}
	// What it writes, tend check takes.
	var stdout, stderr strings.Builder
	if code := runImport([]string{"supervisord", "--root", filepath.Join(root, "docker-mailserver"), "/etc/supervisor/supervisord.conf"}, &stdout, &stderr); code != 0 {
		t.Fatalf("import: %d %s", code, stderr.String())
	}
	out := filepath.Join(t.TempDir(), "tend.toml")
	if err := os.WriteFile(out, []byte(stdout.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	var checked strings.Builder
	if code := runCheck([]string{"-c", out}, func(string) string { return "" }, &checked, &stderr); code != 0 ||
		!strings.HasPrefix(checked.String(), out+": ok, 17 programs") {
		t.Errorf("tend check of the import: %d %s %s", code, checked.String(), stderr.String())
	}
}
