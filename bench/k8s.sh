#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench/k8s.sh [N]: agentfence daemon --kubernetes with N fenced pods on
# a real single-node cluster (scripts/k8s; its binaries cached), issue 15's
# benchmark: the daemon's RSS once all N are fenced (and with none), and
# per pod the latency from the create sent (the pods name their node:
# created is bound) to its early fence (made when the daemon learns the
# bound pod, before its cgroup exists: the fence that is ready for its
# first instruction), and from its creation (the client's clock when
# the API server answered the create) to its own fence (the journal's
# fence_start record), split at the
# moment a watch of this script saw the pod's container running (the
# daemon fences a pod once a container of it runs: that part is the
# daemon's own), and how long each container's command was held at its
# exec until that fence was attached. Pods: busybox sleeping, hostNetwork, annotated with a
# policy that allows TCP to 127.0.0.2:7000 only.
#
#   flock /run/lock/agentfence-tests.lock bench/k8s.sh 100
#
# The lock: one cluster on this machine at a time (tests/host/k8s.sh
# takes it too); exit status 75 when another cluster runs (try later),
# unless AF_K8S_BENCH_CLUSTER=DIR names it (its kubeconfig in DIR, e.g. a
# tests/host/k8s.sh cluster kept with AF_K8S_KEEP=1): then the bench uses
# it, while it holds the lock (no test runs on it meanwhile), and leaves
# it up, without its pods and ConfigMap.
# Output: one line per measure, and JSON in $D/result.json.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
AF=${AF:-$TOP/build/agentfence}
N=${1:-100}
D=${AF_K8S_BENCH_DIR:-/var/tmp/agentfence-k8s-bench}
TIMEOUT=${AF_K8S_BENCH_TIMEOUT:-1200}	# s for all N pods to be fenced
export KUBECONFIG=$D/kubeconfig
PY=/usr/bin/python3
DPID=
REUSE=${AF_K8S_BENCH_CLUSTER:-}
CM=bench-net

cleanup() {
	set +e
	if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
		for f in $("$AF" status --json --control "$D/c.sock" 2>/dev/null |
			$PY -c 'import json,sys; [print(f["id"]) for f in json.load(sys.stdin).get("fences",[])]'); do
			"$AF" detach --control "$D/c.sock" "$f" >/dev/null 2>&1
		done
		kill -TERM "$DPID"
		wait "$DPID" 2>/dev/null
	fi
	[ -n "${WPID:-}" ] && kill "$WPID" 2>/dev/null
	kubectl delete pods -l af-bench --grace-period=0 --force --wait=false >/dev/null 2>&1
	kubectl -n agentfence delete configmap "$CM" >/dev/null 2>&1
	if [ -n "$REUSE" ]; then
		# Left as found: the pods gone before the lock goes.
		for _ in $(seq 600); do
			[ -z "$(kubectl get pods -l af-bench -o name 2>/dev/null)" ] && break
			sleep 0.5
		done
	else
		"$TOP/scripts/k8s" down "$D" >/dev/null 2>&1
	fi
}
trap cleanup EXIT

