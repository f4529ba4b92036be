package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"tend/bench/internal/benchkit"
)

// names, in column order.
var names = []string{"tend", "supervisord"}

// goodPage is index.php's output: rendered by php-fpm, with a count from
// redis.
var goodPage = regexp.MustCompile(`^Hello from nginx \+ PHP \S+ \+ redis \S+, all under tend: hit #[0-9]+, rendered by php-fpm worker [0-9]+\n$`)

// daemons are the comm names of the stack's processes.
var daemons = map[string]bool{"nginx": true, "php-fpm8.2": true, "redis-server": true}

// stray lists the stack's processes now on the machine.
func stray() []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil {
			continue
		}
		if c := strings.TrimSpace(string(b)); daemons[c] {
			out = append(out, e.Name()+" "+c)
		}
	}
	return out
}

// killStray SIGKILLs the stack's processes and waits until they are gone.
func killStray() error {
	for range 100 {
		s := stray()
		if len(s) == 0 {
			return nil
		}
		for _, p := range s {
			var pid int
			fmt.Sscan(p, &pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("still there after SIGKILL: %v", stray())
}

func measure(f benchkit.Flags, h benchkit.Header[params]) (*results, error) {
	if s := stray(); len(s) > 0 {
		return nil, fmt.Errorf("nginx, php-fpm or redis already running (%v): stop them first, the check for leftovers could not tell them apart", s)
	}
	s, err := newStack(f.Child)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "lampbench: root %s, nginx on 127.0.0.1:%d, redis on %d\n", s.Root, s.Port, s.RedisPort)
	res := &results{Header: h, Root: s.Root, Port: s.Port, RedisPort: s.RedisPort, Nofile: s.Nofile, Samples: map[string][]sample{}}
	p := h.Params
	res.BusyPct, err = benchkit.RunSteps("lampbench", []benchkit.Step{{Name: "rounds", Run: func() error {
		for i := range p.Rounds {
			order := names
			if i%2 == 1 {
				order = []string{names[1], names[0]}
			}
			for j, name := range order {
				smp, err := launch(f.Tend, s, name, p)
				if err != nil {
					return fmt.Errorf("round %d, %s: %w (logs in %s/logs)", i+1, name, err, s.Root)
				}
				smp.Round, smp.First = i+1, j == 0
				fmt.Fprintf(os.Stderr, "lampbench: round %d %-11s page %6.1f ms  ready %6.1f ms  stop %6.1f ms  exit %d  leftovers %d\n",
					i+1, name, smp.PageMs, smp.ReadyMs, smp.StopMs, smp.ExitCode, len(smp.Leftovers))
				res.Samples[name] = append(res.Samples[name], smp)
			}
		}
		return nil
	}}})
	res.Seconds = h.Elapsed()
	return res, err
}

// launch starts the stack under one supervisor, waits for the first
// good page (and tend's READY=1), stops it and checks what is left.
func launch(tend string, s *stack, name string, p params) (sample, error) {
	var smp sample
	os.Remove(filepath.Join(s.Root, "redis", "dump.rdb")) // every run starts from an empty redis
	logf, err := os.Create(filepath.Join(s.Root, "logs", name+".out"))
	if err != nil {
		return smp, err
	}
	defer logf.Close()
	var cmd *exec.Cmd
	var ready chan time.Time
	env := append(os.Environ(), fmt.Sprintf("REDIS_PORT=%d", s.RedisPort))
	if name == "tend" {
		sockPath := filepath.Join(s.Root, "notify.sock")
		os.Remove(sockPath)
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
		if err != nil {
			return smp, err
		}
		defer conn.Close()
		ready = make(chan time.Time, 1)
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := conn.Read(buf)
				if err != nil {
					return
				}
				if strings.Contains("\n"+string(buf[:n])+"\n", "\nREADY=1\n") {
					ready <- time.Now()
					return
				}
			}
		}()
		cmd = exec.Command(tend, "-c", filepath.Join(s.Root, "tend.toml"))
		env = append(env, "NOTIFY_SOCKET="+sockPath)
	} else {
		cmd = exec.Command("supervisord", "-c", filepath.Join(s.Root, "supervisord.conf"))
	}
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, logf, logf, s.Root
	exited := make(chan error, 1)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := fmt.Sprintf("http://127.0.0.1:%d/", s.Port)

	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return smp, err
	}
	go func() { exited <- cmd.Wait() }()
	stop := func() error {
		ts := time.Now()
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
			return errors.New("did not exit within 15 s of SIGTERM")
		}
		smp.StopMs = ms(time.Since(ts))
		smp.ExitCode = cmd.ProcessState.ExitCode()
		smp.Leftovers = stray()
		return killStray()
	}
	deadline := t0.Add(30 * time.Second)
	for {
		smp.Polls++
		if body, ok := get(client, url); ok && goodPage.MatchString(body) {
			smp.PageMs, smp.Body = ms(time.Since(t0)), body
			break
		}
		select {
		case err := <-exited:
			exited <- err
			stop()
			return smp, fmt.Errorf("%s exited before the first good page: %v", name, err)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return smp, errors.New("no good page within 30 s")
		}
		time.Sleep(time.Duration(p.PollMs) * time.Millisecond)
	}
	if ready != nil {
		select {
		case t := <-ready:
			smp.ReadyMs = ms(t.Sub(t0))
		case <-time.After(time.Until(deadline)):
			stop()
			return smp, errors.New("no READY=1 from tend within 30 s")
		}
	}
	return smp, stop()
}

// get is the body of a GET of url, if it answered 200.
func get(c *http.Client, url string) (string, bool) {
	resp, err := c.Get(url)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err == nil && resp.StatusCode == http.StatusOK
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
