# SPDX-License-Identifier: GPL-2.0
# agentfence attach beneath containers that already run, with the real
# runtimes (docker, containerd's ctr, podman; tests/helpers/runtimes.bash):
# the egress policy holds at once for processes that ran before and for
# those started after (docker exec included), a container never attached
# is untouched, detach restores, a SIGKILLed attacher leaves the fence
# enforced and a daemon adopts it, the container's exit ends the fence
# with the reason journaled; bad input; on this host's landlock backend,
# the warning that files are not fenced and --strict's refusal. The
# filesystem side is tests/vm/attach.sh's (BPF LSM). Traffic: only to
# loopback addresses inside the containers' own network namespaces
# (127.0.0.2 allowed, 127.0.0.3 not; nothing listens: an allowed connect
# is refused by the kernel, ECONNREFUSED, a fenced one fails with EPERM).
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/helpers/runtimes.bash"

PY=/usr/bin/python3
NAMES=()
PIDS=()
DPIDS=()

cleanup() {
	local n p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${DPIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}" "${DPIDS[@]}"; do
		for _ in $(seq 100); do af_running "$p" || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for n in "${NAMES[@]}"; do
		# A fence a SIGKILLed attacher left froze its container.
		local cg
		cg=$(cgroup_of "$n" 2>/dev/null)
		[ -n "$cg" ] && echo 0 >"$cg/cgroup.freeze" 2>/dev/null
		case $n in
		docker:*) docker rm -f "${n#docker:}" ;;
		podman:*) podman rm -f "${n#podman:}" ;;
		ctr:*)
			ctr -n "$AF_RT_CTR_NS" task rm -f "${n#ctr:}"
			ctr -n "$AF_RT_CTR_NS" containers rm "${n#ctr:}"
			;;
		esac
	done >/dev/null 2>&1
	# Pins of fences whose container went with rm -f: the gc's.
	AGENTFENCE_CONTROL= "$AF" gc >/dev/null 2>&1
}
own() {	# runtime:name
	NAMES+=("$1")
	trap cleanup EXIT
}

cgroup_of() {	# runtime:name: the cgroup of its first process
	local n=$1 pid=
	case $n in
	docker:*) pid=$(docker inspect --format '{{.State.Pid}}' "${n#docker:}") ;;
	podman:*) pid=$(podman inspect --format '{{.State.Pid}}' "${n#podman:}") ;;
	ctr:*) pid=$(ctr -n "$AF_RT_CTR_NS" task ls | awk -v n="${n#ctr:}" '$1 == n { print $2 }') ;;
	esac
	[ -n "$pid" ] && [ "$pid" != 0 ] || return 1
	echo "$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)$(sed -n 's/^0:://p' /proc/"$pid"/cgroup)"
}

# A container whose first process waits on /tmp/go (a fifo), then
# connects to 127.0.0.3:7000 and to 127.0.0.2:7000 itself (exec: the same
# process, started before any attach), and writes what it got to /tmp/out.
EARLY='mkfifo /tmp/go; read x </tmp/go; (echo | nc 127.0.0.3 7000; echo | nc 127.0.0.2 7000) >/tmp/out 2>&1; exec sleep 600'

docker_run() {	# name cmd...
	local n=$1
	shift
	own "docker:$n"
	docker run -d --name "$n" "$AF_RT_IMAGE" "$@" >/dev/null || fail "docker run $n failed"
}

policy() {	# FILE: ${WORKSPACE} writable, TCP to 127.0.0.2:7000 only
	cat >"$1" <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: attach-test}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}"]
	  network:
	    allow:
	      - {cidr: 127.0.0.2/32, ports: [7000], protocol: tcp}
	YAML
}

# attach_fg ARGS...: a foreground attach (no daemon) in the background;
# APID its pid, once it says it supervises; its output in $T/attach.out.
attach_fg() {
	trap cleanup EXIT
	AGENTFENCE_CONTROL= "$AF" attach "$@" >"$T/attach.out" 2>&1 &
	APID=$!
	PIDS+=("$APID")
	for _ in $(seq 150); do
		grep -q "supervising here" "$T/attach.out" && return 0
		af_running "$APID" || fail "attach exited: $(cat "$T/attach.out")"
		sleep 0.1
	done
	fail "attach does not supervise: $(cat "$T/attach.out")"
}

