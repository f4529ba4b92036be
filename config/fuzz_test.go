package config

import (
	"errors"
	"fmt"
	"os"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// FuzzParse checks that Parse never panics and always answers with either
// a Config or an *Errors whose entries all carry a line and a message, in
// order; and that every key the TOML parser saw has a line.
//
// Each input is also held to a memory bound (allocBound), and what
// prescan accepts to MaxDepth and MaxItems as the parser sees them.
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
		"[programs.j]\ncommand = \"j\"\ntype = \"oneshot\"\nschedule = \"CRON_TZ=UTC 0 3 * * *\"\n",
		"[programs.j]\ncommand = \"j\"\ntype = \"oneshot\"\nschedule = \"TZ=\"\n",
		"[programs.p]\ncommand = \"p\"\nrestart_limit = { count = 3, window = \"10s\" }\nbackoff = { reset = \"1m\" }\n",
		"[programs.p]\ncommand = \"p\"\n[programs.p.restart_limit]\nwindow = 1e400\ncount = [1]\n",
		"programs.p.command = \"x\"\nprograms.p.healthcheck.tcp = \"h:1\"\n",
		"[programs.p]\ncommand = \"${\"\n",
		"[programs.p\ncommand = 1",
		"[[programs]]\nname = \"x\"\n",
		"[programs.p]\ncommand = \"p\"\nrlimits = { nofile = [\"1024\", \"infinity\"], as = \"512MiB\", cpu = \"1h\", rttime = \"5ms\" }\n" +
			"capabilities = [\"cap_net_raw\", \"CHOWN\", \"NOPE\"]\nnice = -20\noom_score_adj = 1000\nno_new_privs = true\n",
		"[programs.p]\ncommand = \"p\"\n[programs.p.rlimits]\nnproc = [\n  2,\n  1,\n]\nstack = [\"8MB\", -1]\n" +
			"memory_max = \"${M:-max}\"\ncpus = 0.005\npids_max = 0\n",
		"[programs.p]\ncommand = \"p\"\nstdout = \"prefix\"\nready = { log = '(?i)^ready\\b|on :\\d{2,5}$' }\n[programs.q]\ncommand = \"q\"\nready = { fd = 3 }\ndepends_on = { p = { condition = \"ready\", restart = true } }\n",
		"[programs.p]\ncommand = \"p\"\nready = \"healthy\"\nready_timeout = \"5s\"\n[programs.p.readiness]\ntcp = \"h:1\"\n[tend]\nstart_timeout = 3\non_start_timeout = \"fail\"\n",
	} {
		f.Add([]byte(src))
	}
	// The shapes of issue 10, deep enough to cost megabytes where a
	// cost grows with the square of the depth: the fuzzer mutates them
	// around the limits.
	const prog = "[programs.a]\ncommand = [\"true\"]\n"
	for _, src := range []string{
		// 10 KB: before the fix, the line finder allocated 42 MB here.
		prog + "exitcodes = " + strings.Repeat("[", 5000) + "0" + strings.Repeat("]", 5000),
		prog + "exitcodes = " + strings.Repeat("[", 29) + "0" + strings.Repeat("]", 29),
		prog + "environment = " + strings.Repeat("{a=", 2000) + "1" + strings.Repeat("}", 2000),
		prog + strings.Repeat("a.", 2000) + "a = 1",
		"[" + strings.Repeat("a.", 2000) + "a]",
		"[[" + strings.Repeat("a.", 30) + "a]]\n[[" + strings.Repeat("a.", 30) + "a]]",
		prog + "directory = \"" + strings.Repeat("${A:-", 500) + "x" + strings.Repeat("}", 500) + "\"",
		"[programs." + strings.Repeat("x", 2000) + "]\n" + strings.Repeat("k=1\nk2=1\nk3=1\n", 100),
		"[programs.p]\ncommand = \"x\"\ninstances = 1000\n[programs.q]\ncommand = \"x\"\ninstances = 1000\n" +
			"[programs.r]\ncommand = \"x\"\ninstances = 1000\n[programs.s]\ncommand = \"x\"\ninstances = 1000\n" +
			"[programs.t]\ncommand = \"x\"\ninstances = 1000\n[programs.u]\ncommand = \"x\"\ndepends_on = [\"p\", \"q\", \"r\"]\n",
		prog + "startsecs = nan\nstopwaitsecs = -inf\nstartretries = 99999999999999999999\nbackoff = { initial = \"-1s\", factor = inf }",
	} {
		f.Add([]byte(src))
	}
	env := envOf(map[string]string{"HOME": "/root", "PORT": "8080", "EMPTY": ""})
	f.Fuzz(func(t *testing.T, data []byte) {
		// The fuzzer has no time limit per input: turn a hang into a
		// crash, which it records.
		hang := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("Parse hangs on %q", data)) })
		defer hang.Stop()
		// Memory: what Parse allocates (garbage included) must stay
		// within a bound that grows with the input, up to 64 MiB: a
		// cost that grows faster than the input shows here first.
		before := allocated()
		c, _, err := parse("f.toml", data, env, mapFiles{}) // an include reads nothing: FuzzInclude has files
		if alloc, limit := allocated()-before, allocBound(len(data)); alloc > limit {
			t.Fatalf("Parse allocated %d bytes for %d bytes of input, more than %d", alloc, len(data), limit)
		}
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
		if len(data) > MaxSize || prescan(string(data)) != nil {
			return // the parser never sees it, and could take minutes
		}
		var m map[string]any
		md, err := toml.Decode(string(data), &m)
		if err != nil {
			return
		}
		// What prescan lets through is within the limits as the
		// parser sees it. An array of tables counts one where its
		// header is, but the parser's tree has it again under every
		// key through it ([[a]] then [[a.b]]): twice MaxDepth at most.
		if depth := treeDepth(m); depth > 2*MaxDepth {
			t.Fatalf("prescan accepted a document %d deep", depth)
		}
		if n := len(md.Keys()); n > MaxItems {
			t.Fatalf("prescan accepted %d keys", n)
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

// allocated is the bytes allocated so far: runtime/metrics, not
// ReadMemStats, which stops the world and halved the fuzzer's pace.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// allocBound is the most Parse may allocate for n bytes of input: 12
// MiB for what a few bytes can ask for (4,096 programs by instances, at
// about a kilobyte each), and a generous multiple of the input (the TOML
// parser allocates about two kilobytes per key, and a key can be three
// bytes), up to 64 MiB.
func allocBound(n int) uint64 {
	return uint64(min(12<<20+1024*n, 64<<20))
}

// treeDepth is the depth of a decoded TOML value: each table level and
// each array counts one.
func treeDepth(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			d = max(d, 1+treeDepth(e))
		}
	case []any:
		for _, e := range v {
			d = max(d, treeDepth(e))
		}
		d++
	case []map[string]any:
		for _, e := range v {
			d = max(d, treeDepth(e))
		}
		d++
	}
	return d
}

