package importer

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Reading files: the main one, then the ones its [include] names, as
// supervisord reads them (ServerOptions.read_config).

// file is one INI file to read: its name in messages, where to read it
// on this machine, and its directory as the image sees it.
type file struct {
	name, host, dir string
}

// locate turns a path as the image sees it into a file. With a root,
// p is taken inside the root; without, p is a path on this machine.
func (c *conv) locate(p string) file {
	if c.opt.Root == "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		return file{name: p, host: p, dir: filepath.Dir(abs)}
	}
	img := path.Clean("/" + filepath.ToSlash(p))
	return file{name: img, host: filepath.Join(c.opt.Root, filepath.FromSlash(img)), dir: path.Dir(img)}
}

// readFile reads f into the document. A file that cannot be opened is
// an error for the main file and a warning for an included one
// (configparser skips those without a word).
func (c *conv) readFile(f file, main bool) {
	if len(c.files) >= MaxFiles {
		c.is.errorf(f.name, 0, "include", "files", "more than %d files to read", MaxFiles)
		return
	}
	data, err := c.mainData, error(nil)
	if !main || data == nil {
		data, err = readLimited(f.host)
	}
	switch {
	case err != nil && main:
		c.is.errorf(f.name, 0, "", "", "%v", unwrapPath(err))
		return
	case err != nil:
		if w, ok := c.is.warnf(f.name, 0, "include", "files", "cannot be read (%v): supervisord skips it too", unwrapPath(err)); ok {
			c.head = append(c.head, "warning: "+w.String())
		}
		return
	case len(data) > MaxFileSize:
		c.is.errorf(f.name, 1+strings.Count(string(data[:MaxFileSize]), "\n"), "", "",
			"the file is more than the %d bytes (1 MiB) tend import reads", MaxFileSize)
		return
	}
	if c.total += len(data); c.total > MaxTotalSize {
		c.is.errorf(f.name, 0, "", "", "the files read add up to more than %d bytes (4 MiB)", MaxTotalSize)
		return
	}
	c.files = append(c.files, f.name)
	text := string(data)
	if line, msg := badText(text); msg != "" {
		c.is.errorf(f.name, line, "", "", "%s", msg)
		return
	}
	c.doc.read(f.name, f.dir, text, func(line int, msg string) {
		c.is.errorf(f.name, line, "", "", "%s", msg)
	})
}

// readLimited reads at most MaxFileSize+1 bytes of the file at p.
func readLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", p)
	}
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

// unwrapPath drops the path from an *os.PathError: the message names
// the file already.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// badText finds what makes text no configuration: bytes that are not
// UTF-8 (Python would fail to decode them), and the runes the importer
// keeps for its placeholders.
func badText(text string) (line int, msg string) {
	for i, r := range text {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(text[i:], "\uFFFD"):
			return 1 + strings.Count(text[:i], "\n"), "not UTF-8 text"
		case isRef(r):
			return 1 + strings.Count(text[:i], "\n"), fmt.Sprintf("character U+%X: tend import keeps that range for itself", r)
		}
	}
	return 0, ""
}

// includes reads the files the main file's [include] names: files = is
// split at blanks; each pattern, relative to the main file's directory,
// is a glob whose matches are read in sorted order. An [include] in an
// included file is ignored, as supervisord ignores it.
func (c *conv) includes(main file) {
	s := c.doc.byName["include"]
	if s == nil {
		return
	}
	v := c.doc.lookup(s, "files")
	if v == nil {
		c.is.errorf(s.src, s.line, "include", "", "no files = (supervisord refuses an [include] without one)")
		return
	}
	host, _ := os.Hostname()
	if c.opt.Hostname != "" {
		host = c.opt.Hostname
	}
	sc := &scope{vals: map[string]any{"here": v.dir, "host_node_name": host}, importEnv: c.opt.LookupEnv}
	files, err := expand(v.text, sc, &c.refs, &c.budget)
	if err != nil {
		c.is.errorf(v.src, v.line, "include", "files", "%v", err)
		return
	}
	var read []string
	for _, pat := range strings.FieldsFunc(files, isSpace) {
		if !path.IsAbs(pat) && c.opt.Root == "" {
			pat = filepath.Join(main.dir, pat)
		} else if !path.IsAbs(pat) {
			pat = path.Join(main.dir, pat)
		}
		matches := c.glob(pat)
		if len(matches) == 0 {
			if w, ok := c.is.warnf(v.src, v.line, "include", "files", "no file matches %s (supervisord goes on without it too)", pat); ok {
				c.head = append(c.head, "warning: "+w.String())
			}
			continue
		}
		for _, m := range matches {
			c.readFile(c.locate(m), false)
			read = append(read, m)
		}
	}
	c.include = &includeNote{v: v, files: read}
}

// glob is Python's glob.glob(pat), sorted, as the image sees it: a *
// does not match a leading dot.
func (c *conv) glob(pat string) []string {
	host := pat
	if c.opt.Root != "" {
		host = filepath.Join(c.opt.Root, filepath.FromSlash(pat))
	}
	matches, _ := filepath.Glob(host)
	var out []string
	for _, m := range matches {
		if strings.HasPrefix(filepath.Base(m), ".") && !strings.HasPrefix(filepath.Base(host), ".") {
			continue
		}
		if st, err := os.Stat(m); err == nil && st.IsDir() {
			continue
		}
		if c.opt.Root != "" {
			rel, err := filepath.Rel(c.opt.Root, m)
			if err != nil {
				continue
			}
			m = "/" + filepath.ToSlash(rel)
		}
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}
