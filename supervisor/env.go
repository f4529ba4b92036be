package supervisor

import (
	"cmp"
	"os"
	"os/user"
	"strconv"

	"tend/config"
	"tend/internal/execpath"
)

// cleanEnv is the environment a program with clear_env starts from:
// PATH, HOME and USER, and nothing else of tend's. PATH is tend's, or
// execpath.DefaultPath when tend has none. HOME and USER are those of
// the program's user when it has one (from /etc/passwd; a uid without an
// entry gets HOME=/, as Docker gives it, and USER=the uid), else tend's
// own: from tend's environment, else from /etc/passwd for tend's uid.
func cleanEnv(environ []string, u *config.User) []string {
	path := execpath.Env(environ, "PATH")
	if path == "" {
		path = execpath.DefaultPath
	}
	var home, name string
	if u == nil {
		home, name = execpath.Env(environ, "HOME"), execpath.Env(environ, "USER")
	}
	if home == "" || name == "" {
		h, n := passwd(u)
		home, name = cmp.Or(home, h), cmp.Or(name, n)
	}
	return []string{"HOME=" + home, "PATH=" + path, "USER=" + name}
}

// passwd is the home directory and name of u (tend's own user when u is
// nil) in /etc/passwd; "/" and the uid when it has no entry there.
func passwd(u *config.User) (home, name string) {
	uid := os.Getuid()
	var pw *user.User
	var err error
	switch {
	case u != nil && u.Name != "":
		if pw, err = user.Lookup(u.Name); err != nil {
			return "/", u.Name // the start fails on it anyway (credential)
		}
	case u != nil:
		uid = u.UID
		fallthrough
	default:
		if pw, err = user.LookupId(strconv.Itoa(uid)); err != nil {
			return "/", strconv.Itoa(uid)
		}
	}
	return cmp.Or(pw.HomeDir, "/"), pw.Username
}
