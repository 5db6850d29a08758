/* SPDX-License-Identifier: GPL-2.0 */
/* The node and its fences.
 *
 * The node: one BPF object per agentfence build and backend, loaded by
 * the first agentfence process that needs it, pinned under AF_NODE_ROOT
 * and adopted (not loaded again) by every later one; its global lsm/
 * and tracepoint programs attach once and stay attached. A fence: an id
 * (its cgroup's id), links of the node's cgroup programs to its cgroup,
 * its entries in the node's maps, its own ring buffer and counters.
 * Everything a fence enforces with is pinned: it outlives the process
 * that made it, until af_fence_remove (or af_fence_gc, once its cgroup
 * is empty).
 *
 * Threads: none of this is thread-safe; one supervisor thread owns its
 * struct af_fence objects. Processes: node load and adoption take a
 * lock; two processes must not update or remove the same fence at once
 * (the daemon owns what it adopts). */
#ifndef AF_FENCE_USER_H
#define AF_FENCE_USER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"
#include "policy.h"

struct af_fence;
struct af_entries;

/* Called for every event read from the fence's ring buffer. */
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
	uint32_t ring_bytes;		/* its ring buffer; 0: the policy's (spec.event_buffer), or the default */
	/* Kept in the fence's metadata for later processes (optional). */
	const char *journal;
	const void *policy_bytes;	/* the document, for re-compiling on adoption */
	size_t policy_len;
};

#define AF_PIN_ROOT "/sys/fs/bpf/agentfence"		/* fences: <id>/ */
#define AF_NODE_ROOT "/sys/fs/bpf/agentfence-nodes"	/* nodes: <build>-<backend>/ */

/* Make a fence on this build's node for the backend (loading and
 * pinning the node if no process did yet): its ring buffer, counters,
 * entries, config, membership and cgroup links, all pinned; its
 * metadata (af_fence_set_meta) from opts, supervisor getpid(). On
 * failure nothing of it is left; returns -errno and a reason ("attach
 * lsm_cgroup/file_open: Invalid argument") in why. A cgroup that is
 * inside a fence of the node already: -EEXIST (nested fences on one
 * node are not supported yet). */
int af_fence_open(const struct af_fence_opts *opts, struct af_fence **out,
		  char *why, size_t why_size);

/* Take over fence id from a supervisor that is gone: its ring buffer
 * (with every event the kernel kept meanwhile, delivered to on_event by
 * af_fence_consume) and its counters. *lost (may be NULL): the events
 * the kernel dropped since the last reader last read AF_CNT_RB_DROP
 * (af_fence_counter), i.e. lost while nobody read: journal it as the
 * gap. -ESRCH: no such fence; -ESTALE: it runs on another build's node.
 * The new reader must then read AF_CNT_RB_DROP itself to acknowledge,
 * and name itself the supervisor (af_fence_set_supervisor). */
int af_fence_adopt(uint64_t id, af_event_fn on_event, void *ctx, struct af_fence **out,
		   uint64_t *lost, char *why, size_t why_size);

/* Change the policy under the running fence: entries of p (compiled for
 * the fence's backend) are written under the other generation, then the
 * fence's config flips to them in one map update, the old generation
 * goes once no program can still be using it, and cgroup links follow
 * (network programs come before the flip, go after it). A decision sees
 * the old policy or the new one, never neither nor both. The DNS stub's
 * ports stay the fence's. Addresses the DNS stub learned under the old
 * generation are not carried over: a stub must learn under
 * af_fence_key() from now on (restart it, or re-point it). On failure
 * the old policy stays whole. */
int af_fence_update(struct af_fence *f, const struct af_policy *p, const struct af_entries *e,
		    char *why, size_t why_size);

/* Stop reading and free f; the fence stays, enforced and counted (its
 * supervisor is gone: af_fence_adopt takes it up). */
void af_fence_release(struct af_fence *f);

