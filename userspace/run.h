/* SPDX-License-Identifier: GPL-2.0 */
/* agentfence run after its command line (run.c). */
#ifndef AF_RUN_H
#define AF_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "denials.h"

struct af_run_opts {
	const char *policy_file;	/* NULL: the built-in policy */
	const char *ws_arg;		/* NULL: the current directory */
	const char *journal_arg;	/* NULL: the default journal */
	const char *user_arg;		/* --user; NULL: sudo's user, or root */
	uint64_t journal_max;		/* bytes before rotation; 0: none */
	uint64_t journal_keep_bytes;	/* --journal-keep; 0: the default, AF_KEEP_OFF: none */
	uint64_t journal_keep_days;
	bool no_journal, audit, strict, quiet;
	enum af_denials_mode denials;
	enum af_backend backend;	/* AF_BACKEND_NONE: the best this kernel has */
	char **argv;			/* the command */
};

/* Fence the command and run it: through a running daemon, or alone.
 * Returns run's exit status (the command's, or AF_EXIT_*). */
int af_run(const struct af_run_opts *o);

#endif /* AF_RUN_H */
