/* SPDX-License-Identifier: GPL-2.0 */
/* `agentfence daemon`: one supervisor (supervisor.h) holding the fences
 * of the node, served through the control socket (control.h,
 * Documentation/control.md). */
#ifndef AF_DAEMON_H
#define AF_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

struct af_daemon_opts {
	const char *control;	/* socket path; NULL: AF_CTL_SOCK */
	bool has_group;
	gid_t group;
	bool adopt;		/* adopt orphaned fences at start */
	int ready_fd;		/* written to and closed once listening; -1: none */
};

/* Serve until SIGTERM/SIGINT/SIGHUP/SIGQUIT; then every fence it holds
 * is stopped and journaled. The exit status for main. */
int af_daemon_run(const struct af_daemon_opts *o);

#endif /* AF_DAEMON_H */
