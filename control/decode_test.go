package control

import (
	"bytes"
	"encoding/json"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"tend/api"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		method, path, query, body string
		want                      api.Request // Verb "" = an error
		code                      int
	}{
		{"GET", "/v1/status", "", "", api.Request{Verb: "status"}, 0},
		{"GET", "/v1/status", "name=web:*&name=db", "", api.Request{Verb: "status", Names: []string{"web:*", "db"}}, 0},
		{"GET", "/v1/health", "", "", api.Request{Verb: "health"}, 0},
		{"GET", "/v1/events", "name=db", "", api.Request{Verb: "events", Names: []string{"db"}}, 0},
		{"POST", "/v1/start", "", `{"names":["web:0"]}`, api.Request{Verb: "start", Names: []string{"web:0"}}, 0},
		{"POST", "/v1/stop", "", "\n {\"names\" : [\"*\"]}\n", api.Request{Verb: "stop", Names: []string{"*"}}, 0},
		{"POST", "/v1/restart", "", `{"names":["a","b"]}`, api.Request{Verb: "restart", Names: []string{"a", "b"}}, 0},
		{"POST", "/v1/pause", "", `{"names":["a"]}`, api.Request{Verb: "pause", Names: []string{"a"}}, 0},
		{"POST", "/v1/resume", "", `{"names":["a"]}`, api.Request{Verb: "resume", Names: []string{"a"}}, 0},
		{"POST", "/v1/signal", "", `{"signal":"SIGRTMIN+3","names":["a"]}`, api.Request{Verb: "signal", Signal: "SIGRTMIN+3", Names: []string{"a"}}, 0},
		{"POST", "/v1/reload", "", ``, api.Request{Verb: "reload"}, 0},
		{"POST", "/v1/shutdown", "", `{}`, api.Request{Verb: "shutdown"}, 0},
		{"GET", "/v1/logs", "", "", api.Request{Verb: "logs", Lines: 100}, 0},
		{"GET", "/v1/logs", "name=web&n=5&follow=true", "", api.Request{Verb: "logs", Names: []string{"web"}, Lines: 5, Follow: true}, 0},
		{"GET", "/v1/logs", "n=0&follow=1&follow=0", "", api.Request{Verb: "logs", Lines: 0}, 0},
		{"POST", "/v1/scale", "", `{"name":"worker","instances":3}`, api.Request{Verb: "scale", Names: []string{"worker"}, Instances: 3}, 0},

		{"GET", "/v1/logs", "n=-1", "", api.Request{}, 400},
		{"GET", "/v1/logs", "n=x", "", api.Request{}, 400},
		{"GET", "/v1/logs", "follow=yes", "", api.Request{}, 400},
		{"GET", "/v1/status", "n=5", "", api.Request{}, 400},
		{"GET", "/v1/events", "follow=true", "", api.Request{}, 400},
		{"POST", "/v1/scale", "", `{"name":"worker"}`, api.Request{}, 400},
		{"POST", "/v1/scale", "", `{"name":"worker","instances":0}`, api.Request{}, 400},
		{"POST", "/v1/scale", "", `{"name":"worker","instances":1001}`, api.Request{}, 400},
		{"POST", "/v1/scale", "", `{"instances":2}`, api.Request{}, 400},
		{"POST", "/v1/scale", "", `{"name":"w\u0001","instances":2}`, api.Request{}, 400},
		{"POST", "/v1/scale", "", `{"names":["w"],"instances":2}`, api.Request{}, 400},

		{"GET", "/v1/nope", "", "", api.Request{}, 404},
		{"GET", "/v1/Status", "", "", api.Request{}, 404},
		{"HEAD", "/v1/status", "", "", api.Request{}, 405},
		{"POST", "/v1/health", "", "", api.Request{}, 405},
		{"GET", "/v1/status", "name=", "", api.Request{}, 400},
		{"GET", "/v1/status", "name=%ff", "", api.Request{}, 400},
		{"GET", "/v1/status", "name=a;b", "", api.Request{}, 400},
		{"GET", "/v1/events", "names=a", "", api.Request{}, 400},
		{"GET", "/v1/health", "", " ", api.Request{}, 400},
		{"POST", "/v1/start", "name=a", `{"names":["a"]}`, api.Request{}, 400},
		{"POST", "/v1/start", "", `{"names":null}`, api.Request{}, 400},
		{"POST", "/v1/start", "", `{"names":["a"],"signal":"HUP"}`, api.Request{}, 400},
		{"POST", "/v1/start", "", `{"names":["` + strings.Repeat("a", 257) + `"]}`, api.Request{}, 400},
		{"POST", "/v1/start", "", `{"names":[` + strings.Repeat(`"a",`, 1000) + `"a"]}`, api.Request{}, 400},
		// A lone surrogate decodes to U+FFFD: printable, harmless, it
		// matches no program.
		{"POST", "/v1/start", "", `{"names":["\ud800"]}`, api.Request{Verb: "start", Names: []string{"\uFFFD"}}, 0},
		{"POST", "/v1/start", "", "{\"names\":[\"a\xffb\"]}", api.Request{}, 400},
		// JSON's whitespace around the object, and no other.
		{"POST", "/v1/start", "", " \t\r\n{\"names\":[\"a\"]}\n", api.Request{Verb: "start", Names: []string{"a"}}, 0},
		{"POST", "/v1/start", "", "\v{\"names\":[\"a\"]}", api.Request{}, 400},
		{"POST", "/v1/start", "", "{\"names\":[\"a\"]}\f", api.Request{}, 400},
		{"POST", "/v1/reload", "", "\u00a0", api.Request{}, 400},
		{"POST", "/v1/reload", "", " \n", api.Request{Verb: "reload"}, 0},
		{"POST", "/v1/signal", "", `{"signal":"` + strings.Repeat("A", 33) + `","names":["a"]}`, api.Request{}, 400},
		{"POST", "/v1/signal", "", `{"signal":"-","names":["a"]}`, api.Request{Verb: "signal", Signal: "-", Names: []string{"a"}}, 0},
		{"POST", "/v1/reload", "", `null`, api.Request{}, 400},
		{"POST", "/v1/reload", "", `{} x`, api.Request{}, 400},
		{"POST", "/v1/shutdown", "", `{"now":true}`, api.Request{}, 400},
	} {
		got, err := decode(api.Routes, tc.method, tc.path, tc.query, []byte(tc.body))
		if tc.code != 0 {
			he, ok := err.(*httpError)
			if !ok || he.code != tc.code {
				t.Errorf("%s %s?%s %q: %+v %v, want %d", tc.method, tc.path, tc.query, tc.body, got, err, tc.code)
			}
			continue
		}
		if err != nil || got.Verb != tc.want.Verb || !slices.Equal(got.Names, tc.want.Names) || got.Signal != tc.want.Signal ||
			got.Lines != tc.want.Lines || got.Follow != tc.want.Follow || got.Instances != tc.want.Instances {
			t.Errorf("%s %s?%s %q: %+v %v, want %+v", tc.method, tc.path, tc.query, tc.body, got, err, tc.want)
		}
	}
}

