/* SPDX-License-Identifier: GPL-2.0 */
/* The process box around the fenced command, whatever the fs backend:
 * its own session and pty (pty.h), a private IPC namespace, no core
 * dumps, only the capabilities the policy grants (caps.h), no new
 * privileges, and the seccomp filter (sysfilter.h). Prepared in run,
 * entered by the child between fork and exec. */
#ifndef AF_BOX_H
#define AF_BOX_H

#include <stdbool.h>
#include <stdio.h>

#include "policy.h"
#include "pty.h"
#include "sysfilter.h"

struct af_box {
	const struct af_policy *policy;
	bool landlock;			/* restrict with Landlock (the fs backend) */
	uint64_t caps;
	/* Whom the command runs as (user.h); NULL or !set: as root. The
	 * caller fills it in after af_box_prepare and keeps it. */
	const struct af_cred *cred;
	struct af_seccomp filter;
	struct af_pty *pty;		/* NULL: stdio is no terminal */
	bool remote_pty;		/* journaled as a pty: run's (the daemon holds the fence) */
};

/* Build what the child will need (allocates). 0 or -errno, why set. */
int af_box_prepare(struct af_box *b, const struct af_policy *p, bool landlock,
		   char *why, size_t why_size);

/* In the child, first: a session of its own and the pty as its
 * controlling terminal (before descriptors beyond 2 are closed). */
int af_box_session(const struct af_box *b, const char **why);

/* In the child, last before exec: IPC namespace, RLIMIT_CORE, Landlock,
 * capabilities and no_new_privs, then the seccomp filter. */
int af_box_enter(const struct af_box *b, const char **why);

/* The set-up as one JSON object, member key of w (the journal's
 * fence_start "box"). */
struct af_json;
void af_box_json(struct af_json *w, const char *key, const struct af_box *b);

/* The same for people (doctor, -v), one "name: value" per line. */
void af_box_print(FILE *f, const struct af_box *b, const char *indent);

void af_box_free(struct af_box *b);

#endif /* AF_BOX_H */
