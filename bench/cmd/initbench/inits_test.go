package main

import "testing"

func TestParseReady(t *testing.T) {
	c, err := parseReady("ready pid=9 ppid=1 pgid=9 sid=9 orphans=10")
	if err != nil {
		t.Fatal(err)
	}
	if c.Pid != 9 || c.Ppid != 1 || c.Pgid != 9 || c.Sid != 9 || c.Extra["orphans"] != 10 {
		t.Errorf("parseReady: %+v", c)
	}
	for _, bad := range []string{"", "hello", "ready pid=x"} {
		if _, err := parseReady(bad); err == nil {
			t.Errorf("parseReady(%q): no error", bad)
		}
	}
}
