package logs

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMain lets the test binary play both ends of a shell pipeline, to
// measure Copy against cat as docs/logs.md does:
//
//	TEND_LOGS_HELPER=gen   write TEND_LOGS_BYTES (default 1 GiB) of 100-byte
//	                       lines to stdout, in 64 KiB writes
//	TEND_LOGS_HELPER=copy  Copy stdin to stdout behind "web | ", from a pipe
//	                       set up as Pipe sets up its own
//
// TEND_LOGS_PIPESZ, if set, is the capacity either end gives the pipe
// (gen: its stdout; copy: its stdin, instead of Pipe's).
func TestMain(m *testing.M) {
	mode := os.Getenv("TEND_LOGS_HELPER")
	if mode == "" {
		os.Exit(m.Run())
	}
	size, err := strconv.Atoi(os.Getenv("TEND_LOGS_PIPESZ"))
	if err != nil && mode == "copy" {
		size = pipeSize
	}
	fd := map[string]uintptr{"gen": 1, "copy": 0}[mode]
	if size > 0 {
		if _, err := unix.FcntlInt(fd, unix.F_SETPIPE_SZ, size); err != nil {
			fail(err)
		}
	}
	switch mode {
	case "gen":
		n, err := strconv.ParseInt(os.Getenv("TEND_LOGS_BYTES"), 10, 64)
		if err != nil {
			n = 1 << 30
		}
		block := lineBlock()
		for ; n > 0; n -= int64(len(block)) {
			if _, err := os.Stdout.Write(block[:min(int64(len(block)), n)]); err != nil {
				fail(err)
			}
		}
	case "copy":
		// Non-blocking, so os.NewFile makes it pollable, as Pipe's r is.
		if err := unix.SetNonblock(0, true); err != nil {
			fail(err)
		}
		if _, err := Copy(NewDest(os.Stdout), os.NewFile(0, "stdin"), "web | "); err != nil {
			fail(err)
		}
	default:
		fail(fmt.Errorf("TEND_LOGS_HELPER=%s: want gen or copy", mode))
	}
	os.Exit(0)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
