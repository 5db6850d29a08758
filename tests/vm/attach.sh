# SPDX-License-Identifier: GPL-2.0
# agentfence attach on BPF LSM, the filesystem side (tests/host/attach.sh
# has the runtimes and the network): processes that ran before the fence
# existed, and descriptors and mappings they made then, are judged.
# Containers are heavy under TCG, so the "container" is the test's own:
# a process in a cgroup of the test's, in a mount namespace of its own
# where an overlay (lower and upper on tmpfs) is mounted at $T/root with
# a volume ($T/vol, bind-mounted at $T/root/vol) inside it. Neither mount
# exists in the test's namespace: attach --pid must read the workspace
# in the target's (/proc/PID/root). The workspace is the volume in one
# test and a path in the overlay in the other.
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3
PIDS=()
CGS=()

cleanup() {
	local p cg
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 100); do af_running "$p" || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null
	done
	for cg in "${CGS[@]}"; do
		echo 1 >"$cg/cgroup.kill" 2>/dev/null
		for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
	done
	wait 2>/dev/null
}

attach_policy() {	# $T/p.yaml: only the workspace writable
	cat >"$T/p.yaml" <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: attach-vm}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}"]
	YAML
}

cgroup2_mount() {
	awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo
}

# The target: opens what it will write before any fence, says "ready",
# waits for $T/vol/go, then tries each write and prints its result.
cat_target() {
	cat >"$T/target.py" <<-'PY'
	import ctypes, mmap, os, sys, time
	R = sys.argv[1]
	libc = ctypes.CDLL(None, use_errno=True)
	libc.mmap.restype = ctypes.c_void_p
	libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
	libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
	out = os.open(R + "/etc/data", os.O_RDWR)		# outside the workspace
	ws = os.open(R + sys.argv[2] + "/pre", os.O_RDWR | os.O_CREAT)
	os.write(ws, b"before\n")
	ro = libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_SHARED, out, 0)	# read-only for now
	print("ready", flush=True)
	while not os.path.exists(R + "/vol/go"):
	    time.sleep(0.05)
	def t(name, f):
	    try:
	        r = f()
	        print(name, "ok" if r is None or r is not False else "refused", flush=True)
	    except OSError as e:
	        print(name, e.strerror, flush=True)
	def mprotect(addr):
	    if libc.mprotect(addr, 4096, mmap.PROT_READ | mmap.PROT_WRITE):
	        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
	t("fd_out", lambda: os.write(out, b"pwned"))
	t("fd_ws", lambda: os.write(ws, b"after\n"))
	t("new_out", lambda: open(R + "/etc/new", "w").write("x"))
	t("new_ws", lambda: open(R + sys.argv[2] + "/new", "w").write("x"))
	t("mmap_out", lambda: mmap.mmap(out, 5, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE).close())
	t("mmap_ws", lambda: mmap.mmap(ws, 5, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE).close())
	t("mprotect_out", lambda: mprotect(ro))
	print("done", flush=True)
	time.sleep(600)
	PY
}

# start_target WS: the target in cgroup $CG, its output in $T/res.
start_target() {
	trap cleanup EXIT
	mkdir -p "$T/lower/etc" "$T/lower/work" "$T/lower/vol" "$T/upper" "$T/wk" "$T/root" "$T/vol"
	echo orig >"$T/lower/etc/data"
	cat_target
	# Its python, not the shell that started it (exec: the same pid).
	in_cgroup attach unshare -m --propagation private sh -c "
		mount -t overlay overlay -o lowerdir=$T/lower,upperdir=$T/upper,workdir=$T/wk $T/root &&
		mount --bind $T/vol $T/root/vol && exec $PY $T/target.py $T/root $1"
	attach_policy
}

