package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"tend/internal/execpath"
)

// Check loads the file at path as Load does and, when it is valid, also
// returns warnings: what the file asks for that this system cannot give
// when tend runs it. A command not found, a missing working directory,
// an unknown user or group, a log directory that is missing or not
// writable. Each is an Error (FILE:LINE: KEY: message) for `tend
// check`; Load does not look, since the system at start may differ from
// the one that checks (an image's entrypoint creating users, a volume
// mounted later).
func Check(path string) (*Config, []Error, error) {
	data, size, err := readLimited(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load config: %w", err)
	}
	if len(data) > MaxSize {
		e := tooLarge(data, size)
		e.File = path
		return nil, nil, &Errors{*e}
	}
	c, d, err := parse(path, data, os.LookupEnv, osFiles{})
	if err != nil {
		return nil, nil, err
	}
	return c, d.warnings(c, os.Environ(), readPrivView()), nil
}

// warnings looks at the system as the supervisor will when it starts
// each program (see supervisor/spawn_linux.go and supervisor/user.go):
// environ is tend's environment, privs what it may do.
func (d *decoder) warnings(c *Config, environ []string, privs privView) []Error {
	var ws []Error
	warn := func(l loc, format string, args ...any) {
		s := d.sourceOf(l.key)
		ws = append(ws, Error{File: s.file, Line: s.lineOf(l), Key: keyString(l.key), Msg: fmt.Sprintf(format, args...)})
	}
	for _, p := range c.Programs {
		if p.Instance > 0 {
			continue // instances differ only in name
		}
		l := at("programs", p.Group)
		if msg := d.lookCommand(p, p.Command, p.Shell, environ); msg != "" {
			warn(commandLoc(l.child("command"), p.Shell), "%s", msg)
		}
		for _, c := range []struct {
			key string
			h   *Healthcheck
		}{{"healthcheck", p.Healthcheck}, {"readiness", p.Readiness}} {
			if c.h != nil && len(c.h.Exec) > 0 {
				if msg := d.lookCommand(p, c.h.Exec, c.h.Shell, environ); msg != "" {
					warn(commandLoc(l.child(c.key).child("exec"), c.h.Shell), "%s", msg)
				}
			}
		}
		if p.Directory != "" {
			if msg := checkDir(p.Directory, false); msg != "" {
				warn(l.child("directory"), "directory %s", msg)
			}
		}
		if p.User != nil {
			if msg := lookUser(p.User); msg != "" {
				warn(l.child("user"), "%s", msg)
			}
		}
		resourceWarnings(p, privs, warn)
		for _, o := range []struct {
			key string
			out Output
		}{{"stdout", p.Stdout}, {"stderr", p.Stderr}} {
			if o.out.Mode == File {
				if msg := checkLog(o.out.Path); msg != "" {
					warn(l.child(o.key), "%s", msg)
				}
			}
		}
	}
	slices.SortStableFunc(ws, d.byFile())
	return ws
}

// commandLoc is where a command's program is: the command's first
// element in exec form.
func commandLoc(l loc, shell bool) loc {
	if shell {
		return l
	}
	return l.elem(0)
}

// lookCommand says what is wrong with the program argv runs, "" when
// nothing is: it is looked up as the spawner does (execpath.Look), in the
// PATH of the program's environment (its own, else tend's, else
// execpath.DefaultPath); a name with a slash is taken as it is, relative
// to the program's directory, where the child will be when it execs.
func (d *decoder) lookCommand(p *Program, argv []string, shell bool, environ []string) string {
	file := argv[0]
	if strings.Contains(file, "/") {
		path := file
		if !filepath.IsAbs(path) && p.Directory != "" {
			path = filepath.Join(p.Directory, path)
		}
		st, err := os.Stat(path)
		switch {
		case err != nil:
			if shell {
				return fmt.Sprintf("the shell %s: %v", file, err)
			}
			return fmt.Sprintf("command %q: %v", file, err)
		case st.IsDir():
			return fmt.Sprintf("command %q is a directory", file)
		case unix.Access(path, unix.X_OK) != nil || st.Mode()&0o111 == 0:
			return fmt.Sprintf("command %q is not executable", file)
		}
		return ""
	}
	path, ok := p.LookupEnv("PATH")
	if !ok {
		path = execpath.Env(environ, "PATH")
	}
	if path == "" {
		path = execpath.DefaultPath
	}
	switch _, err := execpath.Look(file, path); {
	case errors.Is(err, execpath.ErrNotExecutable):
		return fmt.Sprintf("command %q is in PATH but not executable (PATH=%s)", file, path)
	case err != nil:
		return fmt.Sprintf("command %q not found in PATH (PATH=%s)", file, path)
	}
	return ""
}

// checkDir says what is wrong with dir as a directory to work in, or,
// when write is set, to create files in; "" when nothing is. Access
// asks as tend: tend chdirs into it for the program, and opens the
// program's log files itself.
func checkDir(dir string, write bool) string {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%q does not exist", dir)
	case err != nil:
		return fmt.Sprintf("%q: %v", dir, err)
	case !st.IsDir():
		return fmt.Sprintf("%q is not a directory", dir)
	}
	mode := uint32(unix.X_OK)
	if write {
		mode |= unix.W_OK
	}
	if err := unix.Access(dir, mode); err != nil {
		if write {
			return fmt.Sprintf("%q is not writable: %v", dir, err)
		}
		return fmt.Sprintf("%q cannot be entered: %v", dir, err)
	}
	return ""
}

// checkLog says what would keep tend from opening the log file path for
// appending, creating it if need be; "" when nothing would.
func checkLog(path string) string {
	st, err := os.Stat(path)
	if err == nil {
		if st.IsDir() {
			return fmt.Sprintf("log file %q is a directory", path)
		}
		if err := unix.Access(path, unix.W_OK); err != nil {
			return fmt.Sprintf("log file %q is not writable: %v", path, err)
		}
		return ""
	}
	if msg := checkDir(filepath.Dir(path), true); msg != "" {
		return "log directory " + msg
	}
	return ""
}

// lookUser says what the supervisor's credential lookup would fail on:
// a user or group name unknown to /etc/passwd or /etc/group (a numeric
// uid or gid needs no entry); "" when nothing.
func lookUser(u *User) string {
	if u.Name != "" {
		if _, err := user.Lookup(u.Name); err != nil {
			return fmt.Sprintf("unknown user %q: %v", u.Name, err)
		}
	}
	if u.Group != "" {
		if _, err := user.LookupGroup(u.Group); err != nil {
			return fmt.Sprintf("unknown group %q: %v", u.Group, err)
		}
	}
	return ""
}
