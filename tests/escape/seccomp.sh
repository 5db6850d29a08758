# SPDX-License-Identifier: GPL-2.0
# The seccomp filter beneath every backend (userspace/sysfilter.c): one
# route per table entry, each a real call with harmless arguments that
# fails with EINVAL/EBADF/ENOENT if the filter lets it through. The
# fence grants every capability, so that what refuses is the filter,
# not a missing capability. Verdict on every backend: EPERM (clone3:
# ENOSYS; i386 and x32 calls: the process is killed by SIGSYS).
# vm backends: lsm_cgroup (what holds these routes is the box, set up
# in userspace the same way whatever the BPF backend: one is enough)
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/helpers/escape.bash"

CACHE=$(mktemp -d /tmp/afesc.XXXXXX)
trap 'rm -rf "$CACHE"' EXIT

ROUTES="init_module:EPERM finit_module:EPERM delete_module:EPERM kexec_load:EPERM
kexec_file_load:EPERM reboot:EPERM swapon:EPERM swapoff:EPERM iopl:EPERM ioperm:EPERM
bpf:EPERM perf_event_open:EPERM lookup_dcookie:EPERM mount:EPERM umount2:EPERM
pivot_root:EPERM mount_setattr:EPERM fsopen:EPERM fspick:EPERM fsconfig:EPERM fsmount:EPERM
open_tree:EPERM move_mount:EPERM clone3:ENOSYS clone_newuser:EPERM clone_newns:EPERM
clone_newpid:EPERM clone_newnet:EPERM clone_newuts:EPERM clone_newipc:EPERM
clone_newcgroup:EPERM clone_newtime:EPERM unshare_newuser:EPERM unshare_newns:EPERM
unshare_newpid:EPERM unshare_newnet:EPERM unshare_newuts:EPERM unshare_newipc:EPERM
unshare_newcgroup:EPERM unshare_newtime:EPERM setns:EPERM tiocsti:EPERM
tiocsti_high_bits:EPERM tioclinux:EPERM tioccons:EPERM keyctl:EPERM add_key:EPERM
request_key:EPERM userfaultfd:EPERM open_by_handle_at:EPERM io_uring_setup:EPERM
io_uring_enter:EPERM io_uring_register:EPERM settimeofday:EPERM
clock_settime:EPERM acct:EPERM quotactl:EPERM quotactl_fd:EPERM syslog:EPERM vhangup:EPERM
personality_no_aslr:EPERM personality_page_zero:EPERM personality_exec:EPERM
personality_high_bits:EPERM i386_getpid:killed_SYS x32_getpid:killed_SYS
personality_query:ok clone_plain:EINVAL getpid:ok fork:ok pthread:ok"

# One fence runs every route (a fence per route would take minutes in
# a guest); each test reads its line.
results() {
	if [ ! -s "$CACHE/sys" ]; then
		esc_policy "  process: {capabilities: $(all_caps)}"
		local names
		names=$(for r in $ROUTES; do echo "${r%%:*}"; done)
		# shellcheck disable=SC2086
		esc_fence "$ESC" sys $names >"$CACHE/sys.new" 2>"$CACHE/sys.err" ||
			fail "the fence failed: $(cat "$CACHE/sys.err")"
		mv "$CACHE/sys.new" "$CACHE/sys"
	fi
	cat "$CACHE/sys"
}

route() {	# name expected
	local got
	got=$(results | awk -v n="$1" '$1 == n { $1 = ""; sub(/^ /, ""); gsub(/ /, "_"); print }')
	assert_eq "$2" "$got" "$1 in the fence"
}

# The same routes outside any fence give the "let through" answer: the
# test would catch a filter that is not there.
test_routes_fail_differently_outside() {
	local got
	got=$("$ESC" sys mount clone3 tiocsti setns personality_no_aslr io_uring_setup io_uring_enter \
		2>&1 | awk '{ print $2 }' | tr '\n' ' ')
	assert_eq "ENOENT EINVAL EBADF EBADF ok EFAULT EBADF " "$got" "the routes outside a fence"
}

for r in $ROUTES; do
	eval "test_sys_${r%%:*}() { route ${r%%:*} ${r#*:}; }"
done

test_doctor_lists_every_entry() {
	assert_exit 0 "$AF" doctor
	local n
	for n in init_module bpf mount_setattr clone3 unshare ioctl keyctl userfaultfd personality; do
		assert_contains "$OUT" "$n" "doctor's seccomp table"
	done
	assert_contains "$OUT" "i386 and x32" "doctor on foreign ABIs"
}

# The journal's first record states the box in force: the filter's
# hash (the one doctor prints), the capability sets, the namespaces.
test_journal_states_the_box() {
	esc_policy "  process: {capabilities: [net_bind_service]}"
	assert_exit 0 "$AF" run ${BACKEND:+--backend "$BACKEND"} --policy "$T/p.yaml" --workspace "$T/ws" \
		--journal "$T/j.jsonl" -q -- true
	local want
	want=$("$AF" doctor --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["box"]["seccomp"]["sha256"])')
	assert_exit 0 $PY - "$T/j.jsonl" "$want" <<-'PY'
	import json, sys
	rec = json.loads(open(sys.argv[1]).readline())
	assert rec["type"] == "fence_start", rec["type"]
	box = rec["box"]
	assert box["seccomp"]["sha256"] == sys.argv[2], (box["seccomp"], sys.argv[2])
	assert box["seccomp"]["foreign_abi"] == "kill", box
	for s in ("bounding", "permitted", "effective", "inheritable", "ambient"):
	    assert box["capabilities"][s] == "net_bind_service", box["capabilities"]
	assert box["no_new_privs"] is True
	assert box["namespaces"]["ipc"] == "private", box
	assert box["on_supervisor_exit"] == "freeze", box
	print("ok")
	PY
	assert_eq ok "$OUT" "the box in fence_start"
}

af_main "$@"
