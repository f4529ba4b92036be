package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tend/api"
)

// The client against net/http's server playing tend: what the client
// speaks is HTTP, not merely what internal/h1 agrees with itself on. (The
// other way round, net/http's client against tend's server, is in
// server_test.go.)
func TestClientAgainstNetHTTP(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "tend.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	answer := func(w http.ResponseWriter, code int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, body+"\n")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		if got := r.URL.Query()["name"]; len(got) != 2 || got[0] != "web:*" || got[1] != "a b" || r.Host != "tend" {
			answer(w, 400, `{"error":"bad query"}`)
			return
		}
		answer(w, 200, `{"programs":[{"name":"web:0","state":"RUNNING","pid":7,"restarts":2}]}`)
	})
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 503, `{"healthy":false,"reason":"web is BACKOFF"}`)
	})
	mux.HandleFunc("POST /v1/stop", func(w http.ResponseWriter, r *http.Request) {
		var b struct{ Names []string }
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&b) != nil || len(b.Names) != 1 {
			answer(w, 400, `{"error":"bad body"}`)
			return
		}
		answer(w, 422, `{"error":"no program matches `+b.Names[0]+`"}`)
	})
	mux.HandleFunc("POST /v1/restart", func(w http.ResponseWriter, r *http.Request) {
		answer(w, 504, `{"error":"tend is busy: the supervisor did not answer within 5s"}`)
	})
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		// Large enough that net/http sends it chunked.
		answer(w, 200, `{"programs":[`+strings.Repeat(`{"name":"x","state":"RUNNING","pid":1,"restarts":0},`, 200)+`{"name":"last","state":"STOPPED","pid":0,"restarts":0}]}`)
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		for _, line := range []string{
			`{"program":"web:0","state":"STOPPING","from":"RUNNING","pid":7,"time":"2025-01-02T15:04:05Z"}`,
			`{"program":"web:0","state":"STOPPED","from":"STOPPING","pid":0,"time":"2025-01-02T15:04:06Z"}`,
		} {
			io.WriteString(w, line+"\n")
			w.(http.Flusher).Flush()
		}
		if r.URL.Query().Get("name") == "drop" {
			io.WriteString(w, `{"dropped":true,"reason":"the client fell behind"}`+"\n")
			return
		}
		<-r.Context().Done()
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := NewClient(sock)
	progs, err := c.Status(ctx, []string{"web:*", "a b"})
	if err != nil || len(progs) != 1 || progs[0].Name != "web:0" || progs[0].Pid != 7 || progs[0].Restarts != 2 {
		t.Errorf("status: %+v %v", progs, err)
	}
	if h, err := c.Health(ctx); err != nil || h.Healthy || h.Reason != "web is BACKOFF" {
		t.Errorf("health: %+v %v", h, err)
	}
	_, err = c.Do(ctx, api.VerbStop, []string{"nope"}, "")
	if e, ok := errors.AsType[*APIError](err); !ok || e.Code != 422 || e.Msg != "no program matches nope" {
		t.Errorf("stop: %v", err)
	}
	_, err = c.Do(ctx, api.VerbRestart, []string{"web"}, "")
	if e, ok := errors.AsType[*APIError](err); !ok || e.Code != 504 {
		t.Errorf("restart: %v", err)
	}
	if reply, err := c.Do(ctx, api.VerbReload, nil, ""); err != nil || len(reply.Programs) != 201 || reply.Programs[200].Name != "last" {
		t.Errorf("reload: %d programs, %v", len(reply.Programs), err)
	}
	if _, err := c.Do(ctx, api.VerbShutdown, nil, ""); err == nil || !strings.Contains(err.Error(), "404 Not Found: ") {
		t.Errorf("shutdown, which this server does not know: %v", err)
	}

	// A stream that tend drops, then one that the client ends.
	stream, err := c.Events(ctx, []string{"drop"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []api.State{api.Stopping, api.Stopped} {
		if ev, err := stream.Next(); err != nil || ev.State != want {
			t.Fatalf("event %+v %v, want %s", ev, err, want)
		}
	}
	if _, err := stream.Next(); !errors.As(err, new(*DroppedError)) {
		t.Errorf("after the events: %v, want dropped", err)
	}
	stream.Close()
	sctx, scancel := context.WithCancel(ctx)
	stream, err = c.Events(sctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	stream.Next()
	stream.Next()
	time.AfterFunc(50*time.Millisecond, scancel)
	if _, err := stream.Next(); err != context.Canceled {
		t.Errorf("cancelled stream: %v", err)
	}
}
