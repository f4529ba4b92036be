package safe

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// chanWriter hands each log line to a channel.
type chanWriter chan string

func (c chanWriter) Write(p []byte) (int, error) {
	c <- string(p)
	return len(p), nil
}

func TestGoRecovers(t *testing.T) {
	lines := make(chanWriter, 1)
	ran := make(chan struct{})
	Go(zerolog.New(lines), "boom", func() {
		close(ran)
		panic("kaboom")
	})
	<-ran
	select {
	case l := <-lines:
		for _, want := range []string{`"level":"error"`, `"goroutine":"boom"`, `"panic":"kaboom"`, `"stack":"goroutine `} {
			if !strings.Contains(l, want) {
				t.Errorf("log line %s lacks %s", l, want)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no log line for the panic")
	}
}
