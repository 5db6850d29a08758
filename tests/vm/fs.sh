# SPDX-License-Identifier: GPL-2.0
# The filesystem fence on a real kernel with BPF LSM, once per BPF
# backend. For every hook: an allowed case and a denied case; then the
# ways around it (symlinks, hard links, renames, "..", /proc/self/fd,
# bind mounts, mounts, io_uring, inherited descriptors, device nodes).
# Workspace $T/ws and outside $T/out share one tmpfs, so that hard links
# and renames between them reach the LSM instead of failing with EXDEV.
source "$(dirname "$0")/../lib.sh"

PY=/usr/bin/python3

# setup [MODE [CAPS]]: CAPS, a YAML list, are granted to the command
# (it has none otherwise), for the tests of hooks that the kernel
# reaches only after a capability check.
setup() {	# mode caps
	FENCE=("$AF" run --backend "$BACKEND" --policy "$T/p.yaml" --workspace "$T/ws")
	mkdir -p ws out
	echo orig >out/f
	echo orig >ws/f
	echo secret >secret
	cat >p.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: vmtest}
	spec:
	  mode: ${1:-enforce}
	  filesystem:
	    writable: ["\${WORKSPACE}", /dev/null]
	    deny_read: ["$T/secret"]
	  process: {capabilities: ${2:-[]}}
	YAML
}

# In the background, run "${FENCE[@]}" itself, so that $! is agentfence.
fence() {
	"${FENCE[@]}" "$@"
}

# denied DESC SHELL-CMD: the command fails in the fence, and agentfence
# reports DESC ("denied write /x").
denied() {
	local desc=$1
	shift
	assert_exit 0 fence -- sh -c "if ( $* ); then echo ALLOWED; else echo REFUSED; fi"
	assert_eq REFUSED "$OUT" "'$*' in the fence"
	assert_contains "$ERR" "$desc" "agentfence's report"
}

# refused SHELL-CMD: the command fails in the fence, whoever refuses it
# (the process box refuses some calls before any hook: caps, seccomp).
refused() {
	assert_exit 0 fence -- sh -c "if ( $* ) 2>/dev/null; then echo ALLOWED; else echo REFUSED; fi"
	assert_eq REFUSED "$OUT" "'$*' in the fence"
}

allowed() {
	assert_exit 0 fence -- sh -c "$* && echo ALLOWED"
	assert_eq ALLOWED "$OUT" "'$*' in the fence"
	assert_not_contains "$ERR" "denied" "agentfence's report"
}

test_bpf_lsm_active() {
	assert_contains "$(cat /sys/kernel/security/lsm)" "bpf" "active LSMs"
	assert_exit 0 "$AF" doctor
	assert_contains "$OUT" "backend:           lsm_cgroup" "doctor"
}

test_open_write() {
	setup
	allowed "echo new >$T/ws/f"
	assert_file_eq ws/f new "inside"
	denied "denied write $T/out/f" "echo new >$T/out/f"
	assert_file_eq out/f orig "outside file"
}

test_open_trunc_append() {
	setup
	denied "denied write $T/out/f" ": >$T/out/f"
	denied "denied write $T/out/f" "echo more >>$T/out/f"
	assert_file_eq out/f orig "outside file"
	allowed ": >$T/ws/f && echo a >>$T/ws/f"
	assert_file_eq ws/f a "inside"
}

# open(O_TRUNC) is judged once, by file_open, for a file opened for
# writing; O_RDONLY|O_TRUNC truncates a file it did not open for writing,
# and inode_setattr must still walk it.
test_open_rdonly_trunc() {
	setup
	refused "$PY -S -c 'import os; os.close(os.open(\"$T/out/f\", os.O_RDONLY | os.O_TRUNC))'"
	assert_file_eq out/f orig "outside file"
	allowed "$PY -S -c 'import os; os.close(os.open(\"$T/ws/f\", os.O_RDONLY | os.O_TRUNC))'"
	assert_eq 0 "$(stat -c %s ws/f)" "inside file truncated"
}

