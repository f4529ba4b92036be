package control

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestListenDefaultMode(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "run", "tend.sock") // parent is created
	ln, err := Listen(sock, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want socket 0600", fi.Mode())
	}
	if di, err := os.Stat(filepath.Dir(sock)); err != nil || di.Mode().Perm() != 0o755 {
		t.Errorf("parent directory: %v %v", di.Mode(), err)
	}
	// Nothing is left of the temporary directory it was bound in.
	entries, _ := os.ReadDir(filepath.Dir(sock))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want the socket alone", len(entries))
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("dial the socket: %v", err)
	}
	c.Close()
}

// A path at the limit binds although its temporary name is longer.
func TestListenLongPath(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, strings.Repeat("s", maxSocketPath-len(dir)-1))
	if len(sock) != maxSocketPath {
		t.Fatalf("path of %d bytes", len(sock))
	}
	ln, err := Listen(sock, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", fi.Mode(), err)
	}
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries left in the directory", len(entries))
	}
}

func TestListenModeAndGroup(t *testing.T) {
	gid := os.Getgid()
	groups := []string{strconv.Itoa(gid)}
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		groups = append(groups, g.Name)
	}
	for _, group := range groups {
		sock := filepath.Join(t.TempDir(), "tend.sock")
		ln, err := Listen(sock, 0o660, group)
		if err != nil {
			t.Fatalf("group %q: %v", group, err)
		}
		fi, err := os.Lstat(sock)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o660 || fi.Sys().(*syscall.Stat_t).Gid != uint32(gid) {
			t.Errorf("group %q: mode %v gid %d", group, fi.Mode(), fi.Sys().(*syscall.Stat_t).Gid)
		}
		ln.Close()
	}
	if _, err := Listen(filepath.Join(t.TempDir(), "s"), 0, "no-such-group-tend"); err == nil || !strings.Contains(err.Error(), "no-such-group-tend") {
		t.Errorf("unknown group: %v", err)
	}
	if _, err := Listen(filepath.Join(t.TempDir(), "s"), 0o4755, ""); err == nil {
		t.Error("setuid mode accepted")
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "tend.sock")
	// What a crashed tend leaves: a socket file nobody listens on.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	ln, err := Listen(sock, 0, "")
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer ln.Close()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("dial the new socket: %v", err)
	}
	c.Close()
	// Closing leaves the file; the next Listen takes it over as stale.
	ln.Close()
	ln2, err := Listen(sock, 0, "")
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	ln2.Close()
}

func TestListenRefusesLiveSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "tend.sock")
	ln, err := Listen(sock, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := Listen(sock, 0, ""); !errors.Is(err, ErrRefused) || err.Error() != "another tend is listening on "+sock {
		t.Fatalf("second Listen: %v", err)
	}
	// The first one still works.
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("first listener broken: %v", err)
	}
	c.Close()
}

func TestListenRefusesNonSocket(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tend.sock")
	if err := os.WriteFile(file, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.sock")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	for path, what := range map[string]string{file: "a regular file", sub: "a directory", link: "a symlink"} {
		_, err := Listen(path, 0, "")
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "is not a socket ("+what+"); not removing it") {
			t.Errorf("%s: %v", what, err)
		}
	}
	if data, err := os.ReadFile(file); err != nil || string(data) != "precious" {
		t.Errorf("the file was touched: %q %v", data, err)
	}
	if _, err := os.Stat(sub); err != nil {
		t.Errorf("the directory was touched: %v", err)
	}
	if _, err := Listen("/"+strings.Repeat("x", 120), 0, ""); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("long path: %v", err)
	}
}

// A socket directory another user could move the socket out of is
// refused, with the reason; /tmp-like (sticky) and /run-like (root,
// 0755) directories are fine.
func TestListenChecksDirectory(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  os.FileMode // of the socket's directory
		above os.FileMode // of the directory above it
		uid   int         // the socket directory's owner; -1: as made
		want  string      // in the error; "": Listen succeeds
	}{
		{"own 0700", 0o700, 0o755, -1, ""},
		{"own 0755", 0o755, 0o755, -1, ""},
		{"sticky 1777", 0o777 | os.ModeSticky, 0o755, -1, ""},
		{"root 0755 under sticky 1777", 0o755, 0o777 | os.ModeSticky, 0, ""},
		{"0777", 0o777, 0o755, -1, "(mode -rwxrwxrwx) may be written by every user, without the sticky bit"},
		{"0770", 0o770, 0o755, -1, "may be written by group"},
		{"above 0777", 0o755, 0o777, -1, "may be written by every user, without the sticky bit"},
		{"another user's", 0o755, 0o755, 12345, "belongs to uid 12345, not to root or to tend's user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.uid >= 0 && os.Geteuid() != 0 {
				// The tests run as root (README): a skip would read as a pass.
				t.Fatal("chown needs root")
			}
			above := t.TempDir()
			dir := filepath.Join(above, "d")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if tc.uid >= 0 {
				if err := os.Chown(dir, tc.uid, -1); err != nil {
					t.Fatal(err)
				}
			}
			for d, m := range map[string]os.FileMode{dir: tc.mode, above: tc.above} {
				if err := os.Chmod(d, m); err != nil {
					t.Fatal(err)
				}
			}
			sock := filepath.Join(dir, "tend.sock")
			ln, err := Listen(sock, 0, "")
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				ln.Close()
				return
			}
			if err == nil {
				ln.Close()
				t.Fatalf("Listen in %s: no error, want %q", tc.name, tc.want)
			}
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "could move tend's socket away") {
				t.Errorf("Listen: %v, want a refusal with %q", err, tc.want)
			}
			if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a refused Listen left %s: %v", sock, err)
			}
		})
	}
}

// /tmp and /run, as a system or a container image has them, pass.
func TestListenSystemDirectories(t *testing.T) {
	for _, dir := range []string{"/tmp", "/run"} {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Logf("%s: %v", dir, err)
			continue
		}
		if err := checkDir(filepath.Join(dir, "tend.sock"), dir); err != nil {
			t.Errorf("%s (%v): %v", dir, fi.Mode(), err)
		}
	}
}
