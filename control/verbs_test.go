package control

import (
	"strings"
	"testing"
)

// TestVerbTable: routes is the verb table: one row per verb, at
// /v1/VERB, and `tend ctl` takes for each verb exactly what its row
// says: names when the route reads them, a signal and names for signal,
// nothing otherwise; --wait where the row allows it; a usage line each.
func TestVerbTable(t *testing.T) {
	verbs := []string{VerbStatus, VerbStart, VerbStop, VerbRestart, VerbSignal, VerbPause, VerbResume, VerbReload, VerbShutdown, VerbHealth, VerbEvents}
	if len(routes) != len(verbs) {
		t.Errorf("%d routes for %d verbs", len(routes), len(verbs))
	}
	usage := ctlUsage()
	for _, v := range verbs {
		rt, ok := verbRoute(v)
		if !ok || rt.path != "/v1/"+v {
			t.Errorf("verb %s: route %+v, %v", v, rt, ok)
			continue
		}
		if !strings.Contains(usage, "\n  "+strings.TrimSpace(v+" "+rt.args)+" ") {
			t.Errorf("verb %s has no line in the usage:\n%s", v, usage)
		}
		takes := func(args ...string) bool {
			_, err := parseCtl(append([]string{v}, args...), func(string) string { return "" })
			return err == nil
		}
		names := rt.query || rt.body == bodyNames
		if got := takes(); got != (rt.body != bodyNames && rt.body != bodySignal) {
			t.Errorf("tend ctl %s with no argument: accepted %v", v, got)
		}
		if got := takes("web"); got != (names && rt.body != bodySignal) {
			t.Errorf("tend ctl %s web: accepted %v", v, got)
		}
		if got := takes("HUP", "web"); got != (rt.body == bodySignal || names) {
			t.Errorf("tend ctl %s HUP web: accepted %v", v, got)
		}
		if rt.body == bodySignal && takes("HUP!", "web") {
			t.Errorf("tend ctl %s HUP! web: accepted", v)
		}
		args := []string{"--wait", v}
		if rt.body == bodyNames {
			args = append(args, "web")
		}
		if _, err := parseCtl(args, func(string) string { return "" }); (err == nil) != rt.wait {
			t.Errorf("tend ctl --wait %s: %v, want accepted %v", v, err, rt.wait)
		}
		if changes(v) != rt.changes || rt.changes != (rt.method == "POST") {
			t.Errorf("verb %s: changes %v, method %s", v, changes(v), rt.method)
		}
	}
}
