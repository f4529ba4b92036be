// Package config turns tend's TOML file into a validated Config with every
// default filled in.
//
// Parsing never stops at the first problem: syntax errors, unknown keys,
// wrong types, bad values, bad signal names, unknown and cyclic
// dependencies are all collected and returned together as an *Errors, each
// entry printed as FILE:LINE: KEY: message and sorted by line. Nothing is
// started from a file with any error in it.
//
// The file format, its defaults and the choices tend made where
// supervisord differs are documented in docs/config.md.
package config

import (
	"github.com/robfig/cron/v3"

	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"tend/api"
	"tend/internal/regex"
)

// MaxInstances caps `instances`: a guard against a typo that would fork
// a million processes. `tend ctl scale` has the same cap.
const MaxInstances = api.MaxInstances

// Config is a loaded, validated supervisor configuration. Treat it as
// read-only: the instances of one program share their slices and maps.
// Two Configs can be compared with reflect.DeepEqual (no funcs, no
// positions), which is what a reload needs to find changed programs.
type Config struct {
	// File is the name the configuration was read from, as given.
	File string
	// Dir is the absolute directory of File, that relative paths in it
	// (socket, directory, stdout, stderr, env_file, include) were
	// resolved against. Those in an included file are relative to that
	// file's own directory.
	Dir string
	// Files are File and the files its [tend] include names, in the
	// order they were merged. A reload reads them all again.
	Files []string
	// Tend holds the [tend] table.
	Tend Tend
	// Programs are the expanded [programs.NAME] tables, one per instance,
	// sorted by group name and then by instance number (web:2 before
	// web:10).
	Programs []*Program
}

// Lookup returns the program named name ("db", "web:0"), or nil.
func (c *Config) Lookup(name string) *Program {
	for _, p := range c.Programs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Tend is the [tend] table: settings of tend itself.
type Tend struct {
	// ShutdownTimeout (shutdown_timeout, default 30s, must be > 0) bounds
	// the whole ordered shutdown. Read when a shutdown starts.
	ShutdownTimeout time.Duration `key:"shutdown_timeout" reload:"live"`
	// Drain (drain, default 0s) is how long tend keeps every program
	// running, not ready, before it stops them on TERM, INT, QUIT, `ctl
	// shutdown` or a critical failure. It counts inside ShutdownTimeout,
	// and must be shorter. Read when a shutdown starts.
	Drain time.Duration `key:"drain" reload:"live"`
	// MaxStarting (max_starting, default 0: no bound) is how many
	// programs may be starting at once (STARTING, a oneshot running, a
	// hook running); the others wait for a slot, in file order.
	MaxStarting int `key:"max_starting" reload:"live"`
	// Socket (socket, default api.DefaultSocket) is the control socket's
	// path; "" disables it. A relative path is relative to Config.Dir.
	Socket string `key:"socket" reload:"start"`
	// SocketMode (socket_mode, default 0600) is the control socket's
	// permission bits, written as an octal string ("0660") or an integer.
	SocketMode os.FileMode `key:"socket_mode" reload:"start"`
	// SocketGroup (socket_group, default "": tend's own group) is the
	// group that owns the control socket: a name or a numeric gid.
	SocketGroup string `key:"socket_group" reload:"start"`
	// LogFormat (log_format, default "console") is "console" or "json".
	LogFormat string `key:"log_format" reload:"start"`
	// Metrics (metrics, default "": off) is the host:port serving
	// /metrics, /healthz and /readyz.
	Metrics string `key:"metrics" reload:"start"`
	// EnvFile (env_file, default nil) is read for every program, before
	// the program's own env_file and environment: each Program's
	// EnvFiles starts with it.
	EnvFile *EnvFile `key:"env_file" reload:"live"`
	// StartTimeout (start_timeout, default 0s: no bound) bounds how long
	// the main program (-- CMD) waits for the sidecars to be ready (or
	// ended) before it starts. Read once, at tend's start.
	StartTimeout time.Duration `key:"start_timeout" reload:"start"`
	// OnStartTimeout (on_start_timeout, default StartContinue) is what
	// happens when StartTimeout passes.
	OnStartTimeout OnStartTimeout `key:"on_start_timeout" reload:"start"`

	// Cgroups (cgroups, default CgroupsAuto) says whether tend gives each
	// program a cgroup (v2) of its own (docs/supervisor.md, "Resources:
	// cgroups"): CgroupsAuto where tend's cgroup is the container's or
	// delegated to it, and writable; CgroupsRequired where it is
	// writable, and a start error (exit 2) where it is not or a key
	// cannot be honoured; CgroupsOff never.
	Cgroups string `key:"cgroups" reload:"start"`
}

// The values of [tend] cgroups.
const (
	CgroupsAuto     = "auto"
	CgroupsRequired = "required"
	CgroupsOff      = "off"
)

// OnStartTimeout is what happens when the main program's wait for the
// sidecars passes [tend] start_timeout.
type OnStartTimeout string

const (
	// StartContinue starts the main program all the same, with a
	// warning naming the sidecars that are not ready.
	StartContinue OnStartTimeout = "continue"
	// StartFail stops what runs and exits 1.
	StartFail OnStartTimeout = "fail"
)

// Every field of Tend is tagged with its key and with when tend reads
// it: reload:"start" for a key read once, at tend's start (a reload that
// changes it can only say so), reload:"live" for one a reload changes.
// TestTendTags keeps every field tagged, so a new key cannot be left out.

// StartOnly names the keys tagged reload:"start" whose values differ
// between t and next, in the order of Tend's fields.
func (t Tend) StartOnly(next Tend) []string {
	var keys []string
	a, b := reflect.ValueOf(t), reflect.ValueOf(next)
	for i := range a.NumField() {
		f := a.Type().Field(i)
		if f.Tag.Get("reload") == "start" && !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			keys = append(keys, f.Tag.Get("key"))
		}
	}
	return keys
}

