/* SPDX-License-Identifier: GPL-2.0 */
/* Policy compile: a validated policy plus the identities its paths have
 * on this machine become the entry set of a fence, the very keys and
 * values its maps hold (bpf/fence.h), with no fence id yet: applying
 * the set (fence.c) stamps it. Pure: no kernel, no libbpf, no root, so
 * `policy check` reports every kernel-side limit, located, before any
 * fence exists. Resolving the identities (af_resolve) is the one step
 * that asks the filesystem. */
#ifndef AF_COMPILE_H
#define AF_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "policy.h"
#include "../bpf/fence.h"

/* What a policy path is on this machine. */
struct af_ident {
	int err;		/* 0, or -errno of stat() */
	uint32_t dev;		/* kernel-internal dev_t (af_kdev) */
	uint64_t ino;
	bool dir;
};

/* One per path of the policy's lists, in their order. */
struct af_idents {
	struct af_ident *writable;	/* [p->n_writable] */
	struct af_ident *deny_read;	/* [p->n_deny_read] */
	struct af_ident *unix_allow;	/* [p->n_unix_allow] */
};

struct af_root_entry {
	struct af_root_key key;		/* fence_id 0 */
	struct af_root_val val;
};

struct af_net_entry {
	struct af_net_key key;		/* fence_id 0 */
	struct af_net_val val;
};

struct af_entries {
	struct af_fence_cfg cfg;
	struct af_root_entry *roots;
	size_t n_roots;
	struct af_net_entry *net;
	size_t n_net;
	struct af_unix_key *unix_keys;	/* fence_id 0; the value is 1 */
	size_t n_unix;
};

/* stat() every path of p's lists. Returns 0 or -ENOMEM; a path that
 * cannot be resolved has its -errno in its af_ident. */
int af_resolve(const struct af_policy *p, struct af_idents *out);
void af_idents_free(struct af_idents *ids);

/* The entry set of p with identities ids on backend b. On failure
 * returns -errno (-E2BIG: a kernel-side limit) with one
 * "file:line:col: message" line in err. */
int af_compile(const struct af_policy *p, const struct af_idents *ids, enum af_backend b,
	       struct af_entries **out, char err[AF_ERR_MAX]);
void af_entries_free(struct af_entries *e);

/* The allowlist entry of one address (4 or 6: 4 or 16 bytes) that DNS
 * answers taught: what the host rules i with live[i] allow, plus what
 * cidr rules covering it do. *remove when nothing allows it any more
 * (the entry goes). -E2BIG when its ports do not fit one entry. */
int af_compile_learned(const struct af_policy *p, int family, const uint8_t *addr,
		       const bool *live, struct af_net_entry *out, bool *remove);

/* The af_fence_cfg flags that make the fence report the event kinds of
 * spec.events (enum af_event_kind) on backend b. */
uint32_t af_compile_event_flags(unsigned int kinds, enum af_backend b);

/* Convert a stat() st_dev to the kernel's internal dev_t (s_dev). */
uint32_t af_kdev(uint64_t st_dev);

#endif /* AF_COMPILE_H */
