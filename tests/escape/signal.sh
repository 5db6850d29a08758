# SPDX-License-Identifier: GPL-2.0
# Signals of every kind reach no process outside the fence, run and its
# watcher included: kill, tgkill, tkill, a process group, sigqueue, a
# pidfd, ptrace, and the signals the kernel sends for a file owner
# (SIGIO, SIGURG via F_SETOWN), also when what triggers them comes from
# outside. The victim outside records what it gets. Verdict: held on
# every backend (Landlock: its signal scope, ABI 6+).
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/helpers/escape.bash"

setup() {
	esc_policy
	if [ "$(esc_backend)" = landlock ]; then
		local abi
		abi=$("$AF" doctor --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["landlock_abi"])')
		[ "$abi" -ge 6 ] || gap "Landlock ABI $abi < 6 has no signal scope: signals to processes outside the fence"
	fi
	victim_start
}

route() {	# how
	setup
	assert_exit 0 esc_fence "$ESC" signal "$1" "$VICTIM"
	assert_contains "$OUT" "held" "signal by $1"
	victim_untouched "signal by $1"
	victim_stop
}

test_kill() { route kill; }
test_kill_sigkill() { route kill9; }
test_kill_sigstop() {
	route stop
}
test_tgkill() { route tgkill; }
test_tkill() { route tkill; }
test_sigqueue() { route sigqueue; }
test_pidfd_send_signal() { route pidfd; }
test_process_group() { route pgrp; }
test_ptrace_attach() { route ptrace; }

# kill(1) of the shell, by pid: the same route through a program.
test_kill_command() {
	setup
	assert_exit 0 esc_fence sh -c "kill -TERM $VICTIM 2>/dev/null && echo ESCAPED || echo held"
	assert_eq held "$OUT" "kill -TERM"
	victim_untouched "kill(1)"
	victim_stop
}

test_sigio_own_write() {
	setup
	assert_exit 0 esc_fence "$ESC" signal sigio "$VICTIM"
	victim_untouched "SIGIO of a socket the fenced process owns and writes"
	victim_stop
}

# A server outside the fence that, once a client connects, sends it a
# byte (or urgent data): the kernel signals the owner from outside.
peer_server() {	# normal|urgent
	$PY - "$1" "$T/port" <<-'EOF' &
	import socket, sys, time
	s = socket.socket()
	s.bind(("127.0.0.1", 0)); s.listen(1)
	open(sys.argv[2], "w").write(str(s.getsockname()[1]))
	s.settimeout(20)
	c, _ = s.accept()
	c.recv(2)
	time.sleep(0.2)
	c.send(b"!", socket.MSG_OOB if sys.argv[1] == "urgent" else 0)
	time.sleep(1.5)
	EOF
	PEER=$!
	local i
	for i in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	[ -s "$T/port" ] || fail "the peer did not start"
}

test_sigio_from_outside_peer() {
	setup
	peer_server normal
	assert_exit 0 esc_fence "$ESC" signal sigio_peer "$VICTIM" "$(cat "$T/port")"
	wait $PEER
	victim_untouched "SIGIO triggered by a peer outside"
	victim_stop
}

test_sigurg_from_outside_peer() {
	setup
	peer_server urgent
	assert_exit 0 esc_fence "$ESC" signal sigio_peer "$VICTIM" "$(cat "$T/port")"
	wait $PEER
	victim_untouched "SIGURG of urgent data from a peer outside"
	victim_stop
}

# The BPF backends remember which fence set a file's owner (af_sigio):
# when that map is full, F_SETOWN is refused, never left to the
# sender's fence (an evicted entry was an escape). A fence with room for
# 4 owners: the fifth and later F_SETOWN fail, and once the files are
# closed (their entries go with them) there is room again.
test_sigio_owner_map_full() {
	setup
	victim_stop
	[ "$(esc_backend)" != landlock ] || skip "Landlock's signal scope judges at delivery: no owner map"
	AF_SIGIO_ENTRIES=4 assert_exit 0 "$AF" run ${BACKEND:+--backend "$BACKEND"} --policy "$T/p.yaml" \
		--workspace "$T/ws" --no-journal -- $PY -S -c '
import fcntl, os
def setown(n):
    ok = refused = 0
    fds = [os.pipe() for _ in range(n)]
    for r, w in fds:
        try:
            fcntl.fcntl(r, fcntl.F_SETOWN, os.getpid()); ok += 1
        except OSError as e:
            refused += e.errno == 1
    for r, w in fds:
        os.close(r); os.close(w)
    return ok, refused
print("first", *setown(8))
print("again", *setown(2))
'
	assert_contains "$OUT" "first 4 4" "F_SETOWN with room for 4 owners (ok, refused)"
	assert_contains "$OUT" "again 2 0" "F_SETOWN once the files are closed"
	assert_contains "$ERR" "denied F_SETOWN (no room to remember the owner's fence)" "the refusal's report"
}

# The controls: the same routes work inside the fence (the victim is
# the fenced shell's own child).
test_inside_allowed() {
	setup
	victim_stop
	assert_exit 0 esc_fence sh -c "sleep 5 & v=\$!; $ESC signal kill \$v; wait \$v; echo status \$?"
	assert_contains "$OUT" "ESCAPED" "kill inside the fence"
	assert_contains "$OUT" "status 143" "the child inside got SIGTERM"
}

test_supervisor_unkillable() {
	setup
	victim_stop
	assert_exit 0 esc_fence sh -c "$ESC signal kill9 \$PPID; $ESC signal kill \$PPID; $ESC signal pidfd \$PPID"
	assert_eq "held EPERMheld EPERMheld EPERM" "$(echo "$OUT" | tr -d '\n')" "signals to run"
}

# Not signals, but the same reach into run: its descriptors (pidfd_getfd)
# and its memory (process_vm_readv) are behind ptrace's check.
test_supervisor_descriptors_and_memory() {
	setup
	victim_stop
	assert_exit 0 esc_fence sh -c "$ESC signal getfd \$PPID; $ESC signal vmread \$PPID"
	assert_eq "held EPERMheld EPERM" "$(echo "$OUT" | tr -d '\n')" "run's descriptor 3 and memory"
}

test_watcher_unkillable() {
	setup
	victim_stop
	# run's other child is the watcher (watch.c).
	assert_exit 0 esc_fence sh -c "for p in \$(ps -o pid= --ppid \$PPID); do [ \$p = \$\$ ] || $ESC signal kill9 \$p; done"
	assert_eq "held EPERM" "$OUT" "SIGKILL to the watcher"
}

af_main "$@"
