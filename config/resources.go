package config

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// This file holds the keys of a program's resources and privileges
// (SPEC "Resources and privileges"): rlimits, capabilities, and the
// cgroup sizes; the tables of their names and their value decoders.

// Unlimited is a resource limit of "infinity" (RLIM_INFINITY).
const Unlimited = math.MaxUint64

// Rlimit is one entry of a program's rlimits.
type Rlimit struct {
	// Name is the resource as prlimit(1) and systemd's Limit* keys name
	// it, lower case: "nofile".
	Name string
	// Resource is its number, unix.RLIMIT_*.
	Resource int
	// Soft and Hard are the limits; Unlimited for "infinity".
	Soft, Hard uint64
}

// unit is what a resource limit counts, which decides the strings it
// takes besides a number and "infinity".
type unit int

const (
	unitCount   unit = iota // a number only
	unitBytes               // also a size: "512MiB"
	unitSeconds             // also a duration of whole seconds: "1h"
	unitMicros              // also a duration, kept in microseconds: "500ms"
)

// rlimitNames are the resources rlimits takes, by name, sorted.
var rlimitNames = []struct {
	name     string
	resource int
	unit     unit
}{
	{"as", unix.RLIMIT_AS, unitBytes},
	{"core", unix.RLIMIT_CORE, unitBytes},
	{"cpu", unix.RLIMIT_CPU, unitSeconds},
	{"data", unix.RLIMIT_DATA, unitBytes},
	{"fsize", unix.RLIMIT_FSIZE, unitBytes},
	{"locks", unix.RLIMIT_LOCKS, unitCount},
	{"memlock", unix.RLIMIT_MEMLOCK, unitBytes},
	{"msgqueue", unix.RLIMIT_MSGQUEUE, unitBytes},
	{"nice", unix.RLIMIT_NICE, unitCount},
	{"nofile", unix.RLIMIT_NOFILE, unitCount},
	{"nproc", unix.RLIMIT_NPROC, unitCount},
	{"rss", unix.RLIMIT_RSS, unitBytes},
	{"rtprio", unix.RLIMIT_RTPRIO, unitCount},
	{"rttime", unix.RLIMIT_RTTIME, unitMicros},
	{"sigpending", unix.RLIMIT_SIGPENDING, unitCount},
	{"stack", unix.RLIMIT_STACK, unitBytes},
}

// Capability is a capability's number, unix.CAP_*.
type Capability int

// capNames are the capabilities of capabilities(7), by number, without
// their CAP_ prefix.
var capNames = [...]string{
	unix.CAP_CHOWN:              "CHOWN",
	unix.CAP_DAC_OVERRIDE:       "DAC_OVERRIDE",
	unix.CAP_DAC_READ_SEARCH:    "DAC_READ_SEARCH",
	unix.CAP_FOWNER:             "FOWNER",
	unix.CAP_FSETID:             "FSETID",
	unix.CAP_KILL:               "KILL",
	unix.CAP_SETGID:             "SETGID",
	unix.CAP_SETUID:             "SETUID",
	unix.CAP_SETPCAP:            "SETPCAP",
	unix.CAP_LINUX_IMMUTABLE:    "LINUX_IMMUTABLE",
	unix.CAP_NET_BIND_SERVICE:   "NET_BIND_SERVICE",
	unix.CAP_NET_BROADCAST:      "NET_BROADCAST",
	unix.CAP_NET_ADMIN:          "NET_ADMIN",
	unix.CAP_NET_RAW:            "NET_RAW",
	unix.CAP_IPC_LOCK:           "IPC_LOCK",
	unix.CAP_IPC_OWNER:          "IPC_OWNER",
	unix.CAP_SYS_MODULE:         "SYS_MODULE",
	unix.CAP_SYS_RAWIO:          "SYS_RAWIO",
	unix.CAP_SYS_CHROOT:         "SYS_CHROOT",
	unix.CAP_SYS_PTRACE:         "SYS_PTRACE",
	unix.CAP_SYS_PACCT:          "SYS_PACCT",
	unix.CAP_SYS_ADMIN:          "SYS_ADMIN",
	unix.CAP_SYS_BOOT:           "SYS_BOOT",
	unix.CAP_SYS_NICE:           "SYS_NICE",
	unix.CAP_SYS_RESOURCE:       "SYS_RESOURCE",
	unix.CAP_SYS_TIME:           "SYS_TIME",
	unix.CAP_SYS_TTY_CONFIG:     "SYS_TTY_CONFIG",
	unix.CAP_MKNOD:              "MKNOD",
	unix.CAP_LEASE:              "LEASE",
	unix.CAP_AUDIT_WRITE:        "AUDIT_WRITE",
	unix.CAP_AUDIT_CONTROL:      "AUDIT_CONTROL",
	unix.CAP_SETFCAP:            "SETFCAP",
	unix.CAP_MAC_OVERRIDE:       "MAC_OVERRIDE",
	unix.CAP_MAC_ADMIN:          "MAC_ADMIN",
	unix.CAP_SYSLOG:             "SYSLOG",
	unix.CAP_WAKE_ALARM:         "WAKE_ALARM",
	unix.CAP_BLOCK_SUSPEND:      "BLOCK_SUSPEND",
	unix.CAP_AUDIT_READ:         "AUDIT_READ",
	unix.CAP_PERFMON:            "PERFMON",
	unix.CAP_BPF:                "BPF",
	unix.CAP_CHECKPOINT_RESTORE: "CHECKPOINT_RESTORE",
}

