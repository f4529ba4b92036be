package benchkit

import "time"

// IdleSwitches is what IdleWindow saw of each of its subjects, in order.
type IdleSwitches struct {
	// Settle is the switches from the first reading to the start of the
	// window: startup work that is over by then.
	Settle []Switches
	// Window is the switches during the window, with the thread counts
	// at its end; WindowSec is its length as measured.
	Window    []Switches
	WindowSec float64
}

// IdleWindow counts the wake-ups of n subjects that are all running at
// once, so that the window is spent once: it reads every subject's
// context switches (read(i) reads the i-th), again after settleSec, and
// again after a further windowSec. It stops at the first error read
// returns.
func IdleWindow(n int, settleSec, windowSec float64, read func(i int) (Switches, error)) (IdleSwitches, error) {
	snap := func() ([]Switches, error) {
		out := make([]Switches, n)
		for i := range out {
			var err error
			if out[i], err = read(i); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var res IdleSwitches
	s0, err := snap()
	if err != nil {
		return res, err
	}
	time.Sleep(time.Duration(settleSec * float64(time.Second)))
	s1, err := snap()
	if err != nil {
		return res, err
	}
	t1 := time.Now()
	time.Sleep(time.Duration(windowSec * float64(time.Second)))
	s2, err := snap()
	if err != nil {
		return res, err
	}
	res.WindowSec = time.Since(t1).Seconds()
	for i := range n {
		res.Settle = append(res.Settle, s1[i].Minus(s0[i]))
		res.Window = append(res.Window, s2[i].Minus(s1[i]))
	}
	return res, nil
}