# The lock is taken per test file, and a cluster kept between runs
# (AF_K8S_KEEP=1) holds no lock: its ports say it runs.
for port in 16443 23790 10250; do
	if [ -z "$REUSE" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "bench/k8s.sh: 127.0.0.1:$port answers: a cluster (scripts/k8s) runs already; not starting a second one (wait for it to go)" >&2
		trap - EXIT
		exit 75
	fi
done
rm -rf "$D"
mkdir -p "$D"
if [ -n "$REUSE" ]; then
	echo "# the cluster of $REUSE" >&2
	cp "$REUSE/kubeconfig" "$D/kubeconfig"
	kubectl get --raw /readyz >/dev/null || { echo "bench/k8s.sh: $REUSE: its API server does not answer" >&2; exit 1; }
	[ -z "$(kubectl get pods -A -o name)" ] || { echo "bench/k8s.sh: $REUSE: the cluster has pods: not idle" >&2; trap - EXIT; exit 75; }
else
	echo "# cluster up in $D" >&2
	"$TOP/scripts/k8s" up "$D" >"$D/up.log" 2>&1 9>&- || { tail -5 "$D/up.log" >&2; exit 1; }
fi
kubectl get namespace agentfence >/dev/null 2>&1 || kubectl create namespace agentfence >/dev/null
cat >"$D/net.yaml" <<-YAML
apiVersion: agentfence/v1
kind: Policy
metadata: {name: net}
spec:
  filesystem:
    writable: ["\${WORKSPACE}"]
  network:
    allow:
      - {cidr: 127.0.0.2/32, ports: [7000], protocol: tcp}
YAML
kubectl -n agentfence create configmap "$CM" --from-file=policy.yaml="$D/net.yaml" >/dev/null
kubectl -n agentfence label configmap "$CM" agentfence.io/policy=true >/dev/null

PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$AF" daemon --foreground --control "$D/c.sock" --kubernetes --node af-node --journal-dir "$D/j" \
	--listen "127.0.0.1:$PORT" >"$D/stdout.jsonl" 2>"$D/daemon.log" 9>&- &
DPID=$!
for _ in $(seq 300); do
	curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
	kill -0 "$DPID" || { cat "$D/daemon.log" >&2; exit 1; }
	sleep 0.1
done
rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$DPID/status")

# The pods' containers seen running, by a watch of our own: "NAME TIME".
kubectl get pods -l af-bench -w --output-watch-events=false \
	-o jsonpath='{.metadata.name} {.status.containerStatuses[0].state.running.startedAt}{"\n"}' 2>/dev/null |
	$PY -u -c '
import sys, time
seen = set()
for l in sys.stdin:
    p = l.split()
    if len(p) == 2 and p[0] not in seen:
        seen.add(p[0]); print(p[0], "%.6f" % time.time(), flush=True)' >"$D/running.txt" &
WPID=$!

echo "# creating $N pods" >&2
$PY - "$N" "$D/created.txt" <<-'PYEOF'
import subprocess, sys, time
n, out = int(sys.argv[1]), open(sys.argv[2], "w")
for i in range(n):
    name = "bench-%03d" % i
    pod = """apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels: {af-bench: "1"}
  annotations: {agentfence.io/policy: bench-net, agentfence.io/workspace: /tmp}
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
""" % name
    t0 = time.time()
    subprocess.run(["kubectl", "create", "-f", "-"], input=pod.encode(), check=True,
                   stdout=subprocess.DEVNULL)
    print(name, "%.6f" % time.time(), "%.6f" % t0, file=out, flush=True)
PYEOF
t_created=$(date +%s)

metric() {
	curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
fenced=0
while :; do
	fenced=$(metric agentfence_pods_fenced)
	[ "${fenced:-0}" -ge "$N" ] && break
	if [ $(($(date +%s) - t_created)) -ge "$TIMEOUT" ]; then
		echo "# timed out: $fenced of $N pods fenced after ${TIMEOUT} s" >&2
		break
	fi
	sleep 1
done
sleep 2	# the last fences' first records
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$DPID/status")
rings=$(awk '/^[0-9a-f]+-/ { m = ($6 == "anon_inode:bpf-map") } /^Rss:/ && m { s += $2 } END { print s + 0 }' "/proc/$DPID/smaps")
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$DPID/status")
curl -sf "http://127.0.0.1:$PORT/metrics" >"$D/metrics.txt" || true
cp "/proc/$DPID/smaps" "$D/smaps" 2>/dev/null || true

$PY - "$D" "$N" "${fenced:-0}" "$rss0" "$rss" "$rings" "$hwm" <<-'PYEOF'
import datetime, glob, json, statistics, sys
d, n, fenced, rss0, rss, rings, hwm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *map(int, sys.argv[4:])
def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
created, sent = {}, {}
for l in open(d + "/created.txt"):
    p = l.split()
    created[p[0]], sent[p[0]] = float(p[1]), float(p[2])
running = dict(l.split() for l in open(d + "/running.txt"))
# Two journals a pod: its early fence's (made when the pod is bound,
# before its cgroup exists: "-early.jsonl") and its own fence's.
fence, early = {}, {}
for j in glob.glob(d + "/j/*.jsonl"):
    first = json.loads(open(j).readline())
    name = first.get("pod", {}).get("name")
    if name is None:
        for l in open(j):
            r = json.loads(l)
            if "pod" in r:
                name = r["pod"]["name"]; break
    (early if j.endswith("-early.jsonl") else fence)[name] = ts(first["time"])
total = sorted((fence[p] - created[p]) * 1000 for p in fence if p in created)
own = sorted((fence[p] - float(running[p])) * 1000 for p in fence if p in running)
# The create sent (kubectl started) -> the early fence: the bound pod's
# fence ready, an upper bound (kubectl's start and the API server's
# write are in it).
bound = sorted((early[p] - sent[p]) * 1000 for p in early if p in sent)
def q(v, f):
    return v[min(len(v) - 1, int(f * len(v)))] if v else float("nan")
# A container's command stopped at its exec until the pod's own fence is
# attached (bpf/k8s.bpf.h): the daemon says how long each was held.
import re
held = sorted(float(m.group(1)) for m in re.finditer(
    r"continued: held at its first instruction until its pod's fence \d+ was whole \(([0-9.]+) ms",
    open(d + "/daemon.log").read()))
per = (rss - rings - rss0) / max(fenced, 1)
res = {"pods": n, "fenced": fenced, "rss_kib_0": rss0, "rss_kib": rss, "rings_kib": rings,
       "rss_without_rings_kib": rss - rings, "hwm_kib": hwm, "per_fence_kib": per,
       "create_sent_to_early_fence_ms": {"median": q(bound, .5), "p90": q(bound, .9), "max": q(bound, 1),
                                         "min": q(bound, 0), "pods": len(bound)},
       "created_to_fence_ms": {"median": q(total, .5), "p90": q(total, .9), "max": q(total, 1)},
       "running_seen_to_fence_ms": {"median": q(own, .5), "p90": q(own, .9), "max": q(own, 1)},
       "held_at_exec_ms": {"median": q(held, .5), "p90": q(held, .9), "max": q(held, 1), "processes": len(held)}}
json.dump(res, open(d + "/result.json", "w"), indent=1)
print("pods fenced: %d of %d" % (fenced, n))
print("daemon RSS: %.1f MiB with %d fenced pods (%.1f MiB of it their ring buffers, mapped; %.1f MiB without); %.1f MiB with none; peak %.1f MiB"
      % (rss / 1024, fenced, rings / 1024, (rss - rings) / 1024, rss0 / 1024, hwm / 1024))
print("per fence: %.0f KiB beyond the idle daemon (ring buffers excluded); at 100 pods: %.1f MiB"
      % (per, (rss0 + 100 * per) / 1024))
print("create sent -> early fence_start (the bound pod fenced, before its cgroup exists): median %.0f ms, p90 %.0f ms, min %.0f ms, max %.0f ms (%d pods)" % (q(bound, .5), q(bound, .9), q(bound, 0), q(bound, 1), len(bound)))
print("created -> its own fence_start: median %.0f ms, p90 %.0f ms, max %.0f ms (%d pods)" % (q(total, .5), q(total, .9), q(total, 1), len(total)))
print("container running seen by a watch -> fence_start: median %.0f ms, p90 %.0f ms, max %.0f ms (%d pods)" % (q(own, .5), q(own, .9), q(own, 1), len(own)))
print("a container's command held at its exec until its pod's own fence: median %.1f ms, p90 %.1f ms, max %.1f ms (%d processes: sandboxes' and containers')" % (q(held, .5), q(held, .9), q(held, 1), len(held)))
PYEOF
