// Package docker checks tend at the image level: a FROM scratch image with
// a freshly built tend as PID 1, driven through the docker CLI (run, stop,
// kill, inspect, logs), as a user of the image would drive it.
//
// The tests need a Docker engine and a static busybox (Debian:
// busybox-static; another path via TEND_BUSYBOX). They are skipped, loudly,
// only with TEND_NO_DOCKER=1, or on a developer's machine (CI unset) that
// has no docker command at all; otherwise a missing engine is a failure. No registry is needed: every image is
// built FROM scratch out of files the test provides.
package docker

import (
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cmdTimeout bounds every docker command, so a wedged engine fails the
// test instead of hanging it until go test's own timeout.
const cmdTimeout = 60 * time.Second

// readyTimeout bounds the wait for a container to print a marker.
const readyTimeout = 20 * time.Second

// entrypoint is what every tend image must start with.
const entrypoint = `["/usr/bin/tend","--"]`

// env is what the subtests share: built once by TestImage, read-only after.
type env struct {
	root  string // repository root
	id    string // unique per run; in every container and image name
	tend  string // the freshly built static binary
	image string // examples/save-on-term: tend + busybox + server.sh
	seq   atomic.Int32
}

func TestImage(t *testing.T) {
	requireDocker(t)
	e := &env{root: repoRoot(t), id: runID(t)}
	e.tend = buildTend(t, e.root)
	dir := filepath.Join(e.root, "examples", "save-on-term")
	e.image = e.build(t, "save-on-term", dir, map[string]string{
		"tend":    e.tend,
		"busybox": busybox(t),
	})

	t.Run("ExitCode", e.testExitCode)
	t.Run("StopHandledTerm", e.testStopHandledTerm)
	t.Run("ShellFormSavesOnStop", e.testShellFormSavesOnStop)
	t.Run("KillForwards", e.testKillForwards)
	t.Run("LeftoverKilledAfterGrace", e.testLeftoverKilledAfterGrace)
	t.Run("TTY", e.testTTY)
	t.Run("DockerInit", e.testDockerInit)
	t.Run("Dockerfile", e.testDockerfiles)
}

// testExitCode: `docker run` reports what tend exits with, and tend exits
// with the child's code, 128+N for a death by signal N, 127/126 when the
// child cannot be started.
func (e *env) testExitCode(t *testing.T) {
	t.Parallel()
	notExec := filepath.Join(t.TempDir(), "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	asTend := []string{"--entrypoint", "/usr/bin/tend"}
	for _, tc := range []struct {
		name string
		opts []string
		args []string
		want int
		// out must all appear in the output: proof that tend, not
		// Docker, chose the code (Docker itself uses 125 to 127).
		out []string
	}{
		{name: "0", args: sh("exit 0"), want: 0},
		{name: "1", args: sh("exit 1"), want: 1},
		{name: "42", args: sh("exit 42"), want: 42},
		{name: "255", args: sh("exit 255"), want: 255},
		{name: "KilledByTERM", args: sh("kill -TERM $$"), want: 143},
		{name: "KilledByKILL", args: sh("kill -KILL $$"), want: 137},
		{name: "NotFound", args: []string{"nonexistent"}, want: 127, out: []string{"tend", "nonexistent"}},
		{
			name: "NotExecutable",
			opts: []string{"-v", notExec + ":/not-executable:ro"},
			args: []string{"/not-executable"}, want: 126, out: []string{"tend", "/not-executable"},
		},
		// tini's -e: Java's 143 reported as success.
		{name: "MapTo0", opts: asTend, args: append([]string{"-e", "143", "--"}, sh("kill -TERM $$")...), want: 0},
		// An --entrypoint without arguments leaves tend with nothing to run.
		{name: "Usage", opts: asTend, want: 2, out: []string{"tend", "usage"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out := e.run(t, tc.opts, tc.args...)
			if code != tc.want {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, tc.want, out)
			}
			for _, want := range tc.out {
				if !strings.Contains(out, want) {
					t.Fatalf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// termHandler traps TERM, says so and exits 7: the code `docker stop`
// must report. A plain `sleep` would hold the trap back until it ends,
// so the loop waits on a background sleep, which a trapped signal cuts.
const termHandler = `trap 'echo stopping; exit 7' TERM; echo ready; while :; do sleep 1 & wait $!; done`

// testStopHandledTerm: `docker stop` sends TERM to PID 1. If it never
// reached the child, Docker would SIGKILL after -t and report 137.
func (e *env) testStopHandledTerm(t *testing.T) {
	t.Parallel()
	name := e.start(t, nil, sh(termHandler)...)
	e.follow(t, name).waitFor(t, "ready")
	e.stop(t, name, 7)
}

// testShellFormSavesOnStop runs the example as its README shows it: the
// image's own shell-form CMD, `sh -c 'server.sh; true'`. TERM reaches the
// server through the process group; the shell dies of it at once (143,
// tend's exit code), and the server, now a leftover, still gets the
// ~100 ms its save takes before tend exits. (Were the group not
// signalled, tend's TERM to leftovers would reach the server a moment
// later: testKillForwards is the one that tells the two apart.)
func (e *env) testShellFormSavesOnStop(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	// Same uid as the test, so the test can read and remove what the
	// server writes even when it does not run as root.
	user := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	name := e.start(t, []string{"-v", data + ":/data", "--user", user})
	logs := e.follow(t, name)
	logs.waitFor(t, "server: running")
	e.stop(t, name, 143)

	got, err := os.ReadFile(filepath.Join(data, "state"))
	if err != nil {
		t.Fatalf("the server did not save its state: %v\nlog:\n%s", err, logs.String())
	}
	if !strings.Contains(string(got), "saved-on=TERM\n") {
		t.Fatalf("state file:\n%s\nwant a line saved-on=TERM", got)
	}
	logs.waitFor(t, "server: state saved")
}

// testKillForwards: `docker kill -s SIG` signals tend, which passes the
// signal on to the child's process group. HUP too: only supervisor mode
// keeps it. The trapping loop runs as a grandchild under a shell that
// traps the same signals, and so holds them until its foreground child
// ends: the markers can only come from the signal sent to the group.
func (e *env) testKillForwards(t *testing.T) {
	t.Parallel()
	sigs := []string{"USR1", "USR2", "HUP", "WINCH", "40"} // 40: a real-time signal
	inner := ""
	for _, s := range sigs {
		inner += fmt.Sprintf("trap 'echo got %s' %s; ", s, s)
	}
	inner += "echo ready; while :; do sleep 1 & wait $!; done"
	outer := "trap : " + strings.Join(sigs, " ") + `; sh -c "$INNER"; true`
	name := e.start(t, []string{"-e", "INNER=" + inner}, sh(outer)...)
	logs := e.follow(t, name)
	logs.waitFor(t, "ready")
	for _, s := range sigs {
		t.Run(s, func(t *testing.T) {
			mustDocker(t, "kill", "-s", s, name)
			logs.waitFor(t, "got "+s+"\n")
		})
	}
}

// testLeftoverKilledAfterGrace: once the main program has exited, a
// leftover that ignores TERM is killed when --grace is over, and tend
// still exits with the main program's code.
func (e *env) testLeftoverKilledAfterGrace(t *testing.T) {
	t.Parallel()
	start := time.Now()
	code, out := e.run(t, []string{"--entrypoint", "/usr/bin/tend"},
		append([]string{"--grace", "200ms", "--"}, sh("trap '' TERM; sleep 600 & exit 3")...)...)
	took := time.Since(start)
	if code != 3 {
		t.Fatalf("exit code %d, want 3; output:\n%s", code, out)
	}
	// A loose bound: far below the 600 s the leftover would take, but
	// with room for a slow engine, so --grace's exact length is left to
	// the process-level tests.
	if took > 20*time.Second {
		t.Fatalf("docker run took %v: the leftover was not killed after --grace 200ms; output:\n%s", took, out)
	}
}

// testTTY: with `docker run -it` the child gets the container's terminal
// as its foreground process group, so Ctrl-Z and Ctrl-C reach it, and not
// tend (which a TSTP would stop, and which would forward the INT).
func (e *env) testTTY(t *testing.T) {
	t.Parallel()
	ptm, pts := openPTY(t)
	name := e.name()
	script := `trap 'echo got TSTP' TSTP; trap 'echo got INT; exit 5' INT; echo ready; while :; do sleep 1 & wait $!; done`
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "docker", "run", "-it", "--rm", "--name", name, e.image, "sh", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	// The docker CLI needs a terminal of its own to put in raw mode and
	// pass keys through.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err := cmd.Start()
	pts.Close()
	if err != nil {
		ptm.Close()
		t.Fatal(err)
	}
	term, done := watch(ptm)
	t.Cleanup(func() {
		dockerCmd("rm", "-f", "-v", name)
		cmd.Process.Kill()
		cmd.Wait() // an error if the test already waited: nothing to do
		<-done
		if t.Failed() {
			t.Logf("terminal:\n%s", term.String())
		}
	})
	term.waitFor(t, "ready")
	key := func(b byte) {
		if _, err := ptm.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	key(0x1a) // Ctrl-Z
	term.waitFor(t, "got TSTP")
	key(0x03) // Ctrl-C
	term.waitFor(t, "got INT")
	if err := cmd.Wait(); exitCode(err) != 5 {
		t.Fatalf("docker run -it: %v, want exit code 5", err)
	}
}

// openPTY opens a new pseudo-terminal pair: the test's side and the side
// a program gets as its terminal.
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	rc, err := ptm.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			if err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); err == nil {
				n, err = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
			}
		})
		err = errors.Join(err, cerr)
	}
	if err == nil {
		pts, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	}
	if err != nil {
		ptm.Close()
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	return ptm, pts
}

// testDockerInit covers tend under Docker's own init, and tend as that
// init: what `dockerd --init-path /usr/bin/tend` does for every `docker
// run --init`.
func (e *env) testDockerInit(t *testing.T) {
	t.Parallel()
	// --init: docker-init is PID 1 and tend its child, a subreaper. The
	// engine's init forwards TERM to tend alone; tend passes it on.
	t.Run("UnderInit", func(t *testing.T) {
		t.Parallel()
		if code, out := e.run(t, []string{"--init"}, sh("exit 42")...); code != 42 {
			t.Fatalf("exit code %d, want 42; output:\n%s", code, out)
		}
		name := e.start(t, []string{"--init"}, sh(termHandler)...)
		e.follow(t, name).waitFor(t, "ready")
		e.stop(t, name, 7)
	})
	// With init-path set, the engine bind-mounts that binary at
	// /sbin/docker-init and starts `/sbin/docker-init -- ENTRYPOINT CMD`.
	// The same mount and argv, made by hand, on the daemon as it is.
	t.Run("AsInitPath", func(t *testing.T) {
		t.Parallel()
		opts := []string{"-v", e.tend + ":/sbin/docker-init:ro", "--entrypoint", "/sbin/docker-init"}
		if code, out := e.run(t, opts, append([]string{"--"}, sh("exit 42")...)...); code != 42 {
			t.Fatalf("exit code %d, want 42; output:\n%s", code, out)
		}
		name := e.start(t, opts, append([]string{"--"}, sh(termHandler)...)...)
		e.follow(t, name).waitFor(t, "ready")
		e.stop(t, name, 7)
	})
}

// testDockerfiles builds the image the way users are told to: the root
// Dockerfile's final stage (its build stage needs golang from a registry,
// so the binary stands in for it) and examples/prebuilt.
func (e *env) testDockerfiles(t *testing.T) {
	t.Parallel()
	t.Run("Root", func(t *testing.T) {
		t.Parallel()
		final := finalStage(t, filepath.Join(e.root, "Dockerfile"))
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(final), 0o644); err != nil {
			t.Fatal(err)
		}
		e.checkTendImage(t, e.build(t, "root", dir, map[string]string{"tend": e.tend}))
	})
	t.Run("Prebuilt", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(e.root, "examples", "prebuilt")
		e.checkTendImage(t, e.build(t, "prebuilt", dir, map[string]string{"tend": e.tend}))
	})
}

// checkTendImage checks an image holding tend alone.
func (e *env) checkTendImage(t *testing.T, image string) {
	t.Helper()
	if got := strings.TrimSpace(mustDocker(t, "image", "inspect", "-f", "{{json .Config.Entrypoint}}", image)); got != entrypoint {
		t.Fatalf("entrypoint %s, want %s", got, entrypoint)
	}
	// `docker run IMAGE` with no CMD: tend -- and nothing after it.
	if code, out := e.runImage(t, image, nil); code != 2 || !strings.Contains(out, "no command") {
		t.Fatalf("no CMD: exit code %d, want 2 and a usage error; output:\n%s", code, out)
	}
	// tend runs a second tend: the only program in the image.
	if code, out := e.runImage(t, image, nil, "/usr/bin/tend", "version"); code != 0 || !strings.HasPrefix(out, "tend ") {
		t.Fatalf("tend version: exit code %d; output:\n%s", code, out)
	}
}

// finalStage turns the root Dockerfile into one that builds its last
// stage from a tend binary in the context: from the last FROM on, with
// `COPY --from=STAGE SRC DST` read as `COPY tend DST`.
func finalStage(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	last := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(l)), "FROM ") {
			last = i
		}
	}
	if last < 0 || !strings.EqualFold(strings.TrimSpace(lines[last]), "FROM scratch") {
		t.Fatalf("%s: the final stage must be FROM scratch", path)
	}
	copyFrom := regexp.MustCompile(`(?i)^COPY\s+--from=\S+\s+\S+\s+(\S+)\s*$`)
	n := 0
	for i := last; i < len(lines); i++ {
		if m := copyFrom.FindStringSubmatch(strings.TrimSpace(lines[i])); m != nil {
			lines[i] = "COPY tend " + m[1]
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%s: want one COPY --from=STAGE in the final stage, found %d", path, n)
	}
	return strings.Join(lines[last:], "\n")
}