// Type is a program's kind.
type Type string

// Program types.
const (
	// Longrun is a service: it is expected to keep running.
	Longrun Type = "longrun"
	// Oneshot runs to completion: COMPLETED when its exit code is in
	// exitcodes, FAILED otherwise.
	Oneshot Type = "oneshot"
)

// Restart is a program's autorestart policy.
type Restart string

// Restart policies, with supervisord's meaning.
const (
	// RestartAlways restarts a program whenever it exits.
	RestartAlways Restart = "always"
	// RestartOnFailure restarts a program whose exit code is not in
	// exitcodes or that was killed by a signal.
	RestartOnFailure Restart = "on-failure"
	// RestartNever leaves an exited program EXITED (or COMPLETED/FAILED).
	RestartNever Restart = "never"
)

// Condition is what a dependent waits for.
type Condition string

// Dependency conditions.
const (
	// CondDefault comes from the list form of depends_on: it means
	// CondRunning for a longrun dependency and CondCompleted for a oneshot.
	CondDefault Condition = "default"
	// CondRunning waits until the dependency is RUNNING.
	CondRunning Condition = "running"
	// CondHealthy waits until the dependency is RUNNING and healthy; a
	// program without a healthcheck is healthy once RUNNING.
	CondHealthy Condition = "healthy"
	// CondCompleted waits until a oneshot dependency is COMPLETED.
	CondCompleted Condition = "completed"
	// CondReady waits until a longrun dependency is ready: RUNNING and
	// as its ready setting and readiness check say (Program.Gated). A
	// plain depends_on on a gated longrun means this too.
	CondReady Condition = "ready"
)

// Dep is one dependency of a program, on one instance.
type Dep struct {
	// Name is the dependency's program name: "db", or "db:0" when the
	// dependency has several instances (depends_on naming a group means
	// every instance of it).
	Name string
	// Condition is what to wait for.
	Condition Condition
	// Restart (depends_on = { db = { condition = …, restart = true } }):
	// when the dependency restarts or goes FATAL, the dependent is
	// stopped, and started again once the condition holds again.
	Restart bool
}

// OutputMode says where a program's stdout or stderr goes.
type OutputMode string

// Output modes.
const (
	// Inherit passes tend's own file descriptor to the program (no copy).
	Inherit OutputMode = "inherit"
	// Prefix copies lines to tend's stdout or stderr as "name | line".
	Prefix OutputMode = "prefix"
	// JSON copies each line to tend's stdout, stderr's too, as a JSON
	// line: {"time","program","stream","line"}.
	JSON OutputMode = "json"
	// File writes to Output.Path, rotated at MaxBytes with Backups kept.
	File OutputMode = "file"
)

