package benchkit

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Driver is a benchmark driver's command: R is its results, everything
// one run measured (the contents of OUT/results-MODE.json), and P the
// sizes of a run. Main gives both drivers the same command line:
//
//	DRIVER -tend BIN -child BIN [-quick] [-out DIR] [-doc FILE] [-command TEXT]
//	DRIVER -render [-quick] [-out DIR] [-doc FILE]     render OUT/results-MODE.json again
//
// A run measures (MODE is full, or quick with -quick), writes every
// sample to OUT/results-MODE.json, renders the tables from it to
// OUT/results-MODE.md and stdout and, with -doc, into the generated block
// of a docs page; -render does the last two again from the file.
type Driver[R any, P Sizes[P]] struct {
	// Name starts its messages and names its generated block: "initbench".
	Name string
	// Script builds the binaries and passes them: "bench/init.sh".
	Script string
	// Root says why it must run as root.
	Root string
	// Out is the default of -out, where the full run that the docs page
	// shows writes its results.
	Out   string
	Usage Usage
	// Full and Quick are the sizes of a run, without and with -quick.
	Full, Quick P
	// Packages are the Debian packages whose versions it records.
	Packages []string
	// Measure makes every measurement of a run; h is the start of its
	// results, with the sizes of the run in h.Params.
	Measure func(f Flags, h Header[P]) (*R, error)
	// Render renders results as markdown.
	Render func(*R) string
}

// Flags are the command line of a driver.
type Flags struct {
	// Tend and Child are the binaries to measure and to run (absolute
	// by the time Measure sees them).
	Tend, Child   string
	Out, Doc      string
	Command       string
	Quick, Render bool
}

// Mode is the run's mode, and the MODE of its file names.
func (f Flags) Mode() string {
	if f.Quick {
		return "quick"
	}
	return "full"
}

// Usage is what a driver's -help says of the flags whose meaning differs
// between the drivers.
type Usage struct {
	Child string // which binary -child is
	Out   string // what -out holds
	Quick string // what -quick makes of a run
}

// Sizes is what a driver's sizes of a run, P, must do: take the
// niceness the run has.
type Sizes[P any] interface {
	WithNice(nice int) P
}

// Header is how both drivers' results begin: a driver's results embed
// it, and Measure is given it filled in but for Seconds.
type Header[P any] struct {
	Command string    `json:"command"`
	Params  P         `json:"params"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Machine Machine   `json:"machine"`
	began   time.Time
}

// Elapsed is how long the run has taken since it started, the reading
// of the machine's facts included: what Seconds is to be once the run is
// over.
func (h Header[P]) Elapsed() float64 { return time.Since(h.began).Seconds() }

// Main runs the command and exits 1 if it fails.
func (d Driver[R, P]) Main() {
	if err := d.run(d.parseFlags()); err != nil {
		fmt.Fprintln(os.Stderr, d.Name+":", err)
		os.Exit(1)
	}
}

func (d Driver[R, P]) run(f Flags) error {
	path := resultsPath(f.Out, f.Mode())
	res := new(R)
	if f.Render {
		if err := loadResults(path, res); err != nil {
			return err
		}
	} else {
		if err := f.prepare(d.Script, d.Root); err != nil {
			return err
		}
		h, err := d.start(f)
		if err != nil {
			return err
		}
		if res, err = d.Measure(f, h); err != nil {
			return err
		}
		if err := saveResults(path, res); err != nil {
			return err
		}
	}
	return writeReport(d.Render(res), f.Out, f.Mode(), f.Doc, d.block())
}

// block is the generated block of the driver's docs page, which says
// which file and which command it comes from.
func (d Driver[R, P]) block() Block {
	return Block{
		Begin: "<!-- BEGIN " + d.Name + ": generated from " + resultsPath(d.Out, "full") +
			" by bench/cmd/" + d.Name + "; do not edit by hand -->",
		End: "<!-- END " + d.Name + " -->",
	}
}

func (d Driver[R, P]) parseFlags() Flags {
	var f Flags
	flag.StringVar(&f.Tend, "tend", "", "the tend binary to measure")
	flag.StringVar(&f.Child, "child", "", d.Usage.Child)
	flag.StringVar(&f.Out, "out", d.Out, d.Usage.Out)
	flag.BoolVar(&f.Quick, "quick", false, d.Usage.Quick)
	flag.StringVar(&f.Doc, "doc", "", "also write the tables into the generated block of this markdown file")
	flag.StringVar(&f.Command, "command", "", "the command line to print in the report (default: this one)")
	flag.BoolVar(&f.Render, "render", false, "only render OUT/results-MODE.json again")
	flag.Parse()
	return f
}

// prepare readies the flags for a run that measures: it wants -tend and
// -child (which script builds and passes), and root (rootWhy says why);
// it makes both binaries' paths absolute, creates -out and fills in the
// default -command.
func (f *Flags) prepare(script, rootWhy string) error {
	if f.Tend == "" || f.Child == "" {
		return fmt.Errorf("want -tend and -child (%s builds and passes them)", script)
	}
	if os.Geteuid() != 0 {
		return errors.New("must run as root: " + rootWhy)
	}
	var err error
	if f.Child, err = filepath.Abs(f.Child); err != nil {
		return err
	}
	if f.Tend, err = filepath.Abs(f.Tend); err != nil {
		return err
	}
	if err := os.MkdirAll(f.Out, 0o755); err != nil {
		return err
	}
	if f.Command == "" {
		f.Command = fmt.Sprint(os.Args)
	}
	return nil
}

// start begins the results of a run: it picks its sizes, records the
// niceness, the time and the machine, and warns if the machine is busy.
func (d Driver[R, P]) start(f Flags) (Header[P], error) {
	h := Header[P]{Command: f.Command, Params: d.Full}
	if f.Quick {
		h.Params = d.Quick
	}
	nice, err := Niceness()
	if err != nil {
		return h, err
	}
	h.Params = h.Params.WithNice(nice)
	h.Started, h.began = time.Now().UTC(), time.Now()
	h.Machine = machineFacts(f.Tend, d.Packages)
	if h.Machine.BusyPct > 20 {
		fmt.Fprintf(os.Stderr, "%s: the machine is busy (%.0f%% of CPU in use before the run): expect noise, in p99s first\n",
			d.Name, h.Machine.BusyPct)
	}
	return h, nil
}

// resultsPath is OUT/results-MODE.json, where a run keeps every sample.
func resultsPath(out, mode string) string {
	return filepath.Join(out, "results-"+mode+".json")
}

// loadResults reads the results file path into res.
func loadResults(path string, res any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, res); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// saveResults writes res to the results file path, indented.
func saveResults(path string, res any) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Step is one measurement of a run.
type Step struct {
	Name string
	Run  func() error
}

// RunSteps runs steps one after the other and says on stderr, after
// "prog: ", when each starts and ends. It returns the share of the
// machine's CPU in use during each step, by every process.
func RunSteps(prog string, steps []Step) (busyPct map[string]float64, err error) {
	busyPct = map[string]float64{}
	for _, s := range steps {
		t := time.Now()
		fmt.Fprintf(os.Stderr, "%s: %s...\n", prog, s.Name)
		c0, i0 := cpuStat()
		if err := s.Run(); err != nil {
			return busyPct, fmt.Errorf("%s: %w", s.Name, err)
		}
		busyPct[s.Name] = busySince(c0, i0)
		fmt.Fprintf(os.Stderr, "%s: %s done in %.1fs, %.0f%% of the machine's CPU in use\n",
			prog, s.Name, time.Since(t).Seconds(), busyPct[s.Name])
	}
	return busyPct, nil
}
