# SPDX-License-Identifier: GPL-2.0
# agentfence daemon --kubernetes against a real single-node Kubernetes
# (scripts/k8s: etcd, kube-apiserver, containerd's CRI, a kubelet with the
# cgroupfs driver; one cluster for the whole file, torn down at its end).
# Skipped when the cluster's binaries are not cached (a fresh machine:
# building them takes ~10 min; make test-k8s builds them). Pods use
# hostNetwork, so their traffic stays on this host's loopback: the policy
# allows TCP to 127.0.0.2:7000 and nothing else; nothing listens there,
# so an allowed connect is refused by the kernel ("Connection refused")
# and a fenced one fails with EPERM ("Operation not permitted").
# Commands run in a pod's container through its containerd (ctr task
# exec: kubectl exec needs the node's name to resolve).
source "$(dirname "$0")/../lib.sh"
source "$TOP/tests/helpers/metrics.bash"

AF_K8S_CACHE=${AF_K8S_CACHE:-/var/cache/agentfence/k8s}
KDIR=${AF_K8S_TEST_DIR:-/var/tmp/agentfence-k8s-test}
export KUBECONFIG=$KDIR/kubeconfig
NS=agentfence

need_cluster() {
	[ -x "$AF_K8S_CACHE/bin/kube-apiserver" ] && [ -x "$AF_K8S_CACHE/bin/kubelet" ] ||
		skip "no Kubernetes binaries in $AF_K8S_CACHE/bin (make test-k8s builds them: ~10 min)"
	local c
	for c in etcd containerd ctr kubectl openssl; do
		command -v "$c" >/dev/null || skip "$c is not installed (scripts/k8s build installs it)"
	done
	if ! kubectl get --raw /readyz >/dev/null 2>&1 ||
		! kubectl get node af-node -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True; then
		[ -f "$KDIR/kubeconfig" ] && "$TOP/scripts/k8s" down "$KDIR" >/dev/null 2>&1
		mkdir -p "$KDIR"
		"$TOP/scripts/k8s" up "$KDIR" >"$KDIR/up.log" 2>&1 9>&- ||
			fail "scripts/k8s up: $(tail -5 "$KDIR/up.log")"
	fi
	kubectl get namespace "$NS" >/dev/null 2>&1 || kubectl create namespace "$NS" >/dev/null
	trap cleanup EXIT
}

