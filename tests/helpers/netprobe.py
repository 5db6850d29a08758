# SPDX-License-Identifier: GPL-2.0
# Try each network operation named on the command line and print one line
# per operation: "LABEL OK" (the peer answered), "LABEL EPERM" (the fence
# refused), or "LABEL ERR <errno name>". Operations, as single words:
#   tcp:ADDR:PORT  udp-connect:ADDR:PORT  udp-sendto:ADDR:PORT
#   unix:PATH  unix-dgram:PATH  abstract:NAME  raw4  ping4
#   fd0-tcp:ADDR:PORT  fd0-udp-sendto:ADDR:PORT (use the socket on stdin)
#   scm-udp-sendto:ADDR:PORT (use a socket received over SCM_RIGHTS from the
#   unix socket $NETPROBE_SCM)
# ADDR may be IPv6 in brackets: tcp:[::1]:80 (and v4-mapped [::ffff:a.b.c.d]).
# Servers answer any data with a line; UDP replies are awaited 2 s at most.
import errno
import os
import socket
import sys


def split(arg):
    kind, rest = arg.split(":", 1)
    if rest.startswith("["):
        addr, port = rest[1:].split("]:")
        return kind, socket.AF_INET6, addr, int(port)
    addr, port = rest.rsplit(":", 1)
    return kind, socket.AF_INET, addr, int(port)


def probe(arg):
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
        probe(a)
        print(a, "OK", flush=True)
    except socket.timeout:
        print(a, "ERR TIMEOUT", flush=True)
    except OSError as e:
        name = "EPERM" if e.errno == errno.EPERM else "ERR " + errno.errorcode.get(e.errno, str(e.errno))
        print(a, name, flush=True)
