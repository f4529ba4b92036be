package ctl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"

	"tend/api"
	"tend/internal/h1"
)

// maxAnswer bounds what the client reads of one answer (and of one events
// line): a status of a thousand programs is far below it.
const maxAnswer = 8 << 20

// Client talks to a running tend over its control socket, one
// connection per request: `tend ctl` makes one to three, and leaves
// nothing behind, in tend or here. Every method is bounded by its
// context only.
type Client struct {
	socket string
}

// NewClient returns a client for the control socket at socket.
func NewClient(socket string) *Client { return &Client{socket: socket} }

// UnreachableError is returned when tend cannot be reached: no socket,
// connection refused, no answer in time, or not an HTTP answer.
type UnreachableError struct {
	Socket string
	Err    error
}

func (e *UnreachableError) Error() string {
	var op *net.OpError
	err := e.Err
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err // "dial unix /run/tend.sock: connect: " says nothing more
	}
	return fmt.Sprintf("cannot reach tend at %s: %v", e.Socket, err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// APIError is tend's refusal: a malformed request (4xx), an action the
// supervisor refused (422, with its Reply), or a supervisor too busy to
// answer (504).
type APIError struct {
	Code  int
	Msg   string
	Reply api.Reply
}

func (e *APIError) Error() string { return e.Msg }

// DroppedError ends an events or logs stream whose reader fell behind:
// tend dropped it, and what came after was lost.
type DroppedError struct {
	Reason string
	// Logs: the stream was a logs stream, not events.
	Logs bool
}

func (e *DroppedError) Error() string {
	if e.Logs {
		return "tend dropped the logs stream: " + e.Reason
	}
	return "tend dropped the events stream: " + e.Reason
}

// Status returns the programs matching names (all when none).
func (c *Client) Status(ctx context.Context, names []string) ([]api.Status, error) {
	var reply api.Reply
	err := c.call(ctx, "GET", "/v1/status", nameQuery(names), nil, &reply)
	return reply.Programs, err
}

// Health asks whether every critical program is RUNNING and healthy. An
// unhealthy answer is not an error: see Reply.Healthy and Reply.Reason.
func (c *Client) Health(ctx context.Context) (api.Reply, error) {
	var h api.HealthBody
	err := c.call(ctx, "GET", "/v1/health", nil, nil, &h)
	return api.Reply{Healthy: h.Healthy, Reason: h.Reason}, err
}

// Do asks for an action, a verb that POSTs (api.Routes): start, stop,
// restart, pause and resume take names; signal takes a signal and
// names; reload and shutdown take neither. The Reply lists the programs
// acted on.
func (c *Client) Do(ctx context.Context, verb api.Verb, names []string, signal string) (api.Reply, error) {
	rt, ok := api.RouteOf(verb)
	if !ok || rt.Method != "POST" {
		return api.Reply{}, fmt.Errorf("%q is not an action", verb)
	}
	var body any = struct{}{}
	switch rt.Body {
	case api.BodyScale:
		return api.Reply{}, fmt.Errorf("%q: use Scale", verb)
	case api.BodyNames:
		body = struct {
			Names []string `json:"names"`
		}{names}
	case api.BodySignal:
		body = struct {
			Signal string   `json:"signal"`
			Names  []string `json:"names"`
		}{signal, names}
	}
	var reply api.Reply
	err := c.call(ctx, rt.Method, rt.Path, nil, body, &reply)
	return reply, err
}

// Scale asks for n instances of the program name (a program's name as
// its config spells it, "worker", not an instance's). The Reply lists its
// instances, new and stopping ones included.
func (c *Client) Scale(ctx context.Context, name string, n int) (api.Reply, error) {
	rt, _ := api.RouteOf(api.VerbScale)
	body := struct {
		Name      string `json:"name"`
		Instances int    `json:"instances"`
	}{name, n}
	var reply api.Reply
	err := c.call(ctx, rt.Method, rt.Path, nil, body, &reply)
	return reply, err
}

// call makes one request and decodes the JSON answer into out. Errors
// are *UnreachableError or *APIError.
func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	resp, err := c.send(ctx, method, path, q, in)
	if err != nil {
		return err
	}
	defer resp.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return &UnreachableError{Socket: c.socket, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	// An unhealthy tend answers /v1/health with 503 and a health body,
	// not an error body.
	var reply api.Reply
	errJSON := json.Unmarshal(data, &reply)
	unhealthy := path == "/v1/health" && resp.Code == h1.StatusServiceUnavailable && errJSON == nil && reply.Err == ""
	if resp.Code/100 != 2 && !unhealthy {
		if errJSON != nil || reply.Err == "" {
			return &APIError{Code: resp.Code, Msg: resp.Status + ": " + abbrev(data)}
		}
		return &APIError{Code: resp.Code, Msg: reply.Err, Reply: reply}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &APIError{Code: resp.Code, Msg: "not a tend answer: " + abbrev(data)}
	}
	return nil
}

// send makes one request on a connection of its own and returns the
// answer, whatever its status; the caller closes it.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, in any) (*h1.Response, error) {
	h := h1.Header{{Name: "Host", Value: "tend"}}
	var body []byte
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = data
		h = append(h, h1.Field{Name: "Content-Type", Value: "application/json"})
	}
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return nil, &UnreachableError{Socket: c.socket, Err: err}
	}
	resp, err := h1.Do(ctx, conn, method, target, h, body)
	if err != nil {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			err = fmt.Errorf("no answer in time (%w)", ctx.Err())
		case ctx.Err() != nil:
			err = ctx.Err()
		default:
			err = fmt.Errorf("%s %s: %w", method, path, err)
		}
		return nil, &UnreachableError{Socket: c.socket, Err: err}
	}
	return resp, nil
}

