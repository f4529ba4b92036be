package e2e

// Reload end to end: `tend ctl reload` and SIGHUP re-read the config
// file and apply what changed, or nothing when the file is invalid.

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCtlReload: reload re-reads the file: an added program starts, a
// removed one stops and goes, a changed one restarts with its new
// config, an unchanged one keeps its process. An invalid file changes
// nothing, and ctl says why, with file and line. SIGHUP reloads too.
func TestCtlReload(t *testing.T) {
	t.Parallel()
	prog := func(name, arg string) string {
		return fmt.Sprintf("\n[programs.%s]\ncommand = [\"sleep\", \"%s\"]\nstartsecs = 0.1\n", name, arg)
	}
	cfg, _, sock := ctlConfig(t, prog("keep", "600")+prog("change", "600")+prog("remove", "600"), false)
	head, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	header := string(head[:bytes.Index(head, []byte("\n[programs."))])
	s := startCtl(t, cfg)
	for _, p := range []string{"keep", "change", "remove"} {
		s.tl.waitState(p, "RUNNING")
	}
	keep, change := ctlStatus(t, sock, "keep"), ctlStatus(t, sock, "change")
	cmdline := func(nsPid int) string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", hostPidOf(t, s.tendPid(), nsPid)))
		return string(bytes.ReplaceAll(bytes.TrimRight(b, "\x00"), []byte{0}, []byte{' '}))
	}

	w := watchEvents(t, sock)
	putFile(t, cfg, header+prog("keep", "600")+prog("change", "601")+prog("add", "602"))
	if o := ctl(t, sock, "reload").must(t, 0); !strings.Contains(o.stdout, "reloaded") {
		t.Errorf("reload: %v", o)
	}
	// Programs change in parallel: look for each from the start.
	find := func(program, state string) event {
		t.Helper()
		return w.waitFrom(0, program+" "+state, func(e event) bool { return e.Program == program && e.State == state })
	}
	if e := find("change", "STOPPING"); !strings.Contains(e.Reason, "config changed") || e.Pid != change.Pid {
		t.Errorf("change: %+v, want its old process stopped because its config changed", e)
	}
	changed := find("change", "RUNNING")
	find("remove", "STOPPED")
	added := find("add", "RUNNING")
	if got := cmdline(changed.Pid); got != "sleep 601" {
		t.Errorf("change runs %q, want its new command, sleep 601", got)
	}
	if got := cmdline(added.Pid); got != "sleep 602" {
		t.Errorf("add runs %q, want sleep 602", got)
	}
	if p := ctlStatus(t, sock, "keep"); p.Pid != keep.Pid || p.State != "RUNNING" {
		t.Errorf("unchanged keep: %+v, want RUNNING with its pid %d", p, keep.Pid)
	}
	if o := ctl(t, sock, "status", "remove").must(t, 1); !strings.Contains(o.stderr, "no program matches") {
		t.Errorf("status remove after its removal: %v", o)
	}
	if e := s.tl.mustFirst("remove", "STOPPING"); !strings.Contains(e.Reason, "removed") {
		t.Errorf("remove's stop: %v, want a reason saying it was removed", e)
	}

	// Invalid: two errors; ctl prints both, each at its line.
	quiet := time.Now()
	before := ctl(t, sock, "status", "--json").must(t, 0).stdout
	bad := header + prog("keep", "600") + prog("change", "601") + prog("add", "602") +
		"\n[programs.broken]\ncommand = [\"sleep\", \"1\"]\nstartsecs = \"soon\"\nbogus = 1\n"
	putFile(t, cfg, bad)
	line := 1 + strings.Count(bad[:strings.Index(bad, "startsecs = \"soon\"")], "\n")
	o := ctl(t, sock, "reload").must(t, 1)
	for _, want := range []string{
		fmt.Sprintf("%s:%d: programs.broken.startsecs", cfg, line),
		fmt.Sprintf("%s:%d: programs.broken.bogus", cfg, line+1),
	} {
		if !strings.Contains(o.stderr, want) {
			t.Errorf("reload of an invalid file: %v\nwant the error at %s", o, want)
		}
	}
	if after := ctl(t, sock, "status", "--json").must(t, 0).stdout; after != before {
		t.Errorf("an invalid reload changed the programs:\nbefore %s\nafter %s", before, after)
	}
	logged := s.tl.waitMessage("", "reload: invalid config")
	if !strings.Contains(logged.line, fmt.Sprintf(":%d: programs.broken.bogus: unknown key", line+1)) {
		t.Errorf("tend's log of the invalid reload: %s, want every error", logged.line)
	}
	loud := time.Now()

	// SIGHUP reloads as ctl reload does.
	putFile(t, cfg, header+prog("keep", "600")+prog("change", "603")+prog("add", "602"))
	mark := w.mark()
	s.signal(syscall.SIGHUP)
	stop := w.waitFrom(mark, "change STOPPING", func(e event) bool { return e.Program == "change" && e.State == "STOPPING" })
	if !strings.Contains(stop.Reason, "HUP") {
		t.Errorf("change after SIGHUP: %+v, want a stop for the reload by signal HUP", stop)
	}
	up := w.waitFrom(stop.i, "change RUNNING", func(e event) bool { return e.Program == "change" && e.State == "RUNNING" })
	if got := cmdline(up.Pid); got != "sleep 603" {
		t.Errorf("after SIGHUP change runs %q, want sleep 603", got)
	}
	if p := ctlStatus(t, sock, "keep"); p.Pid != keep.Pid {
		t.Errorf("keep's pid %d after SIGHUP, was %d", p.Pid, keep.Pid)
	}
	if got := stateNames(s.tl.states("keep")); !slices.Equal(got, []string{"STARTING", "RUNNING"}) {
		t.Errorf("keep, never changed, went through %v on reloads, want STARTING RUNNING only", got)
	}
	for _, e := range w.all() {
		if !e.Time.Before(quiet) && e.Time.Before(loud) {
			t.Errorf("a state change while the file was invalid: %+v", e)
		}
	}
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}
