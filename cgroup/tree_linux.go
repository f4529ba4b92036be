package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LeafName is the cgroup tend moves itself to, under its own: like
// systemd's init.scope, the init's own processes. Program names never
// map to it (dirName).
const LeafName = "init.scope"

// wanted are the controllers tend enables for the programs' cgroups:
// those its limits need (memory.max, cpu.max, pids.max); memory also
// gives each program memory.current and memory.events.
var wanted = []string{"cpu", "memory", "pids"}

// Tree is tend's cgroup, set up to hold one cgroup per program.
type Tree struct {
	dir string
	// enabled are the controllers the programs' cgroups have.
	enabled []string
	// canKill: cgroup.kill is there (Linux 5.14); canFreeze:
	// cgroup.freeze is (5.2).
	canKill, canFreeze bool
	// noCloneInto: a clone3 with CLONE_INTO_CGROUP was refused (a
	// seccomp filter, an old kernel); Start places by pid from then on.
	// Written by Start, on the owner's goroutine.
	noCloneInto bool
}

// Setup moves tend, and every other process in its cgroup, into
// LeafName and enables the controllers tend uses (cpu, memory, pids,
// those of them that are available) for the programs' cgroups. It
// returns s.Err when Detect found tend may not, and an error when the
// kernel refuses; either way, the programs run without cgroups of their
// own.
//
// Setup runs before tend starts any program: the processes it moves are
// tend's own and those an exec into the container put there.
func (s *System) Setup() (*Tree, error) {
	if s.Err != nil {
		return nil, s.Err
	}
	leaf := filepath.Join(s.Dir, LeafName)
	if err := mkdir(leaf); err != nil {
		return nil, fmt.Errorf("cgroups: tend's own cgroup: %w", err)
	}
	if err := moveAll(s.Dir, leaf); err != nil {
		return nil, fmt.Errorf("cgroups: moving tend to %s: %w", leaf, err)
	}
	t := &Tree{dir: s.Dir}
	t.enabled = enable(s.Dir, s.Controllers)
	t.canKill = exists(filepath.Join(leaf, "cgroup.kill"))
	t.canFreeze = exists(filepath.Join(leaf, "cgroup.freeze"))
	return t, nil
}

