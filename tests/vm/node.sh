# SPDX-License-Identifier: GPL-2.0
# The node under the BPF LSM backends: host/node.sh's tests once per
# backend (AF_VM_BACKENDS), and the filesystem fence of a fence whose
# supervisor was killed.
AF_NODE_VM=1
source "$(dirname "$0")/../host/node.sh"

test_writes_refused_after_sigkill() {
	make_cgroup
	mkdir ws out
	echo orig >out/f
	cat >p.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: vmnode}
	spec:
	  filesystem:
	    writable: ["$T/ws"]
	  events: [deny]
	YAML
	hold_fence ctl p.yaml
	orphan_fence
	in_cgroup sh -c "echo x >$T/out/f" 2>/dev/null && fail "write outside the workspace worked"
	assert_file_eq out/f orig "write after the supervisor's SIGKILL"
	in_cgroup sh -c "echo in >$T/ws/a" || fail "write inside the workspace refused"
	assert_file_eq ws/a in "write inside"
	# What the kernel kept while nobody read: the denial.
	"$CTL" adopt "$ID" >adopt.out 2>adopt.err || fail "adopt: $(cat adopt.err)"
	assert_contains "$(cat adopt.out)" "events 1 lost 0" "the denial kept for the adopter"
}

for BACKEND in ${AF_VM_BACKENDS:-lsm_cgroup lsm}; do
	export BACKEND AF_TEST_TAG=" [$BACKEND]"
	af_main "$@"
done
