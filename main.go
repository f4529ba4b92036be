// Command tend is a container init and process supervisor: as PID 1 it
// forwards signals to its child's process group, reaps every zombie and
// exits with the child's code; with a TOML file it supervises programs.
//
// See README.md and docs/ for the whole story; ../shared/SPEC.md is the
// contract.
package main

import (
	"fmt"
	"os"

	"tend/config"
	"tend/signals"
	"tend/supervisor"
)

func main() {
	// First, before anything can fail or block: until a signal is
	// subscribed the Go runtime dies of TERM, and a PID 1 without a
	// handler never sees it at all. Signals that arrive from here on
	// wait in the subscription's channels until the loop runs.
	sub := signals.Subscribe()
	os.Exit(run(os.Args[1:], sub))
}

func run(args []string, sub signals.Subscription) int {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Println("tend", version())
			return 0
		case "check":
			return check(args[1:])
		case "ctl":
			fmt.Fprintf(os.Stderr, "tend: %s: not available in this build yet\n", args[0])
			return exitUsage
		}
	}
	c, err := parseArgs(args, os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tend: %v\n\n%s", err, usage)
		return exitUsage
	}
	if c.help {
		fmt.Print(usage)
		return 0
	}
	var cfg *config.Config
	if c.config != "" {
		if cfg, err = config.Load(c.config); err != nil {
			// Nothing has started: a bad file starts nothing.
			fmt.Fprintf(os.Stderr, "%v\n", err)
			return exitUsage
		}
		if !c.logFormatSet {
			c.logFormat = cfg.Tend.LogFormat
		}
	}
	log := newLogger(os.Stderr, c.logFormat, c.verbose, cfg != nil)
	return supervisor.New(supervisor.Options{
		Config:   cfg,
		Main:     c.cmd,
		NoGroup:  c.noGroup,
		Grace:    c.grace,
		ExitZero: c.exitZero,
		Log:      log,
	}, sub).Run()
}

// check is `tend check -c FILE`: exit 0 for a valid file, else print
// every error and exit 2.
func check(args []string) int {
	c, err := parseArgs(args, os.Getenv)
	if err == nil && c.config == "" {
		err = fmt.Errorf("check needs -c FILE")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tend check: %v\n", err)
		return exitUsage
	}
	cfg, err := config.Load(c.config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return exitUsage
	}
	fmt.Printf("%s: ok, %d programs\n", c.config, len(cfg.Programs))
	return 0
}