fence_of() {	# attach.out: the fence id it printed
	sed -n 's/^agentfence attach: fence \([0-9]*\) .*/\1/p' "$1" | head -n 1
}

start_daemon() {
	trap cleanup EXIT
	"$AF" daemon --foreground --control "$T/c.sock" 2>>"$T/daemon.log" &
	DPID=$!
	DPIDS+=("$DPID")
	for _ in $(seq 100); do
		"$AF" status --control "$T/c.sock" 2>/dev/null | grep -q "^daemon: pid $DPID" && return 0
		af_running "$DPID" || fail "the daemon died: $(cat "$T/daemon.log")"
		sleep 0.05
	done
	fail "the daemon does not answer: $(cat "$T/daemon.log")"
}

# connects EXEC...: what a connect to 127.0.0.3:7000 and to
# 127.0.0.2:7000 gives in a new process of the container (EXEC: the
# runtime's exec command line).
connects() {
	"$@" sh -c 'echo | nc 127.0.0.3 7000; echo | nc 127.0.0.2 7000' 2>&1
}

assert_fenced() {	# output what
	assert_contains "$1" "(127.0.0.3): Operation not permitted" "$2: denied"
	assert_contains "$1" "(127.0.0.2): Connection refused" "$2: allowed"
}

assert_open() {	# output what
	assert_contains "$1" "(127.0.0.3): Connection refused" "$2: not fenced"
	assert_not_contains "$1" "not permitted" "$2: not fenced"
}

wait_pins_gone() {	# id
	for _ in $(seq 100); do
		[ -e "/sys/fs/bpf/agentfence/$1" ] || return 0
		sleep 0.05
	done
	fail "the pins of fence $1 stay"
}

# assert_tagged JOURNAL NAME: every record names the container NAME
# (docker's): runtime, short id, name (the attach record the full id);
# and tail's lines say it.
assert_tagged() {
	local j=$1 n=$2 id want lines bad
	id=$(docker inspect --format '{{.Id}}' "$n")
	want="\"container\":{\"runtime\":\"docker\",\"id\":\"${id:0:12}\",\"name\":\"$n\"}"
	lines=$(grep -c . "$j")
	[ "$lines" -ge 3 ] || fail "$j: only $lines records"
	bad=$(grep -vF "$want" "$j" | head -n 3)
	[ -z "$bad" ] || fail "records without the container $want: $bad"
	# Once per record, right after its type.
	bad=$(grep -o '"container":' "$j" | wc -l)
	assert_eq "$lines" "$bad" "one container member per record"
	bad=$("$AF" tail "$j" | grep -vF "  <docker $n ${id:0:12}>" | head -n 3)
	[ -z "$bad" ] || fail "tail lines without the container: $bad"
}

