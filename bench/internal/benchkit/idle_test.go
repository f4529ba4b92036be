package benchkit

import (
	"errors"
	"testing"
)

func TestIdleWindow(t *testing.T) {
	// Subject i wakes up i+1 times between readings, and has i+1 threads.
	calls := make([]int, 2)
	read := func(i int) (Switches, error) {
		calls[i]++
		return Switches{Voluntary: int64(calls[i] * (i + 1)), Threads: i + 1}, nil
	}
	got, err := IdleWindow(2, 0, 0, read)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		want := Switches{Voluntary: int64(i + 1), Threads: i + 1}
		if got.Settle[i] != want || got.Window[i] != want {
			t.Errorf("subject %d: settle %+v window %+v, want %+v", i, got.Settle[i], got.Window[i], want)
		}
	}
	if calls[0] != 3 || calls[1] != 3 {
		t.Errorf("read %v times, want 3 each", calls)
	}

	boom := errors.New("boom")
	if _, err := IdleWindow(2, 0, 0, func(int) (Switches, error) { return Switches{}, boom }); !errors.Is(err, boom) {
		t.Errorf("IdleWindow with a failing read: %v", err)
	}
}
