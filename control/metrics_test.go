package control

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tend/api"
)

// metricsEnv serves the metrics listener on 127.0.0.1 beside the control
// socket of env, both in front of the same fake loop.
func metricsEnv(t *testing.T) (*env, string) {
	t.Helper()
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- ServeMetrics(ln, e.loop.Reqs, zerolog.New(zerolog.NewTestWriter(t))) }()
	t.Cleanup(func() { stopServing(t, "ServeMetrics", ln, served) })
	return e, "http://" + ln.Addr().String()
}

// get does one request and returns the status, the Content-Type and the
// body.
func get(t *testing.T, method, url, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// sampleLine is a sample of the families writeMetrics writes: a name, a
// program label (and a state label for tend_program_state), a number.
var sampleLine = regexp.MustCompile(`^(tend_healthy|tend_freezes_total|tend_frozen_seconds_total|(tend_program_[a-z_]+|tend_oom_kills_total)\{program="([^"\\\n]|\\.)*"(,state="[A-Z]+")?\}) -?[0-9]+(\.[0-9]+)?$`)

// checkExposition checks text against the text format as writeMetrics
// uses it: every sample's family announced by HELP and TYPE just before,
// no family twice, and one sample per program and family at most.
func checkExposition(t *testing.T, text string) {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Errorf("exposition does not end with a newline")
	}
	var family string
	seen := map[string]bool{}
	samples := map[string]bool{}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if name, ok := strings.CutPrefix(l, "# HELP "); ok {
			family, _, _ = strings.Cut(name, " ")
			if seen[family] {
				t.Errorf("family %s twice", family)
			}
			seen[family] = true
			if i+1 >= len(lines) || !regexp.MustCompile(`^# TYPE `+family+` (gauge|counter)$`).MatchString(lines[i+1]) {
				t.Errorf("HELP %s not followed by its TYPE", family)
			}
			i++
			continue
		}
		if !sampleLine.MatchString(l) {
			t.Errorf("not a sample line: %q", l)
			continue
		}
		name, _, _ := strings.Cut(l, "{")
		name, _, _ = strings.Cut(name, " ")
		if name != family {
			t.Errorf("sample %q under family %s", l, family)
		}
		series, _, _ := strings.Cut(l, "} ")
		if samples[series] {
			t.Errorf("series %s twice", series)
		}
		samples[series] = true
	}
}

