package api

import (
	"encoding/json"
	"testing"
	"time"
)

// TestWire: the JSON of a status and of an event, field by field, as
// docs/control.md shows them; "paused" is derived from the state.
func TestWire(t *testing.T) {
	code := 0
	since := time.Date(2025, 1, 2, 15, 4, 5, 123e6, time.UTC)
	for _, tc := range []struct {
		v    any
		want string
	}{
		{Status{Name: "web:0", State: Running, Health: HealthHealthy, Pid: 42, Since: since, ExitCode: &code, Restarts: 1, Critical: true},
			`{"name":"web:0","state":"RUNNING","health":"healthy","pid":42,"since":"2025-01-02T15:04:05.123Z","exit_code":0,"restarts":1,"critical":true,"ready":false}`},
		{Status{Name: "db", State: Running, Pid: 7, Ready: true, StatusText: "accepting connections"},
			`{"name":"db","state":"RUNNING","pid":7,"restarts":0,"ready":true,"status_text":"accepting connections"}`},
		{Status{Name: "db", State: Paused, Pid: 7},
			`{"name":"db","state":"PAUSED","pid":7,"restarts":0,"ready":false,"paused":true}`},
		{[]Status{{Name: "x", State: Stopped}},
			`[{"name":"x","state":"STOPPED","pid":0,"restarts":0,"ready":false}]`},
		{Reply{Programs: []Status{{Name: "db", State: Paused}}},
			`{"programs":[{"name":"db","state":"PAUSED","pid":0,"restarts":0,"ready":false,"paused":true}]}`},
		{Event{Program: "web:0", State: Backoff, From: Starting, Pid: 42, Time: since, ExitCode: &code, Signal: "TERM", Reason: "exited", Failures: 2, RetryIn: time.Second},
			`{"program":"web:0","state":"BACKOFF","from":"STARTING","pid":42,"time":"2025-01-02T15:04:05.123Z","exit_code":0,"signal":"TERM","reason":"exited","ready":false}`},
		{Event{Program: "web:0", State: Running, From: Running, Time: since, Health: HealthUnhealthy},
			`{"program":"web:0","state":"RUNNING","from":"RUNNING","pid":0,"time":"2025-01-02T15:04:05.123Z","health":"unhealthy","ready":false}`},
		{Event{Program: "db", State: Running, From: Running, Pid: 7, Time: since, Ready: true, Reason: "READY=1"},
			`{"program":"db","state":"RUNNING","from":"RUNNING","pid":7,"time":"2025-01-02T15:04:05.123Z","reason":"READY=1","ready":true}`},
		{Event{Kind: EventThaw, Time: since, FrozenS: 20.5, Program: "ignored"},
			`{"event":"thaw","time":"2025-01-02T15:04:05.123Z","frozen_s":20.5}`},
		{Event{Kind: EventDraining, Time: since, Reason: "signal TERM"},
			`{"event":"draining","time":"2025-01-02T15:04:05.123Z","reason":"signal TERM"}`},
		{Reply{Freezes: 1, FrozenSeconds: 2.5}, `{"freezes":1,"frozen_seconds":2.5}`},
	} {
		got, err := json.Marshal(tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("%+v:\n got %s (%v)\nwant %s", tc.v, got, err, tc.want)
		}
		// An event read back (tend ctl events reads and writes each)
		// is written the same.
		if _, ok := tc.v.(Event); ok {
			var ev Event
			if err := json.Unmarshal(got, &ev); err != nil {
				t.Errorf("read back %s: %v", got, err)
			} else if again, _ := json.Marshal(ev); string(again) != tc.want {
				t.Errorf("read back and written again:\n got %s\nwant %s", again, tc.want)
			}
		}
	}
}
