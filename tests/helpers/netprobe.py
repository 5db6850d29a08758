# SPDX-License-Identifier: GPL-2.0
# Try each network operation named on the command line and print one line
# per operation: "LABEL OK" (the peer answered), "LABEL EPERM" (the fence
# refused), or "LABEL ERR <errno name>". Operations, as single words:
#   tcp:ADDR:PORT  udp-connect:ADDR:PORT  udp-sendto:ADDR:PORT
#   unix:PATH  unix-dgram:PATH  abstract:NAME  raw4  ping4  packet
#   fd0-tcp:ADDR:PORT  fd0-udp-sendto:ADDR:PORT (use the socket on stdin)
#   scm-udp-sendto:ADDR:PORT (use a socket received over SCM_RIGHTS from the
#   unix socket $NETPROBE_SCM)
#   name:NAME:PORT  name6:NAME:PORT  resolve NAME with the system resolver
#     (glibc getaddrinfo, IPv4 or IPv6 only) and connect over TCP to the
#     first address; "LABEL NXDOMAIN" when the name does not resolve
#   dnsudp:ADDR:NAME  dnstcp:ADDR:NAME  ask ADDR:53 for NAME's A record by
#     hand (UDP: unconnected sendto/recvfrom); prints "LABEL OK first-address
#     from ADDR" (the answer's source or peer), or "LABEL RCODE n"
#   sleep:SECONDS
# ADDR may be IPv6 in brackets: tcp:[::1]:80 (and v4-mapped [::ffff:a.b.c.d]).
# Servers answer any data with a line; UDP replies are awaited 2 s at most.
import errno
import os
import socket
import sys
import time


def split(arg):
    kind, rest = arg.split(":", 1)
    if rest.startswith("["):
        addr, port = rest[1:].split("]:")
        return kind, socket.AF_INET6, addr, int(port)
    addr, port = rest.rsplit(":", 1)
    return kind, socket.AF_INET, addr, int(port)


def dns_query(name):
    q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00\x00\x01\x00\x01"


def dns_first_a(m):
    """(rcode, first A address or None) of an answer to dns_query()."""
    if len(m) < 12 or m[:2] != b"\x12\x34":
        raise OSError(errno.EBADMSG, "not our answer")
    rcode, an, off = m[3] & 15, int.from_bytes(m[6:8], "big"), 12
    while m[off]:
        off += 1 + m[off]
    off += 5
    for _ in range(an):
        off += 2 if m[off] & 0xC0 == 0xC0 else len(m)  # names are pointers here
        rtype, rdlen = int.from_bytes(m[off:off + 2], "big"), int.from_bytes(m[off + 8:off + 10], "big")
        if rtype == 1 and rdlen == 4:
            return rcode, socket.inet_ntoa(m[off + 10:off + 14])
        off += 10 + rdlen
    return rcode, None


def dns(kind, rest):
    server, name = rest.rsplit(":", 1)
    family = socket.AF_INET
    if server.startswith("["):
        server, family = server[1:-1], socket.AF_INET6
    q = dns_query(name)
    if kind == "dnsudp":
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            s.sendto(q, (server, 53))
            m, peer = s.recvfrom(4096)
    else:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect((server, 53))
            s.sendall(len(q).to_bytes(2, "big") + q)
            n = int.from_bytes(s.recv(2), "big")
            m = b""
            while len(m) < n:
                chunk = s.recv(n - len(m))
                if not chunk:
                    break
                m += chunk
            peer = s.getpeername()
    rcode, addr = dns_first_a(m)
    if rcode:
        return "RCODE %d" % rcode
    return "OK %s from %s" % (addr, peer[0])


def probe(arg):
    if arg.startswith("sleep:"):
        time.sleep(float(arg[6:]))
        return
    if arg.startswith(("dnsudp:", "dnstcp:")):
        return dns(*arg.split(":", 1))
    if arg.startswith(("name:", "name6:")):
        kind, name, port = arg.split(":")
        family = socket.AF_INET6 if kind == "name6" else socket.AF_INET
        try:
            ai = socket.getaddrinfo(name, int(port), family, socket.SOCK_STREAM)
        except socket.gaierror as e:
            if e.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
                return "NXDOMAIN"
            return "GAIERR %d" % e.errno
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(ai[0][4])
            s.send(b"x\n")
            if not s.recv(64):
                raise OSError(errno.ECONNRESET, "no answer")
        return
    if arg == "packet":
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
        return
    if arg in ("raw4", "ping4"):
        proto = socket.IPPROTO_ICMP
        kind = socket.SOCK_RAW if arg == "raw4" else socket.SOCK_DGRAM
        socket.socket(socket.AF_INET, kind, proto).close()
        return
    if arg.startswith(("unix:", "unix-dgram:", "abstract:")):
        kind, path = arg.split(":", 1)
        if kind == "abstract":
            path = "\0" + path
        if kind == "unix-dgram":
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto(b"x\n", path)
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(path)
            s.sendall(b"x\n")
            if not s.recv(64):
                raise OSError(errno.ECONNRESET, "no answer")
        return
    kind, family, addr, port = split(arg)
    stype = socket.SOCK_STREAM if kind.endswith("tcp") else socket.SOCK_DGRAM
    if kind.startswith("fd0-"):
        s = socket.socket(fileno=os.dup(0))
        kind = kind[4:]
    elif kind.startswith("scm-"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as u:
            u.connect(os.environ["NETPROBE_SCM"])
            _, fds, _, _ = socket.recv_fds(u, 16, 1)
        s = socket.socket(fileno=fds[0])
        kind = kind[4:]
    else:
        s = socket.socket(family, stype)
    with s:
        s.settimeout(2)
        if kind == "udp-sendto":
            s.sendto(b"x\n", (addr, port))
            s.recvfrom(64)
            return
        s.connect((addr, port))
        s.send(b"x\n")
        if not s.recv(64):
            raise OSError(errno.ECONNRESET, "no answer")


for a in sys.argv[1:]:
    try:
        res = probe(a)
        print(a, res or "OK", flush=True)
    except socket.timeout:
        print(a, "ERR TIMEOUT", flush=True)
    except OSError as e:
        name = "EPERM" if e.errno == errno.EPERM else "ERR " + errno.errorcode.get(e.errno, str(e.errno))
        print(a, name, flush=True)
