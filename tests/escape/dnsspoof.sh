# SPDX-License-Identifier: GPL-2.0
# The DNS stub is not spoofable (issue 10, principle 9): it asks upstream
# with ids and source ports of its own (getrandom), takes an answer only
# from the resolver it asked, with that id and question, and no fenced
# process can send to its upstream sockets. A forged answer must never
# teach the allowlist. Two network namespaces of the test's own: the
# fence in "cli", a slow resolver in "srv". cgroup programs and the
# stub: every backend.
source "$(dirname "$0")/escape.inc"

SPOOF=$TOP/tests/helpers/dnsspoof.py

dns_setup() {
	N=$(( BASHPID % 200 + 20 ))
	CLI=afdc$BASHPID
	SRV=afds$BASHPID
	R4=10.201.$N.2
	GOOD=10.201.$N.50
	FORGED=10.201.$N.66
	ip netns add "$CLI" && ip netns add "$SRV" || skip "cannot create network namespaces"
	trap 'kill $RES 2>/dev/null; ip netns del $CLI 2>/dev/null; ip netns del $SRV 2>/dev/null' EXIT
	modprobe -q veth 2>/dev/null || insmod /lib/modules/"$(uname -r)"/kernel/drivers/net/veth.ko* 2>/dev/null
	ip link add afq$N netns "$CLI" type veth peer name afr$N netns "$SRV" || fail "cannot create veth"
	ip -n "$CLI" link set lo up
	ip -n "$SRV" link set lo up
	ip -n "$CLI" addr add 10.201.$N.1/24 dev afq$N
	ip -n "$SRV" addr add "$R4"/24 dev afr$N
	ip -n "$CLI" link set afq$N up
	ip -n "$SRV" link set afr$N up
	DNSSPOOF_GOOD=$GOOD nsenter --net=/run/netns/"$SRV" $PY -S "$SPOOF" resolver "$R4" "$T/queries" &
	RES=$!
	local i
	for i in $(seq 50); do
		[ -n "$(nsenter --net=/run/netns/"$SRV" ss -Hlun "sport = :53")" ] && break
		sleep 0.1
	done
	esc_policy '  filesystem:' \
		'    writable: ["${WORKSPACE}", /dev/null]' \
		'  network:' \
		'    allow: [{host: api.test, ports: [8080]}]' \
		'    allow_loopback: true' \
		"    dns: {servers: [$R4]}"
	ESC_NS=$CLI
	ESC_RUN_BACKEND=${BACKEND:-host}
	[ "$ESC_RUN_BACKEND" = host ] && ESC_RUN_BACKEND=
}

test_forged_answer_race() {
	dns_setup
	fence_ns $PY -S "$SPOOF" attack "$R4" api.test "$FORGED"
	expect_line UPSTREAM 1
	expect_line plain HELD
	expect_line freebind HELD
	# The asker heard the resolver, with its own id back.
	expect_line ANSWER "$GOOD id 4660"
	assert_not_contains "$OUT$ERR" "$FORGED" "a forged address, anywhere in run's report"
	assert_contains "$ERR" "denied send to the DNS stub's upstream socket" "the refusal's report"
	# What the stub learned is in the journal: the resolver's answer only.
	local journal
	journal=$(sed -n 's/^agentfence: journal \([^:]*\): .*/\1/p' <<<"$ERR")
	[ -f "$journal" ] || fail "no journal named in: $ERR"
	local lookups
	lookups=$(grep '"type":"dns' "$journal")
	assert_contains "$lookups" "$GOOD" "the journal's record of the lookup"
	assert_not_contains "$lookups" "$FORGED" "the journal's record of the lookup"
}

# The ids and ports the resolver saw: the stub's own, not the asker's.
test_upstream_ids_and_ports_random() {
	dns_setup
	fence_ns $PY -S -c "
import socket, struct
def q(qid):
    return struct.pack('>HHHHHH', qid, 0x100, 1, 0, 0, 0) + b'\x03api\x04test\x00\x00\x01\x00\x01'
for i in range(3):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(q(0x1234), ('$R4', 53))
    print('ANSWER', struct.unpack('>H', s.recv(512)[:2])[0])
"
	assert_eq 3 "$(grep -c 'ANSWER 4660' <<<"$OUT")" "answers with the asker's id"
	assert_eq 3 "$(wc -l <queries)" "queries upstream"
	assert_not_contains "$(awk '{ print $1 }' queries)" "4660" "the asker's id upstream"
	assert_eq 3 "$(awk '{ print $1 }' queries | sort -u | wc -l)" "distinct upstream ids"
	assert_eq 3 "$(awk '{ print $2 }' queries | sort -u | wc -l)" "distinct upstream ports"
}

for BACKEND in $(esc_backends); do
	export BACKEND AF_TEST_TAG=$(esc_tag)
	af_main "$@"
done