// Default rotation of file outputs.
const (
	DefaultMaxBytes = 10 << 20 // 10 MiB
	DefaultBackups  = 5
)

// Output is the destination of a program's stdout or stderr.
type Output struct {
	// Mode is Inherit (the default), Prefix, JSON or File.
	Mode OutputMode
	// Path is the absolute file path for File; "" otherwise.
	Path string
	// MaxBytes (stdout_maxbytes / stderr_maxbytes, default 10 MiB) is the
	// size at which the file is rotated; 0 never rotates. 0 unless File.
	MaxBytes int64
	// Backups (stdout_backups / stderr_backups, default 5) is how many
	// rotated files are kept; 0 keeps none. 0 unless File.
	Backups int
}

// User is the identity a program runs as, from `user = "name[:group]"` or
// `"uid[:gid]"`. Names are resolved by the supervisor when it starts the
// program, not here.
type User struct {
	// Spec is the value as written (after ${VAR} expansion).
	Spec string
	// Name is the user name; "" when given as a number.
	Name string
	// UID is the numeric user id; -1 when given as a name.
	UID int
	// Group is the group name; "" when absent or given as a number.
	Group string
	// GID is the numeric group id; -1 when absent or given as a name.
	// With no group at all, the user's primary group applies.
	GID int
}

// Backoff is the delay before a restart: after the n-th failed start in
// a row, or the n-th unexpected exit in a row of runs shorter than
// Reset (the first of those restarts at once), Initial * Factor^(n-1),
// capped at Max, with jitter added by the supervisor.
type Backoff struct {
	// Initial (default 1s) is the delay after the first failed start.
	Initial time.Duration
	// Max (default 30s, >= Initial) caps the delay.
	Max time.Duration
	// Factor (default 2.0, >= 1) multiplies the delay after each failure.
	Factor float64
	// Reset (reset, default Max): a run that lasts this long (tend
	// time) clears the ladder of unexpected exits; 0 clears it after
	// every run, so a crash always restarts at once.
	Reset time.Duration
}

// MaxRestartLimit bounds RestartLimit.Count: the supervisor keeps the
// time of up to Count+1 restarts per program.
const MaxRestartLimit = 10_000

// RestartLimit is the restart_limit table: more than Count automatic
// restarts within Window is FATAL.
type RestartLimit struct {
	// Count (count, required, 0 to MaxRestartLimit) is how many
	// restarts the window may hold.
	Count int
	// Window (window, default 60s, > 0) is how far back restarts count.
	Window time.Duration
}

// OnUnhealthy is what happens when a health check declares a program
// unhealthy.
type OnUnhealthy string

// Reactions to an unhealthy program.
const (
	// UnhealthyRestart stops and restarts the program.
	UnhealthyRestart OnUnhealthy = "restart"
	// UnhealthyIgnore only records and reports the state.
	UnhealthyIgnore OnUnhealthy = "ignore"
)

// ProbeKind is what a health check does, named by its key: the one of
// exec, http and tcp that its table sets.
type ProbeKind string

// Probe kinds.
const (
	// ProbeExec runs a command (exec).
	ProbeExec ProbeKind = "exec"
	// ProbeHTTP sends a GET (http).
	ProbeHTTP ProbeKind = "http"
	// ProbeTCP connects (tcp).
	ProbeTCP ProbeKind = "tcp"
)

// probeKinds are the kinds, in the order errors name them.
var probeKinds = []ProbeKind{ProbeExec, ProbeHTTP, ProbeTCP}

