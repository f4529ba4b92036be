//go:build floor_zerolog

package main

import (
	"os"

	"github.com/rs/zerolog"
)

// logStarted logs at debug level through a logger made as tend makes its
// own in init mode: at warning level, so the line is dropped, and the
// writer of the build's format is linked but never written to.
func logStarted(pid int) {
	log := zerolog.New(writer(os.Stderr)).Level(zerolog.WarnLevel).With().Timestamp().Str("component", "initfloor").Logger()
	log.Debug().Int("pid", pid).Msg("child started")
}
