package docker

import (
	"os"
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
