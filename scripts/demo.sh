#!/bin/bash
# demo.sh: the manual's examples, applied by bin/eroute in a throwaway network
# namespace, the table shown by eroute and by `ip xfrm policy`, and everything
# removed afterwards. Needs root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
EROUTE="$PWD/bin/eroute"
[ "$(id -u)" = 0 ] || { echo "demo.sh: needs root to create network namespaces" >&2; exit 1; }

ns="eroute-demo-$$"
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "/etc/netns/$ns"; }
trap cleanup EXIT
ip netns add "$ns"
# The manual's host names, given to this namespace only (ip netns exec
# bind-mounts /etc/netns/NS/hosts over /etc/hosts).
mkdir -p "/etc/netns/$ns"
cat > "/etc/netns/$ns/hosts" <<HOSTS
192.0.2.10	company.com
198.51.100.21	ftp.ngo.org
198.51.100.1	gw.ngo.org
198.51.100.25	mail.ngo.org
203.0.113.80	www.ietf.org
HOSTS

run() {
	printf '\n$ ipsec eroute %s\n' "$*"
	ip netns exec "$ns" "$EROUTE" "$@"
}

echo "network namespace $ns (removed on exit)"
run --add --eraf inet --src 192.168.0.1/32 --dst 192.168.2.0/24 --af inet --edst 192.168.0.2 --spi 0x135 --proto tun
run --add --eraf inet6 --src 3049:1::1/128 --dst 3049:2::/64 --af inet6 --edst 3049:1::2 --spi 0x145 --proto tun
run --replace --eraf inet --src company.com/24 --dst ftp.ngo.org/32 --said tun.135@gw.ngo.org
run --add --eraf inet --src company.com/24 --dst www.ietf.org/32 --said %passthrough4
run --del --eraf inet --src company.com/24 --dst www.ietf.org/32 --said %passthrough4
run --add --eraf inet --src company.com/24 --dst mail.ngo.org/32 --transport-proto 6 --dst-port 110 --said tun.135@mail.ngo.org
run --add --eraf inet --src company.com/24 --dst mail.ngo.org/32 --said %pass
i=1
for said in %drop %reject %hold %trap; do
	run --add --src 10.0.0.0/8 --dst "172.16.$i.0/24" --said "$said"
	i=$((i + 1))
done

printf '\n$ ipsec eroute            # the table, in the KLIPS format\n'
ip netns exec "$ns" "$EROUTE"
printf '\n$ ip xfrm policy          # the same table, as the kernel holds it\n'
ip -n "$ns" xfrm policy

run --add --src 10.0.0.0/8 --dst 172.16.1.0/24 --said %pass || echo "(exit status $?: the table is unchanged)"
run --clear
printf '\n$ ipsec eroute            # after --clear\n'
ip netns exec "$ns" "$EROUTE"
echo "(empty)"
