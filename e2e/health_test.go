package e2e

// Health checks end to end: http and tcp probes, on_unhealthy, and
// depends_on a program being healthy.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHealthHTTP: an http check against the program itself, a server
// that answers 500 while a file exists. With on_unhealthy = "ignore" the
// program goes healthy → unhealthy → healthy and keeps its process, and
// a PAUSED program is not probed; with "restart" it is restarted.
func TestHealthHTTP(t *testing.T) {
	t.Parallel()
	conf := func(onUnhealthy string) (cfg, dir, sock string, port int) {
		port = unusedPort(t)
		cfg, dir, sock = ctlConfig(t, fmt.Sprintf(`
[programs.web]
command = [{self}, "flaky-http", "-addr", "127.0.0.1:%d", "-fail", "{dir}/fail"]
autostart = false
startsecs = 0

[programs.web.healthcheck]
http = "http://127.0.0.1:%d/health"
interval = "200ms"
timeout = "500ms"
retries = 2
on_unhealthy = %q
`, port, port, onUnhealthy), false)
		return
	}
	t.Run("Ignore", func(t *testing.T) {
		t.Parallel()
		cfg, dir, sock, _ := conf("ignore")
		s := startCtl(t, cfg)
		w := watchEvents(t, sock, "web")
		ctl(t, sock, "start", "web").must(t, 0)
		pid := w.state("web", "RUNNING").Pid
		w.health("web", "healthy")
		if r := statusTable(t, ctl(t, sock, "status", "web").must(t, 0).stdout)["web"]; r == nil || r[5] != "healthy" {
			t.Errorf("status: %q, want HEALTH healthy", r)
		}
		ctl(t, sock, "health").must(t, 0)

		putFile(t, filepath.Join(dir, "fail"), "")
		e := w.next("web unhealthy", func(e event) bool { return e.Health != "" })
		if e.Health != "unhealthy" || !strings.Contains(e.Reason, "2 probes failed in a row") || !strings.Contains(e.Reason, "500") {
			t.Errorf("%+v, want unhealthy after 2 failed probes (500)", e)
		}
		if o := ctl(t, sock, "health").must(t, 1); strings.TrimSpace(o.stdout) != "unhealthy: web is unhealthy" {
			t.Errorf("health: %v", o)
		}
		if p := ctlStatus(t, sock, "web"); p.State != "RUNNING" || p.Pid != pid || p.Health != "unhealthy" {
			t.Errorf("unhealthy, ignored: %+v, want RUNNING, pid %d", p, pid)
		}
		if err := os.Remove(filepath.Join(dir, "fail")); err != nil {
			t.Fatal(err)
		}
		if e := w.next("web healthy again", func(e event) bool { return e.Program == "web" }); e.Health != "healthy" {
			t.Errorf("%+v, want healthy again, and nothing in between", e)
		}
		ctl(t, sock, "health").must(t, 0)

		// Paused: the server cannot answer, and tend must not ask. Probed,
		// it would be unhealthy within 2 × (200ms + 500ms).
		ctl(t, sock, "pause", "web").must(t, 0)
		w.state("web", "PAUSED")
		w.quiet(2*time.Second, "a PAUSED program is not health-checked")
		if p := ctlStatus(t, sock, "web"); p.State != "PAUSED" || p.Pid != pid {
			t.Errorf("paused: %+v", p)
		}
		ctl(t, sock, "resume", "web").must(t, 0)
		w.state("web", "RUNNING")
		s.out.skip()
		s.expect("web served 200") // probing again
		if p := ctlStatus(t, sock, "web"); p.Pid != pid || p.Health != "healthy" {
			t.Errorf("resumed: %+v, want healthy, pid %d", p, pid)
		}
		if got := s.healthLines("web"); !slices.Equal(got, []string{"healthy", "unhealthy", "healthy"}) {
			t.Errorf("health lines in tend's log: %v, want healthy unhealthy healthy", got)
		}
		s.signal(syscall.SIGTERM)
		if code := s.finish(); code != 0 {
			t.Errorf("tend exited %d, want 0", code)
		}
	})
	t.Run("Restart", func(t *testing.T) {
		t.Parallel()
		cfg, dir, sock, _ := conf("restart")
		s := startCtl(t, cfg)
		w := watchEvents(t, sock, "web")
		ctl(t, sock, "start", "web").must(t, 0)
		old := w.state("web", "RUNNING").Pid
		w.health("web", "healthy")
		putFile(t, filepath.Join(dir, "fail"), "")
		w.health("web", "unhealthy")
		stop := w.next("web's restart", func(e event) bool { return e.Health == "" })
		if stop.State != "STOPPING" || stop.Pid != old || stop.Reason != "unhealthy" {
			t.Errorf("%+v, want web's process %d STOPPING, reason unhealthy", stop, old)
		}
		if err := os.Remove(filepath.Join(dir, "fail")); err != nil {
			t.Fatal(err)
		}
		w.state("web", "STOPPED")
		if e := w.state("web", "RUNNING"); e.Pid == old || e.Pid == 0 {
			t.Errorf("restarted: %+v, want a new process", e)
		}
		w.health("web", "healthy")
		s.signal(syscall.SIGTERM)
		if code := s.finish(); code != 0 {
			t.Errorf("tend exited %d, want 0", code)
		}
	})
}

