package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// stack is the root of config files both supervisors run from.
type stack struct {
	Root            string
	Port, RedisPort int
	// Nofile is nginx's open-files limit: 65536 as in the example, or the
	// machine's hard limit when lower.
	Nofile uint64
}

// freePort is a loopback TCP port nobody listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// change replaces old by new on each of the n lines (1 when n is 0)
// that hold old, with a comment line saying why above each.
type change struct {
	old, new, why string
	n             int
}

// adapt applies cs to text, a config file whose comments start with
// comment. A line not found, or found more often than said, is an
// error: the example changed, and the adaptation must be looked at again.
func adapt(name, text, comment string, cs []change) (string, error) {
	for _, c := range cs {
		want := max(c.n, 1)
		var out []string
		found := 0
		for l := range strings.SplitSeq(text, "\n") {
			if !strings.Contains(l, c.old) {
				out = append(out, l)
				continue
			}
			found++
			indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
			out = append(out, indent+comment+" lampbench: "+c.why)
			if nl := strings.Replace(l, c.old, c.new, 1); strings.TrimSpace(nl) != "" {
				out = append(out, nl)
			}
		}
		if found != want {
			return "", fmt.Errorf("adapting %s: %q is on %d lines, want %d", name, c.old, found, want)
		}
		text = strings.Join(out, "\n")
	}
	return text, nil
}

