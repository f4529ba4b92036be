#!/usr/bin/env bash
# Soaks tend as PID 1 under chaos (crash loops, orphans, SIGKILLs, signal
# floods, every tend ctl verb, stalled event readers, reloads of valid
# and invalid configs) and checks that it comes out whole: no line lost,
# nothing left behind, exit code 0, fds and threads back where they
# were, RssAnon within 2 MiB of its first minute. docs/reliability.md.
#
#   bash bench/soak.sh              60 s of chaos (about 1.5 minutes in all)
#   bash bench/soak.sh -d 1h        an hour of it
#
# Flags after the script's name go to the driver (bench/cmd/soak):
# -d DURATION, -quiet DURATION, -out DIR. Needs root (unshare --pid, and
# the kernel's process-events connector for the leftover check) and Go.
# Results: bench/out/soak/ (results.json, tend.log); the summary on stdout.
# Exit code 1 on any failure.
set -euo pipefail

cd "$(dirname "$0")/.."
for arg in "$@"; do
	case $arg in
	-h | --help)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
		exit 0
		;;
	esac
done

if [ "$(id -u)" != 0 ]; then
	echo "bench/soak.sh: run as root: tend runs as PID 1 of a new PID namespace (unshare --pid)" >&2
	exit 1
fi
for cmd in unshare go; do
	command -v "$cmd" >/dev/null || {
		echo "bench/soak.sh: missing $cmd" >&2
		exit 1
	}
done

bin=bench/out/soak-bin
mkdir -p "$bin"
# tend exactly as it ships; the helper and the driver are plain builds.
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$bin/tend" .
CGO_ENABLED=0 go build -o "$bin/soakchild" ./bench/cmd/soak/soakchild
go build -o "$bin/soak" ./bench/cmd/soak

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD -- 2>/dev/null; then commit="$commit (with uncommitted changes)"; fi
exec "$bin/soak" -tend "$bin/tend" -child "$bin/soakchild" -commit "$commit" "$@"
