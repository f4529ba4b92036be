// Command soakchild plays every program of the soak (bench/cmd/soak)
// under tend. It writes nothing to stdout but the numbered lines of the
// writer mode; diagnostics go to stderr.
//
//	soakchild crash MINMS MAXMS       sleep a random time in [MINMS, MAXMS] and exit 1
//	soakchild orphan escape|group|pipe LIFEMS PARENTMS
//	                                  start a grandchild that lives up to LIFEMS,
//	                                  then exit 0 after up to PARENTMS, leaving
//	                                  it behind: in a session of its own
//	                                  (escape), in the program's process group
//	                                  (group), or in a session of its own that
//	                                  keeps the program's stdout open (pipe)
//	soakchild writer RATE MAXLINES    write numbered lines to stdout, RATE a second
//	soakchild http ADDR SPEC          serve GET /health on ADDR, cycling through
//	                                  SPEC: "ok:8s,fail:6s,hang:4s"
//	soakchild idle                    sleep until a signal ends it
//	soakchild true                    exit 0 (an exec health probe)
//
// Every mode dies of SIGTERM (Go's default for it) except writer, which
// stops between two lines, writes its end line and exits 0: the soak
// expects every program to stop within stopwaitsecs, so tend exits 0.
//
// A writer's line is, in one write(2) of at most PIPE_BUF bytes, so that
// a SIGKILL never leaves half a line in the pipe:
//
//	W PROGRAM RUN SEQ PADDING
//	W PROGRAM RUN end COUNT
//
// RUN is random per run (pids come back in a long soak), SEQ counts from
// 0, and the end line says how many lines came before it.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: soakchild crash|orphan|grandchild|writer|http|idle|true ARGS")
		os.Exit(2)
	}
	args := os.Args[2:]
	var err error
	switch os.Args[1] {
	case "crash":
		time.Sleep(between(ms(arg(args, 0)), ms(arg(args, 1))))
		os.Exit(1)
	case "orphan":
		err = orphan(arg(args, 0), ms(arg(args, 1)), ms(arg(args, 2)))
	case "grandchild":
		time.Sleep(between(0, ms(arg(args, 0))))
	case "writer":
		err = writer(atoi(arg(args, 0)), atoi(arg(args, 1)))
	case "http":
		err = serve(arg(args, 0), arg(args, 1))
	case "idle":
		for {
			time.Sleep(time.Hour)
		}
	case "true":
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "soakchild %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "soakchild: bad number %q\n", s)
		os.Exit(2)
	}
	return n
}

func ms(s string) time.Duration { return time.Duration(atoi(s)) * time.Millisecond }

// between is a random duration in [lo, hi].
func between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + mrand.N(hi-lo+1)
}

// orphan starts a grandchild and exits without waiting for it.
func orphan(kind string, life, parent time.Duration) error {
	attr := &os.ProcAttr{Sys: &syscall.SysProcAttr{}}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	attr.Files = []*os.File{null, null, null}
	switch kind {
	case "escape":
		attr.Sys.Setsid = true
	case "group":
	case "pipe":
		attr.Sys.Setsid = true
		attr.Files[1] = os.Stdout // tend's copier stays open until it exits
	default:
		return fmt.Errorf("unknown orphan kind %q", kind)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if _, err := os.StartProcess(self, []string{self, "grandchild", strconv.Itoa(int(life.Milliseconds()))}, attr); err != nil {
		return err
	}
	time.Sleep(between(parent/10, parent))
	return nil
}

// writer writes numbered lines at about rate a second, in bursts every
// 10 ms, until SIGTERM or maxLines (random in [maxLines/10, maxLines]).
func writer(rate, maxLines int) error {
	var id [8]byte
	_, _ = rand.Read(id[:])
	name := os.Getenv("TEND_PROGRAM")
	if name == "" {
		name = "unknown"
	}
	head := "W " + name + " " + hex.EncodeToString(id[:]) + " "
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	limit := maxLines/10 + mrand.IntN(maxLines-maxLines/10+1)
	perTick := max(rate/100, 1)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	// Padding of random length, so lines are not all one size.
	pad := strings.Repeat("abcdefghijklmnopqrstuvwxyz", 8)
	buf := make([]byte, 0, 512)
	seq := 0
	for seq < limit {
		select {
		case <-stop:
			limit = seq
			continue
		case <-tick.C:
		}
		for i := 0; i < perTick && seq < limit; i++ {
			buf = append(buf[:0], head...)
			buf = strconv.AppendInt(buf, int64(seq), 10)
			buf = append(buf, ' ')
			buf = append(buf, pad[:mrand.IntN(len(pad))]...)
			buf = append(buf, '\n')
			if err := writeLine(buf); err != nil {
				return err
			}
			seq++
		}
	}
	buf = append(append(buf[:0], head...), "end "...)
	buf = strconv.AppendInt(buf, int64(seq), 10)
	return writeLine(append(buf, '\n'))
}

// writeLine is one write(2): a pipe takes up to PIPE_BUF bytes whole or
// not at all.
func writeLine(b []byte) error {
	for {
		n, err := syscall.Write(1, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n != len(b) {
			return fmt.Errorf("short write: %d of %d bytes", n, len(b))
		}
		return nil
	}
}

// serve answers GET /health per the phase of spec it is in, counted
// from its start: ok is 200, fail is 500, hang answers nothing until the
// phase ends.
func serve(addr, spec string) error {
	type phase struct {
		what string
		d    time.Duration
	}
	var phases []phase
	var cycle time.Duration
	for p := range strings.SplitSeq(spec, ",") {
		what, d, _ := strings.Cut(p, ":")
		dur, err := time.ParseDuration(d)
		if err != nil || dur <= 0 {
			return fmt.Errorf("bad phase %q", p)
		}
		phases = append(phases, phase{what, dur})
		cycle += dur
	}
	start := time.Now()
	current := func() (string, time.Duration) {
		at := time.Since(start) % cycle
		for _, p := range phases {
			if at < p.d {
				return p.what, p.d - at
			}
			at -= p.d
		}
		return "ok", 0
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			what, left := current()
			switch what {
			case "ok":
				w.WriteHeader(http.StatusOK)
			case "hang":
				select {
				case <-time.After(left):
				case <-r.Context().Done():
				}
				w.WriteHeader(http.StatusServiceUnavailable)
			default:
				w.WriteHeader(http.StatusInternalServerError)
			}
		}),
	}
	return srv.Serve(ln)
}