// ---- docker plumbing ----

// requireDocker fails the test when there is no usable engine, unless
// TEND_NO_DOCKER=1 says this machine has none on purpose, or this is a
// developer's machine (CI unset) with no docker command at all. Under CI,
// or with a docker command whose engine does not answer, a missing engine
// is a failure.
func requireDocker(t *testing.T) {
	t.Helper()
	if os.Getenv("TEND_NO_DOCKER") == "1" {
		t.Skip("TEND_NO_DOCKER=1: image tests NOT RUN, on request")
	}
	if _, err := exec.LookPath("docker"); err != nil && os.Getenv("CI") == "" {
		t.Skip("no docker command on this machine: image tests NOT RUN (CI fails here instead)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "info").CombinedOutput()
	if err != nil {
		t.Fatalf("docker info: %v\n%s\nThese tests need a Docker engine; on a machine without one, set TEND_NO_DOCKER=1 to skip them.", err, out)
	}
}

// mustDocker runs the docker CLI and fails the test if it fails. Its output
// is returned, and shown only on failure.
func mustDocker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := dockerCmd(args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func dockerCmd(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return string(out), err
}

// name returns a container name unique to this run.
func (e *env) name() string {
	return fmt.Sprintf("tend-e2e-%s-%d", e.id, e.seq.Add(1))
}

// build builds the Dockerfile in dir (with its .dockerignore and every
// other file there) plus extra (name in the context → file on the host,
// which wins over a file of that name in dir) and tags it uniquely. The
// image goes when the test ends. The build is single-stage, so removing
// the tag removes every intermediate image the classic builder made.
func (e *env) build(t *testing.T, what, dir string, extra map[string]string) string {
	t.Helper()
	ctx := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if _, ok := extra[ent.Name()]; !ok && ent.Type().IsRegular() {
			copyFile(t, filepath.Join(dir, ent.Name()), filepath.Join(ctx, ent.Name()))
		}
	}
	for name, src := range extra {
		copyFile(t, src, filepath.Join(ctx, name))
	}
	tag := "tend-e2e-" + e.id + "-" + what
	t.Cleanup(func() {
		if out, err := dockerCmd("rmi", tag); err != nil {
			t.Logf("docker rmi %s: %v\n%s", tag, err, out)
		}
	})
	mustDocker(t, "build", "--force-rm", "-t", tag, ctx)
	return tag
}

// run runs the test image to its end and returns its exit code (which
// `docker run` reports as its own) and output.
func (e *env) run(t *testing.T, opts []string, args ...string) (int, string) {
	t.Helper()
	return e.runImage(t, e.image, opts, args...)
}

func (e *env) runImage(t *testing.T, image string, opts []string, args ...string) (int, string) {
	t.Helper()
	name := e.name()
	t.Cleanup(func() { dockerCmd("rm", "-f", "-v", name) })
	argv := append(append([]string{"run", "--rm", "--name", name}, opts...), image)
	out, err := dockerCmd(append(argv, args...)...)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("docker %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	if code := exitCode(err); code != 125 {
		return code, out
	}
	t.Fatalf("docker %s: the engine failed (125):\n%s", strings.Join(argv, " "), out)
	return 0, ""
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return 0
}

// start runs the test image detached. When the test ends the container
// goes, and if the test failed its log and state are shown first.
func (e *env) start(t *testing.T, opts []string, args ...string) string {
	t.Helper()
	name := e.name()
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := dockerCmd("logs", name)
			state, _ := dockerCmd("inspect", "-f", "{{json .State}}", name)
			t.Logf("container %s\nstate: %s\nlog:\n%s", name, state, logs)
		}
		dockerCmd("rm", "-f", "-v", name)
	})
	argv := append(append([]string{"run", "-d", "--name", name}, opts...), e.image)
	mustDocker(t, append(argv, args...)...)
	return name
}

