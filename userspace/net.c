// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "backend.h"
#include "compile.h"
#include "fence.h"
#include "fence.bpf.skel.h"
#include "net.h"
#include "util.h"
#include "../bpf/fence.h"

/* Programs of the network fence; all or none load, but the unix ones. */
static const char *const inet_progs[] = {
	"af_connect4", "af_connect6", "af_sendmsg4", "af_sendmsg6", "af_sock_create",
	"af_setsockopt", "af_egress",
};


/* Programs of the DNS stub's redirection: answers appear to come from
 * the resolver the socket asked. */
static const char *const dns_progs[] = {
	"af_recvmsg4", "af_recvmsg6", "af_getpeername4", "af_getpeername6",
};

static const struct {
	const char *prog;
	const char *attach;	/* enum bpf_attach_type value name, 6.7+ */
} unix_progs[] = {
	{ "af_connect_unix", "BPF_CGROUP_UNIX_CONNECT" },
	{ "af_sendmsg_unix", "BPF_CGROUP_UNIX_SENDMSG" },
	{ "ak_connect_unix", "BPF_CGROUP_UNIX_CONNECT" },	/* bpf/k8s.bpf.h */
	{ "ak_sendmsg_unix", "BPF_CGROUP_UNIX_SENDMSG" },
};

/* Linked once at the kubepods cgroup (bpf/k8s.bpf.h), never per fence. */
static const char *const k8s_progs[] = {
	"ak_connect4", "ak_connect6", "ak_sendmsg4", "ak_sendmsg6", "ak_recvmsg4", "ak_recvmsg6",
	"ak_getpeername4", "ak_getpeername6", "ak_sock_create", "ak_setsockopt", "ak_egress",
};

/* The value of an enum bpf_attach_type constant in this kernel, from
 * its BTF: Debian 12's uapi headers predate the unix hooks, and the
 * kernel having the constant is the probe. -ENOENT when it lacks it. */
static int attach_type_value(const char *name)
{
	const struct btf *btf = af_kernel_btf();
	const struct btf_type *t;
	const struct btf_enum *e;
	int id, i, ret = -ENOENT;

	if (!btf)
		return -errno;
	id = btf__find_by_name_kind(btf, "bpf_attach_type", BTF_KIND_ENUM);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (i = 0; t && i < btf_vlen(t); i++) {
		e = btf_enum(t) + i;
		if (!strcmp(btf__name_by_offset(btf, e->name_off), name)) {
			ret = e->val;
			break;
		}
	}
	return ret;
}

int af_net_prepare(struct fence_bpf *skel)
{
	bool unix_cgroup = attach_type_value(unix_progs[0].attach) >= 0;
	size_t i;

	/* The node serves fences with and without a network section: it
	 * loads every program; a fence attaches those its policy needs
	 * (af_net_prog_wanted) and the global ones ask its cfg. */
	for (i = 0; i < ARRAY_SIZE(inet_progs); i++)
		bpf_program__set_autoload(bpf_object__find_program_by_name(skel->obj, inet_progs[i]), true);
	for (i = 0; i < ARRAY_SIZE(dns_progs); i++)
		bpf_program__set_autoload(bpf_object__find_program_by_name(skel->obj, dns_progs[i]), true);
	for (i = 0; i < ARRAY_SIZE(k8s_progs); i++)
		bpf_program__set_autoload(bpf_object__find_program_by_name(skel->obj, k8s_progs[i]), true);
	for (i = 0; i < ARRAY_SIZE(unix_progs); i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, unix_progs[i].prog);
		int at = attach_type_value(unix_progs[i].attach);

		bpf_program__set_autoload(prog, at >= 0);
		if (at < 0)
			continue;
		bpf_program__set_type(prog, BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
		bpf_program__set_expected_attach_type(prog, at);
	}
	/* Before 6.7 the BPF LSM backends judge unix paths in the
	 * socket_connect and socket_sendmsg hooks instead: a fact of the
	 * kernel, so rodata of the node. */
	skel->rodata->af_unix_lsm = !unix_cgroup;
	return 0;
}

