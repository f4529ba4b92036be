package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tend/config"
	"tend/importer"
	"tend/signals"
)

// exitUsage is tend's exit code for a usage error or an invalid config.
const exitUsage = 2

const usage = `usage:
  tend [FLAGS] -- CMD [ARG...]          init mode: CMD is the one child
  tend [FLAGS] -c FILE                   supervisor mode
  tend [FLAGS] -c FILE -- CMD [ARG...]   both: CMD is the main program
  tend check [--strict] -c FILE          validate a config; warn of what would
                                         fail at run time (--strict: exit 1)
  tend ctl [--socket PATH] VERB [ARGS]   talk to a running tend
  tend import supervisord [--root DIR] FILE
                                         convert a supervisord.conf to tend TOML
                                         on stdout; warnings on stderr
  tend version

flags:
  -c FILE               supervisor config (default: $TEND_CONFIG)
  --grace DURATION      time leftovers get between SIGTERM and SIGKILL once
                        the main program has exited (default 5s)
  --no-group            signal the main program alone, not its process group
  --drain DURATION      on TERM or INT, wait this long before forwarding it;
                        a second TERM or INT is forwarded at once (default 0s)
  --rewrite FROM:TO     the main program gets TO when tend gets FROM (names or
                        numbers, repeatable; e.g. TERM:QUIT for nginx)
  -g                    accepted for tini users; group is the default
  -e CODE               report exit code CODE as 0 (repeatable; e.g. 143)
  -v                    more log output (-v debug, -vv trace)
  --log-format FORMAT   console or json (default console)
  -h, --help            this text
`

// Exit codes of tend check: 0 valid, 1 valid with warnings under
// --strict, exitUsage for a usage error or an invalid file.
const exitWarnings = 1

// runCheck is `tend check [--strict] -c FILE`: every error of FILE to
// stderr and exit 2; else its warnings (what would fail at run time:
// commands, directories, users, log directories) to stderr, marked as
// such, a summary to stdout, and exit 0, or 1 with --strict when there
// were warnings.
func runCheck(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tend check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("c", "", "")
	strict := fs.Bool("strict", false, "")
	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected %q", fs.Arg(0))
	}
	if *file == "" {
		*file = getenv("TEND_CONFIG")
	}
	if err == nil && *file == "" {
		err = errors.New("check needs -c FILE")
	}
	if err != nil {
		fmt.Fprintf(stderr, "tend check: %v\n\n%s", err, usage)
		return exitUsage
	}
	cfg, warnings, err := config.Check(*file)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitUsage
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, warningLine(w))
	}
	fmt.Fprintf(stdout, "%s: ok, %d programs, %d warnings\n", *file, len(cfg.Programs), len(warnings))
	if *strict && len(warnings) > 0 {
		return exitWarnings
	}
	return 0
}

// warningLine formats w as compilers do: FILE:LINE: warning: KEY: MSG.
func warningLine(w config.Error) string {
	msg := w.Msg
	if w.Key != "" {
		msg = w.Key + ": " + msg
	}
	return fmt.Sprintf("%s:%d: warning: %s", w.File, w.Line, msg)
}

// runImport is `tend import supervisord [--root DIR] FILE`: the TOML on
// stdout, each warning on stderr as FILE:LINE: warning: ..., and exit 0;
// or every error on stderr and exit 2 (a file supervisord would refuse,
// or one that cannot be read).
func runImport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tend import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	root := fs.String("root", "", "")
	var err error
	switch {
	case len(args) == 0:
		err = errors.New("import needs a format: tend import supervisord FILE")
	case args[0] != "supervisord":
		err = fmt.Errorf("unknown format %q: tend imports supervisord", args[0])
	default:
		err = fs.Parse(args[1:])
		if err == nil && fs.NArg() != 1 {
			err = errors.New("import supervisord needs one FILE")
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "tend import: %v\n\n%s", err, usage)
		return exitUsage
	}
	res, err := importer.Supervisord(fs.Arg(0), importer.Options{Root: *root})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitUsage
	}
	for _, w := range res.Warnings.List {
		fmt.Fprintln(stderr, importWarning(w))
	}
	if n := res.Warnings.Dropped; n > 0 {
		fmt.Fprintf(stderr, "tend import: and %d more warnings\n", n)
	}
	stdout.Write(res.TOML)
	return 0
}

// importWarning formats w as compilers do: FILE:LINE: warning: [SECTION] KEY: MSG.
func importWarning(w importer.Issue) string {
	loc := w.File
	if w.Line > 0 {
		loc += ":" + strconv.Itoa(w.Line)
	}
	s := w.String()
	return loc + ": warning: " + s[len(loc)+2:]
}

// cli is the parsed command line.
type cli struct {
	config    string
	cmd       []string
	noGroup   bool
	exitZero  []int
	grace     time.Duration
	drain     time.Duration
	rewrite   map[syscall.Signal]syscall.Signal
	verbose   int
	logFormat string
	// logFormatSet: --log-format was given, and wins over the config's.
	logFormatSet bool
	help         bool
	// tool is a tool named after tend's flags instead of a command
	// (`docker run IMAGE check` with ENTRYPOINT ["tend", "-c", FILE]),
	// and toolArgs what follows it.
	tool     string
	toolArgs []string
}

