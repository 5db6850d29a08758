/* SPDX-License-Identifier: GPL-2.0 */
/* The mount namespace beneath the Landlock backend: what Landlock
 * cannot express (read-only outside the writable paths for chmod,
 * chown, utimes, xattrs and inode flags; deny_read; protected paths)
 * is made by mounts, the way bubblewrap does. */
#ifndef AF_MOUNTNS_H
#define AF_MOUNTNS_H

#include "policy.h"

/* In the parent, before fork: work out the mounts for p (allocates).
 * Returns 0 or -errno with a message in err. */
int af_mountns_prepare(const struct af_policy *p, char *err, size_t n);

/* In the child, after fork and before Landlock and the seccomp filter:
 * a private mount namespace with the prepared mounts. No malloc.
 * Returns 0 or -errno; *why names the step, *where its path. */
int af_mountns_enter(const char **why, const char **where);

/* What the mounts cannot hold for p, as a phrase ("" when nothing):
 * protected paths that do not exist yet, or are symlinks. */
const char *af_mountns_uncovered(const struct af_policy *p);

#endif /* AF_MOUNTNS_H */
