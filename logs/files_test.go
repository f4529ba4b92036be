package logs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web.log")
	var files Files
	d1, err := files.Open(path, 1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := files.Open(filepath.Join(dir, ".", "web.log"), 1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	if d1 != d2 {
		t.Fatal("one path opened twice gave two Dests")
	}
	other, err := files.Open(filepath.Join(dir, "db.log"), 1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	if other == d1 {
		t.Fatal("two paths share a Dest")
	}

	if err := files.Release(path); err != nil {
		t.Fatal(err)
	}
	if _, err := Copy(d2, newChunks("still open\n"), ""); err != nil {
		t.Errorf("after one of two releases: %v", err)
	}
	if err := files.Release(path); err != nil {
		t.Fatal(err)
	}
	if _, err := Copy(d2, newChunks("closed\n"), ""); !errors.Is(err, os.ErrClosed) {
		t.Errorf("after both releases: %v, want closed", err)
	}
	if err := files.Release(path); err == nil {
		t.Error("a third release of two opens succeeded")
	}
	d3, err := files.Open(path, 1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	if d3 == d1 {
		t.Error("a path opened again after its release got its closed Dest")
	}

	if err := files.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*Dest{d3, other} {
		if _, err := Copy(d, newChunks("x\n"), ""); !errors.Is(err, os.ErrClosed) {
			t.Errorf("after Files.Close: %v, want closed", err)
		}
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "still open\n" {
		t.Errorf("%s = %q, %v", path, b, err)
	}
}

func TestFilesOpenError(t *testing.T) {
	var files Files
	path := filepath.Join(t.TempDir(), "no", "log")
	if _, err := files.Open(path, 0, 0); err == nil {
		t.Fatal("opened a file in a missing directory")
	}
	if err := files.Release(path); err == nil {
		t.Error("released a file that failed to open")
	}
}
