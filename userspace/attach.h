/* SPDX-License-Identifier: GPL-2.0 */
/* `agentfence attach`: a fence beneath processes that already run (a
 * container's cgroup, any cgroup, a process's cgroup). What is not the
 * supervisor's: finding the target, reading the policy's paths in the
 * target's mount namespace, and what a later process (status, the daemon
 * that adopts the fence) must know of it: which container it is. */
#ifndef AF_ATTACH_H
#define AF_ATTACH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "container.h"
#include "policy.h"

#define AF_ATTACH_META_DIR	"/run/agentfence/attach"

/* What is attached to, and who that is. */
struct af_attach_meta {
	uint64_t id;				/* the fence's */
	char runtime[16];			/* docker, containerd, podman; "" none */
	char container[AF_CONTAINER_ID_MAX];	/* its full id; "" none */
	char name[AF_CONTAINER_NAME_MAX];
	pid_t pid;				/* the process whose mount namespace and
						 * root the policy's paths are read in */
	pid_t attacher;				/* the attach supervising it in the
						 * foreground; 0: a daemon holds it */
	char cgroup[PATH_MAX];
	char workspace[PATH_MAX];		/* as the target sees it, canonical */
	char home[PATH_MAX];			/* ${HOME}, as the target sees it */
	char via[PATH_MAX + 32];		/* how the container was found (not
						 * stored: container.h's) */
};

/* The target of --container REF (runtime rt, containerd namespace ns),
 * --pid PID or --cgroup DIR: its cgroup and a process of it. -errno and
 * why: -ENOENT unknown, -ESRCH not running (or an empty cgroup),
 * -ENOTUNIQ ambiguous (the candidates in why). */
int af_attach_container(const char *ref, enum af_runtime rt, const char *ns,
			struct af_attach_meta *m, char *why, size_t n);
int af_attach_pid(pid_t pid, struct af_attach_meta *m, char *why, size_t n);
int af_attach_cgroup(const char *dir, struct af_attach_meta *m, char *why, size_t n);

/* m->workspace from ws, a path as m->pid sees it (its mount namespace
 * and root: symbolic links followed inside that root, never out of it):
 * canonical, a directory. m->home from the process's HOME ("/" without
 * one). */
int af_attach_workspace(struct af_attach_meta *m, const char *ws, char *why, size_t n);

/* Load the policy document with m's ${WORKSPACE} and ${HOME} and rebase
 * its absolute paths onto the target's root: each is resolved in pid's
 * mount namespace and becomes /proc/PID/root/<canonical path>, which is
 * the identity (dev, ino) the fence compiles. A path missing there stays
 * missing (not compiled). err as af_policy_load_buf's. */
int af_attach_policy(const void *bytes, size_t len, const char *file,
		     const struct af_attach_meta *m, struct af_policy **out, char *err, size_t n);

/* What a later process reads: AF_ATTACH_META_DIR/<id>.json. */
int af_attach_meta_write(const struct af_attach_meta *m);
int af_attach_meta_read(uint64_t id, struct af_attach_meta *m);
void af_attach_meta_remove(uint64_t id);

/* "docker container af-web (3f2a1b0c9d8e)", "cgroup /sys/fs/...". */
void af_attach_describe(const struct af_attach_meta *m, char *out, size_t n);

/* Why the target is gone, or NULL while it runs: its cgroup removed, or
 * made again (another id), or emptied. */
const char *af_attach_ended(const struct af_attach_meta *m);

/* What every journal record of the fence carries (supervisor.h
 * journal_tag): ',"container":{"runtime":..,"id":..,"name":..}' (id:
 * its first 12 digits; the attach record has the full one),
 * malloc'd, rendered once per fence; *out NULL for a target that is no
 * container. 0 or -ENOMEM. */
int af_attach_tag(const struct af_attach_meta *m, char **out);

/* Journal records of an attach (journal.h): "attach" after fence_start
 * (the container, its process, the workspace as it sees it), "attach_end"
 * before fence_end (reason: "container exited", "detached", ...). */
struct af_journal;
int af_attach_journal(struct af_journal *j, const char *type, const struct af_attach_meta *m,
		      const char *reason);

/* Close orphan fence fi (its attach or daemon gone) for good: resume its
 * journal, write what the kernel kept and the gap, "attach_end" with
 * reason and fence_end, then remove the fence (its cgroup and processes
 * stay). Without a journal (--no-journal), only the removal. On failure
 * the fence stays (-errno, why). */
struct af_fence_info;
int af_attach_end_orphan(const struct af_fence_info *fi, const struct af_attach_meta *m,
			 const char *reason, char *why, size_t n);

#endif /* AF_ATTACH_H */