// String is the capability's name as capabilities(7) writes it:
// "CAP_NET_BIND_SERVICE".
func (c Capability) String() string {
	if c >= 0 && int(c) < len(capNames) {
		return "CAP_" + capNames[c]
	}
	return "capability " + strconv.Itoa(int(c))
}

// parseCapability reads a capability name, with or without its CAP_
// prefix, in any case: "NET_BIND_SERVICE", "cap_net_bind_service".
func parseCapability(s string) (Capability, bool) {
	name := capName(s)
	for c, n := range capNames {
		if n == name {
			return Capability(c), true
		}
	}
	return 0, false
}

// capName is s as capNames spells names.
func capName(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	return strings.TrimPrefix(s, "CAP_")
}

// rlimits decodes the rlimits table: a limit or [soft, hard] per
// resource. The result is sorted by name.
func (d *decoder) rlimits(l loc, v any) []Rlimit {
	m, ok := d.table(l, v)
	if !ok {
		return nil
	}
	var out []Rlimit
	handlers := make(map[string]func(loc, any), len(rlimitNames))
	for _, r := range rlimitNames {
		handlers[r.name] = func(l loc, v any) {
			if soft, hard, ok := d.rlimit(l, v, r.unit); ok {
				out = append(out, Rlimit{Name: r.name, Resource: r.resource, Soft: soft, Hard: hard})
			}
		}
	}
	d.fields(l, m, handlers) // in key order: out is sorted
	return out
}

// rlimit decodes one resource's limit: one value for both, or [soft,
// hard] with soft <= hard.
func (d *decoder) rlimit(l loc, v any, u unit) (soft, hard uint64, ok bool) {
	a, isArray := v.([]any)
	if !isArray {
		n, ok := d.limit(l, v, u)
		return n, n, ok
	}
	if len(a) != 2 {
		d.errorf(l, "expected [soft, hard], got %d values", len(a))
		return 0, 0, false
	}
	soft, okSoft := d.limit(l.elem(0), a[0], u)
	hard, okHard := d.limit(l.elem(1), a[1], u)
	if !okSoft || !okHard {
		return 0, 0, false
	}
	if soft > hard {
		d.errorf(l, "soft limit %s is more than hard limit %s", FormatLimit(soft), FormatLimit(hard))
		return 0, 0, false
	}
	return soft, hard, true
}

// FormatLimit writes a limit as rlimits takes it: a number, or
// "infinity".
func FormatLimit(n uint64) string {
	if n == Unlimited {
		return "infinity"
	}
	return strconv.FormatUint(n, 10)
}

// limitWants says, by unit, what a limit written as a string may be.
var limitWants = [...]string{
	unitCount:   `a number, "infinity" or "unlimited"`,
	unitBytes:   `a number of bytes, a size like "512MiB", "infinity" or "unlimited"`,
	unitSeconds: `a number of seconds, a duration like "1h", "infinity" or "unlimited"`,
	unitMicros:  `a number of microseconds, a duration like "500ms", "infinity" or "unlimited"`,
}

