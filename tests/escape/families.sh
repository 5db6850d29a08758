# SPDX-License-Identifier: GPL-2.0
# Socket families are default-deny (issue 10, principle 8): unix, inet
# and inet6 as the policy allows, netlink only to read the node's state;
# packet, XDP, vsock, key, alg, can, ... refused, and a fenced process
# cannot change the node's addresses, routes or links. BPF LSM backends:
# lsm/socket_create and lsm/netlink_send. Landlock has no hook for
# either: there the seccomp filter refuses socket(2)/socketpair(2) by
# family (spec.network.families), and what a netlink route socket sends
# is a gap run states. Either way the refusal is journaled, and the
# kernel is never asked to load the family's module. Every route runs in a network namespace of the
# test's own, so one that got through changes nothing of the machine's.
source "$(dirname "$0")/escape.inc"

NET=$TOP/tests/helpers/escnet.py
GAPNOTE="netlink route messages"

families() {
	local f
	for f in "$@"; do echo "family:$f"; done
}

test_link_layer_families() {
	net_policy
	fence_ns $PY -S "$NET" $(families packet xdp)
	gap_check
	expect_line family:packet HELD
	grep -q "family:xdp NOSUPPORT" <<<"$OUT" || expect_line family:xdp HELD
}

test_other_families() {
	net_policy
	local f
	fence_ns $PY -S "$NET" $(families vsock key alg can appletalk tipc rds bluetooth)
	gap_check
	for f in vsock key alg can appletalk tipc rds bluetooth; do
		grep -q "family:$f NOSUPPORT" <<<"$OUT" || expect_line family:$f HELD
	done
}

test_netlink_config_families() {
	net_policy
	fence_ns $PY -S "$NET" $(families netlink-netfilter netlink-generic netlink-uevent netlink-xfrm)
	gap_check
	expect_line family:netlink-netfilter HELD
	expect_line family:netlink-generic HELD
	expect_line family:netlink-uevent HELD
	expect_line family:netlink-xfrm HELD
}

# A family the policy names is allowed (spec.network.families).
test_named_family_allowed() {
	# A packet socket needs CAP_NET_RAW as well: the box drops it
	# unless the policy grants it.
	net_policy '    families: [packet, netlink]' '  process:' '    capabilities: [net_raw]'
	fence_ns $PY -S "$NET" family:packet family:netlink-generic family:vsock
	expect_line family:packet ESCAPED
	expect_line family:netlink-generic ESCAPED
	grep -q "family:vsock NOSUPPORT" <<<"$OUT" || expect_line family:vsock HELD
}

# Reading the node's state stays allowed (getaddrinfo, ip, ss).
test_netlink_route_read_allowed() {
	net_policy
	fence_ns $PY -S "$NET" family:netlink-route rtnl-get
	expect_line family:netlink-route ESCAPED
	expect_line rtnl-get ESCAPED
}

test_netlink_route_writes() {
	net_policy
	gap_on landlock "$GAPNOTE" "Landlock cannot judge netlink messages: root in the fence changes addresses and routes"
	fence_ns $PY -S "$NET" rtnl-addr rtnl-route rtnl-link
	gap_check
	expect_line rtnl-addr HELD
	expect_line rtnl-route HELD
	expect_line rtnl-link HELD
	assert_not_contains "$(in_ns ip -4 addr show dev lo)" "10.77.0.1" "lo's addresses"
	assert_not_contains "$(in_ns ip -4 route show)" "10.78.0.0" "routes"
	assert_contains "$ERR" "denied netlink message protocol 0 type 20" "the refusal's report"
}

# The old socket ioctls do what netlink does (ifconfig, route).
test_socket_config_ioctls() {
	net_policy
	gap_on landlock "does not cover: " "Landlock cannot judge socket ioctls: root in the fence sets addresses, routes and flags (closed by issue 10's capability drop)"
	fence_ns $PY -S "$NET" ioctl-getflags ioctl-setflags ioctl-setaddr ioctl-addrt
	gap_check
	expect_line ioctl-getflags ESCAPED
	expect_line ioctl-setflags HELD
	expect_line ioctl-setaddr HELD
	expect_line ioctl-addrt HELD
	assert_not_contains "$(in_ns ip -4 addr show dev lo)" "10.77.0.2" "lo's addresses"
	assert_not_contains "$(in_ns ip -4 route show)" "10.79.0.0" "routes"
	assert_contains "$ERR" "denied network configuration ioctl 0x8914" "the refusal's report"
}

# ---- module autoload (request_module) ----

# A tracefs instance of the test's own with module:module_request on:
# the tracepoint fires after the LSM hook allowed the request, right
# before the kernel runs modprobe.
# Without one (a kernel without modules), KTRACE stays empty and
# KSKIP says why.
kmod_trace() {
	local tr=/sys/kernel/tracing
	KTRACE=
	[ -d $tr/events ] || mount -t tracefs tracefs $tr 2>/dev/null
	[ -d $tr/events ] || tr=/sys/kernel/debug/tracing
	KSKIP="this kernel has no module support: nothing to autoload"
	[ -e /proc/modules ] || return 0
	KSKIP="no module:module_request tracepoint"
	[ -e $tr/events/module/module_request ] || return 0
	KSKIP="cannot create a tracefs instance"
	mkdir "$tr/instances/afesc$$" || return 0
	KTRACE=$tr/instances/afesc$$
	trap 'rmdir "$KTRACE" 2>/dev/null; ip netns del "$ESC_NS" 2>/dev/null' EXIT
	echo 1 >"$KTRACE/events/module/module_request/enable"
}

