/* SPDX-License-Identifier: GPL-2.0 */
/* The network fence's userspace half: choose its programs, compile
 * spec.network into the allowlist maps, describe its events. */
#ifndef AF_NET_H
#define AF_NET_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct fence_bpf;

/* Before load: tell the object its fence id, give the unix programs the
 * types libbpf 1.1 cannot infer, and turn off what the policy or the
 * kernel does not need or have. What is lost is appended to uncovered. */
int af_net_prepare(struct fence_bpf *skel, const struct af_policy *p, uint64_t fence_id,
		   char *uncovered, size_t ulen);

/* After load: fill the allowlists of fence_id. */
int af_net_fill(struct fence_bpf *skel, const struct af_policy *p, uint64_t fence_id,
		char *why, size_t n);

/* What spec.network asks that this build cannot enforce: -ENOTSUP with
 * a located message in why, or 0. */
int af_net_unsupported(const struct af_policy *p, char *why, size_t n);

/* "denied connect 10.1.2.3:443 (curl pid 812)" for an AF_EV_NET event. */
int af_net_event_format(const void *data, size_t size, char *buf, size_t n);

#endif /* AF_NET_H */