# in_cgroup NAME CMD...: CMD, exec'd, in a new cgroup $CG
# (aftest-NAME-<pid>), its output in $T/res; returns once it printed
# "ready", TARGET its pid. The output goes through a fifo: a regular file
# opened before the fence is a descriptor the fence judges (and refuses,
# outside the workspace).
in_cgroup() {
	local name=$1
	shift
	CG=$(cgroup2_mount)/aftest-$name-$BASHPID
	mkdir "$CG" || fail "cannot make cgroup $CG"
	CGS+=("$CG")
	mkfifo "$T/fifo"
	cat "$T/fifo" >"$T/res" &
	PIDS+=($!)
	(
		echo "$BASHPID" >"$CG/cgroup.procs"
		exec "$@"
	) >"$T/fifo" 2>&1 &
	TARGET=$!
	PIDS+=("$TARGET")
	for _ in $(seq 300); do
		grep -q ready "$T/res" && break
		af_running "$TARGET" || fail "the target died: $(cat "$T/res")"
		sleep 0.1
	done
	grep -q ready "$T/res" || fail "the target is not ready: $(cat "$T/res")"
}

# attach_fg WS: attach --pid $TARGET in the foreground (no daemon), in
# the background here, its output in $T/attach.out; returns once it
# supervises.
attach_fg() {
	AGENTFENCE_CONTROL= "$AF" attach --pid "$TARGET" --backend "$BACKEND" --policy "$T/p.yaml" \
		--workspace "$1" --journal "$T/j.jsonl" >"$T/attach.out" 2>&1 &
	APID=$!
	PIDS+=("$APID")
	for _ in $(seq 300); do
		grep -q "supervising here" "$T/attach.out" && break
		af_running "$APID" || fail "attach exited: $(cat "$T/attach.out")"
		sleep 0.1
	done
	grep -q "supervising here" "$T/attach.out" || fail "attach does not supervise: $(cat "$T/attach.out")"
}

attach_and_go() {	# WS
	attach_fg "$T/root$1"
	assert_not_contains "$(cat "$T/attach.out")" "NOT fenced" "a BPF LSM backend fences files"
	touch "$T/vol/go"
	for _ in $(seq 150); do
		grep -q done "$T/res" && break
		sleep 0.1
	done
	grep -q done "$T/res" || fail "the target did not finish: $(cat "$T/res")"
	RES=$(cat "$T/res")
}

check_results() {
	assert_contains "$RES" "fd_out Operation not permitted" "a descriptor opened before, written after"
	assert_contains "$RES" "fd_ws ok" "a descriptor of the workspace opened before"
	assert_contains "$RES" "new_out Operation not permitted" "a write by a process that ran before"
	assert_contains "$RES" "new_ws ok" "a new file in the workspace"
	assert_contains "$RES" "mmap_out Operation not permitted" "a shared writable mapping outside"
	assert_contains "$RES" "mmap_ws ok" "a shared writable mapping in the workspace"
	assert_contains "$RES" "mprotect_out Operation not permitted" "a shared mapping made writable"
	assert_eq orig "$(cat "$T/upper/etc/data" 2>/dev/null || cat "$T/lower/etc/data")" "the file outside"
	local out
	out=$(cat "$T/attach.out")
	assert_contains "$out" "denied write (descriptor opened before the fence)" "the report"
	assert_contains "$out" "denied shared writable mapping of" "the report of the mapping"
	assert_contains "$out" "etc/data" "the path named"
	[ "$BACKEND" = lsm_cgroup ] &&
		assert_contains "$out" "open for writing, outside the writable paths: writes through descriptors are judged at every write" \
			"the scan found the descriptor outside"
	return 0
}

test_workspace_a_volume() {
	start_target /vol
	attach_and_go /vol
	check_results
	[ -s "$T/vol/new" ] || fail "the write into the volume did not land in $T/vol"
}

test_workspace_a_path_in_the_overlay() {
	start_target /work
	attach_and_go /work
	check_results
	[ -e "$T/upper/work/new" ] || fail "the write into the overlay did not land in its upper layer"
}

