package config

import (
	"regexp"
	"testing"
)

// The patterns validID and validName spell out by hand: regexp is kept
// out of the binary (its code and tables cost tend's resident memory as
// PID 1, and compiling two patterns at init cost 35 KB of heap), but the
// tests hold the plain code to them.
var (
	idPattern   = regexp.MustCompile(`^([0-9]+|[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?)$`)
	namePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
)

var nameSeeds = []string{
	"", "0", "007", "root", "www-data", "_x", "a.b-c_d", "user$", "$", "1$",
	"9abc", "-a", ".a", "a b", "a:b", "a/b", "é", "a\n", "\na", "a$$", "a$b",
	"abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz0123456",
	"abcdefghijklmnopqrstuvwxyz012345$", "abcdefghijklmnopqrstuvwxyz0123456$",
	"0123456789012345678901234567890123456789", "web:0", "web.1", "_",
}

func TestNamesMatchPatterns(t *testing.T) {
	for _, s := range nameSeeds {
		checkNames(t, s)
	}
}

func FuzzNames(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(checkNames)
}

func checkNames(t *testing.T, s string) {
	if got, want := validID(s), idPattern.MatchString(s); got != want {
		t.Errorf("validID(%q) = %v, the pattern says %v", s, got, want)
	}
	if got, want := validName(s), namePattern.MatchString(s); got != want {
		t.Errorf("validName(%q) = %v, the pattern says %v", s, got, want)
	}
}
