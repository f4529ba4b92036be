package supervisor

import (
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"tend/config"
	"tend/internal/execpath"
)

// TestProgramEnv: the environment command gives a program: tend's, or
// with clear_env only PATH, HOME and USER of it; then TEND_PROGRAM, the
// [tend] env_file, the program's env_file and environment, each over
// the one before.
func TestProgramEnv(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"global.env": "G=global\nLAYER=global\n",
		"own.env":    "O=own\nLAYER=own\nHOME=/from/own\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	self, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		t.Fatalf("tend's own user has no passwd entry here: %v", err)
	}
	root, err := user.Lookup("root")
	if err != nil {
		t.Fatal(err)
	}
	tendEnv := []string{"PATH=/tend/bin", "HOME=/tend/home", "USER=tend-user", "SECRET=s", "LAYER=tend"}
	tests := []struct {
		name    string
		environ []string // tend's
		toml    string   // the program p, after command
		want    []string
	}{
		{"tend's environment", tendEnv, "environment = { A = \"1\", LAYER = \"environment\" }",
			[]string{"PATH=/tend/bin", "HOME=/tend/home", "USER=tend-user", "SECRET=s", "A=1", "G=global", "LAYER=environment", "TEND_PROGRAM=p"}},
		{"env files under environment", tendEnv, "env_file = \"own.env\"\nenvironment = { A = \"1\" }",
			[]string{"PATH=/tend/bin", "USER=tend-user", "SECRET=s", "A=1", "G=global", "HOME=/from/own", "LAYER=own", "O=own", "TEND_PROGRAM=p"}},
		{"global env file alone", tendEnv, "",
			[]string{"PATH=/tend/bin", "HOME=/tend/home", "USER=tend-user", "SECRET=s", "G=global", "LAYER=global", "TEND_PROGRAM=p"}},
		{"clear_env", tendEnv, "clear_env = true\nenvironment = { A = \"1\" }",
			[]string{"PATH=/tend/bin", "HOME=/tend/home", "USER=tend-user", "A=1", "G=global", "LAYER=global", "TEND_PROGRAM=p"}},
		{"clear_env, own PATH and HOME", tendEnv, "clear_env = true\nenv_file = \"own.env\"\nenvironment = { PATH = \"/own\" }",
			[]string{"USER=tend-user", "G=global", "HOME=/from/own", "LAYER=own", "O=own", "PATH=/own", "TEND_PROGRAM=p"}},
		{"clear_env, tend without PATH, HOME, USER", []string{"SECRET=s"}, "clear_env = true",
			[]string{"PATH=" + execpath.DefaultPath, "HOME=" + self.HomeDir, "USER=" + self.Username, "G=global", "LAYER=global", "TEND_PROGRAM=p"}},
		{"clear_env, a user", tendEnv, "clear_env = true\nuser = \"root\"",
			[]string{"PATH=/tend/bin", "HOME=" + root.HomeDir, "USER=root", "G=global", "LAYER=global", "TEND_PROGRAM=p"}},
		{"clear_env, a uid without an entry", tendEnv, "clear_env = true\nuser = \"54321\"\nenvironment = { X = \"x\" }",
			[]string{"PATH=/tend/bin", "HOME=/", "USER=54321", "G=global", "LAYER=global", "TEND_PROGRAM=p", "X=x"}},
		{"a user without clear_env: tend's HOME and USER", tendEnv, "user = \"root\"",
			[]string{"PATH=/tend/bin", "HOME=/tend/home", "USER=tend-user", "SECRET=s", "G=global", "LAYER=global", "TEND_PROGRAM=p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "[tend]\nenv_file = \"global.env\"\n[programs.p]\ncommand = \"p\"\n" + tt.toml + "\n"
			cfg, err := config.Parse(filepath.Join(dir, "t.toml"), []byte(src), nil)
			if err != nil {
				t.Fatal(err)
			}
			s := &Supervisor{env: tt.environ}
			c, err := s.command(newProgram(cfg.Lookup("p")))
			if err != nil {
				t.Fatal(err)
			}
			got, want := slices.Sorted(slices.Values(c.Env)), slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("environment\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestCleanEnv: what clear_env starts from, by itself: HOME and USER of
// the program's user, else tend's.
func TestCleanEnv(t *testing.T) {
	root, err := user.Lookup("root")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		environ []string
		u       *config.User
		want    []string
	}{
		{"tend's", []string{"PATH=/p", "HOME=/h", "USER=u", "X=1"}, nil, []string{"HOME=/h", "PATH=/p", "USER=u"}},
		{"a user by name", []string{"PATH=/p", "HOME=/h", "USER=u"}, &config.User{Name: "root", UID: -1, GID: -1},
			[]string{"HOME=" + root.HomeDir, "PATH=/p", "USER=root"}},
		{"a user by uid", []string{"HOME=/h", "USER=u"}, &config.User{UID: 0, GID: -1},
			[]string{"HOME=" + root.HomeDir, "PATH=" + execpath.DefaultPath, "USER=root"}},
		{"a uid without an entry", nil, &config.User{UID: 54321, GID: -1}, []string{"HOME=/", "PATH=" + execpath.DefaultPath, "USER=54321"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cleanEnv(tt.environ, tt.u); !slices.Equal(got, tt.want) {
				t.Errorf("cleanEnv = %q, want %q", got, tt.want)
			}
		})
	}
}
