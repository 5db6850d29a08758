/* SPDX-License-Identifier: GPL-2.0 */
/* What a supervisor stores of each fence it holds, beside the fence's
 * pins, so that `agentfence status` can tell them without asking it:
 * AF_RUN_DIR/fences/<id>.json, one JSON object (root's, 0600). A fence
 * with pins whose supervisor is gone is "orphaned". */
#ifndef AF_FENCES_H
#define AF_FENCES_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define AF_FENCES_DIR	"/run/agentfence/fences"

struct af_fence_meta {
	uint64_t id;
	char cgroup[PATH_MAX];
	char policy[256];
	char sha256[65];
	char backend[16];
	char journal[PATH_MAX];
	pid_t supervisor;	/* the process that holds it */
	pid_t client;		/* the run it holds it for; 0: none */
	bool owned;		/* agentfence made its cgroup */
	bool pinned;		/* status: the fence has pins (enforcement stays) */
	bool orphaned;		/* status: its supervisor is gone */
};

int af_fence_meta_write(const struct af_fence_meta *m);
void af_fence_meta_remove(uint64_t id);
int af_fence_meta_read(uint64_t id, struct af_fence_meta *m);

/* Every fence on the node: those with pins (AF_PIN_ROOT/<id>) and those
 * with stored metadata, in id order; fn's non-zero return stops. */
int af_fences_each(int (*fn)(void *ctx, const struct af_fence_meta *m), void *ctx);

#endif /* AF_FENCES_H */
