package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// parseErrors parses src as t.toml and returns its error text.
func parseErrors(t *testing.T, src string) string {
	t.Helper()
	c, err := Parse("t.toml", []byte(src), testEnv)
	if err == nil {
		t.Fatalf("no error; config %+v", c)
	}
	var es *Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %T is not *Errors: %v", err, err)
	}
	for _, e := range *es {
		if e.Line <= 0 {
			t.Errorf("error without a line: %+v", e)
		}
	}
	return err.Error()
}

func TestErrors(t *testing.T) {
	const prog = "[programs.p]\ncommand = \"p\"\n" // lines 1-2
	tests := []struct {
		name string
		src  string
		want string
	}{
		// Syntax.
		{"syntax", "[programs.p]\ncommand = \"p\n",
			`t.toml:2: invalid TOML: strings cannot contain newlines`},
		{"escape at end", "a = 1\nb = \"\\", `t.toml:2: invalid TOML: invalid escape in string '\\x00'`},
		{"in multiline string", "a = \"\"\"\nx\n\\q\"\"\"", `t.toml:3: invalid TOML: invalid escape in string '\q'`},
		{"control character", "a = 1\n\x00", `t.toml:2: invalid TOML: TOML files cannot contain control characters: '0x00'`},
		{"duplicate key", prog + "command = \"q\"",
			`t.toml:3: invalid TOML: Key 'programs.p.command' has already been defined.`},

		// Unknown keys.
		{"unknown top", "[programz.p]\ncommand = 1",
			`t.toml:1: programz: unknown key; did you mean "programs"?`},
		{"unknown tend", "[tend]\nverbose = true",
			`t.toml:2: tend.verbose: unknown key`},
		{"unknown program key", prog + "autorestrat = \"never\"",
			`t.toml:3: programs.p.autorestrat: unknown key; did you mean "autorestart"?`},
		{"supervisord spelling", prog + "stdout_logfile = \"/x\"",
			`t.toml:3: programs.p.stdout_logfile: unknown key`},
		{"unknown healthcheck key", prog + "[programs.p.healthcheck]\ntcp = \"h:1\"\nintervall = 1",
			`t.toml:5: programs.p.healthcheck.intervall: unknown key; did you mean "interval"?`},
		{"unknown backoff key", prog + "backoff = { intial = 1, max = 2 }",
			`t.toml:3: programs.p.backoff.intial: unknown key; did you mean "initial"?`},

		// Wrong types.
		{"tend not a table", "tend = 1", `t.toml:1: tend: expected a table, got integer 1`},
		{"programs not a table", "programs = [1]", `t.toml:1: programs: expected a table, got array`},
		{"program not a table", "programs.p = \"x\"", `t.toml:1: programs.p: expected a table, got string "x"`},
		{"array of tables", "[[programs.p]]\ncommand = \"x\"", `t.toml:1: programs.p: expected a table, got array of tables`},
		{"command type", "[programs.p]\ncommand = 5",
			`t.toml:2: programs.p.command: expected a string (run by /bin/sh -c) or an array of strings, got integer 5`},
		{"command element", "[programs.p]\ncommand = [\n  \"a\",\n  5,\n]",
			`t.toml:4: programs.p.command: expected a string, got integer 5`},
		{"bool", prog + "autostart = \"yes\"", `t.toml:3: programs.p.autostart: expected a boolean, got string "yes"`},
		{"integer", prog + "startretries = 1.5", `t.toml:3: programs.p.startretries: expected an integer, got float 1.5`},
		{"datetime", prog + "startretries = 2024-01-01", `t.toml:3: programs.p.startretries: expected an integer, got datetime`},
		{"exitcodes", prog + "exitcodes = \"0\"", `t.toml:3: programs.p.exitcodes: expected an array of integers, got string "0"`},
		{"environment table", prog + "environment = { A = { B = 1 } }", `t.toml:3: programs.p.environment.A: expected a string, got table`},
		{"depends_on string", prog + "depends_on = \"db\"",
			`t.toml:3: programs.p.depends_on: expected an array of program names or a table of name = condition, got string "db"`},
		{"stopsignal type", prog + "stopsignal = true",
			`t.toml:3: programs.p.stopsignal: expected a signal name like "TERM" or a number, got boolean true`},
		{"umask type", prog + "umask = 0.5", `t.toml:3: programs.p.umask: expected an octal string like "022", got float 0.5`},
		{"maxbytes type", prog + "stdout_maxbytes = 1.5",
			`t.toml:3: programs.p.stdout_maxbytes: expected a size (bytes, or a string like "10MB"), got float 1.5`},
		{"factor type", prog + "backoff = { factor = \"2\" }", `t.toml:3: programs.p.backoff.factor: expected a number, got string "2"`},
		{"healthcheck type", prog + "healthcheck = \"curl\"", `t.toml:3: programs.p.healthcheck: expected a table, got string "curl"`},

		// Bad values.
		{"missing command", "[programs.p]\ntype = \"longrun\"", `t.toml:1: programs.p.command: required key is missing`},
		{"empty command", "[programs.p]\ncommand = \"  \"", `t.toml:2: programs.p.command: must not be empty`},
		{"empty argv", "[programs.p]\ncommand = []", `t.toml:2: programs.p.command: must not be empty`},
		{"empty argv0", "[programs.p]\ncommand = [\"\", \"x\"]", `t.toml:2: programs.p.command: program name must not be empty`},
		{"type", prog + "type = \"daemon\"", `t.toml:3: programs.p.type: "daemon" is not one of "longrun" or "oneshot"`},
		{"autorestart", prog + "autorestart = \"unexpected\"",
			`t.toml:3: programs.p.autorestart: "unexpected" is not one of "always", "on-failure" or "never"`},
		{"oneshot always", prog + "type = \"oneshot\"\nautorestart = \"always\"",
			`t.toml:4: programs.p.autorestart: a oneshot cannot restart "always": it would run again each time it completes; make it a longrun, or use "on-failure"`},
		{"exit code range", prog + "exitcodes = [0, 256]", `t.toml:3: programs.p.exitcodes: must be between 0 and 255, not 256`},
		{"startretries negative", prog + "startretries = -1", `t.toml:3: programs.p.startretries: must be between 0 and 2147483647, not -1`},
		{"signal name", prog + "stopsignal = \"SIGFOO\"", `t.toml:3: programs.p.stopsignal: unknown signal "SIGFOO"`},
		{"signal number", prog + "stopsignal = 65", `t.toml:3: programs.p.stopsignal: signal number 65 out of range 1-64`},
		{"signal zero", prog + "stopsignal = \"0\"", `t.toml:3: programs.p.stopsignal: signal number 0 out of range 1-64`},
		{"signal negative", prog + "stopsignal = -9", `t.toml:3: programs.p.stopsignal: unknown signal "-9"`},
		{"user syntax", prog + "user = \"a b\"",
			`t.toml:3: programs.p.user: "a b" is not a user: want "name", "uid", "name:group" or "uid:gid"`},
		{"user empty group", prog + "user = \"a:\"",
			`t.toml:3: programs.p.user: "a:" is not a user: want "name", "uid", "name:group" or "uid:gid"`},
		{"uid range", prog + "user = \"4294967295\"", `t.toml:3: programs.p.user: uid 4294967295 out of range`},
		{"gid range", prog + "user = \"1:99999999999\"", `t.toml:3: programs.p.user: gid 99999999999 out of range`},
		{"umask string", prog + "umask = \"9\"", `t.toml:3: programs.p.umask: bad mode "9": want octal digits, like "022"`},
		{"umask range", prog + "umask = 0o1000", `t.toml:3: programs.p.umask: must be between 0 and 0o777, not 01000`},
		{"env name", prog + "environment = { \"A=B\" = \"x\" }", `t.toml:3: programs.p.environment."A=B": bad variable name "A=B"`},
		{"instances zero", prog + "instances = 0", `t.toml:3: programs.p.instances: must be between 1 and 1000, not 0`},
		{"instances many", prog + "instances = 100000", `t.toml:3: programs.p.instances: must be between 1 and 1000, not 100000`},
		{"program name", "[programs.\"a:b\"]\ncommand = \"x\"",
			`t.toml:1: programs."a:b": bad program name "a:b": use letters, digits, _, - and . (a : is added by instances)`},
		{"stdout empty", prog + "stdout = \"\"", `t.toml:3: programs.p.stdout: must be "inherit", "prefix", "json" or a file path, not ""`},
		{"maxbytes", prog + "stdout_maxbytes = \"10XB\"", `t.toml:3: programs.p.stdout_maxbytes: bad size "10XB": want bytes, or a number with KB, MB or GB`},
		{"maxbytes negative", prog + "stdout_maxbytes = -1", `t.toml:3: programs.p.stdout_maxbytes: must not be negative, not -1`},
		{"backups", prog + "stdout_backups = -1", `t.toml:3: programs.p.stdout_backups: must be between 0 and 2147483647, not -1`},
		{"factor", prog + "backoff = { factor = 0.5 }", `t.toml:3: programs.p.backoff.factor: must be between 1 and 1000, not 0.5`},
		{"backoff max", prog + "[programs.p.backoff]\ninitial = \"1m\"\nmax = \"10s\"",
			`t.toml:5: programs.p.backoff.max: max (10s) is less than initial (1m0s)`},
		{"backoff max default", prog + "backoff = { initial = \"1m\" }",
			`t.toml:3: programs.p.backoff.max: max (30s) is less than initial (1m0s)`},
		{"backoff reset", prog + "backoff = { reset = \"-1s\" }",
			`t.toml:3: programs.p.backoff.reset: must not be negative, not -1s`},
		{"restart_limit not a table", prog + "restart_limit = 5",
			`t.toml:3: programs.p.restart_limit: expected a table, got integer 5`},
		{"restart_limit no count", prog + "[programs.p.restart_limit]\nwindow = \"1m\"",
			`t.toml:3: programs.p.restart_limit.count: required key is missing`},
		{"restart_limit count", prog + "restart_limit = { count = -1 }",
			`t.toml:3: programs.p.restart_limit.count: must be between 0 and 10000, not -1`},
		{"restart_limit count big", prog + "restart_limit = { count = 10001 }",
			`t.toml:3: programs.p.restart_limit.count: must be between 0 and 10000, not 10001`},
		{"restart_limit window", prog + "restart_limit = { count = 3, window = 0 }",
			`t.toml:3: programs.p.restart_limit.window: must be more than 0s`},
		{"restart_limit key", prog + "restart_limit = { count = 3, windw = \"1m\" }",
			`t.toml:3: programs.p.restart_limit.windw: unknown key; did you mean "window"?`},

		// Healthchecks.
		{"no probe", prog + "[programs.p.healthcheck]\ninterval = 1",
			`t.toml:3: programs.p.healthcheck: needs a probe: one of exec, http or tcp`},
		{"two probes", prog + "[programs.p.healthcheck]\ntcp = \"h:1\"\nhttp = \"http://h/\"",
			`t.toml:3: programs.p.healthcheck: has http and tcp: only one of exec, http or tcp may be set`},
		{"https", prog + "healthcheck = { http = \"https://h/\" }",
			`t.toml:3: programs.p.healthcheck.http: "https://h/" is not an http:// URL`},
		{"http no host", prog + "healthcheck = { http = \"http:///x\" }",
			`t.toml:3: programs.p.healthcheck.http: "http:///x" is not an http:// URL`},
		{"tcp no port", prog + "healthcheck = { tcp = \"localhost\" }",
			`t.toml:3: programs.p.healthcheck.tcp: "localhost" is not a host:port address with a port from 1 to 65535`},
		{"tcp bad port", prog + "healthcheck = { tcp = \"h:99999\" }",
			`t.toml:3: programs.p.healthcheck.tcp: "h:99999" is not a host:port address with a port from 1 to 65535`},
		{"exec empty", prog + "healthcheck = { exec = [] }", `t.toml:3: programs.p.healthcheck.exec: must not be empty`},
		{"interval zero", prog + "healthcheck = { tcp = \"h:1\", interval = 0 }",
			`t.toml:3: programs.p.healthcheck.interval: must be more than 0s`},
		{"timeout zero", prog + "healthcheck = { tcp = \"h:1\", timeout = \"0s\" }",
			`t.toml:3: programs.p.healthcheck.timeout: must be more than 0s`},
		{"retries zero", prog + "healthcheck = { tcp = \"h:1\", retries = 0 }",
			`t.toml:3: programs.p.healthcheck.retries: must be between 1 and 2147483647, not 0`},
		{"on_unhealthy", prog + "healthcheck = { tcp = \"h:1\", on_unhealthy = \"kill\" }",
			`t.toml:3: programs.p.healthcheck.on_unhealthy: "kill" is not one of "restart" or "ignore"`},

		// Readiness.
		{"ready kind", prog + "ready = \"up\"", `t.toml:3: programs.p.ready: "up" is not one of "started", "notify" or "healthy"`},
		{"ready type", prog + "ready = 3", `t.toml:3: programs.p.ready: expected "started", "notify", "healthy", { fd = N } or { log = "pattern" }, got integer 3`},
		{"ready fd low", prog + "ready = { fd = 2 }", `t.toml:3: programs.p.ready.fd: must be between 3 and 255, not 2`},
		{"ready fd and log", prog + "stdout = \"prefix\"\nready = { fd = 3, log = \"x\" }", `t.toml:4: programs.p.ready: has fd and log: only one of them may be set`},
		{"ready empty table", prog + "ready = {}", `t.toml:3: programs.p.ready: needs fd = N or log = "pattern"`},
		{"ready unknown key", prog + "ready = { file = 3 }", "t.toml:3: programs.p.ready: needs fd = N or log = \"pattern\"\nt.toml:3: programs.p.ready.file: unknown key"},
		{"ready log pattern", prog + "stdout = \"prefix\"\nready = { log = \"a(b\" }", "t.toml:4: programs.p.ready.log: \"a(b\": missing closing ): `(b`"},
		{"ready log unsupported", prog + "stdout = \"prefix\"\nready = { log = '\\pL' }", "t.toml:4: programs.p.ready.log: \"\\\\pL\": `\\p` is not supported by tend's patterns (a subset of Go's regexp: see docs/config.md, Log patterns)"},
		{"ready log empty", prog + "stdout = \"prefix\"\nready = { log = \"\" }", `t.toml:4: programs.p.ready.log: an empty pattern matches every line: write "." for "any line"`},
		{"ready log inherit", prog + "ready = { log = \"up\" }",
			`t.toml:3: programs.p.ready: a log pattern needs output tend reads: set stdout or stderr to "prefix" or a file (with "inherit" the program writes to tend's own stdout and stderr directly)`},
		{"ready healthy no check", prog + "ready = \"healthy\"", `t.toml:3: programs.p.ready: "healthy" needs a check: [programs.p.readiness] or [programs.p.healthcheck]`},
		{"ready oneshot", prog + "type = \"oneshot\"\nready = \"notify\"", `t.toml:4: programs.p.ready: a oneshot is ready when it is COMPLETED: ready is for longruns`},
		{"readiness oneshot", prog + "type = \"oneshot\"\n[programs.p.readiness]\ntcp = \"h:1\"", `t.toml:4: programs.p.readiness: a oneshot is ready when it is COMPLETED: readiness is for longruns`},
		{"ready_timeout without ready", prog + "ready_timeout = \"5s\"",
			`t.toml:3: programs.p.ready_timeout: needs a ready setting other than "started": a program is then STARTING until ready, and ready_timeout bounds that`},
		{"ready_timeout zero", prog + "ready = \"notify\"\nready_timeout = 0", `t.toml:4: programs.p.ready_timeout: must be more than 0s`},
		{"watchdog without notify", prog + "ready = { fd = 3 }\nwatchdog = \"10s\"",
			`t.toml:4: programs.p.watchdog: needs ready = "notify": the keep-alive is WATCHDOG=1 on the program's NOTIFY_SOCKET`},
		{"watchdog zero", prog + "ready = \"notify\"\nwatchdog = 0", `t.toml:4: programs.p.watchdog: must be more than 0s`},
		{"readiness on_unhealthy", prog + "[programs.p.readiness]\ntcp = \"h:1\"\non_unhealthy = \"ignore\"",
			`t.toml:5: programs.p.readiness.on_unhealthy: a readiness check never restarts its program: on_unhealthy belongs in [programs.p.healthcheck]`},
		{"readiness no probe", prog + "[programs.p.readiness]\ninterval = 1", `t.toml:3: programs.p.readiness: needs a probe: one of exec, http or tcp`},
		{"ready dep on oneshot", prog + "depends_on = { q = \"ready\" }\n[programs.q]\ncommand = \"x\"\ntype = \"oneshot\"",
			`t.toml:3: programs.p.depends_on.q: "ready" needs a longrun, and q is a oneshot: wait for "completed"`},
		{"dep table bad key", prog + "depends_on = { q = { condition = \"ready\", restrat = true } }\n[programs.q]\ncommand = \"x\"",
			`t.toml:3: programs.p.depends_on.q.restrat: unknown key; did you mean "restart"?`},
		{"dep table restart type", prog + "depends_on = { q = { restart = 1 } }\n[programs.q]\ncommand = \"x\"",
			`t.toml:3: programs.p.depends_on.q.restart: expected a boolean, got integer 1`},
		{"dep condition type", prog + "depends_on = { q = 1 }\n[programs.q]\ncommand = \"x\"",
			`t.toml:3: programs.p.depends_on.q: expected a condition ("running", "ready", "healthy" or "completed") or a table { condition = …, restart = true }, got integer 1`},
		{"on_start_timeout", "[tend]\non_start_timeout = \"abort\"", `t.toml:2: tend.on_start_timeout: "abort" is not one of "continue" or "fail"`},
		{"start_timeout", "[tend]\nstart_timeout = \"x\"", `t.toml:2: tend.start_timeout: bad duration "x": want seconds or a duration like "1.5s" or "250ms"`},

		// Schedules.
		{"schedule on a longrun", prog + "schedule = \"@hourly\"", `t.toml:3: programs.p.schedule: only a oneshot runs on a schedule: add type = "oneshot"`},
		{"every on a longrun", prog + "every = \"1h\"", `t.toml:3: programs.p.every: only a oneshot runs on a schedule: add type = "oneshot"`},
		{"schedule and every", prog + "type = \"oneshot\"\nschedule = \"@hourly\"\nevery = \"1h\"", `t.toml:5: programs.p.every: give schedule or every, not both`},
		{"bad cron", prog + "type = \"oneshot\"\nschedule = \"61 * * * *\"",
			`t.toml:4: programs.p.schedule: "61 * * * *" is not a cron schedule: end of range (61) above maximum (59): 61 (five fields: minute hour day-of-month month day-of-week, or @hourly, @daily, @every 1h…)`},
		{"cron that panics the parser", prog + "type = \"oneshot\"\nschedule = \"CRON_TZ=UTC\"",
			`t.toml:4: programs.p.schedule: "CRON_TZ=UTC" is not a cron schedule: malformed (runtime error: slice bounds out of range [:-1]) (five fields: minute hour day-of-month month day-of-week, or @hourly, @daily, @every 1h…)`},
		{"every too short", prog + "type = \"oneshot\"\nevery = \"10ms\"", `t.toml:4: programs.p.every: must be at least 1s, not 10ms`},

		// [tend].
		{"shutdown_timeout", "[tend]\nshutdown_timeout = 0", `t.toml:2: tend.shutdown_timeout: must be more than 0s`},
		{"drain over timeout", "[tend]\ndrain = \"30s\"", `t.toml:2: tend.drain: 30s is not shorter than shutdown_timeout (30s), which it counts inside`},
		{"drain negative", "[tend]\nshutdown_timeout = \"1m\"\ndrain = \"-1s\"", `t.toml:3: tend.drain: must not be negative, not -1s`},
		{"log_format", "[tend]\nlog_format = \"xml\"", `t.toml:2: tend.log_format: "xml" is not one of "console" or "json"`},
		{"cgroups", "[tend]\ncgroups = \"yes\"", `t.toml:2: tend.cgroups: "yes" is not one of "auto", "required" or "off"`},
		{"metrics", "[tend]\nmetrics = \"9090\"",
			`t.toml:2: tend.metrics: "9090" is not a host:port address with a port from 0 to 65535`},
		{"metrics bad port", "[tend]\nmetrics = \"127.0.0.1:65536\"",
			`t.toml:2: tend.metrics: "127.0.0.1:65536" is not a host:port address with a port from 0 to 65535`},
		{"tcp port 0", prog + "healthcheck = { tcp = \"h:0\" }",
			`t.toml:3: programs.p.healthcheck.tcp: "h:0" is not a host:port address with a port from 1 to 65535`},
		{"socket long", "[tend]\nsocket = \"/" + strings.Repeat("s", 107) + "\"",
			`t.toml:2: tend.socket: path "/` + strings.Repeat("s", 107) + `" is longer than the 107 bytes a unix socket path may have`},
		{"socket_mode", "[tend]\nsocket_mode = \"rw\"", `t.toml:2: tend.socket_mode: bad mode "rw": want octal digits, like "022"`},
		{"socket_group", "[tend]\nsocket_group = \"a b\"", `t.toml:2: tend.socket_group: "a b" is not a group name or gid`},

		// ${VAR}.
		{"unterminated", prog + "directory = \"${HOME\"",
			`t.toml:3: programs.p.directory: unterminated "${": want ${NAME} or ${NAME:-default}`},
		{"unterminated default", prog + "directory = \"${HOME:-/x\"",
			`t.toml:3: programs.p.directory: unterminated "${": want ${NAME} or ${NAME:-default}`},
		{"bad expansion", prog + "environment = { A = \"${A-b}\" }",
			`t.toml:3: programs.p.environment.A: bad expansion "${A-b}": want ${NAME} or ${NAME:-default}, NAME made of letters, digits and _`},
		{"expansion in array", "[programs.p]\ncommand = [\n\"a\",\n\"${}\"]",
			`t.toml:4: programs.p.command: bad expansion "${}": want ${NAME} or ${NAME:-default}, NAME made of letters, digits and _`},

		// Dependencies.
		{"unknown dep", prog + "depends_on = [\"db\"]\n[programs.dbb]\ncommand = \"x\"",
			`t.toml:3: programs.p.depends_on: unknown program "db"; did you mean "dbb"?`},
		{"unknown dep table", prog + "[programs.p.depends_on]\nzzz = \"running\"",
			`t.toml:4: programs.p.depends_on.zzz: unknown program "zzz"`},
		{"unknown instance", prog + "depends_on = [\"p:0\"]\n[programs.q]\ncommand = \"x\"",
			`t.toml:3: programs.p.depends_on: unknown program "p:0"; did you mean "p"?`},
		{"bad condition", prog + "depends_on = { q = \"started\" }\n[programs.q]\ncommand = \"x\"",
			`t.toml:3: programs.p.depends_on.q: "started" is not one of "running", "ready", "healthy" or "completed"`},
		{"completed longrun", prog + "depends_on = { q = \"completed\" }\n[programs.q]\ncommand = \"x\"",
			`t.toml:3: programs.p.depends_on.q: "completed" needs a oneshot, and q is a longrun: wait for "running", "ready" or "healthy"`},
		{"self", prog + "depends_on = [\"p\"]", `t.toml:3: programs.p.depends_on: depends on itself: p -> p`},
		{"self instance", prog + "instances = 2\ndepends_on = [\"p:1\"]", `t.toml:4: programs.p.depends_on: depends on itself: p -> p:1`},
		{"cycle of two", `
[programs.a]
command = "a"
depends_on = ["b"]
[programs.b]
command = "b"
depends_on = ["a"]
`, `t.toml:7: programs.b.depends_on: dependency cycle: a -> b -> a`},
		{"cycle of three", `
[programs.a]
command = "a"
depends_on = { b = "running" }
[programs.b]
command = "b"
depends_on = ["c"]
[programs.c]
command = "c"
depends_on = [
  "x",
  "a",
]
[programs.x]
command = "x"
`, `t.toml:12: programs.c.depends_on: dependency cycle: a -> b -> c -> a`},
		{"cycle through instances", `
[programs.a]
command = "a"
instances = 3
depends_on = ["b:1"]
[programs.b]
command = "b"
instances = 2
depends_on = { "a:2" = "healthy" }
`, `t.toml:9: programs.b.depends_on."a:2": dependency cycle: a -> b -> a`},
		{"two cycles", `
[programs.a]
command = "a"
depends_on = ["a2"]
[programs.a2]
command = "a"
depends_on = ["a"]
[programs.b]
command = "b"
depends_on = ["b2"]
[programs.b2]
command = "b"
depends_on = ["b"]
`, "t.toml:7: programs.a2.depends_on: dependency cycle: a -> a2 -> a\n" +
			"t.toml:13: programs.b2.depends_on: dependency cycle: b -> b2 -> b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseErrors(t, tt.src); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestAllErrors checks that one run reports every problem in a file,
// sorted by line.
func TestAllErrors(t *testing.T) {
	data, err := os.ReadFile("testdata/bad.toml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse("testdata/bad.toml", data, nil)
	want := strings.TrimSpace(`
testdata/bad.toml:2: tend.shutdown_timeout: must not be negative, not -5s
testdata/bad.toml:3: tend.log_format: "xml" is not one of "console" or "json"
testdata/bad.toml:4: tend.sockett: unknown key; did you mean "socket"?
testdata/bad.toml:7: programs.web.command: must not be empty
testdata/bad.toml:8: programs.web.autostart: expected a boolean, got string "yes"
testdata/bad.toml:9: programs.web.stopsignal: unknown signal "SIGFOO"
testdata/bad.toml:10: programs.web.depends_on: dependency cycle: db -> web -> db
testdata/bad.toml:10: programs.web.depends_on: unknown program "nope"
testdata/bad.toml:11: programs.web.startsecs: unterminated "${": want ${NAME} or ${NAME:-default}
testdata/bad.toml:12: programs.web.exitcodes: must be between 0 and 255, not 256
testdata/bad.toml:13: programs.web.backoff.factor: must be between 1 and 1000, not 0.5
testdata/bad.toml:13: programs.web.backoff.max: max (1s) is less than initial (2s)
testdata/bad.toml:18: programs.db.autorestart: a oneshot cannot restart "always": it would run again each time it completes; make it a longrun, or use "on-failure"
testdata/bad.toml:20: programs.db.instances: must be between 1 and 1000, not 0
testdata/bad.toml:22: programs.db.healthcheck: needs a probe: one of exec, http or tcp
`)
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	var es *Errors
	if !errors.As(err, &es) || len(*es) != 15 {
		t.Fatalf("want 15 errors in an *Errors, got %T", err)
	}
	if e := (*es)[5]; e != (Error{File: "testdata/bad.toml", Line: 9, Key: "programs.web.stopsignal", Msg: `unknown signal "SIGFOO"`}) {
		t.Errorf("errors[5] = %#v", e)
	}
}

// TestErrorFormat covers the parts of an Error that may be missing.
func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{"f.toml", 3, "tend.socket", "bad"}, "f.toml:3: tend.socket: bad"},
		{Error{"f.toml", 3, "", "invalid TOML: x"}, "f.toml:3: invalid TOML: x"},
		{Error{"f.toml", 0, "k", "m"}, "f.toml: k: m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
}
