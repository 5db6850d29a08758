// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include "compile.h"

/* What the parser bounds, one fence's maps can always hold: the limits
 * left to check here are those of single entries. (The node's maps are
 * shared by its fences; their budget is the node's to keep.) */
_Static_assert(2 * AF_POLICY_MAX_PATHS <= AF_ROOTS_MAX, "roots of one fence fit af_roots");
_Static_assert(AF_NET_MAX_ALLOW + 4 <= AF_NET_ALLOW_MAX, "one fence's cidrs fit af_net_allow");
_Static_assert(AF_POLICY_MAX_PATHS <= AF_UNIX_ALLOW_MAX, "one fence's unix paths fit af_unix_allow");
_Static_assert(AF_NET_MAX_PORTS <= AF_NET_VAL_PORTS, "one rule's ports fit an entry");

uint32_t af_kdev(uint64_t st_dev)
{
	return (uint32_t)(major(st_dev) << 20 | minor(st_dev));
}

static int resolve_list(const struct af_path_rule *rules, size_t n, struct af_ident **out)
{
	struct af_ident *ids = calloc(n ? n : 1, sizeof(*ids));
	struct stat st;
	size_t i;

	if (!ids)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (stat(rules[i].path, &st)) {
			ids[i].err = -errno;
			continue;
		}
		ids[i].dev = af_kdev(st.st_dev);
		ids[i].ino = st.st_ino;
		ids[i].dir = S_ISDIR(st.st_mode);
	}
	*out = ids;
	return 0;
}

int af_resolve(const struct af_policy *p, struct af_idents *out)
{
	memset(out, 0, sizeof(*out));
	if (resolve_list(p->writable, p->n_writable, &out->writable) ||
	    resolve_list(p->deny_read, p->n_deny_read, &out->deny_read) ||
	    resolve_list(p->unix_allow, p->n_unix_allow, &out->unix_allow)) {
		af_idents_free(out);
		return -ENOMEM;
	}
	return 0;
}

void af_idents_free(struct af_idents *ids)
{
	free(ids->writable);
	free(ids->deny_read);
	free(ids->unix_allow);
	memset(ids, 0, sizeof(*ids));
}

uint32_t af_compile_event_flags(unsigned int kinds, enum af_backend b)
{
	uint32_t flags = 0;

	if (kinds & AF_EVK_EXEC)
		flags |= AF_FENCE_EV_EXEC;
	if (kinds & AF_EVK_FORK)
		flags |= AF_FENCE_EV_FORK;
	if (kinds & AF_EVK_EXIT)
		flags |= AF_FENCE_EV_EXIT;
	if (kinds & AF_EVK_FILE)
		flags |= AF_FENCE_EV_FILE | AF_FENCE_EV_REFUSED;
	if (kinds & AF_EVK_CONNECT)
		flags |= AF_FENCE_NET_ALLOWED;
	/* Landlock's denials are only seen as refused system calls; the
	 * LSM backends report their own. */
	if (b == AF_BACKEND_LANDLOCK)
		flags |= AF_FENCE_EV_REFUSED;
	return flags;
}

/* Note a device that holds a deny_read root (see af_fence_cfg). */
static void add_rdev(struct af_fence_cfg *cfg, uint32_t dev)
{
	uint32_t i;

	if (cfg->n_rdevs == AF_RDEVS_ALL)
		return;
	for (i = 0; i < cfg->n_rdevs; i++)
		if (cfg->rdevs[i] == dev)
			return;
	if (cfg->n_rdevs == AF_RDEVS_MAX)
		cfg->n_rdevs = AF_RDEVS_ALL;
	else
		cfg->rdevs[cfg->n_rdevs++] = dev;
}

