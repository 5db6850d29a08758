# SPDX-License-Identifier: GPL-2.0
# A private IPC namespace: SysV shared memory, semaphores, message
# queues and POSIX message queues of processes outside are out of
# reach. And no core dumps: the kernel writes a core file with the
# task's credentials overridden, so the fence would not judge it as the
# task; RLIMIT_CORE is 0, hard. Verdict on every backend: held.
# vm backends: lsm_cgroup (what holds these routes is the box, set up
# in userspace the same way whatever the BPF backend: one is enough)
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/helpers/escape.bash"

test_ipc_namespace_private() {
	esc_policy
	assert_exit 0 esc_fence readlink /proc/self/ns/ipc
	[ "$OUT" != "$(readlink /proc/self/ns/ipc)" ] || fail "the fence shares the IPC namespace $OUT"
}

sysv_route() {	# ipcmk-option ipcs-option what
	esc_policy
	local id
	id=$(ipcmk "$1" | awk '{ print $NF }')
	[ -n "$id" ] || fail "ipcmk $1 made nothing"
	# ipcs exits 0 whether it finds an id or not: look at its list.
	[ -n "$(ipcs "$2" | awk -v id="$id" '$2 == id')" ] || fail "ipcs $2: outside, object $id is not there"
	assert_exit 0 esc_fence sh -c "ipcs $2 | awk -v id=$id '\$2 == id' | grep -q . && echo ESCAPED || echo held"
	ipcrm "$2" "$id"
	assert_eq held "$OUT" "$3 made outside, seen from the fence"
}

test_sysv_shm() { sysv_route -M4096 -m "shared memory"; }
test_sysv_sem() { sysv_route -S1 -s "a semaphore set"; }
test_sysv_msg() { sysv_route -Q -q "a message queue"; }

test_posix_mqueue() {
	esc_policy
	local q=/af-escape-$$
	"$ESC" mqcreate $q || fail "cannot make the queue outside"
	[ "$("$ESC" mq $q)" = ESCAPED ] || fail "outside, the queue is not there"
	assert_exit 0 esc_fence "$ESC" mq $q
	"$ESC" mqunlink $q
	assert_eq "held ENOENT" "$OUT" "a POSIX message queue made outside"
}

test_core_limit_hard_zero() {
	esc_policy
	assert_exit 0 esc_fence sh -c 'echo "$(ulimit -H -c) $(ulimit -S -c)"; (ulimit -c unlimited) 2>/dev/null && echo ESCAPED || echo held'
	assert_eq "0 0
held" "$OUT" "RLIMIT_CORE and raising it"
}

# A crash in the workspace leaves no core file, even where a core file
# would land in a directory the fence may not write.
test_crash_dumps_no_core() {
	local pattern
	pattern=$(cat /proc/sys/kernel/core_pattern)
	case $pattern in
	"|"*) skip "core_pattern is a pipe here ($pattern): the helper gets RLIMIT_CORE 0 as %c" ;;
	/*) skip "core_pattern is absolute here ($pattern): the control would write outside \$T" ;;
	esac
	esc_policy
	# The control: outside the fence the same crash dumps core.
	mkdir ctl
	(cd ctl && ulimit -c unlimited && sh -c 'kill -SEGV $$') 2>/dev/null
	[ -n "$(ls ctl)" ] || skip "no core file outside the fence either (core_pattern '$pattern')"
	assert_exit 0 esc_fence sh -c 'ulimit -S -c unlimited 2>/dev/null; sh -c "kill -SEGV \$\$"; echo crashed'
	assert_eq "" "$(ls ws)" "files the crash left in the workspace"
}

# The kernel runs core_pattern's pipe helper, and modprobe, as root
# outside every fence: their sysctls must stay out of reach (uid 0
# passes their permission check without any capability).
sysctl_route() {	# file
	esc_policy
	local before
	before=$(cat "$1")
	assert_exit 0 esc_fence sh -c "echo '|/bin/false' >$1 2>/dev/null && echo ESCAPED || echo held"
	assert_eq held "$OUT" "write $1"
	assert_eq "$before" "$(cat "$1")" "$1 after"
}

test_core_pattern_unwritable() { sysctl_route /proc/sys/kernel/core_pattern; }
test_modprobe_path_unwritable() { sysctl_route /proc/sys/kernel/modprobe; }

af_main "$@"