// limit decodes one limit: a number of the resource's unit, or a
// string: digits (the same number), "infinity" or "unlimited", and as
// the unit allows a size or a duration.
func (d *decoder) limit(l loc, v any, u unit) (uint64, bool) {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			d.errorf(l, "must not be negative, not %d", v)
			return 0, false
		}
		return uint64(v), true
	case string:
		s, ok := d.str(l, v)
		if !ok {
			return 0, false
		}
		if n, ok := parseLimit(s, u); ok {
			return n, true
		}
		d.errorf(l, "bad limit %q: want %s", s, limitWants[u])
		return 0, false
	}
	d.errorf(l, `expected a number, "infinity" or [soft, hard], got %s`, describe(v))
	return 0, false
}

// parseLimit parses a limit written as a string.
func parseLimit(s string, u unit) (uint64, bool) {
	if digits(s) {
		n, err := strconv.ParseUint(s, 10, 64)
		return n, err == nil
	}
	switch strings.ToLower(s) {
	case "infinity", "unlimited":
		return Unlimited, true
	}
	switch u {
	case unitBytes:
		if n, err := parseSize(s); err == nil {
			return uint64(n), true
		}
	case unitSeconds, unitMicros:
		dur, err := time.ParseDuration(s)
		if err != nil || dur < 0 {
			return 0, false
		}
		if u == unitMicros {
			return uint64(dur / time.Microsecond), dur%time.Microsecond == 0
		}
		return uint64(dur / time.Second), dur%time.Second == 0
	}
	return 0, false
}

// capabilities decodes capabilities: a list of names. The result is
// sorted, without duplicates, and not nil: an empty list keeps none.
func (d *decoder) capabilities(l loc, v any) []Capability {
	a, ok := v.([]any)
	if !ok {
		d.errorf(l, `expected an array of capability names like "NET_BIND_SERVICE", got %s`, describe(v))
		return nil
	}
	caps := []Capability{}
	for i, e := range a {
		s, ok := d.str(l.elem(i), e)
		if !ok {
			continue
		}
		c, ok := parseCapability(s)
		if !ok && capName(s) == "ALL" {
			// Docker's --cap-add ALL: here the list is all there is.
			d.errorf(l.elem(i), "%q is not a capability: list each one the program needs", s)
			continue
		}
		if !ok {
			d.errorf(l.elem(i), "unknown capability %q%s", s, d.suggest(capName(s), capNames[:]))
			continue
		}
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	slices.Sort(caps)
	return caps
}

// memoryMax decodes memory_max: a size of more than 0, or "max" (no
// limit: 0).
func (d *decoder) memoryMax(l loc, v any) int64 {
	var n int64
	switch v := v.(type) {
	case int64:
		n = v
	case string:
		s, ok := d.str(l, v)
		if !ok {
			return 0
		}
		if strings.EqualFold(s, "max") {
			return 0
		}
		var err error
		if n, err = parseSize(s); err != nil {
			d.errorf(l, "%v", err)
			return 0
		}
	default:
		d.errorf(l, `expected a size (bytes, or a string like "512MiB") or "max", got %s`, describe(v))
		return 0
	}
	if n <= 0 {
		d.errorf(l, `must be more than 0 (or "max": no limit), not %d`, n)
		return 0
	}
	return n
}

// Bounds of cpus: cpu.max gives a quota per 100ms period, of at least
// 1ms.
const (
	minCPUs = 0.01
	maxCPUs = 10000
)

// cpus decodes cpus: a number of CPUs, from minCPUs to maxCPUs.
func (d *decoder) cpus(l loc, v any) float64 {
	f, ok := d.number(l, v)
	if ok && (f < minCPUs || f > maxCPUs) {
		d.errorf(l, "must be between %g and %d, not %g", minCPUs, maxCPUs, f)
		return 0
	}
	return f
}

// maxPids is the kernel's PID_MAX_LIMIT: a pids_max above it is no
// limit at all.
const maxPids = 4 << 20

func ptr[T any](v T) *T { return &v }
