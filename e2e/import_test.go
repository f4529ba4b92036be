package e2e

// `tend import supervisord` end to end: real supervisord.conf files from
// public images (importer/testdata, named in its README), converted by
// the built tend, checked by `tend check --strict`, and run by tend as
// PID 1 with busybox standing in for the programs they name (found on
// PATH as the configurations name them, or through the variables the
// images set). Each program must reach RUNNING, the web servers must
// answer, and a shutdown must stop everything with exit 0.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// busybox is where Debian's busybox-static puts it (.ci/run installs it).
const busybox = "/bin/busybox"

func TestImportedSupervisordRuns(t *testing.T) {
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("the stand-ins need %s (apt-get install busybox-static): %v", busybox, err)
	}
	testdata, err := filepath.Abs(filepath.Join("..", "importer", "testdata"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("trafex-php-nginx", func(t *testing.T) {
		// php-fpm8, nginx and supercronic by name, from PATH: a bin
		// directory of stand-ins. nginx's stand-in serves a page.
		dir, www := openDirs(t)
		port := unusedPort(t)
		bin := standIns(t, dir, map[string]string{
			"php-fpm8":    "exec " + busybox + " sleep 3600",
			"nginx":       fmt.Sprintf("exec %s httpd -f -p 127.0.0.1:%d -h %s", busybox, port, www),
			"supercronic": `echo "crontab $1"; exec ` + busybox + " sleep 3600",
		})
		around := []string{"env", "PATH=" + bin + ":" + os.Getenv("PATH")}
		cfg, sock, warnings := importConfig(t, dir, filepath.Join(testdata, "trafex-php-nginx"), "/etc/supervisor/conf.d/supervisord.conf", around)
		if warnings != "" {
			t.Errorf("tend import warned: %s", warnings)
		}
		s := startCtlWith(t, cfg, ctlRun{around: around})
		for _, p := range []string{"php-fpm", "nginx", "supercronic"} {
			s.tl.waitState(p, "RUNNING")
		}
		// AUTO became prefix: supercronic's line comes named.
		s.expect("supercronic | crontab /etc/crontabs/cronjobs")
		wantPage(t, port)
		rows := statusTable(t, ctl(t, sock, "status").must(t, 0).stdout)
		for _, p := range []string{"php-fpm", "nginx", "supercronic"} {
			if rows[p] == nil || rows[p][1] != "RUNNING" {
				t.Errorf("tend ctl status: %s is %v, want RUNNING", p, rows[p])
			}
		}
		ctl(t, sock, "shutdown").must(t, 0)
		if code := s.finish(); code != 0 {
			t.Errorf("tend exited %d, want 0", code)
		}
	})

	t.Run("laravel-sail", func(t *testing.T) {
		// command=%(ENV_SUPERVISOR_PHP_COMMAND)s, user=%(ENV_SUPERVISOR_PHP_USER)s:
		// the image sets both; here the command is busybox's httpd, run
		// as nobody, its words split by the shell as supervisord split
		// them.
		dir, www := openDirs(t)
		port := unusedPort(t)
		command := fmt.Sprintf("%s httpd -f -p 127.0.0.1:%d -h %s", busybox, port, www)
		around := []string{"env", "SUPERVISOR_PHP_COMMAND=" + command, "SUPERVISOR_PHP_USER=nobody"}
		cfg, _, warnings := importConfig(t, dir, filepath.Join(testdata, "laravel-sail"), "/etc/supervisor/conf.d/supervisord.conf", around)
		if warnings != "" {
			t.Errorf("tend import warned: %s", warnings)
		}
		s := startCtlWith(t, cfg, ctlRun{around: around})
		running := s.tl.waitState("php", "RUNNING")
		wantPage(t, port)
		pid := hostPidOf(t, s.tendPid(), running.Pid)
		if got := procField(t, pid, "Uid:"); got != strconv.Itoa(nobodyID) {
			t.Errorf("php runs as uid %s, want nobody (%d)", got, nobodyID)
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"); !slices.Equal(got, strings.Fields(command)) {
			t.Errorf("php's argv %q, want %q: the shell execs the command, split in words", got, strings.Fields(command))
		}
		env2, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(strings.Split(string(env2), "\x00"), "LARAVEL_SAIL=1") {
			t.Error("php's environment lacks LARAVEL_SAIL=1")
		}
		s.signal(15)
		if code := s.finish(); code != 0 {
			t.Errorf("tend exited %d, want 0", code)
		}
	})

	t.Run("selenium-node", func(t *testing.T) {
		// Absolute paths: /opt/bin/start-*.sh, logs in /var/log/supervisor.
		// tend's mount namespace gets a directory of stand-ins on /opt and
		// an empty /var/log, before tend starts. The priorities, 0 to 20,
		// are depends_on: each program starts once the one before is
		// RUNNING, and they stop the other way round.
		dir, _ := openDirs(t)
		opt, logs := filepath.Join(dir, "opt"), filepath.Join(dir, "log")
		for _, d := range []string{filepath.Join(opt, "bin"), filepath.Join(logs, "supervisor")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		order := []string{"xvfb", "vnc", "novnc", "video-recorder", "selenium-node"}
		for _, name := range order {
			script := "echo started " + name + "; exec " + busybox + " sleep 3600"
			if err := os.WriteFile(filepath.Join(opt, "bin", "start-"+name+".sh"), []byte("#!"+busybox+" sh\n"+script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		around := []string{busybox, "sh", "-c", `mount --bind "$1" /opt && mount --bind "$2" /var/log && shift 2 && exec "$@"`, "sh", opt, logs}
		cfg, sock, warnings := importConfig(t, dir, filepath.Join(testdata, "selenium-node"), "/etc/supervisord.conf", around)
		if !strings.Contains(warnings, "[program:xvfb] priority: the start order of the priorities is depends_on in tend") {
			t.Errorf("tend import's warnings lack the one on priorities:\n%s", warnings)
		}
		s := startCtlWith(t, cfg, ctlRun{around: around})
		var up []event
		for i, name := range order {
			running := s.tl.waitState(name, "RUNNING")
			if i > 0 {
				// Its start (STARTING, or RUNNING at once with startsecs=0)
				// comes after the one before it was RUNNING.
				start := running
				if e, ok := s.tl.first(name, "STARTING"); ok {
					start = e
				}
				inOrder(t, "start order", up[i-1], start)
			}
			up = append(up, running)
		}
		// video-recorder and selenium-node write to tend's stdout
		// (/dev/stdout); the others to their files in /var/log/supervisor
		// (looked at once tend is gone).
		s.expectEach("started video-recorder", "started selenium-node")
		ctl(t, sock, "shutdown").must(t, 0)
		var down []event
		for i := len(order) - 1; i >= 0; i-- {
			down = append(down, s.tl.waitState(order[i], "STOPPED"))
		}
		for i := 1; i < len(down); i++ {
			inOrder(t, "stop order", down[i-1], s.tl.mustFirst(order[len(order)-1-i], "STOPPING"))
		}
		if code := s.finish(); code != 0 {
			t.Errorf("tend exited %d, want 0", code)
		}
		// Written by now: tend copies every line before it exits.
		if b, err := os.ReadFile(filepath.Join(logs, "supervisor", "xvfb-stdout.log")); err != nil || string(b) != "started xvfb\n" {
			t.Errorf("xvfb's log file: %q %v", b, err)
		}
	})
}

// openDirs makes a directory for the test's files and, in it, www with
// a page; both (and the temp directory above) open to every user, for a
// stand-in running as nobody.
func openDirs(t *testing.T) (dir, www string) {
	t.Helper()
	dir = t.TempDir()
	www = filepath.Join(dir, "www")
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(www, 0o755); err != nil {
		t.Fatal(err)
	}
	putFile(t, filepath.Join(www, "index.html"), "served by a stand-in\n")
	return dir, www
}

// standIns writes a bin directory in dir with a busybox shell script for
// each name, and returns it.
func standIns(t *testing.T, dir string, scripts map[string]string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range scripts {
		p := filepath.Join(bin, name)
		if err := os.WriteFile(p, []byte("#!"+busybox+" sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// importConfig runs `tend import supervisord --root ROOT MAIN`, points
// the result's control socket into dir, checks it with `tend check
// --strict` (every command found, every user known) run under around in
// a mount namespace of its own, as tend will run, and returns the file,
// the socket and the warnings the import printed.
func importConfig(t *testing.T, dir, root, main string, around []string) (cfg, sock, warnings string) {
	t.Helper()
	cmd := exec.Command(tendBin, "import", "supervisord", "--root", root, main)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tend import: %v\n%s", err, stderr.String())
	}
	sock = filepath.Join(dir, "tend.sock")
	toml := string(out)
	if strings.Contains(toml, "\n[tend]\n") {
		toml = strings.Replace(toml, "\n[tend]\n", "\n[tend]\nsocket = \""+sock+"\"\n", 1)
	} else {
		toml = "[tend]\nsocket = \"" + sock + "\"\n" + toml
	}
	cfg = filepath.Join(dir, "tend.toml")
	putFile(t, cfg, toml)
	argv := append(append([]string{"unshare", "--mount"}, around...), tendBin, "check", "--strict", "-c", cfg)
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("tend check --strict: %v\n%s\n%s", err, out, toml)
	}
	return cfg, sock, stderr.String()
}

// wantPage GETs the stand-in web server's page.
func wantPage(t *testing.T, port int) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("the web server's stand-in: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "served by a stand-in\n" {
		t.Errorf("GET /: %s %q", resp.Status, body)
	}
}

// procField is the first value of a line of /proc/PID/status.
func procField(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == field {
			return f[1]
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return ""
}
