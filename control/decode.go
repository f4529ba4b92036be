package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"tend/api"
	"tend/internal/h1"
)

// maxBody bounds a request's body: the longest list of names the API
// takes (api.MaxNames of api.MaxNameLen bytes) is far below it.
const maxBody = 64 << 10

// routeOf finds the endpoint for urlPath in table: api.Routes, or the
// metrics listener's metricsRoutes.
func routeOf(table []api.Route, urlPath string) (api.Route, bool) {
	for _, rt := range table {
		if rt.Path == urlPath {
			return rt, true
		}
	}
	return api.Route{}, false
}

// httpError is a request the server refuses, with its HTTP status.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, a ...any) *httpError {
	return &httpError{h1.StatusBadRequest, fmt.Sprintf(format, a...)}
}

// lookup finds the route in table for method and path: 404 for an
// unknown path, 405 for a known path with the wrong method.
func lookup(table []api.Route, method, urlPath string) (api.Route, *httpError) {
	rt, ok := routeOf(table, urlPath)
	if !ok {
		return rt, &httpError{h1.StatusNotFound, fmt.Sprintf("no such endpoint: %s (see docs/control.md)", api.Printable(urlPath))}
	}
	if method != rt.Method {
		return rt, &httpError{h1.StatusMethodNotAllowed, fmt.Sprintf("%s takes %s, not %s", urlPath, rt.Method, api.Printable(method))}
	}
	return rt, nil
}

// decode turns an HTTP request's method, path, raw query and body into a
// Request for the loop (Peer, Reply, Events and Done not set yet), by the
// routes of table, or an *httpError saying why not. It never panics and
// accepts only what is well formed: see api.Request for what the loop may
// rely on.
func decode(table []api.Route, method, urlPath, rawQuery string, body []byte) (api.Request, error) {
	rt, herr := lookup(table, method, urlPath)
	if herr != nil {
		return api.Request{}, herr
	}
	req := api.Request{Verb: rt.Verb}

	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return api.Request{}, badRequest("bad query string: %v", err)
	}
	if rt.Query == api.QueryLogs {
		req.Lines = api.DefaultLogLines
	}
	for k, vs := range q {
		switch {
		case k == "name" && rt.Query != api.QueryNone:
			req.Names = append(req.Names, vs...)
		case k == "n" && rt.Query == api.QueryLogs:
			n, err := strconv.Atoi(vs[len(vs)-1])
			if err != nil || n < 0 {
				return api.Request{}, badRequest("n: want a number of lines, 0 or more, not %s", api.Printable(vs[len(vs)-1]))
			}
			req.Lines = n
		case k == "follow" && rt.Query == api.QueryLogs:
			f, err := strconv.ParseBool(vs[len(vs)-1])
			if err != nil {
				return api.Request{}, badRequest("follow: want true or false, not %s", api.Printable(vs[len(vs)-1]))
			}
			req.Follow = f
		default:
			return api.Request{}, badRequest("%s takes no query parameter %s", urlPath, api.Printable(k))
		}
	}

	switch rt.Body {
	case api.BodyNone:
		if len(body) != 0 {
			return api.Request{}, badRequest("%s %s takes no body", method, urlPath)
		}
	case api.BodyEmpty:
		if len(trimJSONSpace(body)) != 0 {
			if err := decodeJSON(body, &struct{}{}); err != nil {
				return api.Request{}, err
			}
		}
	case api.BodyNames:
		var b struct {
			Names []string `json:"names"`
		}
		if err := decodeJSON(body, &b); err != nil {
			return api.Request{}, err
		}
		req.Names = b.Names
	case api.BodySignal:
		var b struct {
			Signal string   `json:"signal"`
			Names  []string `json:"names"`
		}
		if err := decodeJSON(body, &b); err != nil {
			return api.Request{}, err
		}
		if err := api.CheckSignal(b.Signal); err != nil {
			return api.Request{}, badRequest("%v", err)
		}
		req.Signal, req.Names = b.Signal, b.Names
	case api.BodyScale:
		var b struct {
			Name      string `json:"name"`
			Instances *int   `json:"instances"`
		}
		if err := decodeJSON(body, &b); err != nil {
			return api.Request{}, err
		}
		if b.Name == "" {
			return api.Request{}, badRequest(`%s needs a program's name: {"name":"worker","instances":3}`, rt.Verb)
		}
		if b.Instances == nil || *b.Instances < 1 || *b.Instances > api.MaxInstances {
			return api.Request{}, badRequest("%s needs instances from 1 to %d", rt.Verb, api.MaxInstances)
		}
		req.Names, req.Instances = []string{b.Name}, *b.Instances
	}

	if err := api.CheckNames(req.Names); err != nil {
		return api.Request{}, badRequest("%v", err)
	}
	if (rt.Body == api.BodyNames || rt.Body == api.BodySignal) && len(req.Names) == 0 {
		return api.Request{}, badRequest(`%s needs at least one program name: {"names":["web"]}; "*" means all`, rt.Verb)
	}
	return req, nil
}

// decodeJSON decodes one JSON object into v, strictly: no unknown
// fields, nothing after it.
func decodeJSON(body []byte, v any) error {
	trimmed := trimJSONSpace(body)
	if len(trimmed) == 0 {
		return badRequest("missing JSON body")
	}
	if trimmed[0] != '{' {
		return badRequest("request body: want a JSON object")
	}
	if !utf8.Valid(trimmed) {
		// encoding/json would quietly turn it into U+FFFD.
		return badRequest("request body: not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("request body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("request body: data after the JSON object")
	}
	return nil
}

// trimJSONSpace trims the whitespace JSON allows around a value: space,
// tab, CR and LF. Not bytes.TrimSpace, which also takes \v, \f and
// Unicode spaces, and so let through a body that is not JSON (the
// fuzzer's testdata/fuzz/FuzzDecode/f4e088f7d5f7f34c).
func trimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}
