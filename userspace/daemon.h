/* SPDX-License-Identifier: GPL-2.0 */
/* `agentfence daemon`: one supervisor (supervisor.h) holding the fences
 * of the node, served through the control socket (control.h,
 * Documentation/control.md). */
#ifndef AF_DAEMON_H
#define AF_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "recorder.h"

struct af_k8s_opts;
struct af_ctl_req;
struct af_journal;

struct af_daemon_opts {
	const char *control;	/* socket path; NULL: AF_CTL_SOCK */
	bool has_group;
	gid_t group;
	bool adopt;		/* adopt orphaned fences at start */
	int ready_fd;		/* written to and closed once listening; -1: none */
	const struct af_k8s_opts *k8s;	/* --kubernetes: fence the node's pods (k8s.h) */
	const char *listen;	/* --listen ADDR:PORT: /metrics, /healthz, /readyz (metrics.h) */
	bool json_lines;	/* every journal record also on stdout (lines_out.h) */
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

/* The running daemon's fences, for k8s.c (in the daemon's loop). attach:
 * req as the control op "attach" has it (the errors in why, not sent);
 * update: atomically, as the op "update"; detach: the attach_end record
 * with reason, then enforcement removed and the pins gone. */
struct af_loop *af_daemon_loop(void);
int af_daemon_attach(const struct af_ctl_req *req, uint64_t *id, char *why, size_t n);
int af_daemon_update(uint64_t id, const char *policy, size_t len, const char *file, char *why,
		     size_t n);
int af_daemon_detach(uint64_t id, const char *reason);
uint64_t af_daemon_fence_by_cgroup(const char *cgroup);	/* 0: none */
struct af_journal *af_daemon_journal(uint64_t id);
/* Who names the container of the fence's process records (recorder.h);
 * -ENOENT: no such fence or no journal. */
int af_daemon_set_ctag(uint64_t id, af_ctag_fn fn, void *ctx);

#endif /* AF_DAEMON_H */