// TestMetrics: /metrics renders the fake loop's programs in the text
// format, and follows a change of state.
func TestMetrics(t *testing.T) {
	e, base := metricsEnv(t)
	code, ctype, body := get(t, "GET", base+"/metrics", "")
	if code != 200 || ctype != metricsType {
		t.Fatalf("GET /metrics: %d %q\n%s", code, ctype, body)
	}
	checkExposition(t, body)
	for _, want := range []string{
		"tend_healthy 1",
		`tend_program_up{program="web:0"} 1`,
		`tend_program_up{program="migrate"} 0`,
		`tend_program_state{program="web:1",state="RUNNING"} 1`,
		`tend_program_state{program="migrate",state="COMPLETED"} 1`,
		`tend_program_state{program="stuck",state="STOPPED"} 1`,
		`tend_program_healthy{program="db"} 1`,
		`tend_program_ready{program="web:0"} 1`,
		`tend_program_ready{program="migrate"} 0`,
		`tend_program_restarts_total{program="crashy"} 0`,
		`tend_program_exit_code{program="migrate"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	for _, absent := range []string{`tend_program_healthy{program="stuck"}`, `tend_program_exit_code{program="db"}`} {
		if strings.Contains(body, absent) {
			t.Errorf("/metrics has %s, which has no value", absent)
		}
	}

	e.mustCtl(0, "stop", "--wait", "web:0")
	_, _, body = get(t, "GET", base+"/metrics", "")
	for _, want := range []string{"tend_healthy 0", `tend_program_up{program="web:0"} 0`, `tend_program_state{program="web:0",state="STOPPED"} 1`} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("after ctl stop web:0, /metrics lacks %q:\n%s", want, body)
		}
	}
}

// TestMetricsProbes: /healthz answers while the loop does; /readyz
// follows tend ctl health, with its reason.
func TestMetricsProbes(t *testing.T) {
	e, base := metricsEnv(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _, body := get(t, "GET", base+p, ""); code != 200 || body != "ok\n" {
			t.Errorf("GET %s: %d %q, want 200 ok", p, code, body)
		}
	}
	e.mustCtl(0, "stop", "--wait", "web:1")
	if code, _, body := get(t, "GET", base+"/readyz", ""); code != 503 || body != "web:1 is STOPPED\n" {
		t.Errorf("GET /readyz with web:1 stopped: %d %q, want 503 and the reason", code, body)
	}
	if code, _, body := get(t, "GET", base+"/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz with web:1 stopped: %d %q, want 200: tend itself is alive", code, body)
	}
}

// TestMetricsReadOnly: the metrics listener serves its three GETs and
// nothing else, and asks the loop for nothing but status and health.
func TestMetricsReadOnly(t *testing.T) {
	e, base := metricsEnv(t)
	for _, c := range []struct {
		method, path, body string
		code               int
	}{
		{"POST", "/metrics", "", 405},
		{"GET", "/v1/status", "", 404},
		{"POST", "/v1/shutdown", "", 404},
		{"POST", "/v1/stop", `{"names":["web:0"]}`, 404},
		{"GET", "/metrics", "x", 400},
		{"GET", "/metrics?name=web:0", "", 400},
		{"GET", "/", "", 404},
	} {
		if code, _, body := get(t, c.method, base+c.path, c.body); code != c.code {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, code, body, c.code)
		}
	}
	get(t, "GET", base+"/metrics", "")
	for _, r := range e.loop.Requests() {
		if r.Verb != api.VerbStatus && r.Verb != api.VerbHealth {
			t.Errorf("the metrics listener asked the loop to %s", r.Verb)
		}
	}
	if len(e.loop.Requests()) == 0 {
		t.Errorf("the loop saw no request")
	}
}

// TestWriteMetricsEscapes: label values are escaped as the text format
// wants, and nothing else is.
func TestWriteMetricsEscapes(t *testing.T) {
	var b bytes.Buffer
	code, cpu, mem := 137, 12.3456, uint64(48<<20)
	writeMetrics(&b, api.Reply{Freezes: 2, FrozenSeconds: 7.5, Programs: []api.Status{{Name: "a\"b\\c\nd", State: "RUNNING", Health: "starting", ExitCode: &code, Since: time.Unix(1700000000, 250e6),
		CPUSeconds: &cpu, MemoryBytes: &mem, OOMKills: 2},
		{Name: "é", State: "BACKOFF", Restarts: 4, NextStart: time.Unix(1700000030, 500e6)}}}, false)
	checkExposition(t, b.String())
	for _, want := range []string{
		`tend_program_up{program="a\"b\\c\nd"} 1`,
		`tend_program_healthy{program="a\"b\\c\nd"} 0`,
		`tend_program_exit_code{program="a\"b\\c\nd"} 137`,
		`tend_program_state_since_seconds{program="a\"b\\c\nd"} 1700000000.250`,
		`tend_program_state{program="é",state="BACKOFF"} 1`,
		`tend_program_restarts_total{program="é"} 4`,
		`tend_program_next_start_seconds{program="é"} 1700000030.500`,
		`tend_program_cpu_seconds_total{program="a\"b\\c\nd"} 12.346`,
		`tend_program_memory_bytes{program="a\"b\\c\nd"} 50331648`,
		`tend_oom_kills_total{program="a\"b\\c\nd"} 2`,
		`tend_oom_kills_total{program="é"} 0`,
		"tend_healthy 0",
		"tend_freezes_total 2",
		"tend_frozen_seconds_total 7.500",
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("lacks %q:\n%s", want, b.String())
		}
	}
	if n := strings.Count(b.String(), "tend_program_state_since_seconds{"); n != 1 {
		t.Errorf("%d state_since samples, want 1 (the second program has no Since)", n)
	}
	if n := strings.Count(b.String(), "tend_program_next_start_seconds{"); n != 1 {
		t.Errorf("%d next_start samples, want 1 (the first program is not in BACKOFF)", n)
	}
	for _, f := range []string{"tend_program_cpu_seconds_total{", "tend_program_memory_bytes{"} {
		if n := strings.Count(b.String(), f); n != 1 {
			t.Errorf("%d %s samples, want 1 (the second program has no process)", n, f)
		}
	}
}
