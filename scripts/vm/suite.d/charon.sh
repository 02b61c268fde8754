# charon.sh: eroute next to strongSwan's charon, with real ESP (issue 9).
# Sourced by suite.sh, whose plumbing (topo, nsx, er, bg, cap_start, expect,
# ...) it uses.
#
# gw1 plays the issue's gateway gL, gw2 its peer gR. Each runs its own charon
# in its namespace and in a mount namespace with a private /run, with its own
# strongswan.conf, swanctl directory, vici socket and log under $T (nothing of
# the VM's /etc/swanctl or /run is used). IKEv2 with a pre-shared key between
# 192.168.0.1 and 192.168.0.2; CHILD SA t for snd's subnet 192.168.1.0/24 and
# rcv's 192.168.2.0/24, which gw2 only answers.
#
# The chain: gw1 has a %trap eroute for the subnets and `eroute --monitor
# --exec 'swanctl --initiate --child t'`; a packet from snd gives the ACQUIRE,
# charon negotiates and installs its CHILD SA over the %trap's selector; the
# flow goes as ESP with charon's SPI and reaches rcv. Then `swanctl
# --terminate --ike t`: charon deletes its policies by selector. The %trap
# must be listed again at once and, once the monitor's hold has timed out,
# no packet of the flow may cross the wire in the clear.
#
# The monitor's part after the terminate is issue 9 item 5 (it puts an
# eroute back when a daemon that took its selector over leaves).
# VM_SUITE_MUTATE=norestore stops the monitor before the terminate: the
# check after it must then FAIL (the fail-open the issue measured).

CHARON_HOLD=5 # the monitor's --hold-timeout, seconds

charon_bin() {
	local p
	for p in /usr/lib/ipsec/charon /usr/libexec/ipsec/charon /usr/libexec/strongswan/charon; do
		[ -x "$p" ] && { echo "$p"; return 0; }
	done
	return 1
}

# sw NS ARGS...: swanctl against NS's charon.
sw() {
	local d=$T/charon.$1
	shift
	STRONGSWAN_CONF=$d/strongswan.conf SWANCTL_DIR=$d/swanctl swanctl "$@" --uri "unix://$d/charon.vici"
}

# charon_start NS LOCAL REMOTE LOCAL_TS REMOTE_TS: NS's charon with the
# connection t, loaded.
charon_start() {
	local ns=$1 local=$2 remote=$3 lts=$4 rts=$5 d=$T/charon.$1 sub
	rm -rf "$d"
	for sub in conf.d x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12; do
		mkdir -p "$d/swanctl/$sub"
	done
	cat >"$d/strongswan.conf" <<-CONF
		charon {
			load = random nonce aes sha1 sha2 hmac kdf gmp pem pkcs1 x509 pubkey kernel-netlink socket-default vici
			plugins {
				vici {
					socket = unix://$d/charon.vici
				}
			}
			filelog {
				test {
					path = $d/charon.log
					time_format = %T
					default = 1
					knl = 2
					flush_line = yes
				}
			}
			syslog {
				daemon {
					default = -1
				}
			}
		}
		swanctl {
			load = random nonce aes sha1 sha2 hmac gmp pem pkcs1 x509 pubkey
		}
	CONF
	cat >"$d/swanctl/swanctl.conf" <<-CONF
		connections {
			t {
				version = 2
				local_addrs = $local
				remote_addrs = $remote
				proposals = aes128-sha256-modp2048
				local {
					auth = psk
					id = $local
				}
				remote {
					auth = psk
					id = $remote
				}
				children {
					t {
						local_ts = $lts
						remote_ts = $rts
						mode = tunnel
						esp_proposals = aes128-sha256
					}
				}
			}
		}
		secrets {
			ike-t {
				id-1 = $local
				id-2 = $remote
				secret = "eroute-vm-test-psk"
			}
		}
	CONF
	# ip netns exec, env, unshare and sh each exec the next: the pid bg
	# remembers is charon's, and teardown's SIGTERM stops it.
	bg "$ns" env STRONGSWAN_CONF="$d/strongswan.conf" unshare --mount --propagation private \
		sh -c 'mount -t tmpfs charon-run /run && exec "$0"' "$(charon_bin)" >"$d/out" 2>&1
	until_s 60 sw "$ns" --stats >/dev/null || {
		echo "  (charon in $ns did not answer: $(cat "$d/out") $(tail -n 5 "$d/charon.log" 2>/dev/null))"
		return 1
	}
	sw "$ns" --load-all >"$d/load.out" 2>&1 || { echo "  (swanctl --load-all in $ns: $(cat "$d/load.out"))"; return 1; }
}

