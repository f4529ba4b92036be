package notify

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"tend/internal/sockfile"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tend/internal/safe"
)

// SocketMode is a program's notify socket's mode: sending to a unix
// socket needs write permission on its file, and the file belongs to
// the program's user.
const SocketMode fs.FileMode = 0o600

// bindPrefix starts the names of the temporary directories a socket is
// bound in before it is moved into place.
const bindPrefix = ".bind"

// Server is tend's notify directory and the sockets in it. Its methods
// may be called from any goroutine; the supervisor loop calls Open,
// Expect, Take and Close, and waits on Wake.
type Server struct {
	dir  string
	log  zerolog.Logger
	wake chan struct{} // one token: some socket has news; never blocks a sender

	mu      sync.Mutex         // guards what follows and every Socket's guarded fields
	sockets map[string]*Socket // by path; nil while Open binds it
	dirty   []*Socket          // sockets whose pending Update is news, each once
	closed  bool
}

// Socket is one program's notify socket. It lives as long as the
// program is configured, across its runs; Expect says which run's
// process group its messages must come from.
type Socket struct {
	srv  *Server
	name string // the program's, for the log and for the caller
	path string
	conn *net.UnixConn
	done chan struct{} // closed when the reader has returned

	ignored atomic.Int64 // datagrams dropped, ever

	// Guarded by srv.mu.
	pgid    int    // the process group messages count from; 0: no run
	pending Update // accepted since the last Take
	held    Update // while pgid is 0: from one group, for the run about to start
	logged  bool   // an ignored datagram was logged this run
	dirty   bool   // in srv.dirty
	closed  bool
}

// Phase is the last of READY=1, RELOADING=1 and STOPPING=1 that a
// program sent.
type Phase int

const (
	NoPhase   Phase = iota // none of the three since the last Take
	Ready                  // READY=1
	Reloading              // RELOADING=1
	Stopping               // STOPPING=1
)

func (p Phase) String() string {
	switch p {
	case Ready:
		return "ready"
	case Reloading:
		return "reloading"
	case Stopping:
		return "stopping"
	default:
		return "none"
	}
}

// Update is what a program said since the supervisor last took its
// news: every accepted datagram merged in arrival order, so that a
// program sending faster than the loop takes costs one Update, not a
// queue, and nothing that matters is lost:
//
//   - ReadySeen stays true once a READY=1 came, even if a RELOADING=1 or
//     STOPPING=1 came after it (the start succeeded, then it moved on);
//   - Phase is the last of the three, by the order they came in (in one
//     datagram, STOPPING=1 over READY=1 over RELOADING=1, as systemd);
//   - Status is the last STATUS=;
//   - Watchdog is true if any WATCHDOG=1 came, WatchdogTrigger if any
//     WATCHDOG=trigger did.
type Update struct {
	Pgid            int // the process group it came from: the run's
	ReadySeen       bool
	Phase           Phase
	Status          string
	StatusSet       bool
	Watchdog        bool
	WatchdogTrigger bool
}

func (u *Update) merge(m Message) {
	if m.Ready {
		u.ReadySeen = true
	}
	switch {
	case m.Stopping:
		u.Phase = Stopping
	case m.Ready:
		u.Phase = Ready
	case m.Reloading:
		u.Phase = Reloading
	}
	if m.HasStatus {
		u.Status, u.StatusSet = m.Status, true
	}
	u.Watchdog = u.Watchdog || m.Watchdog
	u.WatchdogTrigger = u.WatchdogTrigger || m.WatchdogTrigger
}

func (u Update) empty() bool {
	return !u.ReadySeen && u.Phase == NoPhase && !u.StatusSet && !u.Watchdog && !u.WatchdogTrigger
}

// Note is one socket's news, as Take returns it.
type Note struct {
	Socket *Socket
	Update
}

// NewServer prepares dir as tend's notify directory (see prepareDir:
// created DirMode, tend's own, with nothing above it others could
// rename) and returns the Server for it. The sockets' goroutines log to
// log.
func NewServer(dir string, log zerolog.Logger) (*Server, error) {
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	return &Server{
		dir:     filepath.Clean(dir),
		log:     log,
		wake:    make(chan struct{}, 1),
		sockets: map[string]*Socket{},
	}, nil
}

// Dir is the notify directory.
func (s *Server) Dir() string { return s.dir }

// Wake has a token when some socket has news for Take. It never blocks
// a socket: one token stands for any number of updates.
func (s *Server) Wake() <-chan struct{} { return s.wake }

// Take appends every socket's news since the last Take to dst, in the
// order they first had news, and returns it. The loop calls it when Wake
// has a token (a token may also find nothing: news taken already, or
// dropped by Expect).
func (s *Server) Take(dst []Note) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.dirty {
		k.dirty = false
		if !k.closed && !k.pending.empty() {
			dst = append(dst, Note{Socket: k, Update: k.pending})
		}
		k.pending = Update{}
	}
	clear(s.dirty)
	s.dirty = s.dirty[:0]
	return dst
}

