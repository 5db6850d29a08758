/* SPDX-License-Identifier: GPL-2.0 */
/* A fence: the BPF object, its maps filled from a policy, its programs
 * attached to a cgroup, links pinned so that enforcement outlives the
 * loader, and the ring buffer of its decisions. */
#ifndef AF_FENCE_USER_H
#define AF_FENCE_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"
#include "policy.h"

struct af_fence;
struct af_entries;

/* Called for every event read from the ring buffer. */
typedef void (*af_event_fn)(void *ctx, const void *data, size_t size);

struct af_fence_opts {
	enum af_backend backend;	/* landlock: network fence and event tracepoints only */
	const struct af_policy *policy;
	const struct af_entries *entries;	/* af_compile's, of policy */
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

/* Whether pid runs inside a fence: its cgroup lies where run makes
 * fences, or it or an ancestor is a fence (has pins, or is own). Unknown:
 * yes (fail closed). */
bool af_fence_task_fenced(pid_t pid, uint64_t own);


#endif /* AF_FENCE_USER_H */
