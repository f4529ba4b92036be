package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// FuzzParse checks that Parse never panics and always answers with either
// a Config or an *Errors whose entries all carry a line and a message, in
// order; and that every key the TOML parser saw has a line.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/spec.toml", "testdata/full.toml", "testdata/bad.toml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, src := range []string{
		tricky,
		"",
		"[programs.a]\ncommand = \"a\"\ndepends_on = [\"b\"]\n[programs.b]\ncommand = [\"b\"]\ndepends_on = { a = \"running\" }\n",
		"[programs.w]\ncommand = \"w ${PORT:-80}\"\ninstances = 3\n[programs.x]\ncommand = \"x\"\ndepends_on = [\"w\", \"w:1\"]\n",
		"[programs.p]\ncommand = \"p\"\nstopsignal = \"RTMIN+3\"\nstdout = \"log/p.log\"\nstdout_maxbytes = \"1MiB\"\n",
		"[programs.p]\ncommand = [\n  \"a\",\n  1,\n]\nbackoff = { initial = \"2s\",\n  max = 1 }\n",
		"[tend]\nshutdown_timeout = \"1s\"\n[programs]\n",
		"programs.p.command = \"x\"\nprograms.p.healthcheck.tcp = \"h:1\"\n",
		"[programs.p]\ncommand = \"${\"\n",
		"[programs.p\ncommand = 1",
		"[[programs]]\nname = \"x\"\n",
	} {
		f.Add([]byte(src))
	}
	env := envOf(map[string]string{"HOME": "/root", "PORT": "8080", "EMPTY": ""})
	f.Fuzz(func(t *testing.T, data []byte) {
		// The fuzzer has no time limit per input: turn a hang into a
		// crash, which it records.
		hang := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("Parse hangs on %q", data)) })
		defer hang.Stop()
		c, err := Parse("f.toml", data, env)
		if err == nil {
			if c == nil {
				t.Fatal("nil Config and nil error")
			}
			for _, p := range c.Programs {
				if p.Name == "" || len(p.Command) == 0 || p.Command[0] == "" {
					t.Fatalf("invalid program accepted: %+v", p)
				}
			}
		} else {
			var es *Errors
			if c != nil || !errors.As(err, &es) || len(*es) == 0 {
				t.Fatalf("Parse = %v, %T %v; want nil and a non-empty *Errors", c, err, err)
			}
			last := 0
			for _, e := range *es {
				if e.Key == "" && e.Msg == "" || e.Line <= 0 || e.Line < last {
					t.Fatalf("bad error entry %#v in\n%v", e, err)
				}
				last = e.Line
			}
		}
		// The line finder must know every key the parser saw.
		var m map[string]any
		md, err := toml.Decode(string(data), &m)
		if err != nil {
			return
		}
		lines := keyLines(string(data))
		src := strings.Split(trimBOM(string(data)), "\n")
		for _, k := range md.Keys() {
			n := lines.line(k)
			if n <= 0 || n > len(src) {
				t.Fatalf("no line for key %s", k)
			}
			// The line must show the key, unless it may be quoted.
			line := src[n-1]
			if last := k[len(k)-1]; !strings.ContainsAny(line, `"'`) && !strings.Contains(line, last) {
				t.Fatalf("key %s is not on line %d: %q", k, n, src[n-1])
			}
		}
	})
}
