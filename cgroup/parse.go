package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"strings"
)

// The parsers here read what the kernel writes (/proc/self/mountinfo,
// /proc/self/cgroup, cgroup files, /proc/PID/stat) and are fuzzed: what
// they are given is bounded by the caller or by maxLine, and a line they
// cannot read is skipped, never a panic.

// maxLine is the longest line the line readers look at; a longer one
// (an overlay mount with a hundred layers, say) is skipped whole. No
// line tend needs is near it.
const maxLine = 4096

// eachLine calls fn for every line of r up to maxLine bytes, without
// its newline, skipping longer ones, and stops early when fn returns
// false. The slice is valid only during the call.
func eachLine(r io.Reader, fn func(line []byte) bool) error {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Too long: skip to the end of this line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			continue
		}
		if len(line) > 0 {
			if !fn(bytes.TrimSuffix(line, []byte{'\n'})) {
				return nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// mountEntry is one cgroup mount from /proc/self/mountinfo.
type mountEntry struct {
	// root is the directory of the hierarchy mounted (a bind mount of a
	// container's cgroup shows that cgroup's path); point is where.
	root, point string
	// v2 is a cgroup2 mount; otherwise a v1 one, whose controllers
	// (and name=) are in super, comma-separated.
	v2    bool
	super string
}

// maxMounts bounds the cgroup mounts parseMountinfo keeps: a machine
// has one per v1 controller and one cgroup2, a few more with bind
// mounts.
const maxMounts = 256

// parseMountinfo returns the cgroup and cgroup2 mounts of a
// /proc/PID/mountinfo, in its order (a later mount on the same point
// hides an earlier one).
//
// A line: ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE
// SOURCE SUPER, with spaces and backslashes in paths escaped as \040 and
// \134 (proc(5)).
func parseMountinfo(r io.Reader) ([]mountEntry, error) {
	var mounts []mountEntry
	var tooMany bool
	err := eachLine(r, func(line []byte) bool {
		f := strings.Fields(string(line))
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(f) {
			return true
		}
		fstype := f[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			return true
		}
		if len(mounts) == maxMounts {
			tooMany = true
			return false
		}
		m := mountEntry{root: unescapeOctal(f[3]), point: unescapeOctal(f[4]), v2: fstype == "cgroup2"}
		if sep+3 < len(f) {
			m.super = f[sep+3]
		}
		mounts = append(mounts, m)
		return true
	})
	if tooMany {
		return nil, fmt.Errorf("more than %d cgroup mounts", maxMounts)
	}
	return mounts, err
}

// unescapeOctal undoes mountinfo's \NNN escapes.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// hasOption reports whether the comma-separated opts holds opt.
func hasOption(opts, opt string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// ownCgroups reads /proc/PID/cgroup: the process's cgroup in the v2
// hierarchy ("0::PATH") and in the v1 memory hierarchy
// ("N:...memory...:PATH"); "" for one it is not in. A path may hold
// colons (a cgroup named web:0), so a line splits at its first two.
func ownCgroups(r io.Reader) (v2, memory string, err error) {
	err = eachLine(r, func(line []byte) bool {
		id, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return true
		}
		ctrls, path, ok := bytes.Cut(rest, []byte{':'})
		if !ok || len(path) == 0 {
			return true
		}
		switch {
		case string(id) == "0" && len(ctrls) == 0:
			v2 = string(path)
		case hasOption(string(ctrls), "memory"):
			memory = string(path)
		}
		return true
	})
	return v2, memory, err
}

// under is path relative to the root of a mount, as a relative path
// ("" for the root itself), or false when path is outside what the
// mount shows: a cgroup namespace shows cgroups outside it as /../..,
// and a bind mount of one cgroup shows nothing above it.
func under(path, root string) (string, bool) {
	if !strings.HasPrefix(path, "/") || !strings.HasPrefix(root, "/") {
		return "", false
	}
	for _, p := range []string{path, root} {
		for seg := range strings.SplitSeq(p, "/") {
			if seg == ".." || seg == "." {
				return "", false
			}
		}
	}
	root = strings.TrimSuffix(root, "/")
	switch {
	case path == root || path == root+"/":
		return "", true
	case strings.HasPrefix(path, root+"/"):
		return strings.Trim(path[len(root):], "/"), true
	}
	return "", false
}

// flatValue is the value of key in a flat-keyed cgroup file ("key
// value" a line: cgroup.events, cpu.stat, memory.events,
// memory.oom_control).
func flatValue(data []byte, key string) (uint64, bool) {
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		k, v, ok := bytes.Cut(line, []byte{' '})
		if !ok || string(k) != key {
			continue
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// statEntry is what tend reads of /proc/PID/stat.
type statEntry struct {
	pgrp int
	// ticks is utime+stime+cutime+cstime: the process's CPU time and
	// that of the children it has waited for, in clock ticks.
	ticks uint64
}

// parseStat reads /proc/PID/stat. The command name (field 2) is in
// parentheses and may hold spaces and parentheses itself, so the fields
// are counted from the last ')'.
func parseStat(data []byte) (statEntry, bool) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return statEntry{}, false
	}
	// After ")": state(3) ppid(4) pgrp(5) session tty_nr tpgid flags
	// minflt cminflt majflt cmajflt utime(14) stime cutime cstime(17).
	f := bytes.Fields(data[i+1:])
	if len(f) < 15 {
		return statEntry{}, false
	}
	pgrp, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return statEntry{}, false
	}
	var ticks uint64
	for _, s := range f[11:15] {
		// cutime and cstime are signed longs in the kernel; never
		// negative in practice, and a negative one counts as 0.
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return statEntry{}, false
		}
		if n > 0 {
			ticks += uint64(n)
		}
	}
	return statEntry{pgrp: pgrp, ticks: ticks}, true
}

// parseStatm is the resident set, in pages, from /proc/PID/statm
// ("size resident shared text lib data dt").
func parseStatm(data []byte) (uint64, bool) {
	f := bytes.Fields(data)
	if len(f) < 2 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// maxNameLen is the longest file name (NAME_MAX).
const maxNameLen = 255

// dirName is the cgroup directory name for a program name. Names that
// could meet one of the kernel's own files (cgroup.procs, memory.max,
// any controller's, now or later: all hold a dot) or tend's init.scope
// get a leading underscore, and so does a name that starts with one,
// so that two names never share a directory. A name too long for a
// file name is cut and ends with a hash of the whole name; "~" is not
// in program names, so a cut name meets no uncut one.
func dirName(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00\n") {
		return "", fmt.Errorf("cgroup name %q: not a file name", name)
	}
	d := name
	if strings.Contains(d, ".") || strings.HasPrefix(d, "_") {
		d = "_" + d
	}
	if len(d) > maxNameLen {
		h := fnv.New64a()
		h.Write([]byte(name))
		sum := fmt.Sprintf("~%016x", h.Sum64())
		d = d[:maxNameLen-len(sum)] + sum
	}
	return d, nil
}