test_create_mkdir_mknod() {
	setup
	denied "denied create $T/out/new" "echo x >$T/out/new"
	denied "denied mkdir $T/out/d" "mkdir $T/out/d"
	denied "denied mknod $T/out/fifo" "mkfifo $T/out/fifo"
	assert_missing out/new "created outside"
	assert_missing out/d "mkdir outside"
	assert_missing out/fifo "mkfifo outside"
	allowed "echo x >$T/ws/new && mkdir $T/ws/d && mkfifo $T/ws/fifo"
}

test_unlink_rmdir() {
	setup
	mkdir out/d
	denied "denied unlink $T/out/f" "rm -f $T/out/f"
	denied "denied rmdir $T/out/d" "rmdir $T/out/d"
	assert_file_eq out/f orig "outside file"
	[ -d out/d ] || fail "outside dir removed"
	allowed "rm $T/ws/f && mkdir $T/ws/d && rmdir $T/ws/d"
}

test_symlink_create() {
	setup
	denied "denied symlink $T/out/l" "ln -s /etc/passwd $T/out/l"
	assert_missing out/l "symlink outside"
}

test_symlink_escape() {
	setup
	ln -s "$T/out/f" ws/link
	denied "denied write $T/out/f" "echo pwned >$T/ws/link"
	assert_file_eq out/f orig "file behind the symlink"
	# A symlink inside pointing inside is fine.
	ln -s "$T/ws/f" ws/inlink
	allowed "echo ok >$T/ws/inlink"
}

test_dotdot() {
	setup
	denied "denied write $T/out/f" "echo pwned >$T/ws/../out/f"
	assert_file_eq out/f orig "outside file"
}

test_hardlink_in() {
	setup
	denied "denied link $T/out/f" "ln $T/out/f $T/ws/hl"
	assert_missing ws/hl "hard link of an outside file"
}

test_hardlink_out() {
	setup
	denied "denied link $T/out/hl" "ln $T/ws/f $T/out/hl"
	assert_missing out/hl "hard link outside"
}

test_rename_in_out() {
	setup
	denied "denied rename in $T/out" "mv $T/out/f $T/ws/stolen"
	assert_file_eq out/f orig "renamed in"
	assert_missing ws/stolen "renamed in"
	denied "denied rename in $T/out" "mv $T/ws/f $T/out/planted"
	assert_missing out/planted "renamed out"
	allowed "mv $T/ws/f $T/ws/g"
	assert_file_eq ws/g orig "rename inside"
}

# Kept nearest roots (bpf/rootcache.bpf.h): a directory whose nearest
# root the fence kept (opens and creates beneath it decided without a
# walk) is moved out of the workspace by a process outside the fence;
# the fenced process's next open for writing and create there are
# refused, as if nothing had been kept.
test_kept_root_moved_out() {
	setup
	mkdir -p ws/d
	echo orig >ws/d/f
	local before after pid
	before=$(af_node_counter AF_CNT_ROOT_CACHED) || fail "the node's counters"
	"${FENCE[@]}" -- $PY -c '
import os, sys, time
t = sys.argv[1]
for i in range(50):
    with open(t + "/ws/d/f", "w") as f:
        f.write("in")
    open(t + "/ws/d/n%d" % (i % 5), "w").close()
print("ready", flush=True)
for _ in range(600):
    if os.path.exists(t + "/go"):
        break
    time.sleep(0.05)
for what, path in (("open", "/out/d/f"), ("create", "/out/d/new")):
    try:
        with open(t + path, "w") as f:
            f.write("pwned")
        print(what, "ALLOWED", flush=True)
    except PermissionError:
        print(what, "REFUSED", flush=True)
' "$T" >kept.out 2>kept.err &
	pid=$!
	for _ in $(seq 600); do grep -q ready kept.out && break; sleep 0.05; done
	grep -q ready kept.out || fail "the fenced loop never got ready: $(cat kept.err)"
	after=$(af_node_counter AF_CNT_ROOT_CACHED)
	[ $((after - before)) -ge 50 ] || fail "nearest roots kept only $((after - before)) times in 100 decisions"
	mv ws/d out/d
	touch go
	wait "$pid"
	assert_contains "$(cat kept.out)" "open REFUSED" "an open for writing in the moved directory"
	assert_contains "$(cat kept.out)" "create REFUSED" "a create in the moved directory"
	assert_file_eq out/d/f in "the moved file"
	assert_missing out/d/new "the create"
	assert_contains "$(cat kept.err)" "denied write $T/out/d/f" "agentfence's report"
}