cleanup() {
	local p
	[ -f "$T/lpid" ] && kill "$(cat "$T/lpid")" 2>/dev/null
	# The daemon's fences first (a daemon that ends releases them,
	# enforced and orphaned): detached, the pods run on.
	if [ -f "$T/dpid" ] && af_running "$(cat "$T/dpid")"; then
		for p in $("$AF" status --json --control "$T/c.sock" 2>/dev/null |
			/usr/bin/python3 -c 'import json,sys; [print(f["id"]) for f in json.load(sys.stdin).get("fences",[])]' 2>/dev/null); do
			"$AF" detach --control "$T/c.sock" "$p" >/dev/null 2>&1
		done
		kill -TERM "$(cat "$T/dpid")" 2>/dev/null
		for _ in $(seq 50); do af_running "$(cat "$T/dpid")" || break; sleep 0.1; done
		kill -9 "$(cat "$T/dpid")" 2>/dev/null
	fi
	# Orphans a SIGKILLed daemon left on the pods' cgroups.
	for p in $(AGENTFENCE_CONTROL= "$AF" status --json 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; [print(f["id"]) for f in json.load(sys.stdin).get("fences",[]) if "/kubepods/" in f["cgroup"] or "/agentfence/k8s/" in f["cgroup"]]' 2>/dev/null); do
		AGENTFENCE_CONTROL= "$AF" detach "$p" >/dev/null 2>&1
	done
	# The placeholder cgroups of fences made before their pod's cgroup.
	find /sys/fs/cgroup -depth -type d -path '*/agentfence/k8s/*' -exec rmdir {} + 2>/dev/null
	kubectl delete pods -l af-test --grace-period=0 --force --wait=false >/dev/null 2>&1
	kubectl -n "$NS" delete configmaps -l agentfence.io/policy >/dev/null 2>&1
	for _ in $(seq 100); do
		[ -z "$(kubectl get pods -l af-test -o name 2>/dev/null)" ] && break
		sleep 0.2
	done
}

# The daemon, not a child of the test's shell; its log in $T/daemon.log,
# its JSON lines (stdout) in $T/stdout.jsonl, /metrics on 127.0.0.1:$MPORT.
start_daemon() {
	[ -n "${MPORT:-}" ] || MPORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	(setsid sh -c 'echo $$ >"$0/dpid"; exec "$@"' "$T" "$AF" daemon --foreground --control "$T/c.sock" \
		--kubernetes --node af-node --journal-dir "$T/journals" --listen "127.0.0.1:$MPORT" \
		>>"$T/stdout.jsonl" 2>>"$T/daemon.log" </dev/null 9>&- &)
	for _ in $(seq 300); do
		grep -q "pods listed" "$T/daemon.log" 2>/dev/null && return 0
		[ -f "$T/dpid" ] && ! af_running "$(cat "$T/dpid")" && fail "the daemon died: $(cat "$T/daemon.log")"
		sleep 0.1
	done
	fail "the daemon did not list the pods in 30 s: $(cat "$T/daemon.log")"
}

# event_of POD REASON: the messages of POD's Events with REASON, waited
# for (bounded: 4 s); empty when none came.
event_of() {
	local ev=
	for _ in $(seq 20); do
		ev=$(kubectl get events --field-selector "involvedObject.name=$1,reason=$2" \
			-o jsonpath='{.items[*].message}')
		[ -n "$ev" ] && break
		sleep 0.2
	done
	echo "$ev"
}

# policy NAME ALLOWED_ADDR: the ConfigMap NAME, TCP to ADDR:7000 only.
policy() {
	cat >"$T/$1.yaml" <<-YAML
	apiVersion: agentfence/v1
	kind: Policy
	metadata: {name: $1}
	spec:
	  filesystem:
	    writable: ["\${WORKSPACE}"]
	  network:
	    allow:
	      - {cidr: $2/32, ports: [7000], protocol: tcp}
	YAML
	configmap "$1" "$T/$1.yaml"
}

configmap() {	# NAME FILE: created or replaced, labelled
	kubectl -n "$NS" create configmap "$1" --from-file=policy.yaml="$2" --dry-run=client -o yaml |
		kubectl label --local -f - agentfence.io/policy=true -o yaml |
		kubectl -n "$NS" apply -f - >/dev/null || fail "configmap $1"
}

# pod NAME [POLICY]: a busybox pod on the node, annotated when POLICY is
# given; waits until it runs.
pod() {
	local ann=""
	[ -n "${2:-}" ] && ann="annotations: {agentfence.io/policy: $2, agentfence.io/workspace: /tmp}"
	kubectl apply -f - >/dev/null <<-YAML || fail "pod $1"
	apiVersion: v1
	kind: Pod
	metadata:
	  name: $1
	  labels: {af-test: "1"}
	  $ann
	spec:
	  nodeName: af-node
	  hostNetwork: true
	  automountServiceAccountToken: false
	  terminationGracePeriodSeconds: 1
	  containers:
	  - name: main
	    image: docker.io/library/af-busybox:test
	    imagePullPolicy: Never
	    command: ["/bin/sh", "-c", "exec sleep 3600"]
	YAML
	kubectl wait --for=condition=Ready "pod/$1" --timeout=60s >/dev/null || fail "pod $1 did not run"
}

# in_pod NAME CMD: CMD in the pod's container; its output in OUT.
in_pod() {
	local cid
	cid=$(kubectl get pod "$1" -o jsonpath='{.status.containerStatuses[0].containerID}')
	OUT=$(timeout 20 ctr -a "$KDIR/containerd.sock" -n k8s.io task exec --exec-id "t$RANDOM$RANDOM" \
		"${cid#containerd://}" sh -c "$2" 2>&1)
}

NC='echo | nc 127.0.0.3 7000; echo | nc 127.0.0.2 7000'

# verdicts NAME: "3:X 2:Y" of the pod's connects (X, Y: perm|refused).
verdicts() {
	in_pod "$1" "$NC"
	V=$(printf '%s\n' "$OUT" | awk '/127.0.0.3/ { a = /not permitted/ ? "perm" : "refused" }
		/127.0.0.2/ { b = /not permitted/ ? "perm" : "refused" } END { print "3:" a " 2:" b }')
}

# wait_verdicts NAME WANT: polls (the watch is asynchronous), bounded.
wait_verdicts() {
	for _ in $(seq 50); do
		verdicts "$1"
		[ "$V" = "$2" ] && return 0
		sleep 0.2
	done
	assert_eq "$2" "$V" "connects from pod $1 ($OUT)"
}

fence_of() {	# POD: its fence id in the daemon's status
	local uid
	uid=$(kubectl get pod "$1" -o jsonpath='{.metadata.uid}' 2>/dev/null)
	[ -n "$uid" ] || return 0
	"$AF" status --json --control "$T/c.sock" | /usr/bin/python3 -c '
import json, sys
for f in json.load(sys.stdin)["fences"]:
    if sys.argv[1] in f["cgroup"]:
        print(f["id"])' "$uid"
}

journal_of() {	# POD: its journal (not its early fence's, *-early.jsonl)
	ls "$T/journals/default_$1_"*.jsonl 2>/dev/null | grep -v -- '-early\.jsonl$' | head -1
}

# The cluster, once for the file (the other tests reuse it): ~30 s on an
# idle 2-core machine, much more under load.
test_0_cluster() {
	need_cluster
	kubectl get node af-node >/dev/null || fail "no node"
}
af_limit test_0_cluster 240

# deploy/ is accepted by the API server as it stands (a server-side dry
# run: schema, RBAC objects, the DaemonSet's probes and port).
test_deploy_dry_run() {
	need_cluster
	assert_exit 0 kubectl apply --dry-run=server -f "$TOP/deploy/"
	assert_contains "$OUT" "daemonset.apps/agentfence created (server dry run)" "the DaemonSet"
	local ds
	ds=$(kubectl create --dry-run=client -o json -f "$TOP/deploy/20-daemonset.yaml")
	assert_contains "$ds" '"/healthz"' "liveness probe"
	assert_contains "$ds" '"/readyz"' "readiness probe"
	assert_contains "$ds" '":9464"' "the daemon listens on the probes' port"
}
af_limit test_deploy_dry_run 60

# An annotated pod is fenced per its policy (it ran before the daemon:
# attached at start and reported so; one made after: "started"); a pod
# without the annotation is untouched. The journal names the pod.
test_egress() {
	need_cluster
	policy net 127.0.0.2
	pod agent net
	pod plain
	start_daemon
	assert_contains "$(cat "$T/daemon.log")" "pod default/agent: fence" "agent fenced"
	assert_contains "$(cat "$T/daemon.log")" "running before the daemon started" "reported as running before"
	assert_not_contains "$(cat "$T/daemon.log")" "pod default/plain" "plain untouched"
	wait_verdicts agent "3:perm 2:refused"
	verdicts plain
	assert_eq "3:refused 2:refused" "$V" "the unannotated pod is not fenced"
	pod late net
	wait_verdicts late "3:perm 2:refused"
	local j
	j=$(journal_of agent)
	[ -n "$j" ] || fail "no journal for pod agent in $T/journals"
	assert_contains "$(grep '"type":"k8s_pod"' "$j")" '"pod":{"namespace":"default","name":"agent","node":"af-node"}' "k8s_pod record"
	assert_contains "$(grep '"type":"k8s_pod"' "$j")" '"container":"main"' "the container"
	assert_contains "$(grep '"type":"k8s_pod"' "$(journal_of late)")" '"how":"from its cgroup'"'"'s creation"' \
		"a pod after the daemon: fenced from its cgroup's creation"
	for _ in $(seq 20); do grep -q '"type":"deny"' "$j" && break; sleep 0.2; done
	assert_contains "$(grep '"type":"deny"' "$j")" "127.0.0.3" "the denial journaled"
	assert_contains "$("$AF" tail --pod default/agent --json 2>&1)" '"type":"k8s_pod"' "tail --pod"
	assert_exit 1 "$AF" tail --pod default/plain
	# Every record of a pod's fence names the pod (and its node).
	/usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    assert d.get("pod") == {"namespace": "default", "name": "agent", "node": "af-node"}, d
k = [json.loads(l) for l in open(sys.argv[1]) if "\"k8s_pod\"" in l]
assert k and len(k[0]["uid"]) == 36, k' "$j" || fail "a record of pod agent's journal does not name it"
	assert_exit 0 "$AF" tail --pod default/agent --type deny
	assert_contains "$OUT" "<pod default/agent on af-node container main>" "tail shows the pod and the container"
	# The same records on stdout, for a log collector; tail --pod picks
	# one pod's out of them.
	assert_exit 0 "$AF" tail --pod default/late --json --journal "$T/stdout.jsonl"
	assert_contains "$OUT" '"type":"k8s_pod"' "late's records on stdout"
	assert_not_contains "$OUT" '"name":"agent"' "only late's"
	assert_contains "$(grep '"type":"deny"' "$T/stdout.jsonl")" '"name":"agent"' "agent's denial on stdout"
	assert_exit 2 "$AF" tail --pod agent
	# /metrics: the pods fenced, their denials by kind.
	assert_eq 2 "$(metric agentfence_pods_fenced)" "two pods fenced"
	[ "$(metric agentfence_denials_total namespace=default pod=agent kind=network)" -ge 1 ] ||
		fail "no network denial of pod agent in /metrics: $(curl -s "http://127.0.0.1:$MPORT/metrics" | grep denials)"
	assert_eq 0 "$(metric agentfence_denials_total namespace=default pod=agent kind=file)" "no file denial"
	assert_eq 1 "$(metric agentfence_k8s_synced)" "synced"
	assert_eq ready "$(curl -sf "http://127.0.0.1:$MPORT/readyz")" "/readyz after the first list"
	[ "$(metric agentfence_journal_records_total)" -ge 4 ] || fail "journal records in /metrics"
}
af_limit test_egress 120

# in_ctr POD CONTAINER CMD: CMD in that container of the pod (as in_pod;
# an exec session joins its container's cgroup, as kubectl exec -c does).
in_ctr() {
	local cid
	cid=$(kubectl get pod "$1" -o jsonpath="{.status.containerStatuses[?(@.name==\"$2\")].containerID}")
	[ -n "$cid" ] || fail "pod $1 has no container $2"
	OUT=$(timeout 20 ctr -a "$KDIR/containerd.sock" -n k8s.io task exec --exec-id "t$RANDOM$RANDOM" \
		"${cid#containerd://}" sh -c "$3" 2>&1)
}

# Each record of a process of a pod names its container (issue 15): a
# pod of two containers, each connecting to an address of its own (side
# also at its start, before the kubelet reports it: named from the
# runtime's bundle), and an exec session in each. Every record of both
# its journals (the early fence's and its own) and of the JSON lines is
# checked: a process record names agent or side with the id the pod's
# status gives, each denial the container that made it; a record of no
# process names none; a k8s_container record has each full id.
test_containers() {
	need_cluster
	policy net 127.0.0.2
	start_daemon
	kubectl apply -f - >/dev/null <<-YAML || fail "pod duo"
	apiVersion: v1
	kind: Pod
	metadata:
	  name: duo
	  labels: {af-test: "1"}
	  annotations: {agentfence.io/policy: net, agentfence.io/workspace: /tmp}
	spec:
	  nodeName: af-node
	  hostNetwork: true
	  automountServiceAccountToken: false
	  terminationGracePeriodSeconds: 1
	  containers:
	  - name: agent
	    image: docker.io/library/af-busybox:test
	    imagePullPolicy: Never
	    command: ["/bin/sh", "-c", "exec sleep 3600"]
	  - name: side
	    image: docker.io/library/af-busybox:test
	    imagePullPolicy: Never
	    command: ["/bin/sh", "-c", "echo | nc 127.0.0.5 7000; exec sleep 3600"]
	YAML
	kubectl wait --for=condition=Ready pod/duo --timeout=60s >/dev/null || fail "pod duo did not run"
	local j
	for _ in $(seq 50); do j=$(journal_of duo); [ -n "$j" ] && break; sleep 0.2; done
	[ -n "$j" ] || fail "no journal for pod duo: $(cat "$T/daemon.log")"
	in_ctr duo agent 'echo | nc 127.0.0.3 7000'
	assert_contains "$OUT" "not permitted" "agent's connect denied"
	in_ctr duo side 'echo | nc 127.0.0.4 7000'
	assert_contains "$OUT" "not permitted" "side's connect denied"
	for _ in $(seq 50); do grep -q '127\.0\.0\.4' "$j" && break; sleep 0.2; done
	kubectl get pod duo -o json >"$T/duo.json"
	/usr/bin/python3 - "$T/duo.json" "$T/stdout.jsonl" "$T/journals"/default_duo_*.jsonl <<-'PY' ||
	import json, sys
	st = json.load(open(sys.argv[1]))["status"]["containerStatuses"]
	ids = {c["name"]: c["containerID"].split("://")[1] for c in st}
	assert set(ids) == {"agent", "side"}, ids
	who = {"127.0.0.3": "agent", "127.0.0.4": "side", "127.0.0.5": "side"}
	seen, named = {}, {}
	for f in sys.argv[3:] + [sys.argv[2]]:
	    for l in open(f):
	        d = json.loads(l)
	        if d.get("pod", {}).get("name") != "duo":
	            continue
	        c = d.get("container")
	        if d["type"] == "k8s_container":
	            assert c is None and ids.get(d["name"]) == d["id"], d
	            named[d["name"]] = d["id"]
	            continue
	        if d["type"] not in ("exec", "fork", "exit", "file", "deny", "connect") or d.get("pid", 0) <= 0:
	            assert c is None, ("a record of no process names a container", d)
	            continue
	        # A fork by a parent outside the pod (runc starting an exec
	        # session into it): the record is the parent's, of no container.
	        if c is None and d["type"] == "fork":
	            continue
	        assert c is not None, ("a process record names no container", d)
	        assert c.get("name") in ids and c["id"] == ids[c["name"]][:12], (c, ids, d)
	        for a, n in who.items():
	            if d["type"] == "deny" and a in d["effect"]:
	                assert c["name"] == n, (a, n, d)
	                seen[(a, f == sys.argv[2])] = True
	for a in who:
	    assert (a, False) in seen, ("no journaled denial of", a, seen)
	for a in ("127.0.0.3", "127.0.0.4"):
	    assert (a, True) in seen, ("no JSON lines denial of", a, seen)
	assert named == ids, (named, ids)
	PY
		fail "the records of pod duo do not name their containers right (journals: $(ls "$T/journals"))"
	# tail: the container shown; --container picks one container's.
	assert_exit 0 "$AF" tail --pod default/duo --type deny
	assert_contains "$OUT" "<pod default/duo on af-node container side>" "tail shows the container"
	assert_exit 0 "$AF" tail --pod default/duo --container side --type deny
	assert_contains "$OUT" "127.0.0.4" "side's denial"
	assert_not_contains "$OUT" "127.0.0.3" "not agent's"
	assert_exit 0 "$AF" tail --pod default/duo --container agent --json --journal "$T/stdout.jsonl"
	assert_contains "$OUT" "127.0.0.3" "agent's denial on stdout"
	assert_not_contains "$OUT" "127.0.0.4" "not side's"
	assert_not_contains "$OUT" '"name":"side"' "no record of side"
}
af_limit test_containers 120

# A ConfigMap edited: the fences using it change at once (atomically,
# the pods not restarted); an invalid edit fences deny-all, with an Event.
test_configmap_live() {
	need_cluster
	policy net 127.0.0.2
	pod agent net
	start_daemon
	wait_verdicts agent "3:perm 2:refused"
	policy net 127.0.0.3
	wait_verdicts agent "3:refused 2:perm"
	assert_contains "$(cat "$T/daemon.log")" "policy net updated" "the update said"
	printf 'apiVersion: agentfence/v1\nkind: Policy\nspec: {bogus: 1}\n' >"$T/bad.yaml"
	configmap net "$T/bad.yaml"
	wait_verdicts agent "3:perm 2:perm"
	local ev
	ev=$(event_of agent AgentfencePolicyInvalid)
	assert_contains "$ev" "fenced deny-all" "the Event"
	assert_contains "$ev" "configmap:$NS/net" "the Event says where the policy is wrong"
}
af_limit test_configmap_live 90

# A pod naming a policy that does not exist, or one that is invalid:
# fenced deny-all from the start, and an Event says why.
test_missing_invalid() {
	need_cluster
	printf 'apiVersion: agentfence/v1\nkind: Policy\nmetadata: {name: bad}\nspec: {network: {allow: [{cidr: 300.1.1.1/32}]}}\n' >"$T/bad.yaml"
	configmap bad "$T/bad.yaml"
	start_daemon
	pod ghost no-such-policy
	pod broken bad
	wait_verdicts ghost "3:perm 2:perm"
	wait_verdicts broken "3:perm 2:perm"
	local ev
	ev=$(event_of ghost AgentfencePolicyMissing)
	assert_contains "$ev" "no ConfigMap $NS/no-such-policy" "missing: the Event"
	ev=$(kubectl get events --field-selector involvedObject.name=broken,reason=AgentfencePolicyInvalid \
		-o jsonpath='{.items[*].message}')
	assert_contains "$ev" "deny-all" "invalid: the Event"
	# The plain pod of another test is not here; a new valid policy
	# under the missing name lifts the deny-all.
	policy no-such-policy 127.0.0.2
	wait_verdicts ghost "3:perm 2:refused"
}
af_limit test_missing_invalid 90

# A deleted pod: its fence detached, its pins gone.
test_pod_deleted() {
	need_cluster
	policy net 127.0.0.2
	start_daemon
	pod agent net
	wait_verdicts agent "3:perm 2:refused"
	local id
	id=$(fence_of agent)
	[ -n "$id" ] || fail "no fence for pod agent"
	[ -d "/sys/fs/bpf/agentfence/$id" ] || fail "no pins for fence $id"
	kubectl delete pod agent --grace-period=1 >/dev/null
	for _ in $(seq 50); do [ -d "/sys/fs/bpf/agentfence/$id" ] || break; sleep 0.2; done
	assert_missing "/sys/fs/bpf/agentfence/$id" "the fence's pins"
	assert_contains "$(cat "$T/daemon.log")" "pod default/agent: pod deleted" "the deletion said"
	assert_eq "" "$(fence_of agent 2>/dev/null)" "no fence left"
	assert_eq "hold" "$("$AF" status --json --control "$T/c.sock" | /usr/bin/python3 -c '
import json, sys
print(" ".join(f["cgroup"].rsplit("/", 1)[1] for f in json.load(sys.stdin)["fences"]))')" \
		"no fence but the hold fence (the early one went when the pod's own came)"
}
af_limit test_pod_deleted 90

# The daemon SIGKILLed: the fence stays (pinned; the pod frozen until a
# supervisor reads it again); the next daemon adopts it, journals the
# gap and the pod runs on fenced.
test_daemon_killed() {
	need_cluster
	policy net 127.0.0.2
	pod agent net
	start_daemon
	wait_verdicts agent "3:perm 2:refused"
	local id j
	id=$(fence_of agent)
	kill -9 "$(cat "$T/dpid")"
	sleep 0.5
	[ -d "/sys/fs/bpf/agentfence/$id" ] || fail "the fence's pins went with the daemon"
	local cg
	cg=$(find /sys/fs/cgroup -maxdepth 5 -type d -name "pod$(kubectl get pod agent -o jsonpath='{.metadata.uid}')" | head -1)
	for _ in $(seq 50); do grep -q "frozen 1" "$cg/cgroup.events" && break; sleep 0.1; done
	assert_contains "$(cat "$cg/cgroup.events")" "frozen 1" "the pod is frozen while nobody reads its fence"
	rm -f "$T/dpid"
	mv "$T/daemon.log" "$T/daemon.1.log"
	start_daemon
	assert_contains "$(cat "$T/daemon.log")" "fence $id adopted" "adopted"
	wait_verdicts agent "3:perm 2:refused"
	j=$(journal_of agent)
	assert_contains "$(grep -o '"type":"[a-z_]*"' "$j" | tr '\n' ' ')" '"type":"gap"' "the gap journaled"
	assert_contains "$(grep '"type":"k8s_pod"' "$j" | tail -1)" '"how":"adopted"' "reported as adopted"
}
af_limit test_daemon_killed 90

# The API server restarted: the watch reconnects (backoff) and resumes; a
# pod made after the restart is fenced.
test_apiserver_restart() {
	need_cluster
	policy net 127.0.0.2
	start_daemon
	local pid args before
	before=$(metric agentfence_k8s_watch_reconnects_total)
	pid=$(cat "$KDIR/apiserver.pid")
	args=$(tr '\0' '\n' <"/proc/$pid/cmdline") || fail "no kube-apiserver"
	# SIGKILL: a SIGTERMed API server shuts down gracefully, and on a
	# loaded machine it still served (the watch saw no outage) when the
	# second one started and failed to bind.
	kill -9 "$pid"
	for _ in $(seq 100); do af_running "$pid" || break; sleep 0.1; done
	af_running "$pid" && fail "kube-apiserver $pid outlived SIGKILL for 10 s"
	sleep 1
	# Its pid where scripts/k8s down looks for it.
	(cd "$KDIR" && mapfile -t a <<<"$args" &&
		setsid sh -c 'echo $$ >apiserver.pid; exec "$@"' sh "${a[@]}" >>apiserver.log 2>&1 </dev/null 9>&- &)
	for _ in $(seq 300); do kubectl get --raw /readyz >/dev/null 2>&1 && break; sleep 0.2; done
	pod after net
	wait_verdicts after "3:perm 2:refused"
	assert_contains "$(cat "$T/daemon.log")" "reconnecting" "the watch saw the outage"
	[ "$(metric agentfence_k8s_watch_reconnects_total)" -gt "$before" ] ||
		fail "reconnects in /metrics: $before before the restart, $(metric agentfence_k8s_watch_reconnects_total) after"
	assert_eq ready "$(curl -sf "http://127.0.0.1:$MPORT/readyz")" "/readyz after the restart"
}
af_limit test_apiserver_restart 150

# ---- No window: fenced from the container's first instruction ----

# A listener on 127.0.0.2:7000 (what the policy allows): an allowed
# connect is "connected", a fenced one EPERM, one to 127.0.0.3 (nobody
# listens) unfenced "Connection refused".
listener() {
	/usr/bin/python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.2", 7000)); s.listen(64)
while True:
    c, _ = s.accept(); c.close()' &
	echo $! >"$T/lpid"
	for _ in $(seq 50); do
		/usr/bin/python3 -c 'import socket; socket.create_connection(("127.0.0.2", 7000), 1)' 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no listener on 127.0.0.2:7000"
}

# first_pod NAME [POLICY]: a pod whose container's very first commands
# connect to 127.0.0.3:7000 and 127.0.0.2:7000 and write both results to
# $T/out/NAME (a hostPath). Not waited for.
first_pod() {
	local ann=""
	[ -n "${2:-}" ] && ann="annotations: {agentfence.io/policy: $2, agentfence.io/workspace: /tmp}"
	mkdir -p "$T/out"
	kubectl apply -f - >/dev/null <<-YAML || fail "pod $1"
	apiVersion: v1
	kind: Pod
	metadata:
	  name: $1
	  labels: {af-test: "1"}
	  $ann
	spec:
	  nodeName: af-node
	  hostNetwork: true
	  automountServiceAccountToken: false
	  terminationGracePeriodSeconds: 1
	  volumes: [{name: out, hostPath: {path: "$T/out", type: Directory}}]
	  containers:
	  - name: main
	    image: docker.io/library/af-busybox:test
	    imagePullPolicy: Never
	    volumeMounts: [{name: out, mountPath: /out}]
	    command: ["/bin/sh", "-c", "r() { if o=\$(nc \$1 7000 </dev/null 2>&1); then echo \"\$1 connected\"; else echo \"\$1 \$o\"; fi; }; { r 127.0.0.3; r 127.0.0.2; } >/out/.$1; mv /out/.$1 /out/$1; exec sleep 3600"]
	YAML
}

# pod_stopped NAME: every process of the pod (its sandbox's and its
# container's, once both run) stopped at its exec, waited for (bounded).
pod_stopped() {
	local uid p n st
	uid=$(kubectl get pod "$1" -o jsonpath='{.metadata.uid}')
	for _ in $(seq 150); do
		n=0 st=""
		for p in $(cat /sys/fs/cgroup/unified/kubepods/besteffort/pod"$uid"/*/cgroup.procs 2>/dev/null); do
			n=$((n + 1))
			st+=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$p/stat" 2>/dev/null)
		done
		[ "$n" -ge 2 ] && [ "$st" = "$(printf 'T%.0s' $(seq "$n"))" ] && return 0
		sleep 0.2
	done
	fail "pod $1: not all of its $n processes stopped (states: $st)"
}

# first_result NAME: "3:X 2:Y" of the pod's first commands (X, Y: perm,
# refused, connected), waited for (bounded).
first_result() {
	for _ in $(seq 300); do
		[ -s "$T/out/$1" ] && break
		sleep 0.2
	done
	[ -s "$T/out/$1" ] || fail "pod $1 wrote no result: $(kubectl get pod "$1" -o jsonpath='{.status}')"
	V=$(awk '{ v = /connected/ ? "connected" : /not permitted/ ? "perm" : /refused/ ? "refused" : "other" }
		$1 == "127.0.0.3" { a = v } $1 == "127.0.0.2" { b = v } END { print "3:" a " 2:" b }' "$T/out/$1")
}

# An annotated pod's very first command is fenced by its policy (denied
# EPERM, allowed connected), every time; an unannotated pod started at
# the same moment is untouched. The daemon says how long the fence took
# and whether it was ready before the pod's cgroup. The kernel stops the
# annotated pods' commands at their exec until their own fences are
# attached (bpf/k8s.bpf.h): their first connects are judged by those.
test_first_command() {
	need_cluster
	policy net 127.0.0.2
	listener
	start_daemon
	local i
	for i in 1 2 3 4; do
		first_pod "first$i" net
		first_pod "plain$i"
	done
	for i in 1 2 3 4; do first_result "first$i"; first_result "plain$i"; done
	grep -E "kubernetes|pod default" "$T/daemon.log" | sed 's/^/# daemon: /'
	for i in 1 2 3 4; do
		first_result "first$i"
		assert_eq "3:perm 2:connected" "$V" "pod first$i's first commands ($(cat "$T/out/first$i"))"
		first_result "plain$i"
		assert_eq "3:refused 2:connected" "$V" "unannotated pod plain$i ($(cat "$T/out/plain$i"))"
	done
	grep "ready before its containers" "$T/daemon.log" | sed 's/^/# /'
	assert_eq 4 "$(grep -c 'pod default/first[0-9]: fence [0-9]* ready before its containers' "$T/daemon.log")" \
		"each annotated pod had its fence before it ran"
	assert_not_contains "$(grep 'ready before' "$T/daemon.log")" "plain" "no fence for unannotated pods"
	# Then the pod's own fence (its cgroup's links), and the early one gone.
	for _ in $(seq 50); do
		[ "$(grep -c 'pod default/first[0-9]: fence .*from its cgroup.s creation' "$T/daemon.log")" = 4 ] && break
		sleep 0.2
	done
	assert_eq 4 "$(grep -c 'pod default/first[0-9]: fence .*from its cgroup.s creation' "$T/daemon.log")" \
		"each attached, reported as fenced from its cgroup's creation"
	kill "$(cat "$T/lpid")"
	rm -f "$T/lpid"
	wait_verdicts first1 "3:perm 2:refused"
	assert_contains "$(grep '"type":"k8s_pod"' "$(journal_of first1)")" \
		"from its cgroup's creation" "the journal says so"
	# Held at the exec, continued once the pod's own fence was attached:
	# its journal has the first command's denial.
	for i in 1 2 3 4; do
		assert_contains "$(grep "continued: held at its first instruction" "$T/daemon.log")" \
			"$(kubectl get pod "first$i" -o jsonpath='{.metadata.uid}')" "pod first$i's command held, then continued"
	done
	assert_not_contains "$(grep "continued: held" "$T/daemon.log")" \
		"$(kubectl get pod plain1 -o jsonpath='{.metadata.uid}')" "an unannotated pod is not held"
	assert_contains "$(grep '"verdict":"denied"' "$(journal_of first1)")" "127.0.0.3" \
		"the first command's denial journaled, by the pod's own fence"
	assert_eq "" "$(ls /sys/fs/cgroup/unified/agentfence/k8s 2>/dev/null | grep '^pod')" \
		"the early fences' placeholders removed once the pods' own fences run"
}
af_limit test_first_command 180

# The daemon SIGKILLed: its holds stay (pinned): a pod made meanwhile is
# held (its processes stopped at their exec: nothing of it runs) until a
# daemon decides (an unannotated pod: let go; an annotated one: its
# fence). A clean stop lets go of the holds:
# a pod made then runs unfenced until the daemon is back, which attaches
# it and says it ran before.
test_no_daemon() {
	need_cluster
	policy net 127.0.0.2
	listener
	start_daemon
	kill -9 "$(cat "$T/dpid")"
	rm -f "$T/dpid"
	first_pod heldplain
	first_pod heldagent net
	pod_stopped heldplain
	pod_stopped heldagent
	[ -e "$T/out/heldplain" ] || [ -e "$T/out/heldagent" ] &&
		fail "a pod made while the daemon was SIGKILLed ran: $(cat "$T/out/held"*)"
	mv "$T/daemon.log" "$T/daemon.1.log"
	kill "$(cat "$T/lpid")"
	rm -f "$T/lpid"
	start_daemon
	wait_verdicts heldplain "3:refused 2:refused"
	assert_contains "$(cat "$T/daemon.log")" "held (network denied) until now: passed" "the hold let go, said"
	wait_verdicts heldagent "3:perm 2:refused"
	assert_contains "$(cat "$T/daemon.log")" "pod default/heldagent: its cgroup was made before" "said"
	assert_contains "$(cat "$T/journals/default_heldagent_"*-early.jsonl)" '"type":"k8s_held"' \
		"the hold journaled in the pod's early journal"
	assert_contains "$(cat "$T/daemon.log")" "continued: held at its first instruction; its pod is not fenced" \
		"the unannotated pod's process continued, said"
	assert_contains "$(cat "$T/daemon.log")" "continued: held at its first instruction until its pod's fence" \
		"the annotated pod's process continued once fenced, said"
	# A clean stop: no hold.
	kill -TERM "$(cat "$T/dpid")"
	for _ in $(seq 100); do af_running "$(cat "$T/dpid")" || break; sleep 0.1; done
	af_running "$(cat "$T/dpid")" && fail "the daemon did not exit 10 s after SIGTERM"
	rm -f "$T/dpid"
	listener
	first_pod stopped net
	first_result stopped
	assert_eq "3:refused 2:connected" "$V" "a pod made while the daemon was stopped runs unfenced (documented)"
	mv "$T/daemon.log" "$T/daemon.2.log"
	kill "$(cat "$T/lpid")"
	rm -f "$T/lpid"
	start_daemon
	wait_verdicts stopped "3:perm 2:refused"
	assert_contains "$(grep 'pod default/stopped: fence' "$T/daemon.log")" "running before the daemon started" \
		"attached when the daemon came back, reported as such"
}
af_limit test_no_daemon 180

# kpend_has MAP UID: whether the node's af_kpend names one of the pod's
# cgroups ("pod<uid>"; bpftool prints the key as a string or as bytes).
kpend_has() {
	local d
	d=$(bpftool map dump pinned "$1" 2>/dev/null)
	shift
	grep -q "pod$1" <<<"$d" && return 0
	grep -qi "$(printf 'pod%s' "$1" | od -An -tx1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')" \
		<<<"$(tr -s ' \n' ' ' <<<"$d")"
}

# A pod deleted before its cgroup appears (the kubelet refuses it: it asks
# for more CPU than the node has): its early fence, pins, placeholder
# cgroup and the kernel's names of its cgroup go.
test_early_gc() {
	need_cluster
	policy net 127.0.0.2
	start_daemon
	kubectl apply -f - >/dev/null <<-YAML || fail "pod huge"
	apiVersion: v1
	kind: Pod
	metadata:
	  name: huge
	  labels: {af-test: "1"}
	  annotations: {agentfence.io/policy: net}
	spec:
	  nodeName: af-node
	  hostNetwork: true
	  automountServiceAccountToken: false
	  containers:
	  - name: main
	    image: docker.io/library/af-busybox:test
	    imagePullPolicy: Never
	    command: ["sleep", "3600"]
	    resources: {requests: {cpu: "1000"}}
	YAML
	local id uid kp
	for _ in $(seq 100); do
		id=$(sed -n 's/.*pod default\/huge: fence \([0-9]*\) ready before.*/\1/p' "$T/daemon.log")
		[ -n "$id" ] && break
		sleep 0.1
	done
	[ -n "$id" ] || fail "no early fence for pod huge: $(cat "$T/daemon.log")"
	uid=$(kubectl get pod huge -o jsonpath='{.metadata.uid}')
	[ -d "/sys/fs/bpf/agentfence/$id" ] || fail "no pins for early fence $id"
	[ -d "/sys/fs/cgroup/unified/agentfence/k8s/pod$uid" ] || fail "no placeholder cgroup"
	kp=/sys/fs/bpf/agentfence-nodes/$(readlink "/sys/fs/bpf/agentfence/$id/node")/maps/af_kpend
	kpend_has "$kp" "$uid" || fail "af_kpend does not name pod$uid: $(bpftool map dump pinned "$kp" | head -20)"
	assert_eq "" "$(find /sys/fs/cgroup/unified/kubepods -name "pod$uid" 2>/dev/null)" "the kubelet made no cgroup"
	kubectl delete pod huge --grace-period=0 --force >/dev/null 2>&1
	for _ in $(seq 50); do [ -d "/sys/fs/bpf/agentfence/$id" ] || break; sleep 0.2; done
	assert_missing "/sys/fs/bpf/agentfence/$id" "the early fence's pins"
	for _ in $(seq 20); do [ -d "/sys/fs/cgroup/unified/agentfence/k8s/pod$uid" ] || break; sleep 0.1; done
	assert_missing "/sys/fs/cgroup/unified/agentfence/k8s/pod$uid" "its placeholder cgroup"
	kpend_has "$kp" "$uid" && fail "af_kpend still names pod$uid"
	# The names of a pod deleted while no daemon ran go at the next
	# daemon's list of pods.
	first_pod gone
	for _ in $(seq 100); do
		uid=$(kubectl get pod gone -o jsonpath='{.metadata.uid}')
		[ -n "$uid" ] && kpend_has "$kp" "$uid" && break
		sleep 0.1
	done
	kpend_has "$kp" "$uid" || fail "af_kpend does not name pod$uid (passed: unannotated)"
	kill -9 "$(cat "$T/dpid")"
	rm -f "$T/dpid"
	kubectl delete pod gone --grace-period=0 --force >/dev/null 2>&1
	for _ in $(seq 100); do kubectl get pod gone >/dev/null 2>&1 || break; sleep 0.2; done
	mv "$T/daemon.log" "$T/daemon.1.log"
	start_daemon
	kpend_has "$kp" "$uid" && fail "af_kpend still names pod$uid, deleted while no daemon ran"
	return 0
}
af_limit test_early_gc 90

af_main "$@"
# The cluster goes with the file.
if [ -f "$KDIR/kubeconfig" ] && [ -z "${AF_K8S_KEEP:-}" ]; then
	"$TOP/scripts/k8s" down "$KDIR" >/dev/null 2>&1
	rm -rf "$KDIR"
fi