test_docker_before_after_exec_untouched_detach() {
	af_rt_docker
	policy "$T/p.yaml"
	docker_run "af-at-$$" sh -c "$EARLY"
	docker_run "af-other-$$" sleep 600
	assert_open "$(connects docker exec "af-at-$$")" "before attach"
	attach_fg --container "af-at-$$" --policy "$T/p.yaml" --workspace /workspace \
		--journal "$T/j.jsonl"
	local id out
	id=$(fence_of "$T/attach.out")
	assert_contains "$(cat "$T/attach.out")" "on docker container af-at-$$" "the runtime said"
	# The process that ran before attach connects now.
	docker exec "af-at-$$" sh -c 'echo go >/tmp/go'
	sleep 0.5
	assert_fenced "$(docker exec "af-at-$$" cat /tmp/out)" "a process started before"
	assert_fenced "$(connects docker exec "af-at-$$")" "docker exec"
	assert_open "$(connects docker exec "af-other-$$")" "a container never attached"
	# Paths as the container sees them (its root is an overlay).
	docker exec "af-at-$$" sh -c "echo x >/tmp/af-seen-$$; rm /tmp/af-seen-$$"
	docker exec "af-at-$$" mkdir /workspace/af-dir-$$
	out=$(AGENTFENCE_CONTROL= "$AF" status)
	assert_contains "$out" "attached to docker container af-at-$$" "status"
	out=$(AGENTFENCE_CONTROL= "$AF" status --json)
	assert_contains "$out" "\"name\":\"af-at-$$\"" "status --json"
	AGENTFENCE_CONTROL= "$AF" detach "$id" || fail "detach: exit $?"
	for _ in $(seq 50); do af_running "$APID" || break; sleep 0.1; done
	af_running "$APID" && fail "attach still runs after detach"
	wait_pins_gone "$id"
	assert_open "$(connects docker exec "af-at-$$")" "after detach"
	assert_eq running "$(docker inspect --format '{{.State.Status}}' "af-at-$$")" "the container after detach"
	out=$(grep '"type":"attach"' "$T/j.jsonl")
	assert_contains "$out" "\"name\":\"af-at-$$\"" "journal: the container's name"
	assert_contains "$out" "\"id\":\"$(docker inspect --format '{{.Id}}' "af-at-$$")\"" "journal: its id"
	assert_contains "$(grep '"type":"deny"' "$T/j.jsonl")" "127.0.0.3" "journal: the denial"
	assert_contains "$(grep '"type":"attach_end"' "$T/j.jsonl")" '"reason":"detached' "journal: why it ended"
	"$AF" log verify "$T/j.jsonl" >/dev/null || fail "journal not intact"
	assert_tagged "$T/j.jsonl" "af-at-$$"
	# tail --type knows the attach records.
	out=$("$AF" tail "$T/j.jsonl" --json --type attach,attach_end) || fail "tail --type attach: exit $?"
	assert_eq 2 "$(grep -c . <<<"$out")" "tail --type attach,attach_end: two records"
	assert_contains "$(head -n 1 <<<"$out")" '"type":"attach"' "the attach record first"
	assert_contains "$(tail -n 1 <<<"$out")" '"type":"attach_end"' "then attach_end"
	out=$(grep '"type":"file"' "$T/j.jsonl")
	assert_contains "$out" "\"path\":\"/tmp/af-seen-$$\"" "a file event's path as the container sees it"
	assert_contains "$out" "\"path\":\"/workspace/af-dir-$$\"" "in its volume-less workspace too"
	assert_not_contains "$out" "/var/lib/docker" "no path of the host's"
}

test_container_exit_ends_the_fence() {
	af_rt_docker
	policy "$T/p.yaml"
	docker_run "af-ex-$$" sleep 600
	attach_fg --container "af-ex-$$" --policy "$T/p.yaml" --workspace /workspace \
		--journal "$T/j.jsonl"
	local id
	id=$(fence_of "$T/attach.out")
	docker kill "af-ex-$$" >/dev/null
	for _ in $(seq 100); do af_running "$APID" || break; sleep 0.1; done
	af_running "$APID" && fail "attach still runs after its container exited"
	wait "$APID"
	assert_eq 0 $? "attach's exit status"
	wait_pins_gone "$id"
	assert_contains "$(cat "$T/attach.out")" "container exited" "attach said why"
	assert_contains "$(grep '"type":"attach_end"' "$T/j.jsonl")" '"reason":"container exited' "journal"
	tail -n 1 "$T/j.jsonl" | grep -q '"type":"fence_end"' || fail "the journal does not end with fence_end"
	"$AF" log verify "$T/j.jsonl" >/dev/null || fail "journal not intact"
	[ -e "/run/agentfence/attach/$id.json" ] && fail "its record in /run/agentfence/attach stays"
	return 0
}

