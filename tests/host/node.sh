# SPDX-License-Identifier: GPL-2.0
# The node: one BPF object per build, loaded once and adopted by every
# later fence; fences that outlive their supervisor, are adopted with
# their gap counted exactly, change policy atomically, keep their events
# apart. Driven through the node API (tests/helpers/fencectl) and run.
# Traffic stays on loopback. tests/vm/node.sh runs these on BPF-LSM.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/helpers/node.bash"

PY=/usr/bin/python3
CTL=$HELPERS/fencectl
BACKEND=${BACKEND:-auto}
IDS=()
PIDS=()

cleanup() {
	local p id
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for id in "${IDS[@]}"; do
		"$CTL" detach "$id" >/dev/null 2>&1
	done
	if [ -n "${CG:-}" ] && [ -d "$CG" ]; then
		echo 1 >"$CG/cgroup.kill" 2>/dev/null
		for _ in $(seq 50); do rmdir "$CG" 2>/dev/null && break; sleep 0.1; done
	fi
}

# A cgroup of the test's own (named like run's, <kind>-<pid>, so that
# af_fence_gc keeps it while this test lives).
make_cgroup() {
	CG=$(cgroup2_mount)/nodetest-$BASHPID${1:-}
	mkdir "$CG" || fail "mkdir $CG"
	trap cleanup EXIT
}

# in_cgroup CMD...: run CMD inside $CG.
in_cgroup() {
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$@"
}

# policy FILE PORT...: only TCP to 127.0.0.1 on these ports, events: deny.
policy() {
	local f=$1 ports
	shift
	ports=$(IFS=,; echo "$*")
	cat >"$f" <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: $(basename "$f" .yaml)}
	spec:
	  filesystem:
	    writable: ["$T"]
	  network:
	    allow:
	      - {cidr: 127.0.0.1/32, ports: [$ports], protocol: tcp}
	    unix: {allow: []}
	  events: [deny]
	YAML
}

# connect PORT: 0 when a TCP connect to 127.0.0.1:PORT works, 1 when refused by the fence.
CONNECT='
import socket, sys, errno
s = socket.socket()
try:
    s.connect(("127.0.0.1", int(sys.argv[1]))); sys.exit(0)
except OSError as e:
    sys.exit(1 if e.errno == errno.EPERM else 2)'

# denied N PORT: N refused connects to 127.0.0.1:PORT from $CG (events).
denied() {
	in_cgroup $PY -c '
import socket, sys
for i in range(int(sys.argv[1])):
    s = socket.socket()
    try: s.connect(("127.0.0.1", int(sys.argv[2])))
    except OSError: pass
    s.close()' "$1" "$2"
}

create() {	# POLICY [hold]: a fence of $CG; sets ID
	ID=$("$CTL" create "$CG" "$1" "$BACKEND" ${2:-} 2>"$T/create.err") ||
		fail "create: $(cat "$T/create.err")"
	IDS+=("$ID")
}