// Events opens the stream of state changes of the programs matching
// names (all when none). Read it with Next; Close it when done.
func (c *Client) Events(ctx context.Context, names []string) (*EventStream, error) {
	sc, resp, err := c.openStream(ctx, "/v1/events", nameQuery(names))
	if err != nil {
		return nil, err
	}
	return &EventStream{ctx: ctx, resp: resp, sc: sc, socket: c.socket}, nil
}

// Logs opens the last n lines the programs matching names (all when
// none) wrote, and with follow the lines after them as they come. Read
// it with Next; Close it when done.
func (c *Client) Logs(ctx context.Context, names []string, n int, follow bool) (*LogStream, error) {
	q := nameQuery(names)
	if q == nil {
		q = url.Values{}
	}
	q.Set("n", strconv.Itoa(n))
	if follow {
		q.Set("follow", "true")
	}
	sc, resp, err := c.openStream(ctx, "/v1/logs", q)
	if err != nil {
		return nil, err
	}
	return &LogStream{ctx: ctx, resp: resp, sc: sc, socket: c.socket}, nil
}

// openStream makes a GET whose answer is JSON lines, and returns them to
// be scanned, or tend's refusal.
func (c *Client) openStream(ctx context.Context, path string, q url.Values) (*bufio.Scanner, *h1.Response, error) {
	resp, err := c.send(ctx, "GET", path, q, nil)
	if err != nil {
		return nil, nil, err
	}
	if resp.Code != h1.StatusOK {
		defer resp.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		var eb api.ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = resp.Status + ": " + abbrev(data)
		}
		return nil, nil, &APIError{Code: resp.Code, Msg: eb.Error}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), maxAnswer)
	return sc, resp, nil
}

// EventStream is an open GET /v1/events.
type EventStream struct {
	ctx    context.Context
	resp   *h1.Response
	sc     *bufio.Scanner
	socket string
}

// Next returns the next event. It returns io.EOF when tend ended the
// stream (it is shutting down), a *DroppedError when tend dropped this
// reader for falling behind, and the context's error when it is done.
func (s *EventStream) Next() (api.Event, error) {
	for s.sc.Scan() {
		line := s.sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var d api.Dropped
		if err := json.Unmarshal(line, &d); err == nil && d.Dropped {
			return api.Event{}, &DroppedError{Reason: d.Reason}
		}
		var ev api.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return api.Event{}, fmt.Errorf("events: not an event: %s", abbrev(line))
		}
		return ev, nil
	}
	if err := s.ctx.Err(); err != nil {
		return api.Event{}, err
	}
	if err := s.sc.Err(); err != nil {
		return api.Event{}, &UnreachableError{Socket: s.socket, Err: fmt.Errorf("events stream: %w", err)}
	}
	return api.Event{}, io.EOF
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.resp.Close() }

// LogStream is an open GET /v1/logs.
type LogStream struct {
	ctx    context.Context
	resp   *h1.Response
	sc     *bufio.Scanner
	socket string
}

// Next returns the next line, and the JSON it came as. It returns io.EOF
// at the end (the last lines given, without follow; or tend is shutting
// down), a *DroppedError when tend dropped this reader for falling
// behind, and the context's error when it is done.
func (s *LogStream) Next() (api.LogLine, []byte, error) {
	for s.sc.Scan() {
		raw := s.sc.Bytes()
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		var d api.Dropped
		if err := json.Unmarshal(raw, &d); err == nil && d.Dropped {
			return api.LogLine{}, nil, &DroppedError{Reason: d.Reason, Logs: true}
		}
		var l api.LogLine
		if err := json.Unmarshal(raw, &l); err != nil || l.Program == "" {
			return api.LogLine{}, nil, fmt.Errorf("logs: not a line: %s", abbrev(raw))
		}
		return l, raw, nil
	}
	if err := s.ctx.Err(); err != nil {
		return api.LogLine{}, nil, err
	}
	if err := s.sc.Err(); err != nil {
		return api.LogLine{}, nil, &UnreachableError{Socket: s.socket, Err: fmt.Errorf("logs stream: %w", err)}
	}
	return api.LogLine{}, nil, io.EOF
}

// Close ends the stream.
func (s *LogStream) Close() error { return s.resp.Close() }

func nameQuery(names []string) url.Values {
	if len(names) == 0 {
		return nil
	}
	return url.Values{"name": names}
}

// abbrev is the start of an unexpected answer, for an error message.
func abbrev(data []byte) string {
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return fmt.Sprintf("%q", s)
}
