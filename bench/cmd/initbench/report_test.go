package main

import (
	"strings"
	"testing"

	"tend/bench/internal/benchkit"
)

// TestRenderFloors checks the memory-floor table and the sentence under
// the targets, which says from the numbers whether the last floor is over
// the target or within it.
func TestRenderFloors(t *testing.T) {
	mem := func(anon, file int64) idleResult {
		return idleResult{Memory: benchkit.Memory{VmRSS: anon + file, RssAnon: anon, RssFile: file}}
	}
	res := &results{
		Inits: initSpecs("/bin/tend"),
		Floors: []initSpec{
			{Name: "initfloor", Tags: ""},
			{Name: "initfloor+toml", Tags: "floor_zerolog,floor_console,floor_toml"},
		},
		Idle: map[string]idleResult{
			"tend": mem(900, 3100), "tini": mem(100, 1200), "dumb-init": mem(90, 1100), "catatonit": mem(50, 600),
			"initfloor": mem(700, 1600), "initfloor+toml": mem(850, 2350),
		},
	}
	out := render(res)
	for _, want := range []string{
		"| initfloor | nothing more | 0 | 2300 | 700 | 1600 |",
		"| initfloor+toml | zerolog with its ConsoleWriter, and BurntSushi/toml: the two libraries SPEC names | 0 | 3200 | 850 | 2350 |",
		"| tend | everything: supervisor, TOML, control socket, metrics, health checks | 0 | 4000 | 900 | 3100 |",
		"`initfloor+toml`, an init in Go that does an init's work and no more",
		"holds 3200 KiB as PID 1 (RssAnon 850, RssFile 2350): over the 3072 KiB",
		"tend holds 800 KiB more than it (RssAnon +50, RssFile +750)",
		"| RssAnon: memory of its own (KiB) | 900 | 100 | 90 | 50 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q", want)
		}
	}

	res.Idle["initfloor+toml"] = mem(800, 2000)
	if out := render(res); !strings.Contains(out, "holds 2800 KiB as PID 1 (RssAnon 800, RssFile 2000): within the 3072 KiB") {
		t.Errorf("a floor of 2800 KiB is not said to be within the target:\n%s", out)
	}

	res.Floors = nil
	if out := render(res); strings.Contains(out, "Memory floor") || strings.Contains(out, "The floor under") {
		t.Errorf("results without floors (a run before -floors) render a floor section")
	}
}
