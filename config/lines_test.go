package config

import (
	"testing"

	"github.com/BurntSushi/toml"
)

// tricky is valid TOML that a naive line finder gets wrong.
const tricky = "\xef\xbb\xbf" + `# comment with key = "value"
a = 1 # [not.a.table]
"quoted.key" = """
line
[fake]
x = 1
"""
s = '''it''s'''  # ''' more
t = """\"""[x]
"""
str = "a\"b[c]#d"
lit = 'C:\path#'
d = 1979-05-27 07:32:00Z

[ tbl . "sub" ]
arr = [
  1, # one
  [2, 3],
  { in = "x",
    deep.er = 2 },
]
inline = { k1 = 1,
  k2 = [ "a",
         "b" ], # TOML 1.1: newlines in inline tables
}
dotted.key.here = true

[programs.web.healthcheck]
tcp = "h:1"

[programs.web]
command = "x"
"esc\u0041\x42" = 1

[[list]]
item = 1
[[list]]
item = 2
`

func TestKeyLines(t *testing.T) {
	want := map[string]int{
		"a":                            2,
		`"quoted.key"`:                 3,
		"s":                            8,
		"t":                            9,
		"str":                          11,
		"lit":                          12,
		"d":                            13,
		`tbl.sub`:                      15,
		"tbl":                          15,
		"tbl.sub.arr":                  16,
		"tbl.sub.arr[0]":               17,
		"tbl.sub.arr[1]":               18,
		"tbl.sub.arr[1][1]":            18,
		"tbl.sub.arr[2]":               19,
		"tbl.sub.arr.in":               19,
		"tbl.sub.arr.deep":             20,
		"tbl.sub.arr.deep.er":          20,
		"tbl.sub.inline":               22,
		"tbl.sub.inline.k1":            22,
		"tbl.sub.inline.k2":            23,
		"tbl.sub.inline.k2[1]":         24,
		"tbl.sub.dotted":               26,
		"tbl.sub.dotted.key.here":      26,
		"programs":                     28,
		"programs.web.healthcheck":     28,
		"programs.web.healthcheck.tcp": 29,
		"programs.web":                 31,
		"programs.web.command":         32,
		`programs.web.escAB`:           33,
		"list":                         35,
		"list.item":                    36,
		"fake":                         0,
		"x":                            0,
	}
	got := keyLines(tricky)
	for k, line := range want {
		if got[k] != line {
			t.Errorf("line of %s = %d, want %d", k, got[k], line)
		}
	}
	var m map[string]any
	md, err := toml.Decode(tricky, &m)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range md.Keys() {
		if got[k.String()] == 0 {
			t.Errorf("key %s not located", k)
		}
	}
}

// TestKeyLinesGarbage checks that invalid input neither hangs nor panics.
func TestKeyLinesGarbage(t *testing.T) {
	for _, src := range []string{
		"[", "[[", "a", "a =", "a = [", "a = {", `a = "`, `a = """`, "a = '''", `"\u12`,
		"a = [1,", "a = {b", "a.", "=", "]]]", "a = \"\\", "[a\n[b", "\x00", "{{{{", "a = [[[[",
	} {
		keyLines(src)
	}
}