/* Detach, unpin, delete its entries and metadata, give its ring buffer
 * back to the node's pool, free. The cgroup is the caller's. Nothing of
 * it waits for an RCU grace period. af_fence_close is the same (it was
 * the background variant while removal waited). */
void af_fence_remove(struct af_fence *f);
void af_fence_close(struct af_fence *f);

/* Remove fence id without a struct af_fence: for a cgroup agentfence
 * did not make (attach), or a fence whose supervisor is gone. The
 * cgroup and its tasks stay, unfenced. A fence of another build's node
 * loses its links (its enforcement); its entries go with that node. */
int af_fence_detach(uint64_t id, char *why, size_t why_size);

uint64_t af_fence_id(const struct af_fence *f);
/* The key its entries have in this generation (bpf/fence.h AF_KEY_GEN):
 * what the DNS stub must learn addresses under (af_net_learn). */
uint64_t af_fence_key(const struct af_fence *f);

/* The epoll-able descriptor of the fence's ring buffer. */
int af_fence_events_fd(struct af_fence *f);

/* Unmap the fence's ring buffer if no event came since the last call
 * (af_fence_consume maps it again when one comes): a supervisor of many
 * quiet fences calls it now and then to keep its memory small. */
void af_fence_trim(struct af_fence *f);

/* The node's network allowlist, where the DNS stub adds what it learns
 * (under af_fence_key). */
int af_fence_net_allow_fd(struct af_fence *f);
int af_fence_dns_upstream_fd(struct af_fence *f);	/* see af_dns_set_upstream_map */

/* Deliver the events that are ready; returns how many or -errno. */
int af_fence_consume(struct af_fence *f);

/* A counter (enum af_counter). AF_CNT_RB_DROP is the fence's own (its
 * ring buffer's reserve failures), and reading it acknowledges it: the
 * caller reports drops up to it, and a later af_fence_adopt's gap counts
 * from it. The others are the node's, summed over all its fences. */
uint64_t af_fence_counter(struct af_fence *f, unsigned int idx);

/* A per-fence counter (bpf/fence.h enum af_fcounter): events the fence
 * made (AF_FC_EVENTS), and those its ring buffer had no room for. */
uint64_t af_fence_fcounter(struct af_fence *f, unsigned int idx);

/* The fence's ring buffer: its slot in the node's pool, its size, and
 * the bytes it holds that no reader took yet. */
struct af_ring_info {
	uint32_t slot;
	uint32_t bytes;
	uint64_t pending;
};
int af_fence_ring_info(struct af_fence *f, struct af_ring_info *ri);

/* The drops the fence's last reader acknowledged (AF_CNT_RB_DROP's
 * value then): an adopter's gap counts from it. */
uint64_t af_fence_acked(const struct af_fence *f);

/* Events this reader dropped as its ring pool slot's previous fence's. */
uint64_t af_fence_stale(const struct af_fence *f);

/* What this kernel's fence does not cover (hooks it lacks), "" if all. */
const char *af_fence_uncovered(struct af_fence *f);
/* An attached fence (lsm_cgroup): what the scan of the descriptors its
 * processes held found, and so whether file_permission judges every
 * write; "" where nothing was scanned. */
const char *af_fence_fdw_note(const struct af_fence *f);

/* ---- what a later process needs to know of a fence ----
 * Kept in files under /run/agentfence/fences/<id>/ ("meta": key=value
 * lines; "policy": the document's bytes): variable-sized (a policy is up
 * to 1 MiB), readable with cat, gone at reboot like the pins, and
 * written by rename so that a reader sees a whole version. */
struct af_fence_meta {
	const char *policy_name;
	const char *policy_sha256;
	const char *journal;		/* NULL: none */
	const char *cgroup;		/* its path */
	enum af_backend backend;
	pid_t supervisor;		/* who reads its events now */
	const void *policy;		/* NULL: keep the stored document */
	size_t policy_len;
};

/* Replace the metadata of fence id (a value with a newline is left out). */
int af_fence_set_meta(uint64_t id, const struct af_fence_meta *m);

