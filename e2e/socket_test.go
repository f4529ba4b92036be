package e2e

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSocketRefused: tend as PID 1 does not start when its control
// socket's path is held by something live (a squatter every tend ctl
// would talk to), nor in a directory another user could move the socket
// out of: exit 2, naming the path and the reason, and no program
// started. A stale socket file, a sticky directory and tend's own
// directory are fine.
func TestSocketRefused(t *testing.T) {
	t.Parallel()
	const programs = `
[programs.web]
command = ["sleep", "600"]
startsecs = 0
`
	// setup makes the socket's directory d under a fresh directory, gives
	// it mode (and owner uid, when not -1), and returns the config and
	// the socket's path.
	setup := func(t *testing.T, mode os.FileMode, uid int) (cfg, sock string) {
		base := t.TempDir()
		d := filepath.Join(base, "d")
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if uid >= 0 {
			needRoot(t)
			if err := os.Chown(d, uid, -1); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		sock = filepath.Join(d, "tend.sock")
		cfg = filepath.Join(base, "tend.toml")
		putFile(t, cfg, "[tend]\nsocket = \""+sock+"\"\n"+programs)
		return cfg, sock
	}
	refused := func(t *testing.T, cfg string, want ...string) {
		t.Helper()
		s := startSv(t, cfg, svOptions{raw: []string{"-v", "--log-format", "json", "-c", cfg}})
		if code := s.finish(); code != 2 {
			t.Errorf("tend exited %d, want 2", code)
		}
		text := s.tl.String()
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("tend's stderr lacks %q:\n%s", w, text)
			}
		}
		if _, ok := s.tl.first("web", "RUNNING"); ok {
			t.Error("web started")
		}
	}
	starts := func(t *testing.T, cfg, sock string) {
		t.Helper()
		s := startCtl(t, cfg)
		s.tl.waitState("web", "RUNNING")
		ctl(t, sock, "health").must(t, 0)
		ctl(t, sock, "shutdown").must(t, 0)
		if code := s.finish(); code != 0 {
			t.Errorf("tend exited %d, want 0", code)
		}
	}

	t.Run("Squatter", func(t *testing.T) {
		t.Parallel()
		cfg, sock := setup(t, 0o755, -1)
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		refused(t, cfg, "tend: another tend is listening on "+sock)
		// The squatter's socket is left alone.
		if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != fs.ModeSocket {
			t.Errorf("the squatter's socket: %v %v", fi, err)
		}
	})
	t.Run("NotASocket", func(t *testing.T) {
		t.Parallel()
		cfg, sock := setup(t, 0o755, -1)
		putFile(t, sock, "precious")
		refused(t, cfg, sock, "is not a socket (a regular file); not removing it")
	})
	t.Run("WorldWritable", func(t *testing.T) {
		t.Parallel()
		cfg, sock := setup(t, 0o777, -1)
		refused(t, cfg, sock, filepath.Dir(sock)+" (mode -rwxrwxrwx) may be written by every user, without the sticky bit")
	})
	t.Run("OtherOwner", func(t *testing.T) {
		t.Parallel()
		cfg, sock := setup(t, 0o755, 12345)
		refused(t, cfg, sock, filepath.Dir(sock)+" belongs to uid 12345")
	})
	t.Run("Sticky", func(t *testing.T) {
		t.Parallel()
		cfg, sock := setup(t, 0o777|os.ModeSticky, -1)
		starts(t, cfg, sock)
	})
	t.Run("Stale", func(t *testing.T) {
		t.Parallel()
		cfg, sock := setup(t, 0o755, -1)
		// What a tend that crashed leaves: a socket nobody listens on.
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		ln.SetUnlinkOnClose(false)
		ln.Close()
		if _, err := os.Lstat(sock); errors.Is(err, fs.ErrNotExist) {
			t.Fatal("no stale socket to test with")
		}
		starts(t, cfg, sock)
	})
}
