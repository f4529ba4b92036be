package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"tend/bench/internal/benchkit"
)

// logSample is one run of svchild writing p.LogBytes of 100-byte lines.
type logSample struct {
	Bytes int64 `json:"bytes"`
	// Ms is svchild's own time from its first write to the return of its
	// last: what the program sees. What is still in the pipe then (at
	// most a pipe's capacity) is not counted; at 1 GiB it is noise.
	Ms   float64 `json:"ms"`
	MBps float64 `json:"mb_per_s"` // 10^6 bytes per second
	// OutBytes and OutLines are what came out of tend, for the run whose
	// stdout svbench reads (tend-prefix-pipe): the check that no line is
	// lost.
	OutBytes int64 `json:"out_bytes,omitempty"`
	OutLines int64 `json:"out_lines,omitempty"`
	// WriterCPUMs is svchild's own CPU time (user+system); CopierCPUMs
	// the CPU time of what sits between it and the destination: cat, or
	// the supervisor (all its threads, read before it is stopped). They
	// depend less on where the scheduler puts things than MB/s does.
	WriterCPUMs float64 `json:"writer_cpu_ms"`
	CopierCPUMs float64 `json:"copier_cpu_ms"`
}

// The paths a program's output can take. Names are keys in the results.
const (
	logDirect      = "direct"           // svchild > /dev/null
	logCat         = "cat"              // svchild | cat > /dev/null: the baseline
	logCatSetsid   = "cat-setsid"       // the same, svchild in a session of its own, as tend starts it
	logCatCat      = "cat-cat"          // svchild | cat | cat > /dev/null: a copier that does nothing but copy
	logTendInherit = "tend-inherit"     // tend, stdout = "inherit", tend's stdout /dev/null
	logTendInhCat  = "tend-inherit-cat" // the same, tend's stdout a pipe to cat > /dev/null
	logTendPrefix  = "tend-prefix"      // tend, stdout = "prefix", tend's stdout /dev/null
	logTendPreCat  = "tend-prefix-cat"  // the same, tend's stdout a pipe to cat > /dev/null
	logTendCount   = "tend-prefix-pipe" // the same, tend's stdout a pipe svbench reads and counts
	logTendFile    = "tend-file"        // tend, stdout = a file (rotated: 10 MiB, 5 backups)
	logTendJSON    = "tend-json"        // tend, stdout = "json", tend's stdout /dev/null
	logTendJSONCat = "tend-json-cat"    // the same, tend's stdout a pipe to cat > /dev/null
	logSupervisord = "supervisord"      // stdout_logfile=/dev/stdout, supervisord's stdout /dev/null
	logSupFile     = "supervisord-file" // stdout_logfile=a file (rotated: 50 MB, 10 backups)
	logS6          = "s6-inherit"       // s6 passes its own stdout down, as tend's inherit
)

var logPaths = []string{logDirect, logCat, logCatSetsid, logCatCat, logTendInherit, logTendInhCat, logTendPrefix, logTendPreCat, logTendCount,
	logTendJSON, logTendJSONCat, logTendFile, logSupervisord, logSupFile, logS6}

