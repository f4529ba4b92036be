package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// [tend] include = ["/etc/tend.d/*.toml"] merges more files into the
// configuration, in order. Each is held to the limits of a file, and
// all of them together to those of one file (budget) and to these:
const (
	// MaxIncludes is how many files a configuration may include.
	MaxIncludes = 256
	// MaxTotalSize bounds the bytes of a configuration's files taken
	// together, the main file's included: 8 MiB of TOML, within the
	// item and key limits that they share, parse in a fraction of a
	// second (TestIncludeLimits).
	MaxTotalSize = 8 << 20
)

// source is one file of a configuration: the main file, or one it
// includes.
type source struct {
	// file names the file in errors: as given for the main file; for an
	// included one, the pattern's match, relative to where the main file
	// was named from when the pattern is relative.
	file string
	// dir is the absolute directory of file: relative paths written in
	// the file are relative to it.
	dir string
	// rank orders the files: 0 for the main file, then in the order
	// they were merged. Errors are sorted by rank, then by line.
	rank int
	// lines is the line of each key the file defines; nil until the
	// file has parsed.
	lines *lineIndex
}

// newSource is the source of the file name, ranked rank.
func newSource(name string, rank int) *source {
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		dir = filepath.Dir(name)
	}
	return &source{file: name, dir: dir, rank: rank}
}

// origin records which file set a key last, where files were merged:
// the tree holds only keys an included file set; a key not in it, or a
// node without a source, comes from the nearest ancestor that has one,
// the main file at the root.
type origin struct {
	src  *source // nil: the parent's
	kids map[string]*origin
}

// kid returns the node of key k under o, creating it.
func (o *origin) kid(k string) *origin {
	if o.kids == nil {
		o.kids = map[string]*origin{}
	}
	n := o.kids[k]
	if n == nil {
		n = &origin{}
		o.kids[k] = n
	}
	return n
}

// sourceOf is the file that set key, or the nearest table holding it.
func (d *decoder) sourceOf(key []string) *source {
	s, o := d.main, d.origins
	for _, k := range key {
		if o == nil {
			break
		}
		if o = o.kids[k]; o == nil {
			break
		}
		if o.src != nil {
			s = o.src
		}
	}
	return s
}

// mergeLevels says how deep the tables under a top-level key are merged
// key by key: the keys of [tend] one by one, and those of each
// [programs.NAME] one by one. Deeper tables (healthcheck, backoff,
// environment) are one key each, which a later file replaces whole;
// anything else at the top is replaced whole.
var mergeLevels = map[string]int{"tend": 1, "programs": 2}

// merge merges the table m, from the file s, into the configuration dst.
func (d *decoder) merge(dst, m map[string]any, s *source) {
	for k, v := range m {
		mergeKey(dst, k, v, d.origins, s, mergeLevels[k])
	}
}

// mergeKey sets key k of dst to v, from the file s: the key's origin is
// under o. When both are tables and levels > 0, they are merged key by
// key, levels-1 deeper in their turn; otherwise v replaces what was
// there, and the key with everything under it is s's.
func mergeKey(dst map[string]any, k string, v any, o *origin, s *source, levels int) {
	n := o.kid(k)
	old, isTable := dst[k].(map[string]any)
	add, addTable := v.(map[string]any)
	if levels > 0 && isTable && addTable {
		for kk, vv := range add {
			mergeKey(old, kk, vv, n, s, levels-1)
		}
		return
	}
	dst[k] = v
	n.src, n.kids = s, nil
}

// includes reads the files [tend] include names, in order, and merges
// each into raw, the main file's table. It reports whether every file
// was read and parsed: when one was not, its errors are the answer,
// rather than those of a configuration with a file missing (a program
// depending on one it defined, say).
func (d *decoder) includes(raw map[string]any, b *budget, total int) bool {
	t, _ := raw["tend"].(map[string]any)
	v, ok := t["include"]
	if !ok {
		return true
	}
	d.origins = &origin{}
	seen := map[string]bool{absPath(d.main.file): true}
	ps, good := d.patterns(at("tend", "include"), v)
	for _, p := range ps {
		names, literal := []string{p.path}, !hasMeta(p.pattern)
		if !literal {
			var err error
			if names, err = d.fsys.glob(p.path); err != nil {
				d.errorf(p.at, "bad pattern %q: %v", p.pattern, err)
				good = false
				continue
			}
			slices.Sort(names)
		}
		for _, name := range names {
			key := absPath(name)
			if seen[key] {
				continue // the main file, or one included already: its place is where it came first
			}
			data, size, err := d.fsys.read(name, MaxSize)
			var nr *notRegularError
			switch {
			case errors.As(err, &nr) && !literal:
				continue // a directory the pattern matched
			case err != nil:
				d.errorf(p.at, "include %q: %v", p.pattern, err)
				good = false
				continue
			}
			seen[key] = true
			if len(d.sources) >= MaxIncludes {
				d.errorf(p.at, "more than %d files included", MaxIncludes)
				return false
			}
			if total += len(data); total > MaxTotalSize {
				d.errorf(p.at, "the files included, %s the last, add up to more than %d MiB", name, MaxTotalSize>>20)
				return false
			}
			s := newSource(name, len(d.sources)+1)
			d.sources = append(d.sources, s)
			m := d.read(s, data, size, b)
			if m == nil {
				good = false
				continue
			}
			if t, ok := m["tend"].(map[string]any); ok {
				if _, ok := t["include"]; ok {
					d.errorIn(s, at("tend", "include"), "only the main file may include others (%s includes this one)", d.main.file)
					delete(t, "include")
					good = false
				}
			}
			d.merge(raw, m, s)
		}
	}
	return good
}