test_truncate_chmod_chown_utimes() {
	setup enforce "[chown, fowner]"	# utimes of a file chown gave away
	denied "denied write $T/out/f" "truncate -s 0 $T/out/f"
	denied "denied truncate $T/out/f" "$PY -c 'import os; os.truncate(\"$T/out/f\", 0)'"
	denied "denied chmod $T/out/f" "chmod 600 $T/out/f"
	denied "denied chown $T/out/f" "chown 1:1 $T/out/f"
	denied "denied utimes $T/out/f" "touch -d 2001-01-01 $T/out/f"
	assert_file_eq out/f orig "truncated"
	assert_eq 644 "$(stat -c %a out/f)" "mode"
	assert_eq 0 "$(stat -c %u out/f)" "owner"
	allowed "truncate -s 0 $T/ws/f && chmod 600 $T/ws/f && chown 1:1 $T/ws/f && touch -d 2001-01-01 $T/ws/f"
}

test_xattr() {
	setup enforce "[sys_admin]"	# trusted.* xattrs
	denied "denied xattr $T/out/f" "$PY -c 'import os; os.setxattr(\"$T/out/f\", \"trusted.af\", b\"1\")'"
	setfattr_ok=$($PY -c "import os; os.setxattr('$T/out/f', 'trusted.af', b'1'); print('y')")
	assert_eq y "$setfattr_ok" "setxattr outside the fence"
	denied "denied xattr $T/out/f" "$PY -c 'import os; os.removexattr(\"$T/out/f\", \"trusted.af\")'"
	allowed "$PY -c 'import os; os.setxattr(\"$T/ws/f\", \"trusted.af\", b\"1\"); os.removexattr(\"$T/ws/f\", \"trusted.af\")'"
}

test_proc_fd_reopen() {
	setup
	# Read-only descriptor of an outside file, reopened for write.
	denied "denied write $T/out/f" "exec 3<$T/out/f; echo pwned >/proc/self/fd/3"
	assert_file_eq out/f orig "outside file"
}

test_preopened_descriptor() {
	setup
	# A descriptor opened before the fence is not passed into it.
	exec 3>>out/f
	assert_exit 0 fence -- sh -c 'echo pwned >&3 2>/dev/null && echo ALLOWED || echo REFUSED'
	exec 3>&-
	assert_eq REFUSED "$OUT" "write through an inherited descriptor"
	assert_file_eq out/f orig "outside file"
}

test_bind_mounted_workspace() {
	setup
	mkdir bind
	mount --bind ws bind
	# The same directory seen through another mount is the same object.
	allowed "echo viabind >$T/bind/f"
	assert_file_eq ws/f viabind "write through the bind mount"
	# An outside directory bind-mounted into the workspace stays outside.
	mkdir ws/sub
	mount --bind out ws/sub
	denied "denied write $T/ws/sub/f" "echo pwned >$T/ws/sub/f"
	assert_file_eq out/f orig "outside file behind a bind mount"
}

# The seccomp filter refuses the mount API before the LSM hooks see it
# (tests/escape/seccomp.sh); the hooks are the second line.
test_mount_denied() {
	setup
	mkdir ws/m
	refused "mount -t tmpfs none $T/ws/m"
	refused "mount --bind $T/out $T/ws/m"
	grep -q " $T/ws/m " /proc/self/mounts && fail "a mount happened"
	mount -t tmpfs none ws/m
	refused "umount $T/ws/m"
	grep -q " $T/ws/m " /proc/self/mounts || fail "an umount happened"
	umount ws/m
}

