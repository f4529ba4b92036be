package control

import (
	"context"

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
		if !s.takeStream(x) {
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

	st := s.openStream(x)
	if st == nil {
		return
	}
	if lr.Tail(st, req.Lines, req.Follow) != nil {
		return
	}
	if !req.Follow {
		st.end()
		return
	}
	for {
		select {
		case <-ctx.Done(): // the client is gone
			return
		case <-s.quit:
			st.end()
			return
		case <-lr.Wake():
			err := lr.More(st)
			if err == nil {
				continue
			}
			if st.failed {
				return // the client is gone, or too slow to take a write
			}
			s.drop(st, req, "logs follower", err.Error())
			return
		}
	}
}
