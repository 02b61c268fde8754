#!/usr/bin/env bash
# batch-clear-lines.sh: a --batch of many --clear lines on a large table
# costs what the clears delete, not a scan of the table per line (issue 10,
# item 7: 20,000 --clear lines on 100,000 eroutes took 17 s, quadratic).
#
# Prints the wall time and peak RSS of `eroute --batch` of CLEARS --clear
# lines on a table of N eroutes, and of one --clear line for comparison.
# Usage (as root): scripts/bench.d/batch-clear-lines.sh   (make bench runs it)
# Environment: N (100000; 30000 with QUICK=1), CLEARS (20000; 6000 with
# QUICK=1), EROUTE (bin/eroute).
set -euo pipefail
export LC_ALL=C
if [ "${QUICK:-0}" = 1 ]; then
	N=${N:-30000}
	CLEARS=${CLEARS:-6000}
fi
N=${N:-100000}
CLEARS=${CLEARS:-20000}
EROUTE=${EROUTE:-bin/eroute}
TIME=/usr/bin/time
[ "$(id -u)" = 0 ] || { echo "batch-clear-lines.sh: needs root" >&2; exit 1; }
[ -x "$EROUTE" ] || { echo "batch-clear-lines.sh: no $EROUTE: run make build first" >&2; exit 1; }

WORK=$(mktemp -d /tmp/eroute-bench-clear.XXXXXX)
NS=eroute-bench-clear-$$-$RANDOM
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

awk -v n="$N" 'BEGIN {
	for (k = 0; k < n; k++)
		if (k % 2 == 0)
			printf "--add --src 10.%d.%d.1/32 --dst 172.16.%d.%d/32 --said %%drop\n", int(k/65536)%256, int(k/256)%256, int(k/256)%256, k%256
		else
			printf "--add --src 10.%d.%d.0/24 --dst 172.17.%d.0/24 --said %%pass\n", int(k/65536)%256, int(k/256)%256, k%256
}' >"$WORK/table"
awk -v n="$CLEARS" 'BEGIN { for (i = 0; i < n; i++) print "--clear" }' >"$WORK/clears"
echo --clear >"$WORK/clear"

for f in clear clears; do
	ip netns add "$NS"
	ip netns exec "$NS" "$EROUTE" --batch "$WORK/table"
	lines=$(wc -l <"$WORK/$f")
	$TIME -f "%e %M" -o "$WORK/time" ip netns exec "$NS" "$EROUTE" --batch "$WORK/$f"
	read -r secs kb <"$WORK/time"
	printf 'batch-clear  %6d --clear lines on %d eroutes: %6.2f s  %4d MB peak\n' "$lines" "$N" "$secs" $((kb / 1024))
	ip netns del "$NS"
done

# A batch stopped by SIGTERM while the kernel takes it: the time from the
# signal to the end of the process, undo included, and what is left.
ip netns add "$NS"
ip netns exec "$NS" "$EROUTE" --batch "$WORK/table" 2>"$WORK/stderr" &
pid=$!
until [ "$(ip -n "$NS" xfrm policy count | awk '/OUT/ { print $5 }')" -gt 1000 ] 2>/dev/null; do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.01
done
applied=$(ip -n "$NS" xfrm policy count | awk '/OUT/ { print $5 }')
start=$(date +%s.%N)
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" || true
end=$(date +%s.%N)
left=$(ip -n "$NS" xfrm policy count | awk '/OUT/ { print $5 }')
printf 'batch-stop   SIGTERM with %d of %d eroutes applied: ended %.2f s later, %d left (%s)\n' \
	"$applied" "$N" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "$left" "$(head -c 60 "$WORK/stderr")"
ip netns del "$NS"
