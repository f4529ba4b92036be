package docker

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const pauseDockerfile = `FROM scratch
COPY busybox /bin/busybox
COPY tend /usr/bin/tend
COPY tend.toml /etc/tend.toml
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin"]
ENTRYPOINT ["/usr/bin/tend", "-c", "/etc/tend.toml"]
`

// slow needs 1.5 s of its own time to stop; stopwaitsecs gives it 3.
const pauseConfig = `
[tend]
socket = ""
[programs.slow]
command = '''
trap 'echo got-term; sleep 1.5; echo saved; exit 0' TERM
echo ready
while :; do sleep 1 & wait $!; done
'''
stopwaitsecs = 3
`

// TestDockerPauseDoesNotCount: docker pause freezes the whole container
// (the cgroup freezer) while a program is stopping. On unpause the program
// still has its stopwaitsecs, counted in its own running time: it saves
// and exits by itself, and tend exits 0. Were the 4 s frozen counted,
// tend would SIGKILL it at once and exit 1.
func TestDockerPauseDoesNotCount(t *testing.T) {
	requireDocker(t)
	e := &env{root: repoRoot(t), id: runID(t)}
	e.tend = buildTend(t, e.root)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(pauseDockerfile), 0o644)
	conf := filepath.Join(dir, "tend.toml")
	os.WriteFile(conf, []byte(pauseConfig), 0o644)
	e.image = e.build(t, "pause", dir, map[string]string{"tend": e.tend, "busybox": busybox(t), "tend.toml": conf})

	name := e.start(t, nil)
	w := e.follow(t, name)
	w.waitFor(t, "ready")
	mustDocker(t, "kill", "-s", "TERM", name)
	w.waitFor(t, "got-term")
	mustDocker(t, "pause", name)
	time.Sleep(4 * time.Second) // the freeze is what is under test, not a wait for a condition
	mustDocker(t, "unpause", name)
	out := mustDocker(t, "wait", name)
	if code := strings.TrimSpace(out); code != "0" {
		t.Errorf("container exited %s, want 0: the freeze counted against stopwaitsecs\n%s", code, w.String())
	}
	logs := w.String()
	if !strings.Contains(logs, "saved") || strings.Contains(logs, "SIGKILL") {
		t.Errorf("slow did not save, or was SIGKILLed:\n%s", logs)
	}
}

// thawConfig: hourly has a health check due only in an hour; often one
// due every second, so that one of tend's timers falls in the pause.
const thawConfig = `
[tend]
socket = "/tmp/tend.sock"
[programs.hourly]
command = "while :; do sleep 1 & wait $!; done"
startsecs = 0
healthcheck = { exec = ["true"], interval = "1h" }
[programs.often]
command = "while :; do sleep 1 & wait $!; done"
startsecs = 0
healthcheck = { exec = ["true"], interval = "1s" }
`

// TestDockerPauseThaw: after docker pause and unpause, tend says once
// that the container was frozen (a log line and one thaw event on the
// events stream), and runs every health check at once: hourly's first
// probe, due in an hour, passes right after the unpause.
func TestDockerPauseThaw(t *testing.T) {
	requireDocker(t)
	e := &env{root: repoRoot(t), id: runID(t)}
	e.tend = buildTend(t, e.root)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(strings.Replace(pauseDockerfile,
		`"/bin/busybox --install -s /bin"`, `"/bin/busybox --install -s /bin && mkdir -p /tmp"`, 1)), 0o644)
	conf := filepath.Join(dir, "tend.toml")
	os.WriteFile(conf, []byte(thawConfig), 0o644)
	e.image = e.build(t, "thaw", dir, map[string]string{"tend": e.tend, "busybox": busybox(t), "tend.toml": conf})

	name := e.start(t, nil, "--log-format", "json")
	w := e.follow(t, name)
	w.waitFor(t, `"program":"often","state":"RUNNING"`)
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	events := exec.Command("docker", "exec", name, "tend", "ctl", "--socket", "/tmp/tend.sock", "events")
	events.Stdout = wr
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	wr.Close()
	ev, done := watch(r)
	t.Cleanup(func() {
		events.Process.Kill()
		events.Wait()
		<-done
	})
	w.waitFor(t, `"health":"healthy"`) // often's first probe: the stream is open by now
	mustDocker(t, "pause", name)
	time.Sleep(3 * time.Second) // the freeze is what is under test, not a wait for a condition
	mustDocker(t, "unpause", name)
	ev.waitFor(t, `"event":"thaw"`)
	w.waitFor(t, `"program":"hourly","pid"`) // its health line: the probe ran
	if !strings.Contains(w.String(), `"health":"healthy","reason":"probe passed"`) {
		t.Errorf("hourly's probe did not pass:\n%s", w.String())
	}
	if n := strings.Count(w.String(), "the container was frozen for"); n != 1 {
		t.Errorf("%d freeze lines in the log, want 1:\n%s", n, w.String())
	}
	if n := strings.Count(ev.String(), `"event":"thaw"`); n != 1 {
		t.Errorf("%d thaw events, want 1:\n%s", n, ev.String())
	}
	mustDocker(t, "stop", name)
}
