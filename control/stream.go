package control

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"time"

	"tend/api"
	"tend/internal/h1"
)

// The streams of JSON lines, /v1/events and /v1/logs: what the two
// share. A stream counts against maxStreams while it is open; its body
// is chunked, one chunk per line, so its end is the end of the chunked
// body, which a client tells from a cut connection; each write is
// bounded by the write timeout; a follower that fell behind is dropped
// with a last line {"dropped":true,"reason":"…"}.

// takeStream counts a stream, or answers 503 when maxStreams are open
// and reports false. A stream taken is given back with s.streams.Add(-1).
func (s *server) takeStream(x *exchange) bool {
	if n, most := s.streams.Add(1), int64(s.opt.maxStreams); n > most {
		s.streams.Add(-1)
		s.writeError(x, &httpError{h1.StatusServiceUnavailable,
			fmt.Sprintf("tend is busy: %d events and logs streams open, at most %d", n-1, most)})
		return false
	}
	return true
}

// openStream answers 200 with a body of JSON lines; nil if the client is
// gone.
func (s *server) openStream(x *exchange) *jsonLines {
	_ = x.c.SetWriteDeadline(time.Now().Add(s.opt.writeTimeout))
	body, err := x.req.Stream(x.c, h1.StatusOK, h1.Header{
		{Name: "Content-Type", Value: "application/x-ndjson"},
		{Name: "Cache-Control", Value: "no-store"},
	})
	if err != nil {
		return nil
	}
	return &jsonLines{c: x.c, w: body, body: body, timeout: s.opt.writeTimeout}
}

// drop ends st for a follower that fell behind: logged, and said as the
// stream's last line.
func (s *server) drop(st *jsonLines, req api.Request, what, reason string) {
	s.log.Warn().Uint32("peer_uid", req.Peer.UID).Int32("peer_pid", req.Peer.PID).
		Str("reason", reason).Msg("control: " + what + " dropped")
	if st.writeJSON(api.Dropped{Dropped: true, Reason: reason}) == nil {
		st.end()
	}
}

// jsonLines is a stream's body: writes to w, each bounded by timeout,
// remembering that one failed.
type jsonLines struct {
	c       net.Conn
	w       io.Writer
	body    io.Closer
	timeout time.Duration
	failed  bool
}

func (d *jsonLines) Write(p []byte) (int, error) {
	_ = d.c.SetWriteDeadline(time.Now().Add(d.timeout))
	n, err := d.w.Write(p)
	if err != nil {
		d.failed = true
	}
	return n, err
}

// writeJSON writes v as one line, in one Write: one chunk.
func (d *jsonLines) writeJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = d.Write(append(data, '\n'))
	return err
}

// end closes the body: the chunked stream's last chunk.
func (d *jsonLines) end() {
	_ = d.c.SetWriteDeadline(time.Now().Add(d.timeout))
	_ = d.body.Close()
}