// newStack writes the root: nginx.conf and site.conf, php-fpm.conf,
// www/index.php, tend.toml (a copy of tend.debian.toml), prepare.sh and
// supervisord.conf.
func newStack(lamp string) (*stack, error) {
	root, err := os.MkdirTemp("", "lampbench-")
	if err != nil {
		return nil, err
	}
	// www-data and redis must get through it to their files.
	if err := os.Chmod(root, 0o755); err != nil {
		return nil, err
	}
	s := &stack{Root: root}
	if s.Port, err = freePort(); err != nil {
		return nil, err
	}
	if s.RedisPort, err = freePort(); err != nil {
		return nil, err
	}
	for _, d := range []string{"www", "run", "redis", "logs", "nginx"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, err
		}
	}
	r := func(p string) string { return filepath.Join(root, p) }
	files := map[string]string{}
	read := func(name string) string {
		b, e := os.ReadFile(filepath.Join(lamp, name))
		if e != nil && err == nil {
			err = e
		}
		return string(b)
	}
	php, site, fpmDocker, tendConf := read("index.php"), read("nginx-site.conf"), read("php-fpm-docker.conf"), read("tend.debian.toml")
	if err != nil {
		return nil, err
	}
	sock := r("run/php-fpm.sock")

	// index.php as it is.
	files["www/index.php"] = php

	// nginx: the site as it is but for the port, the docroot and the
	// socket; a main nginx.conf like Debian's, with its temp paths and pid
	// in the root. Relative includes (fastcgi_params, snippets/...)
	// resolve against the directory of nginx.conf: links to /etc/nginx's.
	if files["site.conf"], err = adapt("nginx-site.conf", site, "#", []change{
		{old: "listen 80 default_server;", new: fmt.Sprintf("listen 127.0.0.1:%d default_server;", s.Port), why: "a free loopback port, not 80"},
		{old: "listen [::]:80 default_server;", why: "no IPv6 listener: the client uses 127.0.0.1"},
		{old: "root /var/www/html;", new: "root " + r("www") + ";", why: "the docroot in the benchmark's root"},
		{old: "unix:/run/php/php8.2-fpm.sock", new: "unix:" + sock, why: "php-fpm's socket in the benchmark's root", n: 2},
	}); err != nil {
		return nil, err
	}
	files["nginx.conf"] = fmt.Sprintf(`# lampbench: Debian's /etc/nginx/nginx.conf, cut down, with the pid file,
# the temp paths and the logs in the benchmark's root.
user www-data;
worker_processes auto;
pid %[1]s/run/nginx.pid;
error_log %[1]s/logs/nginx-error.log;
events {
	worker_connections 768;
}
http {
	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;
	include mime.types;
	default_type application/octet-stream;
	access_log %[1]s/logs/nginx-access.log;
	client_body_temp_path %[1]s/nginx/body;
	proxy_temp_path %[1]s/nginx/proxy;
	fastcgi_temp_path %[1]s/nginx/fastcgi;
	uwsgi_temp_path %[1]s/nginx/uwsgi;
	scgi_temp_path %[1]s/nginx/scgi;
	include site.conf;
}
`, root)
	for _, l := range []string{"mime.types", "fastcgi_params", "fastcgi.conf", "snippets"} {
		if err := os.Symlink(filepath.Join("/etc/nginx", l), r(l)); err != nil {
			return nil, err
		}
	}

	// php-fpm: Debian's php-fpm.conf and pool.d/www.conf in one file,
	// with the socket and the pid in the root, then php-fpm-docker.conf
	// (zz-docker.conf in the image) as it is.
	files["php-fpm.conf"] = fmt.Sprintf(`; lampbench: Debian's php-fpm.conf and pool.d/www.conf, with the pid
; file and the socket in the benchmark's root; then php-fpm-docker.conf.
[global]
pid = %[1]s/run/php-fpm.pid
[www]
user = www-data
group = www-data
listen = %[2]s
listen.owner = www-data
listen.group = www-data
pm = dynamic
pm.max_children = 5
pm.start_servers = 2
pm.min_spare_servers = 1
pm.max_spare_servers = 3

`, root, sock) + fpmDocker

	// tend: tend.debian.toml with paths and ports changed, and nothing
	// else (readiness, health checks, dependencies, stop signals as they
	// are). The redis port comes from REDIS_PORT, which the file already
	// reads, and which php-fpm's workers inherit (clear_env = no).
	base := fmt.Sprintf("http://127.0.0.1:%d/", s.Port)
	// nginx's nofile: 65536 is within Docker's default hard limit, but a
	// host (or a container run with --ulimit) may have a lower one, which
	// root without CAP_SYS_RESOURCE cannot raise: then nginx's start
	// fails, as the example says. On such a host, the hard limit instead.
	nofile := uint64(65536)
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return nil, err
	}
	var extra []change
	if rl.Max < nofile {
		nofile = rl.Max
		extra = append(extra, change{old: "rlimits = { nofile = 65536 }", new: fmt.Sprintf("rlimits = { nofile = %d }", nofile),
			why: fmt.Sprintf("this machine's hard limit of open files is %d, below 65536, and tend may not raise it", nofile)})
	}
	s.Nofile = nofile
	if files["tend.toml"], err = adapt("tend.debian.toml", tendConf, "#", append(extra, []change{
		{old: `shutdown_timeout = "9s"`, new: fmt.Sprintf("shutdown_timeout = \"9s\"\nsocket = %q", r("tend.sock")),
			why: "the control socket in the benchmark's root, not /run/tend.sock"},
		{old: "mkdir -p /run/php /var/lib/redis", new: "mkdir -p " + r("run") + " " + r("redis"), why: "the socket's and redis's directories in the root"},
		{old: "chown www-data:www-data /run/php", new: "chown www-data:www-data " + r("run"), why: "as above"},
		{old: "chown redis:redis /var/lib/redis", new: "chown redis:redis " + r("redis"), why: "as above"},
		{old: "php-fpm8.2 --test", new: "php-fpm8.2 --test -y " + r("php-fpm.conf"), why: "the root's php-fpm.conf"},
		{old: "nginx -t -q", new: "nginx -t -q -c " + r("nginx.conf"), why: "the root's nginx.conf"},
		{old: `"--dir", "/var/lib/redis"`, new: `"--dir", "` + r("redis") + `"`, why: "redis's data in the root"},
		{old: `command = ["php-fpm8.2", "-F", "-O"]`, new: `command = ["php-fpm8.2", "-F", "-O", "-y", "` + r("php-fpm.conf") + `"]`, why: "the root's php-fpm.conf"},
		{old: `"http://127.0.0.1/fpm-ping"`, new: `"` + base + `fpm-ping"`, why: "nginx's port"},
		{old: `"http://127.0.0.1/"`, new: `"` + base + `"`, why: "nginx's port"},
		{old: `command = ["nginx", "-g", "daemon off;"]`, new: `command = ["nginx", "-c", "` + r("nginx.conf") + `", "-g", "daemon off;"]`, why: "the root's nginx.conf"},
	}...)); err != nil {
		return nil, err
	}
	files["tend.toml"] = "# lampbench: examples/lamp/tend.debian.toml, with only paths and ports changed\n" +
		"# (each change has a lampbench: comment above it); REDIS_PORT is set in tend's environment.\n\n" + files["tend.toml"]

	// supervisord: the same programs and commands, in priority order,
	// with autorestart, as supervisord users write it. supervisord has no
	// oneshot: prepare is a program that runs once (autorestart=false,
	// startsecs=0), which supervisord does not wait for.
	files["prepare.sh"] = fmt.Sprintf(`set -e
mkdir -p %[1]s %[2]s
chown www-data:www-data %[1]s
chown redis:redis %[2]s
php-fpm8.2 --test -y %[3]s
nginx -t -q -c %[4]s
`, r("run"), r("redis"), r("php-fpm.conf"), r("nginx.conf"))
	files["supervisord.conf"] = fmt.Sprintf(`; lampbench: the programs of tend.debian.toml for supervisord, in
; priority order (supervisord starts lower priorities first, and stops
; them last), each with autorestart; stopwaitsecs rounded up to whole
; seconds (supervisord wants an integer).
[supervisord]
nodaemon=true
logfile=%[1]s/logs/supervisord.log
pidfile=%[1]s/run/supervisord.pid
childlogdir=%[1]s/logs
; tend.toml gives nginx rlimits = { nofile = %[2]d }: here every
; program inherits supervisord's, which minfds raises.
minfds=%[2]d

[program:prepare]
command=/bin/sh %[1]s/prepare.sh
priority=1
autorestart=false
startsecs=0

[program:redis]
command=redis-server --daemonize no --bind 127.0.0.1 --port %%(ENV_REDIS_PORT)s --dir %[1]s/redis --save "60 1" --supervised systemd
user=redis
priority=10
autorestart=true
startsecs=1
stopsignal=TERM
stopwaitsecs=3

[program:php-fpm]
command=php-fpm8.2 -F -O -y %[1]s/php-fpm.conf
priority=20
autorestart=true
startsecs=1
stopsignal=QUIT
stopwaitsecs=3

[program:nginx]
command=nginx -c %[1]s/nginx.conf -g "daemon off;"
priority=30
autorestart=true
startsecs=1
stopsignal=QUIT
stopwaitsecs=3
`, root, nofile)
	for name, text := range files {
		if err := os.WriteFile(r(name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	return s, nil
}