// stop runs `docker stop -t 30` and checks that the container ended by
// itself, with code want, well before Docker's SIGKILL.
func (e *env) stop(t *testing.T, name string, want int) {
	t.Helper()
	start := time.Now()
	mustDocker(t, "stop", "-t", "30", name)
	took := time.Since(start)
	code, err := strconv.Atoi(strings.TrimSpace(mustDocker(t, "inspect", "-f", "{{.State.ExitCode}}", name)))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case code == 137 && want != 137:
		t.Fatalf("exit code 137 after %v: Docker had to SIGKILL, the TERM did not end the child (want %d)", took, want)
	case code != want:
		t.Fatalf("exit code %d after %v, want %d", code, took, want)
	case took > 10*time.Second:
		t.Fatalf("docker stop took %v; the child handles TERM at once", took)
	}
}

// logWatch follows a container's log (`docker logs -f`, stdout and
// stderr together) as it is written.
type logWatch struct {
	mu      sync.Mutex
	buf     []byte // guarded by mu
	ended   bool   // guarded by mu: docker logs -f is gone
	changed chan struct{}
}

// follow starts following name's log until the test ends.
func (e *env) follow(t *testing.T, name string) *logWatch {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "logs", "-f", name)
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	lw, done := watch(r)
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		<-done
	})
	return lw
}

