package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestIncludeMerge: files merged in order, each file's keys replacing
// those before, [programs.NAME] key by key and a sub-table whole, paths
// relative to the file that holds them.
func TestIncludeMerge(t *testing.T) {
	fsys := mapFiles{
		"/etc/tend.d/20-b.toml": `
[tend]
shutdown_timeout = "20s"
[programs.web]
environment = { C = "3" }
[programs.web.healthcheck]
exec = ["check"]
`,
		"/etc/tend.d/10-a.toml": `
[tend]
shutdown_timeout = "15s"
[programs.web]
stopwaitsecs = 7
[programs.db]
command = "db"
directory = "data"
`,
		"/etc/tend.d/sub.toml/":     "", // a directory the pattern matches: skipped
		"/etc/tend.d/notes.txt":     "not TOML",
		"/etc/tend.d/30-again.toml": "[programs.db]\nstdout = \"db.log\"\n",
		"/opt/extra.toml":           "[programs.db]\nuser = \"1000\"\n[programs.new]\ncommand = [\"new\"]\n",
	}
	c, _, err := parse("/etc/tend.toml", []byte(`
[tend]
include = ["tend.d/*.toml", "/opt/extra.toml", "/etc/tend.d/10-a.toml", "/etc/*.toml"]
shutdown_timeout = "10s"
socket = "run/a.sock"

[programs.web]
command = ["web"]
stopwaitsecs = 5
environment = { A = "1", B = "2" }
[programs.web.healthcheck]
tcp = "127.0.0.1:80"
interval = "3s"
`), testEnv, fsys)
	if err != nil {
		t.Fatal(err)
	}
	// 10-a.toml named again comes where it came first; the main file,
	// which /etc/*.toml matches, is not read again.
	if want := []string{"/etc/tend.toml", "/etc/tend.d/10-a.toml", "/etc/tend.d/20-b.toml", "/etc/tend.d/30-again.toml", "/opt/extra.toml"}; !slices.Equal(c.Files, want) {
		t.Errorf("Files = %q, want %q", c.Files, want)
	}
	if c.Tend.ShutdownTimeout != 20*time.Second || c.Tend.Socket != "/etc/run/a.sock" {
		t.Errorf("Tend = %+v: want shutdown_timeout of the last file that sets it, socket of the main file", c.Tend)
	}
	web := c.Lookup("web")
	if web.StopWaitSecs != 7*time.Second || !slices.Equal(web.Command, []string{"web"}) {
		t.Errorf("web: stopwaitsecs %v, command %q: want 7s from 10-a.toml, command from the main file", web.StopWaitSecs, web.Command)
	}
	if !reflect.DeepEqual(web.Environment, map[string]string{"C": "3"}) {
		t.Errorf("web: environment %v: a later file's table replaces it whole", web.Environment)
	}
	if h := web.Healthcheck; h == nil || h.Kind != ProbeExec || h.TCP != "" || h.Interval != 5*time.Second {
		t.Errorf("web: healthcheck %+v: want 20-b.toml's, whole, with its defaults", h)
	}
	db := c.Lookup("db")
	if db.Directory != "/etc/tend.d/data" || db.Stdout.Path != "/etc/tend.d/db.log" || db.User == nil || db.User.UID != 1000 {
		t.Errorf("db: directory %q, stdout %q, user %+v", db.Directory, db.Stdout.Path, db.User)
	}
	if c.Lookup("new") == nil {
		t.Error("no program new")
	}
}

