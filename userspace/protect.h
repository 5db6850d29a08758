/* SPDX-License-Identifier: GPL-2.0 */
/* Protected paths on the BPF LSM backends: the maps bpf/fs.bpf.c reads. */
#ifndef AF_PROTECT_H
#define AF_PROTECT_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/* Fill af_roots (existing protected paths, by identity), af_pnames and
 * af_pnext (by parent directory and name, for paths not there yet and
 * the directories on their way) for fence_id. Returns 0 or -errno with
 * a message in why. */
int af_protect_fill(const struct af_policy *p, uint64_t fence_id, int roots_fd,
		    int pnames_fd, int pnext_fd, char *why, size_t n);

#endif /* AF_PROTECT_H */
