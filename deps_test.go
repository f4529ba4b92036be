package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestNoNetHTTP keeps net/http, and with it TLS and X.509, out of the
// binary: tend is PID 1, and its binary size and resident memory are
// measured against tini's. tend speaks plain HTTP/1.1 on its control
// socket and to http health checks, and internal/h1 is all of HTTP it
// needs; net/http brings crypto/tls, crypto/x509, the FIPS 140 modules,
// math/big, HTTP/2 and more along, and a Go program runs the init of
// every package it links and faults in their code and tables as it
// starts. With net/http, `tend -- sleep 5` (built -trimpath -s -w) was a
// 7.7 MB binary with 6.6 MB resident a second after start; without, 4.1
// MB and 4.8 MB.
//
// regexp is out for the same reason: two name patterns in config cost
// 250 KB of binary and 35 KB of heap at init, and VmRSS went from 5.0 to
// 4.3 MiB without it; config spells them out (see names_test.go).
// Measured again for ready = { log = "…" }, regexp.Compile reachable from
// config and no package-level regexp value: +240 KiB of binary, and
// `tend -- sleep` (built -trimpath -s -w, VmRSS a second after start,
// median of 7) 4400 → 4576 KiB (RssFile +164, RssAnon +16). So log
// patterns have their own matcher, internal/regex: 20 KiB of code.
func TestNoNetHTTP(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command: %v", err)
	}
	out, err := exec.Command(goCmd, "list", "-deps", "tend").Output()
	if err != nil {
		t.Fatalf("go list -deps tend: %v", err)
	}
	for pkg := range strings.FieldsSeq(string(out)) {
		for _, banned := range []string{"net/http", "crypto/tls", "crypto/x509", "regexp"} {
			if pkg == banned || strings.HasPrefix(pkg, banned+"/") {
				t.Errorf("tend links %s: see this test's comment, and `go list -deps -f '{{.ImportPath}}: {{.Imports}}' tend` for who imports it", pkg)
			}
		}
	}
}

// initsAllowed are tend's packages that may have a package init: every
// tend runs every init at start, init mode too, and each one faults in
// its package's code and what it calls (fault-around maps 64 KiB a
// fault), so a package init mode does not use must have none. gomaxprocs
// drops to one P before the other inits allocate; signals, config and
// supervisor are used by init mode, and their inits are tables the
// compiler could not lay out statically.
var initsAllowed = []string{"tend/gomaxprocs", "tend/signals", "tend/config", "tend/supervisor"}

// TestInits runs the built tend with GODEBUG=inittrace=1, which prints
// a line for each package init as it runs, and fails for a tend package
// not in initsAllowed. A package-level strings.NewReplacer in control
// cost init mode 172 KiB of RSS (docs/benchmarks.md).
func TestInits(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tend")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tend version: %v\n%s", err, out)
	}
	var tendInits int
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "init" {
			continue
		}
		if f[1] == "tend" || strings.HasPrefix(f[1], "tend/") {
			tendInits++
			if !slices.Contains(initsAllowed, f[1]) {
				t.Errorf("%s has a package init (%s); see initsAllowed", f[1], strings.TrimSpace(line))
			}
		}
	}
	if tendInits == 0 {
		t.Fatalf("GODEBUG=inittrace=1 printed no init of tend's packages:\n%s", out)
	}
}

// signalImporters are the packages of tend that may import os/signal.
// Every signal tend gets as an init is subscribed in signals, before
// anything else runs, and handled by tend's own handlers there: a
// signal.Notify anywhere else would take a signal from them (the runtime
// reinstalls its handler for it) or, for SIGPIPE and the fault signals,
// change what os/signal delivers to tend's loop. ctl, `tend ctl`,
// is no init: it stops on Ctrl-C and SIGTERM, as a command does.
var signalImporters = []string{"tend/signals", "tend/ctl"}

// TestOnlySignalsSubscribes fails for a package of tend's binary, other
// than signalImporters, that imports os/signal.
func TestOnlySignalsSubscribes(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "tend").Output()
	if err != nil {
		t.Fatalf("go list -deps tend: %v", err)
	}
	seen := 0
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 || (f[0] != "tend" && !strings.HasPrefix(f[0], "tend/")) {
			continue
		}
		if !slices.Contains(f[1:], "os/signal") {
			continue
		}
		seen++
		if !slices.Contains(signalImporters, f[0]) {
			t.Errorf("%s imports os/signal: see signalImporters", f[0])
		}
	}
	if seen == 0 {
		t.Errorf("no package of tend imports os/signal, not even tend/signals: is go list's output what this test reads?\n%s", out)
	}
}
