package importer

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tend/config"
)

// The real configurations in testdata (testdata/README.md names where
// each comes from): each is converted, its output and warnings compared
// with testdata/golden (go test ./importer -run TestRealConfigs -update
// writes them), the output loaded by tend's own config package with the
// variables the image sets, and what matters in it checked.

var update = flag.Bool("update", false, "write testdata/golden from what the import gives now")

// realConfigs are the images' supervisord configurations.
var realConfigs = []struct {
	name string // the directory in testdata, the image's root
	main string // the configuration's path in the image
	env  map[string]string
	// check looks at the loaded configuration; nil for a file
	// supervisord refuses, whose errors are the golden output.
	check func(t *testing.T, c *config.Config)
}{
	{"trafex-php-nginx", "/etc/supervisor/conf.d/supervisord.conf", nil, func(t *testing.T, c *config.Config) {
		fpm := program(t, c, "php-fpm")
		want(t, "php-fpm command", fpm.Command, []string{"php-fpm8", "-F"})
		want(t, "php-fpm autorestart", fpm.Autorestart, config.RestartNever)
		want(t, "php-fpm startretries", fpm.StartRetries, 0)
		want(t, "php-fpm stdout", fpm.Stdout.Mode, config.Inherit)
		want(t, "nginx command", program(t, c, "nginx").Command, []string{"nginx", "-g", "daemon off;"})
		want(t, "supercronic stdout", program(t, c, "supercronic").Stdout.Mode, config.Prefix)
	}},
	{"docker-mailserver", "/etc/supervisor/supervisord.conf", map[string]string{
		"POSTGREY_DELAY": "300", "POSTGREY_MAX_AGE": "35", "POSTGREY_AUTO_WHITELIST_CLIENTS": "5",
		"POSTGREY_TEXT": "Delayed by Postgrey", "FETCHMAIL_POLL": "300",
	}, func(t *testing.T, c *config.Config) {
		want(t, "programs", len(c.Programs), 17)
		ms := program(t, c, "mailserver")
		want(t, "mailserver autostart", ms.Autostart, true)
		want(t, "mailserver stopwaitsecs", ms.StopWaitSecs, 55*time.Second)
		want(t, "mailserver startsecs", ms.StartSecs, time.Duration(0))
		cron := program(t, c, "cron")
		want(t, "cron autostart", cron.Autostart, false)
		want(t, "cron stdout", cron.Stdout, config.Output{Mode: config.File, Path: "/var/log/supervisor/cron.log", MaxBytes: 50 << 20, Backups: 10})
		want(t, "cron stderr", cron.Stderr.Path, cron.Stdout.Path)
		want(t, "postgrey --delay", program(t, c, "postgrey").Command[3], "--delay=300")
		want(t, "postgrey --greylist-text", program(t, c, "postgrey").Command[6], "--greylist-text=Delayed by Postgrey")
		want(t, "fetchmail user", program(t, c, "fetchmail").User.Name, "fetchmail")
		want(t, "shutdown_timeout", c.Tend.ShutdownTimeout, 60*time.Second)
	}},
	{"mailcow-sogo", "/etc/supervisor/supervisord.conf", nil, func(t *testing.T, c *config.Config) {
		want(t, "sogo depends_on", program(t, c, "sogo").DependsOn, []config.Dep{{Name: "reconf-domains", Condition: config.CondDefault}})
		want(t, "cron depends_on", len(program(t, c, "cron").DependsOn), 0)
		want(t, "syslog-ng stderr", program(t, c, "syslog-ng").Stderr.Mode, config.Prefix)
		want(t, "sogo-webres directory", program(t, c, "sogo-webres").Directory, "/usr/lib/GNUstep/SOGo")
	}},
	{"mailcow-dovecot", "/etc/supervisor/supervisord.conf", nil, func(t *testing.T, c *config.Config) {
		want(t, "programs", len(c.Programs), 4)
		want(t, "logfiles stdout", program(t, c, "logfiles").Stdout.Mode, config.Inherit)
		want(t, "dovecot command", program(t, c, "dovecot").Command, []string{"/usr/local/sbin/dovecot", "-F"})
	}},
	{"invoiceninja", "/etc/supervisor/conf.d/supervisord.conf", nil, func(t *testing.T, c *config.Config) {
		w0, w1 := program(t, c, "queue-worker:0"), program(t, c, "queue-worker:1")
		want(t, "queue-worker:1 user", w1.User.Name, "www-data")
		want(t, "queue-worker:0 environment", w0.Environment["HOME"], "/var/www")
		want(t, "queue-worker stopwaitsecs", w0.StopWaitSecs, time.Hour)
		want(t, "cron depends_on", program(t, c, "cron").DependsOn, []config.Dep{{Name: "php-fpm", Condition: config.CondDefault}})
		want(t, "scheduler depends_on", len(program(t, c, "scheduler").DependsOn), 0)
		want(t, "shutdown_timeout covers the worker's hour", c.Tend.ShutdownTimeout >= time.Hour, true)
	}},
	{"ubuntu-vnc-desktop", "/etc/supervisor/conf.d/supervisord.conf", nil, func(t *testing.T, c *config.Config) {
		// 10 → 15 → 20 → 25: the X server first, then its clients.
		want(t, "lxsession depends_on", program(t, c, "lxsession").DependsOn, []config.Dep{{Name: "xvfb", Condition: config.CondDefault}})
		want(t, "x11vnc depends_on", len(program(t, c, "x11vnc").DependsOn), 3)
		want(t, "novnc depends_on", program(t, c, "novnc").DependsOn, []config.Dep{{Name: "x11vnc", Condition: config.CondDefault}})
		want(t, "lxpanel environment", program(t, c, "lxpanel").Environment["DISPLAY"], ":1")
		want(t, "pcmanfm stderr", program(t, c, "pcmanfm").Stderr.Mode, config.Prefix)
		want(t, "xvfb stderr", program(t, c, "xvfb").Stderr.Path, "/var/log/xvfb.log")
	}},
	{"selenium-node", "/etc/supervisord.conf", nil, func(t *testing.T, c *config.Config) {
		want(t, "selenium-node depends_on", program(t, c, "selenium-node").DependsOn, []config.Dep{{Name: "video-recorder", Condition: config.CondDefault}})
		want(t, "video-recorder stopsignal", program(t, c, "video-recorder").StopSignal.String(), "interrupt")
		want(t, "xvfb stdout backups", program(t, c, "xvfb").Stdout.Backups, 5)
		want(t, "selenium-node command", program(t, c, "selenium-node").Command[2],
			"/opt/bin/start-selenium-node.sh && kill -s SIGINT `cat /var/run/supervisor/supervisord.pid`")
	}},
	{"laravel-sail", "/etc/supervisor/conf.d/supervisord.conf", map[string]string{
		"SUPERVISOR_PHP_COMMAND": "/usr/bin/php -d variables_order=EGPCS /var/www/html/artisan serve --host=0.0.0.0 --port=80",
		"SUPERVISOR_PHP_USER":    "sail",
	}, func(t *testing.T, c *config.Config) {
		php := program(t, c, "php")
		want(t, "php command", php.Command, []string{"/bin/sh", "-c",
			"exec /usr/bin/php -d variables_order=EGPCS /var/www/html/artisan serve --host=0.0.0.0 --port=80"})
		want(t, "php user", php.User.Name, "sail")
		want(t, "php environment", php.Environment["LARAVEL_SAIL"], "1")
	}},
	{"supervisor-sample", "/etc/supervisord.conf", nil, func(t *testing.T, c *config.Config) {
		want(t, "programs", len(c.Programs), 0)
	}},
	{"ubuntu-vnc-desktop-rootfs", "/etc/supervisor/conf.d/supervisord.conf", nil, nil},
}