// TestIncludeErrors: every error names the file and the line of the key
// that is wrong, whichever file set it; the main file's first, then
// those of the others, in the order they were merged.
func TestIncludeErrors(t *testing.T) {
	const head = "[tend]\ninclude = [\"d/*.toml\"]\n" // lines 1-2
	tests := []struct {
		name  string
		main  string
		files mapFiles
		want  []string
	}{
		{"unknown key", head, mapFiles{"/c/d/a.toml": "\n[programs.web]\ncommand = \"x\"\nautorestrat = \"never\"\n"},
			[]string{`/c/d/a.toml:4: programs.web.autorestrat: unknown key; did you mean "autorestart"?`}},
		{"bad value overriding the main file's", head + "[programs.web]\ncommand = \"x\"\nstopsignal = \"TERM\"\n",
			mapFiles{"/c/d/a.toml": "[programs.web]\n\nstopsignal = \"FOO\"\n"},
			[]string{`/c/d/a.toml:3: programs.web.stopsignal: unknown signal "FOO"`}},
		{"the main file's bad key in a merged table", head + "[programs.web]\ncommand = \"x\"\nstopsignal = \"FOO\"\n",
			mapFiles{"/c/d/a.toml": "[programs.web]\nstopwaitsecs = 2\n"},
			[]string{`/c/t.toml:5: programs.web.stopsignal: unknown signal "FOO"`}},
		{"a bad value replaced by a good one", head + "[programs.web]\ncommand = \"x\"\nstopsignal = \"FOO\"\n",
			mapFiles{"/c/d/a.toml": "[programs.web]\nstopsignal = \"INT\"\n"}, nil},
		{"unknown dependency", head + "[programs.db]\ncommand = \"db\"\n",
			mapFiles{"/c/d/a.toml": "[programs.web]\ncommand = \"x\"\ndepends_on = [\n  \"db\",\n  \"dbb\",\n]\n"},
			[]string{`/c/d/a.toml:5: programs.web.depends_on: unknown program "dbb"; did you mean "db"?`}},
		{"cycle across files", head + "[programs.a]\ncommand = \"a\"\ndepends_on = [\"b\"]\n",
			mapFiles{"/c/d/b.toml": "[programs.b]\ncommand = \"b\"\ndepends_on = [\"a\"]\n"},
			[]string{`/c/d/b.toml:3: programs.b.depends_on: dependency cycle: a -> b -> a`}},
		{"missing command", head, mapFiles{"/c/d/a.toml": "\n\n[programs.web]\nstopwaitsecs = 1\n"},
			[]string{`/c/d/a.toml:3: programs.web.command: required key is missing`}},
		{"sorted by file, then line", head + "[programs.p]\ncommand = \"p\"\nautostart = 1\n",
			mapFiles{
				"/c/d/b.toml": "[programs.q]\ncommand = \"q\"\nautostart = 2\n",
				"/c/d/a.toml": "[programs.r]\ncommand = \"r\"\n\nautostart = 3\n[programs.s]\ncommand = 1\n",
			},
			[]string{
				`/c/t.toml:5: programs.p.autostart: expected a boolean, got integer 1`,
				`/c/d/a.toml:4: programs.r.autostart: expected a boolean, got integer 3`,
				`/c/d/a.toml:6: programs.s.command: expected a string (run by /bin/sh -c) or an array of strings, got integer 1`,
				`/c/d/b.toml:3: programs.q.autostart: expected a boolean, got integer 2`,
			}},
		{"syntax error", head + "[programs.p]\ncommand = 1\n",
			mapFiles{"/c/d/a.toml": "[programs.x]\ncommand = \"x\n", "/c/d/b.toml": "[programs.y]\ncommand = \"y\"\n"},
			[]string{`/c/d/a.toml:2: invalid TOML: strings cannot contain newlines`}},
		{"over a limit", head, mapFiles{"/c/d/a.toml": "[programs.p]\ncommand = " + strings.Repeat("[", 40) + "\"x\"" + strings.Repeat("]", 40) + "\n"},
			[]string{`/c/d/a.toml:2: programs.p.command: nested deeper than 32 levels (each key part, array and inline table is one)`}},
		{"a literal file missing", "[tend]\ninclude = [\n  \"d/*.toml\",\n  \"/etc/nope.toml\",\n]\n", nil,
			[]string{`/c/t.toml:4: tend.include: include "/etc/nope.toml": open /etc/nope.toml: file does not exist`}},
		{"a pattern matching nothing", head + "[programs.p]\ncommand = \"p\"\n", nil, nil},
		{"a literal directory", "[tend]\ninclude = \"d\"\n", mapFiles{"/c/d/": ""},
			[]string{`/c/t.toml:2: tend.include: include "d": is a directory`}},
		{"a bad pattern", "[tend]\ninclude = [\"d/[.toml\"]\n", nil,
			[]string{`/c/t.toml:2: tend.include: bad pattern "d/[.toml": syntax error in pattern`}},
		{"an empty path", "[tend]\ninclude = [\"\"]\n", nil,
			[]string{`/c/t.toml:2: tend.include: an empty path`}},
		{"not a path", "[tend]\ninclude = 1\n", nil,
			[]string{`/c/t.toml:2: tend.include: expected a path or glob pattern, or an array of them, got integer 1`}},
		{"include in an included file", head, mapFiles{"/c/d/a.toml": "[tend]\nshutdown_timeout = 1\ninclude = [\"/x.toml\"]\n", "/x.toml": ""},
			[]string{`/c/d/a.toml:3: tend.include: only the main file may include others (/c/t.toml includes this one)`}},
		{"tend replaced by a non-table", head, mapFiles{"/c/d/a.toml": "tend = 5\n"},
			[]string{`/c/d/a.toml:1: tend: expected a table, got integer 5`}},
		{"the main file's [tend] key from an include", head + "shutdown_timeout = \"0s\"\n", mapFiles{"/c/d/a.toml": "[tend]\ndrain = \"1s\"\n"},
			[]string{`/c/t.toml:3: tend.shutdown_timeout: must be more than 0s`,
				`/c/d/a.toml:2: tend.drain: 1s is not shorter than shutdown_timeout (0s), which it counts inside`}},
		{"${VAR} in a pattern", "[tend]\ninclude = \"${HOME}/x.toml\"\n", mapFiles{"/home/t/x.toml": "[programs.p]\ncommand = 2\n"},
			[]string{`/home/t/x.toml:2: programs.p.command: expected a string (run by /bin/sh -c) or an array of strings, got integer 2`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := parse("/c/t.toml", []byte(tt.main), testEnv, tt.files)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("want a valid config, got\n%v", err)
				}
				return
			}
			var es *Errors
			if !errors.As(err, &es) {
				t.Fatalf("parse = %v, %v; want *Errors", c, err)
			}
			var got []string
			for _, e := range *es {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestIncludeLimits: how many files, how many bytes, and the parser's
// limits, shared by all the files.
func TestIncludeLimits(t *testing.T) {
	const head = "[tend]\ninclude = [\"d/*.toml\"]\n"
	many := mapFiles{}
	for i := range MaxIncludes + 1 {
		many[fmt.Sprintf("/c/d/%03d.toml", i)] = fmt.Sprintf("[programs.p%d]\ncommand = \"x\"\n", i)
	}
	exactly := mapFiles{}
	for i := range MaxIncludes {
		exactly[fmt.Sprintf("/c/d/%03d.toml", i)] = fmt.Sprintf("[programs.p%d]\ncommand = \"x\"\n", i)
	}
	// A file of comments, just under MaxSize.
	mb := strings.Repeat("# "+strings.Repeat("x", 97)+"\n", MaxSize/100-1)
	big := mapFiles{}
	for i := range MaxTotalSize/len(mb) + 1 {
		big[fmt.Sprintf("/c/d/%d.toml", i)] = mb
	}
	// Key parts: each file under MaxItems, the two over it together.
	items := func(prefix string) string {
		var b strings.Builder
		b.WriteString("[programs." + prefix + "]\ncommand = \"x\"\nenvironment = { ")
		for i := range MaxItems / 2 {
			fmt.Fprintf(&b, "%s%d = 1, ", prefix, i)
		}
		b.WriteString("}\n")
		return b.String()
	}
	tests := []struct {
		name  string
		files mapFiles
		want  string // an error, … standing for any text; "" for none
	}{
		{"256 files", exactly, ""},
		{"257 files", many, `/c/t.toml:2: tend.include: more than 256 files included`},
		{"8 MiB", big, fmt.Sprintf(`/c/t.toml:2: tend.include: the files included, /c/d/8.toml the last, add up to more than 8 MiB`)},
		{"a file over 1 MiB", mapFiles{"/c/d/a.toml": mb + strings.Repeat("#\n", 6000)},
			fmt.Sprintf(`/c/d/a.toml:%d: the file is %d bytes, more than the 1048576 (1 MiB) tend reads`, MaxSize/100-1+(MaxSize-len(mb))/2+1, len(mb)+12000)},
		{"items together", mapFiles{"/c/d/a.toml": items("a"), "/c/d/b.toml": items("b")},
			`/c/d/b.toml:3: programs.b.environment.b…: more than 32768 key parts and array elements`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parse("/c/t.toml", []byte(head), testEnv, tt.files)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			head, tail, _ := strings.Cut(tt.want, "…")
			if err == nil || !strings.HasPrefix(err.Error(), head) || !strings.HasSuffix(err.Error(), tail) || !strings.Contains(tt.want, "…") && err.Error() != tt.want {
				t.Fatalf("got %.500v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestIncludeCost: the most a configuration with includes may hold, 8
// MiB over the main file and seven others, of the strings that cost the
// parser most per byte, loads within the bounds of TestHostile.
func TestIncludeCost(t *testing.T) {
	dir := t.TempDir()
	mkdir(t, filepath.Join(dir, "d"))
	// Basic strings full of escapes: every byte is work for the parser.
	value := strings.Repeat(`\u00e9\t`, 500)
	var f strings.Builder
	for i := 0; f.Len() < MaxSize-16<<10; i++ { // room for the f0_ of the others
		fmt.Fprintf(&f, "[programs.p%d]\ncommand = \"%s\"\n", i, value)
	}
	main := "[tend]\ninclude = \"d/*.toml\"\n" + f.String()
	if err := os.WriteFile(filepath.Join(dir, "tend.toml"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	total := len(main)
	for i := 0; total+f.Len() <= MaxTotalSize; i++ {
		src := strings.ReplaceAll(f.String(), "[programs.p", fmt.Sprintf("[programs.f%d_", i))
		if err := os.WriteFile(filepath.Join(dir, "d", fmt.Sprintf("%d.toml", i)), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		total += len(src)
	}
	alloc, took, cfg, err := measure("includes", func() (*Config, error) { return Load(filepath.Join(dir, "tend.toml")) })
	if err != nil {
		t.Fatalf("%.1000v", err)
	}
	t.Logf("%d bytes in %d files: allocated %.1f MiB in %v", total, len(cfg.Files), float64(alloc)/(1<<20), took)
	// Eight times the bytes of TestHostile's largest file, so half as
	// much again in allocations, all told, as its bound: what matters is
	// the peak, which `tend check` puts at 47 MB for this case (SPEC's 64
	// MiB), and allocations end as garbage.
	if limit := uint64(hostileAlloc * 3 / 2); alloc > limit || took > hostileTime {
		t.Errorf("allocated %d bytes in %v, more than %d bytes or %v", alloc, took, limit, hostileTime)
	}
}

// TestIncludeFromDisk: Load reads included files as they are at each
// call (a reload sees a changed file), relative to the main file, and
// refuses a FIFO rather than waiting on it.
func TestIncludeFromDisk(t *testing.T) {
	dir := t.TempDir()
	mkdir(t, filepath.Join(dir, "conf.d"))
	main := filepath.Join(dir, "tend.toml")
	write := func(path, src string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(main, "[tend]\ninclude = [\"conf.d/*.toml\"]\n[programs.web]\ncommand = \"web\"\n")
	write(filepath.Join(dir, "conf.d", "web.toml"), "[programs.web]\nstopwaitsecs = 3\n")
	c, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Lookup("web").StopWaitSecs; got != 3*time.Second {
		t.Errorf("stopwaitsecs = %v, want 3s from conf.d/web.toml", got)
	}
	write(filepath.Join(dir, "conf.d", "web.toml"), "[programs.web]\nstopwaitsecs = 4\n")
	write(filepath.Join(dir, "conf.d", "api.toml"), "[programs.api]\ncommand = \"api\"\n")
	if c, err = Load(main); err != nil {
		t.Fatal(err)
	}
	if got := c.Lookup("web").StopWaitSecs; got != 4*time.Second || c.Lookup("api") == nil {
		t.Errorf("second load: stopwaitsecs = %v, api %v: the files are read again", got, c.Lookup("api"))
	}

	// A relative main file: included files are named relative to it too.
	t.Chdir(dir)
	write(filepath.Join(dir, "conf.d", "api.toml"), "[programs.api]\ncommand = 1\n")
	if _, err := Load("tend.toml"); err == nil || err.Error() != `conf.d/api.toml:2: programs.api.command: expected a string (run by /bin/sh -c) or an array of strings, got integer 1` {
		t.Errorf("got %v", err)
	}

	fifo := filepath.Join(dir, "conf.d", "fifo.toml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	write(main, "[tend]\ninclude = [\"conf.d/fifo.toml\"]\n")
	if _, err := Load(main); err == nil || !strings.Contains(err.Error(), `include "conf.d/fifo.toml": is not a regular file`) {
		t.Errorf("got %v, want an error for the FIFO", err)
	}
	write(main, "[programs.p]\ncommand = \"p\"\nenv_file = \"conf.d/fifo.toml\"\n")
	if _, err := Load(main); err == nil || !strings.Contains(err.Error(), `fifo.toml: is not a regular file`) {
		t.Errorf("got %v, want an error for the FIFO", err)
	}
}
