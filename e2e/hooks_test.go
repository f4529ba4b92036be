package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestHooks: pre_start, pre_stop and post_stop run as the program does
// (here as nobody), in order around its life: pre_start before the
// program, pre_stop before its stop signal, post_stop once it is gone.
// A pre_stop that outlives hook_timeout is killed and the stop goes on.
func TestHooks(t *testing.T) {
	t.Parallel()
	cfg, dir := svConfig(t, `
[programs.p]
command = ["sh", "-c", "trap 'echo term >>{dir}/log; exit 0' TERM; echo run $(id -u) >>{dir}/log; echo ready; while :; do sleep 1 & wait $!; done"]
user = "nobody"
startsecs = 0
pre_start = ["sh", "-c", "echo pre_start $(id -u) >>{dir}/log"]
pre_stop = ["sh", "-c", "echo pre_stop $(id -u) >>{dir}/log; exec sleep 60"]
post_stop = "echo post_stop $(id -u) >>{dir}/log"
hook_timeout = "500ms"
stdout = "prefix"
`)
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	s := startSv(t, cfg, svOptions{})
	s.expect("p | ready") // its trap is set, and its line written
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
	b, err := os.ReadFile(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{"pre_start 65534", "run 65534", "pre_stop 65534", "term", "post_stop 65534"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("hooks ran as\n%q\nwant\n%q", got, want)
	}
	if !strings.Contains(s.tl.String(), "hook killed at its timeout") {
		t.Errorf("no log line for the pre_stop killed at hook_timeout")
	}
}
