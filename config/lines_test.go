package config

import (
	"runtime"
	"strconv"
	"strings"
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
	// KEY[i] is element i of the array at KEY.
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
		"tbl.sub.arr[3]":               0,
		"tbl.sub.arr[0][0]":            0,
	}
	got := keyLines(tricky)
	for k, line := range want {
		if n := lineOf(got, k); n != line {
			t.Errorf("line of %s = %d, want %d", k, n, line)
		}
	}
	var m map[string]any
	md, err := toml.Decode(tricky, &m)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range md.Keys() {
		if got.line(k) == 0 {
			t.Errorf("key %s not located", k)
		}
	}
}

// lineOf looks up a key written as in TestKeyLines: dotted, "quoted"
// parts without dots inside, and [i] for array elements.
func lineOf(x *lineIndex, k string) int {
	parts := strings.Split(k, ".")
	if strings.HasPrefix(k, `"`) {
		parts = []string{strings.Trim(k, `"`)}
	}
	n := int32(0)
	for _, part := range parts {
		name, elems, _ := strings.Cut(part, "[")
		if n = x.child(n, kid{elem: -1, name: name}, false); n < 0 {
			return 0
		}
		for e := range strings.SplitSeq(strings.TrimSuffix(elems, "]"), "][") {
			if e == "" {
				continue
			}
			i, _ := strconv.Atoi(e)
			if n = x.child(n, kid{elem: int32(i)}, false); n < 0 {
				return 0
			}
		}
	}
	return int(x.lines[n])
}

// TestKeyLinesDeep is issue 10: nested arrays made the line finder's
// memory grow with the square of the depth. 2,000 levels cost 40 MB
// before; the tree takes a node per level.
func TestKeyLinesDeep(t *testing.T) {
	const depth = 2000
	src := "x = " + strings.Repeat("[", depth) + "0" + strings.Repeat("]", depth) + "\n"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	x := keyLines(src)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("keyLines allocated %d bytes for %d bytes of nested arrays", alloc, len(src))
	}
	if len(x.lines) != depth+2 {
		t.Errorf("%d nodes, want %d", len(x.lines), depth+2)
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
