# SPDX-License-Identifier: GPL-2.0
# Network routes of tests/escape: each argument one attempt, one line out:
# "LABEL HELD <why>" when refused, "LABEL ESCAPED" when the kernel took it.
#   sockopt4:NAME  sockopt6:NAME  set a socket option (names below)
#   cmsg4:PORT  cmsg6:PORT  send one datagram to 127.0.0.1/::1 PORT with
#     IPv4 options / IPv6 destination options as control data
#   plain4:PORT  plain6:PORT  the same datagram without them
#   family:NAME  socket() of a family: packet, netlink-route,
#     netlink-netfilter, netlink-generic, netlink-uevent, vsock, key, alg,
#     xdp, can, appletalk, tipc, rds, bluetooth
#   ioctl-getflags ioctl-setflags ioctl-setaddr ioctl-addrt  the old socket
#     ioctls: read lo's flags / set them as they are / an address / a route
#   rtnl-addr  rtnl-route  rtnl-link  write to NETLINK_ROUTE: add 10.77.0.1/32
#     to lo / a route / set lo down-up (a no-op flag change); rtnl-get: a dump
import errno
import socket
import struct
import sys

OPTS = {
    "ip_options": (socket.IPPROTO_IP, 4, b"\x01\x01\x01\x00"),  # NOPs, EOL
    "ip_freebind": (socket.IPPROTO_IP, 15, struct.pack("i", 1)),
    "ip_transparent": (socket.IPPROTO_IP, 19, struct.pack("i", 1)),
    "so_mark": (socket.SOL_SOCKET, 36, struct.pack("i", 7)),
    "ipv6_hopopts": (socket.IPPROTO_IPV6, 54, b"\x00\x00\x01\x04\x00\x00\x00\x00"),
    "ipv6_dstopts": (socket.IPPROTO_IPV6, 59, b"\x00\x00\x01\x04\x00\x00\x00\x00"),
    "ipv6_rthdrdstopts": (socket.IPPROTO_IPV6, 55, b"\x00\x00\x01\x04\x00\x00\x00\x00"),
    # type 0 routing header through ::1, segments left 1
    "ipv6_rthdr": (socket.IPPROTO_IPV6, 57, b"\x00\x02\x00\x01\x00\x00\x00\x00" + socket.inet_pton(socket.AF_INET6, "::1")),
    "ipv6_freebind": (socket.IPPROTO_IPV6, 78, struct.pack("i", 1)),
    "ipv6_transparent": (socket.IPPROTO_IPV6, 75, struct.pack("i", 1)),
}

FAMILIES = {
    "packet": (17, socket.SOCK_RAW, 0),
    "netlink-route": (16, socket.SOCK_RAW, 0),
    "netlink-netfilter": (16, socket.SOCK_RAW, 12),
    "netlink-generic": (16, socket.SOCK_RAW, 16),
    "netlink-uevent": (16, socket.SOCK_DGRAM, 15),
    "netlink-xfrm": (16, socket.SOCK_RAW, 6),
    "vsock": (40, socket.SOCK_STREAM, 0),
    "key": (15, socket.SOCK_RAW, 2),
    "alg": (38, socket.SOCK_SEQPACKET, 0),
    "xdp": (44, socket.SOCK_RAW, 0),
    "can": (29, socket.SOCK_RAW, 1),
    "appletalk": (5, socket.SOCK_DGRAM, 0),
    "tipc": (30, socket.SOCK_RDM, 0),
    "rds": (21, socket.SOCK_SEQPACKET, 0),
    "bluetooth": (31, socket.SOCK_RAW, 1),
}


def held(label, e):
    print(label, "HELD", errno.errorcode.get(e.errno, e.errno) if isinstance(e, OSError) else e)


def sockopt(label, v6, name):
    lvl, opt, val = OPTS[name]
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(lvl, opt, val)
        print(label, "ESCAPED")
    except OSError as e:
        held(label, e)


def send(label, v6, port, cmsg):
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    dst = ("::1" if v6 else "127.0.0.1", port)
    anc = []
    if cmsg and v6:
        anc = [(socket.IPPROTO_IPV6, 59, b"\x00\x00\x01\x04\x00\x00\x00\x00")]  # IPV6_DSTOPTS
    elif cmsg:
        anc = [(socket.IPPROTO_IP, 7, b"\x01\x01\x01\x00")]  # IP_RETOPTS: NOPs
    try:
        s.sendmsg([label.encode()], anc, 0, dst)
        print(label, "SENT")
    except OSError as e:
        held(label, e)


