package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLineCheck(t *testing.T) {
	const r1, r2 = "0123456789abcdef", "fedcba9876543210"
	for _, tc := range []struct {
		name      string
		lines     []string // tend's stdout
		lost, bad int64
		runs      int
		ended     int
	}{
		{"whole runs, interleaved", []string{
			"w:0 | W w:0 " + r1 + " 0 abc", "w:1 | W w:1 " + r2 + " 0 ", "w:0 | W w:0 " + r1 + " 1 abcdef",
			"w:0 | W w:0 " + r1 + " end 2", "w:1 | W w:1 " + r2 + " 1 a",
		}, 0, 0, 2, 1},
		{"a gap", []string{"w | W w " + r1 + " 0 a", "w | W w " + r1 + " 3 a"}, 2, 0, 1, 0},
		{"a lost head", []string{"w | W w " + r1 + " 5 a"}, 5, 0, 1, 0},
		{"a lost tail before the end line", []string{"w | W w " + r1 + " 0 a", "w | W w " + r1 + " end 4"}, 3, 0, 1, 1},
		{"twice", []string{"w | W w " + r1 + " 0 a", "w | W w " + r1 + " 0 a"}, 0, 1, 1, 0},
		{"after the end", []string{"w | W w " + r1 + " end 0", "w | W w " + r1 + " 0 a"}, 0, 1, 1, 1},
		{"two lines run together", []string{"w | W w " + r1 + " 0 abW w " + r1 + " 1 a"}, 0, 1, 1, 0},
		{"another program's prefix", []string{"x | W w " + r1 + " 0 a"}, 0, 1, 0, 0},
		{"not prefixed", []string{"W w " + r1 + " 0 a"}, 0, 1, 0, 0},
		{"cut", []string{"w | W w " + r1}, 0, 1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newLineCheck()
			if _, err := c.stream(strings.NewReader(strings.Join(tc.lines, "\n") + "\n")); err != nil {
				t.Fatal(err)
			}
			if c.Lost != tc.lost || c.Bad != tc.bad || c.Runs != tc.runs || c.Ended != tc.ended {
				t.Errorf("lost %d bad %d runs %d ended %d, want %d %d %d %d; problems: %q",
					c.Lost, c.Bad, c.Runs, c.Ended, tc.lost, tc.bad, tc.runs, tc.ended, c.Problems)
			}
		})
	}
}

func TestLineCheckFiles(t *testing.T) {
	const r = "0123456789abcdef"
	dir := t.TempDir()
	path := filepath.Join(dir, "out.log")
	// Oldest first: out.log.2, out.log.1, out.log.
	for name, text := range map[string]string{
		"out.log.2": "W w " + r + " 0 a\nW w " + r + " 1 ab\n",
		"out.log.1": "W w " + r + " 2 abc\n",
		"out.log":   "W w " + r + " 3 \nW w " + r + " end 4\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := newLineCheck()
	if err := c.files(path, 3); err != nil {
		t.Fatal(err)
	}
	if c.Lines != 4 || c.Lost != 0 || c.Bad != 0 || c.Ended != 1 {
		t.Errorf("lines %d lost %d bad %d ended %d: %q", c.Lines, c.Lost, c.Bad, c.Ended, c.Problems)
	}
	// With every backup slot in use, the oldest may have been dropped.
	c = newLineCheck()
	if err := c.files(path, 2); err != nil {
		t.Fatal(err)
	}
	if c.Bad == 0 {
		t.Error("all backups in use: no problem reported")
	}
}
