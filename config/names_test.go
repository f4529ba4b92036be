package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"tend/api"
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

// TestNameLength holds program names to api.MaxNameLen, the control API's
// limit, counted on the longest instance name: a longer one passed check
// and then could never be named in tend ctl.
func TestNameLength(t *testing.T) {
	for _, c := range []struct {
		name      string
		instances int
		ok        bool
	}{
		{strings.Repeat("a", api.MaxNameLen), 1, true},
		{strings.Repeat("a", api.MaxNameLen+1), 1, false},
		{strings.Repeat("a", api.MaxNameLen-4), 1000, true},  // a:999
		{strings.Repeat("a", api.MaxNameLen-3), 1000, false}, // a:999
		{strings.Repeat("a", api.MaxNameLen-2), 10, true},    // a:9
		{strings.Repeat("a", api.MaxNameLen-2), 11, false},   // a:10
	} {
		src := fmt.Sprintf("[programs.%s]\ncommand = \"x\"\ninstances = %d\n", c.name, c.instances)
		_, err := Parse("t.toml", []byte(src), nil)
		want := fmt.Sprintf("t.toml:1: programs.%s: name %q is %d bytes, more than the %d a program name may have",
			strconv.Quote(shorten(c.name, maxKeyPart)), shorten(instanceName(c.name, c.instances-1, c.instances), 80),
			len(instanceName(c.name, c.instances-1, c.instances)), api.MaxNameLen)
		if c.ok && err != nil || !c.ok && (err == nil || err.Error() != want) {
			t.Errorf("%d bytes, %d instances: error %v, want ok=%v (%s)", len(c.name), c.instances, err, c.ok, want)
		}
	}
}
