package supervisor

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// http probes against real listeners: net/http's server plays the
// program, so the probe's own HTTP client is checked against another
// implementation.

func TestHTTPProbe(t *testing.T) {
	var host string // set before the first request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("fine"))
		case "/moved":
			// Followed, it would fail: a 3xx is an answer, and healthy.
			http.Redirect(w, r, "/broken", http.StatusMovedPermanently)
		case "/broken":
			http.Error(w, "down", http.StatusInternalServerError)
		case "/chunked":
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			w.Write([]byte("b"))
		case "/who":
			user, pass, _ := r.BasicAuth()
			if r.Method != "GET" || r.RequestURI != "/who?x=1&y=%20" || r.Host != host ||
				r.UserAgent() != "Go-http-client/1.1" || user != "me" || pass != "s3cret" || r.ContentLength != 0 {
				t.Errorf("request %s %s host %q agent %q auth %q:%q length %d", r.Method, r.RequestURI, r.Host, r.UserAgent(), user, pass, r.ContentLength)
				w.WriteHeader(http.StatusBadRequest)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	host = strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		url  string
		want string // "" healthy, else in the error
	}{
		{srv.URL + "/ok", ""},
		{srv.URL + "/moved", ""},
		{srv.URL + "/chunked", ""},
		{strings.Replace(srv.URL, "http://", "http://me:s3cret@", 1) + "/who?x=1&y=%20", ""},
		{srv.URL + "/broken", "http status 500"},
		{srv.URL + "/nope", "http status 404"},
	} {
		err := httpCheck(context.Background(), tc.url)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.url, err, tc.want)
		}
	}
}

// Nobody listening: the error says so, worded as net/http's client did.
func TestHTTPProbeRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	ln.Close()
	err = httpCheck(context.Background(), url)
	if err == nil || !strings.HasPrefix(err.Error(), `Get "`+url+`": dial tcp `) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("%v, want Get %q: dial tcp …: connection refused", err, url)
	}
}

// A server that takes the connection and never answers: the probe ends
// when its context does, and its connection is closed.
func TestHTTPProbeCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			closed <- err
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.Copy(io.Discard, c) // the request, then the end of the connection
		closed <- err
	}()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err = httpCheck(ctx, "http://"+ln.Addr().String()+"/health")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("probe: %v, want context canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("probe returned after %v", d)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("server side: %v, want the probe to close its connection", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the probe's connection was not closed")
	}
}