test_device_nodes() {
	setup enforce "[mknod]"
	denied "denied" "mknod $T/ws/disk b 7 0"
	denied "denied" "mknod $T/ws/mem c 1 1"
	assert_missing ws/disk "block device node"
	# A device node that already lies beneath a root may not open a disk.
	mknod ws/disk0 b 7 0
	denied "denied write $T/ws/disk0" "echo x >$T/ws/disk0"
	allowed "echo x >/dev/null"
}

test_deny_read() {
	setup
	denied "denied read $T/secret" "cat $T/secret >/dev/null"
	allowed "cat $T/out/f >/dev/null"
	[ "$(cat secret)" = secret ] || fail "outside the fence the file is readable"
}

# The guest's root is an overlay (tmpfs over the host's read-only /):
# overlayfs checks the layers below with its own credentials, which
# must not count as the task's writes.
test_workspace_on_overlayfs() {
	[ "$(stat -f -c %T /root)" = overlayfs ] || skip "/root is not on overlayfs here"
	setup
	local ws
	ws=$(mktemp -d /root/afws.XXXXXX)
	FENCE=("$AF" run --backend "$BACKEND" --policy "$T/p.yaml" --workspace "$ws")
	allowed "echo a >$ws/a && mkdir $ws/d && mv $ws/a $ws/d/b && chmod 600 $ws/d/b && rm -r $ws/d"
	denied "denied create /etc/agentfence-evil" "echo x >/etc/agentfence-evil"
	assert_missing /etc/agentfence-evil "outside the workspace on the overlay"
	rm -rf "$ws"
}

# A workspace that exists only in the overlay's lower layer: the first
# write copies it and its parents up into the upper layer.
test_workspace_copy_up() {
	[ "$(stat -f -c %T "$TOP")" = overlayfs ] || skip "$TOP is not on overlayfs here"
	setup
	local ws=$TOP/tests/helpers
	FENCE=("$AF" run --backend "$BACKEND" --policy "$T/p.yaml" --workspace "$ws")
	allowed "echo '/* copied up */' >>$ws/uring_open.c && touch $ws/new"
	denied "denied write $TOP/README.md" "echo x >>$TOP/README.md"
}

# io_uring is refused by the box's seccomp filter (userspace/sysfilter.c:
# its requests run past the tracepoints the journal is made from): the
# ring cannot even be set up, inside the workspace or out, and the
# refusal is journaled. Outside a fence the same helper opens the file
# (the control: the helper works).
test_io_uring() {
	setup
	[ -x "$HELPERS/uring_open" ] || fail "missing helper $HELPERS/uring_open"
	assert_exit 3 fence -- "$HELPERS/uring_open" "$T/out/f"
	assert_contains "$OUT" "uring setup: Operation not permitted" "io_uring outside the workspace"
	assert_contains "$ERR" "denied io_uring_setup(0x4, " "the refusal's report"
	assert_exit 3 fence -- "$HELPERS/uring_open" "$T/ws/f"
	assert_contains "$OUT" "uring setup: Operation not permitted" "io_uring inside the workspace"
	assert_exit 0 "$HELPERS/uring_open" "$T/ws/f"
	assert_contains "$OUT" "uring openat: fd" "io_uring outside a fence"
}

test_bpf_syscall_denied() {
	setup
	refused "bpftool prog list >/dev/null 2>&1"
}

test_signal_outside_denied() {
	setup
	sleep 30 &
	local victim=$!
	denied "denied signal" "kill -TERM $victim"
	kill -0 $victim || fail "the process outside the fence was killed"
	kill $victim
	allowed "sleep 5 & kill \$!"
}

