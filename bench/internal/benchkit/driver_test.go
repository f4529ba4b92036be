package benchkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sizes stands for a driver's params.
type sizes struct {
	Mode string `json:"mode"`
	Nice int    `json:"nice"`
}

func (s sizes) WithNice(nice int) sizes { s.Nice = nice; return s }

// results stands for a driver's results.
type results struct {
	Header[sizes]
	Samples []float64 `json:"samples"`
}

func TestBlockMarkers(t *testing.T) {
	// The lines that docs/benchmarks.md and docs/benchmarks-supervisor.md
	// hold: a change here must change them too.
	for _, tc := range []struct{ name, out, begin, end string }{
		{"initbench", "bench/out",
			"<!-- BEGIN initbench: generated from bench/out/results-full.json by bench/cmd/initbench; do not edit by hand -->",
			"<!-- END initbench -->"},
		{"svbench", "bench/out/supervisor",
			"<!-- BEGIN svbench: generated from bench/out/supervisor/results-full.json by bench/cmd/svbench; do not edit by hand -->",
			"<!-- END svbench -->"},
	} {
		got := Driver[results, sizes]{Name: tc.name, Out: tc.out}.block()
		if got.Begin != tc.begin || got.End != tc.end {
			t.Errorf("%s: block %q, %q; want %q, %q", tc.name, got.Begin, got.End, tc.begin, tc.end)
		}
	}
}

func TestResultsFile(t *testing.T) {
	dir := t.TempDir()
	path := resultsPath(dir, Flags{Quick: true}.Mode())
	if filepath.Base(path) != "results-quick.json" || filepath.Base(resultsPath(dir, Flags{}.Mode())) != "results-full.json" {
		t.Errorf("resultsPath = %s", path)
	}
	in := results{Header: Header[sizes]{Command: "c", Params: sizes{"quick", -20}, Seconds: 2}, Samples: []float64{1, 2}}
	if err := saveResults(path, &in); err != nil {
		t.Fatal(err)
	}
	// The header's fields stand first in the file, as if they were the
	// results' own.
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "{\n  \"command\": \"c\",\n  \"params\": {\n    \"mode\": \"quick\",\n    \"nice\": -20\n  },\n  \"started\":") ||
		!strings.Contains(string(b), "\"seconds\": 2,\n  \"machine\": {") || !strings.Contains(string(b), "\"samples\": [") {
		t.Errorf("results file:\n%s", b)
	}
	var back results
	if err := loadResults(path, &back); err != nil || back.Params.Nice != -20 || back.Command != "c" || len(back.Samples) != 2 {
		t.Errorf("loadResults = %+v, %v", back, err)
	}
	if err := loadResults(filepath.Join(dir, "none.json"), &back); err == nil {
		t.Error("loadResults of a missing file: no error")
	}
}

// TestRender runs a driver with -render: it renders the results file
// again, into results-MODE.md and the docs page, and measures nothing.
func TestRender(t *testing.T) {
	dir := t.TempDir()
	d := Driver[results, sizes]{
		Name: "testbench", Out: dir,
		Measure: func(Flags, Header[sizes]) (*results, error) {
			t.Fatal("-render measured")
			return nil, nil
		},
		Render: func(r *results) string { return "| " + r.Params.Mode + " | " + r.Command + " |\n" },
	}
	if err := saveResults(resultsPath(dir, "quick"), &results{Header: Header[sizes]{Command: "x", Params: sizes{Mode: "quick"}}}); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(dir, "doc.md")
	k := d.block()
	if err := os.WriteFile(doc, []byte("prose\n"+k.Begin+"\n"+k.End+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.run(Flags{Out: dir, Doc: doc, Quick: true, Render: true}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "results-quick.md")); string(b) != "| quick | x |\n" {
		t.Errorf("results-quick.md = %q", b)
	}
	if b, _ := os.ReadFile(doc); !strings.Contains(string(b), k.Begin+"\n\n| quick | x |\n\n"+k.End) {
		t.Errorf("doc = %q", b)
	}
	if err := d.run(Flags{Out: dir, Render: true}); err == nil {
		t.Error("-render without results-full.json: no error")
	}
}
