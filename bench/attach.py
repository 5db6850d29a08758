#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""bench/attach.py: what `agentfence attach` costs.

usage: bench/attach.py [--rounds N] [--vm "6.1 6.12"] [--json FILE]
       bench/attach.py --guest --rounds N     (inside scripts/vmtest: the VM part)

Host (this machine's backend): `attach` latency with a daemon running, from
the command's start to its exit (the daemon holds the fence), N rounds, each
attach followed by a detach (untimed): --cgroup of a cgroup with a process in
it, and --container of a docker container when dockerd answers (that adds
the lookup through dockerd's API socket: GET /containers/NAME/json).

VM (BPF LSM, each kernel of --vm): the pre-opened-descriptor write ratio:
bench/micro write4k (pwrite 4 KiB) through a descriptor opened before the
fence existed, in a cgroup attach fences after micro opened it (micro waits
for MICRO_WAIT), against the same unfenced; lsm_cgroup and lsm, rounds
alternating, the median of the per-round ratios of the fastest batches.
The descriptor is the workspace's, and micro holds nothing else that
writes outside it: the attach's scan finds no descriptor file_permission
must judge, and lsm_cgroup links none. lsm_cgroup_held: the same with
micro also holding a writable descriptor of a file outside the workspace
(inherited), so that the scan keeps file_permission linked.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("AF_BUILD", os.path.join(TOP, "build"))
AF = os.environ.get("AF", os.path.join(BUILD, "agentfence"))
MICRO = os.path.join(BUILD, "bench", "micro")


def say(msg):
    print("bench/attach: " + msg, file=sys.stderr, flush=True)


def cgroup2():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            i = parts.index("-")
            if parts[i + 1] == "cgroup2":
                return parts[4]
    raise SystemExit("no cgroup2 mount")


def policy(d):
    p = os.path.join(d, "p.yaml")
    with open(p, "w") as f:
        f.write("apiVersion: agentfence/v1\nkind: Policy\nmetadata: {name: attach-bench}\n"
                "spec:\n  filesystem:\n    writable: [\"${WORKSPACE}\"]\n  network:\n"
                "    allow:\n      - {cidr: 127.0.0.1/32, ports: [9], protocol: tcp}\n")
    return p


def in_cgroup(cg, argv, **kw):
    """argv started inside cgroup cg (moved there before it execs)."""
    os.makedirs(cg, exist_ok=True)
    return subprocess.Popen(argv, preexec_fn=lambda: open(cg + "/cgroup.procs", "w").write("0"), **kw)


def fence_id(out):
    for w in out.split():
        pass
    tag = "agentfence attach: fence "
    for line in out.splitlines():
        if line.startswith(tag):
            return line[len(tag):].split()[0]
    raise RuntimeError("no fence id in: " + out)


def latency(rounds, d):
    sock = os.path.join(d, "c.sock")
    daemon = subprocess.Popen([AF, "daemon", "--foreground", "--control", sock],
                              stderr=open(os.path.join(d, "daemon.log"), "w"), stdin=subprocess.DEVNULL,
                              start_new_session=True)
    env = dict(os.environ, AGENTFENCE_CONTROL=sock)
    res = {}
    cg = os.path.join(cgroup2(), "af-bench-attach-%d" % os.getpid())
    target = None
    dname = "af-bench-attach-%d" % os.getpid()
    docker = False
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        target = in_cgroup(cg, ["sleep", "600"])
        p = policy(d)
        os.makedirs("/tmp/af-bench-ws", exist_ok=True)
        cases = [("cgroup", ["--cgroup", cg, "--workspace", "/tmp/af-bench-ws"])]
        if subprocess.run(["docker", "version"], capture_output=True).returncode == 0 and \
                subprocess.run(["docker", "run", "-d", "--name", dname, "af-busybox:test", "sleep", "600"],
                               capture_output=True).returncode == 0:
            docker = True
            cases.append(("docker", ["--container", dname, "--runtime", "docker",
                                     "--workspace", "/workspace"]))
        for name, args in cases:
            ms = []
            for i in range(rounds + 1):
                t0 = time.monotonic()
                r = subprocess.run([AF, "attach", "--policy", p, "--no-journal"] + args,
                                   capture_output=True, text=True, env=env)
                t1 = time.monotonic()
                if r.returncode:
                    raise RuntimeError("attach: %s" % r.stderr)
                if i:		# the first loads the node
                    ms.append((t1 - t0) * 1000)
                subprocess.run([AF, "detach", "--control", sock, fence_id(r.stdout)], check=True,
                               capture_output=True)
            res[name] = {"median_ms": statistics.median(ms), "max_ms": max(ms), "min_ms": min(ms),
                         "rounds": len(ms)}
            say("%s: %.1f ms median [%.1f, %.1f]" % (name, res[name]["median_ms"], min(ms), max(ms)))
    finally:
        if docker:
            subprocess.run(["docker", "rm", "-f", dname], capture_output=True)
        if target:
            target.kill()
            target.wait()
        daemon.terminate()
        daemon.wait()
        try:
            os.rmdir(cg)
        except OSError:
            pass
    return res


def write4k_once(config, d, n):
    """micro write4k with its descriptor opened before attach: ns per op."""
    backend = config and config.replace("_held", "")
    held = []
    if config and config.endswith("_held"):
        held = [os.open(os.path.join(d, "outside"), os.O_WRONLY | os.O_CREAT, 0o600)]
    cg = os.path.join(cgroup2(), "af-bench-w-%d" % os.getpid())
    go = os.path.join(d, "go")
    ws = os.path.join(d, "ws")
    os.makedirs(ws, exist_ok=True)
    if os.path.exists(go):
        os.unlink(go)
    m = in_cgroup(cg, [MICRO, "write4k", ws, str(n)], env=dict(os.environ, MICRO_WAIT=go),
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=held)
    for fd in held:
        os.close(fd)
    att = None
    try:
        assert m.stderr.readline().strip() == "ready"
        if backend:
            att = subprocess.Popen([AF, "attach", "--pid", str(m.pid), "--backend", backend,
                                    "--policy", policy(d), "--workspace", ws, "--no-journal", "-q"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                   env=dict(os.environ, AGENTFENCE_CONTROL=""))
            line = att.stdout.readline()
            if "supervising here" not in line:
                raise RuntimeError("attach: " + line)
        open(go, "w").close()
        out, _ = m.communicate(timeout=600)
        return json.loads(out)["ns_min"]
    finally:
        if att:
            att.terminate()
            att.wait()
        if m.poll() is None:
            m.kill()
            m.wait()
        try:
            os.rmdir(cg)
        except OSError:
            pass


def guest(rounds):
    d = tempfile.mkdtemp(prefix="af-bench-attach.")
    n = 100000
    configs = [None, "lsm_cgroup", "lsm_cgroup_held", "lsm"]
    # Untimed: load both nodes.
    for b in configs[1:]:
        write4k_once(b, d, 1000)
    ns = {str(b): [] for b in configs}
    for r in range(rounds):
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        for b in order:
            ns[str(b)].append(write4k_once(b, d, n))
    out = {"kernel": os.uname().release, "n": n, "rounds": rounds, "ns_none": statistics.median(ns["None"])}
    for b in configs[1:]:
        ratios = [f / u for f, u in zip(ns[b], ns["None"])]
        out[b] = {"ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
                  "ratio_max": max(ratios), "ns_median": statistics.median(ns[b])}
    print("ATTACH-BENCH " + json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--vm", default="6.1 6.12")
    ap.add_argument("--guest", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.guest:
        guest(a.rounds)
        return
    doc = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    with tempfile.TemporaryDirectory(prefix="af-bench-attach.", dir="/var/tmp") as d:
        doc["latency"] = latency(a.rounds, d)
    doc["vm"] = []
    for k in a.vm.split():
        r = subprocess.run([os.path.join(TOP, "scripts", "vmtest"), "--kernel", k, "--",
                            "/usr/bin/python3", os.path.abspath(__file__), "--guest", "--rounds",
                            str(max(3, a.rounds // 2))], capture_output=True, text=True, timeout=1800)
        for line in r.stdout.splitlines():
            if line.startswith("ATTACH-BENCH "):
                v = json.loads(line[len("ATTACH-BENCH "):])
                v["name"] = k
                doc["vm"].append(v)
                say("%s: write4k through a pre-opened descriptor: lsm_cgroup %.3f (a descriptor "
                    "outside held: %.3f), lsm %.3f" %
                    (k, v["lsm_cgroup"]["ratio_median"], v["lsm_cgroup_held"]["ratio_median"],
                     v["lsm"]["ratio_median"]))
                break
        else:
            say("%s: no result: %s" % (k, (r.stdout + r.stderr)[-2000:]))
    s = json.dumps(doc, indent=1)
    if a.json:
        with open(a.json, "w") as f:
            f.write(s + "\n")
    print(s)


if __name__ == "__main__":
    main()
