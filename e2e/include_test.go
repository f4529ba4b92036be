package e2e

import (
	"cmp"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestIncludeEnvFile: a configuration split over an include directory,
// with a [tend] env_file, a program's own env_file in an included file
// and a clear_env program. Each program prints its environment with
// env(1); a SIGHUP reads the directory again and starts the program a
// new file adds. `tend check` names the included file and line of an
// error.
func TestIncludeEnvFile(t *testing.T) {
	t.Parallel()
	cfg, dir := svConfig(t, `env_file = "global.env"
include = ["conf.d/*.toml"]

[programs.web]
type = "oneshot"
command = ["env"]
stdout = "prefix"
environment = { FROM = "main" }
`)
	conf := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	putFile(t, filepath.Join(dir, "global.env"), "# for every program\nG=global\nLAYER=global\n")
	putFile(t, filepath.Join(conf, "web.env"), "export W='web # not a comment'\nLAYER=web # a comment\nMULTI=\"one\ntwo\"\n")
	// web's own keys: its env file (relative to conf.d) and an
	// environment that replaces the main file's.
	putFile(t, filepath.Join(conf, "10-web.toml"), "[programs.web]\nenv_file = \"web.env\"\nenvironment = { FROM = \"include\" }\n")
	putFile(t, filepath.Join(conf, "20-clean.toml"), `
[programs.clean]
type = "oneshot"
command = ["env"]
stdout = "prefix"
clear_env = true
environment = { C = "c" }
`)
	s := startSv(t, cfg, svOptions{})
	s.tl.waitState("web", "COMPLETED")
	s.tl.waitState("clean", "COMPLETED")

	putFile(t, filepath.Join(conf, "30-late.toml"), "[programs.late]\ntype = \"oneshot\"\ncommand = [\"env\"]\nstdout = \"prefix\"\nclear_env = true\nenv_file = \"web.env\"\n")
	s.signal(syscall.SIGHUP)
	s.tl.waitState("late", "COMPLETED")
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d", code)
	}

	// Every line is in by the time tend has exited.
	env := map[string]map[string]string{}
	var last string // a line without =: the one before's value goes on
	var lastProg string
	for _, line := range s.output() {
		prog, kv, ok := strings.Cut(line, " | ")
		if !ok {
			continue
		}
		if env[prog] == nil {
			env[prog] = map[string]string{}
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok && prog == lastProg {
			env[prog][last] += "\n" + kv
			continue
		}
		env[prog][k], last, lastProg = v, k, prog
	}

	web := env["web"]
	for k, v := range map[string]string{
		"G": "global", "W": "web # not a comment", "LAYER": "web", "MULTI": "one\ntwo",
		"FROM": "include", "TEND_PROGRAM": "web",
		markerEnv: strings.TrimPrefix(s.marker, markerEnv+"="),
	} {
		if web[k] != v {
			t.Errorf("web: %s=%q, want %q", k, web[k], v)
		}
	}
	path, home, name := os.Getenv("PATH"), os.Getenv("HOME"), os.Getenv("USER")
	if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
		home, name = cmp.Or(home, u.HomeDir), cmp.Or(name, u.Username)
	}
	want := map[string]map[string]string{
		// Nothing of tend's but PATH, HOME and USER: not the marker
		// every other process of this tend has.
		"clean": {"PATH": path, "HOME": home, "USER": name, "G": "global", "LAYER": "global", "C": "c", "TEND_PROGRAM": "clean"},
		"late": {"PATH": path, "HOME": home, "USER": name, "G": "global", "LAYER": "web", "W": "web # not a comment",
			"MULTI": "one\ntwo", "TEND_PROGRAM": "late"},
	}
	for prog, w := range want {
		if got := env[prog]; !maps.Equal(got, w) {
			t.Errorf("%s's environment:\n%s\nwant\n%s", prog, envLines(got), envLines(w))
		}
	}

	// tend check: an error in an included file, at its line there.
	putFile(t, filepath.Join(conf, "40-bad.toml"), "\n[programs.bad]\ncommand = 1\n")
	r := startWith(t, options{hostMode: true, raw: []string{"check", "-c", cfg}}, nil)
	if code := r.wait(); code != 2 {
		t.Errorf("tend check exited %d, want 2", code)
	}
	if want := filepath.Join(conf, "40-bad.toml") + ":3: programs.bad.command: expected a string"; !strings.Contains(r.log.String(), want) {
		t.Errorf("tend check said\n%s\nwant a line with %q", r.log.String(), want)
	}
}

// envLines is env as sorted KEY=value lines.
func envLines(env map[string]string) string {
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		lines = append(lines, k+"="+env[k])
	}
	return strings.Join(lines, "\n")
}