# A container's processes see their own root: the fence's records name
# paths as they see them (/etc/x), never the host's ($T/croot/etc/x).
test_paths_as_the_target_sees_them() {
	trap cleanup EXIT
	local R=$T/croot d
	mkdir -p "$R/usr" "$R/etc" "$R/work" "$R/proc" "$R/dev"
	for d in bin lib lib64 sbin; do ln -s "usr/$d" "$R/$d"; done
	attach_policy
	CG=$(cgroup2_mount)/aftest-paths-$BASHPID
	mkdir "$CG" || fail "cannot make cgroup $CG"
	CGS+=("$CG")
	(
		echo "$BASHPID" >"$CG/cgroup.procs"
		# fd 3: a file outside its root, opened before the chroot.
		exec unshare -m --propagation private sh -c "
			exec 3>$T/outside &&
			mount --bind /usr $R/usr && exec chroot $R /bin/sh -c '
				while [ ! -e /work/go ]; do sleep 0.1; done
				echo x >/etc/af-out; echo y >/work/af-in; echo z >&3
				echo done >/work/res; exec sleep 600'"
	) >/dev/null 2>&1 &
	TPID=$!
	PIDS+=("$TPID")
	sleep 0.5
	af_running "$TPID" || fail "the target died"
	TARGET=$TPID
	attach_fg /work
	assert_contains "$(cat "$T/attach.out")" "workspace /work," "the workspace as it sees it"
	touch "$R/work/go"
	for _ in $(seq 150); do [ -e "$R/work/res" ] && break; sleep 0.1; done
	[ -e "$R/work/res" ] || fail "the target did not finish"
	[ -e "$R/etc/af-out" ] && fail "the write outside the workspace landed"
	sleep 0.5
	local out
	out=$(grep -E '"type":"file"' "$T/j.jsonl")
	assert_contains "$out" '"path":"/work/af-in"' "a file record's path as the target sees it"
	assert_not_contains "$out" "$R" "no path of the host's in file records"
	[ -s "$T/outside" ] && fail "the write through the descriptor from outside its root landed"
	# The denials too: walked to the task's root (bpf/fs.bpf.h deny_path).
	out=$(grep '"type":"deny"' "$T/j.jsonl")
	assert_contains "$out" '"effect":"denied create /etc/af-out"' "a denial's path as the target sees it"
	assert_not_contains "$out" "$R" "no path of the host's in denials"
	# An object outside its root has no path it could see: marked, as
	# the kernel's getcwd marks it, never a path that looks like its own.
	assert_contains "$out" "denied write (descriptor opened before the fence) (unreachable)$T/outside" \
		"a descriptor from outside its root"
}

# What a fence's processes hold is scanned when it is made: with no
# writable descriptor outside the workspace among them, the lsm_cgroup
# fence links no file_permission (its kernel shim costs every read and
# write), and a writable descriptor of a file outside passed in later,
# or sent before and received after, is refused at receipt.
cat_receiver() {
	cat >"$T/recv.py" <<-'PY'
	import ctypes, os, socket, sys, time
	R, WS, mode = sys.argv[1], sys.argv[2], sys.argv[3]
	libc = ctypes.CDLL(None, use_errno=True)
	ws = os.open(R + WS + "/pre", os.O_RDWR | os.O_CREAT)
	if mode == "uring":
	    params = ctypes.create_string_buffer(120)
	    if libc.syscall(425, 4, params) < 0:	# io_uring_setup
	        print("uring", os.strerror(ctypes.get_errno()), flush=True)
	s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	s.bind("\0" + sys.argv[4])
	print("ready", flush=True)
	while not os.path.exists(R + WS + "/go"):
	    time.sleep(0.05)
	def t(name, f):
	    try:
	        f()
	        print(name, "ok", flush=True)
	    except OSError as e:
	        print(name, e.strerror, flush=True)
	t("fd_ws", lambda: os.write(ws, b"after\n"))
	t("new_out", lambda: open(R + "/etc/new", "w").write("x"))
	for _ in range(4):
	    msg, fds, flags, _a = socket.recv_fds(s, 64, 1)
	    name = msg.decode()
	    if not fds:
	        print(name, "refused" if flags & socket.MSG_CTRUNC else "no descriptor", flush=True)
	        continue
	    t(name, lambda: os.read(fds[0], 1) if name.startswith("ro") else os.write(fds[0], b"pwned"))
	print("done", flush=True)
	time.sleep(600)
	PY
}