def family(label, name):
    fam, typ, proto = FAMILIES[name]
    try:
        s = socket.socket(fam, typ, proto)
        s.close()
        print(label, "ESCAPED")
    except OSError as e:
        if e.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT):
            print(label, "NOSUPPORT")
        else:
            held(label, e)


def rtnl(label, what):
    s = socket.socket(16, socket.SOCK_RAW, 0)
    if what == "get":
        # RTM_GETLINK dump
        body = struct.pack("BxHiII", 0, 0, 0, 0, 0)
        typ, flags = 18, 0x301
    elif what == "addr":
        # RTM_NEWADDR 10.77.0.1/32 on lo (ifindex 1)
        body = struct.pack("BBBBI", socket.AF_INET, 32, 0, 0, 1)
        body += struct.pack("HH", 8, 2) + socket.inet_aton("10.77.0.1")  # IFA_LOCAL
        typ, flags = 20, 0x605  # REQUEST|ACK|CREATE|EXCL
    elif what == "route":
        # RTM_NEWROUTE 10.78.0.0/16 dev lo
        body = struct.pack("BBBBBBBBI", socket.AF_INET, 16, 0, 0, 254, 3, 0, 1, 0)
        body += struct.pack("HH", 8, 1) + socket.inet_aton("10.78.0.0")  # RTA_DST
        body += struct.pack("HHI", 8, 4, 1)  # RTA_OIF lo
        typ, flags = 24, 0x605
    else:
        # RTM_SETLINK lo, no change (flags and change mask 0)
        body = struct.pack("BxHiII", 0, 0, 1, 0, 0)
        typ, flags = 19, 0x5
    msg = struct.pack("IHHII", 16 + len(body), typ, flags, 1, 0) + body
    try:
        s.send(msg)
        r = s.recv(65536)
        err = struct.unpack("i", r[16:20])[0] if struct.unpack("H", r[4:6])[0] == 2 else 0
        if err:
            print(label, "HELD", errno.errorcode.get(-err, err))
        else:
            print(label, "ESCAPED")
    except OSError as e:
        held(label, e)


def ioctl(label, what):
    import fcntl
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ifr = b"lo".ljust(16, b"\0")
    try:
        if what == "getflags":      # SIOCGIFFLAGS: a read
            fcntl.ioctl(s, 0x8913, ifr + bytes(24))
        elif what == "setflags":    # SIOCSIFFLAGS lo: its flags as they are
            cur = fcntl.ioctl(s, 0x8913, ifr + bytes(24))
            fcntl.ioctl(s, 0x8914, cur)
        elif what == "setaddr":     # SIOCSIFADDR lo 10.77.0.2 (on the test's own netns)
            sin = struct.pack("HH4s8x", socket.AF_INET, 0, socket.inet_aton("10.77.0.2"))
            fcntl.ioctl(s, 0x8916, b"lo:1".ljust(16, b"\0") + sin + bytes(8))
        elif what == "addrt":       # SIOCADDRT 10.79.0.0/16 dev lo
            dst = struct.pack("HH4s8x", socket.AF_INET, 0, socket.inet_aton("10.79.0.0"))
            gw = struct.pack("HH4s8x", socket.AF_INET, 0, bytes(4))
            mask = struct.pack("HH4s8x", socket.AF_INET, 0, socket.inet_aton("255.255.0.0"))
            import ctypes
            buf = ctypes.create_string_buffer(b"lo")
            # struct rtentry: pad1, dst, gateway, genmask, flags (RTF_UP),
            # pad2, pad3, pad4, metric, dev, mtu, window, irtt
            rt = struct.pack("L16s16s16sHh4xLPh6xPLLH6x", 0, dst, gw, mask, 1, 0, 0, 0, 0,
                             ctypes.addressof(buf), 0, 0, 0)
            fcntl.ioctl(s, 0x890B, rt)
        print(label, "ESCAPED")
    except OSError as e:
        held(label, e)


for arg in sys.argv[1:]:
    kind, _, rest = arg.partition(":")
    if kind in ("sockopt4", "sockopt6"):
        sockopt(arg, kind == "sockopt6", rest)
    elif kind in ("cmsg4", "cmsg6", "plain4", "plain6"):
        send(arg, kind.endswith("6"), int(rest), kind.startswith("cmsg"))
    elif kind == "family":
        family(arg, rest)
    elif kind.startswith("ioctl-"):
        ioctl(arg, kind[6:])
    elif kind.startswith("rtnl-"):
        rtnl(arg, kind[5:])
    sys.stdout.flush()
