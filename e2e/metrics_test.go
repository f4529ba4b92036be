package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
)

// TestMetricsListener: with [tend] metrics, a real tend as PID 1 serves
// its programs to Prometheus and its readiness to HTTP probes on its own
// TCP port, and nothing that changes state.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	s, sock, metricsAddr := startMetrics(t)
	base := "http://" + metricsAddr
	s.tl.waitState("db", "RUNNING")

	code, body := httpDo(t, "GET", base+"/metrics")
	for _, want := range []string{"tend_healthy 1", `tend_program_up{program="db"} 1`, `tend_program_state{program="db",state="RUNNING"} 1`} {
		if code != 200 || !strings.Contains(body, want+"\n") {
			t.Errorf("GET /metrics: %d, lacks %q:\n%s", code, want, body)
		}
	}
	if code, body := httpDo(t, "GET", base+"/readyz"); code != 200 || body != "ok\n" {
		t.Errorf("GET /readyz: %d %q, want 200 ok", code, body)
	}

	ctl(t, sock, "pause", "db").must(t, 0)
	if code, body := httpDo(t, "GET", base+"/readyz"); code != 503 || body != "db is PAUSED\n" {
		t.Errorf("GET /readyz with db paused: %d %q, want 503 and the reason", code, body)
	}
	if code, body := httpDo(t, "GET", base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz with db paused: %d %q, want 200: tend is alive", code, body)
	}
	if _, body := httpDo(t, "GET", base+"/metrics"); !strings.Contains(body, `tend_program_state{program="db",state="PAUSED"} 1`+"\n") {
		t.Errorf("GET /metrics with db paused:\n%s", body)
	}
	ctl(t, sock, "resume", "db").must(t, 0)
	if code, _ := httpDo(t, "GET", base+"/readyz"); code != 200 {
		t.Errorf("GET /readyz after resume: %d, want 200", code)
	}

	for _, path := range []string{"/v1/shutdown", "/v1/stop"} {
		if code, body := httpDo(t, "POST", base+path); code != 404 {
			t.Errorf("POST %s on the metrics port: %d %s, want 404", path, code, body)
		}
	}
	if o := ctl(t, sock, "status", "db").must(t, 0); !strings.Contains(o.stdout, "RUNNING") {
		t.Errorf("db after the POSTs on the metrics port: %v", o)
	}

	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}

// httpDo makes one request with no body and returns the status and body.
func httpDo(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: deadline}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// startMetrics runs tend as PID 1 with a control socket, a metrics port
// on loopback, and one critical program, db, and returns it with the
// socket and the port's address.
func startMetrics(t *testing.T) (s *svRun, sock, addr string) {
	t.Helper()
	cfg, _, sock := ctlConfig(t, `metrics = "127.0.0.1:0"

[programs.db]
command = ["sleep", "600"]
startsecs = 0
critical = true
`, false)
	s = startCtl(t, cfg)
	var listening struct {
		Metrics string `json:"metrics"`
	}
	if ev := s.tl.waitMessage("", "metrics listening"); json.Unmarshal([]byte(ev.line), &listening) != nil || listening.Metrics == "" {
		t.Fatalf("no address in %v", ev)
	}
	return s, sock, listening.Metrics
}
