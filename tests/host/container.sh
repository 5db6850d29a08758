# SPDX-License-Identifier: GPL-2.0
# Finding a running container through its real runtime (userspace/
# container.c, by tests/helpers/container-find): by name, id and unique
# id prefix; ambiguous, unknown and stopped ones refused with the
# candidates; the cgroup is the kernel's (/proc/PID/cgroup), and is the
# one every process of the container, `exec` sessions included, is in.
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/helpers/runtimes.bash"

FIND=$HELPERS/container-find

# Containers of the test's own, removed when the test (its subshell)
# exits, however it ends.
NAMES=()
own() {	# runtime:name
	NAMES+=("$1")
	trap cleanup EXIT
}
cleanup() {
	local n
	for n in "${NAMES[@]}"; do
		case $n in
		docker:*) docker rm -f "${n#docker:}" ;;
		podman:*) podman rm -f "${n#podman:}" ;;
		ctr:*)
			# rm -f kills the task first (SIGKILL) and waits for it.
			ctr -n "$AF_RT_CTR_NS" task rm -f "${n#ctr:}"
			ctr -n "$AF_RT_CTR_NS" containers rm "${n#ctr:}"
			;;
		esac
	done >/dev/null 2>&1
}
docker_run() {	# name cmd...
	local n=$1
	shift
	own "docker:$n"
	docker run -d --name "$n" "$AF_RT_IMAGE" "$@" >/dev/null || fail "docker run $n failed"
}

# Fields of a found container: runtime id name pid cgroup.
found() {	# ref [options...]
	OUT=$("$FIND" "$@") || fail "container-find $*: exit $?: $OUT"
	read -r RT ID NAME PID CG <<<"$OUT"
}

test_docker_by_name_id_and_prefix() {
	af_rt_docker
	docker_run "af-c-$$" /bin/sleep 60
	found "af-c-$$"
	assert_eq docker "$RT" "runtime"
	assert_eq "$(docker inspect --format '{{.Id}}' "af-c-$$")" "$ID" "full id"
	assert_eq "$(docker inspect --format '{{.State.Pid}}' "af-c-$$")" "$PID" "pid"
	# The kernel's word: the container's process is in that cgroup.
	grep -qx "$PID" "$CG/cgroup.procs" || fail "pid $PID not in $CG/cgroup.procs"
	local id=$ID
	found "$id"
	assert_eq "af-c-$$" "$NAME" "by full id"
	found "${id:0:12}"
	assert_eq "$id" "$ID" "by a 12-character prefix"
	found --runtime docker "af-c-$$"
	assert_eq "$id" "$ID" "--runtime docker"
}

test_docker_exec_session_in_the_same_cgroup() {
	af_rt_docker
	docker_run "af-x-$$" /bin/sleep 60
	found "af-x-$$"
	# An exec session's process joins the container's cgroup.
	docker exec -d "af-x-$$" /bin/sleep 59
	local p i n=0
	for ((i = 0; i < 50; i++)); do
		n=$(wc -l <"$CG/cgroup.procs")
		[ "$n" -ge 2 ] && break
		sleep 0.1
	done
	[ "$n" -ge 2 ] || fail "the exec session is not in $CG: $(cat "$CG/cgroup.procs")"
	for p in $(cat "$CG/cgroup.procs"); do
		assert_contains "$(tr '\0' ' ' </proc/"$p"/cmdline)" "sleep" "process $p of the container"
	done
}

test_unknown_container_lists_what_there_is() {
	af_rt_docker
	docker_run "af-u-$$" /bin/sleep 60
	OUT=$("$FIND" --runtime docker "no-such-container-$$")
	assert_eq 3 $? "exit (ENOENT)"
	assert_contains "$OUT" "no container no-such-container-$$ in docker" "message"
	assert_contains "$OUT" "listed" "how many were listed"
}

test_stopped_container_refused() {
	af_rt_docker
	own "docker:af-s-$$"
	docker create --name "af-s-$$" "$AF_RT_IMAGE" /bin/true >/dev/null || fail "docker create"
	OUT=$("$FIND" "af-s-$$")
	assert_eq 5 $? "exit (ESRCH)"
	assert_contains "$OUT" "is not running: created" "message"
	docker start "af-s-$$" >/dev/null
	docker wait "af-s-$$" >/dev/null
	OUT=$("$FIND" "af-s-$$")
	assert_eq 5 $? "exit after it ran and exited"
	assert_contains "$OUT" "is not running: exited" "message"
}