bool af_net_prog_wanted(const char *prog, const struct af_policy *p, uint16_t dns_port4)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(dns_progs); i++)
		if (!strcmp(prog, dns_progs[i]))
			return p->has_network && dns_port4;
	for (i = 0; i < ARRAY_SIZE(inet_progs); i++)
		if (!strcmp(prog, inet_progs[i]))
			return p->has_network;
	for (i = 0; i < ARRAY_SIZE(unix_progs); i++)
		if (!strcmp(prog, unix_progs[i].prog))
			return p->has_network;
	return true;
}

int af_net_learn(int map_fd, const struct af_policy *p, uint64_t fence_id, int family,
		 const uint8_t *addr, const bool *live)
{
	struct af_net_entry e;
	bool remove;
	int err;

	err = af_compile_learned(p, family, addr, live, &e, &remove);
	if (err)
		return err;
	e.key.fence_id = fence_id;
	if (remove) {
		err = bpf_map_delete_elem(map_fd, &e.key);
		return err == -ENOENT ? 0 : err;
	}
	return bpf_map_update_elem(map_fd, &e.key, &e.val, BPF_ANY);
}

/* The identity of an allowed unix path (bpf/net.bpf.c unix_id_allowed):
 * an existing directory or socket by (dev, ino), one not there yet by
 * its directory and name. */
static int fill_unix_id(struct fence_bpf *skel, uint64_t fence_id, const char *path)
{
	struct af_root_key key = { .fence_id = fence_id };
	struct af_pname_key nk = { .fence_id = fence_id };
	char dir[PATH_MAX];
	const char *name;
	struct stat st;
	uint32_t kind;

	if (!stat(path, &st)) {
		key.ino = st.st_ino;
		key.dev = af_kdev(st.st_dev);
		kind = S_ISDIR(st.st_mode) ? AF_UNIX_ID_DIR : AF_UNIX_ID_FILE;
		return bpf_map_update_elem(bpf_map__fd(skel->maps.af_unix_ids), &key, &kind,
					   BPF_ANY) ? -errno : 0;
	}
	name = strrchr(path, '/');
	if (!name || strlen(name + 1) >= AF_PNAME_LEN || (size_t)(name - path) >= sizeof(dir))
		return 0;	/* nothing by identity: every socket there is denied */
	memcpy(dir, path, name - path);
	dir[name - path] = 0;
	if (stat(dir[0] ? dir : "/", &st))
		return 0;
	nk.ino = st.st_ino;
	nk.dev = af_kdev(st.st_dev);
	snprintf(nk.name, sizeof(nk.name), "%s", name + 1);
	kind = AF_UNIX_ID_FILE;
	return bpf_map_update_elem(bpf_map__fd(skel->maps.af_unix_names), &nk, &kind,
				   BPF_ANY) ? -errno : 0;
}

int af_net_unix_ids(struct fence_bpf *skel, const struct af_policy *p, uint64_t fence_id,
		    char *why, size_t n)
{
	size_t i;
	int err;

	if (!p->has_network)
		return 0;
	for (i = 0; i < p->n_unix_allow; i++) {
		err = fill_unix_id(skel, fence_id, p->unix_allow[i].path);
		if (err) {
			snprintf(why, n, "fill the unix identities: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

int af_net_apply(struct fence_bpf *skel, const struct af_entries *e, uint64_t fence_id,
		 char *why, size_t n)
{
	int inet = bpf_map__fd(skel->maps.af_net_allow), unix_fd = bpf_map__fd(skel->maps.af_unix_allow);
	uint32_t one = 1;
	size_t i;
	int err;

	for (i = 0; i < e->n_net; i++) {
		struct af_net_key key = e->net[i].key;

		key.fence_id = fence_id;
		err = bpf_map_update_elem(inet, &key, &e->net[i].val, BPF_ANY);
		if (err) {
			snprintf(why, n, "fill the network allowlist: %s", strerror(-err));
			return err;
		}
	}
	for (i = 0; i < e->n_unix; i++) {
		struct af_unix_key key = e->unix_keys[i];

		key.fence_id = fence_id;
		err = bpf_map_update_elem(unix_fd, &key, &one, BPF_ANY);
		if (err) {
			snprintf(why, n, "fill the unix allowlist: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}
