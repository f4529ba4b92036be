package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWarnings checks each warning of Check against a real file system:
// temporary directories, an executable and a non-executable file, a file
// where a directory should be, and a read-only mount for a log directory
// that is not writable (tend runs as root here, and root may write
// anywhere else; without the right to mount, that case is skipped).
// Users and groups are looked up in the real /etc/passwd and /etc/group:
// root exists, the made-up names do not.
func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	mkdir(t, bin)
	writeFile(t, filepath.Join(bin, "app"), 0o755)
	writeFile(t, filepath.Join(bin, "noexec"), 0o644)
	writeFile(t, filepath.Join(dir, "afile"), 0o644)
	mkdir(t, filepath.Join(dir, "logs"))
	ro := filepath.Join(dir, "ro")
	mkdir(t, ro)
	canMount := unix.Mount("tmpfs", ro, "tmpfs", unix.MS_RDONLY, "") == nil
	if canMount {
		t.Cleanup(func() { unix.Unmount(ro, 0) })
	}
	t.Setenv("PATH", "/usr/bin:/bin")

	const prog = "[programs.p]\n" // line 1
	cases := []struct {
		name  string
		src   string // after prog
		want  string // "" for no warning: LINE: KEY: message
		mount bool   // needs the read-only mount
	}{
		{"found in PATH", `command = ["sh", "-c", "x"]`, "", false},
		{"not found", `command = ["no-such-command-x"]`, `2: programs.p.command: command "no-such-command-x" not found in PATH (PATH=/usr/bin:/bin)`, false},
		{"program's PATH", `command = ["app"]` + "\nenvironment = { PATH = \"" + bin + "\" }", "", false},
		{"not in tend's PATH", `command = ["app"]`, `2: programs.p.command: command "app" not found in PATH`, false},
		{"not executable", `command = ["noexec"]` + "\nenvironment = { PATH = \"" + bin + "\" }", `2: programs.p.command: command "noexec" is in PATH but not executable`, false},
		{"absolute", `command = ["` + bin + `/app"]`, "", false},
		{"absolute missing", `command = ["` + bin + `/gone"]`, `2: programs.p.command: command "` + bin + `/gone": stat ` + bin + `/gone: no such file or directory`, false},
		{"relative to directory", "command = [\"./bin/app\"]\ndirectory = \"" + dir + "\"", "", false},
		{"relative, missing", "command = [\"./app\"]\ndirectory = \"" + dir + "\"", `2: programs.p.command: command "./app": stat`, false},
		{"second element", "command = [\n  \"x\",\n  \"y\"]\n", `3: programs.p.command: command "x" not found`, false},
		{"shell form", `command = "no-such-command-x --flag"`, "", false},
		{"healthcheck", "command = \"x\"\n[programs.p.healthcheck]\nexec = [\"no-such-probe\"]", `4: programs.p.healthcheck.exec: command "no-such-probe" not found`, false},
		{"readiness", "command = \"x\"\n[programs.p.readiness]\nexec = [\"no-such-probe\"]", `4: programs.p.readiness.exec: command "no-such-probe" not found`, false},
		{"directory missing", "command = \"x\"\ndirectory = \"" + dir + "/gone\"", `3: programs.p.directory: directory "` + dir + `/gone" does not exist`, false},
		{"directory a file", "command = \"x\"\ndirectory = \"" + dir + "/afile\"", `3: programs.p.directory: directory "` + dir + `/afile" is not a directory`, false},
		{"user root", "command = \"x\"\nuser = \"root:root\"", "", false},
		{"numeric user", "command = \"x\"\nuser = \"12345:12345\"", "", false},
		{"unknown user", "command = \"x\"\nuser = \"no-such-user-x\"", `3: programs.p.user: unknown user "no-such-user-x"`, false},
		{"unknown group", "command = \"x\"\nuser = \"root:no-such-group-x\"", `3: programs.p.user: unknown group "no-such-group-x"`, false},
		{"log ok", "command = \"x\"\nstdout = \"" + dir + "/logs/out.log\"", "", false},
		{"log dir missing", "command = \"x\"\nstderr = \"" + dir + "/gone/err.log\"", `3: programs.p.stderr: log directory "` + dir + `/gone" does not exist`, false},
		{"log dir a file", "command = \"x\"\nstdout = \"" + dir + "/afile/out.log\"", `3: programs.p.stdout: log directory "` + dir + `/afile" is not a directory`, false},
		{"log is a directory", "command = \"x\"\nstdout = \"" + dir + "/logs\"", `3: programs.p.stdout: log file "` + dir + `/logs" is a directory`, false},
		{"log dir read-only", "command = \"x\"\nstdout = \"" + ro + "/out.log\"", `3: programs.p.stdout: log directory "` + ro + `" is not writable: read-only file system`, true},
		{"prefix", "command = \"x\"\nstdout = \"prefix\"", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.mount && !canMount {
				// The tests run as root (README), where the mount works:
				// a skip would read as a pass.
				t.Fatal("cannot mount a read-only tmpfs here")
			}
			path := filepath.Join(t.TempDir(), "t.toml")
			if err := os.WriteFile(path, []byte(prog+c.src+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, ws, err := Check(path)
			if err != nil || cfg == nil {
				t.Fatalf("Check: %v", err)
			}
			var got []string
			for _, w := range ws {
				got = append(got, w.Error())
			}
			switch {
			case c.want == "" && len(ws) > 0:
				t.Errorf("warnings %q, want none", got)
			case c.want != "" && (len(ws) != 1 || !strings.HasPrefix(ws[0].Error(), path+":"+c.want)):
				t.Errorf("warnings %q, want one: %s:%s", got, path, c.want)
			}
		})
	}
}

