package main

import (
	"bufio"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// initSpec is an init under test and how it runs a command with its
// default flags: the benchmark compares what users get out of the box.
type initSpec struct {
	Name string `json:"name"`
	Path string `json:"path"`
	// Prefix goes between the init and the command.
	Prefix []string `json:"prefix"`
	// Forwards says whom a forwarded signal reaches by default.
	Forwards string `json:"forwards"`
	// Tags are a floor's build tags, read from the binary: what it links.
	Tags string `json:"tags,omitempty"`
}

func (s initSpec) argv(cmd ...string) []string {
	return append(append([]string{s.Path}, s.Prefix...), cmd...)
}

func initSpecs(tend string) []initSpec {
	return []initSpec{
		{Name: "tend", Path: tend, Prefix: []string{"--"}, Forwards: "child's process group (--no-group: the child alone)"},
		{Name: "tini", Path: "/usr/bin/tini", Prefix: []string{"--"}, Forwards: "the child alone (-g: its process group)"},
		{Name: "dumb-init", Path: "/usr/bin/dumb-init", Prefix: []string{"--"}, Forwards: "child's process group (setsid mode; -c: the child alone)"},
		{Name: "catatonit", Path: "/usr/bin/catatonit", Prefix: []string{"--"}, Forwards: "the child alone (-g: its process group)"},
	}
}

// parseFloors reads -floors: NAME=BIN pairs, comma-separated. Each floor
// runs as `BIN -- CMD`, and its build tags are read from the binary.
func parseFloors(arg string) ([]initSpec, error) {
	var floors []initSpec
	for pair := range strings.SplitSeq(arg, ",") {
		if pair == "" {
			continue
		}
		name, path, ok := strings.Cut(pair, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("-floors: %q is not NAME=BIN", pair)
		}
		path, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		bi, err := buildinfo.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("-floors: %s: %w", name, err)
		}
		f := initSpec{Name: name, Path: path, Prefix: []string{"--"}, Forwards: "child's process group"}
		for _, s := range bi.Settings {
			if s.Key == "-tags" {
				f.Tags = s.Value
			}
		}
		floors = append(floors, f)
	}
	return floors, nil
}

// unsharePath is util-linux's unshare, looked up once.
var unsharePath = "unshare"

// asPID1 wraps argv so that argv[0] runs as PID 1 of a new PID namespace,
// with its own /proc.
func asPID1(argv []string) *exec.Cmd {
	return exec.Command(unsharePath, append([]string{"--pid", "--fork", "--mount-proc"}, argv...)...)
}

// startAll starts every init with the same child, one after the other,
// each ready before the next starts.
func startAll(specs []initSpec, args ...string) ([]*running, error) {
	var runs []*running
	for _, s := range specs {
		r, err := start(s, args...)
		if err != nil {
			for _, r := range runs {
				_ = r.fail(errors.New("stopped"))
			}
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// abandon kills every run that has not finished: deferred by each
// measurement, it is a no-op once finishAll has run.
func abandon(runs []*running) {
	for _, r := range runs {
		if r.cmd.ProcessState == nil {
			_ = r.fail(errors.New("abandoned"))
		}
	}
}

// finishAll ends every run and reports every failure.
func finishAll(runs []*running) error {
	var errs []error
	for _, r := range runs {
		errs = append(errs, r.finish())
	}
	return errors.Join(errs...)
}

// child is what the benchmark child says about itself in its ready line,
// with ids as seen inside the namespace.
type child struct {
	Pid   int            `json:"pid"`
	Ppid  int            `json:"ppid"`
	Pgid  int            `json:"pgid"`
	Sid   int            `json:"sid"`
	Extra map[string]int `json:"extra,omitempty"`
}

// running is one init as PID 1 with the benchmark child under it. The
// driver talks to the child through its stdin and stdout; the init's and
// the child's stderr go to a file, shown if the run fails.
type running struct {
	spec   initSpec
	cmd    *exec.Cmd
	stdin  *os.File
	out    *os.File
	lines  *bufio.Reader
	stderr *os.File
	// pid is the init's pid on the host: the child of unshare.
	pid   int
	child child
}

// start runs `unshare ... INIT -- benchchild ARGS` and returns once the
// child has said it is ready.
func start(spec initSpec, args ...string) (*running, error) {
	r := &running{spec: spec}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	if r.stderr, err = os.CreateTemp("", "initbench-"+spec.Name+"-*.stderr"); err != nil {
		return nil, err
	}
	os.Remove(r.stderr.Name())
	r.cmd = asPID1(spec.argv(append([]string{childPath}, args...)...))
	r.cmd.Stdin, r.cmd.Stdout, r.cmd.Stderr = inR, outW, r.stderr
	err = r.cmd.Start()
	inR.Close()
	outW.Close()
	r.stdin, r.out, r.lines = inW, outR, bufio.NewReader(outR)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.Name, err)
	}
	line, err := r.readLine(60 * time.Second)
	if err == nil {
		r.child, err = parseReady(line)
	}
	if err == nil {
		r.pid, err = initPid(r.cmd.Process.Pid)
	}
	if err == nil && r.child.Ppid != 1 {
		err = fmt.Errorf("child's parent is %d, not the init", r.child.Ppid)
	}
	if err != nil {
		return nil, r.fail(err)
	}
	return r, nil
}

// readLine reads one line of the child's stdout, without the newline.
func (r *running) readLine(timeout time.Duration) (string, error) {
	if err := r.out.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	line, err := r.lines.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read from child: %w", err)
	}
	return strings.TrimSuffix(line, "\n"), nil
}