node_dir() {
	ls -d /sys/fs/bpf/agentfence-nodes/*-* 2>/dev/null | grep -v -- -tmp
}

test_two_fences_share_one_node() {
	make_cgroup
	ports
	policy p.yaml "$P1"
	create p.yaml
	local a=$ID cg1=$CG
	local links1 progs1
	"$CTL" nodes >nodes1 || fail "nodes"
	CG=$(cgroup2_mount)/nodetestb-$BASHPID
	mkdir "$CG" || fail "mkdir $CG"
	create p.yaml
	local b=$ID
	"$CTL" nodes >nodes2 || fail "nodes"
	# The same programs and global links with one fence and with two.
	# The node fence A uses (a guest that ran both BPF backends has a
	# node for each; other fences of this build may be on it too).
	local node prog la lb f1 f2
	node=$(readlink /sys/fs/bpf/agentfence/"$a"/node)
	[ -n "$node" ] || fail "fence A names no node"
	assert_eq "$node" "$(readlink /sys/fs/bpf/agentfence/"$b"/node)" "the node of fence B"
	f1=$(sed -n "s/^$node .* fences=\([0-9]*\) .*/\1/p" nodes1)
	f2=$(sed -n "s/^$node .* fences=\([0-9]*\) .*/\1/p" nodes2)
	assert_eq "$((f1 + 1))" "$f2" "fences on $node after B ($(cat nodes1) / $(cat nodes2))"
	links1=$(sed -n "s/^$node .* progs=\([0-9]*\) links=\([0-9]*\)/\1 \2/p" nodes1)
	progs1=$(sed -n "s/^$node .* progs=\([0-9]*\) links=\([0-9]*\)/\1 \2/p" nodes2)
	[ -n "$links1" ] || fail "node $node not listed: $(cat nodes1)"
	assert_eq "$links1" "$progs1" "programs and links of the node, one fence vs two"
	# Both fences' links run the node's one program.
	prog=$(ls /sys/fs/bpf/agentfence-nodes/"$node"/progs/af_connect4@*)
	pid=$(bpftool -j prog show pinned "$prog" | $PY -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	la=$(bpftool -j link show pinned /sys/fs/bpf/agentfence/"$a"/af_connect4 | $PY -c 'import json,sys; print(json.load(sys.stdin)["prog_id"])')
	lb=$(bpftool -j link show pinned /sys/fs/bpf/agentfence/"$b"/af_connect4 | $PY -c 'import json,sys; print(json.load(sys.stdin)["prog_id"])')
	assert_eq "$pid" "$la" "fence A's connect4 link runs the node's program"
	assert_eq "$pid" "$lb" "fence B's connect4 link runs the node's program"
	# No program is loaded for a fence: the machine's count stays.
	local before after
	before=$(bpftool prog show | grep -c 'name af_connect4')
	"$CTL" remove "$b" || fail "remove B"
	after=$(bpftool prog show | grep -c 'name af_connect4')
	assert_eq "$before" "$after" "af_connect4 programs on the machine after removing a fence"
	assert_missing /sys/fs/bpf/agentfence/"$b" "B's pins"
	rmdir "$CG"
	CG=$cg1
}

test_run_adopts_the_node() {
	# Two runs one after the other load nothing the second time: the
	# node's programs keep their ids.
	local node id1 id2
	"$AF" run -- /bin/true 2>err1 || fail "run: $(cat err1)"
	node=$(node_dir | head -1)
	[ -n "$node" ] || fail "no node pinned after run"
	id1=$(bpftool -j link show pinned "$node"/links/af_proc_exec | $PY -c 'import json,sys; print(json.load(sys.stdin)["prog_id"])')
	"$AF" run -- /bin/true 2>err2 || fail "run: $(cat err2)"
	id2=$(bpftool -j link show pinned "$node"/links/af_proc_exec | $PY -c 'import json,sys; print(json.load(sys.stdin)["prog_id"])')
	assert_eq "$id1" "$id2" "the node's exec program after a second run"
	assert_no_leftovers
}

test_fence_survives_sigkill() {
	make_cgroup
	ports
	serve "$P1"
	serve "$P2"
	policy p.yaml "$P1"
	hold_fence ctl p.yaml
	in_cgroup $PY -c "$CONNECT" "$P2" && fail "connect to a port not allowed worked"
	orphan_fence
	# Still listed, orphaned, still enforcing.
	"$CTL" list >list || fail "list"
	assert_contains "$(cat list)" "$ID node=" "listed after SIGKILL"
	assert_contains "$(grep "^$ID " list)" "sup_alive=0" "orphaned"
	local rc=0
	in_cgroup $PY -c "$CONNECT" "$P2" || rc=$?
	assert_eq 1 "$rc" "connect to a port not allowed after the supervisor's SIGKILL (1: EPERM)"
	rc=0
	in_cgroup $PY -c "$CONNECT" "$P1" || rc=$?
	assert_eq 0 "$rc" "connect to the allowed port after SIGKILL"
	[ -e /sys/fs/bpf/agentfence/"$ID"/af_connect4 ] || fail "the fence's link is not pinned"
}

test_adopt_counts_drops_exactly() {
	make_cgroup
	ports
	policy p.yaml "$P1"
	local n=300
	AF_RINGBUF_BYTES=4096 hold_fence ctl p.yaml
	orphan_fence
	# Nobody reads: n denied connects, more than 4 KiB of events.
	denied "$n" "$P2"
	"$CTL" adopt "$ID" >adopt.out 2>adopt.err || fail "adopt: $(cat adopt.err)"
	local ev lost
	read -r _ ev _ lost _ _ _ _ <adopt.out
	[ "$lost" -gt 0 ] || fail "nothing lost with a 4 KiB buffer: $(cat adopt.out)"
	[ "$ev" -gt 0 ] || fail "nothing kept: $(cat adopt.out)"
	assert_eq "$n" "$((ev + lost))" "events kept + lost while nobody read ($(cat adopt.out))"
	# The gap was acknowledged: a second reader has none.
	"$CTL" adopt "$ID" >adopt2.out 2>&1 || fail "adopt again: $(cat adopt2.out)"
	assert_contains "$(cat adopt2.out)" "events 0 lost 0" "second adoption"
}

test_update_atomic_under_connect_loop() {
	make_cgroup
	ports
	serve "$P1"; serve "$P2"; serve "$P3"; serve "$P4"
	# P1 allowed by both, P4 by neither; P2 and P3 change sides.
	policy a.yaml "$P1" "$P2"
	policy b.yaml "$P1" "$P3"
	create a.yaml
	in_cgroup $PY -c '
import socket, sys, time, os
p1, p2, p3, p4 = map(int, sys.argv[1:5])
ok = {p: 0 for p in (p1, p2, p3, p4)}; n = 0
open("looping", "w").close()
end = time.time() + 600  # the test says stop; this bounds it
while not os.path.exists("stop") and time.time() < end:
    for p in (p1, p4):
        s = socket.socket()
        try: s.connect(("127.0.0.1", p)); ok[p] += 1
        except OSError: pass
        s.close()
    n += 1
print(n, ok[p1], ok[p4])' "$P1" "$P2" "$P3" "$P4" >loop.out &
	local loop=$! i rc
	PIDS+=($loop)
	for _ in $(seq 50); do [ -e looping ] && break; sleep 0.1; done
	for i in $(seq 10); do
		"$CTL" update "$ID" b.yaml "$BACKEND" 2>up.err || fail "update to b: $(cat up.err)"
		rc=0; in_cgroup $PY -c "$CONNECT" "$P3" || rc=$?
		assert_eq 0 "$rc" "P3 after update to b"
		rc=0; in_cgroup $PY -c "$CONNECT" "$P2" || rc=$?
		assert_eq 1 "$rc" "P2 after update to b"
		"$CTL" update "$ID" a.yaml "$BACKEND" 2>up.err || fail "update to a: $(cat up.err)"
		rc=0; in_cgroup $PY -c "$CONNECT" "$P2" || rc=$?
		assert_eq 0 "$rc" "P2 after update to a"
	done
	touch stop
	wait "$loop"
	local n ok1 ok4
	read -r n ok1 ok4 <loop.out
	[ "$n" -gt 50 ] || fail "the loop ran only $n rounds"
	assert_eq "$n" "$ok1" "connects to the port both policies allow, of $n rounds"
	assert_eq 0 "$ok4" "connects to the port neither policy allows"
	"$CTL" list | grep "^$ID " | grep -q "gen=20" || fail "generation: $("$CTL" list)"
}

test_flood_of_one_fence_spares_another() {
	make_cgroup
	ports
	policy p.yaml "$P1"
	AF_RINGBUF_BYTES=4096 hold_fence a p.yaml
	local a=$HOLD
	local cga=$CG
	CG=$(cgroup2_mount)/nodetestb-$BASHPID
	mkdir "$CG" || fail "mkdir"
	hold_fence b p.yaml
	local b=$HOLD
	# A's reader is stopped: its buffer fills and stays full.
	kill -STOP "$a"
	local cgb=$CG
	CG=$cga
	in_cgroup $PY -c '
import socket, sys
for i in range(2000):
    s = socket.socket()
    try: s.connect(("127.0.0.1", int(sys.argv[1])))
    except OSError: pass
    s.close()' "$P2"
	CG=$cgb
	in_cgroup $PY -c '
import socket, sys
for i in range(200):
    s = socket.socket()
    try: s.connect(("127.0.0.1", int(sys.argv[1])))
    except OSError: pass
    s.close()' "$P2"
	sleep 0.5
	kill -CONT "$a"
	kill -TERM "$a" "$b"
	wait "$a" "$b"
	assert_contains "$(tail -1 b.out)" "events 200 lost 0" "fence B"
	case $(tail -1 a.out) in
	"events "*" lost 0") fail "fence A did not overflow: $(tail -1 a.out)" ;;
	esac
	rmdir "$cgb" 2>/dev/null
	CG=$cga
}

