package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestParseEnvFile: each line form of an env file, and each way a line
// can be wrong, with the line the error names.
func TestParseEnvFile(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want map[string]string
		line int    // of the error
		err  string // in the error; "" for none
	}{
		{"empty", "", map[string]string{}, 0, ""},
		{"blank lines and comments", "\n  \n# c\n\t# c2\r\n", map[string]string{}, 0, ""},
		{"plain", "A=1\nB=two words\n", map[string]string{"A": "1", "B": "two words"}, 0, ""},
		{"no newline at the end", "A=1", map[string]string{"A": "1"}, 0, ""},
		{"crlf", "A=1\r\nB=2\r\n", map[string]string{"A": "1", "B": "2"}, 0, ""},
		{"bom", "\xef\xbb\xbfA=1\n", map[string]string{"A": "1"}, 0, ""},
		{"blanks trimmed", "  A =  1 \t\n", map[string]string{"A": "1"}, 0, ""},
		{"empty value", "A=\nB=  \n", map[string]string{"A": "", "B": ""}, 0, ""},
		{"export", "export A=1\nexport\tB=2\n", map[string]string{"A": "1", "B": "2"}, 0, ""},
		{"export as a name", "export=1\nexported=2\n", map[string]string{"export": "1", "exported": "2"}, 0, ""},
		{"trailing comment", "A=1 # one\nB=2\t#two\n", map[string]string{"A": "1", "B": "2"}, 0, ""},
		{"# inside a value", "URL=http://h/#frag\nC=a#b\n", map[string]string{"URL": "http://h/#frag", "C": "a#b"}, 0, ""},
		{"value that is a comment", "A= # nothing\n", map[string]string{"A": ""}, 0, ""},
		{"= in a value", "A=b=c\n", map[string]string{"A": "b=c"}, 0, ""},
		{"quotes inside a value", "A=it's \"x\"\n", map[string]string{"A": `it's "x"`}, 0, ""},
		{"single quotes literal", `A='a\nb $X # c'` + "\n", map[string]string{"A": `a\nb $X # c`}, 0, ""},
		{"double quote escapes", `A="a\nb\tc\"d\\e\$f\qg"` + "\n", map[string]string{"A": "a\nb\tc\"d\\e$f\\qg"}, 0, ""},
		{"quoted blanks kept", `A="  x  "` + "\n", map[string]string{"A": "  x  "}, 0, ""},
		{"comment after a quote", `A="x" # c` + "\nB='y'\t#c\n", map[string]string{"A": "x", "B": "y"}, 0, ""},
		{"multi-line double", "A=\"line1\nline2\"\nB=3\n", map[string]string{"A": "line1\nline2", "B": "3"}, 0, ""},
		{"multi-line single", "A='-----BEGIN\nxyz\n-----END'\nB=3\n", map[string]string{"A": "-----BEGIN\nxyz\n-----END", "B": "3"}, 0, ""},
		{"later wins", "A=1\nA=2\n", map[string]string{"A": "2"}, 0, ""},
		{"names", "a.b-c_D9=1\n_x=2\n", map[string]string{"a.b-c_D9": "1", "_x": "2"}, 0, ""},

		{"no =", "A=1\nJUSTANAME\n", nil, 2, `want NAME=value, not "JUSTANAME"`},
		{"name with a space", "A B=1\n", nil, 1, `bad variable name "A B"`},
		{"name starting with a digit", "\n1A=1\n", nil, 2, `bad variable name "1A"`},
		{"empty name", "=1\n", nil, 1, `bad variable name "": use letters, digits, _, . and -, not starting with a digit`},
		{"export, bad name", "export 1A=1\n", nil, 1, `bad variable name "1A"`},
		{"unclosed double", "A=1\nB=\"abc\nC=2\n", nil, 2, `no closing "`},
		{"unclosed single", "A='abc", nil, 1, `no closing '`},
		{"text after a quote", "A=\"x\" y\n", nil, 1, `"y" after the closing "`},
		{"text after a multi-line quote", "A=\"x\ny\"z\n", nil, 1, `"z" after the closing "`},
		{"line after a multi-line value", "A=\"x\ny\"\nBAD\n", nil, 3, `want NAME=value, not "BAD"`},
		{"NUL", "A=a\x00b\n", nil, 1, "the value of A holds a NUL byte"},
		{"NUL quoted", "A=\"a\x00b\"\n", nil, 1, "the value of A holds a NUL byte"},
		{"yaml", "A: 1\n", nil, 1, `want NAME=value, not "A: 1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, line, err := parseEnvFile(tt.src, MaxEnvVars)
			if tt.err == "" {
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("parseEnvFile(%q) = %q, %d, %v; want %q", tt.src, got, line, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || line != tt.line {
				t.Fatalf("parseEnvFile(%q) = %q, line %d, %v; want line %d, an error with %q", tt.src, got, line, err, tt.line, tt.err)
			}
		})
	}
}

// TestEnvFileKeys: env_file in [tend] and in a program, their
// precedence, paths relative to the file that names them, and one file
// read once for every program that names it.
func TestEnvFileKeys(t *testing.T) {
	fsys := countingFiles{files: mapFiles{
		"/etc/global.env":   "G=global\nSHARED=global\nOWN=global\n",
		"/etc/web.env":      "SHARED=web\nOWN=web\nW=1\n",
		"/etc/d/inc.env":    "I=inc\n",
		"/etc/d/extra.toml": "[programs.inc]\ncommand = \"x\"\nenv_file = \"inc.env\"\n",
	}, reads: map[string]int{}}
	c, _, err := parse("/etc/tend.toml", []byte(`
[tend]
env_file = "global.env"
include = "d/extra.toml"

[programs.web]
command = "web"
env_file = "/etc/web.env"
environment = { OWN = "environment" }
instances = 2

[programs.api]
command = "api"
env_file = "web.env"
clear_env = true

[programs.plain]
command = "plain"
`), testEnv, fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"web:0": {"G": "global", "SHARED": "web", "OWN": "environment", "W": "1"},
		"web:1": {"G": "global", "SHARED": "web", "OWN": "environment", "W": "1"},
		"api":   {"G": "global", "SHARED": "web", "OWN": "web", "W": "1"},
		"plain": {"G": "global", "SHARED": "global", "OWN": "global"},
		"inc":   {"G": "global", "SHARED": "global", "OWN": "global", "I": "inc"},
	}
	for name, env := range want {
		p := c.Lookup(name)
		if p == nil {
			t.Fatalf("no program %s", name)
		}
		if got := p.Env(); !maps.Equal(got, env) {
			t.Errorf("%s: Env() = %v, want %v", name, got, env)
		}
		for k, v := range env {
			if got, ok := p.LookupEnv(k); !ok || got != v {
				t.Errorf("%s: LookupEnv(%s) = %q, %t; want %q", name, k, got, ok, v)
			}
		}
		if _, ok := p.LookupEnv("NOPE"); ok {
			t.Errorf("%s: LookupEnv(NOPE) found", name)
		}
		if p.ClearEnv != (name == "api") {
			t.Errorf("%s: ClearEnv = %t", name, p.ClearEnv)
		}
	}
	if c.Tend.EnvFile == nil || c.Tend.EnvFile.Path != "/etc/global.env" {
		t.Errorf("Tend.EnvFile = %+v", c.Tend.EnvFile)
	}
	if got := c.Lookup("web:0").EnvFiles; len(got) != 2 || got[0] != c.Tend.EnvFile || got[1] != c.Lookup("api").EnvFiles[1] {
		t.Errorf("web:0 EnvFiles = %v: want the global file, then the one shared with api", got)
	}
	for path, n := range fsys.reads {
		if n != 1 {
			t.Errorf("%s read %d times", path, n)
		}
	}
}

// countingFiles counts the reads of each file.
type countingFiles struct {
	files mapFiles
	reads map[string]int
}

func (c countingFiles) glob(p string) ([]string, error) { return c.files.glob(p) }

func (c countingFiles) read(name string, limit int) ([]byte, int64, error) {
	c.reads[name]++
	return c.files.read(name, limit)
}

// TestEnvFileErrors: a bad env file is an error at the env_file key,
// naming the env file's line too.
func TestEnvFileErrors(t *testing.T) {
	big := strings.Repeat("A=1234567890123456789012345678901234567890\n", MaxEnvFileSize/43+1)
	many := strings.Builder{}
	for i := range MaxEnvVars + 1 {
		fmt.Fprintf(&many, "V%d=\n", i)
	}
	tests := []struct {
		name  string
		files mapFiles
		src   string
		want  []string
	}{
		{"missing", nil, "[programs.p]\ncommand = \"p\"\nenv_file = \"/app/.env\"\n",
			[]string{`/c/t.toml:3: programs.p.env_file: env file /app/.env: open /app/.env: file does not exist`}},
		{"bad line", mapFiles{"/c/.env": "# ok\nA=1\nnot a line\n"}, "[programs.p]\ncommand = \"p\"\nenv_file = \".env\"\n",
			[]string{`/c/t.toml:3: programs.p.env_file: /c/.env:3: want NAME=value, not "not a line"`}},
		{"global", mapFiles{"/c/.env": "A='x\n"}, "[tend]\nenv_file = \".env\"\n",
			[]string{`/c/t.toml:2: tend.env_file: /c/.env:1: no closing '`}},
		{"directory", mapFiles{"/c/env/": ""}, "[tend]\nenv_file = \"env\"\n",
			[]string{`/c/t.toml:2: tend.env_file: env file /c/env: is a directory`}},
		{"type", nil, "[tend]\nenv_file = 1\n",
			[]string{`/c/t.toml:2: tend.env_file: expected a string, got integer 1`}},
		{"clear_env type", nil, "[programs.p]\ncommand = \"p\"\nclear_env = \"yes\"\n",
			[]string{`/c/t.toml:3: programs.p.clear_env: expected a boolean, got string "yes"`}},
		{"one bad file, every key that names it", mapFiles{"/c/.env": "=\n"},
			"[programs.p]\ncommand = \"p\"\nenv_file = \".env\"\n[programs.q]\ncommand = \"q\"\nenv_file = \"/c/.env\"\n",
			[]string{`/c/t.toml:3: programs.p.env_file: /c/.env:1: bad variable name "": use letters, digits, _, . and -, not starting with a digit`,
				`/c/t.toml:6: programs.q.env_file: /c/.env:1: bad variable name "": use letters, digits, _, . and -, not starting with a digit`}},
		{"in an included file", mapFiles{"/c/d/i.toml": "\n[programs.p]\ncommand = \"p\"\nenv_file = \"x.env\"\n", "/c/d/x.env": "\n\nB\n"},
			"[tend]\ninclude = [\"d/i.toml\"]\n",
			[]string{`/c/d/i.toml:4: programs.p.env_file: /c/d/x.env:3: want NAME=value, not "B"`}},
		{"too large", mapFiles{"/c/.env": big}, "[tend]\nenv_file = \".env\"\n",
			[]string{fmt.Sprintf(`/c/t.toml:2: tend.env_file: env file /c/.env is %d bytes, more than the 1048576 (1 MiB) tend reads`, len(big))}},
		{"too many variables", mapFiles{"/c/.env": many.String()}, "[tend]\nenv_file = \".env\"\n",
			[]string{`/c/t.toml:2: tend.env_file: /c/.env:65537: more than 65536 variables in the env files`}},
		{"too many bytes together", mapFiles{
			"/c/1.env": big[:MaxEnvFileSize-43], "/c/2.env": big[:MaxEnvFileSize-43],
			"/c/3.env": big[:MaxEnvFileSize-43], "/c/4.env": big[:MaxEnvFileSize-43], "/c/5.env": big[:MaxEnvFileSize-43],
		}, "[programs.a]\ncommand=\"a\"\nenv_file=\"1.env\"\n[programs.b]\ncommand=\"b\"\nenv_file=\"2.env\"\n" +
			"[programs.c]\ncommand=\"c\"\nenv_file=\"3.env\"\n[programs.d]\ncommand=\"d\"\nenv_file=\"4.env\"\n" +
			"[programs.e]\ncommand=\"e\"\nenv_file=\"5.env\"\n",
			[]string{`/c/t.toml:15: programs.e.env_file: env file /c/5.env: the env files add up to more than 4 MiB`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := parse("/c/t.toml", []byte(tt.src), testEnv, tt.files)
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

// FuzzEnvFile: whatever an env file holds, parseEnvFile answers within
// a memory bound, with valid names and values, or an error on a line of
// the file; and what it read, written back quoted, reads the same.
func FuzzEnvFile(f *testing.F) {
	for _, s := range []string{
		"A=1\nB=\"x\\ny\"\nexport C='z'\n# c\n",
		"A=\"multi\nline\" # c\nB=2",
		"A=\"\\", "A='", "=", "export", "export ", "A=b # c\r\n", "\xef\xbb\xbfA=1",
		"A=\"x\" y", "A= \"x\"", "1=2", "A.b-c=\"\\$\\\"\\\\\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		before := allocated()
		vars, line, err := parseEnvFile(src, MaxEnvVars)
		// The map and the values: a few times the input, plus a
		// megabyte for what the fuzzer itself allocates meanwhile (the
		// count is the process's).
		if alloc, limit := allocated()-before, uint64(1<<20+16*len(src)); alloc > limit {
			t.Fatalf("parseEnvFile allocated %d bytes for %d bytes of input, more than %d", alloc, len(src), limit)
		}
		if err != nil {
			if vars != nil || line < 1 || line > 1+strings.Count(src, "\n") {
				t.Fatalf("parseEnvFile(%q) = %v, line %d, %v", src, vars, line, err)
			}
			return
		}
		var back strings.Builder
		for k, v := range vars {
			if k == "" || !envNameByte(k[0], true) || strings.ContainsRune(v, 0) {
				t.Fatalf("parseEnvFile(%q) gave %q=%q", src, k, v)
			}
			for i := 1; i < len(k); i++ {
				if !envNameByte(k[i], false) {
					t.Fatalf("parseEnvFile(%q) gave the name %q", src, k)
				}
			}
			r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`).Replace(v)
			fmt.Fprintf(&back, "%s=\"%s\"\n", k, r)
		}
		again, _, err := parseEnvFile(back.String(), MaxEnvVars)
		if err != nil || !maps.Equal(again, vars) {
			t.Fatalf("parseEnvFile(%q) = %q, written back as %q reads %q, %v", src, vars, back.String(), again, err)
		}
	})
}
