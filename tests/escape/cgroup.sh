# SPDX-License-Identifier: GPL-2.0
# The cgroup is a one-way door: no process leaves the fence's cgroup
# subtree, and none is pulled into it. Each route is a real attempt,
# followed by a look at where the process is. Verdict on every
# backend: held. With a policy that makes the cgroup filesystem
# writable, the BPF backends still hold (an LSM hook on cgroupfs
# writes); Landlock cannot express that, so run refuses such a policy.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/helpers/escape.bash"

CG=$(cgroup2_mount)

# try SHELL-CMD: run it in the fence, then print held/ESCAPED and the
# fenced shell's cgroup.
try() {
	assert_exit 0 esc_fence sh -c "if ( $1 ) 2>/dev/null; then echo ESCAPED; else echo held; fi; grep '^0::' /proc/self/cgroup"
	assert_contains "$OUT" "held" "'$1' in the fence"
	assert_not_contains "$OUT" "ESCAPED" "'$1' in the fence"
	assert_contains "$OUT" "0::/agentfence/run-" "the cgroup after '$1'"
}

test_move_to_root_cgroup() {
	esc_policy
	try "echo \$\$ >$CG/cgroup.procs"
}

test_move_to_parent_cgroup() {
	esc_policy
	try "echo \$\$ >$CG/agentfence/cgroup.procs"
}

test_move_thread_to_root() {
	esc_policy
	try "echo \$\$ >$CG/cgroup.threads"
}

test_move_to_new_cgroup_outside() {
	esc_policy
	try "mkdir $CG/agentfence/escape-\$\$ && echo \$\$ >$CG/agentfence/escape-\$\$/cgroup.procs"
	rmdir "$CG"/agentfence/escape-* 2>/dev/null
	true
}

test_clone3_into_cgroup() {
	esc_policy
	assert_exit 0 esc_fence "$ESC" clone3-cgroup "$CG"
	assert_eq "held ENOSYS" "$OUT" "clone3 CLONE_INTO_CGROUP to the root cgroup"
}

test_freeze_supervisor_cgroup() {
	esc_policy
	try "echo 1 >$CG/agentfence/cgroup.freeze"
	assert_eq 0 "$(cat "$CG/agentfence/cgroup.freeze" 2>/dev/null || echo 0)" "agentfence/cgroup.freeze"
}

test_pull_supervisor_in() {
	esc_policy
	# $PPID of the fenced shell is run itself.
	try "echo \$PPID >$CG/agentfence/run-\$PPID/cgroup.procs"
	assert_not_contains "$(grep '^0::' /proc/self/cgroup)" "agentfence/run-" "this shell's cgroup"
}

writable_cgroupfs_policy() {
	esc_policy
	cat >"$T/p.yaml" <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: escape}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}", /dev/null, "$CG"]
	YAML
}

test_writable_cgroupfs_move_out() {
	writable_cgroupfs_policy
	if [ "$(esc_backend)" = landlock ]; then
		assert_exit 125 esc_fence true
		assert_contains "$ERR" "Landlock cannot keep the fence's cgroup a one-way door" "refusal"
		return
	fi
	try "echo \$\$ >$CG/cgroup.procs"
	try "echo \$\$ >$CG/agentfence/cgroup.procs"
	try "echo 1 >$CG/agentfence/cgroup.freeze"
	try "mkdir $CG/agentfence/escape-\$\$"
}

test_writable_cgroupfs_pull_in() {
	writable_cgroupfs_policy
	[ "$(esc_backend)" = landlock ] && skip "run refuses this policy on Landlock (test_writable_cgroupfs_move_out)"
	sleep 30 &
	local victim=$!
	try "echo $victim >$CG/agentfence/run-\$PPID/cgroup.procs"
	assert_not_contains "$(grep '^0::' /proc/$victim/cgroup)" "agentfence/run-" "the outside process's cgroup"
	kill $victim
}

# The control: inside its own subtree the fence may arrange itself.
test_writable_cgroupfs_inside_allowed() {
	writable_cgroupfs_policy
	[ "$(esc_backend)" = landlock ] && skip "run refuses this policy on Landlock (test_writable_cgroupfs_move_out)"
	assert_exit 0 esc_fence sh -c "d=$CG/agentfence/run-\$PPID; mkdir \$d/sub && echo \$\$ >\$d/sub/cgroup.procs && grep '^0::' /proc/self/cgroup"
	assert_contains "$OUT" "/agentfence/run-" "moved within the fence"
	assert_contains "$OUT" "/sub" "moved within the fence"
}

af_main "$@"