send_fd() {	# NAME PATH FLAGS: from outside the fence
	$PY -c '
import os, socket, sys
fd = os.open(sys.argv[3], getattr(os, sys.argv[4]))
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect("\0" + sys.argv[1])
socket.send_fds(s, [sys.argv[2].encode()], [fd])' "$SOCKNAME" "$@"
}

start_receiver() {	# MODE
	trap cleanup EXIT
	mkdir -p "$T/etc" "$T/ws"
	echo orig >"$T/etc/data"
	cat_receiver
	attach_policy
	SOCKNAME=aftest-recv-$BASHPID
	in_cgroup recv $PY "$T/recv.py" "$T" /ws "$1" "$SOCKNAME"
	assert_not_contains "$(cat "$T/res")" "uring" "io_uring_setup"
	# Sent before the fence, received after: judged at receipt.
	send_fd early_rw_out "$T/etc/data" O_RDWR
	if [ -n "${CONTROL:-}" ]; then	# through the daemon there
		AGENTFENCE_CONTROL=$CONTROL "$AF" attach --pid "$TARGET" --backend "$BACKEND" \
			--policy "$T/p.yaml" --workspace "$T/ws" --journal "$T/j.jsonl" >"$T/attach.out" 2>&1 ||
			fail "attach through the daemon: $(cat "$T/attach.out")"
	else
		attach_fg "$T/ws"
	fi
	FENCE=$(sed -n 's/.*agentfence attach: fence \([0-9]*\) .*/\1/p' "$T/attach.out")
	[ -n "$FENCE" ] || fail "no fence id in: $(cat "$T/attach.out")"
}

test_descriptors_scanned() {
	start_receiver plain
	local out
	out=$(cat "$T/attach.out")
	if [ "$BACKEND" = lsm_cgroup ]; then
		assert_contains "$out" "no process holds a writable descriptor outside the writable paths" \
			"the scan's word"
		[ -e "/sys/fs/bpf/agentfence/$FENCE/cg_file_perm" ] &&
			fail "file_permission linked although nothing it must judge is held"
		# The cgroup was thawed.
		grep -q 'frozen 0' "$CG/cgroup.events" || fail "the cgroup stays frozen: $(cat "$CG/cgroup.events")"
	fi
	send_fd rw_out "$T/etc/data" O_RDWR
	send_fd ro_out "$T/etc/data" O_RDONLY
	send_fd rw_ws "$T/ws/pre" O_RDWR
	touch "$T/ws/go"
	for _ in $(seq 150); do grep -q done "$T/res" && break; sleep 0.1; done
	grep -q done "$T/res" || fail "the target did not finish: $(cat "$T/res")"
	out=$(cat "$T/res")
	assert_contains "$out" "fd_ws ok" "a workspace descriptor opened before"
	assert_contains "$out" "new_out Operation not permitted" "an open outside"
	assert_contains "$out" "early_rw_out refused" "a writable descriptor outside, sent before, received after"
	assert_contains "$out" "rw_out refused" "a writable descriptor outside, passed in"
	assert_contains "$out" "ro_out ok" "a read-only descriptor passed in"
	assert_contains "$out" "rw_ws ok" "a writable descriptor of the workspace passed in"
	assert_eq orig "$(cat "$T/etc/data")" "the file outside"
	sleep 0.5
	assert_contains "$(cat "$T/attach.out")" "denied receipt of a writable descriptor of" "the report"
	assert_contains "$(grep '"type":"deny"' "$T/j.jsonl")" "receipt of a writable descriptor of $T/etc/data" \
		"the journal's denial"
}

