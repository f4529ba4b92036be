package e2e

// Who may use the control socket (its mode and group), and the audit
// lines tend logs for every request with the peer's credentials.

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestCtlSocketMode: the socket is 0600 by default, and a user other
// than tend's cannot connect (ctl exits 3); with socket_mode = "0660" and
// socket_group, that group's members can.
func TestCtlSocketMode(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, conf string
		perm       os.FileMode
		gid        uint32
		asNobody   int // ctl's exit code as uid and gid 65534
	}{
		{"Default", "", 0o600, 0, 3},
		{"Group0660", "socket_mode = \"0660\"\nsocket_group = \"65534\"\n", 0o660, nobodyID, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			needRoot(t)
			cfg, _, sock := ctlConfig(t, c.conf+`
[programs.web]
command = ["sleep", "600"]
startsecs = 0
`, true)
			s := startCtl(t, cfg)
			s.tl.waitState("web", "RUNNING")
			fi, err := os.Stat(sock)
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != c.perm || st.Uid != 0 || st.Gid != c.gid {
				t.Errorf("socket %s: %v uid %d gid %d, want a socket %v owned by 0:%d", sock, fi.Mode(), st.Uid, st.Gid, c.perm, c.gid)
			}
			o := ctlAsNobody(t, sock, "status")
			if o.code != c.asNobody {
				t.Errorf("as uid %d: %v, want exit %d", nobodyID, o, c.asNobody)
			}
			if c.asNobody == 3 && !strings.Contains(o.stderr, "permission denied") {
				t.Errorf("as uid %d: %v, want permission denied", nobodyID, o)
			}
			// Another user, not in the group, is refused in any case.
			if o := runCtl(t, helper("ctl-as", "65533", "65533", "--socket", sock, "status")); o.code != 3 {
				t.Errorf("as uid 65533: %v, want exit 3", o)
			}
			ctl(t, sock, "status").must(t, 0)
			ctl(t, sock, "shutdown").must(t, 0)
			if code := s.finish(); code != 0 {
				t.Errorf("tend exited %d, want 0", code)
			}
		})
	}
}

// TestCtlAudit: every state-changing request is logged with the peer's
// uid and pid (SO_PEERCRED), and the state change it causes names the
// uid.
func TestCtlAudit(t *testing.T) {
	t.Parallel()
	needRoot(t)
	cfg, _, sock := ctlConfig(t, `socket_mode = "0660"
socket_group = "65534"

[programs.web]
command = ["sleep", "600"]
startsecs = 0.1

# Runs tend ctl inside tend's pid namespace, where its pid means
# something to tend: SO_PEERCRED gives 0 for a peer outside it.
[programs.stopper]
type = "oneshot"
command = [{self}, "ctl-in", "--socket", "{sock}", "stop", "web"]
depends_on = ["web"]
`, true)
	s := startCtl(t, cfg)
	ctlPid := atoi(strings.Fields(s.expect("ctl pid "))[2])
	req, a := s.waitAudit(0, "stop")
	if a.PeerUID == nil || *a.PeerUID != 0 || a.PeerPID == nil || int(*a.PeerPID) != ctlPid || !slices.Equal(a.Names, []string{"web"}) {
		t.Errorf("audit line %s: want peer_uid 0, peer_pid %d (the ctl process), names [web]", req.line, ctlPid)
	}
	if req.Level != "info" {
		t.Errorf("audit line %s: want level info", req.line)
	}
	stopping := s.tl.waitState("web", "STOPPING")
	if stopping.Reason != "ctl stop by uid 0" {
		t.Errorf("%v: want reason 'ctl stop by uid 0'", stopping)
	}
	s.tl.waitState("stopper", "COMPLETED")

	// Another user, through the group: its uid is in both lines.
	from := s.tl.mark()
	ctlAsNobody(t, sock, "start", "--wait", "web").must(t, 0)
	ctlAsNobody(t, sock, "stop", "--wait", "web").must(t, 0)
	req, a = s.waitAudit(from, "stop")
	if a.PeerUID == nil || *a.PeerUID != nobodyID {
		t.Errorf("audit line %s: want peer_uid %d", req.line, nobodyID)
	}
	e := s.tl.waitFrom(from, "web STOPPING", func(e event) bool { return e.is("web", "STOPPING") })
	if e.Reason != fmt.Sprintf("ctl stop by uid %d", nobodyID) {
		t.Errorf("%v: want reason 'ctl stop by uid %d'", e, nobodyID)
	}
	// Reads are not state changes: logged at debug.
	from = s.tl.mark()
	ctl(t, sock, "status").must(t, 0)
	if e, _ := s.waitAudit(from, "status"); e.Level != "debug" {
		t.Errorf("status audit line %s: want level debug", e.line)
	}
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}
