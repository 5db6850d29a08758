/* SPDX-License-Identifier: GPL-2.0 */
/* The network fence's userspace half: choose its programs, compile
 * spec.network into the allowlist maps, describe its events. */
#ifndef AF_NET_H
#define AF_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct fence_bpf;

/* Before load: tell the object its fence id, give the unix programs the
 * types libbpf 1.1 cannot infer, and turn off what the policy or the
 * kernel does not need or have. What is lost is appended to uncovered. */
int af_net_prepare(struct fence_bpf *skel, const struct af_policy *p, uint64_t fence_id,
		   uint16_t dns_port4, uint16_t dns_port6, char *uncovered, size_t ulen);

/* After load: fill the allowlists of fence_id. */
int af_net_fill(struct fence_bpf *skel, const struct af_policy *p, uint64_t fence_id,
		char *why, size_t n);

/* Set the allowlist entry of one address (4 or 6: 4 or 16 bytes) that
 * DNS answers taught: it allows what the host rules i with live[i] do,
 * plus what cidr rules covering it do; with no live rule it goes. */
int af_net_learn(int map_fd, const struct af_policy *p, uint64_t fence_id, int family,
		 const uint8_t *addr, const bool *live);

/* Names of addresses for event lines: the DNS stub's answers. */
typedef const char *(*af_net_namer)(void *ctx, int family, const uint8_t *addr);
void af_net_set_namer(af_net_namer fn, void *ctx);

/* "denied connect 10.1.2.3:443 (curl pid 812)" for an AF_EV_NET event. */
int af_net_event_format(const void *data, size_t size, char *buf, size_t n);

#endif /* AF_NET_H */
