package e2e

import (
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHostileInput: tend as PID 1 takes a corpus of hostile requests on
// its metrics port and its control socket (random bytes, requests cut
// short, a body claimed at 1 GB and one sent at 8 MiB, with a length and
// chunked, header floods, a line of a megabyte, a body trickling in)
// without dying or growing: each gets the status that says what is wrong
// (400, 411, 413, 431, 408), or its connection is dropped, and round
// after round tend's memory and file descriptors come back to where they
// were. The parser's side of it, in depth: internal/h1's
// TestHostileCorpus.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	s, sock, metricsAddr := startMetrics(t)
	s.tl.waitState("db", "RUNNING")
	pid := s.tendPid()

	rng := rand.New(rand.NewPCG(3, 4))
	random := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return string(b)
	}
	type hostile struct {
		name string
		data string // sent at once, from a goroutine (tend may answer first)
		// then, when set, trickle is sent a byte every 200 ms
		trickle string
		want    []string // the answer starts with one of these ("": dropped without one)
	}
	const bad, tooLarge, headTooLarge = "HTTP/1.1 400 ", "HTTP/1.1 413 ", "HTTP/1.1 431 "
	corpus := func(path, method string, bodyOK bool) []hostile {
		// A route that takes no body says so at its first byte; one that
		// takes JSON, when it is all there.
		slowBody := "HTTP/1.1 408 "
		if !bodyOK {
			slowBody = bad
		}
		return []hostile{
			{"random bytes", random(4096), "", []string{bad, headTooLarge, "HTTP/1.1 505 ", "HTTP/1.1 501 ", ""}},
			{"random after a request line", method + " " + path + " HTTP/1.1\r\n" + random(2048), "", []string{bad, headTooLarge, ""}},
			{"request line cut", method + " " + path + " HT", "", []string{""}},
			{"headers cut", method + " " + path + " HTTP/1.1\r\nHost: tend\r\nX-A", "", []string{""}},
			{"1 GB body claimed", method + " " + path + " HTTP/1.1\r\nHost: tend\r\nContent-Length: 1000000000\r\n\r\n{", "", []string{tooLarge}},
			{"8 MiB body sent", method + " " + path + " HTTP/1.1\r\nHost: tend\r\nContent-Length: 8388608\r\n\r\n" + strings.Repeat("x", 8<<20), "", []string{tooLarge}},
			{"1 KiB body of garbage", method + " " + path + " HTTP/1.1\r\nHost: tend\r\nContent-Length: 1024\r\n\r\n" + strings.Repeat("x", 1024), "", []string{bad}},
			{"8 MiB body sent chunked", method + " " + path + " HTTP/1.1\r\nHost: tend\r\nTransfer-Encoding: chunked\r\n\r\n800000\r\n" + strings.Repeat("x", 8<<20) + "\r\n0\r\n\r\n", "", []string{"HTTP/1.1 411 "}},
			{"10,000 header fields", method + " " + path + " HTTP/1.1\r\nHost: tend\r\n" + strings.Repeat("X: y\r\n", 10000) + "\r\n", "", []string{headTooLarge}},
			{"a 1 MiB request line", method + " /" + strings.Repeat("a", 1<<20) + " HTTP/1.1\r\nHost: tend\r\n\r\n", "", []string{headTooLarge}},
			{"a 1 MiB header line", method + " " + path + " HTTP/1.1\r\nHost: tend\r\nX: " + strings.Repeat("a", 1<<20) + "\r\n\r\n", "", []string{headTooLarge}},
			{"headers trickling in", "", method + " " + path + " HTTP/1.1\r\nHost: tend\r\nX: " + strings.Repeat("a", 100), []string{""}},
			{"body trickling in", method + " " + path + " HTTP/1.1\r\nHost: tend\r\nContent-Length: 100\r\n\r\n", strings.Repeat(" ", 100), []string{slowBody}},
		}
	}
	targets := []struct {
		network, address string
		cases            []hostile
	}{
		{"tcp", metricsAddr, corpus("/metrics", "GET", false)},
		{"unix", sock, corpus("/v1/start", "POST", true)},
	}

	// send sends h on a new connection and returns what tend answered
	// until it closed the connection.
	send := func(network, address string, h hostile) (string, error) {
		c, err := net.Dial(network, address)
		if err != nil {
			return "", err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(deadline))
		go func() {
			if _, err := io.WriteString(c, h.data); err != nil {
				return
			}
			for i := range len(h.trickle) {
				if _, err := c.Write([]byte{h.trickle[i]}); err != nil {
					return
				}
				time.Sleep(200 * time.Millisecond) // the slow client under test
			}
			if h.trickle == "" {
				if cw, ok := c.(interface{ CloseWrite() error }); ok && strings.HasSuffix(h.name, "cut") {
					_ = cw.CloseWrite()
				}
			}
		}()
		b, err := io.ReadAll(c)
		return string(b), err
	}
	round := func(check bool) {
		var wg sync.WaitGroup
		for _, tg := range targets {
			for _, h := range tg.cases {
				wg.Go(func() {
					start := time.Now()
					out, err := send(tg.network, tg.address, h)
					if !check {
						return
					}
					if err != nil && !strings.Contains(err.Error(), "connection reset by peer") {
						t.Errorf("%s %s: %v after %q", tg.network, h.name, err, abbrevText(out))
						return
					}
					ok := false
					for _, w := range h.want {
						ok = ok || w == "" && out == "" || w != "" && strings.HasPrefix(out, w)
					}
					if !ok {
						t.Errorf("%s %s: answered %q, want one of %q", tg.network, h.name, abbrevText(out), h.want)
					}
					if h.trickle != "" && time.Since(start) > 4*time.Second {
						t.Errorf("%s %s: dropped after %v, want about 2 s", tg.network, h.name, time.Since(start))
					}
				})
			}
		}
		wg.Wait()
	}

	round(false) // warm up: what the first round allocates for good is not growth
	ctl(t, sock, "health").must(t, 0)
	base := procUsageOf(t, pid)
	const rounds = 5
	for range rounds {
		round(true)
	}
	ctl(t, sock, "health").must(t, 0)
	// The connections all close; the memory comes back within a margin
	// (the Go runtime keeps some of what it grew), not a buffer per byte
	// sent (5 rounds sent some 100 MiB).
	const rssMarginKiB = 16 << 10
	var u procUsage
	ok := waitUsage(t, pid, func(v procUsage) bool {
		u = v
		return v.fds <= base.fds && (raceEnabled || v.rssKiB <= base.rssKiB+rssMarginKiB)
	})
	t.Logf("%d rounds of %d hostile requests: tend's usage before %+v, after %+v", rounds, len(targets[0].cases)+len(targets[1].cases), base, u)
	if !ok {
		t.Errorf("tend did not come back: before %+v, after %+v (RSS +%d KiB allowed)", base, u, rssMarginKiB)
	}
	ctl(t, sock, "shutdown").must(t, 0)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}

func abbrevText(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
