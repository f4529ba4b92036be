package ctl

import (
	"strings"
	"testing"

	"tend/api"
)

// TestVerbTable: `tend ctl` takes for each verb of the verb table
// (api.Routes; one row per verb is api's TestRoutes) exactly what its
// row says: names when the route reads them, a signal and names for
// signal, a name and a number for scale, nothing otherwise; --wait where
// the row allows it; -f and -n where it takes logs' query; a usage line
// each.
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
		names := rt.Query != api.QueryNone || rt.Body == api.BodyNames
		needs := rt.Body == api.BodyNames || rt.Body == api.BodySignal || rt.Body == api.BodyScale
		if got := takes(); got != !needs {
			t.Errorf("tend ctl %s with no argument: accepted %v", v, got)
		}
		if got := takes("web"); got != (names && rt.Body != api.BodySignal) {
			t.Errorf("tend ctl %s web: accepted %v", v, got)
		}
		if got := takes("HUP", "web"); got != (rt.Body == api.BodySignal || names) {
			t.Errorf("tend ctl %s HUP web: accepted %v", v, got)
		}
		if got := takes("web", "3"); got != (rt.Body == api.BodyScale || rt.Body == api.BodySignal || names) {
			t.Errorf("tend ctl %s web 3: accepted %v", v, got)
		}
		if rt.Body == api.BodyScale && (takes("web", "0") || takes("web", "1001") || takes("web", "3", "x") || takes("web", "x") || takes("", "3")) {
			t.Errorf("tend ctl %s: accepted a bad NAME N", v)
		}
		if got := takes("-f", "-n", "5"); got != (rt.Query == api.QueryLogs) {
			t.Errorf("tend ctl %s -f -n 5: accepted %v", v, got)
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
