package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// maxDeps bounds the dependencies of a file, counted as the
// supervisor keeps them: a depends_on entry naming a program with N
// instances is N. 2,000 programs each depending on one with 2,000
// instances would be 4 million.
const maxDeps = 1 << 16

// instanceName is the name of instance i of n of the program name.
func instanceName(name string, i, n int) string {
	if n <= 1 {
		return name
	}
	return name + ":" + strconv.Itoa(i)
}

// edge is a dependency between two groups, for cycle detection.
type edge struct {
	to string
	at loc
}

// link resolves depends_on across programs, checks for cycles, and
// expands instances into the sorted list of programs.
func (d *decoder) link(groups map[string]*group) []*Program {
	names := slices.Sorted(maps.Keys(groups))

	// Every name a dependency may use: a group (meaning all its
	// instances) or, for a group with several, one instance "db:1".
	targets := map[string][]string{}
	owner := map[string]string{}
	for _, name := range names {
		g := groups[name]
		if g.instances == 1 {
			targets[name] = []string{name}
			owner[name] = name
			continue
		}
		for i := range g.instances {
			inst := instanceName(name, i, g.instances)
			targets[name] = append(targets[name], inst)
			targets[inst] = []string{inst}
			owner[inst] = name
		}
	}

	edges := map[string][]edge{}
	deps := map[string][]Dep{}
	total := 0 // dependencies, each instance of a target counted
	for _, name := range names {
		g := groups[name]
		seen := map[string]bool{}
		linked := map[string]bool{}
		for _, dp := range g.deps {
			insts, ok := targets[dp.name]
			if !ok {
				d.errorf(dp.at, "unknown program %q%s", dp.name, d.suggest(dp.name, names))
				continue
			}
			to := owner[insts[0]]
			if to == name {
				d.errorf(dp.at, "depends on itself: %s -> %s", name, dp.name)
				continue
			}
			if dp.cond == CondCompleted && groups[to].prog.Type == Longrun {
				d.errorf(dp.at, `"completed" needs a oneshot, and %s is a longrun: wait for "running", "ready" or "healthy"`, dp.name)
			}
			if dp.cond == CondReady && groups[to].prog.Type == Oneshot {
				d.errorf(dp.at, `"ready" needs a longrun, and %s is a oneshot: wait for "completed"`, dp.name)
			}
			if !linked[to] {
				linked[to] = true
				edges[name] = append(edges[name], edge{to: to, at: dp.at})
			}
			if total += len(insts); total > maxDeps {
				if total-len(insts) <= maxDeps { // once
					d.errorf(dp.at, "more than %d dependencies in the file, each instance of a program depended on counted", maxDeps)
				}
				break
			}
			for _, inst := range insts {
				if !seen[inst] { // the first mention wins
					seen[inst] = true
					deps[name] = append(deps[name], Dep{Name: inst, Condition: dp.cond, Restart: dp.restart})
				}
			}
		}
		// sort.Slice, not slices.SortFunc: its code is in the binary
		// already, where a SortFunc on Dep added 10 KB of sort code for
		// this one type.
		ds := deps[name]
		sort.Slice(ds, func(i, j int) bool { return compareNames(ds[i].Name, ds[j].Name) < 0 })
	}
	d.cycles(names, edges)

	var progs []*Program
	for _, name := range names {
		g := groups[name]
		for i := range g.instances {
			p := g.prog // instances share slices and maps: Config is read-only
			p.DependsOn = deps[name]
			p.Instance = i
			p.Name = instanceName(name, i, g.instances)
			progs = append(progs, &p)
		}
	}
	return progs
}

// cycles reports every dependency cycle once, at the depends_on entry
// that closes it, with its path: "a -> b -> a". A path longer than
// maxCycleNames shows its ends: a file can hold thousands of cycles
// thousands of programs long.
func (d *decoder) cycles(names []string, edges map[string][]edge) {
	const done = -1
	at := map[string]int{} // a program's index in path while on it, or done
	var path []string
	var visit func(string)
	visit = func(n string) {
		at[n] = len(path)
		path = append(path, n)
		for _, e := range edges[n] {
			i, seen := at[e.to]
			switch {
			case !seen:
				visit(e.to)
			case i != done:
				d.errorf(e.at, "dependency cycle: %s", cyclePath(path[i:], e.to))
			}
		}
		path = path[:len(path)-1]
		at[n] = done
	}
	for _, n := range names {
		if _, seen := at[n]; !seen {
			visit(n)
		}
	}
}

// maxCycleNames is the most names a cycle's message shows.
const maxCycleNames = 8

// cyclePath formats path, closed by to, as "a -> b -> a", showing only
// its ends when it is long. It copies no more than it shows: a file can
// close thousands of cycles on one long path.
func cyclePath(path []string, to string) string {
	names := make([]string, 0, maxCycleNames+1)
	if len(path) < maxCycleNames {
		names = append(names, path...)
	} else {
		const head, tail = maxCycleNames / 2, maxCycleNames/2 - 2
		names = append(names, path[:head]...)
		names = append(names, fmt.Sprintf("(%d more)", len(path)-head-tail))
		names = append(names, path[len(path)-tail:]...)
	}
	return strings.Join(append(names, to), " -> ")
}

// compareNames orders program names by group, then by instance number,
// so that web:2 comes before web:10.
func compareNames(a, b string) int {
	ga, ia, _ := strings.Cut(a, ":")
	gb, ib, _ := strings.Cut(b, ":")
	if c := strings.Compare(ga, gb); c != 0 {
		return c
	}
	na, _ := strconv.Atoi(ia)
	nb, _ := strconv.Atoi(ib)
	return na - nb
}
