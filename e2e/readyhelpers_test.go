package e2e

// Helper programs of the readiness tests (ready_test.go): a program that
// speaks sd_notify on its NOTIFY_SOCKET, and a sender that speaks to a
// socket as another user.

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

func init() {
	moreHelpers["notify-ready"] = notifyReady
	moreHelpers["notify-send-as"] = notifySendAs
}

// notifyReady is a program that prints "NAME socket PATH" (its
// NOTIFY_SOCKET), says it is ready there after -delay (the slow start
// being simulated) or once a line can be read from the FIFO -wait, with
// a STATUS= line, prints "NAME notified", and runs until a signal ends
// it. With -keepalive it sends WATCHDOG=1 that often, for -keepfor.
func notifyReady(args []string) int {
	fs := flag.NewFlagSet("notify-ready", flag.ContinueOnError)
	name := fs.String("name", "prog", "what to call itself in its output")
	delay := fs.Duration("delay", 0, "how long its start takes")
	status := fs.String("status", "", "a STATUS= text to send with READY=1")
	keepalive := fs.Duration("keepalive", 0, "send WATCHDOG=1 this often")
	keepfor := fs.Duration("keepfor", time.Hour, "for this long")
	wait := fs.String("wait", "", "a FIFO to read a line from first")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		fmt.Fprintln(os.Stderr, "notify-ready: no NOTIFY_SOCKET")
		return 2
	}
	fmt.Println(*name, "socket", addr)
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "notify-ready:", err)
		return 1
	}
	if *wait != "" {
		f, err := os.Open(*wait) // blocks until the test opens it to write
		if err == nil {
			_, err = f.Read(make([]byte, 1))
			f.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "notify-ready:", err)
			return 1
		}
	}
	time.Sleep(*delay)
	msg := "READY=1"
	if *status != "" {
		msg = "STATUS=" + *status + "\n" + msg
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		fmt.Fprintln(os.Stderr, "notify-ready:", err)
		return 1
	}
	fmt.Println(*name, "notified")
	if *keepalive > 0 {
		for end := time.Now().Add(*keepfor); time.Now().Before(end); time.Sleep(*keepalive) {
			c.Write([]byte("WATCHDOG=1"))
		}
		fmt.Println(*name, "stopped its keep-alive")
	}
	for {
		time.Sleep(time.Hour) // until a signal ends it
	}
}

// notifySendAs is "notify-send-as UID GID PATH MESSAGE": it drops to
// UID:GID (unless UID is 0) and sends MESSAGE to the datagram socket at
// PATH, then prints "sent" or "refused: ERROR".
func notifySendAs(args []string) int {
	if len(args) != 4 {
		return 2
	}
	uid, gid := atoi(args[0]), atoi(args[1])
	if uid != 0 {
		for _, err := range []error{syscall.Setgroups(nil), syscall.Setgid(gid), syscall.Setuid(uid)} {
			if err != nil {
				fmt.Fprintln(os.Stderr, "notify-send-as:", err)
				return 1
			}
		}
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: args[2], Net: "unixgram"})
	if err == nil {
		_, err = c.Write([]byte(args[3]))
	}
	if err != nil {
		fmt.Println("refused:", err)
		return 0
	}
	fmt.Println("sent as uid", strconv.Itoa(os.Getuid()))
	return 0
}