func measureLogs(t *procTree, sups []supervisor, p params) (map[string][]logSample, error) {
	res := map[string][]logSample{}
	dir, err := os.MkdirTemp("", "svbench-logs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	k := 0
	for round := 0; round < p.LogRuns; round++ {
		for _, i := range rand.Perm(len(logPaths)) {
			path := logPaths[i]
			k++
			file := filepath.Join(dir, fmt.Sprintf("write-%d", k))
			s, err := logOnce(t, sups, path, p.LogBytes, file)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			fmt.Fprintf(os.Stderr, "svbench:   %-18s %8.0f MB/s\n", path, s.MBps)
			res[path] = append(res[path], s)
		}
	}
	return res, nil
}

func logOnce(t *procTree, sups []supervisor, path string, n int64, file string) (logSample, error) {
	var s logSample
	child := []string{childPath, "write", strconv.FormatInt(n, 10), file}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return s, err
	}
	defer devnull.Close()
	switch path {
	case logDirect:
		cmd := exec.Command(child[0], child[1:]...)
		cmd.Stdout, cmd.Stderr = devnull, os.Stderr
		if err := cmd.Run(); err != nil {
			return s, err
		}
	case logCat, logCatSetsid:
		r, w, err := os.Pipe()
		if err != nil {
			return s, err
		}
		cat := exec.Command("cat")
		cat.Stdin, cat.Stdout, cat.Stderr = r, devnull, os.Stderr
		wr := exec.Command(child[0], child[1:]...)
		wr.Stdout, wr.Stderr = w, os.Stderr
		// In a session of its own, svchild has a scheduling autogroup of
		// its own too (when sched_autogroup is on), as under tend.
		wr.SysProcAttr = &syscall.SysProcAttr{Setsid: path == logCatSetsid}
		err = cat.Start()
		if err == nil {
			err = wr.Start()
		}
		r.Close()
		w.Close()
		if err != nil {
			return s, err
		}
		err = errors.Join(wr.Wait(), cat.Wait())
		if err != nil {
			return s, err
		}
		s.CopierCPUMs = cpuMs(cat.ProcessState)
	case logCatCat:
		// The copier in the middle: what a supervisor that copies costs
		// at the least, a process that reads and writes every byte.
		r1, w1, err := os.Pipe()
		if err != nil {
			return s, err
		}
		r2, w2, err := os.Pipe()
		if err != nil {
			return s, err
		}
		mid, last := exec.Command("cat"), exec.Command("cat")
		mid.Stdin, mid.Stdout, mid.Stderr = r1, w2, os.Stderr
		last.Stdin, last.Stdout, last.Stderr = r2, devnull, os.Stderr
		wr := exec.Command(child[0], child[1:]...)
		wr.Stdout, wr.Stderr = w1, os.Stderr
		wr.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // as tend starts it
		for _, c := range []*exec.Cmd{last, mid, wr} {
			if err == nil {
				err = c.Start()
			}
		}
		for _, f := range []*os.File{r1, w1, r2, w2} {
			f.Close()
		}
		if err != nil {
			return s, err
		}
		if err := errors.Join(wr.Wait(), mid.Wait(), last.Wait()); err != nil {
			return s, err
		}
		s.CopierCPUMs = cpuMs(mid.ProcessState)
	default:
		sup, sc := sups[0], scenario{kind: "write", bytes: n, file: file}
		logFile := filepath.Join(filepath.Dir(file), "out.log")
		switch path {
		case logTendInherit, logTendInhCat:
			sc.output = "inherit"
		case logTendPrefix, logTendPreCat, logTendCount:
			sc.output = "prefix"
		case logTendJSON, logTendJSONCat:
			sc.output = "json"
		case logTendFile:
			sc.output = logFile
		case logSupervisord:
			sup = sups[1]
		case logSupFile:
			sup, sc.output = sups[1], logFile
		case logS6:
			sup = sups[2]
		}
		// out is the supervisor's stdout (nil: /dev/null); reader is what
		// reads the other end of it.
		var out *os.File
		var counted chan [2]int64
		var cat *exec.Cmd
		if path == logTendInhCat || path == logTendPreCat || path == logTendCount || path == logTendJSONCat {
			r, w, err := os.Pipe()
			if err != nil {
				return s, err
			}
			out = w
			if path == logTendCount {
				counted = make(chan [2]int64, 1)
				go func() { counted <- countLines(r) }()
			} else {
				cat = exec.Command("cat")
				cat.Stdin, cat.Stdout, cat.Stderr = r, devnull, os.Stderr
				err := cat.Start()
				r.Close()
				if err != nil {
					w.Close()
					return s, err
				}
			}
		}
		in, err := launch(t, sup, sc, out)
		if out != nil {
			out.Close()
		}
		if err != nil {
			return s, err
		}
		if _, err := waitFile(in, file, "write ", 10*time.Minute); err != nil {
			return s, in.fail(t, err)
		}
		if sup.Name != "s6" {
			// What is left in the pipe is copied within a millisecond.
			time.Sleep(20 * time.Millisecond)
			ns, err := benchkit.ReadSchedNs(in.pid)
			if err != nil {
				return s, in.fail(t, err)
			}
			s.CopierCPUMs = float64(ns) / 1e6
		}
		if _, err := in.stop(60 * time.Second); err != nil {
			return s, in.fail(t, err)
		}
		in.cleanup()
		if counted != nil {
			c := <-counted
			s.OutBytes, s.OutLines = c[0], c[1]
		}
		if cat != nil {
			if err := cat.Wait(); err != nil {
				return s, err
			}
		}
		if sc.output != "" && sc.output[0] == '/' {
			// The rotated files of this run: remove them, and their pages.
			matches, _ := filepath.Glob(logFile + "*")
			for _, m := range matches {
				os.Remove(m)
			}
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return s, err
	}
	f := strings.Fields(string(b))
	if len(f) != 5 || f[0] != "write" {
		return s, fmt.Errorf("%s: %q, want one write line", file, b)
	}
	t0, _ := strconv.ParseInt(f[1], 10, 64)
	t1, _ := strconv.ParseInt(f[2], 10, 64)
	s.Bytes, _ = strconv.ParseInt(f[3], 10, 64)
	cpu, _ := strconv.ParseInt(f[4], 10, 64)
	s.WriterCPUMs = float64(cpu) / 1e6
	s.Ms = msBetween(t0, t1)
	s.MBps = float64(s.Bytes) / (s.Ms / 1e3) / 1e6
	if path == logTendCount {
		lines := s.Bytes / 100
		if want := s.Bytes + lines*int64(len("w | ")); s.OutLines != lines || s.OutBytes != want {
			return s, fmt.Errorf("tend wrote %d lines, %d bytes; want %d lines, %d bytes", s.OutLines, s.OutBytes, lines, want)
		}
	}
	return s, nil
}

// cpuMs is a process's user+system time, from its wait4.
func cpuMs(ps *os.ProcessState) float64 {
	return float64(ps.UserTime()+ps.SystemTime()) / float64(time.Millisecond)
}

// countLines reads r to EOF and counts its bytes and newlines.
func countLines(r io.ReadCloser) [2]int64 {
	defer r.Close()
	buf := make([]byte, 256<<10)
	var n, lines int64
	for {
		k, err := r.Read(buf)
		n += int64(k)
		lines += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err != nil {
			return [2]int64{n, lines}
		}
	}
}
