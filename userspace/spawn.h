/* SPDX-License-Identifier: GPL-2.0 */
#ifndef AF_SPAWN_H
#define AF_SPAWN_H

#include <sys/types.h>

/* fork() into the cgroup behind cgroup_fd: the child is in it before
 * it runs a single instruction (clone3 CLONE_INTO_CGROUP, 5.7+), or,
 * on older kernels, moves itself there before returning. Returns as
 * fork() does; *pidfd gets a pidfd of the child or -1. */
pid_t af_fork_into_cgroup(int cgroup_fd, int *pidfd);

#endif /* AF_SPAWN_H */
