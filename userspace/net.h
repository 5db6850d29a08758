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

/* Before the node loads: every program of the network fence, the unix
 * ones with the types libbpf 1.1 cannot infer and only when the kernel
 * has their hooks (6.7+); the node's af_unix_lsm from that. */
int af_net_prepare(struct fence_bpf *skel);

/* Whether a fence with policy p attaches the cgroup program prog of the
 * network fence (the DNS stub's redirection needs its port). Programs
 * that are not the network fence's: true. */
bool af_net_prog_wanted(const char *prog, const struct af_policy *p, uint16_t dns_port4);

/* After load: write the allowlists of an entry set (compile.h) under
 * key (the fence's key id, AF_KEY_GEN). */
struct af_entries;
int af_net_apply(struct fence_bpf *skel, const struct af_entries *e, uint64_t fence_id,
		 char *why, size_t n);

/* After load: the identities of the policy's unix paths (the BPF LSM
 * programs judge the socket a path resolves to): stat()ed here, beneath
 * fence_id. */
int af_net_unix_ids(struct fence_bpf *skel, const struct af_policy *p, uint64_t fence_id,
		    char *why, size_t n);

/* Set the allowlist entry of one address (4 or 6: 4 or 16 bytes) that
 * DNS answers taught: it allows what the host rules i with live[i] do,
 * plus what cidr rules covering it do; with no live rule it goes. */
int af_net_learn(int map_fd, const struct af_policy *p, uint64_t fence_id, int family,
		 const uint8_t *addr, const bool *live);

#endif /* AF_NET_H */
