// Package h1 is the part of HTTP/1.1 that tend speaks, and no more: one
// request and its answer on a net.Conn, which then closes (every answer
// says "Connection: close"). A request's body comes with a
// Content-Length; an answer's also chunked (the events stream) or up to
// the end of the connection. The control server (package control) uses
// the server side on the unix socket and the metrics port; `tend ctl`
// (package ctl) and http health checks (package supervisor) the client.
//
// Why not net/http: it links crypto/tls, crypto/x509, HTTP/2, compression
// and more, and a Go program runs the init of every package it links and
// touches their tables as it starts. For tend as PID 1 that doubled the
// binary and the resident memory, for features tend never uses.
// deps_test.go at the module root keeps net/http out.
//
// Left out: keep-alive, chunked requests (411), 100-continue (417), TLS,
// HTTP/2, upgrades, trailers (read and dropped), compression, proxies,
// redirects, cookies.
package h1

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// Header is a message's header fields, in the order sent.
type Header []Field

// Field is one header field.
type Field struct{ Name, Value string }

// Get returns the value of the first field called name (in any case), or
// "".
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// values returns the values of every field called name.
func (h Header) values(name string) []string {
	var vs []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Status codes tend sends.
const (
	StatusOK                    = 200
	StatusBadRequest            = 400
	StatusNotFound              = 404
	StatusMethodNotAllowed      = 405
	StatusRequestTimeout        = 408
	StatusLengthRequired        = 411
	StatusRequestEntityTooLarge = 413
	StatusExpectationFailed     = 417
	StatusUnprocessableEntity   = 422
	StatusHeaderTooLarge        = 431
	StatusInternalServerError   = 500
	StatusNotImplemented        = 501
	StatusServiceUnavailable    = 503
	StatusGatewayTimeout        = 504
	StatusHTTPVersion           = 505
)

// StatusText is the reason phrase for code, as net/http words it; "" for
// a code tend never sends. A switch, not a map: a map literal is built by
// code when the program starts (see routes in package control).
func StatusText(code int) string {
	switch code {
	case StatusOK:
		return "OK"
	case StatusBadRequest:
		return "Bad Request"
	case StatusNotFound:
		return "Not Found"
	case StatusMethodNotAllowed:
		return "Method Not Allowed"
	case StatusRequestTimeout:
		return "Request Timeout"
	case StatusLengthRequired:
		return "Length Required"
	case StatusRequestEntityTooLarge:
		return "Request Entity Too Large"
	case StatusExpectationFailed:
		return "Expectation Failed"
	case StatusUnprocessableEntity:
		return "Unprocessable Entity"
	case StatusHeaderTooLarge:
		return "Request Header Fields Too Large"
	case StatusInternalServerError:
		return "Internal Server Error"
	case StatusNotImplemented:
		return "Not Implemented"
	case StatusServiceUnavailable:
		return "Service Unavailable"
	case StatusGatewayTimeout:
		return "Gateway Timeout"
	case StatusHTTPVersion:
		return "HTTP Version Not Supported"
	}
	return ""
}

// errLong: a line overran its budget.
var errLong = errors.New("line too long")

// readLine reads one line without its LF, charging its bytes to *budget:
// errLong when that runs out. An end of input before the first byte is
// io.EOF, after it io.ErrUnexpectedEOF.
func readLine(br *bufio.Reader, budget *int) (string, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if *budget -= len(frag); *budget < 0 {
			return "", errLong
		}
		line = append(line, frag...)
		if err == nil {
			return string(line[:len(line)-1]), nil
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
}

// readHeadLine reads a line of a message's head: CRLF ends it, or a
// bare LF, as net/http allows.
func readHeadLine(br *bufio.Reader, budget *int) (string, error) {
	line, err := readLine(br, budget)
	return strings.TrimSuffix(line, "\r"), err
}

// errMalformed: a header line that is not `name: value`, or holds what
// a field may not.
var errMalformed = errors.New("malformed header line")

// errFields: more header fields than allowed.
var errFields = errors.New("too many header fields")

// readHeader reads header fields up to the empty line that ends them,
// at most maxFields of them (errFields), or any number when maxFields
// is 0. Obsolete line folding, a name that is not a token and a value
// with a control character are errMalformed: they are how requests are
// smuggled.
func readHeader(br *bufio.Reader, budget *int, maxFields int) (Header, error) {
	var h Header
	for {
		line, err := readHeadLine(br, budget)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
		if line == "" {
			return h, nil
		}
		name, value, ok := strings.Cut(line, ":")
		value = strings.Trim(value, " \t")
		if !ok || !isToken(name) || !isFieldValue(value) {
			return nil, errMalformed
		}
		if maxFields > 0 && len(h) == maxFields {
			return nil, errFields
		}
		h = append(h, Field{name, value})
	}
}

// isToken reports whether s is an RFC 9110 token: a method, a field name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// isFieldValue reports whether s may be a field's value: no control
// character but tab.
func isFieldValue(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// appendHead appends a message's first line and header fields, not the
// empty line that ends them.
func appendHead(b []byte, first string, h Header) []byte {
	b = append(b, first...)
	b = append(b, "\r\n"...)
	for _, f := range h {
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	return b
}

// date is the Date field's value for now, as RFC 9110 wants it.
func date() string { return time.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT") }

// contentLength returns the Content-Length of h: -1 when none. Digits
// only, and the same in every field that gives it.
func contentLength(h Header) (int64, error) {
	cls := h.values("Content-Length")
	if len(cls) == 0 {
		return -1, nil
	}
	n, err := strconv.ParseUint(cls[0], 10, 63)
	for _, cl := range cls[1:] {
		if cl != cls[0] {
			err = errors.New("differ")
		}
	}
	if err != nil {
		return 0, errors.New("bad Content-Length: " + strconv.Quote(abbrev(strings.Join(cls, ", "))))
	}
	return int64(n), nil
}
