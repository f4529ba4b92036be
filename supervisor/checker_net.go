package supervisor

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"

	"tend/internal/h1"
)

// The probes that run on a goroutine (goChecker): each runs until it has
// an answer or ctx ends.

// tcpCheck passes when a connection to addr (host:port) is accepted.
func tcpCheck(ctx context.Context, addr string) error {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// httpCheck passes when GET rawURL answers with a status from 200 to 399.
func httpCheck(ctx context.Context, rawURL string) error {
	code, err := httpGet(ctx, rawURL)
	if err != nil {
		// Worded as net/http's client words it: `Get "URL": why`.
		return fmt.Errorf("Get %q: %w", rawURL, err)
	}
	if code < 200 || code > 399 { // a 3xx is an answer, and healthy: not followed
		return fmt.Errorf("http status %d", code)
	}
	return nil
}

// httpGet sends GET rawURL (http://, as config checked) on a connection
// of its own and returns the answer's status code; the body is not read.
// The connection is closed when ctx is done.
func httpGet(ctx context.Context, rawURL string) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, err
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return 0, err
	}
	// The fields net/http's client sent, but Accept-Encoding: the body
	// is never read.
	h := h1.Header{{Name: "Host", Value: u.Host}, {Name: "User-Agent", Value: "Go-http-client/1.1"}}
	if u.User != nil {
		pass, _ := u.User.Password()
		auth := base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + pass))
		h = append(h, h1.Field{Name: "Authorization", Value: "Basic " + auth})
	}
	resp, err := h1.Do(ctx, c, "GET", u.RequestURI(), h, nil)
	if err != nil {
		return 0, err
	}
	resp.Close()
	return resp.Code, nil
}