/* Change only who supervises fence id (an adopter names itself: a fence
 * whose supervisor runs is never collected by af_fence_gc). */
int af_fence_set_supervisor(uint64_t id, pid_t pid);

/* The stored policy document of fence id (malloc'd, NUL-terminated);
 * -ENOENT when none was stored. */
int af_fence_policy_bytes(uint64_t id, char **buf, size_t *len);

struct af_fence_info {
	uint64_t id;
	char node[64];			/* the node's pin directory's name, "" unknown */
	bool this_build;		/* the node is this build's (counters below are read) */
	enum af_backend backend;	/* from the metadata; AF_BACKEND_NONE unknown */
	char cgroup[PATH_MAX];		/* path, now (or as stored when gone) */
	bool cgroup_alive;
	pid_t supervisor;		/* 0: unknown */
	bool supervisor_alive;		/* false: orphaned */
	char policy_name[128];
	char policy_sha256[65];
	char journal[PATH_MAX];
	uint64_t events, drops;		/* AF_FC_EVENTS (made), AF_FC_DROPS (of them, dropped) */
	uint64_t acked_drops;		/* drops its last reader reported */
	uint64_t generation;		/* updates applied */
};

/* Every fence of the machine, from the pins (malloc'd array, free()). */
int af_fence_list(struct af_fence_info **out, size_t *n);

/* Open the cgroup with this id (O_DIRECTORY; path receives its path if
 * not NULL); -errno (-ESTALE: gone). */
int af_fence_cgroup_open(uint64_t id, char *path, size_t size);

/* Remove fences whose supervisor (af_fence_meta) is gone and whose
 * cgroup is gone or empty (the enforcement they kept has nothing left to
 * fence; run's empty cgroups go too, no other cgroup), nodes of other
 * builds that no fence uses, and empty cgroups of dead loaders. */
void af_fence_gc(void);

/* Whether pid runs inside a fence: its cgroup lies where run makes
 * fences, or it or an ancestor is a fence (has pins, or is own). Unknown:
 * yes (fail closed). */
bool af_fence_task_fenced(pid_t pid, uint64_t own);

/* ---- Kubernetes: pods fenced from their cgroup's creation (bpf/k8s.bpf.h) ---- */

/* Link the node's kubepods programs (ak_*) to the cgroup (a kubepods
 * cgroup of id cgroup_id), pinned with fence id (the daemon's hold
 * fence: they go when it goes). Links already pinned are kept. */
int af_fence_k8s_link(uint64_t id, int cgroup_fd, uint64_t cgroup_id, char *why, size_t n);

/* A descriptor (the caller closes it) of the map af_kmember, af_kpend or
 * af_kparent of fence id's node; -errno. */
int af_fence_k8s_map(uint64_t id, const char *name, char *why, size_t n);

/* ---- nodes ---- */

/* This build's nodes' ring pools: stale claims dropped, spare buffers
 * beyond a few freed (the pool keeps its high-water mark otherwise).
 * Returns how many buffers were freed. agentfence gc. */
int af_node_trim(void);

/* This build's id: the first 16 hex digits of the SHA-256 of its BPF
 * object. A node's pin directory is AF_NODE_ROOT/<build>-<backend>. */
const char *af_node_build(void);

struct af_node_info {
	char name[64];			/* <build>-<backend>[-tmp] */
	bool this_build;
	bool partial;			/* a loader died while pinning it */
	unsigned int fences;		/* fences that use it */
	unsigned int progs;		/* cgroup programs fences attach */
	unsigned int links;		/* global links (lsm/, tracepoints) */
};

/* Every node pinned on the machine (malloc'd array, free()). */
int af_node_list(struct af_node_info **out, size_t *n);

/* Remove every node no fence uses, this build's too (the next fence
 * loads it again); returns how many went, or -errno. */
int af_node_gc(void);

#endif /* AF_FENCE_USER_H */
