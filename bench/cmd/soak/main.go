// Command soak runs tend as PID 1 of a fresh PID namespace under
// chaos for a while, and checks that it comes out whole: bash
// bench/soak.sh builds the binaries and runs it. docs/reliability.md
// says what it does and what a long run found.
//
//	soak -tend BIN -child BIN [-d 60s] [-quiet 10s] [-out DIR] [-commit TEXT]
//
// tend runs about twenty programs of bench/cmd/soak/soakchild from a
// generated config (config.go): crash loops, orphan makers, writers of
// numbered lines to tend's stdout and to rotated files, and HTTP health
// targets that flap. Until the duration is up the actors of chaos.go
// SIGKILL programs and grandchildren, flood tend with signals it
// ignores, run every tend ctl verb, hold events streams they never
// read and reload valid and invalid configs; every 10 s the sampler
// reads tend's RssAnon, threads and fds and the namespace's zombies.
//
// Then the streams are closed, every program is stopped and every
// leftover killed, and after a quiet period tend is sampled again and
// compared with the same quiet state taken before the chaos (fds,
// threads) and, in runs of 3 minutes or more, after its first minute
// (RssAnon). Last, the programs are started again and tend gets
// SIGTERM: it must exit 0 with nothing left behind, and every numbered
// line must be accounted for. Any failure makes the exit code 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"tend/api"
	"tend/bench/internal/benchkit"
)

// soak is one run. The flags and what start sets up are written before
// the actors start and only read after; stalled has its own lock; mu
// guards the rest at the bottom.
type soak struct {
	tend, child string
	d, quiet    time.Duration
	out         string
	commit      string

	setup   *setup
	cfgPath string
	cmd     *exec.Cmd // unshare, whose child is tend
	tendPid int       // host pid
	ns      namespace
	exited  chan struct{} // closed when unshare has exited
	waitErr error         // its Wait's error, once exited is closed

	// The stdout reader owns lines, stdoutN and stdoutErr until it
	// closes stdoutDone (before exited is closed).
	lines      *lineCheck
	stdoutN    int64
	stdoutErr  error
	stdoutDone chan struct{}
	firstLine  chan struct{} // closed at tend's first line of stdout

	invalids   []invalid // the invalid configs tend check refuses
	chaosStart time.Time
	stalled    stalled

	mu       sync.Mutex
	stallMs  int64 // the longest tick overrun since the last sample
	counts   map[string]int
	failures []string
	samples  []sample
}

func main() {
	s := &soak{counts: map[string]int{}, lines: newLineCheck()}
	flag.StringVar(&s.tend, "tend", "", "the tend binary")
	flag.StringVar(&s.child, "child", "", "the soakchild binary")
	flag.DurationVar(&s.d, "d", 60*time.Second, "how long the chaos lasts")
	flag.DurationVar(&s.quiet, "quiet", 10*time.Second, "the quiet period before each quiet sample")
	flag.StringVar(&s.out, "out", "bench/out/soak", "where the run's files go (emptied first)")
	flag.StringVar(&s.commit, "commit", "", "the commit tend was built from, for the report")
	flag.Parse()
	if s.tend == "" || s.child == "" {
		fmt.Fprintln(os.Stderr, "soak: want -tend and -child (bash bench/soak.sh builds and passes them)")
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "soak: must run as root: tend runs as PID 1 of a new PID namespace, and the leftover check listens to the kernel's process events")
		os.Exit(2)
	}
	go s.watchStalls()
	err := s.run()
	if err != nil {
		s.fail("%v", err)
	}
	s.report(os.Stdout)
	if len(s.failures) > 0 {
		os.Exit(1)
	}
	if s.setup != nil {
		// The rotated files of a long run are large; kept after a failure.
		os.RemoveAll(filepath.Join(s.setup.dir, "logs"))
	}
}

