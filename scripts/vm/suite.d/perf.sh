# A batch naming an SA group's head among other SAIDs (issue 12): the batch
# groups the SAs once (xfrm's findGroups and groupHeads) and writes the
# head's eroute with the group's templates, the others with their own SA's;
# a batch naming the head alone takes the filtered dump and does the same.

check_batch_groups() {
	local n=batch-groups f="$T/batch-groups"
	ip -n "$P-gw1" xfrm state add src 192.168.0.1 dst 192.168.0.2 proto esp spi 0x8101 reqid 0x810 mode tunnel \
		enc 'cbc(aes)' $K_AES auth-trunc 'hmac(sha256)' $K_SHA 128 || { fail $n "cannot add the SA"; return; }
	printf '%s\n' "--add --src 10.81.0.0/16 --dst 10.82.0.0/16 --said tun0x810@192.168.0.2" \
		"--add --src 10.81.0.0/16 --dst 10.83.0.0/16 --said tun0x999@192.168.0.2" \
		"--add --src 10.81.0.0/16 --dst 10.84.0.0/16 --said %pass" >"$f.several"
	echo "--add --src 10.81.0.0/16 --dst 10.85.0.0/16 --said tun0x810@192.168.0.2" >"$f.one"
	er gw1 --batch "$f.several"
	er gw1 --batch "$f.one"
	local out head other one
	out=$(ip -n "$P-gw1" xfrm policy list)
	head=$(echo "$out" | grep -A3 'dst 10.82.0.0/16' | grep -c 'reqid 2064 mode tunnel')
	other=$(echo "$out" | grep -A3 'dst 10.83.0.0/16' | grep -c 'spi 0x00000999 reqid 0 mode tunnel')
	one=$(echo "$out" | grep -A3 'dst 10.85.0.0/16' | grep -c 'reqid 2064 mode tunnel')
	expect $n "head-with-group-template" "$head" 1 "other-SAID-own-template" "$other" 1 \
		"head-alone-with-group-template" "$one" 1
}

extra_check batch-groups check_batch_groups
