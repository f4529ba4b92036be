package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"tend/config"
)

// FuzzSupervisord feeds any bytes to the importer as a main file: it
// must answer with errors that carry a file and a message, or with TOML
// that tend's config package takes; the same both times it is asked;
// and within a memory bound that grows with the input no faster than
// allocBound.
func FuzzSupervisord(f *testing.F) {
	for _, rc := range realConfigs {
		matches, _ := filepath.Glob(filepath.Join("testdata", rc.name, "etc", "*", "*.conf"))
		more, _ := filepath.Glob(filepath.Join("testdata", rc.name, "etc", "*", "*", "*.conf"))
		for _, m := range append(matches, more...) {
			data, err := os.ReadFile(m)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, s := range []string{
		"",
		"[program:a]\ncommand=a %(process_num)d\nnumprocs=3\nprocess_name=%(process_num)s\n",
		"[program:a]\ncommand=%(ENV_X)s \"%(ENV_Y)s\"\nstdout_logfile=%(here)s/%(program_name)s-%(process_num)02d.log\nnumprocs=2\nprocess_name=%(process_num)s\n",
		"[DEFAULT]\npriority=1\n[group:g]\nprograms=a\npriority=2\n[program:a]\ncommand=a\n[program:b]\ncommand=b\npriority=3\n",
		"[supervisord]\nenvironment=A=\"1\",B='2'\nuser=x\n[program:a]\ncommand=a %(ENV_A)s\nenvironment=C=\"%(ENV_B)s\"\n",
		"[a]\nk = 1\n  cont ;c\n#x\n\n  more\n[b] x\n=bad\n",
		"[program:a]\ncommand='unclosed\n[eventlistener:e]\ncommand=e\n[include]\nfiles=*.conf\n",
		// Expansion that grows: %(here)s a thousand times, in a thousand processes.
		"[program:a]\nnumprocs=1000\nprocess_name=%(process_num)d\nstdout_logfile=/%(process_num)d" + strings.Repeat("%(here)s", 1000) + "\ncommand=a\n",
		"[program:a]\ncommand=" + strings.Repeat("%(program_name)999s", 100) + "\n",
	} {
		f.Add([]byte(s))
	}
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		hang := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("the import hangs on %q", data)) })
		defer hang.Stop()
		opt := Options{Root: root, Hostname: "h", LookupEnv: func(string) (string, bool) { return "", false }}
		before := allocated()
		res, err := convertFile("/s.conf", data, opt)
		if alloc, limit := allocated()-before, allocBound(len(data)); alloc > limit {
			t.Fatalf("the import allocated %d bytes for %d bytes of input, more than %d", alloc, len(data), limit)
		}
		res2, err2 := convertFile("/s.conf", data, opt)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() || err == nil && string(res.TOML) != string(res2.TOML) {
			t.Fatalf("two imports of the same input differ:\n%v\n%v", err, err2)
		}
		if err != nil {
			var es *Errors
			if res != nil || !errors.As(err, &es) || len(*es) == 0 {
				t.Fatalf("%v, %T %v; want nil and *Errors", res, err, err)
			}
			for _, e := range *es {
				if e.File == "" || e.Msg == "" {
					t.Fatalf("bad error %#v", e)
				}
			}
			return
		}
		if _, err := config.Parse("out.toml", res.TOML, func(string) (string, bool) { return "1", true }); err != nil {
			t.Fatalf("tend does not take the output: %v\n%s", err, res.TOML)
		}
		for _, w := range res.Warnings.List {
			if w.File == "" || w.Msg == "" {
				t.Fatalf("bad warning %#v", w)
			}
		}
	})
}

// allocated is the bytes allocated so far.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// allocBound is the most an import may allocate for n bytes of input:
// the expansions it allows (8 MiB) several times over as they are
// split, rendered and loaded once more by the config package, and a
// generous multiple of the input, up to 128 MiB (twice the SPEC's 64:
// the fuzzer runs each import with tend's own load of the output,
// which has its own bound).
func allocBound(n int) uint64 {
	return uint64(min(48<<20+2048*n, 128<<20))
}

// FuzzINI feeds any text to the INI reader alone: it must never panic,
// every value must carry a line of the text, every key be lower case,
// and what it allocates stay within a small multiple of the input.
func FuzzINI(f *testing.F) {
	c := loadPyCasesF(f)
	for _, raw := range c.INI {
		var in string
		if err := json.Unmarshal(raw[0], &in); err != nil {
			f.Fatal(err)
		}
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, text string) {
		lines := 1 + strings.Count(text, "\n") + strings.Count(text, "\r")
		before := allocated()
		d := newINI()
		bad := 0
		d.read("f.conf", "/", text, func(line int, msg string) {
			if line < 1 || line > lines || msg == "" {
				t.Fatalf("bad line %d %q", line, msg)
			}
			bad++
		})
		if alloc, limit := allocated()-before, uint64(1<<20+64*len(text)); alloc > limit {
			t.Fatalf("read allocated %d bytes for %d bytes of text, more than %d", alloc, len(text), limit)
		}
		for _, s := range append([]*section{d.defaults}, d.sections...) {
			for k, v := range s.vals {
				if k != strings.ToLower(k) || v.line < 1 || v.line > lines {
					t.Fatalf("[%s] %q at line %d", s.name, k, v.line)
				}
			}
		}
	})
}

// loadPyCasesF is loadPyCases for a fuzz target's seeds.
func loadPyCasesF(f *testing.F) pyCases {
	data, err := os.ReadFile("testdata/pycases.json")
	if err != nil {
		f.Fatal(err)
	}
	var c pyCases
	if err := json.Unmarshal(data, &c); err != nil {
		f.Fatal(err)
	}
	return c
}
