//go:build race

package e2e

// raceEnabled builds tend under test with -race too, so the real
// process's goroutines are checked, not just the test's.
const raceEnabled = true