// Healthcheck is a program's [programs.NAME.healthcheck] table. Kind
// says which one of Exec, HTTP and TCP is set; the decoder decides it
// once, so no user of a Healthcheck infers it from the fields.
type Healthcheck struct {
	// Kind is the probe's kind.
	Kind ProbeKind
	// Exec (exec) is a probe command; exit code 0 passes. A string is
	// run as /bin/sh -c STRING, like Program.Command.
	Exec []string
	// Shell reports that Exec came from a string.
	Shell bool
	// HTTP (http) is an http:// URL to GET.
	HTTP string
	// TCP (tcp) is a host:port to connect to.
	TCP string
	// Interval (interval, default 5s, > 0) is the time from one probe's
	// start to the next one's.
	Interval time.Duration
	// StartInterval (start_interval, default 0s: interval) is the time
	// between probes of a run until one passes, as Docker's: a short one
	// makes a program whose readiness is a probe ready soon after it
	// starts, with interval's pace after.
	StartInterval time.Duration
	// Timeout (timeout, default 2s, > 0): a probe still going after it
	// has failed.
	Timeout time.Duration
	// Retries (retries, default 3, >= 1) is how many failures in a row
	// make the program unhealthy.
	Retries int
	// StartPeriod (start_period, default 0s): failures this soon after
	// the start do not count.
	StartPeriod time.Duration
	// OnUnhealthy (on_unhealthy, default "restart").
	OnUnhealthy OnUnhealthy
}

// ReadyKind is how a program says it is ready (the ready key).
type ReadyKind string

// Ready kinds.
const (
	// ReadyStarted: ready once RUNNING (after startsecs), as without
	// the key.
	ReadyStarted ReadyKind = "started"
	// ReadyNotify: READY=1 on the program's own NOTIFY_SOCKET
	// (sd_notify).
	ReadyNotify ReadyKind = "notify"
	// ReadyFd: a newline written to fd Ready.Fd (s6's notification-fd).
	ReadyFd ReadyKind = "fd"
	// ReadyLog: a line of its output (prefix or file) matches Ready.Log.
	ReadyLog ReadyKind = "log"
	// ReadyHealthy: its readiness check, or else its health check,
	// passed once.
	ReadyHealthy ReadyKind = "healthy"
)

// Ready is a program's ready key: ready = "started" | "notify" |
// "healthy" | { fd = N } | { log = "regex" }.
type Ready struct {
	Kind ReadyKind
	// Fd is the fd number the program writes its newline to, 3 to 255,
	// for ReadyFd.
	Fd int
	// Log is the pattern, as written, for ReadyLog: a subset of Go's
	// regexp syntax (internal/regex); Pattern is it compiled.
	Log     string
	Pattern *regex.Pattern
}

// DefaultReadyTimeout is ready_timeout when ready is set and the key is
// not.
const DefaultReadyTimeout = 90 * time.Second

