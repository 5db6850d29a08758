/* SPDX-License-Identifier: GPL-2.0 */
/* A fence: the BPF object, its maps filled from a policy, its programs
 * attached to a cgroup, links pinned so that enforcement outlives the
 * loader, and the ring buffer of its decisions. */
#ifndef AF_FENCE_USER_H
#define AF_FENCE_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "policy.h"

struct af_fence;

/* Called for every event read from the ring buffer. */
typedef void (*af_event_fn)(void *ctx, const void *data, size_t size);

struct af_fence_opts {
	enum af_backend backend;	/* landlock: network fence and event tracepoints only */
	const struct af_policy *policy;
	int cgroup_fd;
	uint64_t cgroup_id;
	af_event_fn on_event;
	void *ctx;
	uint16_t dns_port4;		/* the DNS stub's ports (dns.h); 0: none */
	uint16_t dns_port6;
};

#define AF_PIN_ROOT "/sys/fs/bpf/agentfence"

/* Load, fill, attach and pin. On failure returns -errno and a reason
 * ("attach lsm_cgroup/file_open: Invalid argument") in why. */
int af_fence_open(const struct af_fence_opts *opts, struct af_fence **out,
		  char *why, size_t why_size);

/* The epoll-able descriptor of the event ring buffer. */
int af_fence_events_fd(struct af_fence *f);

/* The network allowlist, where the DNS stub adds what it learns. */
int af_fence_net_allow_fd(struct af_fence *f);
int af_fence_dns_upstream_fd(struct af_fence *f);	/* see af_dns_set_upstream_map */

/* Deliver the events that are ready; returns how many or -errno. */
int af_fence_consume(struct af_fence *f);

/* Sum of a counter over CPUs (enum af_counter). */
uint64_t af_fence_counter(struct af_fence *f, unsigned int idx);

/* What this kernel's fence does not cover (hooks it lacks), "" if all. */
const char *af_fence_uncovered(struct af_fence *f);

/* Detach, unpin and free. */
void af_fence_close(struct af_fence *f);

/* Remove pins of fences whose cgroup is gone or empty (their loader
 * died): the enforcement they kept has nothing left to fence. */
void af_fence_gc(void);

/* The af_fence_cfg flags (bpf/fence.h) that make the fence report the
 * event kinds of spec.events (enum af_event_kind) on backend b. */
uint32_t af_fence_event_flags(unsigned int kinds, enum af_backend b);

/* Convert a stat() st_dev to the kernel's internal dev_t (s_dev). */
uint32_t af_kdev(uint64_t st_dev);

#endif /* AF_FENCE_USER_H */
