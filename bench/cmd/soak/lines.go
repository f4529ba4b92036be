package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// This file checks the writers' numbered lines (see soakchild): on
// tend's stdout for the prefix writers, in the rotated files for the
// others. A writer writes each line in one write(2) of less than
// PIPE_BUF, so the pipe holds whole lines only, even when the writer is
// SIGKILLed: every line of a run, from 0 to the last one seen, must be
// there exactly once and in order, whole and uncorrupted; a run that
// ended by itself or by SIGTERM says how many lines it wrote in its end
// line, and that count must match. A run cut by SIGKILL has no end line:
// its last lines cannot be told from lines it never wrote.

// padding is what a line's padding is a prefix of.
var padding = strings.Repeat("abcdefghijklmnopqrstuvwxyz", 8)

// maxProblems bounds the problems kept for the report; all are counted.
const maxProblems = 20

type writerRun struct {
	next  int // the next seq expected: the lines seen so far
	ended bool
}

// lineCheck follows every writer run in one or more streams.
type lineCheck struct {
	runs map[string]*writerRun // by "PROGRAM RUN"
	// Lines is every numbered line seen, end lines not counted.
	Lines int64 `json:"lines"`
	// Lost counts the lines missing inside a run: a gap, a run whose
	// first line is not 0, an end line saying more than was seen.
	Lost int64 `json:"lost"`
	// Bad counts lines that are not a writer's line, are corrupt, come
	// twice or out of order, or follow their run's end.
	Bad      int64    `json:"bad"`
	Problems []string `json:"problems,omitempty"`
	Runs     int      `json:"runs"`
	Ended    int      `json:"ended"` // runs with an end line; the rest were SIGKILLed
}

func newLineCheck() *lineCheck { return &lineCheck{runs: map[string]*writerRun{}} }

func (c *lineCheck) problem(lost, bad int64, format string, args ...any) {
	c.Lost += lost
	c.Bad += bad
	if len(c.Problems) < maxProblems {
		c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
	}
}

// prefixed checks one line of tend's stdout: "PROGRAM | W PROGRAM …".
func (c *lineCheck) prefixed(line string) {
	name, rest, ok := strings.Cut(line, " | ")
	if !ok {
		c.problem(0, 1, "stdout: not a prefixed line: %.120q", line)
		return
	}
	c.line(rest, name, "stdout")
}

// line checks one writer's line; from is the program the line must
// come from ("" for a file), where names the stream for the report.
func (c *lineCheck) line(line, from, where string) {
	f := strings.SplitN(line, " ", 5)
	if len(f) < 4 || f[0] != "W" || (from != "" && f[1] != from) || len(f[2]) != 16 {
		c.problem(0, 1, "%s: not a writer's line: %.120q", where, line)
		return
	}
	key := f[1] + " " + f[2]
	r := c.runs[key]
	if r == nil {
		r = &writerRun{}
		c.runs[key] = r
		c.Runs++
	}
	if r.ended {
		c.problem(0, 1, "%s: %s: a line after its end line: %.120q", where, key, line)
		return
	}
	if f[3] == "end" {
		n, err := strconv.Atoi(strings.TrimSpace(strings.Join(f[4:], " ")))
		switch {
		case err != nil || len(f) != 5:
			c.problem(0, 1, "%s: %s: corrupt end line %.120q", where, key, line)
		case n != r.next:
			c.problem(int64(max(n-r.next, 0)), 0, "%s: %s: end line says %d lines, %d came", where, key, n, r.next)
		}
		r.ended = true
		c.Ended++
		return
	}
	seq, err := strconv.Atoi(f[3])
	if err != nil || seq < 0 {
		c.problem(0, 1, "%s: %s: corrupt line %.120q", where, key, line)
		return
	}
	if len(f) == 5 && !strings.HasPrefix(padding, f[4]) || len(f) == 4 && !strings.HasSuffix(line, " ") {
		c.problem(0, 1, "%s: %s: corrupt padding in line %d: %.120q", where, key, seq, line)
	}
	switch {
	case seq == r.next:
	case seq > r.next:
		c.problem(int64(seq-r.next), 0, "%s: %s: lines %d to %d missing", where, key, r.next, seq-1)
	default:
		c.problem(0, 1, "%s: %s: line %d again or out of order, after line %d", where, key, seq, r.next-1)
		return
	}
	c.Lines++
	r.next = seq + 1
}

// stream checks every line of r as read from tend's stdout, and tells
// how many bytes it read.
func (c *lineCheck) stream(r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var n int64
	for {
		line, err := br.ReadString('\n')
		n += int64(len(line))
		if len(line) > 0 {
			if !strings.HasSuffix(line, "\n") {
				c.problem(0, 1, "stdout: last line without a newline: %.120q", line)
			} else {
				c.prefixed(line[:len(line)-1])
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// files checks a rotated file and its backups, oldest first:
// path.backups … path.1, path. The oldest slot must be empty, or the
// rotation dropped a file and the check cannot be trusted.
func (c *lineCheck) files(path string, backups int) error {
	if _, err := os.Stat(fmt.Sprintf("%s.%d", path, backups)); err == nil {
		c.problem(0, 1, "%s: all %d backups are in use: the oldest may have been dropped (raise the backups)", path, backups)
	}
	for i := backups; i >= 0; i-- {
		p := path
		if i > 0 {
			p = fmt.Sprintf("%s.%d", path, i)
		}
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		br := bufio.NewReaderSize(f, 1<<20)
		for {
			line, err := br.ReadString('\n')
			if len(line) > 0 {
				if !strings.HasSuffix(line, "\n") {
					c.problem(0, 1, "%s: last line without a newline: %.120q", p, line)
				} else {
					c.line(line[:len(line)-1], "", p)
				}
			}
			if err != nil {
				f.Close()
				if err != io.EOF {
					return err
				}
				break
			}
		}
	}
	return nil
}