test_detach_leaves_the_cgroup() {
	make_cgroup
	ports
	serve "$P2"
	policy p.yaml "$P1"
	create p.yaml
	local rc=0
	in_cgroup $PY -c "$CONNECT" "$P2" || rc=$?
	assert_eq 1 "$rc" "fenced"
	"$CTL" detach "$ID" || fail "detach"
	assert_missing /sys/fs/bpf/agentfence/"$ID" "pins after detach"
	assert_missing /run/agentfence/fences/"$ID" "metadata after detach"
	[ -d "$CG" ] || fail "the cgroup went with the fence"
	rc=0
	in_cgroup $PY -c "$CONNECT" "$P2" || rc=$?
	assert_eq 0 "$rc" "connect after detach"
	"$CTL" list | grep -q "^$ID " && fail "still listed: $("$CTL" list)"
	true
}

test_refence_after_half_removal_starts_clean() {
	make_cgroup
	ports
	serve "$P1"
	serve "$P2"
	policy a.yaml "$P1"
	policy b.yaml "$P2"
	create a.yaml
	local rc
	# A removal that died after the pins went: a's entries stay in the node.
	rm -r /sys/fs/bpf/agentfence/"$ID" /run/agentfence/fences/"$ID"
	create b.yaml
	rc=0; in_cgroup $PY -c "$CONNECT" "$P2" || rc=$?
	assert_eq 0 "$rc" "the new policy's port"
	rc=0; in_cgroup $PY -c "$CONNECT" "$P1" || rc=$?
	assert_eq 1 "$rc" "the old policy's port, left in the node by the first fence"
}

