package docker

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDeregister runs examples/deregister for real: a registry, two web
// containers (tend running busybox httpd, registered by a oneshot once
// web answers, deregistered by web's pre_stop) and a client that sends a
// request every 20 ms to the registry's list as it was 500 ms earlier,
// all on a network of their own. `docker stop` of the second web
// container costs the client no request with drain = "2s", and some
// without a drain: without one, web stops the moment it is out of the
// registry, while the client still sends it requests for 500 ms.
//
// TEND_DEREG_RUNS=N repeats each measurement N times (default 1) and logs
// every count: how docs/examples.md's numbers were taken.
func TestDeregister(t *testing.T) {
	requireDocker(t)
	runs := 1
	if s := os.Getenv("TEND_DEREG_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("TEND_DEREG_RUNS=%q: want a count >= 1", s)
		}
		runs = n
	}
	e := &env{root: repoRoot(t), id: runID(t)}
	e.tend = buildTend(t, e.root)
	dir := filepath.Join(e.root, "examples", "deregister")
	e.image = e.build(t, "deregister", dir, map[string]string{
		"tend":      e.tend,
		"busybox":   busybox(t),
		"registryd": buildRegistry(t, e.root),
	})
	network := "tend-e2e-" + e.id
	mustDocker(t, "network", "create", network)
	// Registered before any container's cleanup, so it runs after them all.
	t.Cleanup(func() {
		if out, err := dockerCmd("network", "rm", network); err != nil {
			t.Logf("docker network rm %s: %v\n%s", network, err, out)
		}
	})
	on := []string{"--network", network}
	registry := []string{"--entrypoint", "/usr/local/bin/registry"}

	reg := e.start(t, append(append(on, "--network-alias", "registry"), registry...), "serve")
	regLog := e.follow(t, reg)
	regLog.waitFor(t, "listening on :9000")
	// web starts a web container and waits until it is in the registry.
	web := func(drain string) (name, addr string) {
		t.Helper()
		name = e.start(t, append(on, "-e", "DRAIN="+drain))
		addr = e.addr(t, name, network) + ":8080"
		// " registered ADDR (" is not in "deregistered ADDR (", and
		// counting it allows for an address used again.
		regLog.waitCount(t, " registered "+addr+" (", strings.Count(regLog.String(), " registered "+addr+" (")+1)
		return name, addr
	}
	_, addr1 := web("2s")

	// trial stops a web container while the client runs, and returns
	// what the client counted for it.
	trial := func(drain string) (ok, failed int) {
		t.Helper()
		name, addr2 := web(drain)
		cl := e.start(t, append(on, registry...), "client", "-every", "20ms", "-lag", "500ms", "-timeout", "2s")
		clLog := e.follow(t, cl)
		clLog.waitFor(t, "first answer from "+addr2)
		start := time.Now()
		e.stop(t, name, 0)
		took := time.Since(start)
		clLog.waitFor(t, "removed "+addr2+" from the list")
		e.stop(t, cl, 0) // the client waits for its requests in flight, then counts
		counts := clientCounts(t, mustDocker(t, "logs", cl))
		if c := counts[addr1]; c[0] == 0 || c[1] != 0 {
			t.Errorf("the web container left running: %d ok, %d failed; want some ok, none failed\n%s", c[0], c[1], clLog.String())
		}
		c, found := counts[addr2]
		if !found || c[0] == 0 {
			t.Fatalf("the client sent no request that the stopped web container answered:\n%s", clLog.String())
		}
		if !strings.Contains(mustDocker(t, "logs", name), "hook done hook=pre_stop program=web") {
			t.Errorf("web's pre_stop did not run:\n%s", mustDocker(t, "logs", name))
		}
		t.Logf("drain = %q: docker stop took %v; the stopped instance: %d ok, %d failed", drain, took.Round(10*time.Millisecond), c[0], c[1])
		if t.Failed() || c[1] > 0 && drain != "0s" {
			t.Logf("client:\n%s", clLog.String())
		}
		return c[0], c[1]
	}

	var with, without []int
	for range runs {
		_, f := trial("2s")
		with = append(with, f)
		_, f = trial("0s")
		without = append(without, f)
	}
	t.Logf("failed requests over %d runs: with drain = \"2s\" %v, without a drain %v", runs, with, without)
	for i := range runs {
		if with[i] != 0 {
			t.Errorf("run %d: %d requests failed with drain = \"2s\", want 0", i+1, with[i])
		}
		// Without the drain the stopped instance is out of the registry
		// but still in the client's list for its 500 ms lag, at 25
		// requests a second: about a dozen fail. None would mean the
		// example shows nothing (and the 0 above proves nothing).
		if without[i] == 0 {
			t.Errorf("run %d: no request failed without a drain; the client's lag should have cost some", i+1)
		}
	}
}

// buildRegistry builds examples/deregister/registry, static, for the
// FROM scratch image.
func buildRegistry(t *testing.T, root string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "registryd")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./examples/deregister/registry")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// addr returns a container's IP address on network.
func (e *env) addr(t *testing.T, name, network string) string {
	t.Helper()
	ip := strings.TrimSpace(mustDocker(t, "inspect", "-f", `{{(index .NetworkSettings.Networks "`+network+`").IPAddress}}`, name))
	if ip == "" {
		t.Fatalf("container %s has no address on %s", name, network)
	}
	return ip
}

var countLine = regexp.MustCompile(`(?m)^instance (\S+): (\d+) ok, (\d+) failed$`)

// clientCounts reads the client's report: instance → {ok, failed}.
func clientCounts(t *testing.T, out string) map[string][2]int {
	t.Helper()
	counts := map[string][2]int{}
	for _, m := range countLine.FindAllStringSubmatch(out, -1) {
		ok, _ := strconv.Atoi(m[2])
		failed, _ := strconv.Atoi(m[3])
		counts[m[1]] = [2]int{ok, failed}
	}
	if !strings.Contains(out, "total: ") {
		t.Fatalf("the client printed no report:\n%s", out)
	}
	return counts
}
