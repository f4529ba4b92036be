package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	none := env(nil)
	base := cli{grace: 5 * time.Second, logFormat: "console"}
	with := func(f func(*cli)) cli { c := base; f(&c); return c }
	cases := []struct {
		args []string
		env  func(string) string
		want cli
	}{
		{[]string{"--", "app", "-x"}, none, with(func(c *cli) { c.cmd = []string{"app", "-x"} })},
		{[]string{"--", "app", "--", "y"}, none, with(func(c *cli) { c.cmd = []string{"app", "--", "y"} })},
		{[]string{"-g", "--no-group", "--", "a"}, none, with(func(c *cli) { c.noGroup = true; c.cmd = []string{"a"} })},
		{[]string{"-e", "143", "-e", "1", "--", "a"}, none, with(func(c *cli) { c.exitZero = []int{143, 1}; c.cmd = []string{"a"} })},
		{[]string{"--grace", "250ms", "--", "a"}, none, with(func(c *cli) { c.grace = 250 * time.Millisecond; c.cmd = []string{"a"} })},
		{[]string{"--grace=0s", "--", "a"}, none, with(func(c *cli) { c.grace = 0; c.cmd = []string{"a"} })},
		{[]string{"-v", "-v", "--", "a"}, none, with(func(c *cli) { c.verbose = 2; c.cmd = []string{"a"} })},
		{[]string{"-vv", "--", "a"}, none, with(func(c *cli) { c.verbose = 2; c.cmd = []string{"a"} })},
		{[]string{"--log-format", "json", "--", "a"}, none, with(func(c *cli) { c.logFormat = "json"; c.logFormatSet = true; c.cmd = []string{"a"} })},
		{[]string{"-c", "f.toml"}, none, with(func(c *cli) { c.config = "f.toml" })},
		{[]string{"-c", "f.toml", "--", "a"}, none, with(func(c *cli) { c.config = "f.toml"; c.cmd = []string{"a"} })},
		{nil, env(map[string]string{"TEND_CONFIG": "e.toml"}), with(func(c *cli) { c.config = "e.toml" })},
		{[]string{"-c", "f.toml"}, env(map[string]string{"TEND_CONFIG": "e.toml"}), with(func(c *cli) { c.config = "f.toml" })},
		{[]string{"--help"}, none, with(func(c *cli) { c.help = true })},
	}
	for _, c := range cases {
		got, err := parseArgs(c.args, c.env)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseArgs(%q) = %+v, %v; want %+v", c.args, got, err, c.want)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	cases := map[string][]string{
		"nothing to run":           nil,
		"no command after":         {"--"},
		"must not be negative":     {"--grace", "-1s", "--", "a"},
		"want console or json":     {"--log-format", "xml", "--", "a"},
		"0 to 255":                 {"-e", "256", "--", "a"},
		"put the command after --": {"app"},
		"subreaper by itself":      {"-s", "--", "a"},
		"not defined":              {"--bogus", "--", "a"},
		"takes no value":           {"-v=false", "--", "a"},
	}
	for want, args := range cases {
		_, err := parseArgs(args, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseArgs(%q) error %v, want one saying %q", args, err, want)
		}
	}
}
