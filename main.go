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
		case "check", "ctl":
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
	log := newLogger(os.Stderr, c.logFormat, c.verbose, c.config != "")
	if c.config != "" {
		log.Error().Str("config", c.config).Msg("supervisor mode is not available in this build yet")
		return exitUsage
	}
	return supervisor.New(supervisor.Options{
		Main:     supervisor.Command{Argv: c.cmd},
		NoGroup:  c.noGroup,
		Grace:    c.grace,
		ExitZero: c.exitZero,
		Log:      log,
	}, sub).Run()
}
