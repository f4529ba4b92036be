package execpath

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestLook(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	write := func(d, name string, mode os.FileMode) string {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(dir, "plain", 0o644)
	exe := write(other, "plain", 0o755)
	write(dir, "onlyplain", 0o644)
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	path := dir + ":" + other
	cases := []struct {
		file, path string
		want       string
		err        error
	}{
		{"plain", path, exe, nil},                 // the non-executable first entry is passed over
		{"onlyplain", path, "", fs.ErrPermission}, // found, never executable: 126
		{"missing", path, "", fs.ErrNotExist},     // 127
		{"adir", dir, "", fs.ErrNotExist},         // a directory is not a command
		{"./rel/x", path, "./rel/x", nil},         // a slash: taken as is
		{"/abs/x", "", "/abs/x", nil},             // likewise
		{"sh", "", "/usr/bin/sh", nil},            // no PATH: Docker's default
	}
	for _, c := range cases {
		got, err := Look(c.file, c.path)
		if c.file == "sh" && got == "/bin/sh" {
			got = "/usr/bin/sh" // merged /usr: either is right
		}
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("Look(%q, %q) = %q, %v; want %q, %v", c.file, c.path, got, err, c.want, c.err)
		}
	}
}