// watchStalls measures how late the driver's own 100 ms ticks come:
// a machine too busy to run the driver runs tend no better.
func (s *soak) watchStalls() {
	const tick = 100 * time.Millisecond
	last := time.Now()
	for now := range time.Tick(tick) {
		late := now.Sub(last) - tick
		last = now
		s.mu.Lock()
		s.stallMs = max(s.stallMs, late.Milliseconds())
		s.mu.Unlock()
	}
}

func (s *soak) count(what string) {
	s.mu.Lock()
	s.counts[what]++
	s.mu.Unlock()
}

func (s *soak) fail(format string, args ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, args...))
	s.mu.Lock()
	if s.stallMs >= 1000 {
		// Not an excuse, a clue: the machine stood still, tend with it.
		msg += fmt.Sprintf(" [the driver itself stalled %.1f s since the last sample]", float64(s.stallMs)/1000)
	}
	s.failures = append(s.failures, msg)
	s.mu.Unlock()
	fmt.Fprintln(os.Stderr, "soak: FAIL:", msg)
}

func (s *soak) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak: %s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}

// since is the soak's clock: seconds since the chaos started (negative
// before).
func (s *soak) since() float64 {
	if s.chaosStart.IsZero() {
		return 0
	}
	return time.Since(s.chaosStart).Seconds()
}

func (s *soak) sample(phase string) (sample, bool) {
	sm, err := s.ns.read(s.since(), phase)
	if err != nil {
		s.fail("sampling tend: %v", err)
		return sm, false
	}
	s.mu.Lock()
	sm.StallMs = s.stallMs
	var prev *sample
	if len(s.samples) > 0 {
		prev = &s.samples[len(s.samples)-1]
	}
	s.samples = append(s.samples, sm)
	s.mu.Unlock()
	// A zombie of tend's seen twice, 10 s apart, is one tend did not reap.
	if prev != nil {
		for _, z := range sm.TendZombies {
			if slices.ContainsFunc(prev.TendZombies, func(p nsProc) bool { return p.Pid == z.Pid && p.Start == z.Start }) {
				s.fail("zombie pid %d (%s %s) not reaped by tend between two samples", z.Pid, z.Comm, z.Mode)
			}
		}
	}
	s.mu.Lock()
	s.stallMs = 0 // after the checks above, whose failures it explains
	s.mu.Unlock()
	s.logf("%-8s t=%5.0fs RssAnon=%d KiB threads=%d (%s) fds=%d procs=%d zombies=%d load=%.1f stall=%dms",
		phase, sm.At, sm.RssAnon, sm.Threads, kindsString(sm.ThreadsIn), sm.Fds, sm.Procs, sm.Zombies, sm.Load1, sm.StallMs)
	return sm, true
}

