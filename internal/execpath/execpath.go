// Package execpath finds the file a command name runs, as a shell would.
// It is the one rule for the spawner (supervisor) and for `tend check`
// (config), which warns about a command the spawner would not find.
package execpath

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultPath is searched when the environment has no PATH, as in a FROM
// scratch image run without one; it is the PATH Docker gives containers.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Look finds file as a shell would: a name with a slash is taken as it
// is; otherwise the first executable regular file of that name in path
// (DefaultPath when empty) wins. If path has the name but never
// executable, the error is ErrNotExecutable, which matches
// fs.ErrPermission (exit 126 in sh), else ErrNotFound, which matches
// fs.ErrNotExist (127).
func Look(file, path string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	if path == "" {
		path = DefaultPath
	}
	denied := false
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		st, err := os.Stat(p)
		if err != nil || st.IsDir() {
			continue
		}
		if unix.Access(p, unix.X_OK) == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
		denied = true
	}
	if denied {
		return "", ErrNotExecutable
	}
	return "", ErrNotFound
}

// pathError is a Look failure that reads well and still matches
// fs.ErrNotExist or fs.ErrPermission. It names which by a flag, not by
// holding the error: fs's errors are variables, and a package variable
// made from one would need a package init, which tend keeps to a few
// packages (deps_test.go).
type pathError struct {
	msg       string
	forbidden bool // fs.ErrPermission, else fs.ErrNotExist
}

func (e pathError) Error() string { return e.msg }

func (e pathError) Is(target error) bool {
	if e.forbidden {
		return target == fs.ErrPermission
	}
	return target == fs.ErrNotExist
}

// The errors of Look.
var (
	ErrNotFound      error = pathError{msg: "not found in PATH"}
	ErrNotExecutable error = pathError{msg: "found in PATH but not executable", forbidden: true}
)

// Env is the value of key in env, the last one when it is set twice,
// as execve's callers read it; "" when it is not set.
func Env(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}