// Open creates the notify socket of the program name, to be reached by
// uid and gid (-1: tend's own) alone: the file is theirs, mode
// SocketMode. It is bound in a private directory and moved into place
// with its owner and mode set, so nobody else can reach it even for a
// moment. The socket's name in the directory is the program's, cut and
// given a hash when the path would pass the 107 bytes a socket path may
// have. Its reader goroutine runs until Close.
//
// Messages count only once Expect names the run's process group.
func (s *Server) Open(name string, uid, gid int) (*Socket, error) {
	path := filepath.Join(s.dir, fileName(name, len(s.dir)))
	k := &Socket{srv: s, name: name, path: path, done: make(chan struct{})}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil, fmt.Errorf("notify socket of %s: the server is closed", name)
	case s.taken(path):
		s.mu.Unlock()
		return nil, fmt.Errorf("notify socket of %s: %s is in use already (two names cut to the same file name?)", name, path)
	}
	s.sockets[path] = nil // reserved while binding
	s.mu.Unlock()

	conn, err := bind(s.dir, path, uid, gid)
	s.mu.Lock()
	switch {
	case err != nil:
		delete(s.sockets, path)
	case s.closed:
		delete(s.sockets, path)
		conn.Close()
		os.Remove(path)
		err = errors.New("the server was closed meanwhile")
	default:
		k.conn = conn
		s.sockets[path] = k
	}
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("notify socket of %s: %w", name, err)
	}
	if uid > 0 {
		if d := unreachable(s.dir, uid, gid); d != "" {
			s.log.Warn().Str("program", name).Str("path", path).Int("uid", uid).
				Msgf("the program's user may not pass through %s to reach its notify socket", d)
		}
	}
	safe.Go(s.log, "notify "+name, k.read)
	return k, nil
}

// Close closes every socket and removes the directory if nothing else
// is left in it. Open fails afterwards.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	open := make([]*Socket, 0, len(s.sockets))
	for _, k := range s.sockets {
		if k != nil { // nil: still binding, and Open will see closed
			open = append(open, k)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, k := range open {
		errs = append(errs, k.Close())
	}
	os.Remove(s.dir) // fails when not empty: not tend's to empty
	return errors.Join(errs...)
}

// taken reports whether path is open or being bound. s.mu is held.
func (s *Server) taken(path string) bool {
	_, ok := s.sockets[path]
	return ok
}

// Name is the program's name given to Open.
func (k *Socket) Name() string { return k.name }

// Path is the socket's path: the program's NOTIFY_SOCKET.
func (k *Socket) Path() string { return k.path }

// Ignored counts the datagrams dropped so far: too long, holding a NUL,
// from an unknown sender or from outside the expected process group.
func (k *Socket) Ignored() int64 { return k.ignored.Load() }

// Expect says which process group messages count from: the pgid of the
// run just spawned (its pid: programs lead their own group), or 0 when
// the run has ended. Whatever the previous run said and the loop has not
// taken is dropped. A run may speak before the loop learns its pid: what
// came from one process group while no run was expected is kept for it,
// and becomes news here when pgid is that group.
func (k *Socket) Expect(pgid int) {
	s := k.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	k.pgid, k.pending, k.logged = pgid, Update{}, false
	if pgid > 0 && k.held.Pgid == pgid && !k.held.empty() {
		k.pending = k.held
		s.markDirty(k)
	}
	k.held = Update{}
}

// Close closes the socket, waits for its reader to return and removes
// its file. Its news not yet taken is dropped.
func (k *Socket) Close() error {
	s := k.srv
	s.mu.Lock()
	if k.closed {
		s.mu.Unlock()
		return nil
	}
	k.closed = true
	if s.sockets[k.path] == k {
		delete(s.sockets, k.path)
	}
	s.mu.Unlock()
	err := k.conn.Close()
	<-k.done
	if rerr := os.Remove(k.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

// markDirty queues k for Take and leaves a token in wake. s.mu is held.
func (s *Server) markDirty(k *Socket) {
	if !k.dirty {
		k.dirty = true
		s.dirty = append(s.dirty, k)
	}
	select {
	case s.wake <- struct{}{}:
	default: // a token is there already
	}
}

// read is k's goroutine: one datagram at a time, in the order they came,
// each judged and merged before the next is read, and its descriptors
// closed only then (sd_notify_barrier's BARRIER=1 relies on that: the
// sender learns its earlier messages were seen when its fd is closed).
// Blocked in the netpoller while nothing comes: no wake-ups.
func (k *Socket) read() {
	defer close(k.done)
	buf := make([]byte, MaxMessage)
	// The sender's credentials and a few descriptors: those that do not
	// fit are closed by the kernel (MSG_CTRUNC), those that do by
	// receive.
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(8*4))
	for {
		n, oobn, flags, _, err := k.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				k.srv.log.Error().Err(err).Str("program", k.name).Str("path", k.path).
					Msg("reading the notify socket failed; its messages are no longer read")
			}
			return
		}
		k.receive(buf[:n], oob[:oobn], flags)
	}
}

