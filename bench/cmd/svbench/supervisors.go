package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"tend/api"
	"tend/bench/internal/benchkit"
)

// supervisor is one of the three under test, and how a scenario is
// written in its own configuration language.
type supervisor struct {
	Name string `json:"name"`
	Path string `json:"path"`
	// Command is how it is run, with DIR for the scenario's directory.
	Command string `json:"command"`
	// Depth is how many generations below the supervisor process a
	// program runs: 1 for tend and supervisord, which fork the programs
	// themselves; 2 for s6, where s6-svscan forks one s6-supervise per
	// service and each s6-supervise forks its ./run.
	Depth int `json:"depth"`
	// SleepExecs is how many execs a `sleep 3600` program makes before it
	// is sleep: 1 for tend and supervisord (exec form); 2 for s6, whose
	// ./run is a shell script that execs sleep.
	SleepExecs int `json:"sleep_execs"`
	// write writes sc's configuration into dir and returns the argv.
	write func(dir string, sc scenario) ([]string, error)
}

// scenario is what the supervisor is asked to run.
type scenario struct {
	kind string // "sleep", "write", "crash" or "crashloop"
	// sleep: n programs `sleep 3600`; startsecs0 sets startsecs = 0 for
	// tend and supervisord, so that "started" means "spawned".
	n          int
	startsecs0 bool
	// privs (tend only) gives each program rlimits and no_new_privs,
	// which tend sets between fork and exec on a path of its own.
	privs bool
	// write: svchild writes bytes to its stdout, which goes through the
	// supervisor as output says: for tend "inherit", "prefix" or a file
	// path; for supervisord "" (its own stdout: it always copies) or a
	// file path; s6 always inherits. svchild records its timing in file.
	output string
	bytes  int64
	// crash: svchild records to file and exits after lifeMs (plus up to
	// a fifth). crashloop: the same, after exactly lifeMs, each
	// supervisor in its default configuration but for restarting always.
	file   string
	lifeMs int
	// chain: levels programs (a, b, c, …), each depending on the one
	// before, that say they are ready readyMs after they start (svchild
	// ready); for tend, notify = false leaves ready unset, so each level
	// waits out the default startsecs instead. env is added to the
	// supervisor's environment.
	levels  int
	readyMs int
	notify  bool
	env     []string
}

// chainName is the name of level i of a chain: a, b, c, …
func chainName(i int) string { return string(rune('a' + i)) }

var sleepPath = "/usr/bin/sleep"

func supervisors(tend string) []supervisor {
	return []supervisor{
		{Name: "tend", Path: tend, Command: "tend --log-format json -c DIR/tend.toml", Depth: 1, SleepExecs: 1, write: writeTend},
		{Name: "supervisord", Path: "/usr/bin/supervisord", Command: "supervisord -c DIR/supervisord.conf (nodaemon=true)",
			Depth: 1, SleepExecs: 1, write: writeSupervisord},
		{Name: "s6", Path: "/usr/bin/s6-svscan", Command: "s6-svscan DIR/scan", Depth: 2, SleepExecs: 2, write: writeS6},
	}
}

