package api

import "testing"

// TestRoutes: one row per verb, at /v1/VERB, and a verb changes state
// (and is audited at info) exactly when it is a POST. Whether `tend ctl`
// takes what each row says is ctl's TestVerbTable.
func TestRoutes(t *testing.T) {
	verbs := []Verb{VerbStatus, VerbStart, VerbStop, VerbRestart, VerbSignal, VerbPause, VerbResume, VerbReload, VerbShutdown, VerbHealth, VerbEvents, VerbLogs, VerbScale}
	if len(Routes) != len(verbs) {
		t.Errorf("%d routes for %d verbs", len(Routes), len(verbs))
	}
	for _, v := range verbs {
		rt, ok := RouteOf(v)
		if !ok || rt.Path != "/v1/"+string(v) {
			t.Errorf("verb %s: route %+v, %v", v, rt, ok)
			continue
		}
		if rt.Changes != (rt.Method == "POST") {
			t.Errorf("verb %s: changes %v, method %s", v, rt.Changes, rt.Method)
		}
		if rt.Wait && rt.Body != BodyNames {
			t.Errorf("verb %s: --wait, but it takes no names", v)
		}
		if rt.Query != QueryNone && rt.Method != "GET" {
			t.Errorf("verb %s: a query on a %s", v, rt.Method)
		}
	}
	if _, ok := RouteOf("nope"); ok {
		t.Errorf("RouteOf(nope) found a row")
	}
}