kmod_requests() {	# the module names requested since kmod_trace
	grep -o 'module_request: [^ ]*' "$KTRACE/trace" | awk '{ print $2 }' | tr '\n' ' '
}

SOCK_PY='import socket, sys
for a in sys.argv[1:]:
    f, t, p = map(int, a.split(","))
    try:
        socket.socket(f, t, p).close(); print(a, "ESCAPED")
    except OSError as e:
        print(a, "HELD", e.errno)'

# A family the fence refuses never reaches its module: seccomp on
# Landlock, lsm/socket_create on the BPF backends, both before
# request_module. Families whose modules Debian kernels build as
# modules: appletalk (5), x25 (9), phonet (35), ieee802154 (36).
test_module_autoload_family() {
	net_policy
	kmod_trace
	fence_ns $PY -S -c "$SOCK_PY" 5,2,0 9,5,0 35,2,0 36,2,0
	assert_not_contains "$OUT" "ESCAPED" "sockets of families the fence refuses"
	assert_contains "$ERR" "denied socket" "the refusal's report"
	[ -n "$KTRACE" ] || skip "$KSKIP (the refusals held and were reported)"
	assert_eq "" "$(kmod_requests)" "modules the kernel was asked for"
}

# socketpair(2) makes its sockets through the same path: refused for
# the same families (outside a fence: EOPNOTSUPP, no family pairs).
test_socketpair_families() {
	net_policy
	fence_ns $PY -S -c 'import socket
for f in (17, 40, 16):
    try:
        socket.socketpair(f, socket.SOCK_DGRAM); print(f, "ESCAPED")
    except OSError as e:
        print(f, "HELD" if e.errno == 1 else "errno %d" % e.errno)'
	assert_contains "$OUT" "17 HELD" "socketpair of packet"
	assert_contains "$OUT" "40 HELD" "socketpair of vsock"
	assert_contains "$OUT" "16 errno" "socketpair of netlink route (allowed: the kernel says no)"
}

# A protocol of an allowed family (inet: SCTP, DCCP, L2TP) would load
# its module after socket_create allowed the socket: the BPF backends
# refuse the request itself (lsm/kernel_module_request), the Landlock
# backend's seccomp filter the socket (inet protocols but IP, ICMP, TCP,
# UDP, ICMPv6, UDP-Lite, raw, MPTCP). TCP and UDP stay allowed.
test_module_autoload_protocol() {
	net_policy
	kmod_trace
	fence_ns $PY -S -c "$SOCK_PY" 2,1,132 2,6,33 2,2,115 10,1,132 2,1,6 10,2,17
	assert_contains "$OUT" "2,1,132 HELD" "SCTP"
	assert_contains "$OUT" "2,6,33 HELD" "DCCP"
	assert_contains "$OUT" "2,2,115 HELD" "L2TP"
	assert_contains "$OUT" "10,1,132 HELD" "SCTP over inet6"
	assert_contains "$OUT" "2,1,6 ESCAPED" "TCP"
	assert_contains "$OUT" "10,2,17 ESCAPED" "UDP over inet6"
	if [ "$ESC_BACKEND" = landlock ]; then
		assert_contains "$ERR" "denied socket(0x2, 0x80001, 0x84): seccomp" "the refusal's report"
	else
		assert_contains "$ERR" "denied module autoload net-pf-2-proto-132" "the refusal's report"
	fi
	[ -n "$KTRACE" ] || skip "$KSKIP (the refusals held and were reported)"
	assert_eq "" "$(kmod_requests)" "modules the kernel was asked for"
}

# The control: outside a fence the same socket makes the kernel ask for
# the module (so the tests above can fail). Runs last: the module may
# then be loaded.
test_z_module_autoload_unfenced() {
	net_policy
	kmod_trace
	[ -n "$KTRACE" ] || skip "$KSKIP"
	in_ns $PY -S -c "$SOCK_PY" 2,1,132 >/dev/null
	assert_contains "$(kmod_requests)" "net-pf-2-proto-132" "the request outside a fence"
}

# The same writes outside the fence work: the routes above test it.
test_netlink_writes_work_unfenced() {
	net_policy
	OUT=$(in_ns $PY -S "$NET" rtnl-addr family:packet ioctl-setaddr ioctl-addrt)
	expect_line rtnl-addr ESCAPED
	expect_line family:packet ESCAPED
	expect_line ioctl-setaddr ESCAPED
	expect_line ioctl-addrt ESCAPED
}

for BACKEND in $(esc_backends); do
	export BACKEND AF_TEST_TAG=$(esc_tag)
	af_main "$@"
done
