#!/usr/bin/env bash
# Benchmarks tend in supervisor mode against supervisord and s6, in one
# run, and writes the tables into docs/benchmarks-supervisor.md.
#
#   bash bench/supervisor.sh           full run (about six minutes); updates docs/benchmarks-supervisor.md
#   bash bench/supervisor.sh --quick   smoke test (under a minute): every measurement,
#                                      20 programs, small counts; writes bench/out/supervisor/ only
#
# Needs root (the kernel's process-events connector), Go, and the peers:
#   apt-get install -y supervisor s6
# Results: bench/out/supervisor/results-full.json or results-quick.json
# (every sample) and the tables rendered from it, results-MODE.md.
set -euo pipefail

cd "$(dirname "$0")/.."
quick=()
for arg in "$@"; do
	case $arg in
	--quick) quick=(-quick) ;;
	-h | --help)
		sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench/supervisor.sh: unknown argument $arg (want --quick)" >&2
		exit 2
		;;
	esac
done

if [ "$(id -u)" != 0 ]; then
	echo "bench/supervisor.sh: run as root: the driver follows process starts and exits through the kernel's process-events connector" >&2
	exit 1
fi
missing=()
for bin in /usr/bin/supervisord /usr/bin/s6-svscan /usr/bin/sleep /bin/sh; do
	[ -x "$bin" ] || missing+=("$bin")
done
command -v go >/dev/null || missing+=(go)
if [ ${#missing[@]} -gt 0 ]; then
	echo "bench/supervisor.sh: missing ${missing[*]}" >&2
	echo "install the peers with: apt-get install -y supervisor s6" >&2
	echo "(go from https://go.dev/dl/)" >&2
	exit 1
fi

out=bench/out/supervisor
mkdir -p "$out/bin"
# tend exactly as it ships; the helper and the driver are plain builds.
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out/bin/tend" .
CGO_ENABLED=0 go build -o "$out/bin/svchild" ./bench/cmd/svbench/svchild
go build -o "$out/bin/svbench" ./bench/cmd/svbench

doc=()
[ ${#quick[@]} -gt 0 ] || doc=(-doc docs/benchmarks-supervisor.md)
# At nice -20, which every supervisor and program inherits alike, other
# work on the machine disturbs the numbers less. Without CAP_SYS_NICE,
# nice says so and runs it at the usual priority; the report shows which.
exec nice -n -20 "$out/bin/svbench" -tend "$out/bin/tend" -child "$out/bin/svchild" -out "$out" \
	"${quick[@]}" "${doc[@]}" -command "bash bench/supervisor.sh${*:+ $*}"
