package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"tend/bench/internal/benchkit"
)

// This file has what only svbench needs of /proc and of commands;
// bench/internal/benchkit has the rest.

// exec1 runs a command that must succeed.
func exec1(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

// readComm is the command name of pid ("" if it is gone).
func readComm(pid int) string {
	b, _ := os.ReadFile(benchkit.ProcPath(pid, "comm"))
	return strings.TrimSpace(string(b))
}