// Program is one instance of a [programs.NAME] table, with every default
// filled in. Key names and meanings follow supervisord where it has the
// same key.
type Program struct {
	// Name is the instance's name: NAME, or NAME:I when instances > 1.
	Name string
	// Group is NAME, the table's name, shared by all its instances.
	Group string
	// Instance is this instance's number, 0 to instances-1 (0 when
	// there is one instance).
	Instance int
	// Order is the place of the program's table in the files, main file
	// first, then the included ones in merge order: the order programs
	// take start slots in (max_starting).
	Order int

	// Command (command, required) is the argv to exec. A string command
	// is stored as ["/bin/sh", "-c", STRING] with Shell set.
	Command []string
	// Shell reports that Command came from a string.
	Shell bool
	// Type (type, default Longrun).
	Type Type
	// Directory (directory, default "": tend's own working directory) is
	// the working directory; a relative path is relative to Config.Dir.
	Directory string
	// User (user, default nil: tend's own user).
	User *User
	// Environment (environment, default empty) is added to tend's own
	// environment, over the variables of EnvFiles. Values may be written
	// as strings, numbers or booleans.
	Environment map[string]string
	// EnvFiles are the env files whose variables the program gets, in
	// order, a later one winning: [tend] env_file, then its own
	// env_file. Shared with the other programs that read the same file.
	EnvFiles []*EnvFile
	// ClearEnv (clear_env, default false) starts the program's
	// environment from nothing but PATH, HOME and USER instead of tend's
	// whole environment; its own variables (Env) come on top.
	ClearEnv bool
	// Umask (umask, default nil: inherit tend's) is the file mode
	// creation mask, written "022" or 0o022.
	Umask *os.FileMode

	// Autostart (autostart, default true) starts the program with tend.
	Autostart bool
	// Autorestart (autorestart, default RestartOnFailure for a longrun,
	// RestartNever for a oneshot). A oneshot cannot be RestartAlways.
	Autorestart Restart
	// ExitCodes (exitcodes, default [0]) are the expected exit codes.
	ExitCodes []int
	// StartSecs (startsecs, default 1s, 0 for a oneshot): a run shorter
	// than this is a failed start, whatever its exit code.
	StartSecs time.Duration
	// StartRetries (startretries, default 3) counts retries after the
	// first failed start: 1+StartRetries failed starts in a row is FATAL.
	StartRetries int
	// Backoff (backoff) is the delay between failed starts, and between
	// restarts after unexpected exits of runs that were up.
	Backoff Backoff
	// RestartLimit (restart_limit, default nil: none) makes too many
	// automatic restarts in a window FATAL.
	RestartLimit *RestartLimit
	// StopSignal (stopsignal, default SIGTERM) is sent to the process
	// group to stop the program.
	StopSignal syscall.Signal
	// StopWaitSecs (stopwaitsecs, default 10s) is how long to wait after
	// StopSignal before SIGKILL.
	StopWaitSecs time.Duration
	// DependsOn (depends_on, default none) lists the instances this one
	// waits for, sorted by name. Shared by all instances of a group.
	DependsOn []Dep
	// Critical (critical, default false): this program failing for good
	// stops tend with its exit code.
	Critical bool
	// Stdout (stdout, stdout_maxbytes, stdout_backups; default Inherit).
	Stdout Output
	// Stderr (stderr, stderr_maxbytes, stderr_backups; default Inherit).
	Stderr Output
	// Healthcheck ([programs.NAME.healthcheck], default nil: none).
	Healthcheck *Healthcheck

	// Ready (ready, default ReadyStarted) is how the program says it
	// is ready. With any other kind it is STARTING until it is ready.
	Ready Ready
	// ReadyTimeout (ready_timeout, default DefaultReadyTimeout with
	// ready set, 0 otherwise): not ready by then is a failed start.
	ReadyTimeout time.Duration
	// Watchdog (watchdog, default 0: none; ready = "notify" only): no
	// WATCHDOG=1 for this long once ready, and the program is stopped
	// and restarted.
	Watchdog time.Duration
	// Readiness ([programs.NAME.readiness], default nil: none) is a
	// probe that decides ready or not ready while the program runs; it
	// never restarts it. OnUnhealthy is unused.
	Readiness *Healthcheck
	// Schedule (schedule or every, default nil: none) runs a oneshot on
	// a timetable instead of once.
	Schedule *Schedule

	// PreStart (pre_start, default none) runs before each start; a start
	// whose hook does not exit 0 within HookTimeout is a failed start.
	PreStart []string
	// PreStop (pre_stop, default none) runs before the stop signal, on
	// every stop: shutdown (at the drain's start), ctl stop and restart,
	// a reload.
	PreStop []string
	// PostStop (post_stop, default none) runs once the program and its
	// process group are gone, before a restart or an end state.
	PostStop []string
	// HookTimeout (hook_timeout, default 10s, > 0) bounds each hook: then
	// SIGKILL to the hook's group.
	HookTimeout time.Duration

	// Resources and privileges, set in the child between fork and exec
	// (docs/supervisor.md), for the program and its exec health checks.

	// Rlimits (rlimits, default none: tend's own) are resource limits,
	// sorted by name.
	Rlimits []Rlimit
	// NoNewPrivs (no_new_privs, default false) sets no_new_privs: setuid
	// bits and file capabilities grant nothing at exec.
	NoNewPrivs bool
	// Capabilities (capabilities, default nil: tend's own), sorted: for a
	// program running as root, its bounding set (the others are
	// dropped); for another user, also its ambient set. An empty, non-nil
	// list keeps none.
	Capabilities []Capability
	// OOMScoreAdj (oom_score_adj, default nil: tend's own), -1000 to
	// 1000.
	OOMScoreAdj *int
	// Nice (nice, default nil: tend's own), -20 to 19.
	Nice *int

	// The program's own cgroup (v2), applied by the cgroup support.

	// MemoryMax (memory_max, default 0: no limit) is memory.max, in
	// bytes.
	MemoryMax int64
	// CPUs (cpus, default 0: no limit) is cpu.max as a number of CPUs,
	// 0.01 to 10000.
	CPUs float64
	// PidsMax (pids_max, default 0: no limit) is pids.max, 1 to
	// 4194304.
	PidsMax int64
}

