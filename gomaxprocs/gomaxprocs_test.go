package gomaxprocs

import (
	"os"
	"runtime"
	"testing"
)

// The test binary links this package, so its init has run.
func TestOneP(t *testing.T) {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		t.Skip("GOMAXPROCS is set in the environment, and wins")
	}
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Errorf("GOMAXPROCS = %d after init, want 1", n)
	}
}
