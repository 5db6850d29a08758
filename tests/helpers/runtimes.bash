# SPDX-License-Identifier: GPL-2.0
# Real container runtimes for host tests, started here when they are not
# running (there is no systemd; af_rt_daemon): dockerd,
# a containerd of the tests' own
# (its socket is not the system's), podman. Images come from the
# busybox-static rootfs (af_rt_image): no registry. Source after lib.sh.

AF_RT_DIR=/run/agentfence-tests/runtimes
AF_RT_IMAGE=af-busybox:test
AF_RT_CTR_NS=aftest
export CONTAINERD_ADDRESS=$AF_RT_DIR/containerd/containerd.sock

# A rootfs tar: busybox-static and its applets, /workspace, /tmp.
af_rt_rootfs() {	# tarfile
	local d
	d=$(mktemp -d)
	mkdir -p "$d/bin" "$d/tmp" "$d/workspace" "$d/etc"
	cp /bin/busybox "$d/bin/busybox" || { rm -rf "$d"; return 1; }
	local a
	for a in sh ls cat echo sleep touch mkdir rm wc nc wget id printf true false; do
		ln -s busybox "$d/bin/$a"
	done
	echo "root:x:0:0:root:/:/bin/sh" >"$d/etc/passwd"
	tar -C "$d" -cf "$1" .
	rm -rf "$d"
}

# Waits (bounded) until CMD succeeds; 0 when it did.
af_rt_wait() {	# seconds cmd...
	local n=$(($1 * 5))
	shift
	while ! "$@" >/dev/null 2>&1; do
		((n-- > 0)) || return 1
		sleep 0.2
	done
}

# Starts a daemon that outlives the test: in a session of its own, not a
# child of the test's shell (whose cleanup waits for its children: on a
# fresh machine, where the tests start dockerd, a child dockerd hung
# that wait until the test's limit), without the host-test lock (fd 9).
af_rt_daemon() {	# cmd...; its output to this function's stdout
	(setsid "$@" 2>&1 </dev/null 9>&- &)
}

# dockerd up, with the test image; skips (with why) when it cannot be.
af_rt_docker() {
	command -v dockerd >/dev/null || skip "dockerd is not installed (docker.io; make deps)"
	if ! docker version >/dev/null 2>&1; then
		mkdir -p "$AF_RT_DIR"
		af_rt_daemon dockerd >"$AF_RT_DIR/dockerd.log"
		af_rt_wait 60 docker version ||
			fail "dockerd did not answer in 60 s: $(tail -n 3 "$AF_RT_DIR/dockerd.log")"
	fi
	if ! docker image inspect "$AF_RT_IMAGE" >/dev/null 2>&1; then
		af_rt_rootfs "$T/rootfs.tar" && docker import "$T/rootfs.tar" "$AF_RT_IMAGE" >/dev/null ||
			fail "docker import of the busybox rootfs failed"
	fi
}

# A containerd of the tests' own, with the image in namespace aftest.
af_rt_containerd() {
	command -v containerd >/dev/null && command -v ctr >/dev/null ||
		skip "containerd/ctr are not installed (containerd; make deps)"
	if ! ctr version >/dev/null 2>&1; then
		mkdir -p "$AF_RT_DIR/containerd"
		# CAP_SYS_RESOURCE is missing here: CRI must not raise oom_score_adj.
		cat >"$AF_RT_DIR/containerd.toml" <<-TOML
		version = 2
		root = "/var/lib/agentfence-tests/containerd"
		state = "$AF_RT_DIR/containerd"
		[grpc]
		  address = "$CONTAINERD_ADDRESS"
		[plugins."io.containerd.grpc.v1.cri"]
		  restrict_oom_score_adj = true
		TOML
		af_rt_daemon containerd --config "$AF_RT_DIR/containerd.toml" >"$AF_RT_DIR/containerd.log"
		af_rt_wait 60 ctr version ||
			fail "containerd did not answer in 60 s: $(tail -n 3 "$AF_RT_DIR/containerd.log")"
	fi
	if ! ctr -n "$AF_RT_CTR_NS" image ls -q | grep -q "af-busybox:test"; then
		af_rt_docker
		docker save "$AF_RT_IMAGE" | ctr -n "$AF_RT_CTR_NS" image import - >/dev/null ||
			fail "ctr image import failed"
	fi
}

# podman with the image, and ulimits it may set here: without
# CAP_SYS_RESOURCE runc cannot raise a hard limit, and its init has
# lower ones than this shell (even the shell's own values fail with
# EPERM), so modest ones. Skips with podman's own words when it cannot
# start a container on this machine.
af_rt_podman() {
	command -v podman >/dev/null || skip "podman is not installed (make deps)"
	mkdir -p "$AF_RT_DIR"
	printf '[containers]\ndefault_ulimits = [\n  "nofile=1024:1024",\n  "nproc=4096:4096",\n]\n' \
		>"$AF_RT_DIR/containers.conf"
	export CONTAINERS_CONF=$AF_RT_DIR/containers.conf
	if ! podman image exists "$AF_RT_IMAGE"; then
		af_rt_rootfs "$T/rootfs.tar" && podman import "$T/rootfs.tar" "$AF_RT_IMAGE" >/dev/null ||
			fail "podman import of the busybox rootfs failed"
	fi
	local out
	if ! out=$(timeout 60 podman run --rm "$AF_RT_IMAGE" /bin/true 2>&1); then
		skip "podman cannot start a container on this machine: $(echo "$out" | tail -n 1 | cut -c1-240)"
	fi
}
