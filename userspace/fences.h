/* SPDX-License-Identifier: GPL-2.0 */
/* What a supervisor keeps of each fence it holds beyond the node's
 * metadata (fence.h af_fence_set_meta): what adoption needs to take the
 * fence up again as it was (the DNS stub's ports, ${WORKSPACE} and
 * ${HOME} of its policy) and whom it holds it for. One JSON object in
 * AF_SUP_META_DIR/<id>.json (root's, 0600), gone with the fence. */
#ifndef AF_FENCES_H
#define AF_FENCES_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define AF_SUP_META_DIR	"/run/agentfence/sup"

struct af_sup_meta {
	uint64_t id;
	pid_t client;		/* the run it is held for; 0: none */
	bool owned;		/* agentfence made its cgroup */
	uint16_t dns_port4, dns_port6;
	char workspace[PATH_MAX];
	char home[PATH_MAX];
	char policy_file[PATH_MAX];	/* "" : the built-in one */
};

int af_sup_meta_write(const struct af_sup_meta *m);
void af_sup_meta_remove(uint64_t id);
int af_sup_meta_read(uint64_t id, struct af_sup_meta *m);

#endif /* AF_FENCES_H */