func writeTend(dir string, sc scenario) ([]string, error) {
	var b strings.Builder
	b.WriteString("[tend]\nsocket = \"\"\n\n")
	switch sc.kind {
	case "sleep":
		fmt.Fprintf(&b, "[programs.sleep]\ncommand = [%q, \"3600\"]\ninstances = %d\n", sleepPath, sc.n)
		if sc.startsecs0 {
			b.WriteString("startsecs = 0\n")
		}
		if sc.privs {
			b.WriteString(privsKeys)
		}
	case "write":
		fmt.Fprintf(&b, "[programs.w]\ncommand = [%q, \"write\", \"%d\", %q]\nautorestart = \"never\"\nstartsecs = 0\nstdout = %q\n",
			childPath, sc.bytes, sc.file, sc.output)
	case "crash":
		// backoff.reset of 1 s: each run (1.2 s and more) clears the crash
		// ladder, so every restart is a first one, at once: this measures
		// the restart itself, not the backoff (crashloop does).
		fmt.Fprintf(&b, "[programs.crash]\ncommand = [%q, \"crash\", %q, \"%d\"]\nautorestart = \"always\"\nbackoff = { reset = \"1s\" }\n",
			childPath, sc.file, sc.lifeMs)
	case "crashloop":
		fmt.Fprintf(&b, "[programs.crash]\ncommand = [%q, \"crashloop\", %q, \"%d\"]\nautorestart = \"always\"\n",
			childPath, sc.file, sc.lifeMs)
	case "chain":
		for i := range sc.levels {
			fmt.Fprintf(&b, "[programs.%s]\ncommand = [%q, \"ready\", %q, %q, \"%d\"]\n", chainName(i), childPath, sc.file, chainName(i), sc.readyMs)
			if sc.notify {
				b.WriteString("ready = \"notify\"\n")
			}
			if i > 0 {
				fmt.Fprintf(&b, "depends_on = [%q]\n", chainName(i-1))
			}
		}
	}
	cfg := filepath.Join(dir, "tend.toml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	return []string{tendPath, "--log-format", "json", "-c", cfg}, nil
}

// privsKeys are the keys of the "rlimits+no_new_privs" variant.
const privsKeys = "rlimits = { nofile = 4096, core = 0 }\nno_new_privs = true\n"

func writeSupervisord(dir string, sc scenario) ([]string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\nchildlogdir=%s\n\n",
		dir, dir, dir)
	switch sc.kind {
	case "sleep":
		fmt.Fprintf(&b, "[program:sleep]\ncommand=%s 3600\nnumprocs=%d\nprocess_name=%%(program_name)s_%%(process_num)d\n"+
			"autorestart=true\nstdout_logfile=NONE\nstderr_logfile=NONE\n", sleepPath, sc.n)
		if sc.startsecs0 {
			b.WriteString("startsecs=0\n")
		}
	case "write":
		// supervisord cannot hand a program its own stdout: it always
		// reads the program's pipe. /dev/stdout is its documented way to
		// pass output on to its own stdout; it cannot be rotated, hence
		// maxbytes=0.
		fmt.Fprintf(&b, "[program:w]\ncommand=%s write %d %s\nautorestart=false\nstartsecs=0\nstderr_logfile=NONE\n",
			childPath, sc.bytes, sc.file)
		if sc.output == "" {
			b.WriteString("stdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n")
		} else {
			// A file, rotated by supervisord's defaults (50 MB, 10 backups).
			fmt.Fprintf(&b, "stdout_logfile=%s\n", sc.output)
		}
	case "crash", "crashloop":
		fmt.Fprintf(&b, "[program:crash]\ncommand=%s %s %s %d\nautorestart=true\nstdout_logfile=NONE\nstderr_logfile=NONE\n",
			childPath, sc.kind, sc.file, sc.lifeMs)
	}
	cfg := filepath.Join(dir, "supervisord.conf")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	return []string{"/usr/bin/supervisord", "-c", cfg}, nil
}