# An io_uring instance writes through files registered with it, which
# are no descriptors: the fence keeps file_permission.
test_io_uring_keeps_file_permission() {
	[ "$BACKEND" = lsm_cgroup ] || skip "the lsm backend's file_permission is global: nothing is scanned"
	start_receiver uring
	assert_contains "$(cat "$T/attach.out")" "an io_uring instance" "the scan's word"
	[ -e "/sys/fs/bpf/agentfence/$FENCE/cg_file_perm" ] || fail "file_permission not linked beside an io_uring instance"
}

# update scans again under the new policy: a workspace descriptor the
# new one leaves outside its writable paths brings file_permission back,
# and the write through it is refused.
test_update_scans_again() {
	[ "$BACKEND" = lsm_cgroup ] || skip "the lsm backend's file_permission is global: nothing is scanned"
	trap cleanup EXIT
	CONTROL=$T/c.sock
	"$AF" daemon --foreground --control "$CONTROL" 2>"$T/daemon.log" &
	PIDS+=($!)
	for _ in $(seq 100); do
		"$AF" status --control "$CONTROL" >/dev/null 2>&1 && break
		sleep 0.1
	done
	start_receiver plain
	[ -e "/sys/fs/bpf/agentfence/$FENCE/cg_file_perm" ] &&
		fail "file_permission linked although nothing it must judge is held"
	mkdir -p "$T/other"
	cat >"$T/p2.yaml" <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: attach-vm-narrow}
	spec:
	  filesystem:
	    writable: ["$T/other"]
	YAML
	assert_exit 0 "$AF" update --control "$CONTROL" "$FENCE" --policy "$T/p2.yaml"
	[ -e "/sys/fs/bpf/agentfence/$FENCE/cg_file_perm" ] ||
		fail "file_permission not linked after an update left a held descriptor outside"
	grep -q 'frozen 0' "$CG/cgroup.events" || fail "the cgroup stays frozen: $(cat "$CG/cgroup.events")"
	for name in rw_out ro_out rw_ws; do send_fd $name "$T/etc/data" O_RDONLY; done
	touch "$T/ws/go"
	for _ in $(seq 150); do grep -q done "$T/res" && break; sleep 0.1; done
	grep -q done "$T/res" || fail "the target did not finish: $(cat "$T/res")"
	assert_contains "$(cat "$T/res")" "fd_ws Operation not permitted" \
		"a descriptor the new policy leaves outside"
	"$AF" detach --control "$CONTROL" "$FENCE" >/dev/null 2>&1
}

# An attacher that dies while the cgroup is frozen for its scan leaves
# its marker: the daemon that adopts the fence thaws the cgroup. (The
# death is staged: the marker and the freeze as fdw_settle makes them.)
test_frozen_by_a_dead_attacher_thawed_on_adopt() {
	[ "$BACKEND" = lsm_cgroup ] || skip "the lsm backend scans nothing: it never freezes"
	start_receiver plain
	kill -9 "$APID"
	wait "$APID" 2>/dev/null
	mkdir -p /run/agentfence/frozen
	touch "/run/agentfence/frozen/$FENCE"
	echo 1 >"$CG/cgroup.freeze"
	for _ in $(seq 50); do grep -q 'frozen 1' "$CG/cgroup.events" && break; sleep 0.1; done
	grep -q 'frozen 1' "$CG/cgroup.events" || fail "the staged freeze did not take"
	"$AF" daemon --foreground --control "$T/c.sock" 2>"$T/daemon.log" &
	PIDS+=($!)
	for _ in $(seq 100); do grep -q 'frozen 0' "$CG/cgroup.events" && break; sleep 0.1; done
	grep -q 'frozen 0' "$CG/cgroup.events" || fail "the adopter did not thaw: $(cat "$T/daemon.log")"
	[ -e "/run/agentfence/frozen/$FENCE" ] && fail "the marker stayed"
	assert_contains "$(cat "$T/daemon.log")" "frozen by an agentfence that died" "the daemon said so"
}

