// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <limits.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "backend.h"
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

/* Global LSM programs for sockets passed in: fence.c loads them on the
 * BPF LSM backends; without a network section they have nothing to do. */
static const char *const lsm_progs[] = {
	"lsm_sock_connect", "lsm_sock_sendmsg", "lsm_sock_create", "lsm_netlink_send",
	"lsm_unix_stream_connect", "lsm_unix_may_send",
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

int af_net_prepare(struct fence_bpf *skel, const struct af_policy *p, uint64_t fence_id,
		   uint16_t dns_port4, uint16_t dns_port6, char *uncovered, size_t ulen)
{
	bool on = p->has_network;
	size_t i;

	skel->rodata->af_net_fence = fence_id;
	skel->rodata->af_dns_port4 = on ? dns_port4 : 0;
	skel->rodata->af_dns_port6 = on && dns_port4 ? dns_port6 : 0;
	for (i = 0; i < ARRAY_SIZE(inet_progs); i++)
		bpf_program__set_autoload(bpf_object__find_program_by_name(skel->obj, inet_progs[i]), on);
	for (i = 0; i < ARRAY_SIZE(dns_progs); i++)
		bpf_program__set_autoload(bpf_object__find_program_by_name(skel->obj, dns_progs[i]),
					  on && dns_port4);
	for (i = 0; i < ARRAY_SIZE(lsm_progs) && !on; i++)
		bpf_program__set_autoload(bpf_object__find_program_by_name(skel->obj, lsm_progs[i]), false);
	for (i = 0; i < ARRAY_SIZE(unix_progs); i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, unix_progs[i].prog);
		int at = on ? attach_type_value(unix_progs[i].attach) : -ENOENT;

		bpf_program__set_autoload(prog, at >= 0);
		if (at < 0)
			continue;
		bpf_program__set_type(prog, BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
		bpf_program__set_expected_attach_type(prog, at);
	}
	/* Before 6.7 the BPF LSM backends judge unix paths in the
	 * socket_connect and socket_sendmsg hooks instead. */
	skel->rodata->af_unix_lsm = on && attach_type_value(unix_progs[0].attach) < 0;
	skel->rodata->af_net_families = on ? p->families : 0;
	if (on && attach_type_value(unix_progs[0].attach) < 0 &&
	    !bpf_program__autoload(skel->progs.lsm_sock_connect)) {
		size_t len = strlen(uncovered);

		snprintf(uncovered + len, ulen - len, "%sunix sockets (cgroup/connect_unix needs Linux 6.7)",
			 len ? ", " : "");
	}
	return 0;
}

/* One allowlist entry before merging. */
struct entry {
	int family;		/* 4 or 6 */
	uint8_t addr[16];
	int prefix;
	const uint16_t *ports;
	int nports;		/* 0: every port */
	uint8_t protos;
	struct af_loc loc;	/* line 0: not from a rule */
};

static bool contains(const struct entry *outer, const struct entry *inner)
{
	int full = outer->prefix / 8, bits = outer->prefix % 8;

	if (outer->family != inner->family || outer->prefix > inner->prefix)
		return false;
	if (memcmp(outer->addr, inner->addr, full))
		return false;
	return !bits || !((outer->addr[full] ^ inner->addr[full]) & (0xff00 >> bits));
}

static int merge(struct af_net_val *v, const struct entry *r)
{
	int i, j;

	if (!r->nports) {
		v->any_port |= r->protos;
		return 0;
	}
	for (i = 0; i < r->nports; i++) {
		for (j = 0; j < v->nports && v->ports[j].port != r->ports[i]; j++)
			;
		if (j == v->nports) {
			if (v->nports == AF_NET_VAL_PORTS)
				return -E2BIG;
			v->ports[v->nports++].port = r->ports[i];
		}
		v->ports[j].protos |= r->protos;
	}
	return 0;
}

static uint8_t rule_protos(const struct af_net_rule *r)
{
	return r->protocol == IPPROTO_TCP ? AF_NET_TCP : r->protocol == IPPROTO_UDP ? AF_NET_UDP :
	       AF_NET_TCP | AF_NET_UDP;
}

static void add(struct entry *es, size_t *n, int family, const void *addr, int prefix,
		const uint16_t *ports, int nports, uint8_t protos, struct af_loc loc)
{
	struct entry *e = &es[(*n)++];

	memset(e, 0, sizeof(*e));
	e->family = family;
	memcpy(e->addr, addr, family == 4 ? 4 : 16);
	e->prefix = prefix;
	e->ports = ports;
	e->nports = nports;
	e->protos = protos;
	e->loc = loc;
}

/* The allowlist's fixed entries: cidr rules and loopback. es has room
 * for n_net_allow + 4 + extra entries. */
static struct entry *static_entries(const struct af_policy *p, size_t extra, size_t *ne)
{
	static const uint8_t any[16], lo6[16] = { [15] = 1 }, lo4[4] = { 127 };
	struct entry *es = calloc(p->n_net_allow + 4 + extra, sizeof(*es));
	size_t i;

	*ne = 0;
	if (!es)
		return NULL;
	for (i = 0; i < p->n_net_allow; i++) {
		const struct af_net_rule *r = &p->net_allow[i];

		if (r->kind != AF_NET_CIDR)
			continue;	/* learned from DNS answers: af_net_learn */
		add(es, ne, r->family == AF_INET ? 4 : 6, r->addr, r->prefix, r->ports, r->nports,
		    rule_protos(r), r->loc);
	}
	/* connect() to 0.0.0.0 or :: reaches this host too. */
	if (p->allow_loopback) {
		add(es, ne, 4, lo4, 8, NULL, 0, AF_NET_TCP | AF_NET_UDP, (struct af_loc){});
		add(es, ne, 4, any, 32, NULL, 0, AF_NET_TCP | AF_NET_UDP, (struct af_loc){});
		add(es, ne, 6, lo6, 128, NULL, 0, AF_NET_TCP | AF_NET_UDP, (struct af_loc){});
		add(es, ne, 6, any, 128, NULL, 0, AF_NET_TCP | AF_NET_UDP, (struct af_loc){});
	}
	return es;
}

/* The value of es[k]'s key: what every entry containing it allows, so
 * that the longest match decides alone. */
static int entry_value(const struct entry *es, size_t ne, size_t k, struct af_net_val *val)
{
	size_t j;
	int err = 0;

	memset(val, 0, sizeof(*val));
	for (j = 0; j < ne && !err; j++) {
		if (contains(&es[j], &es[k]))
			err = merge(val, &es[j]);
	}
	return err;
}

static void entry_key(const struct entry *e, uint64_t fence_id, struct af_net_key *key)
{
	memset(key, 0, sizeof(*key));
	key->prefixlen = AF_NET_KEY_BITS + e->prefix;
	key->family = e->family;
	key->fence_id = fence_id;
	memcpy(key->addr, e->addr, sizeof(key->addr));
}

static int fill_inet(struct fence_bpf *skel, const struct af_policy *p, uint64_t fence_id,
		     char *why, size_t n)
{
	int fd = bpf_map__fd(skel->maps.af_net_allow), err = 0;
	struct af_net_key key;
	struct af_net_val val;
	struct entry *es;
	size_t ne, i;

	es = static_entries(p, 0, &ne);
	if (!es)
		return -ENOMEM;
	for (i = 0; i < ne && !err; i++) {
		err = entry_value(es, ne, i, &val);
		if (err) {
			snprintf(why, n, "%s:%d:%d: more than %d distinct ports for one address range",
				 p->file, es[i].loc.line, es[i].loc.col, AF_NET_VAL_PORTS);
			break;
		}
		entry_key(&es[i], fence_id, &key);
		err = bpf_map_update_elem(fd, &key, &val, BPF_ANY);
		if (err)
			snprintf(why, n, "fill the network allowlist: %s", strerror(-err));
	}
	free(es);
	return err;
}

int af_net_learn(int map_fd, const struct af_policy *p, uint64_t fence_id, int family,
		 const uint8_t *addr, const bool *live)
{
	struct af_net_key key;
	struct af_net_val val;
	struct entry *es, self = { .family = family, .prefix = family == 4 ? 32 : 128 };
	size_t ne, i, nlive = 0;
	bool exact = false;
	int err;

	es = static_entries(p, p->n_net_allow, &ne);
	if (!es)
		return -ENOMEM;
	memcpy(self.addr, addr, family == 4 ? 4 : 16);
	for (i = 0; i < ne; i++)
		exact |= es[i].family == family && es[i].prefix == self.prefix &&
			 contains(&es[i], &self);
	for (i = 0; i < p->n_net_allow; i++) {
		const struct af_net_rule *r = &p->net_allow[i];

		if (r->kind != AF_NET_HOST || !live[i])
			continue;
		add(es, &ne, family, addr, self.prefix, r->ports, r->nports, rule_protos(r), r->loc);
		nlive++;
	}
	es[ne] = self;	/* room: cidr and host rules together are n_net_allow */
	entry_key(&self, fence_id, &key);
	if (!nlive && !exact) {
		err = bpf_map_delete_elem(map_fd, &key);
		err = err == -ENOENT ? 0 : err;
	} else {
		err = entry_value(es, ne, ne, &val);
		if (!err)
			err = bpf_map_update_elem(map_fd, &key, &val, BPF_ANY);
	}
	free(es);
	return err;
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

static int fill_unix(struct fence_bpf *skel, const struct af_policy *p, uint64_t fence_id,
		     char *why, size_t n)
{
	int fd = bpf_map__fd(skel->maps.af_unix_allow), err;
	uint32_t one = 1;
	size_t i;

	for (i = 0; i < p->n_unix_allow; i++) {
		const struct af_path_rule *r = &p->unix_allow[i];
		struct af_unix_key key = { .fence_id = fence_id };
		size_t len = strlen(r->path);
		struct stat st;

		if (len + 2 > 108) {
			snprintf(why, n, "%s:%d:%d: %s: longer than a unix socket path can be",
				 p->file, r->loc.line, r->loc.col, r->path);
			return -ENAMETOOLONG;
		}
		memcpy(key.path, r->path, len);
		/* A directory covers what is beneath it; anything else is
		 * one socket, matched with its NUL. */
		if (!stat(r->path, &st) && S_ISDIR(st.st_mode)) {
			if (len && key.path[len - 1] != '/')
				key.path[len++] = '/';
			key.prefixlen = AF_NET_KEY_BITS + 8 * len;
		} else {
			key.prefixlen = AF_NET_KEY_BITS + 8 * (len + 1);
		}
		err = bpf_map_update_elem(fd, &key, &one, BPF_ANY);
		if (!err)
			err = fill_unix_id(skel, fence_id, r->path);
		if (err) {
			snprintf(why, n, "fill the unix allowlist: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

int af_net_fill(struct fence_bpf *skel, const struct af_policy *p, uint64_t fence_id,
		char *why, size_t n)
{
	int err;

	if (!p->has_network)
		return 0;
	err = fill_inet(skel, p, fence_id, why, n);
	return err ? err : fill_unix(skel, p, fence_id, why, n);
}

static const char *const net_verbs[AF_OP_MAX] = {
	[AF_OP_CONNECT] = "connect",
	[AF_OP_SENDMSG] = "sendto",
	[AF_OP_UNIX_CONNECT] = "unix connect",
	[AF_OP_UNIX_SENDMSG] = "unix sendto",
	[AF_OP_SOCKET] = "socket",
	[AF_OP_SOCKOPT] = "setsockopt",
	[AF_OP_NETLINK] = "netlink message",
	[AF_OP_DNS_UPSTREAM] = "send to the DNS stub's upstream socket",
};

static af_net_namer namer;
static void *namer_ctx;

void af_net_set_namer(af_net_namer fn, void *ctx)
{
	namer = fn;
	namer_ctx = ctx;
}

static void format_dest(const struct af_ev_net *e, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];
	const char *name;
	size_t len;

	switch (e->family) {
	case AF_INET:
	case AF_INET6:
		inet_ntop(e->family, e->addr, a, sizeof(a));
		name = namer ? namer(namer_ctx, e->family == AF_INET6 ? 6 : 4, e->addr) : NULL;
		snprintf(buf, n, e->family == AF_INET6 ? "[%s]:%u%s%s%s%s" : "%s:%u%s%s%s%s", a, e->port,
			 e->protocol == IPPROTO_UDP ? "/udp" : "", name ? " (" : "", name ? name : "",
			 name ? ")" : "");
		return;
	case AF_UNIX:
		len = e->path_len < sizeof(e->path) ? e->path_len : sizeof(e->path);
		if (e->flags & AF_NETF_ABSTRACT)	/* skip the leading NUL */
			snprintf(buf, n, "@%.*s (abstract)", (int)(len ? len - 1 : 0), e->path + 1);
		else
			snprintf(buf, n, "%.*s%s%s", (int)strnlen(e->path, len), e->path,
				 e->flags & AF_NETF_RELATIVE ? " (relative path)" : "",
				 e->flags & AF_NETF_DOTDOT ? " (path with ..)" :
				 e->flags & AF_NETF_IDENTITY ? " (the socket it resolves to is not allowed)" : "");
		return;
	}
	snprintf(buf, n, "family %u", e->family);
}

int af_net_event_format(const void *data, size_t size, char *buf, size_t n)
{
	const struct af_ev_net *e = data;
	const char *verb;
	char dest[256];

	if (size < sizeof(*e) || e->hdr.type != AF_EV_NET)
		return -EINVAL;
	verb = e->op < AF_OP_MAX && net_verbs[e->op] ? net_verbs[e->op] : "network operation";
	if (e->op == AF_OP_SOCKOPT)
		snprintf(dest, sizeof(dest), "level %u option %u", e->port, e->protocol);
	else if (e->op == AF_OP_NETLINK)
		snprintf(dest, sizeof(dest), "protocol %u type %u", e->port, e->protocol);
	else if (e->op == AF_OP_SOCKET && e->family != AF_INET && e->family != AF_INET6 &&
		 e->family != AF_PACKET && e->family != AF_NETLINK)
		snprintf(dest, sizeof(dest), "family %u type %u protocol %u", e->family, e->port,
			 e->protocol);
	else if (e->op == AF_OP_SOCKET)
		snprintf(dest, sizeof(dest), "%s %s protocol %u", e->family == AF_INET6 ? "inet6" :
			 e->family == AF_PACKET ? "packet" : e->family == AF_INET ? "inet" : "netlink",
			 e->port == SOCK_RAW ? "raw" : e->port == SOCK_DGRAM ? "dgram" :
			 e->port == SOCK_STREAM ? "stream" : "other", e->protocol);
	else
		format_dest(e, dest, sizeof(dest));
	snprintf(buf, n, "%s %s %s%s (%.*s pid %u)",
		 e->verdict == AF_ALLOWED ? "allowed" : e->verdict == AF_AUDITED ? "would deny" : "denied",
		 verb, dest, e->flags & AF_NETF_PASSED ? " (socket from outside the fence)" : "",
		 AF_COMM_LEN, e->comm, e->hdr.tgid);
	return 0;
}
