/* SPDX-License-Identifier: GPL-2.0 */
/* `run` through a running daemon (run_remote.c says how the work is
 * split); the caller fences alone when there is none. */
#ifndef AF_RUN_REMOTE_H
#define AF_RUN_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "box.h"
#include "policy.h"
#include "supervisor.h"

struct af_run_remote {
	const struct af_policy *policy;	/* as run loaded it: its bytes go, checked by hash */
	const char *policy_file;	/* NULL: the built-in policy */
	const char *workspace;
	const char *journal;		/* NULL: none */
	uint64_t journal_max;
	enum af_backend backend;	/* chosen by run (it said why) */
	bool strict, audit, quiet;
	int denials;			/* enum af_denials_mode */
	char *const *argv;
	struct af_box *box;
	af_child_fn child;		/* as for af_sup_fence_spawn */
	void *child_ctx;
};

/* The daemon's socket: $AGENTFENCE_CONTROL, or AF_CTL_SOCK; NULL when
 * AGENTFENCE_CONTROL is set and empty (never through a daemon). */
const char *af_run_control_path(void);

/* The policy's document as run checked it (file read again, its hash
 * compared; NULL file: the built-in one): malloc'd. -ESTALE when it
 * reads differently now (a pipe, an edit). */
int af_run_policy_bytes(const char *file, const struct af_policy *p, char **out, size_t *len);

/* -ENOENT: no daemon answers (or the policy's bytes cannot be sent
 * again): fence alone. Otherwise 0, with run's exit status (the
 * command's, or AF_EXIT_SETUP/AF_EXIT_NOFENCE, said) in *exit_code. */
int af_run_remote(struct af_sup *sup, const struct af_run_remote *o, int *exit_code);

#endif /* AF_RUN_REMOTE_H */