# ---- a pod fenced from its first instruction (userspace/k8s_held.c) ----
# No cluster runs under TCG (a kube-apiserver takes minutes to start
# there; tests/host/k8s.sh has the real one): the API is
# tests/helpers/kubeapi.py, serving the pod and the policy's ConfigMap
# from files; the kubelet's part is the test's (the kubepods cgroups, the
# pod's cgroup); the container is real runc, with a bundle where
# containerd's CRI puts it and its annotations. runc sets the container
# up in its cgroup and execs the pod's command last: the kernel stops
# that exec, the daemon attaches the pod (the process's root is the
# container's) and continues it. So the command's very first write is
# judged by the pod's policy. Without the hold it would run before the
# daemon even learned that the container runs (the API says so later).

# kube_up NAME: kubepods, the API server, the policy "agent" (only the
# workspace writable), the daemon, and the pod NAME (kube_pod; its uid
# UID_, its container's id CID).
kube_up() {
	[ "$BACKEND" = lsm_cgroup ] || skip "the daemon's pods take the auto backend: lsm_cgroup here"
	trap kube_down EXIT
	command -v runc >/dev/null || skip "no runc"
	KCG=$(cgroup2_mount)
	local d
	for d in kubepods kubepods/besteffort kubepods/burstable; do
		mkdir -p "$KCG/$d" || fail "cannot make cgroup $KCG/$d"
	done
	mkdir -p "$T/api/pods" "$T/api/configmaps" "$T/journals"
	attach_policy
	$PY -c '
import json, sys
json.dump({"apiVersion": "v1", "kind": "ConfigMap",
	   "metadata": {"name": "agent", "namespace": "agentfence", "labels": {"agentfence.io/policy": "true"}},
	   "data": {"policy.yaml": open(sys.argv[1]).read()}}, open(sys.argv[2], "w"))' "$T/p.yaml" "$T/api/configmaps/agent.json"
	$PY "$TOP/tests/helpers/kubeapi.py" "$T/api" "$T/api/port" 2>"$T/api.log" &
	KAPI=$!
	for _ in $(seq 100); do [ -s "$T/api/port" ] && break; sleep 0.1; done
	[ -s "$T/api/port" ] || fail "the API server did not start: $(cat "$T/api.log")"
	cat >"$T/kubeconfig" <<-YAML
	apiVersion: v1
	kind: Config
	clusters: [{name: c, cluster: {server: "http://127.0.0.1:$(cat "$T/api/port")"}}]
	users: [{name: u, user: {token: test}}]
	contexts: [{name: x, context: {cluster: c, user: u}}]
	current-context: x
	YAML
	"$AF" daemon --foreground --kubernetes --kubeconfig "$T/kubeconfig" --node vmnode \
		--journal-dir "$T/journals" --control "$T/c.sock" >/dev/null 2>"$T/daemon.log" &
	KDAEMON=$!
	for _ in $(seq 300); do
		grep -q "pods listed" "$T/daemon.log" && grep -q "fenced from their cgroup's creation" "$T/daemon.log" && break
		af_running "$KDAEMON" || fail "the daemon exited: $(cat "$T/daemon.log")"
		sleep 0.1
	done
	grep -q "fenced from their cgroup's creation" "$T/daemon.log" || fail "the daemon is not ready: $(cat "$T/daemon.log")"
	RUNC_ROOT=/run/aftest-runc-$BASHPID
	BUNDLES=/run/aftest-k8s-$BASHPID/io.containerd.runtime.v2.task/k8s.io
	mkdir -p "$BUNDLES" "$RUNC_ROOT"
	CIDS=()
	UID_=$(printf '0a1b2c3d-0000-4000-8000-%012x' "$BASHPID")
	CID=$(echo "$1-$BASHPID" | sha256sum | cut -c1-64)
	kube_pod "$1" "$UID_"
}