// entrypointTools are the tools that may follow tend's own flags: an
// image's ENTRYPOINT holds the flags, and `docker run IMAGE check`
// appends the tool (`docker run IMAGE import supervisord FILE` reads
// the image's own supervisord.conf).
var entrypointTools = []string{"check", "version", "import"}

// parseArgs reads tend's flags, which all come before "--"; everything
// after it is the main program's argv.
func parseArgs(args []string, getenv func(string) string) (cli, error) {
	c := cli{grace: 5 * time.Second, logFormat: "console"}
	flagArgs := args
	hasCmd := false
	for i, a := range args {
		if a == "--" {
			flagArgs, c.cmd, hasCmd = args[:i], args[i+1:], true
			break
		}
	}
	fs := flag.NewFlagSet("tend", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.config, "c", "", "")
	fs.DurationVar(&c.grace, "grace", c.grace, "")
	fs.BoolVar(&c.noGroup, "no-group", false, "")
	fs.DurationVar(&c.drain, "drain", 0, "")
	fs.Func("rewrite", "", func(v string) error {
		from, to, err := parseRewrite(v)
		if err != nil {
			return err
		}
		if c.rewrite == nil {
			c.rewrite = map[syscall.Signal]syscall.Signal{}
		}
		c.rewrite[from] = to
		return nil
	})
	fs.Bool("g", false, "")
	fs.Func("e", "", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 255 {
			return errors.New("want an exit code from 0 to 255")
		}
		c.exitZero = append(c.exitZero, n)
		return nil
	})
	fs.Var(counter{&c.verbose, 1}, "v", "")
	fs.Var(counter{&c.verbose, 2}, "vv", "")
	fs.StringVar(&c.logFormat, "log-format", c.logFormat, "")
	fs.BoolVar(&c.help, "h", false, "")
	fs.BoolVar(&c.help, "help", false, "")
	if err := fs.Parse(flagArgs); err != nil {
		if strings.Contains(err.Error(), "-s") && slices.Contains(flagArgs, "-s") {
			return c, errors.New("-s is not needed: tend becomes a subreaper by itself when it is not PID 1")
		}
		return c, err
	}
	if c.help {
		return c, nil
	}
	fs.Visit(func(f *flag.Flag) { c.logFormatSet = c.logFormatSet || f.Name == "log-format" })
	if fs.NArg() > 0 {
		if !hasCmd && slices.Contains(entrypointTools, fs.Arg(0)) {
			c.tool, c.toolArgs = fs.Arg(0), fs.Args()[1:]
			if c.config == "" {
				c.config = getenv("TEND_CONFIG")
			}
			return c, nil
		}
		return c, fmt.Errorf("unexpected %q: put the command after --", fs.Arg(0))
	}
	if c.config == "" {
		c.config = getenv("TEND_CONFIG")
	}
	switch {
	case c.logFormat != "console" && c.logFormat != "json":
		return c, fmt.Errorf("--log-format %q: want console or json", c.logFormat)
	case c.grace < 0:
		return c, errors.New("--grace must not be negative")
	case c.drain < 0:
		return c, errors.New("--drain must not be negative")
	case hasCmd && len(c.cmd) == 0:
		return c, errors.New("no command after --")
	case !hasCmd && c.config == "":
		return c, errors.New("nothing to run: give -c FILE or -- CMD")
	}
	return c, nil
}

// parseRewrite reads --rewrite FROM:TO: two signal names or numbers.
// FROM must be one tend can catch and forward; TO may be any signal.
func parseRewrite(v string) (from, to syscall.Signal, err error) {
	a, b, ok := strings.Cut(v, ":")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want FROM:TO, e.g. TERM:QUIT", v)
	}
	if from, err = signals.Parse(a); err != nil {
		return 0, 0, err
	}
	if to, err = signals.Parse(b); err != nil {
		return 0, 0, err
	}
	if signals.InInit(from) != signals.Forward || signals.Synchronous(from) {
		return 0, 0, fmt.Errorf("%q: tend does not forward %s", v, signals.Name(from))
	}
	return from, to, nil
}

// counter is a boolean flag that adds to an int each time it is given.
type counter struct {
	n    *int
	step int
}

func (c counter) String() string   { return "" }
func (c counter) IsBoolFlag() bool { return true }
func (c counter) Set(s string) error {
	if on, err := strconv.ParseBool(s); err != nil || !on {
		return errors.New("takes no value")
	}
	*c.n += c.step
	return nil
}

// newLogger writes tend's own log to w. Init mode is quiet like tini
// (warnings and errors only); supervisor mode reports every state change
// at info. Each -v goes one level further down.
func newLogger(w io.Writer, format string, verbose int, supervising bool) zerolog.Logger {
	level := zerolog.WarnLevel
	if supervising {
		level = zerolog.InfoLevel
	}
	if verbose > 0 {
		level = max(zerolog.DebugLevel-zerolog.Level(verbose-1), zerolog.TraceLevel)
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339Nano, NoColor: !isTerminal(os.Stderr)}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// buildVersion is stamped at release time:
// go build -ldflags "-X main.buildVersion=v1.2.3".
var buildVersion string

// version is the stamped version, else the module version, else the VCS
// revision of a local build.
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && (v == "" || v == "(devel)") {
			v = s.Value[:min(12, len(s.Value))]
		}
	}
	return strings.TrimSpace(v)
}