test_ambiguous_prefix_lists_candidates() {
	af_rt_docker
	# Twenty containers: some two ids share their first hex digit.
	local i ids=() p=
	for i in $(seq 1 20); do
		docker_run "af-a$i-$$" /bin/sleep 60
	done
	ids=$(for i in $(seq 1 20); do docker inspect --format '{{.Id}}' "af-a$i-$$"; done)
	p=$(echo "$ids" | cut -c1 | sort | uniq -d | head -n 1)
	[ -n "$p" ] || fail "no two of 20 ids share a first digit (1 in 10^4)"
	# Other containers may share it too: those are candidates as well.
	OUT=$("$FIND" --runtime docker "$p")
	assert_eq 4 $? "exit (ENOTUNIQ)"
	assert_contains "$OUT" "names several containers" "message"
	local n
	n=$(echo "$ids" | grep "^$p" | head -n 1)
	assert_contains "$OUT" "${n:0:12}" "a candidate"
	assert_contains "$OUT" "give more of the id" "the way out"
}

test_docker_socket_or_cli_said() {
	af_rt_docker
	docker_run "af-v-$$" /bin/sleep 60
	local id
	id=$(docker inspect --format '{{.Id}}' "af-v-$$")
	OUT=$("$FIND" --runtime docker "${id:0:10}") || fail "by prefix: $OUT"
	assert_contains "$OUT" "via dockerd's API at /var/run/docker.sock" "found through the socket"
	assert_contains "$OUT" "docker $id af-v-$$" "the container"
	OUT=$(DOCKER_HOST=unix:///var/run/docker.sock "$FIND" "af-v-$$") || fail "DOCKER_HOST unix: $OUT"
	assert_contains "$OUT" "via dockerd's API at /var/run/docker.sock" "DOCKER_HOST unix://"
	# DOCKER_HOST the CLI would reach by TCP: the CLI's (nothing
	# listens on 127.0.0.1:9, the CLI says so); no socket: the same.
	OUT=$(DOCKER_HOST=tcp://127.0.0.1:9 "$FIND" --runtime docker "af-v-$$")
	assert_eq 1 $? "DOCKER_HOST tcp:// with nothing there"
	assert_contains "$OUT" "\`docker ps" "the CLI was asked"
	OUT=$(DOCKER_HOST=unix://$T/none.sock "$FIND" --runtime docker "af-v-$$")
	assert_eq 1 $? "DOCKER_HOST naming no socket"
	assert_contains "$OUT" "\`docker ps" "the CLI was asked"
	OUT=$(DOCKER_HOST=tcp://127.0.0.1:9 PATH=/nonexistent "$FIND" --runtime docker "af-v-$$")
	assert_contains "$OUT" "docker: not installed" "without a socket nor a CLI"
	# A reference is never a path of the API: ../, ?, # are no names.
	local ref
	for ref in "../containers/af-v-$$" "af-v-$$?all=1" "af-v-$$#x" "af-v-$$/json"; do
		OUT=$("$FIND" --runtime docker "$ref")
		assert_eq 3 $? "reference $ref"
		assert_contains "$OUT" "no container" "reference $ref"
	done
}

test_containerd_task() {
	af_rt_containerd
	own "ctr:af-j-$$"
	timeout 60 ctr -n "$AF_RT_CTR_NS" run -d "docker.io/library/$AF_RT_IMAGE" "af-j-$$" /bin/sleep 60 \
		>/dev/null || fail "ctr run failed"
	found --runtime containerd --namespace "$AF_RT_CTR_NS" "af-j-$$"
	assert_eq containerd "$RT" "runtime"
	grep -qx "$PID" "$CG/cgroup.procs" || fail "pid $PID not in $CG/cgroup.procs"
	# The same name in another namespace is not there.
	OUT=$("$FIND" --runtime containerd --namespace "other-$$" "af-j-$$")
	assert_eq 3 $? "another namespace"
}

test_runtime_not_running_said() {
	OUT=$(CONTAINERD_ADDRESS=/run/agentfence-tests/none.sock "$FIND" --runtime containerd job)
	assert_eq 1 $? "exit"
	assert_contains "$OUT" "no socket at /run/agentfence-tests/none.sock" "message"
	OUT=$(PATH=/nonexistent "$FIND" --runtime podman job)
	assert_eq 1 $? "exit"
	assert_contains "$OUT" "podman: not installed" "message"
}

test_podman_by_name() {
	af_rt_podman
	own "podman:af-p-$$"
	podman run -d --name "af-p-$$" "$AF_RT_IMAGE" /bin/sleep 60 >/dev/null || fail "podman run"
	found --runtime podman "af-p-$$"
	assert_eq podman "$RT" "runtime"
	grep -qx "$PID" "$CG/cgroup.procs" || fail "pid $PID not in $CG/cgroup.procs"
}

af_limit test_ambiguous_prefix_lists_candidates 120
af_main "$@"
