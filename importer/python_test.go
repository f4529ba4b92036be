package importer

import (
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"slices"
	"testing"
)

// The readers against Python itself: testdata/pycases.json holds what
// Python 3.11's configparser, shlex and % make of each input (written by
// testdata/pycases.py), and each Go reader must say the same.

type pyCases struct {
	INI    [][2]json.RawMessage `json:"ini"`
	Split  [][2]json.RawMessage `json:"split"`
	Env    [][2]json.RawMessage `json:"env"`
	Format [][2]json.RawMessage `json:"format"`
}

func loadPyCases(t *testing.T) pyCases {
	t.Helper()
	data, err := os.ReadFile("testdata/pycases.json")
	if err != nil {
		t.Fatal(err)
	}
	var c pyCases
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.INI) == 0 || len(c.Split) == 0 || len(c.Env) == 0 || len(c.Format) == 0 {
		t.Fatal("testdata/pycases.json lacks cases")
	}
	return c
}

func unpack[T any](t *testing.T, raw [2]json.RawMessage) (string, T) {
	t.Helper()
	var in string
	var want T
	if err := json.Unmarshal(raw[0], &in); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw[1], &want); err != nil {
		t.Fatal(err)
	}
	return in, want
}

func TestINIMatchesPython(t *testing.T) {
	for _, raw := range loadPyCases(t).INI {
		in, want := unpack[struct {
			Sections   [][2]json.RawMessage `json:"sections"`
			Defaults   map[string]string    `json:"defaults"`
			ErrorLines []int                `json:"error_lines"`
		}](t, raw)
		d := newINI()
		var bad []int
		d.read("f.conf", "/", in, func(line int, _ string) { bad = append(bad, line) })
		if want.ErrorLines != nil {
			if !slices.Equal(bad, want.ErrorLines) {
				t.Errorf("%q: bad lines %v, Python %v", in, bad, want.ErrorLines)
			}
			continue
		}
		if bad != nil {
			t.Errorf("%q: bad lines %v, Python none", in, bad)
			continue
		}
		var names []string
		for i, s := range want.Sections {
			name, vals := unpack[map[string]string](t, s)
			names = append(names, name)
			if i >= len(d.sections) {
				continue
			}
			got := map[string]string{}
			for k, v := range d.sections[i].vals {
				got[k] = v.text
			}
			if !maps.Equal(got, vals) {
				t.Errorf("%q: [%s] = %q, Python %q", in, name, got, vals)
			}
		}
		var gotNames []string
		for _, s := range d.sections {
			gotNames = append(gotNames, s.name)
		}
		if !slices.Equal(gotNames, names) {
			t.Errorf("%q: sections %q, Python %q", in, gotNames, names)
		}
		gotDef := map[string]string{}
		for k, v := range d.defaults.vals {
			gotDef[k] = v.text
		}
		if !maps.Equal(gotDef, want.Defaults) {
			t.Errorf("%q: [DEFAULT] %q, Python %q", in, gotDef, want.Defaults)
		}
	}
}

func TestSplitMatchesPython(t *testing.T) {
	for _, raw := range loadPyCases(t).Split {
		in, want := unpack[struct {
			Words []string `json:"words"`
			Error string   `json:"error"`
		}](t, raw)
		got, err := splitCommand(in, nil)
		switch {
		case want.Error != "" && err == nil:
			t.Errorf("%q: %q, Python fails: %s", in, got, want.Error)
		case want.Error == "" && (err != nil || !slices.Equal(got, want.Words)):
			t.Errorf("%q: %q %v, Python %q", in, got, err, want.Words)
		}
	}
}

func TestEnvMatchesPython(t *testing.T) {
	for _, raw := range loadPyCases(t).Env {
		in, want := unpack[struct {
			Pairs [][2]string `json:"pairs"`
			Error string      `json:"error"`
		}](t, raw)
		got, err := parseEnv(in)
		var pairs [][2]string
		for _, p := range got {
			pairs = append(pairs, [2]string{p.key, p.val})
		}
		switch {
		case want.Error != "" && err == nil:
			t.Errorf("%q: %q, Python fails: %s", in, pairs, want.Error)
		case want.Error == "" && (err != nil || !reflect.DeepEqual(pairs, want.Pairs)):
			t.Errorf("%q: %q %v, Python %q", in, pairs, err, want.Pairs)
		}
	}
}

func TestFormatMatchesPython(t *testing.T) {
	// The one difference, on purpose: Python formats the whole name table
	// for a bare %s, which no configuration means; it is an error here.
	differs := map[string]bool{"%s": true}
	for _, raw := range loadPyCases(t).Format {
		in, want := unpack[struct {
			Out   *string `json:"out"`
			Error string  `json:"error"`
		}](t, raw)
		sc := &scope{vals: map[string]any{"program_name": "web", "group_name": "grp", "here": "/etc/supervisor",
			"process_num": 7, "numprocs": 12, "neg": -5}}
		budget := 1 << 20
		got, err := expand(in, sc, &refs{}, &budget)
		switch {
		case differs[in]:
			if err == nil {
				t.Errorf("%q: %q, want an error", in, got)
			}
		case want.Out == nil && err == nil:
			t.Errorf("%q: %q, Python fails: %s", in, got, want.Error)
		case want.Out != nil && (err != nil || got != *want.Out):
			t.Errorf("%q: %q %v, Python %q", in, got, err, *want.Out)
		}
	}
}
