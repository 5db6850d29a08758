# SPDX-License-Identifier: GPL-2.0
# Not root: the command runs with no capability but those the policy
# grants, in every set, and with no_new_privs. Each route tries to get a
# capability back or to use one it should not have. Verdict on every
# backend: held.
# vm backends: lsm_cgroup (what holds these routes is the box, set up
# in userspace the same way whatever the BPF backend: one is enough)
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/helpers/escape.bash"

status_of() {	# field: from the fenced command's /proc/self/status
	esc_fence awk -v f="$1:" '$1 == f { print $2 }' /proc/self/status
}

test_no_capability_in_any_set() {
	esc_policy
	local f
	for f in CapInh CapPrm CapEff CapBnd CapAmb; do
		assert_eq 0000000000000000 "$(status_of $f)" "$f of the fenced command"
	done
	assert_eq 1 "$(status_of NoNewPrivs)" "NoNewPrivs"
}

test_no_capability_in_a_grandchild() {
	esc_policy
	assert_exit 0 esc_fence sh -c 'sh -c "grep ^CapEff /proc/self/status"'
	assert_contains "$OUT" "0000000000000000" "CapEff of a grandchild"
}

test_capset_raise_refused() {
	esc_policy
	assert_exit 0 esc_fence "$ESC" caps
	assert_contains "$OUT" "capset all: held EPERM" "capset"
	assert_contains "$OUT" "ambient raise sys_admin: held EPERM" "ambient raise"
	assert_contains "$OUT" "bounding set read sys_admin: held" "bounding set"
}

test_securebits_locked() {
	esc_policy
	assert_exit 0 esc_fence "$ESC" caps
	assert_contains "$OUT" "securebits clear: held EPERM" "clearing securebits"
	# noroot and no_setuid_fixup with their locks, keep_caps locked off
	assert_contains "$OUT" "securebits 0x2f" "securebits"
}

test_no_new_privs_sticks() {
	esc_policy
	assert_exit 0 esc_fence "$ESC" caps
	assert_contains "$OUT" "no_new_privs 1" "no_new_privs"
	assert_contains "$OUT" "no_new_privs clear: held EINVAL" "clearing no_new_privs"
}

test_chown_refused() {
	esc_policy
	assert_exit 0 esc_fence sh -c 'touch f && chown 65534 f 2>/dev/null && echo ESCAPED || echo held'
	assert_eq held "$OUT" "chown as uid 0 without CAP_CHOWN"
	assert_eq 0 "$(stat -c %u ws/f)" "owner of the file"
}

# DAC override: a file outside, another user's, mode 0600, readable by
# uid 0 only through CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH.
test_other_users_file_unreadable() {
	esc_policy
	echo secret >out/theirs
	chown 65534:65534 out/theirs
	chmod 600 out/theirs
	assert_exit 0 esc_fence sh -c "cat $T/out/theirs 2>/dev/null || echo held"
	assert_eq held "$OUT" "reading another user's 0600 file"
}

test_setuid_binary_gains_nothing() {
	esc_policy
	cp /bin/cat ws/suidcat
	chown 0:0 ws/suidcat
	chmod 4755 ws/suidcat
	echo secret >out/theirs
	chown 65534:65534 out/theirs
	chmod 600 out/theirs
	assert_exit 0 esc_fence sh -c "./suidcat $T/out/theirs 2>/dev/null || echo held"
	assert_eq held "$OUT" "a setuid-root binary"
}

test_file_capabilities_gain_nothing() {
	command -v setcap >/dev/null || skip "no setcap (libcap2-bin) here"
	esc_policy
	cp /bin/cat ws/fcat
	setcap cap_dac_override+ep ws/fcat || skip "setcap failed on this filesystem"
	echo secret >out/theirs
	chown 65534:65534 out/theirs
	chmod 600 out/theirs
	assert_exit 0 esc_fence sh -c "./fcat $T/out/theirs 2>/dev/null || echo held"
	assert_eq held "$OUT" "a binary with file capabilities"
}

test_privileged_port_refused() {
	esc_policy
	assert_exit 0 esc_fence $PY -c '
import socket
s = socket.socket()
try:
    s.bind(("127.0.0.1", 1023)); print("ESCAPED")
except PermissionError:
    print("held")'
	assert_eq held "$OUT" "bind to port 1023 without CAP_NET_BIND_SERVICE"
}

test_granted_capability_only() {
	esc_policy "  process: {capabilities: [net_bind_service]}"
	assert_eq 0000000000000400 "$(status_of CapEff)" "CapEff with net_bind_service granted"
	assert_eq 0000000000000400 "$(status_of CapBnd)" "CapBnd with net_bind_service granted"
	assert_exit 0 esc_fence $PY -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 1023)); print("bound")'
	assert_eq bound "$OUT" "bind with the granted capability"
	# and it survives exec into a grandchild, no more
	assert_exit 0 esc_fence sh -c 'sh -c "grep ^CapEff /proc/self/status"'
	assert_contains "$OUT" "0000000000000400" "the granted capability in a grandchild"
}

test_grant_run_lacks_refused() {
	local hex
	hex=$(awk '$1 == "CapPrm:" { print $2 }' /proc/self/status)
	(( (16#$hex >> 24) & 1 )) && skip "run holds sys_resource here: nothing it lacks to grant"
	esc_policy "  process: {capabilities: [sys_resource]}"
	assert_exit 125 esc_fence true
	assert_contains "$ERR" "grants sys_resource, which agentfence itself does not hold" "message"
}

test_dangerous_grant_warns() {
	esc_policy "  process: {capabilities: [sys_admin]}"
	assert_exit 0 "$AF" policy check "$T/p.yaml"
	assert_contains "$OUT$ERR" "grants sys_admin, which reaches outside the fence" "warning"
}

# As a user (run --user, as under sudo): every uid and gid of the
# command is the user's, it has no capability, and no way back to root
# (setuid(0), a setuid binary, capset). The user's own file is the
# user's; the fence still holds its writes.
test_as_a_user_no_way_back() {
	esc_policy
	chmod 755 "$T"
	chmod 1777 "$T/ws"
	assert_exit 0 "$AF" run ${BACKEND:+--backend "$BACKEND"} --policy "$T/p.yaml" --workspace "$T/ws" \
		--no-journal -q --user nobody -- sh -c '
		grep -E "^(Uid|Gid|Groups|CapPrm|CapEff|CapBnd|CapAmb):" /proc/self/status | tr -s "\t " " "
		touch mine && stat -c "mine %u" mine
		/usr/bin/python3 -c "import os
try:
    os.setuid(0); print(\"setuid 0: ESCAPED\")
except PermissionError: print(\"setuid 0: held\")"
		su -c true root </dev/null >/dev/null 2>&1 && echo "su: ESCAPED" || echo "su: held"
		echo x >'"$T/out/f"' 2>/dev/null && echo "outside: ESCAPED" || echo "outside: held"'
	assert_contains "$OUT" "Uid: 65534 65534 65534 65534" "uids"
	assert_contains "$OUT" "Gid: 65534 65534 65534 65534" "gids"
	assert_contains "$OUT" "CapPrm: 0000000000000000" "permitted"
	assert_contains "$OUT" "CapBnd: 0000000000000000" "bounding"
	assert_contains "$OUT" "mine 65534" "the user's file"
	assert_contains "$OUT" "setuid 0: held" "setuid(0)"
	assert_contains "$OUT" "su: held" "a setuid binary"
	assert_contains "$OUT" "outside: held" "a write outside"
	assert_not_contains "$OUT" "ESCAPED" "no way back"
}

af_main "$@"
