// Package safe starts tend's goroutines so that a panic in one is
// logged and ends that goroutine alone: tend is PID 1, and a bug in one
// goroutine must not take every process of the container down with it.
// It is the one panic handler of tend's; the signals' delivery, which
// runs before there is a logger, has its own.
package safe

import (
	"fmt"
	"runtime/debug"

	"github.com/rs/zerolog"
)

// Go runs f in a new goroutine that survives f's panic: the panic and
// its stack are logged at error level with the goroutine's name, and the
// goroutine ends. tend is PID 1: a bug in one goroutine must not take
// every container process down with it.
func Go(log zerolog.Logger, name string, f func()) {
	go func() {
		defer Recover(log, name)
		f()
	}()
}

// Recover is Go's deferred half, for goroutines started elsewhere (by
// time.AfterFunc, say) and for one step of a loop that must go on:
// `defer safe.Recover(log, "name")`.
func Recover(log zerolog.Logger, name string) {
	if v := recover(); v != nil {
		log.Error().Str("goroutine", name).Str("panic", fmt.Sprint(v)).
			Str("stack", string(debug.Stack())).Msg("recovered from a panic")
	}
}
