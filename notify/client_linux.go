package notify

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// EnvVar is the environment variable that names an sd_notify socket.
const EnvVar = "NOTIFY_SOCKET"

// Client sends tend's own state to the socket it was started with
// (systemd Type=notify, podman --sdnotify=container). It never blocks:
// a message the receiver has no room for fails with EAGAIN.
type Client struct {
	addr string // as NOTIFY_SOCKET said
	sa   *unix.SockaddrUnix

	mu sync.Mutex // guards fd against Send racing Close
	fd int        // -1 once closed
}

// FromEnv returns a Client for NOTIFY_SOCKET in tend's environment, or
// nil (and no error) when it is unset or empty. It does not change the
// environment: Strip keeps the variable from programs.
func FromEnv() (*Client, error) {
	addr := os.Getenv(EnvVar)
	if addr == "" {
		return nil, nil
	}
	return Dial(addr)
}

// Dial returns a Client for addr: an absolute path, or "@name" for the
// abstract socket name (as systemd writes NOTIFY_SOCKET). systemd's
// vsock: addresses are not supported.
func Dial(addr string) (*Client, error) {
	switch {
	case len(addr) > maxSocketPath:
		return nil, fmt.Errorf("%s=%s: longer than %d bytes", EnvVar, addr, maxSocketPath)
	case strings.HasPrefix(addr, "@") && len(addr) > 1, strings.HasPrefix(addr, "/"):
	default:
		return nil, fmt.Errorf("%s=%s: want an absolute path or @abstract-name", EnvVar, addr)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %w", EnvVar, addr, err)
	}
	// x/sys/unix turns a leading '@' into the abstract namespace's NUL.
	return &Client{addr: addr, sa: &unix.SockaddrUnix{Name: addr}, fd: fd}, nil
}

// Addr is the socket's address as NOTIFY_SOCKET gave it.
func (c *Client) Addr() string { return c.addr }

// Send sends one datagram, such as "READY=1" or "STATUS=3 of 4 ready"
// (Status builds the latter), without waiting: an error says it was not
// sent (the receiver is gone, or its queue is full), and nothing is
// retried. The receiver learns tend's pid from the kernel.
func (c *Client) Send(state string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return fmt.Errorf("notify %s: client closed", c.addr)
	}
	if err := unix.Sendto(c.fd, []byte(state), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, c.sa); err != nil {
		return fmt.Errorf("notify %s: %w", c.addr, err)
	}
	return nil
}

// Close closes the client's socket; Send fails afterwards.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// Status is a STATUS= message for text: one line (newlines and other
// control characters become spaces), at most MaxStatus bytes of it.
func Status(text string) string {
	return "STATUS=" + CleanStatus([]byte(text))
}

// Strip returns env without what tend's own service manager gave tend:
// NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID and MANAGERPID. tend's
// socket is for tend to speak on: a program sending READY=1 there would
// tell systemd or podman that all of tend is ready; and tend is its
// programs' manager. env is not modified; when it has none of them, it
// is returned as is.
func Strip(env []string) []string {
	i := 0
	for i < len(env) && !managerVar(env[i]) {
		i++
	}
	if i == len(env) {
		return env
	}
	out := make([]string, i, len(env)-1)
	copy(out, env[:i])
	for _, kv := range env[i+1:] {
		if !managerVar(kv) {
			out = append(out, kv)
		}
	}
	return out
}

// managerVar reports whether kv sets one of the variables Strip removes.
func managerVar(kv string) bool {
	name, _, _ := strings.Cut(kv, "=")
	return name == EnvVar || name == "WATCHDOG_USEC" || name == "WATCHDOG_PID" || name == "MANAGERPID"
}

// Env is what a program with ready = "notify" gets in its environment,
// over tend's (stripped):
//
//   - NOTIFY_SOCKET, its socket's path;
//   - MANAGERPID, tend's pid: systemd-notify sends on behalf of its
//     parent unless the parent is PID 1 or $MANAGERPID, so a script's
//     `exec systemd-notify --ready` (whose parent is then tend) would
//     otherwise claim to come from tend, outside the program's group;
//   - WATCHDOG_USEC, with a watchdog, so that sd_watchdog_enabled() says
//     yes and gives the interval. WATCHDOG_PID is not set: tend cannot
//     know the pid before the fork, and without it libsystemd takes the
//     watchdog to be for whichever process reads it.
func Env(socketPath string, watchdog time.Duration) map[string]string {
	env := map[string]string{EnvVar: socketPath, "MANAGERPID": strconv.Itoa(os.Getpid())}
	if watchdog > 0 {
		env["WATCHDOG_USEC"] = strconv.FormatInt(watchdog.Microseconds(), 10)
	}
	return env
}
