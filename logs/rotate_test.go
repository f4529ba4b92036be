package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRotate copies 2,000 lines in reads of varied size into a file
// rotated at 1,000 bytes with 3 backups: the newest lines are all there,
// in order, across path.3, path.2, path.1 and path; no file is over the
// limit; every file holds whole lines; older ones are gone.
func TestRotate(t *testing.T) {
	const maxBytes, backups = 1000, 3
	path := filepath.Join(t.TempDir(), "app.log")
	d, err := OpenRotating(path, maxBytes, backups)
	if err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&in, "line %d%s\n", i, strings.Repeat(".", i%50))
	}
	r := &chunks{}
	for rest, k := in.String(), 1; len(rest) > 0; k = k*7%3001 + 1 {
		k = min(k, len(rest))
		r.parts = append(r.parts, []byte(rest[:k]))
		rest = rest[k:]
	}
	if _, err := Copy(d, r, "app | "); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	all := ""
	for _, name := range []string{path + ".3", path + ".2", path + ".1", path} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > maxBytes {
			t.Errorf("%s: %d bytes, over %d", name, len(b), maxBytes)
		}
		if len(b) < maxBytes/2 && name != path {
			t.Errorf("%s: only %d bytes", name, len(b))
		}
		if !strings.HasPrefix(string(b), "app | line ") || !strings.HasSuffix(string(b), "\n") {
			t.Errorf("%s does not hold whole lines: %s", name, short(string(b)))
		}
		all += string(b)
	}
	if _, err := os.Stat(path + ".4"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.4: %v, want it not there", path, err)
	}
	want := reference(in.String(), "app | ")
	if !strings.HasSuffix(want, all) || !strings.HasPrefix(all, "app | ") || want[len(want)-len(all)-1] != '\n' {
		t.Errorf("the files do not hold the last %d bytes of the output, from a line's start", len(all))
	}
}

// TestRotateLongLine: a line longer than maxBytes gets a file of its own.
func TestRotateLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	d, err := OpenRotating(path, 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := Copy(d, newChunks("ab\ncd\n", strings.Repeat("x", 25)+"\nef\ngh\nij\n"), ""); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		path + ".2": "ab\ncd\n",
		path + ".1": strings.Repeat("x", 25) + "\n",
		path:        "ef\ngh\nij\n", // rotated only when a write would not fit
	}
	for name, w := range want {
		if b, err := os.ReadFile(name); err != nil || string(b) != w {
			t.Errorf("%s = %q, %v; want %q", name, b, err, w)
		}
	}
	if _, err := os.Stat(path + ".3"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.3: %v, want it not there", path, err)
	}
}

func TestRotateSettings(t *testing.T) {
	lines := strings.Repeat("0123456789\n", 100) // 1,100 bytes
	count := func(dir string) int {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	copyTo := func(path string, maxBytes int64, backups int, reads ...string) {
		d, err := OpenRotating(path, maxBytes, backups)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Copy(d, newChunks(reads...), ""); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("maxBytes 0 never rotates", func(t *testing.T) {
		dir := t.TempDir()
		copyTo(filepath.Join(dir, "log"), 0, 3, lines, lines)
		if n := count(dir); n != 1 {
			t.Errorf("%d files, want 1", n)
		}
	})
	t.Run("no backups starts again", func(t *testing.T) {
		dir := t.TempDir()
		copyTo(filepath.Join(dir, "log"), 100, 0, lines, "last\n")
		if n := count(dir); n != 1 {
			t.Errorf("%d files, want 1", n)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "log")); string(b) != "0123456789\nlast\n" {
			t.Errorf("log = %q", b)
		}
	})
	t.Run("an existing file is appended to and counts", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "log")
		copyTo(path, 30, 1, "first\n")
		copyTo(path, 30, 1, "second\n", "0123456789abcdefghij\n")
		if b, _ := os.ReadFile(path + ".1"); string(b) != "first\nsecond\n" {
			t.Errorf("log.1 = %q", b)
		}
		if b, _ := os.ReadFile(path); string(b) != "0123456789abcdefghij\n" {
			t.Errorf("log = %q", b)
		}
	})
	t.Run("mode 0640", func(t *testing.T) {
		old := unix.Umask(0o022)
		defer unix.Umask(old)
		path := filepath.Join(t.TempDir(), "log")
		copyTo(path, 10, 1, "a\n", "bbbbbbbbbbbbbbbbbbbbbbbbbb\n")
		for _, name := range []string{path, path + ".1"} {
			if st, err := os.Stat(name); err != nil || st.Mode() != 0o640 {
				t.Errorf("%s: %v %v, want -rw-r-----", name, st.Mode(), err)
			}
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		_, err := OpenRotating(filepath.Join(t.TempDir(), "no", "log"), 10, 1)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want not exist", err)
		}
	})
}

// TestRotateFailure: when the directory goes away, writes fail and are
// dropped, and the copier carries on; when it comes back, so does the log.
func TestRotateFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "log")
	d, err := OpenRotating(path, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := Copy(d, newChunks("aaaaaaaa\n"), ""); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	_, err = Copy(d, newChunks("bbbbbbbb\n", "cccccccc\n"), "")
	var drop *DropError
	if !errors.As(err, &drop) || drop.Lines != 2 || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want 2 lines dropped, not exist", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Copy(d, newChunks("dddddddd\n"), ""); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); string(b) != "dddddddd\n" {
		t.Errorf("log = %q, %v", b, err)
	}
}
