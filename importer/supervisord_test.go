package importer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tend/config"
)

// importFiles writes files (path in the image → text) under a new root
// and imports /etc/supervisord.conf from it.
func importFiles(t *testing.T, files map[string]string) (*Result, error) {
	t.Helper()
	root := t.TempDir()
	for p, text := range files {
		host := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(host, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Supervisord("/etc/supervisord.conf", Options{Root: root, Hostname: "box",
		LookupEnv: func(k string) (string, bool) {
			v, ok := map[string]string{"CONFD": "conf.d"}[k]
			return v, ok
		}})
}

// TestMapping converts one small configuration per rule and looks for
// lines in the output and in the warnings; every output must load.
func TestMapping(t *testing.T) {
	cases := []struct {
		name  string
		ini   string
		extra map[string]string // more files
		env   map[string]string // for loading the output
		want  []string          // lines (or parts of lines) of the output
		not   []string          // nothing of the output may hold these
		warns []string          // parts of the warnings, in order
		check func(t *testing.T, c *config.Config)
	}{
		{name: "keys", ini: `[program:web]
command = /usr/bin/web --port 80
directory = /srv
user = www-data
umask = 22
autostart = no
autorestart = unexpected
exitcodes = 0, 2
startsecs = 5
startretries = 7
stopsignal = sigquit
stopwaitsecs = 30
`, want: []string{
			`command = ["/usr/bin/web", "--port", "80"]`, `directory = "/srv"`, `user = "www-data"`, `umask = "022"`,
			`autostart = false`, `autorestart = "on-failure" # autorestart = unexpected`, `exitcodes = [0, 2]`,
			`startsecs = 5`, `startretries = 7`, `stopsignal = "QUIT"`, `stopwaitsecs = 30`,
		}, warns: nil},
		{name: "autorestart true and false", ini: "[program:a]\ncommand=a\nautorestart=true\n[program:b]\ncommand=b\nautorestart=0\n",
			want: []string{`autorestart = "always"`, `autorestart = "never"`}},
		{name: "logs", ini: `[program:a]
command = a
stdout_logfile = /var/log/a.log
stdout_logfile_maxbytes = 1kb
stdout_logfile_backups = 3
stderr_logfile = NONE
[program:b]
command = b
redirect_stderr = true
stdout_logfile = /var/log/b.log
stderr_logfile = /var/log/ignored.log
[program:c]
command = c
stdout_logfile = /dev/stderr
stderr_logfile = /proc/1/fd/1
[program:d]
command = d
stdout_logfile = ~/d.log
stderr_logfile = /dev/console
[program:e]
command = e
stdout_logfile = syslog
stderr_syslog = true
`, want: []string{
			`stdout = "/var/log/a.log"`, `stdout_maxbytes = "1KB"`, `stdout_backups = 3`,
			`stderr = "/dev/null" # stderr_logfile = NONE`, `stderr_maxbytes = 0`,
			`stdout = "/var/log/b.log"`, `stderr = "/var/log/b.log" # redirect_stderr = true`,
			`stdout = "inherit" # stdout_logfile = /dev/stderr: tend's stdout, not its stderr`,
			`stderr = "inherit" # stderr_logfile = /proc/1/fd/1: tend's stderr, not its stdout`,
			`stdout = "${HOME}/d.log"`, `stderr = "/dev/console" # a device: never rotated`,
		}, warns: []string{
			"[program:b] stderr_logfile: ignored with redirect_stderr = true",
			"[program:e] stdout_logfile: tend does not write to syslog",
			"[program:e] stderr_syslog: tend does not copy output to syslog",
		}, env: map[string]string{"HOME": "/root"}, check: func(t *testing.T, c *config.Config) {
			want(t, "a maxbytes", c.Lookup("a").Stdout.MaxBytes, int64(1024))
			want(t, "d stdout", c.Lookup("d").Stdout.Path, "/root/d.log")
		}},
		{name: "environment", ini: `[supervisord]
environment = GLOBAL="g",SHARED="from supervisord"
[program:a]
command = /bin/a --dir=%(ENV_DATA)s
environment = DATA="/data",SHARED="mine",PATH="/opt/bin:%(ENV_PATH)s"
directory = %(ENV_DATA)s/work
`, want: []string{
			`command = ["/bin/a", "--dir=/data"]`,
			`environment = { GLOBAL = "g", SHARED = "mine", DATA = "/data", PATH = "/opt/bin:${PATH}" } # with [supervisord] environment`,
			`directory = "/data/work"`,
		}, env: map[string]string{"PATH": "/bin"}, check: func(t *testing.T, c *config.Config) {
			want(t, "PATH", c.Lookup("a").Environment["PATH"], "/opt/bin:/bin")
		}},
		{name: "ENV in quotes stays one word", ini: `[program:a]
command = /bin/a --name="%(ENV_NAME)s" '%(ENV_X)s'
`, want: []string{`command = ["/bin/a", "--name=${NAME}", "${X}"]`},
			env: map[string]string{"NAME": "a b"}, check: func(t *testing.T, c *config.Config) {
				want(t, "command", c.Lookup("a").Command, []string{"/bin/a", "--name=a b", ""})
			}},
		{name: "ENV outside quotes is split by the shell", ini: `[program:a]
command = %(ENV_CMD)s --x "%(ENV_Y)s" 'lit eral'
`, want: []string{`command = "exec ${CMD} --x \"$${Y}\" 'lit eral'"`, "# command: run by /bin/sh -c: supervisord split ${CMD} into words"},
			env: map[string]string{"CMD": "app -v"}, check: func(t *testing.T, c *config.Config) {
				want(t, "command", c.Lookup("a").Command, []string{"/bin/sh", "-c", `exec app -v --x "${Y}" 'lit eral'`})
			}},
		{name: "numprocs with process_num in the command", ini: `[program:w]
command = /bin/w --port=80%(process_num)02d --id %(process_num)d
process_name = %(program_name)s_%(process_num)s
numprocs = 3
numprocs_start = 1
`, want: []string{
			`command = "exec /bin/w --port=80$(printf '%02d' $((TEND_INSTANCE+1))) --id $((TEND_INSTANCE+1))"`,
			"instances = 3", "# numprocs = 3: instances w:0 to w:2 (supervisord named them w_1 to w_3)",
		}, check: func(t *testing.T, c *config.Config) {
			want(t, "programs", len(c.Programs), 3)
		}},
		{name: "numprocs with process_num in a log file", ini: `[program:w]
command = /bin/w %(process_num)d
process_name = w-%(process_num)d
numprocs = 2
stdout_logfile = /var/log/w-%(process_num)d.log
`, want: []string{
			"[programs.w-0]", `command = ["/bin/w", "0"]`, `stdout = "/var/log/w-0.log"`,
			"[programs.w-1]", `command = ["/bin/w", "1"]`, `stdout = "/var/log/w-1.log"`,
		}, not: []string{"instances"}},
		{name: "numprocs 0", ini: "[program:w]\ncommand=w\nnumprocs=0\n", want: []string{"numprocs = 0: supervisord runs no process of it"},
			not: []string{"[programs."}},
		{name: "names and here", ini: `[program:web]
process_name = %(program_name)s
command = %(here)s/bin/%(program_name)s --group %(group_name)s --host %(host_node_name)s
`, want: []string{`command = "exec /etc/bin/web --group web --host ${HOSTNAME}"`}},
		{name: "include", ini: "[supervisord]\n[include]\nfiles = %(ENV_CONFD)s/*.conf missing/*.ini\n", extra: map[string]string{
			"/etc/conf.d/b.conf":       "[program:b]\ncommand = %(here)s/b\n[include]\nfiles = nothing\n",
			"/etc/conf.d/a.conf":       "[program:a]\ncommand = a\n",
			"/etc/conf.d/.hidden.conf": "[program:hidden]\ncommand = h\n",
		}, want: []string{"read /etc/conf.d/a.conf, /etc/conf.d/b.conf", "[programs.a]", `command = ["/etc/conf.d/b"]`},
			not:   []string{"hidden"},
			warns: []string{"[include] files: no file matches /etc/missing/*.ini", "/etc/conf.d/b.conf:3: [include] an included file cannot include others"}},
		{name: "groups and priorities", ini: `[group:x]
programs = b, c
priority = 5
[program:a]
command = a
priority = 1
[program:b]
command = b
priority = 100
[program:c]
command = c
[program:d]
command = d
[program:e]
command = e
priority = 7
autostart = false
`, want: []string{`depends_on = ["a"] # priority 5 starts after 1`, "programs b, c: tend has no groups"},
			warns: []string{"[program:a] priority: the start order", "[program:e] priority: not put in the start order: autostart = false"},
			check: func(t *testing.T, c *config.Config) {
				want(t, "b deps", len(c.Lookup("b").DependsOn), 1)
				want(t, "c deps", len(c.Lookup("c").DependsOn), 1)
				want(t, "d deps", len(c.Lookup("d").DependsOn), 0)
			}},
		{name: "one priority", ini: "[program:a]\ncommand=a\npriority=1\n[program:b]\ncommand=b\n[group:g]\nprograms=c\n[program:c]\ncommand=c\npriority=3\n",
			not: []string{"depends_on ="},
			warns: []string{"[program:a] priority: puts it in the start order against the programs at the default priority, 999",
				"[program:c] priority: orders c only among the programs of [group:g]"}},
		{name: "a program in two groups", ini: "[group:g1]\nprograms=a\n[group:g2]\nprograms=a\n[program:a]\ncommand=a %(group_name)s\n",
			want: []string{"[programs.a]", `command = ["a", "g1"]`, "[programs.g2_a]", `command = ["a", "g2"]`}},
		{name: "DEFAULT", ini: "[DEFAULT]\nautorestart = false\nbogus = 1\n[program:a]\ncommand = a\n[program:b]\ncommand = b\nautorestart = true\n",
			want:  []string{`autorestart = "never" # autorestart = false`, `autorestart = "always" # autorestart = true`},
			warns: []string{"[DEFAULT] bogus: no section reads it"}},
		{name: "sections tend has not", ini: `[unix_http_server]
file = /tmp/s.sock
[inet_http_server]
port = 9001
[eventlistener:crash]
command = crashmail -a
events = PROCESS_STATE_FATAL
[fcgi-program:php]
command = php-cgi
socket = unix:///tmp/php.sock
[rpcinterface:custom]
supervisor.rpcinterface_factory = my.module:make
[ctlplugin:x]
[strange]
[program:a]
command = a
typo_key = 1
stopasgroup = false
stdout_events_enabled = true
serverurl = http://127.0.0.1:9001
`, want: []string{"[eventlistener:crash] /etc/supervisord.conf:6: command = crashmail -a", "tend ctl talks to tend on its control socket"},
			warns: []string{"[inet_http_server] tend has no TCP control port", "[eventlistener:crash] tend has no event listeners",
				"[fcgi-program:php] tend does not open sockets", "[rpcinterface:custom] an XML-RPC interface", "[ctlplugin:x] a supervisorctl plugin",
				"[strange] not a section supervisord knows", "[program:a] typo_key: not a [program:x] setting",
				"[program:a] stopasgroup: false: tend signals the program's whole process group",
				"[program:a] stdout_events_enabled", "[program:a] serverurl"}},
		{name: "supervisord section", ini: `[supervisord]
user = app
umask = 077
minfds = 65536
strip_ansi = true
pidfile = /run/sv.pid
nodaemon = false
[program:a]
command = sh -c "kill $(cat /run/sv.pid)"
[program:b]
command = supervisorctl stop a
user = other
[program:c]
command = /usr/bin/pidproxy /run/c.pid /usr/bin/c
`, want: []string{`user = "app" # [supervisord] user`, `user = "other"`, `command = ["sh", "-c", "kill $(cat /run/sv.pid)"]`},
			warns: []string{"[supervisord] umask: supervisord sets this umask when it daemonizes", "[supervisord] minfds: supervisord raises RLIMIT_NOFILE to at least 65536",
				"[supervisord] strip_ansi", "[program:a] command: reads supervisord's pid file /run/sv.pid", "[program:b] command: runs supervisorctl",
				"[program:c] command: pidproxy comes with supervisord"}},
		{name: "dollars and TOML escapes", ini: `[program:a]
command = /bin/sh -c 'echo $HOME ${X} $$ "q" \t'
environment = A="x\y"
`, want: []string{`command = ["/bin/sh", "-c", "echo $HOME $${X} $$$ \"q\" \\t"]`, `environment = { A = "x\\y" }`},
			check: func(t *testing.T, c *config.Config) {
				want(t, "command", c.Lookup("a").Command[2], `echo $HOME ${X} $$ "q" \t`)
			}},
		{name: "names tend takes", ini: "[program:a@b]\ncommand=a\n[program:.x]\ncommand=x\n",
			want: []string{"[programs.a_b]", "# tend names it a_b", "[programs._x]"}},
		{name: "empty and unsplittable commands", ini: "[program:a]\ncommand=\n[program:b]\ncommand=echo 'unclosed\n[program:c]\ncommand=c\nexitcodes=\n",
			want: []string{"# [programs.a]", "# [programs.b]", "# tend cannot run it", "[programs.c]"},
			warns: []string{"[program:a] command: empty", "[program:b] command: supervisord cannot split it (no closing quotation)",
				"[program:c] exitcodes: empty"}},
		{name: "stopwaitsecs sets shutdown_timeout", ini: "[program:a]\ncommand=a\nstopwaitsecs=100\n[program:b]\ncommand=b\n",
			want: []string{`shutdown_timeout = "105s"`}},
		{name: "numbers from the environment", ini: "[program:a]\ncommand=a\nstartsecs=%(ENV_SECS)s\nnumprocs=%(ENV_N)s\npriority=%(ENV_P)s\n" +
			"[group:g]\nprograms=a\npriority=%(ENV_GP)s\n[supervisord]\nnodaemon=%(ENV_ND)s\n",
			not: []string{"startsecs =", "depends_on ="},
			warns: []string{"[program:a] startsecs: depends on $SECS", "[program:a] numprocs: depends on $N",
				"[program:a] priority: depends on $P", "[group:g] priority: depends on $GP"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"/etc/supervisord.conf": tc.ini}
			for k, v := range tc.extra {
				files[k] = v
			}
			res, err := importFiles(t, files)
			if err != nil {
				t.Fatal(err)
			}
			out := string(res.TOML)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in\n%s", w, out)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(out, w) {
					t.Errorf("%q in\n%s", w, out)
				}
			}
			var warns []string
			for _, w := range res.Warnings.List {
				warns = append(warns, w.String())
			}
			all := strings.Join(warns, "\n")
			for _, w := range tc.warns {
				i := strings.Index(all, w)
				if i < 0 {
					t.Errorf("no warning %q in\n%s", w, all)
					continue
				}
				// Each warning is also a comment in the output.
				line := all[strings.LastIndex(all[:i], "\n")+1:]
				if j := strings.IndexByte(line, '\n'); j >= 0 {
					line = line[:j]
				}
				if !strings.Contains(out, "# warning: "+line) {
					t.Errorf("warning %q is not in the output", line)
				}
			}
			if len(tc.warns) == 0 && len(warns) > 0 && tc.name == "keys" {
				t.Errorf("warnings: %q", warns)
			}
			c, err := config.Parse("out.toml", res.TOML, func(k string) (string, bool) {
				v, ok := tc.env[k]
				return v, ok
			})
			if err != nil {
				t.Fatalf("tend does not take the output: %v\n%s", err, out)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestErrors: what supervisord refuses is an error, at its line, all of
// them at once.
func TestErrors(t *testing.T) {
	cases := []struct {
		ini  string
		want []string
	}{
		{"[program:a]\ncommand=a\nautostart=maybe\nstartsecs=soon\n", []string{
			`/etc/supervisord.conf:3: [program:a] autostart: "maybe" is not a boolean`,
			`/etc/supervisord.conf:4: [program:a] startsecs: "soon" is not an integer`}},
		{"[program:a]\nautostart=true\n", []string{"/etc/supervisord.conf:1: [program:a] command: missing"}},
		{"[program:a]\ncommand=%(nope)s\n", []string{"/etc/supervisord.conf:2: [program:a] command: %(nope)s: no such name here (there are group_name, here, host_node_name, numprocs, process_num, program_name, ENV_*)"}},
		{"[program:a]\ncommand=a\nuser=%(process_num)d\n", []string{"[program:a] user: %(process_num)s: no such name here"}},
		{"[program:a]\ncommand=100%\n", []string{"[program:a] command: a % at the end"}},
		{"[program:a]\ncommand=a\nnumprocs=2\n", []string{"[program:a] process_name: must hold %(process_num) when numprocs > 1"}},
		{"[program:a]\ncommand=a\nnumprocs=1001\nprocess_name=%(process_num)d\n", []string{"numprocs: 1001: tend runs at most 1000"}},
		{"[program:a]\ncommand=a\nstopasgroup=true\nkillasgroup=false\n", []string{"/etc/supervisord.conf:4: [program:a] killasgroup: false with stopasgroup = true"}},
		{"[program:a]\ncommand=a\nstopsignal=BOGUS\nautorestart=sometimes\nexitcodes=1,300\n", []string{
			`stopsignal: unknown signal "BOGUS"`, `autorestart: "sometimes": want true, false or unexpected`, `exitcodes: "1,300" is not a list`}},
		{"[program:a b]\ncommand=a\n", []string{"[program:a b] a program name that is empty or has a space"}},
		{"[group:g]\nprograms=nope\n", []string{"[group:g] programs: no [program:nope]"}},
		{"[program:a]\ncommand=a\nenvironment=A=1 B=2\n", []string{"[program:a] environment: not KEY=VALUE pairs"}},
		{"[program:a]\ncommand=%(ENV_A-B)s\n", []string{"[program:a] command: %(ENV_A-B)s: tend expands only names"}},
		{"command=a\n[program:a]\n", []string{"/etc/supervisord.conf:1: a line before the first [section] header"}},
		{"[program:a]\ncommand=a\nbogus line\nalso bogus\n", []string{
			`/etc/supervisord.conf:3: neither a [section] header nor KEY = VALUE: "bogus line"`,
			`/etc/supervisord.conf:4: neither a [section] header nor KEY = VALUE: "also bogus"`}},
		{"[program:a]\ncommand=\xff\n", []string{"/etc/supervisord.conf:2: not UTF-8 text"}},
		{"[include]\n", []string{"[include] no files ="}},
	}
	for _, tc := range cases {
		_, err := importFiles(t, map[string]string{"/etc/supervisord.conf": tc.ini})
		var es *Errors
		if !errors.As(err, &es) {
			t.Errorf("%q: %v, want errors", tc.ini, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: no %q in\n%v", tc.ini, w, err)
			}
		}
	}
	// A main file that cannot be read is an error too.
	if _, err := Supervisord(filepath.Join(t.TempDir(), "none.conf"), Options{}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a missing file: %v", err)
	}
}
