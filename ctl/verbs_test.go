package ctl

import (
	"strings"
	"testing"

	"tend/api"
)

// TestVerbTable: `tend ctl` takes for each verb of the verb table
// (api.Routes; one row per verb is api's TestRoutes) exactly what its
// row says: names when the route reads them, a signal and names for
// signal, nothing otherwise; --wait where the row allows it; a usage
// line each.
func TestVerbTable(t *testing.T) {
	text := usage()
	for _, rt := range api.Routes {
		v := rt.Verb
		if !strings.Contains(text, "\n  "+strings.TrimSpace(string(v)+" "+rt.Args)+" ") {
			t.Errorf("verb %s has no line in the usage:\n%s", v, text)
		}
		takes := func(args ...string) bool {
			_, err := parse(append([]string{string(v)}, args...), func(string) string { return "" })
			return err == nil
		}
		names := rt.Query || rt.Body == api.BodyNames
		if got := takes(); got != (rt.Body != api.BodyNames && rt.Body != api.BodySignal) {
			t.Errorf("tend ctl %s with no argument: accepted %v", v, got)
		}
		if got := takes("web"); got != (names && rt.Body != api.BodySignal) {
			t.Errorf("tend ctl %s web: accepted %v", v, got)
		}
		if got := takes("HUP", "web"); got != (rt.Body == api.BodySignal || names) {
			t.Errorf("tend ctl %s HUP web: accepted %v", v, got)
		}
		if rt.Body == api.BodySignal && takes("HUP!", "web") {
			t.Errorf("tend ctl %s HUP! web: accepted", v)
		}
		args := []string{"--wait", string(v)}
		if rt.Body == api.BodyNames {
			args = append(args, "web")
		}
		if _, err := parse(args, func(string) string { return "" }); (err == nil) != rt.Wait {
			t.Errorf("tend ctl --wait %s: %v, want accepted %v", v, err, rt.Wait)
		}
	}
}