// TestHealthTCP: a tcp check against a port nobody listens on makes the
// program unhealthy, without a healthy moment first.
func TestHealthTCP(t *testing.T) {
	t.Parallel()
	cfg, _, sock := ctlConfig(t, fmt.Sprintf(`
[programs.db]
command = ["sleep", "600"]
autostart = false
startsecs = 0

[programs.db.healthcheck]
tcp = "127.0.0.1:%d"
interval = "200ms"
timeout = "500ms"
retries = 2
on_unhealthy = "ignore"
`, unusedPort(t)), false)
	s := startCtl(t, cfg)
	w := watchEvents(t, sock, "db")
	ctl(t, sock, "start", "db").must(t, 0)
	w.state("db", "RUNNING")
	if e := w.next("db's health", func(e event) bool { return e.Health != "" }); e.Health != "unhealthy" || !strings.Contains(e.Reason, "refused") {
		t.Errorf("%+v, want unhealthy, connection refused", e)
	}
	if o := ctl(t, sock, "health").must(t, 1); strings.TrimSpace(o.stdout) != "unhealthy: db is unhealthy" {
		t.Errorf("health: %v", o)
	}
	if r := statusTable(t, ctl(t, sock, "status").must(t, 0).stdout)["db"]; r == nil || r[1] != "RUNNING" || r[5] != "unhealthy" {
		t.Errorf("status: %q, want RUNNING, unhealthy", r)
	}
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}

// TestHealthDependsOn: depends_on = { web = "healthy" } starts app only
// after web's first passing probe, not when web is RUNNING: web takes
// 700 ms to listen.
func TestHealthDependsOn(t *testing.T) {
	t.Parallel()
	port := unusedPort(t)
	cfg, _, sock := ctlConfig(t, fmt.Sprintf(`
[programs.web]
command = [{self}, "flaky-http", "-addr", "127.0.0.1:%d", "-delay", "700ms"]
autostart = false
startsecs = 0

[programs.web.healthcheck]
http = "http://127.0.0.1:%d/"
interval = "100ms"
timeout = "500ms"
retries = 1000
on_unhealthy = "ignore"

[programs.app]
command = ["sleep", "600"]
autostart = false
startsecs = 0
depends_on = { web = "healthy" }
`, port, port), false)
	s := startCtl(t, cfg)
	w := watchEvents(t, sock)
	ctl(t, sock, "start", "web", "app").must(t, 0)
	app := w.state("app", "RUNNING")
	var webUp, webHealthy time.Time
	for _, e := range w.all() {
		switch {
		case e.Program == "web" && e.State == "RUNNING" && e.Health == "":
			webUp = e.Time
		case e.Program == "web" && e.Health == "healthy" && webHealthy.IsZero():
			webHealthy = e.Time
		case e.Program == "app" && e.Time.Before(app.Time):
			t.Errorf("app changed state before it started: %+v", e)
		}
	}
	if webUp.IsZero() || webHealthy.IsZero() {
		t.Fatalf("app RUNNING before web RUNNING and healthy; events: %s", w)
	}
	if d := app.Time.Sub(webUp); d < 600*time.Millisecond {
		t.Errorf("app started %v after web was RUNNING; web listens only after 700ms", d)
	}
	if app.Time.Before(webHealthy) {
		t.Errorf("app started at %v, before web's first passing probe at %v", app.Time, webHealthy)
	}
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}
