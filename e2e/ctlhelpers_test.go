package e2e

// Helper programs for the control and health tests (ctl_*_test.go,
// health_test.go, freeze_test.go), registered in moreHelpers. Like the
// others, each says what it sees on stdout, one fact per line.

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	tendctl "tend/ctl"
)

func init() {
	moreHelpers["flaky-http"] = flakyHTTP
	moreHelpers["slow-term"] = slowTerm
	moreHelpers["slow-probe"] = slowProbe
	moreHelpers["cg-exec"] = cgExec
	moreHelpers["ctl-as"] = ctlAs
	moreHelpers["ctl-in"] = ctlIn
	moreHelpers["exec-instead"] = execInstead
}

// flakyHTTP serves GET on -addr: 200, or 500 while the file -fail
// exists. It prints "NAME listening" once it accepts connections (after
// -delay) and "NAME served CODE" for every answer.
func flakyHTTP(args []string) int {
	fs := flag.NewFlagSet("flaky-http", flag.ContinueOnError)
	name := fs.String("name", "web", "what to call itself in its output")
	addr := fs.String("addr", "", "host:port to listen on")
	fail := fs.String("fail", "", "answer 500 while this file exists")
	delay := fs.Duration("delay", 0, "wait this long before listening")
	if err := fs.Parse(args); err != nil || *addr == "" {
		return 2
	}
	time.Sleep(*delay) // the slow start being simulated, not a wait for a condition
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flaky-http:", err)
		return 1
	}
	fmt.Println(*name, "listening")
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		code := http.StatusOK
		if _, err := os.Stat(*fail); err == nil {
			code = http.StatusInternalServerError
		}
		w.WriteHeader(code)
		fmt.Println(*name, "served", code)
	})
	fmt.Fprintln(os.Stderr, "flaky-http:", http.Serve(ln, h))
	return 1
}

// ownTime works until it has run for need, counting only the time this
// process was running: a gap between two 5 ms naps longer than a second
// is a freeze (the cgroup freezer stops the process, no clock stops),
// and counts as one nap. A shorter gap (a busy machine) counts in full,
// as tend counts it: a freeze is what tend, too, sees as over a second
// late.
func ownTime(need time.Duration) {
	const nap, frozen = 5 * time.Millisecond, time.Second
	var got time.Duration
	last := time.Now()
	for got < need {
		time.Sleep(nap) // the work being measured, not a wait for a condition
		now := time.Now()
		d := now.Sub(last)
		last = now
		if d > frozen {
			d = nap
		}
		got += d
	}
}

// slowTerm is a server that needs -need of its own running time to
// shut down on SIGTERM. It prints "NAME ready", "NAME got TERM" and,
// once done, "NAME done", and exits 0.
func slowTerm(args []string) int {
	fs := flag.NewFlagSet("slow-term", flag.ContinueOnError)
	name := fs.String("name", "slow", "what to call itself in its output")
	need := fs.Duration("need", 1500*time.Millisecond, "running time needed to shut down")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	fmt.Println(*name, "ready")
	<-c
	fmt.Println(*name, "got TERM")
	ownTime(*need)
	fmt.Println(*name, "done")
	return 0
}

// slowProbe is a health probe that passes after NEED of its own
// running time. It tells the unix socket SOCK (when it can) "start PID"
// when it begins and "done PID" before it exits 0.
func slowProbe(args []string) int {
	if len(args) != 2 {
		return 2
	}
	need, err := time.ParseDuration(args[1])
	if err != nil {
		return 2
	}
	c, err := net.Dial("unix", args[0])
	say := func(what string) {
		if err == nil {
			fmt.Fprintf(c, "%s %d\n", what, os.Getpid())
		}
	}
	say("start")
	ownTime(need)
	say("done")
	return 0
}

// cgExec moves itself into the cgroup whose cgroup.procs file is
// args[0] (writing 0 means the writer, whatever pid namespace it is in)
// and execs the rest of args: everything it starts is born in that
// cgroup.
func cgExec(args []string) int {
	if len(args) < 2 {
		return 2
	}
	if err := os.WriteFile(args[0], []byte("0\n"), 0); err != nil {
		fmt.Fprintln(os.Stderr, "cg-exec:", err)
		return 1
	}
	err := syscall.Exec(args[1], args[1:], os.Environ())
	fmt.Fprintln(os.Stderr, "cg-exec: exec:", err)
	return 1
}

// ctlAs drops to UID:GID (no supplementary groups) and runs `tend ctl`
// with the rest of args, in this process: the binary under test is in a
// directory only root may enter, and the client is the same code.
func ctlAs(args []string) int {
	if len(args) < 2 {
		return 2
	}
	uid, gid := atoi(args[0]), atoi(args[1])
	// Go applies these to every thread of the process.
	for _, err := range []error{syscall.Setgroups(nil), syscall.Setgid(gid), syscall.Setuid(uid)} {
		if err != nil {
			fmt.Fprintln(os.Stderr, "ctl-as:", err)
			return 1
		}
	}
	return tendctl.Main(args[2:], os.Stdout, os.Stderr)
}

// ctlIn prints "ctl pid N", its pid in its own pid namespace, and runs
// `tend ctl` with args in this process: as a program of tend, it is the
// peer tend sees.
func ctlIn(args []string) int {
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "ctl pid", strconv.Itoa(os.Getpid()))
	w.Flush()
	return tendctl.Main(args, os.Stdout, os.Stderr)
}

// execInstead is "exec-instead BIN OLD ARGS...": it execs BIN with ARGS,
// in place of OLD, the binary the harness would have run.
func execInstead(args []string) int {
	if len(args) < 2 {
		return 2
	}
	argv := append([]string{args[0]}, args[2:]...)
	err := syscall.Exec(argv[0], argv, os.Environ())
	fmt.Fprintln(os.Stderr, "exec-instead:", err)
	return 1
}