// FuzzInclude: a main file and the files it may include or read as env
// files, cut from the input at "\n---\n": /c/t.toml, then /c/d/1.toml
// (also /c/1.env), /c/d/2.toml (and /c/2.env)… Whatever they hold, parse
// answers within the memory bound of their total size, with errors that
// each name one of the files and a line in it.
func FuzzInclude(f *testing.F) {
	for _, src := range []string{
		"[tend]\ninclude = \"d/*.toml\"\n[programs.a]\ncommand = \"a\"\n---\n[programs.a]\nstopwaitsecs = 1\n---\n[programs.b]\ncommand = 1\n",
		"[tend]\ninclude = [\"d/2.toml\", \"d/1.toml\", \"/c/t.toml\"]\nenv_file = \"1.env\"\n---\nA=1\nB=\"x\"\n---\n[programs.p]\ncommand = \"p\"\nenv_file = \"../2.env\"\n",
		"[tend]\ninclude = \"d/*\"\n---\n[tend]\ninclude = \"x\"\n---\n[programs.p\n",
		"[tend]\ninclude = \"d/1.toml\"\n[programs.a]\ncommand = \"a\"\ndepends_on = [\"b\"]\n---\n[programs.b]\ncommand = \"b\"\ndepends_on = [\"a\"]\n",
		"[tend]\ninclude = \"d/*.toml\"\n---\ntend = 1\nprograms = 2\n---\n[programs.x.healthcheck]\ntcp = 1\n",
	} {
		f.Add([]byte(src))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		hang := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("parse hangs on %q", data)) })
		defer hang.Stop()
		parts := strings.Split(string(data), "\n---\n")
		if len(parts) > 8 {
			return
		}
		fsys := mapFiles{}
		lines := map[string]int{"/c/t.toml": 1 + strings.Count(parts[0], "\n")}
		for i, p := range parts[1:] {
			toml, env := fmt.Sprintf("/c/d/%d.toml", i+1), fmt.Sprintf("/c/%d.env", i+1)
			fsys[toml], fsys[env] = p, p
			lines[toml] = 1 + strings.Count(p, "\n")
			lines[env] = lines[toml] // include = "*" reads it as TOML
		}
		before := allocated()
		c, _, err := parse("/c/t.toml", []byte(parts[0]), nil, fsys)
		if alloc, limit := allocated()-before, allocBound(len(data)); alloc > limit {
			t.Fatalf("parse allocated %d bytes for %d bytes of input, more than %d", alloc, len(data), limit)
		}
		if err == nil {
			for _, p := range c.Programs {
				if p.Name == "" || len(p.Command) == 0 || p.Command[0] == "" {
					t.Fatalf("invalid program accepted: %+v", p)
				}
			}
			return
		}
		var es *Errors
		if c != nil || !errors.As(err, &es) || len(*es) == 0 {
			t.Fatalf("parse = %v, %T %v; want nil and a non-empty *Errors", c, err, err)
		}
		for _, e := range *es {
			if n, ok := lines[e.File]; !ok || e.Line <= 0 || e.Line > n || e.Msg == "" {
				t.Fatalf("bad error entry %#v in\n%v", e, err)
			}
		}
	})
}

// FuzzCron: whatever a schedule line holds, parseCron returns (the
// parser it wraps panics on some lines), and a schedule it accepts
// answers Next.
func FuzzCron(f *testing.F) {
	for _, s := range []string{"* * * * *", "*/5 1-3 * JAN-MAR MON", "@every 1h30m", "CRON_TZ=UTC 0 3 * * *", "TZ=", "0 0 30 2 *", "@yearly"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 256 {
			return
		}
		spec, err := parseCron(s)
		if err == nil {
			spec.Next(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
		}
	})
}
