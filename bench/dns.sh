#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# What the fence's DNS stub adds to a lookup (issue 4: <= 1 ms). In a
# network namespace of its own, dnsmasq serves a test zone on 127.0.0.2:53;
# a client asks it N times, one query after the other, unfenced and then
# in a fence whose host rule allows the name (the stub forwards each query
# to dnsmasq and allows the answer's address before replying), and the
# same for a name the fence refuses (answered by the stub alone).
# Alternating rounds; prints one JSON object.
#   bench/dns.sh AGENTFENCE [N] [ROUNDS]
set -euo pipefail
AF=$1
N=${2:-2000}
ROUNDS=${3:-5}
command -v dnsmasq >/dev/null || { echo '{"error": "needs dnsmasq (dnsmasq-base)"}'; exit 0; }
D=$(mktemp -d /var/tmp/afbench-dns.XXXXXX)
trap 'rm -rf "$D"' EXIT
cat >"$D/client.py" <<'PY'
import socket, sys, time
name, n = sys.argv[1], int(sys.argv[2])
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
for label in name.split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\x00\x00\x01\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect(("127.0.0.2", 53))
t = time.perf_counter()
for _ in range(n):
    s.send(q)
    s.recv(512)
print((time.perf_counter() - t) / n * 1e6)
PY
cat >"$D/p.yaml" <<'YAML'
apiVersion: agentfence/v1
kind: Policy
metadata: {name: dnsbench}
spec:
  filesystem:
    writable: ["${WORKSPACE}"]
  network:
    allow:
      - {host: bench.test, ports: [443]}
    dns: {servers: [127.0.0.2]}
YAML
mkdir "$D/ws"
# Everything below runs in the new network namespace.
exec unshare -n bash -s "$AF" "$N" "$ROUNDS" "$D" <<'IN'
set -euo pipefail
AF=$1 N=$2 ROUNDS=$3 D=$4
ip link set lo up
ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true
dnsmasq --keep-in-foreground --no-resolv --no-hosts --user=root --pid-file= --bind-interfaces \
	--listen-address=127.0.0.2 --port=53 --host-record=bench.test,10.9.9.9 \
	--host-record=other.test,10.9.9.8 --local-ttl=300 --no-negcache 2>/dev/null &
DNSMASQ=$!
trap 'kill $DNSMASQ 2>/dev/null' EXIT
sleep 0.5
py=/usr/bin/python3
bare=() fenced=() refused=()
for r in $(seq "$ROUNDS"); do
	bare+=("$($py -S "$D/client.py" bench.test "$N")")
	fenced+=("$("$AF" run -q --no-journal --policy "$D/p.yaml" --workspace "$D/ws" -- \
		$py -S "$D/client.py" bench.test "$N")")
	refused+=("$("$AF" run -q --no-journal --policy "$D/p.yaml" --workspace "$D/ws" -- \
		$py -S "$D/client.py" other.test "$N" 2>/dev/null)")
done
$py - "${bare[*]}" "${fenced[*]}" "${refused[*]}" "$N" <<'PY'
import json, statistics, sys
b, f, r = ([float(x) for x in a.split()] for a in sys.argv[1:4])
print(json.dumps({"n": int(sys.argv[4]), "rounds": len(b),
                  "bare_us": statistics.median(b), "fenced_us": statistics.median(f),
                  "refused_us": statistics.median(r),
                  "added_us": statistics.median([y - x for x, y in zip(b, f)]),
                  "min_added_us": min(y - x for x, y in zip(b, f)),
                  "max_added_us": max(y - x for x, y in zip(b, f))}))
PY
IN
