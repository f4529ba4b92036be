package config

import "testing"

func TestExpand(t *testing.T) {
	const (
		unterminated = `unterminated "${": want ${NAME} or ${NAME:-default}`
		bad          = `: want ${NAME} or ${NAME:-default}, NAME made of letters, digits and _`
	)
	tests := []struct {
		in, want, err string
	}{
		{"", "", ""},
		{"plain text", "plain text", ""},
		{"${HOME}", "/home/t", ""},
		{"x${PORT}y${PORT}z", "x9000y9000z", ""},
		{"${UNSET}", "", ""},
		{"${EMPTY}", "", ""},
		{"${UNSET:-def}", "def", ""},
		{"${EMPTY:-def}", "def", ""},
		{"${HOME:-def}", "/home/t", ""},
		{"${UNSET:-}", "", ""},
		{"${UNSET:-a b c}", "a b c", ""},
		{"${UNSET:-${HOME}/x}", "/home/t/x", ""},
		{"${UNSET:-${ALSO:-deep}}", "deep", ""},
		{"${UNSET:-$${B}}", "${B}", ""},
		{"${UNSET:-a}b}", "ab}", ""},
		{"${UNSET:-{x}", "{x", ""},
		{"${_x9}", "", ""},
		{"$$", "$", ""},
		{"$${HOME}", "${HOME}", ""},
		{"$$$$", "$$", ""},
		{"$$$", "$$", ""},
		{"$HOME", "$HOME", ""},
		{"$", "$", ""},
		{"a$", "a$", ""},
		{"$1 $@ $(pwd)", "$1 $@ $(pwd)", ""},
		{"}{", "}{", ""},
		{"${", "", unterminated},
		{"${HOME", "", unterminated},
		{"x ${UNSET:-y", "", unterminated},
		{"${UNSET:-${HOME}", "", unterminated},
		{"${}", "", `bad expansion "${}"` + bad},
		{"${1A}", "", `bad expansion "${1A}"` + bad},
		{"${A-b}", "", `bad expansion "${A-b}"` + bad},
		{"${A:=b}", "", `bad expansion "${A:=b}"` + bad},
		{"${A B}", "", `bad expansion "${A B}"` + bad},
		{"${HÖME}", "", `bad expansion "${HÖME}"` + bad},
		{"${UNSET:-${x-y}}", "", `bad expansion "${x-y}"` + bad},
		{"${A?", "", unterminated},
	}
	for _, tt := range tests {
		got, err := expand(tt.in, testEnv)
		switch {
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("expand(%q) error = %v, want %s", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestExpandEverywhere checks that every kind of string value is expanded.
func TestExpandEverywhere(t *testing.T) {
	c := mustParse(t, `
[tend]
socket = "${SOCK:-/tmp/t.sock}"
metrics = "127.0.0.1:${PORT}"
[programs.p]
command = "serve --port ${PORT}"
directory = "${HOME}"
user = "${USER:-nobody}"
environment = { P = "${PORT}" }
stdout = "${HOME}/out.log"
depends_on = { q = "${COND:-running}" }
[programs.q]
command = ["${HOME}/bin/q"]
healthcheck = { http = "http://127.0.0.1:${PORT}/", interval = "${IV:-2s}" }
`)
	p, q := c.Lookup("p"), c.Lookup("q")
	checks := []struct{ got, want string }{
		{c.Tend.Socket, "/tmp/t.sock"},
		{c.Tend.Metrics, "127.0.0.1:9000"},
		{p.Command[2], "serve --port 9000"},
		{p.Directory, "/home/t"},
		{p.User.Name, "nobody"},
		{p.Environment["P"], "9000"},
		{p.Stdout.Path, "/home/t/out.log"},
		{string(p.DependsOn[0].Condition), "running"},
		{q.Command[0], "/home/t/bin/q"},
		{q.Healthcheck.HTTP, "http://127.0.0.1:9000/"},
		{q.Healthcheck.Interval.String(), "2s"},
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("check %d: got %q, want %q", i, c.got, c.want)
		}
	}
}
