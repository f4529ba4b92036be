package supervisor

import (
	"fmt"
	"os/user"
	"strconv"
	"syscall"

	"tend/config"
)

// credential resolves a program's `user` to the uid, gid and
// supplementary groups to run it with. Names are looked up in /etc/passwd
// and /etc/group by Go's own parser (the binary is static, no NSS). A
// numeric uid with no passwd entry is allowed, as in Docker's USER, and
// then runs with no supplementary groups.
func credential(u *config.User) (*syscall.Credential, error) {
	var pw *user.User
	var err error
	uid := u.UID
	if u.Name != "" {
		pw, err = user.Lookup(u.Name)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", u.Name, err)
		}
	} else if pw, err = user.LookupId(strconv.Itoa(uid)); err != nil {
		pw = nil
	}
	gid := u.GID
	if pw != nil {
		uid, _ = strconv.Atoi(pw.Uid)
		if gid < 0 && u.Group == "" {
			gid, _ = strconv.Atoi(pw.Gid)
		}
	}
	if u.Group != "" && gid < 0 {
		g, err := user.LookupGroup(u.Group)
		if err != nil {
			return nil, fmt.Errorf("group %q: %w", u.Group, err)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if gid < 0 {
		gid = uid // no passwd entry and no group given: Docker uses gid 0; the uid's own is safer than root's
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if pw != nil {
		ids, err := pw.GroupIds()
		if err == nil {
			for _, id := range ids {
				if n, err := strconv.Atoi(id); err == nil {
					cred.Groups = append(cred.Groups, uint32(n))
				}
			}
		}
	}
	if cred.Groups == nil {
		cred.Groups = []uint32{} // drop tend's own supplementary groups
	}
	return cred, nil
}
