/* SPDX-License-Identifier: GPL-2.0 */
/* The Landlock backend: the launched process restricts itself before
 * exec. Filesystem writes only; see af_landlock_uncovered(). */
#ifndef AF_LANDLOCK_H
#define AF_LANDLOCK_H

#include "policy.h"

/* Highest Landlock ABI of the running kernel, or -errno. */
int af_landlock_abi(void);

/* Restrict the calling process to the policy's writable roots. Meant
 * for the child between fork and exec: async-signal-safe, no malloc.
 * Returns 0 or -errno with a static reason in *why. */
int af_landlock_restrict(const struct af_policy *p, const char **why);

/* What the policy asks for that Landlock (at this ABI) cannot enforce,
 * as one comma-separated phrase ("" when nothing). */
const char *af_landlock_uncovered(const struct af_policy *p, int abi);

#endif /* AF_LANDLOCK_H */