# charon_listed: gw1's listing line for the subnets' selector, or "none"
# (not traced: it is polled).
charon_listed() {
	nsx gw1 "$EROUTE" | awk '$2 == "192.168.1.0/24" && $4 == "192.168.2.0/24" { print $NF; found = 1 } END { if (!found) print "none" }'
}

# until_s SECONDS CMD...: poll CMD until it succeeds or SECONDS have passed
# (wait_for counts tries, and each try of eroute takes a while under TCG).
until_s() {
	local end=$((SECONDS + $1))
	shift
	until "$@" 2>/dev/null; do
		[ $SECONDS -lt "$end" ] || return 1
		sleep 0.2
	done
}

# acquire_listener NS PID: PID has a NETLINK_XFRM socket in NS that has
# joined XFRMNLGRP_ACQUIRE (group bit 0): from then on it gets every ACQUIRE.
acquire_listener() {
	local inodes
	inodes=$(ls -l "/proc/$2/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')
	[ -n "$inodes" ] || return 1
	nsx "$1" awk -v mine=" $inodes" '$2 == 6 && $4 ~ /[13579bdf]$/ && index(mine, " " $NF " ") { found = 1 } END { exit !found }' /proc/net/netlink
}

check_charon_chain() {
	local n=charon
	if ! charon_bin >/dev/null || ! command -v swanctl >/dev/null; then
		fail $n "strongSwan's charon or swanctl is not in the image (build-image.sh's vm_pkgs)"
		return
	fi
	local sel=(--src 192.168.1.0/24 --dst 192.168.2.0/24)
	charon_start gw1 192.168.0.1 192.168.0.2 192.168.1.0/24 192.168.2.0/24 || { fail $n "charon on gw1 did not start"; return; }
	charon_start gw2 192.168.0.2 192.168.0.1 192.168.2.0/24 192.168.1.0/24 || { fail $n "charon on gw2 did not start"; return; }
	local d=$T/charon.gw1
	er gw1 --add "${sel[@]}" --said %trap
	bg gw1 "$EROUTE" --monitor --hold-timeout $CHARON_HOLD \
		--exec "STRONGSWAN_CONF=$d/strongswan.conf swanctl --initiate --child t --timeout 60 --uri unix://$d/charon.vici" \
		>"$T/acq.mon" 2>"$T/acq.err"
	local mon=${BG[-1]}
	until_s 20 acquire_listener gw1 "$mon" || echo "  (the monitor did not start: $(cat "$T/acq.err"))"
	listen rcv udp4 5001
	cap_start

	# The first packet from snd gives the ACQUIRE; swanctl, run by the
	# monitor, brings the IKE SA and the CHILD SA up.
	local t0 t1
	t0=$(date +%s)
	send snd 192.168.2.2 5001 1 first >/dev/null
	until_s 90 eval 'sw gw1 --list-sas | grep -q "INSTALLED, TUNNEL"'
	t1=$(date +%s)
	local spi listed
	spi=$(ip -n "$P-gw1" xfrm state list src 192.168.0.1 dst 192.168.0.2 proto esp |
		sed -n 's/.*proto esp spi \(0x[0-9a-f]*\).*/\1/p' | head -n 1)
	listed=$(charon_listed)
	send snd 192.168.2.2 5001 3 esp >/dev/null
	settle
	local pings
	pings=$(nsx snd ping -c 2 -i 0.3 -W 2 192.168.2.2 2>&1 | sed -n 's/.* \([0-9]*\) received.*/\1/p')
	# tcpdump may lag behind under TCG: what it has not read when stopped is lost.
	[ -z "$spi" ] || until_s 10 eval '[ "$(n_spi esp "$spi" "src 192.168.0.1 and dst 192.168.0.2")" -ge 5 ]'
	cap_stop
	expect $n-handoff \
		"ACQUIRE-lines" "$(grep -c 'hold placed' "$T/acq.mon")" ">=1" \
		"IKE-SA-established" "$(grep -c 'IKE_SA t\[[0-9]*\] established' "$d/charon.log")" ">=1" \
		"IKE-packets-on-wire" "$(n_cap 'udp port 500 or udp port 4500')" ">=4" \
		"charon-CHILD-SA-spi" "${spi:-none}" "$([ -n "$spi" ] && echo "$spi" || echo an-SPI)" \
		"ESP(spi=charon's)" "$( [ -n "$spi" ] && n_spi esp "$spi" 'src 192.168.0.1 and dst 192.168.0.2' || echo 0)" ">=5" \
		"clear-UDP-to-5001" "$(n_cap 'udp and dst port 5001')" 0 \
		"clear-ICMP-from-snd" "$(n_cap 'icmp and src 192.168.1.2')" 0 \
		"rcv" "$(grep -c '^esp ' "$T/rx.rcv.5001")" 3 \
		"ping-replies" "${pings:-0}" 2
	note "$n: charon on gw1: $(grep -c 'policy already exists, try to update it' "$d/charon.log") x 'policy already exists, try to update it'; eroute lists the selector as $listed"
	note "$n: $((t1 - t0)) s from the first packet to charon's CHILD SA"
	note "$n: the trapped packet itself was $( [ "$(grep -c '^first ' "$T/rx.rcv.5001")" = 1 ] && echo delivered || echo dropped); net.core.xfrm_acq_expires=$(nsx gw1 sysctl -n net.core.xfrm_acq_expires) on gw1"
	sed 's/^/  monitor: /' "$T/acq.mon" "$T/acq.err"

	# charon leaves: it deletes its policies by selector.
	if [ "$MUTATE" = norestore ]; then
		kill -TERM "$mon"
		wait "$mon" 2>/dev/null
	fi
	cap_start
	sw gw1 --terminate --ike t --timeout 30 >"$T/err.terminate" 2>&1
	local back=no
	until_s 5 eval '[ "$(charon_listed)" = %trap ]' && back=yes
	listed=$(charon_listed)
	# The monitor's hold for the flow's hosts goes after --hold-timeout.
	until_s $((CHARON_HOLD + 10)) eval '! nsx gw1 "$EROUTE" | grep -q "%hold$"'
	send snd 192.168.2.2 5001 3 after >/dev/null
	nsx snd ping -c 2 -i 0.3 -W 1 192.168.2.2 >/dev/null 2>&1
	settle
	cap_stop
	local clear_udp clear_icmp
	clear_udp=$(n_cap 'udp and dst port 5001')
	clear_icmp=$(n_cap 'icmp and src 192.168.1.2')
	expect $n-terminate \
		"trap-listed-again" "$back" yes \
		"listed-after" "$listed" %trap \
		"clear-UDP-to-5001" "$clear_udp" 0 \
		"clear-ICMP-from-snd" "$clear_icmp" 0
	note "$n: after the terminate, rcv got $(grep -c '^after ' "$T/rx.rcv.5001") of 3 datagrams; the monitor printed $(wc -l <"$T/acq.mon") lines in all"
	grep -E 'policy|SAD entry|CHILD_SA' "$d/charon.log" | grep -v 'adding SAD entry\|using\|HW offload' | tail -n 12 | sed 's/^/  charon gw1: /'
}

extra_check charon check_charon_chain
