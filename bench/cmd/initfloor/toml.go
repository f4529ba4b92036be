//go:build floor_toml

package main

import (
	"os"

	"github.com/BurntSushi/toml"
)

// The TOML parser is linked as tend links it, for supervisor mode, and
// not run in init mode, as tend does not run it there: only when
// INITFLOOR_CONFIG names a file.
func init() {
	if path := os.Getenv("INITFLOOR_CONFIG"); path != "" {
		var cfg struct {
			Programs map[string]struct{ Command []string }
		}
		if _, err := toml.DecodeFile(path, &cfg); err != nil {
			os.Stderr.WriteString("initfloor: " + err.Error() + "\n")
			os.Exit(2)
		}
	}
}