// receive judges and merges one datagram.
func (k *Socket) receive(b, oob []byte, flags int) {
	pid := int32(0)
	var fds []int
	cmsgs, _ := unix.ParseSocketControlMessage(oob)
	for i := range cmsgs {
		c := &cmsgs[i]
		if c.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch c.Header.Type {
		case unix.SCM_CREDENTIALS:
			if cred, err := unix.ParseUnixCredentials(c); err == nil {
				pid = cred.Pid
			}
		case unix.SCM_RIGHTS:
			if f, err := unix.ParseUnixRights(c); err == nil {
				fds = append(fds, f...)
			}
		}
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	// The sender's group, first: the sooner, the likelier the sender is
	// still there to be asked (a zombie still answers).
	pgid, pgErr := -1, error(nil)
	if pid > 0 {
		pgid, pgErr = unix.Getpgid(int(pid))
	}
	var m Message
	ok := false
	why := ""
	switch {
	case flags&unix.MSG_TRUNC != 0:
		why = fmt.Sprintf("longer than %d bytes", MaxMessage)
	case pid <= 0:
		why = "its sender is unknown (no credentials, or from another pid namespace)"
	case pgErr != nil:
		why = "its sender is gone before it was read"
	default:
		if m, ok = Parse(b); !ok {
			why = "it holds a NUL byte"
		}
	}

	s := k.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case k.closed:
	case why != "":
		k.ignore(pid, why)
	case k.pgid == 0:
		// No run expected: the loop may not have learned the pid of the
		// run that sent this yet. Kept for it, from one group only.
		if k.held.Pgid != pgid {
			k.held = Update{Pgid: pgid}
		}
		k.held.merge(m)
	case pgid == k.pgid:
		k.pending.merge(m)
		k.pending.Pgid = pgid
		s.markDirty(k)
	default:
		k.ignore(pid, fmt.Sprintf("its sender is in process group %d, not the program's (%d)", pgid, k.pgid))
	}
}

// ignore counts a dropped datagram and logs the first of each run: a
// program whose READY=1 seems lost learns why, and a flood costs one
// line. s.mu is held.
func (k *Socket) ignore(pid int32, why string) {
	k.ignored.Add(1)
	if k.logged {
		return
	}
	k.logged = true
	k.srv.log.Warn().Str("program", k.name).Int32("sender_pid", pid).Str("reason", why).
		Msg("notify message ignored (further ones this run are not logged)")
}

// fileName is the socket's file name for program name in a directory
// whose path is dirLen bytes: the name itself when it fits, else its
// start, '~' and a hash of the whole. A name with a slash or a leading
// dot, which config never lets through, is made safe all the same.
func fileName(name string, dirLen int) string {
	clean := strings.ReplaceAll(name, "/", "_")
	if clean == "" || clean[0] == '.' {
		clean = "_" + clean
	}
	room := maxSocketPath - dirLen - 1
	if len(clean) <= room {
		return clean
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	suffix := fmt.Sprintf("~%08x", h.Sum32())
	keep := max(room-len(suffix), 1)
	return clean[:min(keep, len(clean))] + suffix
}

// bind binds a datagram socket at path for uid and gid with SO_PASSCRED
// on. It is bound in a fresh 0700 directory in dir (through
// /proc/self/fd when that name would be too long for a socket), given
// its owner and mode there, and renamed into place, replacing a stale
// one: no umask is changed (it is the process's), and nobody but uid
// can reach it at any moment.
func bind(dir, path string, uid, gid int) (*net.UnixConn, error) {
	listen := func(name string) (*net.UnixConn, error) {
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if err != nil {
			return nil, err
		}
		raw, err := conn.SyscallConn()
		if err != nil {
			conn.Close()
			return nil, err
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
		}); err != nil {
			conn.Close()
			return nil, err
		}
		if serr != nil {
			conn.Close()
			return nil, fmt.Errorf("SO_PASSCRED: %w", serr)
		}
		return conn, nil
	}
	setup := func(tmp string) error {
		if uid >= 0 || gid >= 0 {
			if err := os.Chown(tmp, uid, gid); err != nil {
				return err
			}
		}
		return os.Chmod(tmp, SocketMode)
	}
	return sockfile.Bind(dir, bindPrefix, listen, setup, func(tmp string) error { return os.Rename(tmp, path) })
}

// unreachable is a directory on the way from / to dir that uid (with
// primary group gid) may not pass through, or "". Supplementary groups
// are not known here: the answer may be a false alarm, never a miss.
func unreachable(dir string, uid, gid int) string {
	for d := dir; ; d = filepath.Dir(d) {
		var st unix.Stat_t
		if unix.Stat(d, &st) == nil {
			var bit uint32 = 0o001
			switch {
			case int(st.Uid) == uid:
				bit = 0o100
			case int(st.Gid) == gid:
				bit = 0o010
			}
			if st.Mode&bit == 0 {
				return d
			}
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}