# Its fences detached (the daemon's, then what a daemon leaves pinned:
# the hold fence and early ones), the containers, the cgroups.
kube_down() {
	local c ids
	for c in "${CIDS[@]}"; do runc --root "$RUNC_ROOT" delete -f "$c" >/dev/null 2>&1; done
	ids() {
		"$AF" status --json "$@" 2>/dev/null | $PY -c '
import json, sys
for f in json.load(sys.stdin).get("fences", []):
    if "/kubepods/" in f["cgroup"] or "/agentfence/k8s/" in f["cgroup"]:
        print(f["id"])'
	}
	if [ -n "${KDAEMON:-}" ] && af_running "$KDAEMON"; then
		for c in $(ids --control "$T/c.sock"); do "$AF" detach --control "$T/c.sock" "$c" >/dev/null 2>&1; done
		kill -TERM "$KDAEMON" 2>/dev/null
		for _ in $(seq 100); do af_running "$KDAEMON" || break; sleep 0.1; done
	fi
	[ -n "${KAPI:-}" ] && kill "$KAPI" 2>/dev/null
	wait 2>/dev/null
	for c in $(AGENTFENCE_CONTROL= ids); do AGENTFENCE_CONTROL= "$AF" detach "$c" >/dev/null 2>&1; done
	# The kubelet's levels stay (as on a node: the daemon links them once).
	find "$KCG/kubepods" -mindepth 2 -depth -type d -exec rmdir {} + 2>/dev/null
	find "$KCG/agentfence/k8s" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
	rm -rf "/run/aftest-k8s-$BASHPID" "$RUNC_ROOT"
}

# kube_pod NAME UID: the annotated pod, bound to the node, not running
# yet (as the API has it before the kubelet's first report).
kube_pod() {
	$PY -c '
import json, sys
json.dump({"apiVersion": "v1", "kind": "Pod",
	   "metadata": {"name": sys.argv[1], "namespace": "default", "uid": sys.argv[2],
			"annotations": {"agentfence.io/policy": "agent", "agentfence.io/workspace": "/workspace"}},
	   "spec": {"nodeName": "vmnode", "containers": [{"name": "agent"}]},
	   "status": {"phase": "Pending", "qosClass": "BestEffort"}}, open(sys.argv[3], "w"))' \
		"$1" "$2" "$T/api/pods/.$1" && mv "$T/api/pods/.$1" "$T/api/pods/$1.json"
	for _ in $(seq 300); do
		grep -q "pod default/$1: fence [0-9]* ready before its containers" "$T/daemon.log" && return 0
		sleep 0.1
	done
	fail "no early fence for pod $1: $(cat "$T/daemon.log")"
}

# kube_container UID CID BUNDLE CMD: the container in the pod's cgroup
# (the kubelet made the pod's), started by runc, detached.
kube_container() {
	local uid=$1 cid=$2 b=$3 cmd=$4 d
	mkdir -p "$KCG/kubepods/besteffort/pod$uid" "$b" "$T/rootfs/bin" "$T/rootfs/etc" \
		"$T/rootfs/proc" "$T/rootfs/dev" "$T/rootfs/workspace" "$T/ws"
	cp /bin/busybox "$T/rootfs/bin/busybox"
	for d in sh mv sleep cat; do ln -sf busybox "$T/rootfs/bin/$d"; done
	$PY -c '
import json, sys
uid, cid, root, ws, cmd = sys.argv[1:6]
json.dump({
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "cwd": "/",
		"args": ["/bin/sh", "-c", cmd], "env": ["PATH=/bin"], "noNewPrivileges": True},
    "root": {"path": root},
    "hostname": "agent",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
	       {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
	       {"destination": "/workspace", "type": "bind", "source": ws, "options": ["rbind", "rw"]}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"}],
	      "cgroupsPath": "/kubepods/besteffort/pod%s/%s" % (uid, cid)},
    "annotations": {"io.kubernetes.cri.container-type": "container",
		    "io.kubernetes.cri.container-name": "agent"}}, open(sys.argv[6], "w"))' \
		"$uid" "$cid" "$T/rootfs" "$T/ws" "$cmd" "$b/config.json"
	CIDS+=("$cid")
	runc --root "$RUNC_ROOT" run --detach --bundle "$b" "$cid" </dev/null >"$T/runc.out" 2>&1 ||
		fail "runc run: $(cat "$T/runc.out") (the daemon: $(cat "$T/daemon.log"))"
}