test_descendant_cgroup() {
	setup
	# A cgroup made beneath the fence after it started is fenced too.
	"${FENCE[@]}" -- sh -c "echo ready >$T/ws/ready; while [ ! -e $T/ws/go ]; do sleep 0.1; done; echo pwned >$T/out/f" >out.txt 2>err.txt &
	local runner=$! i
	for i in $(seq 100); do [ -e ws/ready ] && break; sleep 0.1; done
	local cg pid
	cg=$(cgroup2_mount)/agentfence/run-$runner
	pid=$(head -1 "$cg/cgroup.procs")
	mkdir "$cg/child"
	echo "$pid" >"$cg/child/cgroup.procs"
	touch ws/go
	wait $runner
	assert_file_eq out/f orig "write from a child cgroup"
	assert_contains "$(cat err.txt)" "denied write $T/out/f" "report"
}

test_outside_process_unaffected() {
	setup
	"${FENCE[@]}" -- sleep 3 &
	local runner=$!
	sleep 1
	echo new >out/f || fail "a process outside the fence was refused"
	assert_file_eq out/f new "outside write"
	wait $runner
}

test_audit_mode() {
	setup audit
	assert_exit 0 fence -- sh -c "echo new >$T/out/f && echo ALLOWED"
	assert_eq ALLOWED "$OUT" "audit mode allows"
	assert_contains "$ERR" "would deny write $T/out/f" "audit report"
	assert_file_eq out/f new "audit mode wrote"
}

test_exit_status_and_cleanup() {
	setup
	assert_exit 7 fence -- sh -c 'exit 7'
	assert_no_leftovers
	assert_exit 137 fence -- sh -c 'kill -9 $$'
	assert_no_leftovers
	# SIGTERM to agentfence is forwarded; the fence comes down.
	"${FENCE[@]}" -- sh -c "echo >$T/ws/started; exec sleep 30" &
	local runner=$! i
	for i in $(seq 300); do [ -e ws/started ] && break; sleep 0.1; done
	kill -TERM $runner
	local rc=0
	wait $runner || rc=$?
	assert_eq 143 "$rc" "exit status after SIGTERM"
	assert_no_leftovers
	# Background processes the command left die with the fence.
	assert_exit 0 fence -- sh -c 'sleep 100 & echo $! >'"$T"'/ws/bg'
	kill -0 "$(cat ws/bg)" 2>/dev/null && fail "a background process outlived its fence"
	assert_no_leftovers
}

test_loader_killed_fence_stays() {
	setup
	# SIGKILL the loader once the command runs: the fence is frozen
	# (spec.process.on_supervisor_exit), nothing runs unrecorded; once
	# thawed (what an adopting supervisor does) the pinned fence still
	# enforces (fail closed).
	"${FENCE[@]}" -- sh -c "echo >$T/ws/started; while [ ! -e $T/ws/go ]; do sleep 0.1; done; echo pwned >$T/out/f; echo done >$T/ws/done" &
	local runner=$! i cg
	cg=$(cgroup2_mount)/agentfence/run-$runner
	for i in $(seq 300); do [ -e ws/started ] && break; sleep 0.1; done
	[ -e ws/started ] || fail "the fenced command did not start"
	kill -KILL $runner
	wait $runner 2>/dev/null
	for i in $(seq 100); do grep -q "frozen 1" "$cg/cgroup.events" && break; sleep 0.1; done
	grep -q "frozen 1" "$cg/cgroup.events" || fail "the fence is not frozen"
	touch ws/go
	sleep 1
	assert_missing ws/done "the frozen command ran on"
	echo 0 >"$cg/cgroup.freeze"
	for i in $(seq 100); do [ -e ws/done ] && break; sleep 0.1; done
	[ -e ws/done ] || fail "the fenced command did not finish"
	assert_file_eq out/f orig "write after the loader died"
	# The next agentfence removes the dead fence's pins and cgroup.
	assert_exit 0 fence -- true
	assert_no_leftovers
}

for BACKEND in ${AF_VM_BACKENDS:-lsm_cgroup lsm}; do
	export BACKEND AF_TEST_TAG=" [$BACKEND]"
	af_main "$@"
done