func (s *soak) run() error {
	var err error
	if s.tend, err = filepath.Abs(s.tend); err != nil {
		return err
	}
	if s.child, err = filepath.Abs(s.child); err != nil {
		return err
	}
	if err := os.RemoveAll(s.out); err != nil {
		return err
	}
	dir, err := filepath.Abs(filepath.Join(s.out, "run"))
	if err != nil {
		return err
	}
	if s.setup, err = newSetup(dir, s.child, s.d); err != nil {
		return err
	}
	s.cfgPath = filepath.Join(dir, "tend.toml")
	if err := s.checkConfigs(); err != nil {
		return err
	}
	if err := writeConfig(s.cfgPath, s.setup.config(false)); err != nil {
		return err
	}
	if err := s.start(); err != nil {
		return err
	}
	// From here on, tend is running: stop it whatever happens.
	defer func() {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}()

	s.logf("tend is pid %d on the host; waiting for the programs to come up", s.tendPid)
	if code, out := s.ctl("start", "--wait", "--timeout", "30s", "wprefix:*", "wshared:*", "wsolo", "idle:*", "flap*"); code != 0 {
		return fmt.Errorf("programs did not come up: exit %d: %s", code, out)
	}
	baseline, err := s.quiesce("baseline")
	if err != nil {
		return err
	}
	if code, out := s.ctl("start", "*"); code != 0 {
		return fmt.Errorf("ctl start '*': exit %d: %s", code, out)
	}

	s.logf("chaos for %s", s.d)
	s.chaosStart = time.Now()
	rest := s.d
	var minute1 sample
	if s.d >= 3*time.Minute {
		// The memory to hold the end against: the quiet state after a
		// minute of chaos, taken as the final one is.
		if err := s.chaos(time.Minute); err != nil {
			return err
		}
		if minute1, err = s.settle("minute 1"); err != nil {
			return err
		}
		if code, out := s.ctl("start", "*"); code != 0 {
			return fmt.Errorf("ctl start '*' after the minute-1 sample: exit %d: %s", code, out)
		}
		rest -= time.Minute
	}
	if err := s.chaos(rest); err != nil {
		return err
	}
	final, err := s.settle("final")
	if err != nil {
		return err
	}
	s.compare(baseline, minute1, final)

	if code, out := s.ctl("start", "*"); code != 0 {
		s.fail("ctl start '*' after the final sample: exit %d: %s", code, out)
	}
	if code, out := s.ctl("start", "--wait", "--timeout", "30s", "wprefix:*", "wshared:*", "wsolo", "idle:*"); code != 0 {
		s.fail("programs did not come up again: exit %d: %s", code, out)
	}
	return s.shutdown()
}

// checkConfigs has tend check the valid configs and refuse the invalid
// ones, before any of them reaches a reload.
func (s *soak) checkConfigs() error {
	path := filepath.Join(s.setup.dir, "check.toml")
	defer os.Remove(path)
	try := func(name, text string, want int) error {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
		out, err := exec.Command(s.tend, "check", "-c", path).CombinedOutput()
		if code := exitCode(err); code != want {
			return fmt.Errorf("tend check of the %s config: exit %d, want %d: %s", name, code, want, out)
		}
		return nil
	}
	if err := try("first", s.setup.config(false), 0); err != nil {
		return err
	}
	if err := try("second", s.setup.config(true), 0); err != nil {
		return err
	}
	var refused []invalid
	for _, bad := range invalids {
		err := try(bad.name, bad.text(s.setup), 2)
		switch {
		case err == nil:
			refused = append(refused, bad)
		case bad.limit:
			s.logf("warning: left out of the reloads: %v", err)
			s.count("invalid config left out, tend check accepts it: " + bad.name)
		default:
			return err
		}
	}
	s.invalids = refused
	return nil
}

// start runs tend as PID 1 and waits for its first line of output,
// which a writer wrote: by then the control socket listens.
func (s *soak) start() error {
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "--kill-child", s.tend, "-c", s.cfgPath)
	stderr, err := os.Create(filepath.Join(s.out, "tend.log"))
	if err != nil {
		return err
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	s.stdoutDone = make(chan struct{})
	s.firstLine = make(chan struct{})
	go func() {
		s.stdoutN, s.stdoutErr = s.lines.stream(&firstRead{r: stdout, first: s.firstLine})
		close(s.stdoutDone)
	}()
	go func() {
		<-s.stdoutDone // Wait closes the pipe: read it all first
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	select {
	case <-s.firstLine:
	case <-s.exited:
		return fmt.Errorf("tend exited at start: %v (see %s/tend.log)", s.waitErr, s.out)
	case <-time.After(30 * time.Second):
		return errors.New("no output from tend's programs within 30 s")
	}
	if s.tendPid = childOf(cmd.Process.Pid); s.tendPid == 0 {
		return errors.New("cannot find tend, unshare's child")
	}
	s.ns, err = openNamespace(s.tendPid)
	return err
}

// firstRead closes first when the first bytes come.
type firstRead struct {
	r     io.Reader
	first chan struct{}
	seen  bool
}

func (f *firstRead) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if n > 0 && !f.seen {
		f.seen = true
		close(f.first)
	}
	return n, err
}

