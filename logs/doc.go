// Package logs copies a program's output to where its config sends it:
// tend's own stdout or stderr, each line behind a "name | " prefix
// ("prefix"), or a file rotated by size (a path). Output that is
// "inherit" never comes here: the child gets tend's own fd and nothing is
// copied.
//
// The supervisor makes a pipe with Pipe, passes the write end to the child
// as its fd 1 or 2, closes its own copy of it, and runs Copy on the read
// end in a goroutine of its own (this package starts none). Copy returns at
// EOF, and EOF comes only once every process that holds the write end has
// exited, grandchildren included: waiting for every Copy to return is how
// tend loses no line when a program exits or when tend shuts down.
//
// Copiers meet in a Dest: os.Stdout or os.Stderr wrapped by NewDest, or a
// file opened by OpenRotating (through Files, so that a path named by
// several streams gets one Dest). A Dest writes each batch of whole lines
// under its mutex, so lines from different programs never mix mid-line.
//
// A copier never stops reading because its destination fails: a write
// error is kept, the lines of that batch are counted as dropped, and Copy
// reports both when the program's output ends. A program is never stalled
// by a full disk or a closed stdout. A destination that blocks instead of
// failing (a stdout pipe nobody reads) does block its copiers, and through
// the pipe the program, as it would with "inherit".
package logs