// TestCheckErrors: a file with errors gets its errors from Check, and
// no warnings.
func TestCheckErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.toml")
	if err := os.WriteFile(path, []byte("[programs.p]\ncommand = [\"no-such-command-x\"]\nstartsecs = -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, ws, err := Check(path)
	if cfg != nil || ws != nil || err == nil || !strings.Contains(err.Error(), path+":3: programs.p.startsecs: must not be negative") {
		t.Errorf("Check = %v, %v, %v; want the error alone", cfg, ws, err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
}

// TestWarningsInIncludes: a warning names the file that set the key,
// and a program's PATH may come from its env file.
func TestWarningsInIncludes(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	mkdir(t, bin)
	writeFile(t, filepath.Join(bin, "app"), 0o755)
	mkdir(t, filepath.Join(dir, "d"))
	t.Setenv("PATH", "/usr/bin:/bin")
	files := map[string]string{
		"tend.toml": "[tend]\ninclude = \"d/*.toml\"\n[programs.web]\ncommand = [\"app\"]\n[programs.api]\ncommand = [\"app\"]\n",
		// web's PATH from an env file: found; api's directory, set here.
		"d/a.toml": "[programs.web]\nenv_file = \"../web.env\"\n\n[programs.api]\ndirectory = \"gone\"\n",
		"web.env":  "PATH=" + bin + "\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, ws, err := Check(filepath.Join(dir, "tend.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.Error())
	}
	want := []string{
		dir + `/tend.toml:6: programs.api.command: command "app" not found in PATH (PATH=/usr/bin:/bin)`,
		dir + `/d/a.toml:5: programs.api.directory: directory "` + dir + `/d/gone" does not exist`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestResourceWarnings: what of the resource keys a system would
// refuse, against made-up systems: root in Docker (no CAP_SYS_RESOURCE,
// no CAP_SYS_NICE), root with every capability, and a user without any.
func TestResourceWarnings(t *testing.T) {
	all := uint64(1)<<(unix.CAP_LAST_CAP+1) - 1
	docker := uint64(0)
	for _, c := range []int{unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FSETID, unix.CAP_FOWNER, unix.CAP_MKNOD,
		unix.CAP_NET_RAW, unix.CAP_SETGID, unix.CAP_SETUID, unix.CAP_SETFCAP, unix.CAP_SETPCAP, unix.CAP_NET_BIND_SERVICE,
		unix.CAP_SYS_CHROOT, unix.CAP_KILL, unix.CAP_AUDIT_WRITE} {
		docker |= 1 << c
	}
	limits := map[int]unix.Rlimit{
		unix.RLIMIT_NOFILE: {Cur: 1024, Max: 4096},
		unix.RLIMIT_NICE:   {Cur: 0, Max: 40},
		unix.RLIMIT_CORE:   {Cur: 0, Max: unix.RLIM_INFINITY},
	}
	rootDocker := privView{root: true, effective: docker, permitted: docker, bounding: docker, rlimits: limits}
	rootAll := privView{root: true, effective: all, permitted: all, bounding: all, rlimits: limits}
	user := privView{rlimits: limits, bounding: all}
	const prog = "[programs.p]\ncommand = \"x\"\n" // lines 1-2
	cases := []struct {
		name string
		v    privView
		src  string
		want []string // LINE: KEY: message
	}{
		{"within the limits", rootDocker, "rlimits = { nofile = [100, 4096], core = \"infinity\" }\nnice = 5\noom_score_adj = 100", nil},
		{"hard limit above", rootDocker, "rlimits = { nofile = [1024, 8192] }",
			[]string{"3: programs.p.rlimits.nofile: hard limit 8192 is above this system's 4096, and raising it takes CAP_SYS_RESOURCE: the program cannot start"}},
		{"hard limit above, with CAP_SYS_RESOURCE", rootAll, "rlimits = { nofile = [1024, 8192] }", nil},
		{"nice below", rootDocker, "nice = -5",
			[]string{"3: programs.p.nice: -5 is below this system's 0, and lowering it takes CAP_SYS_NICE: the program cannot start"}},
		{"nice below, allowed by the program's own nice limit", rootDocker, "nice = -5\nrlimits = { nice = 25 }", nil},
		{"nice below, with CAP_SYS_NICE", rootAll, "nice = -20", nil},
		{"oom below", rootDocker, "oom_score_adj = -500",
			[]string{"3: programs.p.oom_score_adj: -500 is below this system's 0, and lowering it takes CAP_SYS_RESOURCE: the program may not start"}},
		{"capabilities root", rootDocker, "capabilities = [\"NET_BIND_SERVICE\", \"CHOWN\"]", nil},
		{"capabilities not given", rootDocker, "capabilities = [\"NET_BIND_SERVICE\", \"SYS_ADMIN\", \"NET_ADMIN\"]",
			[]string{"3: programs.p.capabilities: this system does not give CAP_NET_ADMIN, CAP_SYS_ADMIN: the program cannot start"}},
		{"capabilities as a user, tend root", rootDocker, "user = \"nobody\"\ncapabilities = [\"NET_BIND_SERVICE\"]", nil},
		{"capabilities without CAP_SETPCAP", user, "capabilities = [\"NET_BIND_SERVICE\"]",
			[]string{"3: programs.p.capabilities: cutting the bounding set takes CAP_SETPCAP, which this system does not give: the program cannot start"}},
		{"all at once", user, "nice = -1\nrlimits = { nofile = 5000 }\noom_score_adj = -1",
			[]string{
				"3: programs.p.nice: -1 is below this system's 0, and lowering it takes CAP_SYS_NICE: the program cannot start",
				"4: programs.p.rlimits.nofile: hard limit 5000 is above this system's 4096, and raising it takes CAP_SYS_RESOURCE: the program cannot start",
				"5: programs.p.oom_score_adj: -1 is below this system's 0, and lowering it takes CAP_SYS_RESOURCE: the program may not start",
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, d, err := parse("t.toml", []byte(prog+c.src+"\n"), nil, mapFiles{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range d.warnings(cfg, []string{"PATH=/usr/bin:/bin"}, c.v) {
				if !strings.Contains(w.Msg, "command") { // x is not found: not this test's
					got = append(got, strings.TrimPrefix(w.Error(), "t.toml:"))
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("warnings\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}
