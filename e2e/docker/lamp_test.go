package docker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lampDockerfile puts examples/lamp/tend.toml in a FROM scratch image with
// a static busybox for /bin/sh and the tools its scripts use, and tend as
// PID 1 in supervisor mode.
const lampDockerfile = `FROM scratch
COPY busybox /bin/busybox
COPY tend /usr/bin/tend
COPY tend.toml /etc/tend.toml
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /tmp && chmod 1777 /tmp"]
ENTRYPOINT ["/usr/bin/tend", "-c", "/etc/tend.toml"]
`

// TestLamp runs the portable LAMP example (examples/lamp/tend.toml) in a
// container until web has served a request through the worker pool, then
// `docker stop`s it: tend must exit 0 well within Docker's 10 s, having
// stopped every program in reverse dependency order.
func TestLamp(t *testing.T) {
	requireDocker(t)
	e := &env{root: repoRoot(t), id: runID(t)}
	e.tend = buildTend(t, e.root)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(lampDockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	e.image = e.build(t, "lamp", dir, map[string]string{
		"tend":      e.tend,
		"busybox":   busybox(t),
		"tend.toml": filepath.Join(e.root, "examples", "lamp", "tend.toml"),
	})

	// Arguments after the image follow the ENTRYPOINT: tend's flags.
	name := e.start(t, nil, "--log-format", "json")
	e.follow(t, name).waitFor(t, "web: GET /index.php -> 200 OK")
	start := time.Now()
	e.stop(t, name, 0)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("docker stop took %v; every program stops on its signal at once", took)
	}

	// The log, in order: tend's JSON lines among the programs' output.
	type event struct {
		Message, Program, State, Signal string
		ExitCode                        *int `json:"exit_code"`
	}
	var stops []event
	for _, l := range strings.Split(mustDocker(t, "logs", name), "\n") {
		var ev event
		if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &ev) == nil && ev.Message == "state" &&
			(ev.State == "STOPPING" || ev.State == "STOPPED") {
			stops = append(stops, ev)
		}
	}
	at := func(program, state string) int {
		i := slices.IndexFunc(stops, func(ev event) bool { return ev.Program == program && ev.State == state })
		if i < 0 {
			t.Fatalf("no %s %s in the log: %v", program, state, stops)
		}
		return i
	}
	for _, step := range []struct {
		before, after string
	}{
		{"web", "worker:0"},
		{"web", "worker:1"},
		{"worker:0", "store"},
		{"worker:1", "store"},
	} {
		if at(step.before, "STOPPED") > at(step.after, "STOPPING") {
			t.Errorf("%s was stopped before %s, which depends on it", step.after, step.before)
		}
	}
	wantSignal := map[string]string{"web": "QUIT", "worker:0": "QUIT", "worker:1": "QUIT", "store": "TERM"}
	for program, sig := range wantSignal {
		if got := stops[at(program, "STOPPING")].Signal; got != sig {
			t.Errorf("%s stopped with %s, want %s", program, got, sig)
		}
		if ev := stops[at(program, "STOPPED")]; ev.ExitCode == nil || *ev.ExitCode != 0 {
			t.Errorf("%s ended with %v, want exit code 0 (a graceful stop)", program, exitCodeOf(ev.ExitCode))
		}
	}
	if len(stops) != 2*len(wantSignal) {
		t.Errorf("stop lines %v, want STOPPING and STOPPED for each of %d programs", stops, len(wantSignal))
	}
}

func exitCodeOf(p *int) string {
	if p == nil {
		return "none"
	}
	return strconv.Itoa(*p)
}
