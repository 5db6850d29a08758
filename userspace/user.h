/* SPDX-License-Identifier: GPL-2.0 */
/* Who the fenced command runs as: the user who started agentfence
 * through sudo (SUDO_UID, SUDO_GID), or `run --user NAME|UID`; root
 * only when asked by name. And what run creates for that user before
 * the fence starts (spec.filesystem.writable entries with create:). */
#ifndef AF_USER_H
#define AF_USER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "caps.h"
#include "policy.h"

struct af_user {
	struct af_cred cred;	/* cred.set false: stays root */
	char name[64];
	char home[PATH_MAX];
	char shell[PATH_MAX];
	/* Where the choice came from: "sudo" (SUDO_UID), "--user", or
	 * "root" (started as root, not through sudo). */
	const char *source;
};

/* Resolve arg (--user's value, NULL when not given) against the passwd
 * and group databases. Without arg: SUDO_UID's user when run through
 * sudo by someone else than root, else root. 0, or -errno with why. */
int af_user_resolve(const char *arg, struct af_user *u, char *why, size_t n);

/* The command's environment, set in this process before the fork (the
 * policy's ${HOME} expands to the same home): HOME, USER, LOGNAME and
 * SHELL from the passwd entry; the SUDO_* variables are dropped (the
 * command is no longer in a sudo session). */
int af_user_environ(const struct af_user *u);

/* One line for people: "alice (uid 1000, gid 1000, groups 27,100)". */
void af_user_format(const struct af_user *u, char *buf, size_t n);

/* Create, as the user (in a child with the user's ids: a path through
 * a link the user planted must not make root write anywhere), every
 * writable path of p marked create: that does not exist yet, with its
 * missing parents (0700). 0, or -errno with why. */
int af_user_create_paths(const struct af_user *u, struct af_policy *p, char *why, size_t n);

/* Whether the user may enter and list dir (the command starts there):
 * checked with the user's ids. 0, or -errno with why. */
int af_user_check_workspace(const struct af_user *u, const char *dir, char *why, size_t n);

void af_user_free(struct af_user *u);

#endif /* AF_USER_H */