// mkdir makes a cgroup; one that is there already is fine.
func mkdir(dir string) error {
	err := unix.Mkdir(dir, 0o755)
	if err != nil && err != unix.EEXIST {
		return &os.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	return nil
}

func exists(path string) bool {
	return unix.Access(path, unix.F_OK) == nil
}

// maxMovePasses bounds moveAll: each pass moves what it read, and a
// process that forks meanwhile leaves its child for the next pass.
const maxMovePasses = 32

// moveAll moves every process in from to to, until from is empty.
func moveAll(from, to string) error {
	procs := filepath.Join(from, "cgroup.procs")
	for range maxMovePasses {
		var pids []int
		if err := eachPid(procs, func(pid int) { pids = append(pids, pid) }); err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			if err := place(to, pid); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("%s still has processes after %d passes", procs, maxMovePasses)
}

// place moves pid into the cgroup dir; a pid that has exited is fine.
func place(dir string, pid int) error {
	err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid))
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

// maxPids bounds what eachPid reads of one cgroup.procs: more than a
// container's pid limit is ever set to.
const maxPids = 1 << 20

// eachPid calls fn for every pid in a cgroup.procs file, as it reads it.
func eachPid(procs string, fn func(pid int)) error {
	f, err := os.Open(procs)
	if err != nil {
		return err
	}
	defer f.Close()
	n := 0
	return eachLine(f, func(line []byte) bool {
		if pid, err := strconv.Atoi(string(line)); err == nil && pid > 0 {
			fn(pid)
			n++
		}
		return n < maxPids
	})
}

// enable turns on, for dir's children, the controllers tend uses that
// dir has, and returns those the kernel took. All at once first (one
// write); one by one if that is refused, so that one refusal (cpu with a
// realtime process about, say) costs only that controller.
func enable(dir string, available []string) []string {
	var want []string
	for _, c := range wanted {
		if slices.Contains(available, c) {
			want = append(want, c)
		}
	}
	if len(want) == 0 {
		return nil
	}
	ctl := filepath.Join(dir, "cgroup.subtree_control")
	if writeFile(ctl, "+"+strings.Join(want, " +")) == nil {
		return want
	}
	var got []string
	for _, c := range want {
		if writeFile(ctl, "+"+c) == nil {
			got = append(got, c)
		}
	}
	return got
}

// Dir is tend's cgroup directory, the parent of the programs' cgroups.
func (t *Tree) Dir() string { return t.dir }

// Controllers are those the programs' cgroups have.
func (t *Tree) Controllers() []string { return slices.Clone(t.enabled) }

// CanKill reports whether Kill uses cgroup.kill; without it, Kill
// signals the pids it reads, which a process forking fast may outrun.
func (t *Tree) CanKill() bool { return t != nil && t.canKill }

// CanFreeze reports whether Freeze is there (cgroup.freeze); without
// it, pause is SIGSTOP.
func (t *Tree) CanFreeze() bool { return t != nil && t.canFreeze }

// Missing are the keys set in l that tend cannot honour: those whose
// controller the programs' cgroups lack, or all of them on a nil Tree
// (no cgroups). The supervisor warns once naming them.
func (t *Tree) Missing(l Limits) []string {
	var miss []string
	for _, k := range limitKeys {
		if k.set(l) && (t == nil || !slices.Contains(t.enabled, k.controller)) {
			miss = append(miss, k.key)
		}
	}
	return miss
}

// Group is one program's cgroup.
type Group struct {
	tree *Tree
	name string
	dir  string
}

// Group makes the cgroup of the program (instance) name, or takes the
// one there is: one left by a tend that ran before in the same cgroup.
func (t *Tree) Group(name string) (*Group, error) {
	d, err := dirName(name)
	if err != nil {
		return nil, err
	}
	g := &Group{tree: t, name: name, dir: filepath.Join(t.dir, d)}
	if err := mkdir(g.dir); err != nil {
		return nil, fmt.Errorf("cgroup of %s: %w", name, err)
	}
	return g, nil
}

// Name is the program name the group was made for.
func (g *Group) Name() string { return g.name }

// Dir is the group's directory.
func (g *Group) Dir() string { return g.dir }

// SetLimits writes l to the group: each limit whose controller the
// group has, a limit not set as "max". It returns the keys set in l
// that it could not honour (no controller), and an error naming the key
// when the kernel refuses a value.
func (g *Group) SetLimits(l Limits) (missing []string, err error) {
	for _, k := range limitKeys {
		if !slices.Contains(g.tree.enabled, k.controller) {
			if k.set(l) {
				missing = append(missing, k.key)
			}
			continue
		}
		v, err := k.value(l)
		if err != nil {
			return missing, fmt.Errorf("%s: %w", k.key, err)
		}
		if err := writeFile(filepath.Join(g.dir, k.file), v); err != nil {
			return missing, fmt.Errorf("%s = %s: %w", k.key, v, err)
		}
	}
	return missing, nil
}

// ErrBusy: Remove found processes in the group.
var ErrBusy = errors.New("cgroup still has processes")

// Remove removes the group's cgroup. It must be empty: Kill it, wait
// for WaitEmpty (or for the exits), then Remove. A group already gone
// is fine.
func (g *Group) Remove() error {
	err := unix.Rmdir(g.dir)
	switch err {
	case nil, unix.ENOENT:
		return nil
	case unix.EBUSY:
		return fmt.Errorf("remove %s: %w", g.dir, ErrBusy)
	}
	return &os.PathError{Op: "rmdir", Path: g.dir, Err: err}
}
