package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"time"

	"tend/api"
	"tend/internal/h1"
)

// logs answers GET /v1/logs: the last lines of the programs asked for,
// one JSON line each (api.LogLine), and with ?follow=true the lines that
// come after, until the client goes away or tend shuts down. The loop
// answers with what to read (api.LogReader); this goroutine reads and
// writes it, so a slow client holds up nothing but itself. A follower
// that falls behind (the program wrote more than tend keeps before the
// client took it) is dropped, as an events reader is, and its stream ends
// with {"dropped":true,"reason":"…"}.
func (s *server) logs(ctx context.Context, x *exchange, req api.Request) {
	if req.Follow {
		if n, most := s.streams.Add(1), int64(s.opt.maxStreams); n > most {
			s.streams.Add(-1)
			s.writeError(x, &httpError{h1.StatusServiceUnavailable,
				fmt.Sprintf("tend is busy: %d events and logs streams open, at most %d", n-1, most)})
			return
		}
		defer s.streams.Add(-1)
	}
	reply, herr := s.askAudited(ctx, req)
	switch {
	case herr != nil:
		s.writeError(x, herr)
		return
	case reply.Err != "":
		s.writeJSON(x, h1.StatusUnprocessableEntity, reply)
		return
	case reply.Logs == nil:
		s.writeError(x, &httpError{h1.StatusInternalServerError, "the supervisor gave no logs"})
		return
	}
	lr := reply.Logs
	defer lr.Close()

	_ = x.c.SetWriteDeadline(time.Now().Add(s.opt.writeTimeout))
	body, err := x.req.Stream(x.c, h1.StatusOK, h1.Header{
		{Name: "Content-Type", Value: "application/x-ndjson"},
		{Name: "Cache-Control", Value: "no-store"},
	})
	if err != nil {
		return
	}
	w := &deadlined{c: x.c, w: body, timeout: s.opt.writeTimeout}
	if lr.Tail(w, req.Lines, req.Follow) != nil {
		return
	}
	if !req.Follow {
		_ = body.Close()
		return
	}
	for {
		select {
		case <-ctx.Done(): // the client is gone
			return
		case <-s.quit:
			_ = x.c.SetWriteDeadline(time.Now().Add(s.opt.writeTimeout))
			_ = body.Close()
			return
		case <-lr.Wake():
			err := lr.More(w)
			if err == nil {
				continue
			}
			if w.failed {
				return // the client is gone, or too slow to take a write
			}
			s.log.Warn().Uint32("peer_uid", req.Peer.UID).Int32("peer_pid", req.Peer.PID).
				Str("reason", err.Error()).Msg("control: logs follower dropped")
			if w.writeJSON(api.Dropped{Dropped: true, Reason: err.Error()}) == nil {
				_ = body.Close()
			}
			return
		}
	}
}

// deadlined writes to w, each write bounded by timeout, and remembers
// that one failed.
type deadlined struct {
	c       net.Conn
	w       io.Writer
	timeout time.Duration
	failed  bool
}

func (d *deadlined) Write(p []byte) (int, error) {
	_ = d.c.SetWriteDeadline(time.Now().Add(d.timeout))
	n, err := d.w.Write(p)
	if err != nil {
		d.failed = true
	}
	return n, err
}

func (d *deadlined) writeJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = d.Write(append(data, '\n'))
	return err
}
