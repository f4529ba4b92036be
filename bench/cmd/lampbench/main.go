// Command lampbench measures the real nginx + php-fpm + redis stack of
// examples/lamp (tend.debian.toml) under tend and under an equivalent
// supervisord.conf, on the host: launch → the first good page (an HTTP
// 200 whose body index.php rendered from redis), and, for tend, launch →
// tend's own READY=1 on the NOTIFY_SOCKET the driver gives it. Then
// SIGTERM, and the time until the supervisor has exited; after each
// round it checks that no nginx, php-fpm or redis process is left (and
// kills and reports any).
//
// Each round builds nothing new: one root of config files in a temp dir
// (stack.go), made once from examples/lamp, with free loopback ports.
// Rounds alternate which supervisor goes first.
//
//	lampbench -tend BIN -child examples/lamp [-quick] [-out DIR] [-doc FILE] [-command TEXT]
//	lampbench -render [-quick] [-out DIR] [-doc FILE]
//
// Run it through bench/lamp.sh, which checks the packages and builds tend.
package main

import "tend/bench/internal/benchkit"

func main() {
	benchkit.Driver[results, params]{Name: "lampbench", Script: "bench/lamp.sh", Out: "bench/out/lamp",
		Root: "nginx, php-fpm and redis start as root and drop to www-data and redis", Usage: usage,
		Full: full, Quick: quick, Packages: packages, Measure: measure, Render: render}.Main()
}

// params are the sizes of one run.
type params struct {
	Mode   string `json:"mode"`
	Rounds int    `json:"rounds"`
	// PollMs is the client's interval between two GETs of the page.
	PollMs int `json:"poll_ms"`
	Nice   int `json:"nice"`
}

// WithNice is p at niceness nice.
func (p params) WithNice(nice int) params { p.Nice = nice; return p }

var (
	full  = params{Mode: "full", Rounds: 10, PollMs: 5}
	quick = params{Mode: "quick", Rounds: 2, PollMs: 5}
)

var usage = benchkit.Usage{
	Child: "the examples/lamp directory (tend.debian.toml, nginx-site.conf, php-fpm-docker.conf, index.php)",
	Out:   "directory for results-MODE.json and results-MODE.md",
	Quick: "2 rounds: a smoke test, not a measurement",
}

var packages = []string{"nginx", "php8.2-fpm", "php8.2-redis", "redis-server", "supervisor", "python3"}

// sample is one launch of the stack under one supervisor.
type sample struct {
	Round int `json:"round"`
	// First is whether this supervisor went first in its round.
	First bool `json:"first"`
	// PageMs is launch → the first good page; Polls the GETs it took.
	PageMs float64 `json:"page_ms"`
	Polls  int     `json:"polls"`
	Body   string  `json:"body"`
	// ReadyMs is, for tend, launch → READY=1 on its NOTIFY_SOCKET.
	ReadyMs float64 `json:"ready_ms,omitempty"`
	// StopMs is SIGTERM → the supervisor has exited; ExitCode its code.
	StopMs   float64 `json:"stop_ms"`
	ExitCode int     `json:"exit_code"`
	// Leftovers are the nginx, php-fpm or redis processes still there
	// once the supervisor had exited (killed by the driver).
	Leftovers []string `json:"leftovers,omitempty"`
}

type results struct {
	benchkit.Header[params]
	Root      string              `json:"root"`
	Port      int                 `json:"port"`
	RedisPort int                 `json:"redis_port"`
	Nofile    uint64              `json:"nofile"`
	Samples   map[string][]sample `json:"samples"`
	BusyPct   map[string]float64  `json:"busy_pct"`
}
