#!/usr/bin/env bash
# Benchmarks the real nginx + php-fpm + redis stack of examples/lamp
# (tend.debian.toml) under tend and under an equivalent supervisord.conf,
# on the host, and writes the table into docs/benchmarks-lamp.md.
#
#   bash bench/lamp.sh           full run (10 rounds, about a minute); updates docs/benchmarks-lamp.md
#   bash bench/lamp.sh --quick   smoke test: 2 rounds; writes bench/out/lamp/ only
#
# Run by hand, not in .ci/run: it needs root and Debian's packages:
#   apt-get install -y nginx php8.2-fpm php8.2-redis redis-server supervisor
# No other nginx, php-fpm or redis may run on the machine meanwhile.
# Results: bench/out/lamp/results-full.json or results-quick.json (every
# sample) and the table rendered from it, results-MODE.md.
set -euo pipefail

cd "$(dirname "$0")/.."
quick=()
for arg in "$@"; do
	case $arg in
	--quick) quick=(-quick) ;;
	-h | --help)
		sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench/lamp.sh: unknown argument $arg (want --quick)" >&2
		exit 2
		;;
	esac
done

if [ "$(id -u)" != 0 ]; then
	echo "bench/lamp.sh: run as root: nginx, php-fpm and redis start as root and drop to www-data and redis" >&2
	exit 1
fi
missing=()
for bin in /usr/sbin/nginx /usr/sbin/php-fpm8.2 /usr/bin/redis-server /usr/bin/redis-cli /usr/bin/supervisord; do
	[ -x "$bin" ] || missing+=("$bin")
done
if [ -x /usr/sbin/php-fpm8.2 ] && ! /usr/sbin/php-fpm8.2 -m 2>/dev/null | grep -qx redis; then
	missing+=("php-fpm8.2's redis extension (php8.2-redis)")
fi
command -v go >/dev/null || missing+=(go)
if [ ${#missing[@]} -gt 0 ]; then
	echo "bench/lamp.sh: missing: ${missing[*]}" >&2
	echo "install them with: apt-get install -y nginx php8.2-fpm php8.2-redis redis-server supervisor" >&2
	echo "(go from https://go.dev/dl/)" >&2
	exit 1
fi

out=bench/out/lamp
mkdir -p "$out/bin"
# tend exactly as it ships.
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out/bin/tend" .
go build -o "$out/bin/lampbench" ./bench/cmd/lampbench

doc=()
[ ${#quick[@]} -gt 0 ] || doc=(-doc docs/benchmarks-lamp.md)
exec "$out/bin/lampbench" -tend "$out/bin/tend" -child examples/lamp -out "$out" \
	"${quick[@]}" "${doc[@]}" -command "bash bench/lamp.sh${*:+ $*}"