func TestRealConfigs(t *testing.T) {
	for _, rc := range realConfigs {
		t.Run(rc.name, func(t *testing.T) {
			res, err := Supervisord(rc.main, Options{Root: filepath.Join("testdata", rc.name), Hostname: "host",
				LookupEnv: func(string) (string, bool) { return "", false }})
			golden := filepath.Join("testdata", "golden", rc.name)
			if rc.check == nil {
				var es *Errors
				if !errors.As(err, &es) {
					t.Fatalf("converted, want errors: %v", err)
				}
				compare(t, golden+".errors", es.Error()+"\n")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var warns strings.Builder
			for _, w := range res.Warnings.List {
				warns.WriteString(w.String() + "\n")
			}
			compare(t, golden+".toml", string(res.TOML))
			compare(t, golden+".warnings", warns.String())
			c, err := config.Parse(golden+".toml", res.TOML, func(k string) (string, bool) {
				v, ok := rc.env[k]
				return v, ok
			})
			if err != nil {
				t.Fatalf("tend does not take the output:\n%v", err)
			}
			rc.check(t, c)
		})
	}
}

// compare holds got to the golden file, or writes it with -update.
func compare(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run TestRealConfigs -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got ---\n%s\n--- want ---\n%s", golden, got, want)
	}
}

// program is the program named name in c.
func program(t *testing.T, c *config.Config, name string) *config.Program {
	t.Helper()
	p := c.Lookup(name)
	if p == nil {
		var names []string
		for _, p := range c.Programs {
			names = append(names, p.Name)
		}
		t.Fatalf("no program %s in %v", name, names)
	}
	return p
}

func want[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !equal(got, want) {
		t.Errorf("%s: %#v, want %#v", what, got, want)
	}
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case []string:
		return slices.Equal(x, b.([]string))
	case []config.Dep:
		return slices.Equal(x, b.([]config.Dep))
	}
	return a == b
}
