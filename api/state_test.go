package api

import "testing"

// TestStateClasses: each state is in the classes SPEC puts it in.
func TestStateClasses(t *testing.T) {
	all := []State{Stopped, Starting, Running, Backoff, Stopping, Exited, Fatal, Completed, Failed, Paused}
	type classes struct{ final, failed, up, down bool }
	want := map[State]classes{
		Stopped:   {down: true},
		Running:   {up: true},
		Exited:    {final: true, failed: true, down: true},
		Fatal:     {final: true, failed: true, down: true},
		Completed: {final: true, up: true, down: true},
		Failed:    {final: true, failed: true, down: true},
	}
	for _, st := range all {
		got := classes{st.Final(), st.Failed(), st.Up(), st.Down()}
		if got != want[st] {
			t.Errorf("%s: Final, Failed, Up, Down = %+v, want %+v", st, got, want[st])
		}
	}
}