static int located(char err[AF_ERR_MAX], const struct af_policy *p, struct af_loc loc, int ret,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int located(char err[AF_ERR_MAX], const struct af_policy *p, struct af_loc loc, int ret,
		   const char *fmt, ...)
{
	va_list ap;
	int len = 0;

	if (!err)
		return ret;
	if (loc.line)
		len = snprintf(err, AF_ERR_MAX, "%s:%d:%d: ", p->file, loc.line, loc.col);
	else
		len = snprintf(err, AF_ERR_MAX, "%s: ", p->file);
	va_start(ap, fmt);
	vsnprintf(err + len, AF_ERR_MAX - len, fmt, ap);
	va_end(ap);
	return ret;
}

static int compile_roots(const struct af_policy *p, const struct af_idents *ids,
			 struct af_entries *e, char err[AF_ERR_MAX])
{
	const struct {
		const struct af_path_rule *rules;
		const struct af_ident *ids;
		size_t count;
		uint32_t kind;
	} lists[] = {
		{ p->writable, ids->writable, p->n_writable, AF_ROOT_WRITABLE },
		{ p->deny_read, ids->deny_read, p->n_deny_read, AF_ROOT_DENY_READ },
	};
	size_t i, j;

	e->roots = calloc(p->n_writable + p->n_deny_read + 1, sizeof(*e->roots));
	if (!e->roots)
		return -ENOMEM;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		for (j = 0; j < lists[i].count; j++) {
			const struct af_path_rule *r = &lists[i].rules[j];
			const struct af_ident *id = &lists[i].ids[j];
			struct af_root_entry *re;

			if (id->err) {
				/* Nothing to protect; the policy warned already. A
				 * writable path run creates (create:) is checked
				 * without it: one fewer root only narrows. */
				if ((lists[i].kind == AF_ROOT_DENY_READ || r->create) &&
				    id->err == -ENOENT)
					continue;
				return located(err, p, r->loc, id->err, "%s: %s", r->path,
					       strerror(-id->err));
			}
			re = &e->roots[e->n_roots++];
			re->key.dev = id->dev;
			re->key.ino = id->ino;
			re->val.kind = lists[i].kind;
			if (lists[i].kind == AF_ROOT_DENY_READ) {
				e->cfg.flags |= AF_FENCE_DENY_READ;
				add_rdev(&e->cfg, id->dev);
			}
		}
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
			continue;	/* learned from DNS answers: af_compile_learned */
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

static void entry_key(const struct entry *e, struct af_net_key *key)
{
	memset(key, 0, sizeof(*key));
	key->prefixlen = AF_NET_KEY_BITS + e->prefix;
	key->family = e->family;
	memcpy(key->addr, e->addr, sizeof(key->addr));
}

static int compile_inet(const struct af_policy *p, struct af_entries *e, char err[AF_ERR_MAX])
{
	struct entry *es;
	size_t ne, i;
	int ret = 0;

	es = static_entries(p, 0, &ne);
	e->net = calloc(ne ? ne : 1, sizeof(*e->net));
	if (!es || !e->net) {
		free(es);
		return -ENOMEM;
	}
	for (i = 0; i < ne; i++) {
		struct af_net_entry *n = &e->net[e->n_net++];

		if (entry_value(es, ne, i, &n->val)) {
			ret = located(err, p, es[i].loc, -E2BIG,
				      "more than %d distinct ports for one address range "
				      "(with the rules that contain it)", AF_NET_VAL_PORTS);
			break;
		}
		entry_key(&es[i], &n->key);
	}
	free(es);
	return ret;
}

static int compile_unix(const struct af_policy *p, const struct af_idents *ids,
			struct af_entries *e, char err[AF_ERR_MAX])
{
	size_t i;

	e->unix_keys = calloc(p->n_unix_allow ? p->n_unix_allow : 1, sizeof(*e->unix_keys));
	if (!e->unix_keys)
		return -ENOMEM;
	for (i = 0; i < p->n_unix_allow; i++) {
		const struct af_path_rule *r = &p->unix_allow[i];
		struct af_unix_key *key = &e->unix_keys[e->n_unix++];
		size_t len = strlen(r->path);

		/* Room for the NUL, or the '/' a directory takes. */
		if (len + 2 > sizeof(((struct sockaddr_un *)0)->sun_path))
			return located(err, p, r->loc, -ENAMETOOLONG,
				       "%s: longer than a unix socket path can be", r->path);
		memcpy(key->path, r->path, len);
		/* A directory covers what is beneath it; anything else is
		 * one socket, matched with its NUL. */
		if (!ids->unix_allow[i].err && ids->unix_allow[i].dir) {
			if (len && key->path[len - 1] != '/')
				key->path[len++] = '/';
			key->prefixlen = AF_NET_KEY_BITS + 8 * len;
		} else {
			key->prefixlen = AF_NET_KEY_BITS + 8 * (len + 1);
		}
	}
	return 0;
}

int af_compile(const struct af_policy *p, const struct af_idents *ids, enum af_backend b,
	       struct af_entries **out, char err[AF_ERR_MAX])
{
	struct af_entries *e = calloc(1, sizeof(*e));
	int ret;

	*out = NULL;
	if (err)
		err[0] = 0;
	if (!e)
		return -ENOMEM;
	ret = compile_roots(p, ids, e, err);
	if (!ret && p->has_network)
		ret = compile_inet(p, e, err);
	if (!ret && p->has_network)
		ret = compile_unix(p, ids, e, err);
	if (ret) {
		if (ret == -ENOMEM)
			located(err, p, (struct af_loc){}, ret, "out of memory");
		af_entries_free(e);
		return ret;
	}
	if (p->mode == AF_MODE_AUDIT)
		e->cfg.flags |= AF_FENCE_AUDIT;
	if (p->judge_fds)
		e->cfg.flags |= AF_FENCE_FDWRITE;
	e->cfg.flags |= af_compile_event_flags(p->events, b);
	if (p->has_network) {
		e->cfg.flags |= AF_FENCE_NET;
		e->cfg.net_families = p->families;
	}
	*out = e;
	return 0;
}

void af_entries_free(struct af_entries *e)
{
	if (!e)
		return;
	free(e->roots);
	free(e->net);
	free(e->unix_keys);
	free(e);
}

int af_compile_learned(const struct af_policy *p, int family, const uint8_t *addr,
		       const bool *live, struct af_net_entry *out, bool *remove)
{
	struct entry *es, self = { .family = family, .prefix = family == 4 ? 32 : 128 };
	size_t ne, i, nlive = 0;
	bool exact = false;
	int err = 0;

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
	entry_key(&self, &out->key);
	*remove = !nlive && !exact;
	if (!*remove)
		err = entry_value(es, ne, ne, &out->val);
	free(es);
	return err;
}