// pattern is one entry of include: as written (after ${VAR}), and as a
// path, relative to the main file's directory when written relative.
type pattern struct {
	pattern, path string
	at            loc
}

// patterns decodes include: one string or an array of them. It reports
// whether every entry was good.
func (d *decoder) patterns(l loc, v any) ([]pattern, bool) {
	var ps []pattern
	good := true
	one := func(l loc, v any) {
		s, ok := d.str(l, v)
		switch {
		case !ok:
			good = false
		case s == "":
			d.errorf(l, "an empty path")
			good = false
		case strings.ContainsRune(s, 0):
			d.errorf(l, "path holds a NUL byte")
			good = false
		default:
			path := s
			if !filepath.IsAbs(s) {
				path = filepath.Join(filepath.Dir(d.main.file), s)
			}
			ps = append(ps, pattern{pattern: s, path: path, at: l})
		}
	}
	switch v := v.(type) {
	case string:
		one(l, v)
	case []any:
		for i, e := range v {
			one(l.elem(i), e)
		}
	default:
		d.errorf(l, "expected a path or glob pattern, or an array of them, got %s", describe(v))
		good = false
	}
	return ps, good
}

// hasMeta reports whether path holds a glob metacharacter: without one,
// it names one file, which must exist.
func hasMeta(path string) bool { return strings.ContainsAny(path, `*?[\`) }

// absPath is path made absolute, to know a file included twice.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}

// files is where includes and env files are read from: the system's
// file system (osFiles), or a map in tests and fuzzing.
type files interface {
	// glob returns the names that match pattern, as filepath.Glob.
	glob(pattern string) ([]string, error)
	// read returns at most limit+1 bytes of the regular file name, and
	// the file's size. A file that is not a regular one is a
	// *notRegularError.
	read(name string, limit int) ([]byte, int64, error)
}

// notRegularError is the answer of files.read for a directory, a FIFO,
// a device: what tend never reads as configuration, since a FIFO would
// block a reload and /dev/zero never ends.
type notRegularError struct {
	mode fs.FileMode
}

func (e *notRegularError) Error() string {
	if e.mode.IsDir() {
		return "is a directory"
	}
	return "is not a regular file"
}

// osFiles is the system's file system.
type osFiles struct{}

func (osFiles) glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

func (osFiles) read(name string, limit int) ([]byte, int64, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer. It changes nothing for a regular file.
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, &notRegularError{mode: st.Mode()}
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	return data, st.Size(), err
}

// mapFiles is a file system in memory, for tests and fuzzing: file name
// to contents; a name ending in / is a directory.
type mapFiles map[string]string

func (m mapFiles) glob(pattern string) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	var names []string
	for name := range m {
		if ok, _ := filepath.Match(pattern, strings.TrimSuffix(name, "/")); ok {
			names = append(names, strings.TrimSuffix(name, "/"))
		}
	}
	slices.Sort(names)
	return names, nil
}

func (m mapFiles) read(name string, limit int) ([]byte, int64, error) {
	if _, ok := m[name+"/"]; ok {
		return nil, 0, &notRegularError{mode: fs.ModeDir}
	}
	s, ok := m[name]
	if !ok {
		return nil, 0, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return []byte(s[:min(len(s), limit+1)]), int64(len(s)), nil
}

// errorIn records a problem at l in the file s, whatever file set l
// last: for a key that was not merged.
func (d *decoder) errorIn(s *source, l loc, format string, args ...any) {
	d.add(Error{File: s.file, Line: s.lineOf(l), Key: keyString(l.key), Msg: fmt.Sprintf(format, args...)})
}

// lineOf is the line of l in s: that of the array element, the key, or
// the nearest table that exists in the file; 0 when none does.
func (s *source) lineOf(l loc) int {
	if s.lines == nil {
		return 0
	}
	line := 0
	if l.item >= 0 {
		line = s.lines.elemLine(l.key, l.item)
	}
	for n := len(l.key); n > 0 && line == 0; n-- {
		line = s.lines.line(l.key[:n])
	}
	return line
}
