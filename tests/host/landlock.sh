# SPDX-License-Identifier: GPL-2.0
# `run` on a host without BPF LSM: the filesystem fence via Landlock.
# Skipped (with the reason) where the host gives a BPF LSM backend: the
# VM layer covers that.
source "$(dirname "$0")/../lib.sh"

setup() {
	FENCE=("$AF" run --policy "$T/p.yaml" --workspace "$T/ws")
	mkdir -p ws out
	echo orig >out/f
	cat >p.yaml <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: hosttest}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}", /dev/null]
	YAML
	backend=$("$AF" doctor --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["backend"])')
	[ "$backend" = landlock ] || skip "this host's backend is $backend, not landlock (the VM tests cover BPF LSM)"
}

# In the background, run "${FENCE[@]}" itself, so that $! is agentfence.
fence() {
	"${FENCE[@]}" "$@"
}

refused() {
	assert_exit 0 fence -- sh -c "if ( $* ) 2>/dev/null; then echo ALLOWED; else echo REFUSED; fi"
	assert_eq REFUSED "$OUT" "'$*' in the fence"
}

test_says_landlock_and_gaps() {
	setup
	assert_exit 0 fence -- true
	assert_contains "$ERR" "filesystem fence via Landlock" "backend note"
	# The mount namespace holds chmod, chown, utimes, xattrs and
	# deny_read (tests/escape/mountns.sh), the seccomp filter mount and
	# bpf(2), Landlock's scopes (ABI 6) signals: with no network
	# section, nothing is left to say.
	assert_not_contains "$ERR" "chmod" "gaps"
	assert_not_contains "$ERR" "deny_read" "gaps"
	assert_not_contains "$ERR" "mount," "gaps"
	# What the network fence cannot judge without BPF LSM is said.
	cat >>p.yaml <<-YAML
	  network:
	    allow: []
	YAML
	assert_exit 0 fence -- true
	assert_contains "$ERR" "landlock backend does not cover: " "gaps"
	assert_contains "$ERR" "sockets passed into the fence" "gaps"
}

test_write_inside_allowed() {
	setup
	assert_exit 0 fence -- sh -c 'echo hi >ok.txt && mkdir d && mv ok.txt d/ && rm -r d && echo x >f2'
	assert_file_eq ws/f2 x "write inside"
}

test_write_outside_refused() {
	setup
	refused "echo x >$T/out/f"
	refused "echo x >>$T/out/f"
	refused "echo x >$T/out/new"
	refused "rm $T/out/f"
	refused "mkdir $T/out/d"
	refused "mv $T/out/f $T/ws/stolen"
	refused "mv $T/ws/p $T/out/planted"
	refused "ln -s /etc/passwd $T/out/l"
	assert_file_eq out/f orig "outside file"
	assert_missing out/new "created outside"
	# The workspace is a mount of its own: mv falls back to copy and
	# unlink, and the copy (a read) is allowed; the unlink is not.
}

test_symlink_and_dotdot_escape() {
	setup
	ln -s "$T/out/f" ws/link
	refused "echo x >$T/ws/link"
	refused "echo x >$T/ws/../out/f"
	refused "exec 3<$T/out/f; echo x >/proc/self/fd/3"
	assert_file_eq out/f orig "outside file"
}

test_hardlink_of_outside_file() {
	setup
	refused "ln $T/out/f $T/ws/hl"
	assert_missing ws/hl "hard link"
}

test_preopened_descriptor_not_passed() {
	setup
	exec 3>>out/f
	assert_exit 0 fence -- sh -c 'echo pwned >&3 2>/dev/null && echo ALLOWED || echo REFUSED'
	exec 3>&-
	assert_eq REFUSED "$OUT" "inherited descriptor"
	assert_file_eq out/f orig "outside file"
}

test_exit_status() {
	setup
	assert_exit 7 fence -- sh -c 'exit 7'
	assert_exit 137 fence -- sh -c 'kill -9 $$'
	assert_exit 127 fence -- /nonexistent/cmd
	assert_contains "$ERR" "cannot execute '/nonexistent/cmd'" "message"
	assert_no_leftovers
}

test_sigterm_forwarded_and_cleaned() {
	setup
	"${FENCE[@]}" -- sh -c "echo >$T/ws/started; exec sleep 30" &
	local runner=$! rc=0 i
	for i in $(seq 100); do [ -e ws/started ] && break; sleep 0.1; done
	kill -TERM $runner
	wait $runner || rc=$?
	assert_eq 143 "$rc" "exit status after SIGTERM"
	assert_no_leftovers
}

test_background_processes_die_with_fence() {
	setup
	assert_exit 0 fence -- sh -c "sleep 100 & echo \$! >$T/ws/bg"
	kill -0 "$(cat ws/bg)" 2>/dev/null && fail "a background process outlived its fence"
	assert_no_leftovers
}

test_strict_refuses_partial_cover() {
	setup
	assert_exit 0 fence --strict -- true
	cat >>p.yaml <<-YAML
	  network:
	    allow: []
	YAML
	assert_exit 3 fence --strict -- true
	assert_contains "$ERR" "--strict: the landlock backend does not cover" "message"
	assert_no_leftovers
}

test_audit_needs_bpf_lsm() {
	setup
	assert_exit 3 fence --audit -- true
	assert_contains "$ERR" "audit mode needs a BPF LSM backend" "message"
}

test_bpf_backend_unavailable() {
	setup
	assert_exit 3 fence --backend lsm_cgroup -- true
	assert_contains "$ERR" "backend lsm_cgroup is not available" "message"
	assert_exit 3 fence --backend lsm -- true
}

test_builtin_policy() {
	setup
	mkdir -p home
	# The built-in policy allows /tmp, where $T lies: test outside it.
	local outside
	outside=$(mktemp -d /var/tmp/afout.XXXXXX)
	echo orig >"$outside/f"
	HOME=$T/home assert_exit 0 "$AF" run --workspace "$T/ws" -- sh -c "echo in >a; echo out >$outside/f 2>/dev/null; true"
	local got
	got=$(cat "$outside/f")
	rm -rf "$outside"
	assert_file_eq ws/a in "built-in policy: workspace writable, command starts in it"
	assert_eq orig "$got" "built-in policy: outside refused"
}

test_outside_process_unaffected() {
	setup
	"${FENCE[@]}" -- sleep 2 &
	local runner=$!
	sleep 0.5
	echo new >out/f || fail "a process outside the fence was refused"
	wait $runner
}

af_main "$@"