test_sigkill_attacher_stays_enforced_then_adopted() {
	af_rt_docker
	policy "$T/p.yaml"
	docker_run "af-k-$$" sleep 600
	attach_fg --container "af-k-$$" --policy "$T/p.yaml" --workspace /workspace \
		--journal "$T/j.jsonl"
	local id cg out
	id=$(fence_of "$T/attach.out")
	cg=$(cgroup_of "docker:af-k-$$")
	kill -9 "$APID"
	wait "$APID" 2>/dev/null
	# The watcher froze the container (on_supervisor_exit: freeze);
	# thawed by hand, the pins alone still enforce.
	for _ in $(seq 50); do grep -q "^frozen 1" "$cg/cgroup.events" && break; sleep 0.1; done
	grep -q "^frozen 1" "$cg/cgroup.events" || fail "the container was not frozen"
	echo 0 >"$cg/cgroup.freeze"
	assert_fenced "$(connects docker exec "af-k-$$")" "no supervisor"
	out=$(AGENTFENCE_CONTROL= "$AF" status)
	assert_contains "$out" "orphaned" "status"
	start_daemon
	for _ in $(seq 50); do
		out=$("$AF" status --control "$T/c.sock")
		grep -Eq "^$id +$DPID " <<<"$out" && break
		sleep 0.1
	done
	grep -Eq "^$id +$DPID " <<<"$out" || fail "not adopted by the daemon $DPID: $out"
	assert_contains "$out" "attached to docker container af-k-$$" "status after adoption"
	assert_fenced "$(connects docker exec "af-k-$$")" "adopted"
	grep -q '"type":"gap"' "$T/j.jsonl" || fail "no gap record"
	local n_before
	n_before=$(grep -c '"type":"deny"' "$T/j.jsonl")
	# Its container exits: the daemon ends the fence, with the reason.
	docker kill "af-k-$$" >/dev/null
	wait_pins_gone "$id"
	for _ in $(seq 50); do grep -q '"type":"fence_end"' "$T/j.jsonl" && break; sleep 0.1; done
	assert_contains "$(grep '"type":"attach_end"' "$T/j.jsonl")" '"reason":"container exited' "journal"
	"$AF" log verify "$T/j.jsonl" >/dev/null || fail "journal not intact"
	# Before the kill, while orphaned (the kernel kept them) and after
	# the adoption: every record names the container.
	[ "$n_before" -ge 2 ] || fail "denials while orphaned and after the adoption: $n_before"
	assert_tagged "$T/j.jsonl" "af-k-$$"
}

# assert_closed JOURNAL REASON: the journal ends attach_end (REASON), then
# fence_end, and verifies.
assert_closed() {
	local j=$1 out
	for _ in $(seq 50); do tail -n 1 "$j" | grep -q '"type":"fence_end"' && break; sleep 0.1; done
	tail -n 1 "$j" | grep -q '"type":"fence_end"' || fail "$j does not end with fence_end: $(tail -n 2 "$j")"
	assert_contains "$(tail -n 2 "$j" | head -n 1)" '"type":"attach_end"' "attach_end before fence_end"
	assert_contains "$(grep '"type":"attach_end"' "$j")" "\"reason\":\"$2" "the reason"
	out=$("$AF" log verify "$j" 2>&1) || fail "journal not intact: $out"
}

# orphan NAME: a docker container NAME attached, its attacher SIGKILLed;
# ID its fence, CG its cgroup (thawed).
orphan() {
	af_rt_docker
	policy "$T/p.yaml"
	docker_run "$1" sleep 600
	attach_fg --container "$1" --policy "$T/p.yaml" --workspace /workspace --journal "$T/j.jsonl"
	ID=$(fence_of "$T/attach.out")
	CG=$(cgroup_of "docker:$1")
	assert_fenced "$(connects docker exec "$1")" "attached"
	kill -9 "$APID"
	wait "$APID" 2>/dev/null
	for _ in $(seq 50); do grep -q "^frozen 1" "$CG/cgroup.events" && break; sleep 0.1; done
	echo 0 >"$CG/cgroup.freeze"
	# Denied while nobody reads: the kernel keeps it for the journal.
	assert_fenced "$(connects docker exec "$1")" "orphaned"
}

# Detached with no supervisor at all: agentfence detach closes the journal
# itself (what the kernel kept, the gap, attach_end, fence_end).
test_orphan_detached_closes_its_journal() {
	orphan "af-od-$$"
	local n0 out
	n0=$(grep -c '"type":"deny"' "$T/j.jsonl")
	out=$(AGENTFENCE_CONTROL= "$AF" detach "$ID" 2>&1) || fail "detach: exit $?: $out"
	assert_contains "$out" "its journal is closed" "detach said so"
	wait_pins_gone "$ID"
	assert_open "$(connects docker exec "af-od-$$")" "after detach"
	assert_eq running "$(docker inspect --format '{{.State.Status}}' "af-od-$$")" "the container"
	grep -q "^frozen 0" "$CG/cgroup.events" || fail "left frozen: $(cat "$CG/cgroup.events")"
	assert_closed "$T/j.jsonl" "detached (orphaned"
	grep -q '"type":"gap"' "$T/j.jsonl" || fail "no gap record"
	# The denial made while orphaned was kept by the kernel and journaled.
	[ "$(grep -c '"type":"deny"' "$T/j.jsonl")" -gt "$n0" ] || fail "the orphan's denials are not journaled"
	assert_tagged "$T/j.jsonl" "af-od-$$"
	[ -e "/run/agentfence/attach/$ID.json" ] && fail "its record in /run/agentfence/attach stays"
	return 0
}