// watch reads r into a logWatch until r fails (EOF, or EIO on a
// terminal whose other side is gone), then closes r and done.
func watch(r *os.File) (lw *logWatch, done <-chan struct{}) {
	lw = &logWatch{changed: make(chan struct{}, 1)}
	d := make(chan struct{})
	go func() {
		defer close(d)
		defer r.Close()
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			lw.mu.Lock()
			lw.buf = append(lw.buf, b[:n]...)
			lw.ended = err != nil
			lw.mu.Unlock()
			select {
			case lw.changed <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return lw, d
}

func (lw *logWatch) String() string {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return string(lw.buf)
}

// waitFor waits until the log holds want, failing the test if the log
// ends or readyTimeout passes first.
func (lw *logWatch) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	for {
		lw.mu.Lock()
		got, ended := string(lw.buf), lw.ended
		lw.mu.Unlock()
		switch {
		case strings.Contains(got, want):
			return
		case ended:
			t.Fatalf("log ended without %q:\n%s", want, got)
		}
		select {
		case <-lw.changed:
		case <-deadline.C:
			t.Fatalf("no %q in the log after %v:\n%s", want, readyTimeout, got)
		}
	}
}

// ---- the files the images are made of ----

// sh is the argv of a busybox shell running script.
func sh(script string) []string { return []string{"sh", "-c", script} }

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !strings.HasPrefix(string(b), "module tend\n") {
		t.Fatalf("%s is not tend's repository root (go.mod: %v)", root, err)
	}
	return root
}

func runID(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// buildTend builds tend as the Dockerfile does, so no stale binary is
// ever tested.
func buildTend(t *testing.T, root string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "tend")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// busybox finds a static busybox: a dynamically linked one cannot run in
// a FROM scratch image, and would fail there with a puzzling "no such
// file" for its missing loader.
func busybox(t *testing.T) string {
	t.Helper()
	path := os.Getenv("TEND_BUSYBOX")
	if path == "" {
		path = "/bin/busybox"
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("need a static busybox at %s (Debian: apt-get install busybox-static; or set TEND_BUSYBOX): %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s is dynamically linked; need a static busybox (Debian: busybox-static; or set TEND_BUSYBOX)", path)
		}
	}
	return path
}

// copyFile copies src to dst with src's permission bits, which COPY
// keeps: the binaries must stay executable.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