// Gated reports whether the program's readiness is more than RUNNING:
// a ready setting other than "started", or a readiness check. A plain
// depends_on on a gated longrun waits for it to be ready.
func (p *Program) Gated() bool {
	return p.Ready.Kind != ReadyStarted || p.Readiness != nil
}

// Env is the program's own variables: those of its EnvFiles, in order,
// then Environment, a later one winning. It may be p.Environment itself:
// read it, never change it.
func (p *Program) Env() map[string]string {
	if len(p.EnvFiles) == 0 {
		return p.Environment
	}
	env := map[string]string{}
	for _, f := range p.EnvFiles {
		maps.Copy(env, f.Vars)
	}
	maps.Copy(env, p.Environment)
	return env
}

// LookupEnv is Env()[name], without building the map.
func (p *Program) LookupEnv(name string) (string, bool) {
	if v, ok := p.Environment[name]; ok {
		return v, true
	}
	for _, f := range slices.Backward(p.EnvFiles) {
		if v, ok := f.Vars[name]; ok {
			return v, true
		}
	}
	return "", false
}

// Schedule is when a scheduled oneshot runs: at the times of a cron
// line (schedule = "*/5 * * * *") or every so long (every = "10m"). A
// scheduled program's first run is its first time in the timetable,
// not tend's start.
type Schedule struct {
	// Cron is the schedule key as written: five fields (minute, hour,
	// day of month, month, day of week) or @hourly, @daily, @every 1h30m…,
	// read by github.com/robfig/cron/v3's standard parser. "" with Every.
	Cron string
	// Every is the every key: the time from one run's start to the next.
	Every time.Duration
	spec  cron.Schedule
}

// Next is the first time after t the program is due, on t's clock:
// wall time for a cron line, any clock for Every.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.spec == nil {
		return t.Add(s.Every)
	}
	return s.spec.Next(t)
}

// Error is one problem in a configuration file.
type Error struct {
	// File is the file the problem is in: the configuration's name as
	// given to Parse or Load, or that of a file it includes.
	File string
	// Line is the 1-based line of the offending key (or, for a missing
	// key, of its table); 0 when unknown.
	Line int
	// Key is the dotted key, e.g. "programs.web.stopsignal"; "" for a
	// TOML syntax error.
	Key string
	// Msg says what is wrong.
	Msg string
}

// Error formats e as FILE:LINE: KEY: MSG, leaving out the parts it lacks.
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one configuration, sorted by file
// (the main file, then those it includes, in order) and line. Parse and
// Load return it as *Errors.
type Errors []Error

// Error prints one problem per line.
func (es *Errors) Error() string {
	lines := make([]string, len(*es))
	for i, e := range *es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// defaultTend is the [tend] table when the file says nothing.
func defaultTend() Tend {
	return Tend{
		ShutdownTimeout: 30 * time.Second,
		OnStartTimeout:  StartContinue,
		Socket:          api.DefaultSocket,
		SocketMode:      0o600,
		LogFormat:       "console",
		Cgroups:         CgroupsAuto,
	}
}

// defaultProgram is a [programs.NAME] table with nothing but its name.
// Defaults that depend on the type (autorestart, startsecs) are filled in
// after decoding, by typeDefaults.
func defaultProgram(name string) Program {
	return Program{
		Name:         name,
		Group:        name,
		Type:         Longrun,
		Environment:  map[string]string{},
		Autostart:    true,
		ExitCodes:    []int{0},
		StartRetries: 3,
		Backoff:      Backoff{Initial: time.Second, Max: 30 * time.Second, Factor: 2, Reset: 30 * time.Second},
		StopSignal:   syscall.SIGTERM,
		StopWaitSecs: 10 * time.Second,
		HookTimeout:  10 * time.Second,
		Ready:        Ready{Kind: ReadyStarted},
		Stdout:       Output{Mode: Inherit},
		Stderr:       Output{Mode: Inherit},
	}
}

// defaultHealthcheck is a healthcheck table with only its probe set.
func defaultHealthcheck() *Healthcheck {
	return &Healthcheck{
		Interval:    5 * time.Second,
		Timeout:     2 * time.Second,
		Retries:     3,
		OnUnhealthy: UnhealthyRestart,
	}
}
