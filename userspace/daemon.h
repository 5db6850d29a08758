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

/* agentfence status --adopt with no daemon: take up every orphaned fence
 * of this build's node as a daemon would (its journal resumed with what
 * the kernel kept and a gap record, its drops acknowledged), then let go
 * of it again, orphaned (a fence that was frozen is frozen again): the
 * next adopter's gap counts from here. 0 or -errno. */
int af_daemon_adopt_once(void);

#endif /* AF_DAEMON_H */
