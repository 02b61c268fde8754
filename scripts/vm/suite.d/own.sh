# Policies eroute did not make, with real SAs (issue 9, item 3): a daemon's
# policy whose template names no SPI but a reqid counts the packets of the
# SA found by reqid and destination, and is listed by its template; one
# whose reqid no SA has is a %trap. Both are foreign in the JSON listing.

check_foreign_reqid() {
	local n=foreign-reqid
	ip -n "$P-gw1" xfrm state add src 192.168.0.1 dst 192.168.0.2 proto esp spi 0x7001 reqid 7 mode tunnel \
		enc 'cbc(aes)' $K_AES auth-trunc 'hmac(sha256)' $K_SHA 128 || { fail $n "cannot add the SA"; return; }
	# charon's shape: ESP tunnel template with a reqid and no SPI, at its priority.
	ip -n "$P-gw1" xfrm policy add src 192.168.0.1/32 dst 192.168.2.0/24 dir out priority 367231 \
		tmpl src 192.168.0.1 dst 192.168.0.2 proto esp reqid 7 mode tunnel
	ip -n "$P-gw1" xfrm policy add src 192.168.0.1/32 dst 192.168.5.0/24 dir out priority 367231 \
		tmpl src 192.168.0.1 dst 192.168.0.2 proto esp reqid 8 mode tunnel
	cap_start
	send gw1 192.168.2.2 5001 5 >/dev/null
	settle
	cap_stop
	local count said5 json
	count=$(listing_count gw1 tun0x0@192.168.0.2)
	said5=$(er gw1 | awk '$4 == "192.168.5.0/24" { print $NF }')
	json=$(er gw1 --json | grep -c '"owner":"foreign"')
	expect $n \
		"ESP(spi=0x7001)-on-wire" "$(n_spi esp 0x7001 "src 192.168.0.1 and dst 192.168.0.2")" 5 \
		"SA-packets" "$(sa_packets gw1 192.168.0.1 192.168.0.2 esp 0x7001)" 5 \
		"listing-COUNT-by-reqid" "${count:-none}" 5 \
		"reqid-without-SA-listed" "${said5:-none}" %trap \
		"JSON-foreign" "$json" 2
	nsx gw1 "$EROUTE" | sed 's/^/  gw1: /'
}

extra_check foreign-reqid check_foreign_reqid