test_list_has_metadata() {
	make_cgroup
	ports
	policy p.yaml "$P1"
	create p.yaml
	local line
	line=$("$CTL" list | grep "^$ID ")
	assert_contains "$line" "cgroup=$CG " "cgroup path"
	assert_contains "$line" "policy=p " "policy name"
	assert_contains "$line" "this_build=1" "this build's node"
	assert_contains "$line" "sha=$(sha256sum p.yaml | cut -c1-12)" "policy hash"
}

# tests/vm/node.sh sources this file and runs it once per BPF backend.
# A fence's ring buffer is a slot of the node's pool, given back when
# the fence goes and taken by a later one: what the last fence left in
# it never reaches the new fence's reader. Twice: as made (the taker
# skips what the buffer holds), and with that step left out
# (AF_POOL_KEEP_STALE), where the reader must drop the old fence's
# events by their header. The size is the policy's (spec.event_buffer),
# one no other test asks for, so that the slots of that size are this
# test's and the reuse is certain.
test_pool_slot_reuse_delivers_nothing_stale() {
	make_cgroup
	ports
	policy p.yaml "$P1"
	sed -i 's/^spec:$/spec:\n  event_buffer: 32KiB/' p.yaml
	local keep a b slot_a info out cg1=$CG
	for keep in "" 1; do
		CG=$cg1
		create p.yaml
		a=$ID
		info=$("$CTL" slot "$a") || fail "slot of A"
		assert_contains "$info" "bytes 32768 " "A's ring buffer has the policy's size"
		slot_a=$(echo "$info" | cut -d' ' -f2)
		denied 40 "$P2"
		info=$("$CTL" slot "$a")
		[ "$(echo "$info" | cut -d' ' -f6)" -gt 0 ] ||
			fail "A's events are not waiting in its buffer: $info (the test proves nothing)"
		"$CTL" remove "$a" || fail "remove A"
		CG=$(cgroup2_mount)/nodetestr-$BASHPID$keep
		mkdir "$CG" || fail "mkdir $CG"
		ID=$(AF_POOL_KEEP_STALE=$keep "$CTL" create "$CG" p.yaml "$BACKEND" 2>create.err) ||
			fail "create B: $(cat create.err)"
		b=$ID
		IDS+=("$b")
		info=$("$CTL" slot "$b") || fail "slot of B"
		assert_eq "$slot_a" "$(echo "$info" | cut -d' ' -f2)" "B's slot (A's, given back: $info)"
		denied 3 "$P2"
		out=$("$CTL" adopt "$b" remove) || fail "adopt B"
		assert_contains "$out" "events 3 lost 0 " "B reads its own 3 events only"
		assert_contains "$out" "foreign 0 " "no event of another fence delivered to B"
		if [ -n "$keep" ]; then
			assert_contains "$out" "stale 40" "A's 40 events dropped by B's reader"
		else
			assert_contains "$out" "stale 0" "nothing of A's left for B's reader to drop"
		fi
		rmdir "$CG"
	done
	CG=$cg1
}

[ -n "${AF_NODE_VM:-}" ] && return 0

af_main "$@"