// childOf is the one child of pid, from /proc.
func childOf(pid int) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var c int
		if _, err := fmt.Sscan(e.Name(), &c); err != nil {
			continue
		}
		if p, err := readProc(c); err == nil && p.PPid == pid {
			return c
		}
	}
	return 0
}

// chaos runs the actors for the duration, or until tend dies.
func (s *soak) chaos(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for _, actor := range []func(context.Context){
		s.killer, s.signaller, s.controller, s.controller, s.staller, s.reloader, s.sampler,
	} {
		wg.Go(func() { actor(ctx) })
	}
	var err error
	select {
	case <-ctx.Done():
	case <-s.exited:
		err = fmt.Errorf("tend died during the chaos: %v (see %s/tend.log)", s.waitErr, s.out)
		cancel()
	}
	wg.Wait()
	return err
}

// settle ends a stretch of chaos: it closes the stalled streams,
// restores the first config and resumes what is paused, and samples
// the quiet state.
func (s *soak) settle(phase string) (sample, error) {
	s.logf("%s: closing the stalled streams, restoring the config", phase)
	s.closeStalled()
	if err := writeConfig(s.cfgPath, s.setup.config(false)); err != nil {
		return sample{}, err
	}
	if code, out := s.ctl("reload"); code != 0 {
		s.fail("%s: ctl reload of the first config: exit %d: %s", phase, code, out)
	}
	s.ctl("resume", "*") // exit 1 when some are not paused
	return s.quiesce(phase)
}

// quiesce brings tend to the quiet state, the same before and after
// the chaos: every program stopped, every other process of the
// namespace killed and gone; then, after the quiet period, it samples.
// A program that is up again after ctl stop --wait returned is a
// failure; the stop is tried again, so that the quiet sample is still
// taken in the quiet state.
func (s *soak) quiesce(phase string) (sample, error) {
	for round := 1; ; round++ {
		if code, out := s.ctl("stop", "--wait", "--timeout", "60s", "*"); code != 0 {
			return sample{}, fmt.Errorf("%s: ctl stop --wait '*': exit %d: %s", phase, code, out)
		}
		var fds []int
		for _, p := range s.ns.procs() {
			if fd, err := s.ns.kill(p); err == nil {
				fds = append(fds, fd)
				s.count("SIGKILL a leftover to quiesce")
			}
		}
		if err := waitPidfds(fds); err != nil {
			return sample{}, fmt.Errorf("%s: %w", phase, err)
		}
		up, err := s.upPrograms()
		if err != nil {
			return sample{}, fmt.Errorf("%s: %w", phase, err)
		}
		if len(up) == 0 {
			break
		}
		s.fail("%s: after ctl stop --wait '*' returned (round %d), %s", phase, round, strings.Join(up, ", "))
		if round == 3 {
			return sample{}, fmt.Errorf("%s: programs still up after three rounds of ctl stop --wait '*'", phase)
		}
	}
	// A reload of the unchanged file: tend gives the memory a reload
	// parsed back to the kernel at once (debug.FreeOSMemory), and with
	// it every page the heap does not use. The quiet sample then reads
	// what tend holds, not what it has yet to return.
	if code, out := s.ctl("reload"); code != 0 {
		s.fail("%s: ctl reload of an unchanged config: exit %d: %s", phase, code, out)
	}
	s.logf("%s: quiet for %s", phase, s.quiet)
	time.Sleep(s.quiet) // the quiet period: what tend holds once it has settled
	sm, ok := s.sample(phase)
	if !ok {
		return sm, fmt.Errorf("%s: cannot sample tend", phase)
	}
	if sm.Procs != 0 {
		var ps []string
		for _, p := range s.ns.procs() {
			ps = append(ps, fmt.Sprintf("pid %d ppid %d %s %s state %c", p.Pid, p.PPid, p.Comm, p.Mode, p.State))
		}
		s.fail("%s: %d processes in the namespace after every program stopped and every leftover was killed: %s",
			phase, sm.Procs, strings.Join(ps, "; "))
	}
	return sm, nil
}