func writeS6(dir string, sc scenario) ([]string, error) {
	scan := filepath.Join(dir, "scan")
	if err := os.MkdirAll(scan, 0o755); err != nil {
		return nil, err
	}
	service := func(name, run string, args []string, finish string) error {
		sd := filepath.Join(scan, name)
		if err := os.Mkdir(sd, 0o755); err != nil {
			return err
		}
		if args != nil {
			// ./run is svchild itself, which reads its arguments from
			// svchild.args: no shell between s6-supervise and the program.
			if err := os.Symlink(childPath, filepath.Join(sd, "run")); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(sd, "svchild.args"), []byte(strings.Join(args, "\n")+"\n"), 0o644); err != nil {
				return err
			}
		} else if err := os.WriteFile(filepath.Join(sd, "run"), []byte(run), 0o755); err != nil {
			return err
		}
		if finish != "" {
			return os.WriteFile(filepath.Join(sd, "finish"), []byte(finish), 0o755)
		}
		return nil
	}
	var err error
	switch sc.kind {
	case "sleep":
		for i := 0; i < sc.n && err == nil; i++ {
			err = service(fmt.Sprintf("sleep%03d", i), "#!/bin/sh\nexec "+sleepPath+" 3600\n", nil, "")
		}
	case "write":
		// finish exiting 125 tells s6-supervise not to start it again.
		err = service("w", "", []string{"write", strconv.FormatInt(sc.bytes, 10), sc.file}, "#!/bin/sh\nexit 125\n")
	case "crash", "crashloop":
		err = service("crash", "", []string{sc.kind, sc.file, strconv.Itoa(sc.lifeMs)}, "")
	case "chain":
		// s6's readiness is its notification-fd: svchild writes a
		// newline on fd 3. s6-svscan has no dependencies (s6-rc does,
		// and is not installed): each level's ./run waits for the one
		// before to be up and ready with s6-svwait -U, the way a run
		// script waits for another service, then execs svchild. A
		// s6-svwait that runs before the other service's supervise
		// directory exists fails: the script tries again 10 ms later.
		for i := 0; i < sc.levels && err == nil; i++ {
			name := chainName(i)
			args := []string{"ready", sc.file, name, strconv.Itoa(sc.readyMs), "3"}
			if i == 0 {
				err = service(name, "", args, "")
			} else {
				err = service(name, fmt.Sprintf("#!/bin/sh\ns6-svwait -U ../%s 2>/dev/null || { sleep 0.01; exec ./run; }\nexec %s %s\n",
					chainName(i-1), childPath, strings.Join(args, " ")), nil, "")
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(scan, name, "notification-fd"), []byte("3\n"), 0o644)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return []string{"/usr/bin/s6-svscan", scan}, nil
}

// tendPath and childPath are absolute paths of the binaries under test.
var tendPath, childPath string

// instance is one supervisor running one scenario, a direct child of
// svbench.
type instance struct {
	sup     supervisor
	sc      scenario
	dir     string
	cmd     *exec.Cmd
	pid     int
	startNs int64 // just before the fork of the supervisor
	done    chan struct{}
	waitErr error
	// stderr keeps the supervisor's stderr for a failure message; for
	// tend it also counts the programs that reached RUNNING.
	mu        sync.Mutex
	stderr    strings.Builder
	running   map[string]bool
	runningNs int64 // when the n-th program's RUNNING line was read
	stderrEOF chan struct{}
}

// launch writes the scenario's configuration into a new directory and
// starts the supervisor with stdout as its stdout (nil: /dev/null).
func launch(t *procTree, sup supervisor, sc scenario, stdout *os.File) (*instance, error) {
	dir, err := os.MkdirTemp("", "svbench-"+sup.Name+"-")
	if err != nil {
		return nil, err
	}
	argv, err := sup.write(dir, sc)
	if err != nil {
		return nil, err
	}
	in := &instance{sup: sup, sc: sc, dir: dir, done: make(chan struct{}), running: map[string]bool{}, stderrEOF: make(chan struct{})}
	in.cmd = exec.Command(argv[0], argv[1:]...)
	in.cmd.Dir = dir
	if sc.env != nil {
		in.cmd.Env = append(os.Environ(), sc.env...)
	}
	if stdout == nil {
		if stdout, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
			return nil, err
		}
		defer stdout.Close()
	}
	in.cmd.Stdout = stdout
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	in.cmd.Stderr = stderrW
	go in.readStderr(stderrR)
	in.startNs = benchkit.Monotonic()
	err = in.cmd.Start()
	stderrW.Close()
	if err != nil {
		stderrR.Close()
		return nil, fmt.Errorf("%s: %w", sup.Name, err)
	}
	in.pid = in.cmd.Process.Pid
	go func() {
		in.waitErr = in.cmd.Wait()
		close(in.done)
	}()
	return in, nil
}

