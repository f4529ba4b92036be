package main

import (
	"debug/elf"
	"os"
	"slices"
)

// binary is one init's executable on disk.
type binary struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	Static bool   `json:"static"`
	// Needed lists the shared libraries a dynamic binary loads; their
	// size is not counted in Bytes.
	Needed []string `json:"needed,omitempty"`
}

// measureSizes reads the inits' binaries, tini-static's, then the floors'.
func measureSizes(specs, floors []initSpec) ([]binary, error) {
	var out []binary
	bins := slices.Concat(specs, []initSpec{{Name: "tini-static", Path: "/usr/bin/tini-static"}}, floors)
	for _, s := range bins {
		st, err := os.Stat(s.Path)
		if err != nil {
			return nil, err
		}
		f, err := elf.Open(s.Path)
		if err != nil {
			return nil, err
		}
		b := binary{Name: s.Name, Path: s.Path, Bytes: st.Size(), Static: true}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				b.Static = false
			}
		}
		b.Needed, _ = f.ImportedLibraries()
		f.Close()
		out = append(out, b)
	}
	return out, nil
}