// upPrograms lists the programs tend says are up or about to be, as
// "NAME is STATE".
func (s *soak) upPrograms() ([]string, error) {
	code, out := s.ctl("--json", "status")
	if code != 0 {
		return nil, fmt.Errorf("ctl --json status: exit %d: %s", code, out)
	}
	var progs []struct {
		Name  string    `json:"name"`
		State api.State `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &progs); err != nil {
		return nil, fmt.Errorf("ctl --json status: %w: %.200s", err, out)
	}
	var up []string
	for _, p := range progs {
		if !p.State.Down() {
			up = append(up, p.Name+" is "+string(p.State))
		}
	}
	return up, nil
}

// compare holds the final quiet sample against the baseline (fds, the
// threads not parked, zombies) and, in runs of 3 minutes or more,
// against the quiet sample after the first minute (RssAnon, the thread
// total).
func (s *soak) compare(baseline, minute1, final sample) {
	if final.Fds != baseline.Fds {
		s.fail("fds: %d in the final quiet state, %d in the baseline (%s; baseline %s)",
			final.Fds, baseline.Fds, kindsString(final.FdKinds), kindsString(baseline.FdKinds))
	}
	// The Go runtime keeps a thread it started for a blocking system
	// call, parked on a futex, for reuse: the total is a high-water mark
	// of the calls that were blocked at once. The threads doing
	// something else must be back where they were; the total must
	// level off (below).
	if busy(final) > busy(baseline) {
		s.fail("threads: %d not parked in the final quiet state (%s), %d in the baseline (%s)",
			busy(final), kindsString(final.ThreadsIn), busy(baseline), kindsString(baseline.ThreadsIn))
	}
	if len(final.TendZombies) > 0 {
		s.fail("%d zombies of tend's in the final quiet state", len(final.TendZombies))
	}
	if s.d < 3*time.Minute {
		return
	}
	if final.RssAnon-minute1.RssAnon > 2048 {
		s.fail("RssAnon: %d KiB at the end, %d KiB after the first minute: %d KiB more (at most 2048)",
			final.RssAnon, minute1.RssAnon, final.RssAnon-minute1.RssAnon)
	}
	if final.Threads > minute1.Threads+2 {
		s.fail("threads: %d at the end, %d after the first minute: still growing", final.Threads, minute1.Threads)
	}
}

// busy counts the threads not parked on a futex.
func busy(sm sample) int { return sm.Threads - sm.ThreadsIn["futex"] }

// shutdown sends tend SIGTERM with every program running, and checks
// how it ends: exit code 0 (every program stops on its stopsignal well
// within stopwaitsecs), nothing left in the namespace, every line
// accounted for.
func (s *soak) shutdown() error {
	w, err := watchExits()
	if err != nil {
		return err
	}
	defer w.close()
	seedNs := benchkit.Monotonic()
	seed := s.ns.procs()
	s.logf("SIGTERM to tend, %d processes in its namespace", len(seed))
	t := time.Now()
	if err := unix.Kill(s.tendPid, unix.SIGTERM); err != nil {
		return err
	}
	select {
	case <-s.exited:
	case <-time.After(90 * time.Second):
		return errors.New("tend did not exit within 90 s of SIGTERM (shutdown_timeout is 60s)")
	}
	s.logf("tend exited after %.1fs: %v", time.Since(t).Seconds(), s.waitErr)
	code := exitCode(s.waitErr)
	s.mu.Lock()
	s.counts[fmt.Sprintf("tend's exit code: %d", code)]++
	s.mu.Unlock()
	if code != 0 {
		s.fail("tend exited %d after SIGTERM, want 0: every program stops on TERM within stopwaitsecs", code)
	}
	if err := w.settle(); err != nil {
		return err
	}
	left, err := w.leftovers(s.tendPid, seedNs, seed)
	if err != nil {
		s.fail("leftover check: %v", err)
	}
	for _, l := range left {
		s.fail("left in the namespace when tend exited: %s", l)
	}
	if s.stdoutErr != nil {
		s.fail("reading tend's stdout: %v", s.stdoutErr)
	}
	for _, p := range s.setup.filePaths() {
		if err := s.lines.files(p, s.setup.backups); err != nil {
			s.fail("reading %s: %v", p, err)
		}
	}
	if s.lines.Lost > 0 || s.lines.Bad > 0 {
		s.fail("lines: %d lost, %d bad: %s", s.lines.Lost, s.lines.Bad, strings.Join(s.lines.Problems, "; "))
	}
	if s.lines.Lines == 0 {
		s.fail("no numbered line at all")
	}
	s.checkLog()
	return nil
}

// checkLog fails on a panic tend recovered from.
func (s *soak) checkLog() {
	b, err := os.ReadFile(filepath.Join(s.out, "tend.log"))
	if err != nil {
		s.fail("reading tend's log: %v", err)
		return
	}
	if n := strings.Count(string(b), "recovered a panic"); n > 0 {
		s.fail("tend's log has %d recovered panics", n)
	}
}

// report prints the summary and writes OUT/results.json.
func (s *soak) report(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(w, "\n## soak: %s of chaos, tend %s", s.d, s.tend)
	if s.commit != "" {
		fmt.Fprintf(w, " at %s", s.commit)
	}
	fmt.Fprintf(w, "\n\n| t (s) | phase | RssAnon KiB | VmRSS KiB | threads | fds | procs | zombies | load | stall ms |\n|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, sm := range s.samples {
		fmt.Fprintf(w, "| %.0f | %s | %d | %d | %d | %d | %d | %d | %.1f | %d |\n",
			sm.At, sm.Phase, sm.RssAnon, sm.VmRSS, sm.Threads, sm.Fds, sm.Procs, sm.Zombies, sm.Load1, sm.StallMs)
	}
	for _, sm := range s.samples {
		if sm.Phase != "chaos" {
			fmt.Fprintf(w, "\nfds, %s: %s", sm.Phase, kindsString(sm.FdKinds))
		}
	}
	if len(s.samples) > 0 {
		var peak sample
		for _, sm := range s.samples {
			if sm.Fds > peak.Fds {
				peak = sm
			}
		}
		fmt.Fprintf(w, "\nfds, most (t=%.0fs): %s\n", peak.At, kindsString(peak.FdKinds))
	}
	fmt.Fprintf(w, "\nlines: %d numbered lines in %d writer runs (%d ended with an end line, the others were SIGKILLed); %d lost, %d bad; %d bytes of tend's stdout\n",
		s.lines.Lines, s.lines.Runs, s.lines.Ended, s.lines.Lost, s.lines.Bad, s.stdoutN)
	keys := make([]string, 0, len(s.counts))
	for k := range s.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Fprintf(w, "\n| action | count |\n|---|--:|\n")
	for _, k := range keys {
		fmt.Fprintf(w, "| %s | %d |\n", k, s.counts[k])
	}
	if len(s.failures) == 0 {
		fmt.Fprintf(w, "\nPASS\n")
	} else {
		fmt.Fprintf(w, "\nFAIL: %d failures\n", len(s.failures))
		for _, f := range s.failures {
			fmt.Fprintf(w, "- %s\n", f)
		}
	}
	res := map[string]any{
		"commit": s.commit, "duration_s": s.d.Seconds(), "samples": s.samples, "lines": s.lines,
		"counts": s.counts, "failures": s.failures,
	}
	if b, err := json.MarshalIndent(res, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(s.out, "results.json"), append(b, '\n'), 0o644)
	}
}
