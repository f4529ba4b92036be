// Command registry is the other half of the deregistration example
// (examples/deregister): a service registry, and a client that sends
// requests to the instances the registry lists, as a load balancer does.
//
//	registry serve  [-listen :9000]
//	registry client [-registry http://registry:9000] [-every 20ms] [-lag 500ms] [-poll 50ms] [-timeout 2s]
//
// serve keeps a set of live instances: GET /register?addr=HOST:PORT adds
// one, /deregister?addr=HOST:PORT removes it, /list returns them, one a
// line.
//
// client polls /list every -poll, but acts on what the registry said -lag
// earlier: the delay every real load balancer has between a change in the
// registry and its own routing table (a health-check interval, a DNS TTL,
// kube-proxy rewriting iptables). Every -every it sends GET / to the next
// instance of that list, round robin, each request on its own, with
// -timeout; anything but a 200 within it is a failed request, printed as
// it happens. On SIGTERM or SIGINT it waits for the requests in flight and
// prints, per instance, how many succeeded and failed, then exits 0.
//
// It is an example, kept small: no TTLs or heartbeats, nothing persisted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("registry: ")
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		listen := fs.String("listen", ":9000", "address to listen on")
		fs.Parse(os.Args[2:])
		log.Fatal(serve(*listen))
	case "client":
		fs := flag.NewFlagSet("client", flag.ExitOnError)
		c := client{}
		fs.StringVar(&c.registry, "registry", "http://registry:9000", "the registry's URL")
		fs.DurationVar(&c.every, "every", 20*time.Millisecond, "send a request this often")
		fs.DurationVar(&c.lag, "lag", 500*time.Millisecond, "act on the registry's list as it was this long ago")
		fs.DurationVar(&c.poll, "poll", 50*time.Millisecond, "fetch the registry's list this often")
		fs.DurationVar(&c.timeout, "timeout", 2*time.Second, "a request not answered within this has failed")
		fs.Parse(os.Args[2:])
		log.SetPrefix("client: ")
		c.run()
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: registry serve [-listen ADDR] | registry client [-registry URL] [-every D] [-lag D] [-poll D] [-timeout D]")
	os.Exit(2)
}

// serve runs the registry.
func serve(listen string) error {
	var mu sync.Mutex
	live := map[string]bool{}
	change := func(add bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			addr := r.URL.Query().Get("addr")
			if addr == "" {
				http.Error(w, "addr= missing", http.StatusBadRequest)
				return
			}
			mu.Lock()
			if add {
				live[addr] = true
			} else {
				delete(live, addr)
			}
			n := len(live)
			mu.Unlock()
			verb := "registered"
			if !add {
				verb = "deregistered"
			}
			log.Printf("%s %s (%d live)", verb, addr, n)
			fmt.Fprintf(w, "%s %s\n", verb, addr)
		}
	}
	http.HandleFunc("/register", change(true))
	http.HandleFunc("/deregister", change(false))
	http.HandleFunc("/list", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		addrs := make([]string, 0, len(live))
		for a := range live {
			addrs = append(addrs, a)
		}
		mu.Unlock()
		slices.Sort(addrs)
		for _, a := range addrs {
			fmt.Fprintln(w, a)
		}
	})
	log.Printf("listening on %s", listen)
	return http.ListenAndServe(listen, nil)
}

type client struct {
	registry                  string
	every, lag, poll, timeout time.Duration

	mu      sync.Mutex
	history []snapshot        // guarded by mu: lists fetched, oldest first
	count   map[string]*tally // guarded by mu
}

// snapshot is the registry's list as fetched at a time.
type snapshot struct {
	at    time.Time
	addrs []string
}

type tally struct{ ok, failed int }

func (c *client) run() {
	c.count = map[string]*tally{}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hc := &http.Client{
		Timeout: c.timeout,
		// A new connection for each request, as from many users: an
		// instance that stopped listening fails the next one at once.
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	go c.fetch(ctx, hc)
	log.Printf("every %v to the next instance of the registry's list as it was %v ago", c.every, c.lag)

	var inflight sync.WaitGroup
	var current []string
	next := 0
	tick := time.NewTicker(c.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			inflight.Wait()
			c.report()
			return
		case now := <-tick.C:
			addrs := c.listAt(now.Add(-c.lag))
			if !slices.Equal(addrs, current) {
				for _, a := range addrs {
					if !slices.Contains(current, a) {
						log.Printf("added %s to the list", a)
					}
				}
				for _, a := range current {
					if !slices.Contains(addrs, a) {
						log.Printf("removed %s from the list", a)
					}
				}
				current = addrs
			}
			if len(current) == 0 {
				continue
			}
			addr := current[next%len(current)]
			next++
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				sent := time.Now()
				err := c.get(hc, addr)
				c.record(addr, err, time.Since(sent))
			}()
		}
	}
}

// fetch polls the registry's list into c.history until ctx is done. A
// failed poll adds nothing: the client keeps acting on the last list.
func (c *client) fetch(ctx context.Context, hc *http.Client) {
	tick := time.NewTicker(c.poll)
	defer tick.Stop()
	for {
		at := time.Now()
		addrs, err := c.list(hc)
		if err != nil {
			log.Printf("list: %v", err)
		} else {
			c.mu.Lock()
			c.history = append(c.history, snapshot{at, addrs})
			c.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *client) list(hc *http.Client) ([]string, error) {
	resp, err := hc.Get(c.registry + "/list")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = errors.New(resp.Status)
	}
	return strings.Fields(string(b)), err
}

// listAt returns the newest list fetched at or before t, and forgets the
// ones older than it, which will never be wanted again.
func (c *client) listAt(t time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i+1 < len(c.history) && !c.history[i+1].at.After(t) {
		i++
	}
	c.history = c.history[i:]
	if len(c.history) == 0 || c.history[0].at.After(t) {
		return nil
	}
	return c.history[0].addrs
}

// get sends one request to addr: nil if it answered 200.
func (c *client) get(hc *http.Client, addr string) error {
	resp, err := hc.Get("http://" + addr + "/")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// record counts a request to addr that ended with err after took.
func (c *client) record(addr string, err error, took time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.count[addr]
	if t == nil {
		t = &tally{}
		c.count[addr] = t
	}
	if err != nil {
		t.failed++
		log.Printf("FAILED %s after %v: %v", addr, took.Round(time.Millisecond), err)
		return
	}
	if t.ok == 0 {
		log.Printf("first answer from %s", addr)
	}
	t.ok++
}

// report prints the counts: one line per instance, then the total.
func (c *client) report() {
	c.mu.Lock()
	defer c.mu.Unlock()
	addrs := make([]string, 0, len(c.count))
	for a := range c.count {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	var all tally
	for _, a := range addrs {
		t := c.count[a]
		fmt.Printf("instance %s: %d ok, %d failed\n", a, t.ok, t.failed)
		all.ok += t.ok
		all.failed += t.failed
	}
	fmt.Printf("total: %d requests, %d ok, %d failed\n", all.ok+all.failed, all.ok, all.failed)
}
