package benchkit

import (
	"os"
	"path/filepath"
	"testing"
)

var testBlock = Block{Begin: "<!-- BEGIN x: generated -->", End: "<!-- END x -->"}

func TestSplice(t *testing.T) {
	doc := "# T\n\nprose\n\n" + testBlock.Begin + "\nold table\n" + testBlock.End + "\n\n## Findings\n"
	got, err := testBlock.Splice([]byte(doc), "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# T\n\nprose\n\n" + testBlock.Begin + "\n\nnew table\n\n" + testBlock.End + "\n\n## Findings\n"
	if string(got) != want {
		t.Errorf("Splice:\n%s\nwant:\n%s", got, want)
	}
	again, _ := testBlock.Splice(got, "new table\n")
	if string(again) != want {
		t.Errorf("Splice is not idempotent:\n%s", again)
	}
	for _, bad := range []string{"no markers", testBlock.End + "\n" + testBlock.Begin + "\n"} {
		if _, err := testBlock.Splice([]byte(bad), "x"); err == nil {
			t.Errorf("Splice(%q): no error", bad)
		}
	}
}

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc.md")
	if err := os.WriteFile(doc, []byte("a\n"+testBlock.Begin+"\n"+testBlock.End+"\nz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeReport("| t |\n", dir, "quick", doc, testBlock); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "results-quick.md")); string(b) != "| t |\n" {
		t.Errorf("results-quick.md = %q", b)
	}
	if b, _ := os.ReadFile(doc); string(b) != "a\n"+testBlock.Begin+"\n\n| t |\n\n"+testBlock.End+"\nz\n" {
		t.Errorf("doc = %q", b)
	}

}