// finish closes the child's stdin, which makes it exit 0, and waits for
// the init to exit 0 in turn.
func (r *running) finish() error {
	r.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		// SIGKILL to PID 1 kills its whole namespace.
		_ = unix.Kill(r.pid, unix.SIGKILL)
		<-done
		err = errors.New("did not exit within 30s after its child's stdin was closed")
	}
	r.out.Close()
	if err != nil {
		return r.fail(err)
	}
	r.stderr.Close()
	return nil
}

// fail kills what is left of the run and wraps err with its stderr.
func (r *running) fail(err error) error {
	if r.cmd.Process != nil && r.cmd.ProcessState == nil {
		pid := r.pid
		if kids, e := children(r.cmd.Process.Pid); pid == 0 && e == nil && len(kids) == 1 {
			pid = kids[0]
		}
		if pid > 0 {
			_ = unix.Kill(pid, unix.SIGKILL) // PID 1: its whole namespace dies
		} else {
			_ = r.cmd.Process.Kill()
		}
		_ = r.cmd.Wait()
	}
	var msg []byte
	if _, e := r.stderr.Seek(0, io.SeekStart); e == nil {
		msg, _ = io.ReadAll(r.stderr)
	}
	r.stderr.Close()
	return fmt.Errorf("%s: %w; stderr: %q", r.spec.Name, err, strings.TrimSpace(string(msg)))
}

func parseReady(line string) (child, error) {
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "ready" {
		return child{}, fmt.Errorf("child said %q, want a ready line", line)
	}
	var c child
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if err != nil {
			return c, fmt.Errorf("ready line %q: %s: %w", line, k, err)
		}
		switch k {
		case "pid":
			c.Pid = n
		case "ppid":
			c.Ppid = n
		case "pgid":
			c.Pgid = n
		case "sid":
			c.Sid = n
		default:
			if c.Extra == nil {
				c.Extra = map[string]int{}
			}
			c.Extra[k] = n
		}
	}
	return c, nil
}

// initPid finds the host pid of the namespace's PID 1: the one child of
// unshare, checked to be pid 1 inside.
func initPid(unshare int) (int, error) {
	kids, err := children(unshare)
	if err != nil {
		return 0, err
	}
	if len(kids) != 1 {
		return 0, fmt.Errorf("unshare has %d children, want 1", len(kids))
	}
	ns, err := nsPids(kids[0])
	if err != nil {
		return 0, err
	}
	if len(ns) < 2 || ns[len(ns)-1] != 1 {
		return 0, fmt.Errorf("pid %d is %v in its namespaces, not PID 1", kids[0], ns)
	}
	return kids[0], nil
}
