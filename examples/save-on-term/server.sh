#!/bin/sh
# A stand-in for a server that must save its state when it is told to stop:
# on SIGTERM (or SIGINT, for Ctrl-C) it spends ~100 ms writing $STATE_FILE,
# then exits 0. It needs nothing but /bin/sh and sleep.
#
# Run under tend as the image's shell-form CMD, `sh -c 'server.sh; true'`,
# it is tend's grandchild: the TERM that `docker stop` sends reaches it only
# because tend forwards signals to the whole process group.

state=${STATE_FILE:-${TMPDIR:-/tmp}/tend-save-on-term.state}
ticks=0

save() {
	# From here on the save must not be cut short. Once the shell above us
	# has died of the same TERM, tend sends TERM to every leftover process
	# (us, and the sleep below): ignoring it lets the save finish. tend
	# gives leftovers --grace (5s by default) before SIGKILL.
	trap '' TERM INT
	echo "server: $1 received, saving state to $state"
	sleep 0.1 # the slow part of a real save
	printf 'ticks=%s\nsaved-on=%s\n' "$ticks" "$1" >"$state"
	echo "server: state saved, exiting"
	exit 0
}
trap 'save TERM' TERM
trap 'save INT' INT

echo "server: running as pid $$, state goes to $state"
while :; do
	ticks=$((ticks + 1))
	# A trap runs only once the foreground command returns: a plain
	# `sleep 1` would delay the save by up to a second. `wait` returns as
	# soon as a trapped signal arrives.
	sleep 1 &
	wait $!
done
