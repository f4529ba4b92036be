#!/usr/bin/env bash
# Benchmarks tend as PID 1 against tini, dumb-init and catatonit, in one
# run, and writes the tables into docs/benchmarks.md.
#
#   bash bench/init.sh           full run (about two minutes); updates docs/benchmarks.md
#   bash bench/init.sh --quick   smoke test (a few seconds): every measurement,
#                                few iterations; writes bench/out/ only
#
# Needs root (unshare --pid), Go, and the peers:
#   apt-get install -y tini dumb-init catatonit hyperfine
# Results: bench/out/results-full.json or results-quick.json (every
# sample) and the tables rendered from it, results-full.md or results-quick.md.
set -euo pipefail

cd "$(dirname "$0")/.."
quick=()
for arg in "$@"; do
	case $arg in
	--quick) quick=(-quick) ;;
	-h | --help)
		# The comment block at the top of this file.
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
		exit 0
		;;
	*)
		echo "bench/init.sh: unknown argument $arg (want --quick)" >&2
		exit 2
		;;
	esac
done

if [ "$(id -u)" != 0 ]; then
	echo "bench/init.sh: run as root: each init runs as PID 1 of a new PID namespace (unshare --pid)" >&2
	exit 1
fi
missing=()
for bin in /usr/bin/tini /usr/bin/tini-static /usr/bin/dumb-init /usr/bin/catatonit; do
	[ -x "$bin" ] || missing+=("$bin")
done
for cmd in hyperfine unshare go; do
	command -v "$cmd" >/dev/null || missing+=("$cmd")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "bench/init.sh: missing ${missing[*]}" >&2
	echo "install the peers with: apt-get install -y tini dumb-init catatonit hyperfine" >&2
	echo "(unshare is in util-linux; go from https://go.dev/dl/)" >&2
	exit 1
fi

out=bench/out
mkdir -p "$out/bin"
# tend exactly as it ships; the child and the driver are plain builds.
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out/bin/tend" .
# The memory floors (bench/cmd/initfloor), built as tend is: the least a
# Go init can be, then with the logger and the TOML parser tend links.
# Each links more than the one before; the report holds the RSS target
# against the last.
floors=()
for f in initfloor: initfloor+zerolog:floor_zerolog initfloor+console:floor_zerolog,floor_console \
	initfloor+toml:floor_zerolog,floor_console,floor_toml; do
	name=${f%%:*}
	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -tags "${f#*:}" -o "$out/bin/$name" ./bench/cmd/initfloor
	floors+=("$name=$out/bin/$name")
done
CGO_ENABLED=0 go build -o "$out/bin/benchchild" ./bench/cmd/benchchild
go build -o "$out/bin/initbench" ./bench/cmd/initbench

doc=()
[ ${#quick[@]} -gt 0 ] || doc=(-doc docs/benchmarks.md)
# At nice -20, which every init and child inherits alike, other work on
# the machine disturbs the numbers less. Without CAP_SYS_NICE, nice says
# so and runs it at the usual priority; the report shows which it was.
exec nice -n -20 "$out/bin/initbench" -tend "$out/bin/tend" -child "$out/bin/benchchild" -out "$out" \
	-floors "$(IFS=,; echo "${floors[*]}")" \
	"${quick[@]}" "${doc[@]}" -command "bash bench/init.sh${*:+ $*}"