// FuzzDecode: whatever arrives, decode does not panic, and what it
// accepts is well formed: what api.Request promises the loop.
func FuzzDecode(f *testing.F) {
	for _, s := range []struct{ method, path, query, body string }{
		{"GET", "/v1/status", "", ""},
		{"GET", "/v1/status", "name=web:*&name=db", ""},
		{"GET", "/v1/events", "name=%5B", ""},
		{"GET", "/v1/health", "", ""},
		{"POST", "/v1/start", "", `{"names":["web:0"]}`},
		{"POST", "/v1/stop", "", `{"names":["*"]}`},
		{"POST", "/v1/signal", "", `{"signal":"HUP","names":["db","web:[0-1]"]}`},
		{"POST", "/v1/reload", "", ``},
		{"POST", "/v1/shutdown", "", `{}`},
		{"POST", "/v1/start", "", `{"names":["a"]}{}`},
		{"POST", "/v1/start", "", `{"Names":["a"],"NAMES":["b"]}`},
		{"POST", "/v1/start", "", `{"names":["\u0000"]}`},
		{"PUT", "/v1/start", "a=b", `[1,2]`},
		{"GET", "/v1/../v1/status", "", ""},
		{"GET", "/v1/logs", "name=web&n=20&follow=true", ""},
		{"POST", "/v1/scale", "", `{"name":"worker","instances":3}`},
	} {
		f.Add(s.method, s.path, s.query, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, urlPath, query string, body []byte) {
		req, err := decode(api.Routes, method, urlPath, query, body)
		if err != nil {
			he, ok := err.(*httpError)
			if !ok {
				t.Fatalf("error %T %v, want *httpError", err, err)
			}
			if he.code < 400 || he.code > 499 || he.msg == "" || !utf8.ValidString(he.msg) {
				t.Fatalf("bad refusal %d %q", he.code, he.msg)
			}
			if req.Verb != "" || req.Names != nil || req.Signal != "" {
				t.Fatalf("refused, yet returned %+v", req)
			}
			return
		}
		rt, ok := routeOf(api.Routes, urlPath)
		if !ok || rt.Method != method || rt.Verb != req.Verb {
			t.Fatalf("accepted %s %s as %q", method, urlPath, req.Verb)
		}
		if req.Reply != nil || req.Events != nil || req.Done != nil {
			t.Fatal("decode set channels")
		}
		if len(req.Names) > api.MaxNames {
			t.Fatalf("%d names", len(req.Names))
		}
		for _, n := range req.Names {
			if n == "" || len(n) > api.MaxNameLen || !utf8.ValidString(n) || strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("accepted name %q", n)
			}
			if _, err := path.Match(n, "x"); err != nil {
				t.Fatalf("accepted bad pattern %q", n)
			}
		}
		switch rt.Body {
		case api.BodyNone:
			if len(body) != 0 {
				t.Fatalf("GET with a body accepted: %q", body)
			}
		case api.BodyEmpty:
			if len(req.Names) != 0 || req.Signal != "" {
				t.Fatalf("%s accepted %+v", req.Verb, req)
			}
			if b := bytes.Trim(body, " \t\r\n"); len(b) != 0 && !json.Valid(b) {
				t.Fatalf("%s accepted invalid JSON %q", req.Verb, body)
			}
		case api.BodyNames, api.BodySignal:
			if len(req.Names) == 0 || !json.Valid(body) {
				t.Fatalf("%s accepted %+v from %q", req.Verb, req, body)
			}
		case api.BodyScale:
			if len(req.Names) != 1 || req.Instances < 1 || req.Instances > api.MaxInstances || !json.Valid(body) {
				t.Fatalf("%s accepted %+v from %q", req.Verb, req, body)
			}
		}
		if (req.Instances != 0) != (rt.Body == api.BodyScale) || req.Lines < 0 || req.Follow && req.Verb != api.VerbLogs {
			t.Fatalf("%s accepted %+v", req.Verb, req)
		}
		if (req.Signal != "") != (req.Verb == api.VerbSignal) || len(req.Signal) > api.MaxSignalLen {
			t.Fatalf("signal %q with %s", req.Signal, req.Verb)
		}
		if req.Verb == api.VerbHealth && len(req.Names) != 0 {
			t.Fatalf("health with names %v", req.Names)
		}
		if rt.Query == api.QueryNone {
			if q, _ := url.ParseQuery(query); len(q) != 0 {
				t.Fatalf("%s accepted query %q", req.Verb, query)
			}
		}
	})
}
