package logs

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// jsonLine is a JSON line as its readers decode it.
type jsonLine struct {
	Time    time.Time `json:"time"`
	Program string    `json:"program"`
	Stream  string    `json:"stream"`
	Line    string    `json:"line"`
}

func TestAppendEscaped(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"plain ascii text", "plain ascii text"},
		{"exactly8", "exactly8"},
		{`say "hi"`, `say \"hi\"`},
		{`C:\path\to`, `C:\\path\\to`},
		{"tab\there", `tab\there`},
		{"cr\r", `cr\r`},
		{"nl\nin", `nl\nin`},
		{"\x00\x01\x1f", `\u0000\u0001\u001f`},
		{"\x7f del stays", "\x7f del stays"},
		{"é ü 日本 🙂", "é ü 日本 🙂"},
		{"bad \xff byte", `bad \ufffd byte`},
		{"\xc3", `\ufffd`},                               // a sequence cut short
		{"\xc3\x28", `\ufffd(`},                          // a bad continuation
		{"\xed\xa0\x80", `\ufffd\ufffd\ufffd`},           // a surrogate half
		{"\xf4\x90\x80\x80", `\ufffd\ufffd\ufffd\ufffd`}, // over U+10FFFF
		{"12345678\"12345678", `12345678\"12345678`},     // a special byte between plain words
		{"1234567é", "1234567é"},                         // a multibyte rune across a word
		{"<&> \u2028", "<&> \u2028"},                     // no HTML escaping
	} {
		if got := string(appendEscaped(nil, []byte(c.in))); got != c.want {
			t.Errorf("appendEscaped(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestAppendJSONLine(t *testing.T) {
	at := time.Date(2025, 1, 2, 15, 4, 5, 123456789, time.FixedZone("X", 3600))
	got := string(AppendJSONLine([]byte("x"), at, `web(pre_stop)`, StreamStderr, []byte(`a "b"`)))
	want := `x{"time":"2025-01-02T14:04:05.123456789Z","program":"web(pre_stop)","stream":"stderr","line":"a \"b\""}` + "\n"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	at = time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC)
	if got := string(AppendJSONLine(nil, at, "w", StreamStdout, nil)); got != `{"time":"2025-01-02T15:04:05Z","program":"w","stream":"stdout","line":""}`+"\n" {
		t.Errorf("got %s", got)
	}
}

// FuzzAppendJSONLine: every line, whatever its bytes, is one valid JSON
// line that decodes to what encoding/json makes of the same bytes (each
// byte that is not UTF-8 as U+FFFD), and takes at most maxEscaped bytes
// per byte.
func FuzzAppendJSONLine(f *testing.F) {
	for _, s := range []string{"", "hello", `"\`, "\x00\x1f\x7f\x80\xff", "é🙂\xed\xa0\x80", strings.Repeat("a\"", 20)} {
		f.Add([]byte(s))
	}
	at := time.Date(2025, 1, 2, 15, 4, 5, 6, time.UTC)
	f.Fuzz(func(t *testing.T, line []byte) {
		line = bytes.ReplaceAll(line, []byte("\n"), nil) // a line has none
		out := AppendJSONLine(nil, at, "web:0", StreamStdout, line)
		if bytes.Count(out, []byte("\n")) != 1 || out[len(out)-1] != '\n' {
			t.Fatalf("not one line: %q", out)
		}
		var got jsonLine
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		ref, _ := json.Marshal(string(line))
		var want string
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if got.Line != want || got.Program != "web:0" || got.Stream != StreamStdout || !got.Time.Equal(at) {
			t.Fatalf("%q decodes to %+v, want line %q", line, got, want)
		}
		if n := len(appendEscaped(nil, line)); n > maxEscaped*len(line) {
			t.Fatalf("%d bytes escape to %d", len(line), n)
		}
	})
}

func BenchmarkAppendEscaped(b *testing.B) {
	line := bytes.Repeat([]byte("0123456789"), 10)[:99]
	out := make([]byte, 0, 1024)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		out = appendEscaped(out[:0], line)
	}
}

// BenchmarkJSONLines is BenchmarkLines for a JSON copier.
func BenchmarkJSONLines(b *testing.B) {
	block := lineBlock()
	c := copier{dst: NewDest(io.Discard), json: &jsonLabel{program: "web", stream: StreamStdout}, out: make([]byte, 0, 4*outSize)}
	c.json.head = appendJSONHead(nil, time.Now(), "web", StreamStdout)
	b.SetBytes(int64(len(block)))
	for b.Loop() {
		c.jsonLines(block)
		c.out = c.out[:0]
	}
}
