/* SPDX-License-Identifier: GPL-2.0 */
/* cgroup v2: find the mount, make and destroy transient cgroups. */
#ifndef AF_CGROUP_H
#define AF_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The cgroup2 mount point, from /proc/self/mountinfo (never assumed). */
int af_cgroup2_mount(char *buf, size_t size);

/* The kernel's id of the cgroup at path (what bpf_get_current_cgroup_id
 * returns for tasks in it); 0 with errno set on failure. */
uint64_t af_cgroup_id(const char *path);
/* The same of name beneath dirfd ("": dirfd's own cgroup). */
uint64_t af_cgroup_id_at(int dirfd, const char *name);

/* Make <cgroup2>/agentfence/<name>; path receives its full path and *fd
 * an O_DIRECTORY descriptor of it. */
int af_cgroup_create(const char *name, char *path, size_t size, int *fd);

/* Kill every task in the cgroup and its descendants, wait until they
 * are gone (bounded), and remove the whole subtree. */
int af_cgroup_destroy(const char *path);

/* Whether any task is left in the cgroup or beneath it: 1, 0, -errno. */
int af_cgroup_populated(const char *path);

/* Write val to the control file name of the cgroup at path
 * (cgroup.freeze, cgroup.kill): 0 or -errno. */
int af_cgroup_write(const char *cgroup, const char *name, const char *val);

/* Freeze the cgroup of cgfd and its descendants and wait (at most
 * timeout_ms) until every task in it is frozen: out of its system calls.
 * *mine: whether this call froze it (false: it was frozen already, a
 * paused container; leave it so). Before freezing, marker (a path) is
 * created, so that whoever finds it after a crash can thaw. -ETIMEDOUT:
 * not frozen in time (the caller thaws if *mine). */
int af_cgroup_freeze(int cgfd, int timeout_ms, const char *marker, bool *mine);

/* Thaw the cgroup of cgfd; then remove marker (may be NULL). */
int af_cgroup_thaw(int cgfd, const char *marker);

#endif /* AF_CGROUP_H */
