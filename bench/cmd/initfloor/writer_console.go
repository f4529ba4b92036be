//go:build floor_zerolog && floor_console

package main

import (
	"io"
	"time"

	"github.com/rs/zerolog"
)

// writer is tend's default --log-format console: zerolog's ConsoleWriter.
func writer(w io.Writer) io.Writer {
	return zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339Nano, NoColor: true}
}