// readStderr keeps the supervisor's stderr and, for tend, notes when the
// n-th program's RUNNING line arrives (the time svbench reads it: tend's
// own log times are in seconds).
func (in *instance) readStderr(r io.ReadCloser) {
	defer close(in.stderrEOF)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		now := benchkit.Monotonic()
		in.mu.Lock()
		if in.stderr.Len() < 1<<20 {
			in.stderr.Write(line)
			in.stderr.WriteByte('\n')
		}
		if in.sup.Name == "tend" {
			var ev struct {
				Message, Program string
				State            api.State
			}
			if json.Unmarshal(line, &ev) == nil && ev.Message == "state" && ev.State == api.Running {
				in.running[ev.Program] = true
				if len(in.running) == in.sc.n && in.runningNs == 0 {
					in.runningNs = now
				}
			}
		}
		in.mu.Unlock()
	}
}

// allRunning waits until tend has logged RUNNING for every program and
// returns the time the last line was read.
func (in *instance) allRunning(timeout time.Duration) (int64, error) {
	deadline := time.Now().Add(timeout)
	for {
		in.mu.Lock()
		ns, n := in.runningNs, len(in.running)
		in.mu.Unlock()
		if ns != 0 {
			return ns, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d of %d programs RUNNING after %s", n, in.sc.n, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the supervisor to exit; it returns
// the time just before the kill. The caller times the rest from the
// process events.
func (in *instance) stop(timeout time.Duration) (int64, error) {
	t := benchkit.Monotonic()
	if err := unix.Kill(in.pid, unix.SIGTERM); err != nil {
		return t, err
	}
	select {
	case <-in.done:
	case <-time.After(timeout):
		return t, fmt.Errorf("%s did not exit within %s of SIGTERM", in.sup.Name, timeout)
	}
	// A clean shutdown is exit 0 for all three.
	if in.waitErr != nil {
		return t, fmt.Errorf("%s: %w", in.sup.Name, in.waitErr)
	}
	return t, nil
}

// fail kills the instance's whole tree and wraps err with its stderr
// (and supervisord's log, where supervisord writes its own messages).
func (in *instance) fail(t *procTree, err error) error {
	in.kill(t)
	in.mu.Lock()
	msg := strings.TrimSpace(in.stderr.String())
	in.mu.Unlock()
	if b, e := os.ReadFile(filepath.Join(in.dir, "supervisord.log")); e == nil {
		msg += "\nsupervisord.log:\n" + string(b)
	}
	if len(msg) > 4000 {
		msg = "…" + msg[len(msg)-4000:]
	}
	return fmt.Errorf("%s: %w; stderr: %s", in.sup.Name, err, msg)
}

// kill ends the instance by SIGKILL to its whole tree, without timing
// anything, and removes its directory.
func (in *instance) kill(t *procTree) {
	select {
	case <-in.done:
	default:
		t.killTree(in.pid)
		select {
		case <-in.done:
		case <-time.After(10 * time.Second):
		}
	}
	// Programs whose supervisor died first (s6-supervise under a killed
	// s6-svscan) may still be going: the tree records them all.
	t.killTree(in.pid)
	os.RemoveAll(in.dir)
}

// cleanup removes the instance's directory after a clean stop.
func (in *instance) cleanup() { os.RemoveAll(in.dir) }

// waitFile waits until file holds a line starting with prefix, or the
// supervisor exits, reading it every interval.
func waitFile(in *instance, file, prefix string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(file)
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(line, prefix) {
				return line, nil
			}
		}
		select {
		case <-in.done:
			return "", errors.New("exited before its program had finished")
		default:
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no %q line in %s after %s", prefix, file, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
