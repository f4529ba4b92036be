package control

import (
	"strings"
	"tend/api"
	"testing"
)

// TestVerbTable: api.Routes is the verb table: one row per verb, at
// /v1/VERB, and `tend ctl` takes for each verb exactly what its row
// says: names when the route reads them, a signal and names for signal,
// nothing otherwise; --wait where the row allows it; a usage line each.
func TestVerbTable(t *testing.T) {
	verbs := []api.Verb{api.VerbStatus, api.VerbStart, api.VerbStop, api.VerbRestart, api.VerbSignal, api.VerbPause, api.VerbResume, api.VerbReload, api.VerbShutdown, api.VerbHealth, api.VerbEvents}
	if len(api.Routes) != len(verbs) {
		t.Errorf("%d api.Routes for %d verbs", len(api.Routes), len(verbs))
	}
	usage := ctlUsage()
	for _, v := range verbs {
		rt, ok := api.RouteOf(v)
		if !ok || rt.Path != "/v1/"+string(v) {
			t.Errorf("verb %s: route %+v, %v", v, rt, ok)
			continue
		}
		if !strings.Contains(usage, "\n  "+strings.TrimSpace(string(v)+" "+rt.Args)+" ") {
			t.Errorf("verb %s has no line in the usage:\n%s", v, usage)
		}
		takes := func(args ...string) bool {
			_, err := parseCtl(append([]string{string(v)}, args...), func(string) string { return "" })
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
		if _, err := parseCtl(args, func(string) string { return "" }); (err == nil) != rt.Wait {
			t.Errorf("tend ctl --wait %s: %v, want accepted %v", v, err, rt.Wait)
		}
		if changes(v) != rt.Changes || rt.Changes != (rt.Method == "POST") {
			t.Errorf("verb %s: changes %v, method %s", v, changes(v), rt.Method)
		}
	}
}
