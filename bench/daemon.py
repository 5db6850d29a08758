#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""bench/daemon.py AGENTFENCE [N] [ROUNDS]: the daemon's costs (issue 11).

- fence create and remove in the daemon: N lasting fences made one after
  the other over one connection (bench/policy.yaml, no journal), then
  stopped; the time of each request, client side; median and max.
- daemon RSS with the N fences up.
- run start-up through the daemon: `run -q --no-journal -- /bin/true`,
  alone (AGENTFENCE_CONTROL empty), through the daemon, and bare
  /bin/true, alternating, ROUNDS times; medians.
Prints one JSON object.
"""
import json, os, socket, statistics, subprocess, sys, tempfile, time

AF = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 100
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 20
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLICY = os.path.join(TOP, "bench", "policy.yaml")


def request(f, s, req):
    s.sendall((json.dumps(req) + "\n").encode())
    while True:
        d = json.loads(f.readline())
        if "ok" in d:
            if not d["ok"]:
                raise RuntimeError(d["error"])
            return d


def timed(cmd, env):
    t = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return (time.perf_counter() - t) * 1000


def main():
    d = tempfile.mkdtemp(prefix="afbench-daemon.", dir="/var/tmp")
    ws = os.path.join(d, "ws")
    os.mkdir(ws)
    sock = os.path.join(d, "c.sock")
    env = dict(os.environ, XDG_STATE_HOME=d)
    daemon = subprocess.Popen([AF, "daemon", "--foreground", "--no-adopt", "--control", sock],
                              env=env, stderr=open(os.path.join(d, "daemon.log"), "w"))
    out = {"n": N, "rounds": ROUNDS}
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        f = s.makefile()
        policy = open(POLICY).read()
        create, stop, ids = [], [], []
        for i in range(N):
            t = time.perf_counter()
            r = request(f, s, {"op": "create", "policy": policy, "policy_file": POLICY,
                               "workspace": ws, "name": "b%d" % i, "no_journal": True})
            create.append((time.perf_counter() - t) * 1000)
            ids.append(r["fence"])
        rss = int([l for l in open("/proc/%d/status" % daemon.pid) if l.startswith("VmRSS")][0].split()[1])
        # The fences' ring buffers: kernel memory mapped into the daemon.
        rings, inmap = 0, False
        for l in open("/proc/%d/smaps" % daemon.pid):
            w = l.split()
            if "-" in w[0] and len(w) >= 5:
                inmap = len(w) >= 6 and w[5] == "anon_inode:bpf-map"
            elif w[0] == "Rss:" and inmap:
                rings += int(w[1])
        for i in ids:
            t = time.perf_counter()
            request(f, s, {"op": "stop", "fence": i})
            stop.append((time.perf_counter() - t) * 1000)
        s.close()
        out.update(create_ms=statistics.median(create), create_max_ms=max(create),
                   stop_ms=statistics.median(stop), stop_max_ms=max(stop), rss_kib=rss, rings_kib=rings)
        # One lasting fence for the rounds: a daemon on a node fences
        # something (and other builds' collection, on a shared machine,
        # removes a node no fence uses: the next create would load it).
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        f = s.makefile()
        keep = request(f, s, {"op": "create", "policy": policy, "policy_file": POLICY,
                              "workspace": ws, "name": "keep", "no_journal": True})["fence"]
        run = [AF, "run", "-q", "--no-journal", "--policy", POLICY, "--workspace", ws, "--", "/bin/true"]
        alone, through, bare = [], [], []
        for r in range(ROUNDS):
            order = [0, 1, 2][r % 3:] + [0, 1, 2][:r % 3]
            for k in order:
                if k == 0:
                    alone.append(timed(run, dict(env, AGENTFENCE_CONTROL="")))
                elif k == 1:
                    through.append(timed(run, dict(env, AGENTFENCE_CONTROL=sock)))
                else:
                    bare.append(timed(["/bin/true"], env))
        request(f, s, {"op": "stop", "fence": keep})
        s.close()
        out.update(bare_ms=statistics.median(bare), alone_ms=statistics.median(alone),
                   alone_max_ms=max(alone), daemon_ms=statistics.median(through),
                   daemon_max_ms=max(through))
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        out["error"] = str(e)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        subprocess.run(["rm", "-rf", d])
    print(json.dumps(out))


main()
