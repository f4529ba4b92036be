package config

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
)

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
			inst := name + ":" + strconv.Itoa(i)
			targets[name] = append(targets[name], inst)
			targets[inst] = []string{inst}
			owner[inst] = name
		}
	}

	edges := map[string][]edge{}
	deps := map[string][]Dep{}
	for _, name := range names {
		g := groups[name]
		seen := map[string]bool{}
		linked := map[string]bool{}
		for _, dp := range g.deps {
			insts, ok := targets[dp.name]
			if !ok {
				d.errorf(dp.at, "unknown program %q%s", dp.name, suggest(dp.name, names))
				continue
			}
			to := owner[insts[0]]
			if to == name {
				d.errorf(dp.at, "depends on itself: %s -> %s", name, dp.name)
				continue
			}
			if dp.cond == CondCompleted && groups[to].prog.Type == Longrun {
				d.errorf(dp.at, `"completed" needs a oneshot, and %s is a longrun: wait for "running" or "healthy"`, dp.name)
			}
			if !linked[to] {
				linked[to] = true
				edges[name] = append(edges[name], edge{to: to, at: dp.at})
			}
			for _, inst := range insts {
				if !seen[inst] { // the first mention wins
					seen[inst] = true
					deps[name] = append(deps[name], Dep{Name: inst, Condition: dp.cond})
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
			if g.instances > 1 {
				p.Name = name + ":" + strconv.Itoa(i)
			}
			progs = append(progs, &p)
		}
	}
	return progs
}

// cycles reports every dependency cycle once, at the depends_on entry
// that closes it, with its path: "a -> b -> a".
func (d *decoder) cycles(names []string, edges map[string][]edge) {
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(string)
	visit = func(n string) {
		state[n] = onPath
		path = append(path, n)
		for _, e := range edges[n] {
			switch state[e.to] {
			case unseen:
				visit(e.to)
			case onPath:
				cycle := append(slices.Clone(path[slices.Index(path, e.to):]), e.to)
				d.errorf(e.at, "dependency cycle: %s", strings.Join(cycle, " -> "))
			}
		}
		path = path[:len(path)-1]
		state[n] = done
	}
	for _, n := range names {
		if state[n] == unseen {
			visit(n)
		}
	}
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
