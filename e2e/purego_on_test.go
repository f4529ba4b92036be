//go:build purego

package e2e

// pureGo builds tend under test with -tags purego too: no signal
// handlers of tend's own, every signal through os/signal, as tend runs
// when installing its handlers fails (signals/handlers_other.go). CI
// runs the suite so once.
const pureGo = true