# Its container exits while orphaned: agentfence gc closes the journal
# with the reason before removing the fence.
test_orphan_container_exit_then_gc() {
	orphan "af-og-$$"
	docker kill "af-og-$$" >/dev/null
	local out
	out=$(AGENTFENCE_CONTROL= "$AF" gc 2>&1) || fail "gc: exit $?: $out"
	assert_contains "$out" "removed fence $ID: container exited" "gc said so"
	wait_pins_gone "$ID"
	assert_closed "$T/j.jsonl" "container exited"
}

# Adopted by a daemon, then detached through it.
test_adopted_orphan_detached() {
	orphan "af-oa-$$"
	start_daemon
	local out
	for _ in $(seq 50); do
		out=$("$AF" status --control "$T/c.sock")
		grep -Eq "^$ID +$DPID " <<<"$out" && break
		sleep 0.1
	done
	grep -Eq "^$ID +$DPID " <<<"$out" || fail "not adopted by the daemon $DPID: $out"
	"$AF" detach --control "$T/c.sock" "$ID" || fail "detach: exit $?"
	wait_pins_gone "$ID"
	assert_open "$(connects docker exec "af-oa-$$")" "after detach"
	assert_closed "$T/j.jsonl" "detached"
	grep -q '"type":"gap"' "$T/j.jsonl" || fail "no gap record"
}

# Held by the daemon, its container exits.
test_daemon_held_container_exit() {
	af_rt_docker
	policy "$T/p.yaml"
	docker_run "af-dx-$$" sleep 600
	start_daemon
	local out id
	out=$(AGENTFENCE_CONTROL=$T/c.sock "$AF" attach --container "af-dx-$$" --policy "$T/p.yaml" \
		--workspace /workspace --journal "$T/j.jsonl" 2>&1) || fail "attach: exit $?: $out"
	id=$(sed -n 's/^agentfence attach: fence \([0-9]*\) .*/\1/p' <<<"$out")
	assert_fenced "$(connects docker exec "af-dx-$$")" "through the daemon"
	docker kill "af-dx-$$" >/dev/null
	wait_pins_gone "$id"
	assert_closed "$T/j.jsonl" "container exited"
}

test_daemon_holds_the_fence() {
	af_rt_docker
	policy "$T/p.yaml"
	docker_run "af-d-$$" sleep 600
	start_daemon
	local out id t0 t1
	t0=$(af_now)
	out=$(AGENTFENCE_CONTROL=$T/c.sock "$AF" attach --container "af-d-$$" --runtime docker \
		--policy "$T/p.yaml" --workspace /workspace --journal "$T/j.jsonl" 2>&1) ||
		fail "attach: exit $?: $out"
	t1=$(af_now)
	assert_contains "$out" "held by the daemon (pid $DPID)" "attach returned"
	assert_contains "$out" "files are NOT fenced" "the daemon said what it does not fence"
	id=$(sed -n 's/^agentfence attach: fence \([0-9]*\) .*/\1/p' <<<"$out")
	assert_fenced "$(connects docker exec "af-d-$$")" "through the daemon"
	# The live stream (tail --fence) carries the container too.
	local live
	live=$("$AF" tail --fence "$id" --json)
	assert_contains "$live" '"type":"deny"' "the live stream's denial"
	[ -z "$(grep -v '"container":{"runtime":"docker"' <<<"$live")" ] ||
		fail "live records without the container: $live"
	out=$("$AF" status --control "$T/c.sock" --json)
	assert_contains "$out" "\"container\":\"$(docker inspect --format '{{.Id}}' "af-d-$$")\"" "status"
	# The same cgroup twice: refused, the first fence stays.
	out=$(AGENTFENCE_CONTROL=$T/c.sock "$AF" attach --container "af-d-$$" --policy "$T/p.yaml" \
		--workspace /workspace 2>&1)
	assert_eq 1 $? "a second attach"
	assert_fenced "$(connects docker exec "af-d-$$")" "after the refused second attach"
	"$AF" detach --control "$T/c.sock" "$id" || fail "detach: exit $?"
	wait_pins_gone "$id"
	assert_open "$(connects docker exec "af-d-$$")" "after detach"
	assert_contains "$(grep '"type":"attach_end"' "$T/j.jsonl")" '"reason":"detached"' "journal"
	for _ in $(seq 50); do grep -q '"type":"fence_end"' "$T/j.jsonl" && break; sleep 0.1; done
	"$AF" log verify "$T/j.jsonl" >/dev/null || fail "journal not intact: $("$AF" log verify "$T/j.jsonl" 2>&1)"
	assert_tagged "$T/j.jsonl" "af-d-$$"
	echo "attach through the daemon: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms" >&2
}

