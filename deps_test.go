package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoNetHTTP keeps net/http, and with it TLS and X.509, out of the
// binary: tend is PID 1, and its binary size and resident memory are
// measured against tini's. tend speaks plain HTTP/1.1 on its control
// socket and to http health checks, and control/h1 is all of HTTP it
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
