#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
# Run a command on a fresh pty, as a terminal would: ptyrun.py [OPTIONS] -- CMD...
#   --size R C       the terminal's size before CMD starts
#   --on-ready DATA  when the output shows "ready", type DATA (\n, \x03 escapes)
#   --winch R C      when the output shows "ready", resize the terminal
#   --timeout S      kill CMD after S seconds (default 30, times AF_TIME_FACTOR:
#                    a TCG guest on a loaded machine took longer than 30 s)
#   --kill-at-ready  when the output shows "ready", SIGKILL CMD
#   --bytes          print what CMD wrote as it is (no CR LF -> LF)
# Prints what CMD wrote to the terminal, then "status N" (128+N when killed by
# signal N), "termios same" or "termios changed" (modes after vs before), and
# "outer at ready raw|cooked" (the terminal's modes while CMD runs).
import argparse, fcntl, os, pty, select, signal, struct, sys, termios, time

ap = argparse.ArgumentParser()
ap.add_argument("--size", nargs=2, type=int)
ap.add_argument("--on-ready")
ap.add_argument("--winch", nargs=2, type=int)
try:
    factor = max(1.0, float(os.environ.get("AF_TIME_FACTOR", "1")))
except ValueError:
    factor = 1.0
ap.add_argument("--timeout", type=float, default=30 * factor)
ap.add_argument("--kill-at-ready", action="store_true")
ap.add_argument("--bytes", action="store_true")
ap.add_argument("cmd", nargs=argparse.REMAINDER)
a = ap.parse_args()
cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd

pid, fd = pty.fork()
if pid == 0:
    # A terminal's ^C and ^\ as a terminal's user has them, however the
    # suite was started (a background job ignores SIGINT and SIGQUIT,
    # and the ignoring would pass to CMD through every exec).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    if a.size:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", a.size[0], a.size[1], 0, 0))
    os.execvp(cmd[0], cmd)
# The modes before run changes them (the slave's, read through the
# master; run takes far longer to start than this).
before = termios.tcgetattr(fd)
out = b""
acted = False
modes_at_ready = "never ready"
deadline = time.time() + a.timeout
status = None
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            break
        out += data
    if not acted and b"ready" in out:
        acted = True
        lflag = termios.tcgetattr(fd)[3]
        modes_at_ready = "raw" if not lflag & (termios.ICANON | termios.ECHO) else "cooked"
        if a.winch:
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", a.winch[0], a.winch[1], 0, 0))
        if a.kill_at_ready:
            os.kill(pid, signal.SIGKILL)
            # The watcher puts the modes back, then says so.
            until = time.time() + 20
            while b"died: fence" not in out and time.time() < until:
                if select.select([fd], [], [], 0.1)[0]:
                    try:
                        out += os.read(fd, 65536)
                    except OSError:
                        break
        if a.on_ready:
            os.write(fd, a.on_ready.encode().decode("unicode_escape").encode("latin1"))
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        status = st
        # what is still buffered
        while select.select([fd], [], [], 0.1)[0]:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
        break
while status is None and time.time() < deadline:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        status = st
    else:
        time.sleep(0.05)
if status is None:
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    print("timeout")
try:
    after = termios.tcgetattr(fd)
except termios.error:
    after = None
if a.bytes:
    sys.stdout.flush()
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
else:
    sys.stdout.write(out.decode("utf-8", "replace").replace("\r\n", "\n"))
print()
print("status", os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
print("termios", "same" if after is None or after == before else "changed")
print("outer at ready", modes_at_ready)
print("run pid", pid)