test_containerd_ctr() {
	af_rt_containerd
	policy "$T/p.yaml"
	own "ctr:af-j-$$"
	timeout 60 ctr -n "$AF_RT_CTR_NS" run -d "docker.io/library/$AF_RT_IMAGE" "af-j-$$" \
		sh -c "$EARLY" >/dev/null || fail "ctr run failed"
	attach_fg --container "af-j-$$" --runtime containerd --namespace "$AF_RT_CTR_NS" \
		--policy "$T/p.yaml" --workspace /workspace --journal "$T/j.jsonl"
	assert_contains "$(cat "$T/attach.out")" "on containerd container af-j-$$" "the runtime said"
	ctr -n "$AF_RT_CTR_NS" task exec --exec-id go$$ "af-j-$$" sh -c 'echo go >/tmp/go'
	sleep 0.5
	assert_fenced "$(ctr -n "$AF_RT_CTR_NS" task exec --exec-id o$$ "af-j-$$" cat /tmp/out)" \
		"a process started before"
	assert_fenced "$(connects ctr -n "$AF_RT_CTR_NS" task exec --exec-id c$$ "af-j-$$")" "ctr task exec"
	ctr -n "$AF_RT_CTR_NS" task kill -s KILL "af-j-$$" >/dev/null
	for _ in $(seq 100); do af_running "$APID" || break; sleep 0.1; done
	af_running "$APID" && fail "attach still runs after the task was killed"
	assert_contains "$(grep '"type":"attach_end"' "$T/j.jsonl")" '"reason":"container exited' "journal"
	"$AF" log verify "$T/j.jsonl" >/dev/null || fail "journal not intact: $("$AF" log verify "$T/j.jsonl" 2>&1)"
}

test_podman() {
	af_rt_podman
	policy "$T/p.yaml"
	own "podman:af-p-$$"
	podman run -d --name "af-p-$$" "$AF_RT_IMAGE" sh -c "$EARLY" >/dev/null || fail "podman run"
	attach_fg --container "af-p-$$" --runtime podman --policy "$T/p.yaml" --workspace /workspace \
		--journal "$T/j.jsonl"
	assert_contains "$(cat "$T/attach.out")" "on podman container af-p-$$" "the runtime said"
	podman exec "af-p-$$" sh -c 'echo go >/tmp/go'
	sleep 0.5
	assert_fenced "$(podman exec "af-p-$$" cat /tmp/out)" "a process started before"
	assert_fenced "$(connects podman exec "af-p-$$")" "podman exec"
	kill -TERM "$APID"
	wait "$APID"
	assert_eq 0 $? "attach's exit status on SIGTERM (detach)"
	assert_open "$(connects podman exec "af-p-$$")" "after detach"
	assert_contains "$(grep '"type":"attach_end"' "$T/j.jsonl")" '"reason":"detached (signal 15' "journal"
	"$AF" log verify "$T/j.jsonl" >/dev/null || fail "journal not intact: $("$AF" log verify "$T/j.jsonl" 2>&1)"
}