# The command's first write, outside the workspace, is refused; its
# write into the workspace lands; the kernel held it at its exec until
# the pod's own fence was attached.
test_pod_first_instruction_fenced() {
	kube_up first
	local j
	kube_container "$UID_" "$CID" "$BUNDLES/$CID" \
		'echo x >/etc/outside; echo "out=$?" >/workspace/.res; echo y >/workspace/in; echo "in=$?" >>/workspace/.res; mv /workspace/.res /workspace/res; exec sleep 600'
	for _ in $(seq 600); do [ -s "$T/ws/res" ] && break; sleep 0.1; done
	[ -s "$T/ws/res" ] || fail "the container wrote no result: $(cat "$T/daemon.log")"
	grep -E "pod default/first|held|continued" "$T/daemon.log" | sed 's/^/# daemon: /'
	assert_contains "$(cat "$T/ws/res")" "out=1" "the first command's write outside the workspace refused"
	assert_contains "$(cat "$T/ws/res")" "in=0" "its write into the workspace"
	[ -e "$T/rootfs/etc/outside" ] && fail "the write outside landed in the container's root"
	assert_contains "$(cat "$T/daemon.log")" "continued: held at its first instruction until its pod's fence" \
		"the exec was held until the pod's fence was whole"
	assert_contains "$(grep "pod default/first: fence" "$T/daemon.log")" "from its cgroup's creation" "attached"
	j=$(ls "$T/journals/default_first_"*.jsonl | grep -v -- '-early\.jsonl$' | head -1)
	assert_contains "$(grep '"verdict":"denied"' "$j")" "/etc/outside" "the denial journaled, as the container sees it"
	# Intact; incomplete while the fence runs (no fence_end yet).
	assert_exit 4 "$AF" log verify "$j"
}

# A pod deleted while its container's process is held (the daemon cannot
# attach it: no bundle of the runtime's says it is a container, the API
# never says it runs): the process is killed; it never ran an instruction.
test_pod_deleted_while_held() {
	kube_up held
	local pid
	kube_container "$UID_" "$CID" "$T/bundle-held" 'echo ran >/workspace/ran; exec sleep 600'
	pid=$(runc --root "$RUNC_ROOT" state "$CID" | $PY -c 'import json, sys; print(json.load(sys.stdin)["pid"])')
	for _ in $(seq 100); do
		[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ] && break
		sleep 0.1
	done
	assert_eq T "$(awk '{ print $3 }' "/proc/$pid/stat")" "the container's process stopped at its exec"
	sleep 1
	[ -e "$T/ws/ran" ] && fail "the held process ran"
	rm "$T/api/pods/held.json"
	for _ in $(seq 300); do af_running "$pid" || break; sleep 0.1; done
	af_running "$pid" && fail "the held process of the deleted pod still runs"
	[ -e "$T/ws/ran" ] && fail "the held process ran before it was killed"
	assert_contains "$(cat "$T/daemon.log")" "process $pid killed: held at its first instruction; pod deleted" \
		"the daemon said so"
}

af_limit test_workspace_a_volume 120
af_limit test_workspace_a_path_in_the_overlay 120
af_limit test_paths_as_the_target_sees_them 120
af_limit test_descriptors_scanned 120
af_limit test_io_uring_keeps_file_permission 120
af_limit test_update_scans_again 120
af_limit test_frozen_by_a_dead_attacher_thawed_on_adopt 120
af_limit test_pod_first_instruction_fenced 180
af_limit test_pod_deleted_while_held 180
for BACKEND in ${AF_VM_BACKENDS:-lsm_cgroup lsm}; do
	export BACKEND AF_TEST_TAG=" [$BACKEND]"
	af_main "$@"
done
