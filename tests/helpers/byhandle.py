# SPDX-License-Identifier: GPL-2.0
# name_to_handle_at / open_by_handle_at, for tests/escape/mountns.sh:
#   get PATH OUT     write PATH's mount id and file handle (hex) to OUT
#   open MNT IN      open the file of the handle in IN through the mount at
#                    MNT and print its first line, or "HELD errno"
import ctypes
import errno
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
MAX = 128


class FileHandle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int),
                ("f_handle", ctypes.c_ubyte * MAX)]


if sys.argv[1] == "get":
    fh = FileHandle(MAX, 0)
    mnt = ctypes.c_int()
    if libc.name_to_handle_at(-100, sys.argv[2].encode(), ctypes.byref(fh), ctypes.byref(mnt), 0):
        sys.exit("name_to_handle_at: " + os.strerror(ctypes.get_errno()))
    with open(sys.argv[3], "w") as f:
        f.write("%d %d %s\n" % (fh.handle_bytes, fh.handle_type, bytes(fh.f_handle[:fh.handle_bytes]).hex()))
else:
    n, t, h = open(sys.argv[3]).read().split()
    fh = FileHandle(int(n), int(t))
    raw = bytes.fromhex(h)
    for i, b in enumerate(raw):
        fh.f_handle[i] = b
    mfd = os.open(sys.argv[2], os.O_RDONLY | os.O_DIRECTORY)
    fd = libc.open_by_handle_at(mfd, ctypes.byref(fh), os.O_RDONLY)
    if fd < 0:
        print("HELD", errno.errorcode.get(ctypes.get_errno()))
    else:
        print(os.read(fd, 100).decode().strip())