test_landlock_says_files_are_not_fenced_and_strict_refuses() {
	af_rt_docker
	"$AF" doctor 2>/dev/null | grep -Eq "^backend: +landlock" ||
		skip "this kernel has BPF LSM: attach fences files here (tests/vm/attach.sh)"
	policy "$T/p.yaml"
	docker_run "af-l-$$" sleep 600
	local out rc
	out=$(AGENTFENCE_CONTROL= "$AF" attach --container "af-l-$$" --policy "$T/p.yaml" \
		--workspace /workspace --strict 2>&1)
	rc=$?
	assert_eq 3 "$rc" "--strict's exit status"
	assert_contains "$out" "--strict: the landlock backend cannot fence the files" "why"
	assert_not_contains "$out" "supervising" "nothing attached"
	assert_open "$(connects docker exec "af-l-$$")" "after --strict refused"
	attach_fg --container "af-l-$$" --policy "$T/p.yaml" --workspace /workspace --no-journal
	out=$(cat "$T/attach.out")
	# The warning comes before the fence exists.
	local w s
	w=$(grep -n "files are NOT fenced" <<<"$out" | cut -d: -f1)
	s=$(grep -n "supervising here" <<<"$out" | cut -d: -f1)
	[ -n "$w" ] && [ "$w" -lt "$s" ] || fail "no warning before the fence: $out"
	# Through a daemon: the same refusal.
	start_daemon
	kill -TERM "$APID"
	wait "$APID"
	out=$(AGENTFENCE_CONTROL=$T/c.sock "$AF" attach --container "af-l-$$" --policy "$T/p.yaml" \
		--workspace /workspace --strict 2>&1)
	assert_eq 3 $? "--strict through the daemon"
	assert_contains "$out" "cannot fence the files" "the daemon's reason"
}

test_bad_input() {
	af_rt_docker
	policy "$T/p.yaml"
	local out
	out=$("$AF" attach --container "no-such-$$" --runtime docker --policy "$T/p.yaml" \
		--workspace /workspace 2>&1)
	assert_eq 1 $? "unknown container"
	assert_contains "$out" "no container no-such-$$ in docker" "unknown container"
	own "docker:af-s-$$"
	docker create --name "af-s-$$" "$AF_RT_IMAGE" /bin/true >/dev/null || fail "docker create"
	out=$("$AF" attach --container "af-s-$$" --policy "$T/p.yaml" --workspace /workspace 2>&1)
	assert_eq 1 $? "stopped container"
	assert_contains "$out" "is not running: created" "stopped container"
	docker_run "af-b-$$" sh -c 'ln -s /workspace /ws; ln -s /usr/share/doc /hostonly; exec sleep 600'
	sleep 0.3
	out=$("$AF" attach --container "af-b-$$" --policy "$T/p.yaml" --workspace /nonexistent 2>&1)
	assert_eq 2 $? "a workspace the container does not have"
	assert_contains "$out" "workspace /nonexistent (as process" "said as the container sees it"
	# A link to a path of the host's: read inside the container's root,
	# where it leads nowhere.
	[ -d /usr/share/doc ] || fail "the host has no /usr/share/doc"
	out=$("$AF" attach --container "af-b-$$" --policy "$T/p.yaml" --workspace /hostonly 2>&1)
	assert_eq 2 $? "a link out of the container's root"
	assert_contains "$out" "No such file or directory" "the link read in the container's root"
	out=$("$AF" attach --container "af-b-$$" --policy "$T/p.yaml" --workspace / 2>&1)
	assert_eq 2 $? "the container's /"
	out=$("$AF" attach --policy "$T/p.yaml" --workspace /workspace 2>&1)
	assert_eq 2 $? "no target"
	out=$("$AF" attach --pid 1 --cgroup /sys --policy "$T/p.yaml" --workspace /workspace 2>&1)
	assert_eq 2 $? "two targets"
	out=$("$AF" attach --pid 99999999999 --policy "$T/p.yaml" --workspace /workspace 2>&1)
	assert_eq 2 $? "not a pid"
	out=$("$AF" attach --pid 1 --policy "$T/p.yaml" --workspace /workspace 2>&1)
	assert_eq 1 $? "the root cgroup"
	assert_contains "$out" "root cgroup" "the root cgroup"
	# Through a link in the container: the workspace it leads to.
	attach_fg --container "af-b-$$" --policy "$T/p.yaml" --workspace /ws --no-journal
	assert_contains "$(cat "$T/attach.out")" "workspace /workspace," "resolved in the container"
}

af_limit test_sigkill_attacher_stays_enforced_then_adopted 60
af_limit test_orphan_detached_closes_its_journal 60
af_limit test_orphan_container_exit_then_gc 60
af_limit test_adopted_orphan_detached 60
af_limit test_containerd_ctr 90
af_limit test_podman 90
af_main "$@"
