# SPDX-License-Identifier: GPL-2.0
# Judge what leaves, not only the connect() argument (issue 10,
# principle 8): IPv4 options and IPv6 routing and option headers can
# change where a packet goes after its destination was judged, and
# freebind/transparent let a socket speak from an address not its own.
# The socket options are refused (cgroup/setsockopt), the same data as
# per-message control data is dropped on egress (cgroup_skb/egress) and
# counted. cgroup programs: every backend, Landlock's included.
source "$(dirname "$0")/escape.inc"

NET=$AF_BUILD/../tests/helpers/escnet.py
[ -f "$NET" ] || NET=$TOP/tests/helpers/escnet.py

test_ipv4_options_sockopt() {
	net_policy
	fence_ns $PY -S "$NET" sockopt4:ip_options
	expect_line sockopt4:ip_options HELD
	assert_contains "$ERR" "denied setsockopt level 0 option 4" "the refusal's report"
}

test_ipv6_routing_header_sockopt() {
	net_policy
	fence_ns $PY -S "$NET" sockopt6:ipv6_rthdr sockopt6:ipv6_hopopts sockopt6:ipv6_dstopts \
		sockopt6:ipv6_rthdrdstopts
	expect_line sockopt6:ipv6_rthdr HELD
	expect_line sockopt6:ipv6_hopopts HELD
	expect_line sockopt6:ipv6_dstopts HELD
	expect_line sockopt6:ipv6_rthdrdstopts HELD
}

test_foreign_source_sockopts() {
	net_policy
	fence_ns $PY -S "$NET" sockopt4:ip_freebind sockopt4:ip_transparent sockopt6:ipv6_freebind \
		sockopt6:ipv6_transparent sockopt4:so_mark
	expect_line sockopt4:ip_freebind HELD
	expect_line sockopt4:ip_transparent HELD
	expect_line sockopt6:ipv6_freebind HELD
	expect_line sockopt6:ipv6_transparent HELD
	expect_line sockopt4:so_mark HELD
}

# A receiver outside the fence counts what arrives: the plain datagram
# must, the one with options as control data must not.
recv_setup() {	# PORT FAMILY
	in_ns $PY -S -c "
import os, socket, sys
s = socket.socket(socket.AF_INET6 if '$2' == '6' else socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('::1' if '$2' == '6' else '127.0.0.1', $1))
open('$T/ready$2', 'w').close()
# Until the test says stop (bounded): the fence's start may take longer
# than any fixed wait (the first fence of a guest loads the node).
s.settimeout(0.2)
with open('$T/got$2', 'a') as f:
    for _ in range(1500):
        if os.path.exists('$T/stop$2'):
            break
        try:
            d = s.recv(100)
        except socket.timeout:
            continue
        f.write(d.decode() + '\n'); f.flush()
" &
	local i
	for i in $(seq 50); do [ -e "$T/ready$2" ] && return; sleep 0.1; done
	fail "the receiver did not start"
}

# Until LINE arrived (the datagrams go in order: what was sent before it
# is there too, or never comes), bounded; then the receiver stops.
recv_wait() {	# FAMILY LINE
	local i
	for i in $(seq 100); do grep -qx "$2" "$T/got$1" 2>/dev/null && break; sleep 0.1; done
	touch "$T/stop$1"
}

test_ipv4_options_per_message() {
	net_policy
	recv_setup 7301 4
	fence_ns $PY -S "$NET" cmsg4:7301 plain4:7301
	recv_wait 4 plain4:7301
	assert_contains "$(cat got4)" "plain4:7301" "the plain datagram arrived"
	assert_not_contains "$(cat got4)" "cmsg4:7301" "the datagram with IPv4 options"
}

test_ipv6_options_per_message() {
	net_policy
	in_ns $PY -S -c "import socket; socket.socket(socket.AF_INET6).bind(('::1', 0))" 2>/dev/null ||
		skip "no IPv6 on lo"
	recv_setup 7302 6
	fence_ns $PY -S "$NET" cmsg6:7302 plain6:7302
	recv_wait 6 plain6:7302
	assert_contains "$(cat got6)" "plain6:7302" "the plain datagram arrived"
	assert_not_contains "$(cat got6)" "cmsg6:7302" "the datagram with IPv6 destination options"
}

# Outside a fence the same options work: the routes above test the fence.
test_options_work_unfenced() {
	net_policy
	OUT=$(in_ns $PY -S "$NET" sockopt4:ip_options sockopt6:ipv6_hopopts)
	expect_line sockopt4:ip_options ESCAPED
	expect_line sockopt6:ipv6_hopopts ESCAPED
}

for BACKEND in $(esc_backends); do
	export BACKEND AF_TEST_TAG=$(esc_tag)
	af_main "$@"
done
