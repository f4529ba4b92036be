//go:build !floor_zerolog

package main

// logStarted is where the zerolog builds log that the child started;
// this build links no logger.
func logStarted(int) {}
