package docker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// unitDockerfile is a LAMP-shaped stack in a FROM scratch image, made of
// a static busybox and tend: a store, a php-fpm-style pool, and an
// nginx-style web whose master starts a worker (busybox httpd) that
// holds port 8080, the way nginx's workers hold port 80.
const unitDockerfile = `FROM scratch
COPY busybox /bin/busybox
COPY tend /usr/bin/tend
COPY tend.toml /etc/tend.toml
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /tmp /www && chmod 1777 /tmp && echo hello from web >/www/index.html"]
ENTRYPOINT ["/usr/bin/tend", "-c", "/etc/tend.toml"]
`

const unitConfig = `[tend]
socket = ""

[programs.store]
command = "while :; do sleep 1; done"
startsecs = 0.5

[programs.php]
# a master and its pool of two, in one process group
command = '''
sleep 100000 & sleep 100000 &
echo "php: master $$$$ with its pool"
wait
'''
startsecs = 0.5
depends_on = ["store"]

[programs.web]
# The master records its pid and waits for its worker, which listens.
# ($$$$ is the shell's $$: tend turns $$ into $.)
command = '''
echo $$$$ >/tmp/web.pid
httpd -f -p 8080 -h /www &
echo "web: master $$$$, worker $!"
wait
'''
startsecs = 1
stopwaitsecs = 3
depends_on = ["php"]
`

// TestMasterKilledAlone: in a running container, the web program's
// master gets kill -9 alone; its worker still holds port 8080. tend
// stops the worker (the program is one unit), restarts web at once, and
// the new worker binds the port: the container serves again, with no
// bind error, no backoff and no FATAL, and stops cleanly.
func TestMasterKilledAlone(t *testing.T) {
	requireDocker(t)
	e := &env{root: repoRoot(t), id: runID(t)}
	e.tend = buildTend(t, e.root)
	dir := t.TempDir()
	for name, body := range map[string]string{"Dockerfile": unitDockerfile, "tend.toml": unitConfig} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.image = e.build(t, "unit", dir, map[string]string{"tend": e.tend, "busybox": busybox(t)})
	name := e.start(t, nil, "--log-format", "json")
	log := e.follow(t, name)
	const webRunning = `"program":"web","state":"RUNNING"`
	log.waitFor(t, webRunning)
	get := func() string {
		t.Helper()
		return strings.TrimSpace(mustDocker(t, "exec", name, "wget", "-q", "-O", "-", "http://127.0.0.1:8080/index.html"))
	}
	if got := get(); got != "hello from web" {
		t.Fatalf("before: GET / = %q", got)
	}

	mustDocker(t, "exec", name, "sh", "-c", "kill -9 $(cat /tmp/web.pid)")
	log.waitFor(t, `"program":"web","state":"STOPPING","from":"RUNNING"`)
	log.waitCount(t, webRunning, 2)
	if got := get(); got != "hello from web" {
		t.Fatalf("after the restart: GET / = %q", got)
	}
	e.stop(t, name, 0)

	out := log.String()
	for _, bad := range []string{"Address in use", "Address already in use", `"program":"web","state":"BACKOFF"`, `"state":"FATAL"`} {
		if strings.Contains(out, bad) {
			t.Errorf("the log has %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "killed by signal KILL; 1 process left in its process group: TERM to the group") {
		t.Errorf("no STOPPING line naming the worker left behind:\n%s", out)
	}
	if n := strings.Count(out, `"program":"web","state":"STARTING"`); n != 2 {
		t.Errorf("web started %d times, want 2", n)
	}
}

// waitCount waits until the log holds want n times.
func (lw *logWatch) waitCount(t *testing.T, want string, n int) {
	t.Helper()
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	for {
		lw.mu.Lock()
		got, ended := string(lw.buf), lw.ended
		lw.mu.Unlock()
		switch {
		case strings.Count(got, want) >= n:
			return
		case ended:
			t.Fatalf("log ended with %q fewer than %d times:\n%s", want, n, got)
		}
		select {
		case <-lw.changed:
		case <-deadline.C:
			t.Fatalf("%q fewer than %d times in the log after %v:\n%s", want, n, readyTimeout, got)
		}
	}
}
