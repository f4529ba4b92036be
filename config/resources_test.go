package config

import (
	"math"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// TestResourceKeys: each spelling rlimits, capabilities, oom_score_adj,
// nice and the cgroup sizes accept, and what it decodes to.
func TestResourceKeys(t *testing.T) {
	n := func(v int) *int { return &v }
	lim := func(name string, res int, soft, hard uint64) []Rlimit {
		return []Rlimit{{Name: name, Resource: res, Soft: soft, Hard: hard}}
	}
	tests := []struct {
		src  string // appended to [programs.p] with its command
		get  func(p *Program) any
		want any
	}{
		// rlimits: one value for both, or [soft, hard]; sorted by name.
		{`rlimits = { nofile = 65536 }`, rlimitsOf, lim("nofile", unix.RLIMIT_NOFILE, 65536, 65536)},
		{`rlimits = { nproc = [512, 1024] }`, rlimitsOf, lim("nproc", unix.RLIMIT_NPROC, 512, 1024)},
		{`rlimits = { core = 0 }`, rlimitsOf, lim("core", unix.RLIMIT_CORE, 0, 0)},
		{`rlimits = { nofile = 65536, core = 0, nproc = [512, 1024] }`, rlimitsOf, []Rlimit{
			{"core", unix.RLIMIT_CORE, 0, 0}, {"nofile", unix.RLIMIT_NOFILE, 65536, 65536}, {"nproc", unix.RLIMIT_NPROC, 512, 1024}}},
		{`rlimits = { core = "infinity" }`, rlimitsOf, lim("core", unix.RLIMIT_CORE, Unlimited, Unlimited)},
		{`rlimits = { core = "Unlimited" }`, rlimitsOf, lim("core", unix.RLIMIT_CORE, Unlimited, Unlimited)},
		{`rlimits = { memlock = [0, "infinity"] }`, rlimitsOf, lim("memlock", unix.RLIMIT_MEMLOCK, 0, Unlimited)},
		{`rlimits = { nofile = ["1024", "${HARD:-4096}"] }`, rlimitsOf, lim("nofile", unix.RLIMIT_NOFILE, 1024, 4096)},
		{`rlimits = { as = "512MiB" }`, rlimitsOf, lim("as", unix.RLIMIT_AS, 512<<20, 512<<20)},
		{`rlimits = { stack = ["8MB", "1g"] }`, rlimitsOf, lim("stack", unix.RLIMIT_STACK, 8<<20, 1<<30)},
		{`rlimits = { cpu = "1h" }`, rlimitsOf, lim("cpu", unix.RLIMIT_CPU, 3600, 3600)},
		{`rlimits = { cpu = [60, "2m"] }`, rlimitsOf, lim("cpu", unix.RLIMIT_CPU, 60, 120)},
		{`rlimits = { rttime = "500ms" }`, rlimitsOf, lim("rttime", unix.RLIMIT_RTTIME, 500000, 500000)},
		{`rlimits = { rttime = 200 }`, rlimitsOf, lim("rttime", unix.RLIMIT_RTTIME, 200, 200)},
		{`rlimits = { nofile = 9223372036854775807 }`, rlimitsOf, lim("nofile", unix.RLIMIT_NOFILE, math.MaxInt64, math.MaxInt64)},
		{"[programs.p.rlimits]\nsigpending = 100\nrtprio = [0, 10]", rlimitsOf, []Rlimit{
			{"rtprio", unix.RLIMIT_RTPRIO, 0, 10}, {"sigpending", unix.RLIMIT_SIGPENDING, 100, 100}}},
		{`rlimits = {}`, rlimitsOf, []Rlimit(nil)},
		{``, rlimitsOf, []Rlimit(nil)},

		// capabilities: any case, with or without CAP_; sorted, once
		// each; [] keeps none, which is not the same as leaving it out.
		{`capabilities = ["NET_BIND_SERVICE"]`, capsOf, []Capability{unix.CAP_NET_BIND_SERVICE}},
		{`capabilities = ["cap_net_raw", "Cap_Chown", "NET_RAW", "${CAP:-KILL}"]`, capsOf,
			[]Capability{unix.CAP_CHOWN, unix.CAP_KILL, unix.CAP_NET_RAW}},
		{`capabilities = ["CHECKPOINT_RESTORE", "sys_admin"]`, capsOf, []Capability{unix.CAP_SYS_ADMIN, unix.CAP_CHECKPOINT_RESTORE}},
		{`capabilities = []`, capsOf, []Capability{}},
		{``, capsOf, []Capability(nil)},

		{`no_new_privs = true`, func(p *Program) any { return p.NoNewPrivs }, true},
		{``, func(p *Program) any { return p.NoNewPrivs }, false},
		{`oom_score_adj = 500`, func(p *Program) any { return p.OOMScoreAdj }, n(500)},
		{`oom_score_adj = -1000`, func(p *Program) any { return p.OOMScoreAdj }, n(-1000)},
		{``, func(p *Program) any { return p.OOMScoreAdj }, (*int)(nil)},
		{`nice = 5`, func(p *Program) any { return p.Nice }, n(5)},
		{`nice = -20`, func(p *Program) any { return p.Nice }, n(-20)},
		{`nice = 0`, func(p *Program) any { return p.Nice }, n(0)},
		{``, func(p *Program) any { return p.Nice }, (*int)(nil)},

		{`memory_max = "512MiB"`, func(p *Program) any { return p.MemoryMax }, int64(512 << 20)},
		{`memory_max = 1048576`, func(p *Program) any { return p.MemoryMax }, int64(1 << 20)},
		{`memory_max = "${MEM:-max}"`, func(p *Program) any { return p.MemoryMax }, int64(0)},
		{`cpus = 0.5`, func(p *Program) any { return p.CPUs }, 0.5},
		{`cpus = 2`, func(p *Program) any { return p.CPUs }, 2.0},
		{`pids_max = 256`, func(p *Program) any { return p.PidsMax }, int64(256)},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c := mustParse(t, "[programs.p]\ncommand = [\"p\"]\n"+tt.src+"\n")
			if got := tt.get(c.Programs[0]); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func rlimitsOf(p *Program) any { return p.Rlimits }
func capsOf(p *Program) any    { return p.Capabilities }

// TestResourceErrors: every bad value of the new keys is reported with
// file, line and key, with what would be right.
func TestResourceErrors(t *testing.T) {
	const prog = "[programs.p]\ncommand = \"p\"\n" // lines 1-2
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"rlimits type", prog + `rlimits = 5`, `t.toml:3: programs.p.rlimits: expected a table, got integer 5`},
		{"unknown resource", prog + `rlimits = { nofiles = 10 }`,
			`t.toml:3: programs.p.rlimits.nofiles: unknown key; did you mean "nofile"?`},
		{"upper case resource", prog + `rlimits = { NOFILE = 10 }`, `t.toml:3: programs.p.rlimits.NOFILE: unknown key`},
		{"negative", prog + `rlimits = { nofile = -1 }`, `t.toml:3: programs.p.rlimits.nofile: must not be negative, not -1`},
		{"float", prog + `rlimits = { nofile = 1.5 }`,
			`t.toml:3: programs.p.rlimits.nofile: expected a number, "infinity" or [soft, hard], got float 1.5`},
		{"boolean", prog + `rlimits = { core = false }`,
			`t.toml:3: programs.p.rlimits.core: expected a number, "infinity" or [soft, hard], got boolean false`},
		{"three values", prog + `rlimits = { nproc = [1, 2, 3] }`,
			`t.toml:3: programs.p.rlimits.nproc: expected [soft, hard], got 3 values`},
		{"one value in array", prog + `rlimits = { nproc = [1] }`,
			`t.toml:3: programs.p.rlimits.nproc: expected [soft, hard], got 1 values`},
		{"soft above hard", prog + `rlimits = { nproc = [1024, 512] }`,
			`t.toml:3: programs.p.rlimits.nproc: soft limit 1024 is more than hard limit 512`},
		{"infinite soft", prog + `rlimits = { nproc = ["infinity", 512] }`,
			`t.toml:3: programs.p.rlimits.nproc: soft limit infinity is more than hard limit 512`},
		{"element line", prog + "[programs.p.rlimits]\nnproc = [\n  1,\n  \"lots\",\n]",
			`t.toml:6: programs.p.rlimits.nproc: bad limit "lots": want a number, "infinity" or "unlimited"`},
		{"size for a count", prog + `rlimits = { nofile = "64K" }`,
			`t.toml:3: programs.p.rlimits.nofile: bad limit "64K": want a number, "infinity" or "unlimited"`},
		{"bad size", prog + `rlimits = { as = "512 MiBs" }`,
			`t.toml:3: programs.p.rlimits.as: bad limit "512 MiBs": want a number of bytes, a size like "512MiB", "infinity" or "unlimited"`},
		{"cpu fraction", prog + `rlimits = { cpu = "1.5s" }`,
			`t.toml:3: programs.p.rlimits.cpu: bad limit "1.5s": want a number of seconds, a duration like "1h", "infinity" or "unlimited"`},
		{"rttime word", prog + `rlimits = { rttime = "soon" }`,
			`t.toml:3: programs.p.rlimits.rttime: bad limit "soon": want a number of microseconds, a duration like "500ms", "infinity" or "unlimited"`},

		{"capabilities type", prog + `capabilities = "NET_BIND_SERVICE"`,
			`t.toml:3: programs.p.capabilities: expected an array of capability names like "NET_BIND_SERVICE", got string "NET_BIND_SERVICE"`},
		{"unknown capability", prog + "capabilities = [\n  \"CHOWN\",\n  \"NET_BIND_SERVIC\",\n]",
			`t.toml:5: programs.p.capabilities: unknown capability "NET_BIND_SERVIC"; did you mean "NET_BIND_SERVICE"?`},
		{"unknown capability prefixed", prog + `capabilities = ["cap_sys_admn"]`,
			`t.toml:3: programs.p.capabilities: unknown capability "cap_sys_admn"; did you mean "SYS_ADMIN"?`},
		{"capability ALL", prog + `capabilities = ["ALL"]`, `t.toml:3: programs.p.capabilities: "ALL" is not a capability: list each one the program needs`},
		{"capability number", prog + `capabilities = [10]`, `t.toml:3: programs.p.capabilities: expected a string, got integer 10`},

		{"no_new_privs", prog + `no_new_privs = "yes"`, `t.toml:3: programs.p.no_new_privs: expected a boolean, got string "yes"`},
		{"oom low", prog + `oom_score_adj = -1001`, `t.toml:3: programs.p.oom_score_adj: must be between -1000 and 1000, not -1001`},
		{"oom high", prog + `oom_score_adj = 1001`, `t.toml:3: programs.p.oom_score_adj: must be between -1000 and 1000, not 1001`},
		{"oom string", prog + `oom_score_adj = "500"`, `t.toml:3: programs.p.oom_score_adj: expected an integer, got string "500"`},
		{"nice low", prog + `nice = -21`, `t.toml:3: programs.p.nice: must be between -20 and 19, not -21`},
		{"nice high", prog + `nice = 20`, `t.toml:3: programs.p.nice: must be between -20 and 19, not 20`},
		{"nice float", prog + `nice = 1.5`, `t.toml:3: programs.p.nice: expected an integer, got float 1.5`},

		{"memory_max unit", prog + `memory_max = "512MB/s"`,
			`t.toml:3: programs.p.memory_max: bad size "512MB/s": want bytes, or a number with KB, MB or GB`},
		{"memory_max zero", prog + `memory_max = 0`, `t.toml:3: programs.p.memory_max: must be more than 0 (or "max": no limit), not 0`},
		{"memory_max type", prog + `memory_max = true`,
			`t.toml:3: programs.p.memory_max: expected a size (bytes, or a string like "512MiB") or "max", got boolean true`},
		{"cpus zero", prog + `cpus = 0`, `t.toml:3: programs.p.cpus: must be between 0.01 and 10000, not 0`},
		{"cpus negative", prog + `cpus = -1.5`, `t.toml:3: programs.p.cpus: must be between 0.01 and 10000, not -1.5`},
		{"cpus string", prog + `cpus = "half"`, `t.toml:3: programs.p.cpus: expected a number, got string "half"`},
		{"pids_max zero", prog + `pids_max = 0`, `t.toml:3: programs.p.pids_max: must be between 1 and 4194304, not 0`},

		// All of them at once, each on its line.
		{"all at once", prog + "nice = 99\noom_score_adj = 5000\ncapabilities = [\"NOPE\"]\nrlimits = { nofil = 1 }",
			"t.toml:3: programs.p.nice: must be between -20 and 19, not 99\n" +
				"t.toml:4: programs.p.oom_score_adj: must be between -1000 and 1000, not 5000\n" +
				"t.toml:5: programs.p.capabilities: unknown capability \"NOPE\"\n" +
				"t.toml:6: programs.p.rlimits.nofil: unknown key; did you mean \"nofile\"?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseErrors(t, tt.src); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestCapabilityNames: every capability of the kernel headers x/sys/unix
// was generated from has a name, and the name reads back.
func TestCapabilityNames(t *testing.T) {
	if len(capNames) != unix.CAP_LAST_CAP+1 {
		t.Errorf("%d capability names, want %d (CAP_LAST_CAP + 1)", len(capNames), unix.CAP_LAST_CAP+1)
	}
	for c, name := range capNames {
		if name == "" {
			t.Errorf("capability %d has no name", c)
			continue
		}
		if got, ok := parseCapability("cap_" + name); !ok || got != Capability(c) {
			t.Errorf("parseCapability(cap_%s) = %d, %t, want %d", name, got, ok, c)
		}
		if got := Capability(c).String(); got != "CAP_"+name {
			t.Errorf("Capability(%d) = %s", c, got)
		}
	}
	if got := Capability(63).String(); got != "capability 63" {
		t.Errorf("Capability(63) = %s", got)
	}
}

// TestSpecResourcesExample: the example of SPEC's "Resources and
// privileges", as it is written there, with the command it leaves out.
func TestSpecResourcesExample(t *testing.T) {
	const spec = `
[programs.web]
rlimits = { nofile = 65536, core = 0, nproc = [512, 1024] }   # soft = hard, or [soft, hard]
no_new_privs = true
capabilities = ["NET_BIND_SERVICE"]   # root: bounding set cut to these; other users: these as ambient
oom_score_adj = 500
nice = 5
memory_max = "512MiB"              # per-program cgroup (v2), where the cgroup is writable
cpus = 0.5                         # cpu.max
pids_max = 256
`
	w := mustParse(t, spec+"command = [\"web\"]\n").Lookup("web")
	oom, nice := 500, 5
	want := &Program{Rlimits: []Rlimit{
		{"core", unix.RLIMIT_CORE, 0, 0}, {"nofile", unix.RLIMIT_NOFILE, 65536, 65536}, {"nproc", unix.RLIMIT_NPROC, 512, 1024}},
		NoNewPrivs: true, Capabilities: []Capability{unix.CAP_NET_BIND_SERVICE}, OOMScoreAdj: &oom, Nice: &nice,
		MemoryMax: 512 << 20, CPUs: 0.5, PidsMax: 256}
	got := &Program{Rlimits: w.Rlimits, NoNewPrivs: w.NoNewPrivs, Capabilities: w.Capabilities, OOMScoreAdj: w.OOMScoreAdj,
		Nice: w.Nice, MemoryMax: w.MemoryMax, CPUs: w.CPUs, PidsMax: w.PidsMax}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// FuzzParseLimit: a limit written as a string never panics, and one
// that is accepted reads back the same from FormatLimit's spelling.
func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"0", "65536", "infinity", "UNLIMITED", "512MiB", "1g", "1h", "1.5s", "500ms", "-1",
		"18446744073709551615", "18446744073709551616", "9223372036854775807KB", "1e3", "", " 1", "2h-1s"} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
		f.Add(s, uint8(2))
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, s string, u uint8) {
		n, ok := parseLimit(s, unit(u%4))
		if !ok {
			return
		}
		back, ok := parseLimit(FormatLimit(n), unitCount)
		if !ok || back != n {
			t.Fatalf("parseLimit(%q) = %d, but %q reads back as %d, %t", s, n, FormatLimit(n), back, ok)
		}
	})
}
