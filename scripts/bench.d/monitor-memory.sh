#!/usr/bin/env bash
# monitor-memory.sh: peak RSS of `eroute --monitor` started on a large table
# (issue 10, item 13: under 64 MB on 1,000,000 policies).
#
# In a fresh network namespace (eroute-bench-*, always deleted) it loads
# MONITOR_N eroutes with `eroute --batch` (host and subnet selectors, IPv4 and IPv6,
# tun SAIDs, %pass, %drop, %trap), starts `eroute --monitor` under GNU time,
# waits until the monitor has read the table and answers an ACQUIRE (a
# datagram into a %trap, sent until the ACQUIRE line comes), then ends it
# with SIGTERM and prints its peak RSS and how long it took to answer.
#
# Usage (as root): scripts/bench.d/monitor-memory.sh
# Environment: MONITOR_N (1000000; 100000 with QUICK=1), EROUTE (bin/eroute),
# GOAL_KB (65536).
set -euo pipefail
export LC_ALL=C

N=${MONITOR_N:-1000000}
[ "${QUICK:-0}" = 1 ] && N=${MONITOR_N:-100000}
EROUTE=${EROUTE:-bin/eroute}
GOAL_KB=${GOAL_KB:-65536}
TIME=/usr/bin/time

die() { echo "monitor-memory.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, CAP_NET_ADMIN)"
$TIME -f %e true 2>/dev/null || die "needs GNU time as $TIME (Debian: apt-get install time)"
[ -x "$EROUTE" ] || die "no $EROUTE: run make build first"
EROUTE=$(cd "$(dirname "$EROUTE")" && pwd)/$(basename "$EROUTE")

WORK=$(mktemp -d /tmp/eroute-monmem.XXXXXX)
NS="eroute-bench-mon-$$-$RANDOM"
MON=
cleanup() {
	[ -n "$MON" ] && kill "$(monitor_pid)" "$MON" 2>/dev/null
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$WORK"
}
# monitor_pid is eroute's pid: GNU time's child (time itself would die of
# the SIGTERM and leave eroute running).
monitor_pid() { ps -o pid= --ppid "$MON" | tr -d ' '; }
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add va type veth peer name vb
ip -n "$NS" addr add 10.77.0.1/24 dev va
ip -n "$NS" link set va up
ip -n "$NS" link set vb up

# N eroutes: one in four a host-to-host IPv6 tun, the rest IPv4 host and
# subnet selectors with tun, %pass, %drop and %trap.
awk -v n="$N" 'BEGIN {
	print "--add --src 10.77.0.0/24 --dst 10.77.0.0/24 --said %trap"
	for (i = 1; i < n; i++) {
		a = int(i / 65536) % 256; b = int(i / 256) % 256; c = i % 256
		if (i % 4 == 0) {
			printf "--add --src fd00:%x::1/128 --dst fd01:%x::%x/128 --said tun0x%x@fd02::1\n", a, b, c + 1, 256 + i
		} else if (i % 4 == 1) {
			printf "--add --src 11.%d.%d.%d/32 --dst 12.%d.%d.0/24 --said tun0x%x@192.0.2.%d\n", a, b, c, a, b, 256 + i, c
		} else if (i % 4 == 2) {
			printf "--add --src 11.%d.%d.%d/32 --dst 13.%d.%d.%d/32 --said %%pass\n", a, b, c, a, b, c
		} else {
			printf "--add --src 11.%d.%d.%d/32 --dst 14.%d.%d.0/24 --said %s\n", a, b, c, a, b, (i % 8 == 3) ? "%drop" : "%trap"
		}
	}
}' >"$WORK/table"
"$EROUTE" --netns "$NS" --batch "$WORK/table"
count=$(ip -n "$NS" xfrm policy count | awk '{for (i = 1; i < NF; i++) if ($i == "OUT") print $(i+1)}')
ip -n "$NS" xfrm policy count >/dev/null
sleep 1 # the kernel resizes its hash tables after a large load

start=$EPOCHREALTIME
$TIME -o "$WORK/time" -f '%M %e' "$EROUTE" --netns "$NS" --monitor >"$WORK/out" 2>"$WORK/err" &
MON=$!
answered=
for _ in $(seq 1 600); do
	ip netns exec "$NS" bash -c 'echo x >/dev/udp/10.77.0.5/9' 2>/dev/null || true
	if grep -q ' acquire ' "$WORK/out"; then answered=$EPOCHREALTIME; break; fi
	sleep 0.1
done
[ -n "$answered" ] || die "the monitor answered no ACQUIRE within 60 s: $(cat "$WORK/err")"
sleep 0.5
kill -TERM "$(monitor_pid)"
wait "$MON" || die "eroute --monitor failed: $(cat "$WORK/err")"
MON=
read -r peak _ <"$WORK/time"
awk -v n="$count" -v kb="$peak" -v goal="$GOAL_KB" -v a="$start" -v b="$answered" 'BEGIN {
	printf "monitor  %d policies: peak RSS %.1f MB (goal <= %.0f MB: %s), first ACQUIRE answered %.2f s after start\n",
		n, kb / 1024, goal / 1024, kb <= goal ? "met" : "NOT met", b - a
}'
