# SPDX-License-Identifier: GPL-2.0
# Shared by tests/escape/*.sh (sourced after tests/lib.sh): a fence on
# $BACKEND (unset: the default backend of this kernel), the escape
# helper, and how a route reports a gap.

ESC=$HELPERS/escape
PY=/usr/bin/python3

# The backend a fence gets here: $BACKEND, else doctor's choice.
esc_backend() {
	if [ -n "${BACKEND:-}" ]; then
		echo "$BACKEND"
	else
		"$AF" doctor --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["backend"])'
	fi
}

# esc_policy [YAML-LINES]: $T/p.yaml, the workspace $T/ws writable, and
# the given lines appended under spec: (indented by the caller).
esc_policy() {
	mkdir -p "$T/ws" "$T/out"
	{
		cat <<-YAML
		apiVersion: agentfence/v1
		kind: Policy
		metadata: {name: escape}
		spec:
		  filesystem:
		    writable: ["\${WORKSPACE}", /dev/null]
		YAML
		[ $# -gt 0 ] && printf '%s\n' "$@"
	} >"$T/p.yaml"
}

# esc_fence CMD...: run CMD in a fence of $T/p.yaml, working in $T/ws.
esc_fence() {
	"$AF" run ${BACKEND:+--backend "$BACKEND"} --policy "$T/p.yaml" --workspace "$T/ws" \
		--no-journal -q -- "$@"
}

# Every capability run holds (root's set may lack some here), as a
# policy list: a policy that grants them all shows that what refuses is
# the filter, not a missing capability.
CAP_NAMES=(chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap
	linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner
	sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice
	sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap
	mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf
	checkpoint_restore)
all_caps() {
	local hex i out=""
	hex=$(awk '$1 == "CapPrm:" { print $2 }' /proc/self/status)
	for i in "${!CAP_NAMES[@]}"; do
		(( (16#$hex >> i) & 1 )) && out+="${out:+, }${CAP_NAMES[$i]}"
	done
	echo "[$out]"
}

# gap REASON: the route is open on this backend (run says so before the
# command starts); reported as a skip, never as a pass.
gap() {
	skip "GAP: $*"
}

# A process outside the fence that records the signals it gets: its
# pid in $VICTIM, what it got in $T/victim.log ("TERM", "USR1", "IO",
# "URG"; it dies of SIGKILL). Stop it with victim_stop.
victim_start() {
	$PY - "$T/victim.log" "$T/victim.ready" <<-'EOF' &
	import os, signal, sys, time
	log = open(sys.argv[1], "a", buffering=1)
	def note(sig, frame):
	    log.write(signal.Signals(sig).name[3:] + "\n")
	for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGIO, signal.SIGURG, signal.SIGHUP, signal.SIGINT):
	    signal.signal(s, note)
	open(sys.argv[2], "w").close()
	for _ in range(600):
	    time.sleep(0.1)
	EOF
	VICTIM=$!
	local i
	for i in $(seq 100); do [ -e "$T/victim.ready" ] && break; sleep 0.05; done
	[ -e "$T/victim.ready" ] || fail "the victim did not start"
}

victim_stop() {
	kill -KILL "$VICTIM" 2>/dev/null
	wait "$VICTIM" 2>/dev/null
	true
}

# The victim got no signal and lives.
victim_untouched() {	# what
	sleep 0.3
	kill -0 "$VICTIM" 2>/dev/null || fail "$1: the process outside the fence died"
	[ ! -s "$T/victim.log" ] || fail "$1: the process outside the fence got: $(tr '\n' ' ' <"$T/victim.log")"
}
