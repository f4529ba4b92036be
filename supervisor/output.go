package supervisor

import (
	"os"

	"tend/config"
	"tend/logs"
)

// Program output. `inherit` passes tend's own fds 1 and 2 to the program:
// no pipe, no copy. `prefix`, `json` and a file path give the program the
// write end of a pipe; a copier goroutine drains the read end into tend's
// stdout or stderr, each line behind "name | ", or into tend's stdout as
// a JSON line (stderr's too), or into a rotated file, and keeps the last
// lines in the program's ring for `tend ctl logs`. The copier ends at
// EOF, which comes only once every process holding the write end has
// exited, grandchildren included: tend waits for every copier before it
// exits, so no line is lost.

// openOutputs prepares p's stdout and stderr in c. The returned finish
// must be called once the spawn is over: it closes tend's copies of the
// write ends and, if the process started, starts the copiers.
// The copiers of a program with ready = { log = … } also look for the
// line that says it is ready (logWatch).
func (s *Supervisor) openOutputs(p *program, c *Command) (func(ok bool), error) {
	return s.openOutputsAs(p, c, p.cfg.Name, s.logWatch(p))
}

// openOutputsAs is openOutputs for a process of p's that name stands for
// in prefixes and messages: "web(pre_stop)" for a hook. watch, when not
// nil, makes the line watcher of each stream's copier.
func (s *Supervisor) openOutputsAs(p *program, c *Command, name string, watch func() func([]byte) bool) (func(ok bool), error) {
	type stream struct {
		r, w    *os.File
		sink    logs.Sink
		release func() // gives back a log file; runs on the loop
	}
	var streams []stream
	undo := func() {
		for _, st := range streams {
			st.r.Close()
			st.w.Close()
			st.release()
		}
	}
	for i, out := range []config.Output{p.cfg.Stdout, p.cfg.Stderr} {
		st := stream{release: func() {}, sink: logs.Sink{Program: name, Stream: logs.StreamStdout}}
		if i == 1 {
			st.sink.Stream = logs.StreamStderr
		}
		switch out.Mode {
		case config.Prefix:
			st.sink.Dest, st.sink.Prefix = s.opts.Stdout, name+" | "
			if i == 1 {
				st.sink.Dest = s.opts.Stderr
			}
		case config.JSON:
			// One stream of JSON lines, as a log shipper reads one:
			// stderr's lines say "stream":"stderr".
			st.sink.Dest, st.sink.JSON = s.opts.Stdout, true
		case config.File:
			d, err := s.files.Open(out.Path, out.MaxBytes, out.Backups)
			if err != nil {
				undo()
				return nil, err
			}
			path := out.Path
			st.sink.Dest, st.release = d, func() { s.files.Release(path) }
		default:
			continue
		}
		st.sink.Ring = s.ringOf(p)
		var err error
		if st.r, st.w, err = logs.Pipe(); err != nil {
			st.release()
			undo()
			return nil, err
		}
		if i == 0 {
			c.Stdout = st.w
		} else {
			c.Stderr = st.w
		}
		streams = append(streams, st)
	}
	return func(ok bool) {
		for _, st := range streams {
			st.w.Close()
		}
		if !ok {
			for _, st := range streams {
				st.r.Close()
				st.release()
			}
			return
		}
		for _, st := range streams {
			s.outputs++
			var w func([]byte) bool
			if watch != nil {
				w = watch()
			}
			s.goSafe("output "+name, func() {
				st.sink.Watch = w
				_, err := logs.CopyTo(st.r, st.sink)
				s.outputDone <- func() {
					st.release()
					if err != nil {
						s.log.Warn().Str("program", name).Err(err).Msg("program output lost")
					}
				}
			})
		}
	}, nil
}
