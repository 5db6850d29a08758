# SPDX-License-Identifier: GPL-2.0
# Unix sockets (issue 10, principle 13): judged before 6.7 too (the BPF
# LSM backends' socket_connect and socket_sendmsg hooks take the path
# where no cgroup/connect_unix exists), and by identity: the socket
# file the kernel resolved (lsm/unix_stream_connect, unix_may_send), so
# a symlink in an allowed directory to docker.sock is docker.sock. The
# Landlock backend judges the string only (cgroup programs, 6.7+): a gap
# run states.
source "$(dirname "$0")/escape.inc"

# A listener outside the fence at PATH (stream or dgram), answering "ok".
listen_unix() {	# PATH stream|dgram
	$PY -S -c "
import os, socket, sys
kind = socket.SOCK_STREAM if '$2' == 'stream' else socket.SOCK_DGRAM
s = socket.socket(socket.AF_UNIX, kind)
s.bind('$1')
if kind == socket.SOCK_STREAM:
    s.listen(8)
s.settimeout(120)
try:
    while True:
        if kind == socket.SOCK_STREAM:
            c, _ = s.accept(); c.sendall(b'ok\n'); c.close()
        else:
            d = s.recv(100); open('$1.got', 'a').write(d.decode() + '\n')
except OSError:
    pass
" &
	local i
	for i in $(seq 50); do [ -S "$1" ] && return; sleep 0.1; done
	fail "no listener at $1"
}

policy() {
	esc_policy '  filesystem:' \
		'    writable: ["${WORKSPACE}", /dev/null]' \
		'  network:' \
		'    unix: {allow: ["${WORKSPACE}"]}'
	listen_unix "$T/out/docker.sock" stream
	listen_unix "$T/out/log.sock" dgram
	listen_unix "$T/ws/agent.sock" stream
	trap 'kill $(jobs -p) 2>/dev/null' EXIT
}

connect() {	# PATH: print OK or the errno
	echo "$PY -S -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"$1\"); assert s.recv(3) == b\"ok\\n\"'"
}

sendto() {	# PATH
	echo "$PY -S -c 'import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b\"x\", \"$1\")'"
}

test_connect_outside() {
	policy
	held "$(connect "$T/out/docker.sock")"
	allowed "$(connect "$T/ws/agent.sock")"
}

test_sendto_outside() {
	policy
	held "$(sendto "$T/out/log.sock")"
	sleep 0.3
	assert_missing out/log.sock.got "a datagram that arrived"
}

# A symlink in the allowed workspace to a socket outside it.
test_symlink_to_outside_socket() {
	policy
	ln -s "$T/out/docker.sock" ws/link.sock
	gap_on landlock "unix socket paths by identity" "Landlock's unix judgement is the path string: a symlink in an allowed directory reaches the socket it names"
	held "$(connect "$T/ws/link.sock")"
}

test_symlink_dir_to_outside() {
	policy
	ln -s "$T/out" ws/outdir
	gap_on landlock "unix socket paths by identity" "Landlock's unix judgement is the path string: a symlinked directory in an allowed one reaches the sockets beneath"
	held "$(connect "$T/ws/outdir/docker.sock")"
}

test_symlink_datagram() {
	policy
	ln -s "$T/out/log.sock" ws/log.sock
	gap_on landlock "unix socket paths by identity" "Landlock's unix judgement is the path string"
	held "$(sendto "$T/ws/log.sock")"
	sleep 0.3
	assert_missing out/log.sock.got "a datagram that arrived"
}

# Connected once (allowed by its string), then the datagram socket's
# peer is judged on every send by identity too.
test_connected_datagram_via_symlink() {
	policy
	ln -s "$T/out/log.sock" ws/log2.sock
	gap_on landlock "unix socket paths by identity" "Landlock's unix judgement is the path string"
	held "$PY -S -c 'import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect(\"$T/ws/log2.sock\"); s.send(b\"x\")'"
	sleep 0.3
	assert_missing out/log.sock.got "a datagram that arrived"
}

test_hard_link_of_outside_socket() {
	policy
	held "ln $T/out/docker.sock $T/ws/hard.sock && $(connect "$T/ws/hard.sock")"
}

test_proc_root_path() {
	policy
	held "$(connect "/proc/1/root$T/out/docker.sock")"
}

test_socketpair_allowed() {
	policy
	allowed "$PY -S -c 'import socket; a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM); a.send(b\"x\"); assert b.recv(1) == b\"x\"'"
}

for BACKEND in $(esc_backends); do
	export BACKEND AF_TEST_TAG=$(esc_tag)
	af_main "$@"
done
