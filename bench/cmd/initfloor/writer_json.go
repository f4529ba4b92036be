//go:build floor_zerolog && !floor_console

package main

import "io"

// writer is tend's --log-format json: zerolog's own output, as is.
func writer(w io.Writer) io.Writer { return w }
