/* SPDX-License-Identifier: GPL-2.0 */
/* Capabilities of the fenced command: names for policies, and the drop
 * to what the policy grants, in the child between fork and exec. */
#ifndef AF_CAPS_H
#define AF_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Highest capability number this build knows (CAP_CHECKPOINT_RESTORE). */
#define AF_CAP_LAST 40

/* "net_bind_service" for 10, NULL for an unknown number. */
const char *af_cap_name(unsigned int cap);

/* The number of a name, with or without "CAP_", any case; -1 if none. */
int af_cap_parse(const char *name);

/* Bit mask of the capabilities that reach outside the box when granted
 * (sys_admin, sys_module, bpf, ...): policy load warns about them. */
uint64_t af_caps_dangerous(void);

/* Who the fenced command runs as (user.h fills it in): set false, it
 * keeps the caller's ids (root's, as `run --user root`). groups is
 * the supplementary list, computed before fork (initgroups(3) reads
 * the group database, which the child must not). */
struct af_cred {
	bool set;
	uid_t uid;
	gid_t gid;
	size_t ngroups;
	gid_t *groups;
};

/* Leave the calling process (and what it executes, as uid 0 or not)
 * with exactly the capabilities in keep: bounding, permitted,
 * effective and inheritable sets; the ambient set carries keep across
 * execve; securebits locked so that uid 0 earns nothing at exec
 * (SECBIT_NOROOT) and nothing can be raised later. Sets no_new_privs.
 * Raw prctl/capset, no allocation: async-signal-safe, for the child
 * between fork and exec. With cred (not NULL, set), the process takes
 * its groups, gid and uid (real, effective, saved) between the
 * securebits and the capset. Returns 0 or -errno with a static reason. */
int af_caps_apply(uint64_t keep, const struct af_cred *cred, const char **why);

/* Render a mask as "chown,net_bind_service" ("" for none) into buf. */
void af_caps_format(uint64_t mask, char *buf, size_t size);

#endif /* AF_CAPS_H */
