# The xfrm library's tests that need what the development kernels lack
# (ESP, so any SA at all): the SA events a Listener hears (an SA made with
# its mark and if_id, its soft and hard expiries, a delete, a flush), run
# from the package's test binary that make vm-test builds (bin/xfrm.test).

XFRM_TEST=${XFRM_TEST:-/payload/bin/xfrm.test}

check_xfrm_sa_events() {
	local n=xfrm-sa-events out
	[ -x "$XFRM_TEST" ] || { fail $n "no $XFRM_TEST in the payload (make bin/xfrm.test)"; return; }
	if ! out=$(cd /tmp && "$XFRM_TEST" -test.run '^TestKernelListenSAs$' -test.v -test.count=1 2>&1); then
		fail $n "$(echo "$out" | tail -n 15 | tr '\n' ' ')"
	elif ! echo "$out" | grep -q -- '--- PASS: TestKernelListenSAs'; then
		fail $n "did not run: $(echo "$out" | tail -n 4 | tr '\n' ' ')"
	else
		pass $n
	fi
}

extra_check xfrm-sa-events check_xfrm_sa_events
