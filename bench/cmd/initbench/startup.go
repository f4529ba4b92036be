package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tend/bench/internal/benchkit"
)

// startupResult is `INIT -- /bin/true` as PID 1, start to exit, next to
// /bin/true alone as PID 1 ("bare"): the difference is the init's cost.
type startupResult struct {
	// Ms is wall time in milliseconds per variant, from this program's
	// own loop, which interleaves the variants in a random order each
	// round so that drift on a shared machine hits them all alike.
	Ms map[string]benchkit.Summary `json:"ms"`
	// SamplesMs are the raw samples behind Ms.
	SamplesMs map[string][]float64 `json:"samples_ms"`
	// Hyperfine is the same measurement by hyperfine (which runs each
	// variant's runs back to back), as a cross-check: median and mean, ms.
	Hyperfine map[string]benchkit.Summary `json:"hyperfine_ms"`
}

const bare = "bare"

type variant struct {
	name string
	argv []string
}

func startupVariants(specs []initSpec) []variant {
	vs := []variant{{bare, []string{"/bin/true"}}}
	for _, s := range specs {
		vs = append(vs, variant{s.Name, s.argv("/bin/true")})
	}
	return vs
}

func measureStartup(specs []initSpec, p params, out string) (startupResult, error) {
	res := startupResult{Ms: map[string]benchkit.Summary{}, SamplesMs: map[string][]float64{}}
	vs := startupVariants(specs)
	for round := -p.StartupWarmup; round < p.StartupRuns; round++ {
		for _, i := range rand.Perm(len(vs)) {
			v := vs[i]
			cmd := asPID1(v.argv)
			t := time.Now()
			err := cmd.Run()
			d := time.Since(t)
			if err != nil {
				return res, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
			}
			if round >= 0 {
				res.SamplesMs[v.name] = append(res.SamplesMs[v.name], ms(d))
			}
		}
	}
	for name, xs := range res.SamplesMs {
		res.Ms[name] = benchkit.Summarize(xs)
	}
	var err error
	res.Hyperfine, err = hyperfine(vs, p, out)
	return res, err
}

// hyperfine runs every variant under hyperfine and reads back its JSON.
func hyperfine(vs []variant, p params, out string) (map[string]benchkit.Summary, error) {
	jsonPath := filepath.Join(out, "hyperfine-"+p.Mode+".json")
	args := []string{"-N", "--style", "basic",
		"--warmup", strconv.Itoa(max(1, p.StartupWarmup/2)),
		"--runs", strconv.Itoa(p.HyperfineRuns),
		"--export-json", jsonPath}
	for _, v := range vs {
		args = append(args, "-n", v.name, strings.Join(asPID1(v.argv).Args, " "))
	}
	cmd := exec.Command("hyperfine", args...)
	log, err := os.Create(filepath.Join(out, "hyperfine-"+p.Mode+".txt"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	fmt.Fprintf(log, "$ %s\n", strings.Join(cmd.Args, " "))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("hyperfine (see %s): %w", log.Name(), err)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, err
	}
	var hf struct {
		Results []struct {
			Times []float64 `json:"times"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &hf); err != nil {
		return nil, fmt.Errorf("%s: %w", jsonPath, err)
	}
	if len(hf.Results) != len(vs) {
		return nil, fmt.Errorf("%s: %d results, want %d", jsonPath, len(hf.Results), len(vs))
	}
	res := map[string]benchkit.Summary{}
	for i, r := range hf.Results {
		xs := make([]float64, len(r.Times))
		for j, t := range r.Times {
			xs[j] = t * 1e3
		}
		res[vs[i].name] = benchkit.Summarize(xs)
	}
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
