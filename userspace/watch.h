/* SPDX-License-Identifier: GPL-2.0 */
/* The supervisor's death watch: a small process outside the fence that
 * notices when run dies without saying goodbye (SIGKILL, a crash) and
 * then freezes or kills the fence, so that nothing the fenced command
 * does goes unrecorded. */
#ifndef AF_WATCH_H
#define AF_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"

struct af_watch {
	pid_t pid;	/* the watcher, a child of run */
	int fd;		/* run's end of the pipe; its closing is the news */
	bool shared;	/* watched by the process's one watcher (af_watch_share) */
	uint64_t id;
};

/* From now on, one watcher watches every fence of this process (the
 * daemon) instead of one per fence: af_watch_start and af_watch_stop
 * tell it, and this process's end is the news for all of them at once. */
int af_watch_share(void);
pid_t af_watch_shared_pid(void);	/* -1: none */

/* Start the watcher for the fence's cgroup. record, when not NULL, is
 * the journal file it writes its one record to (a new file: the live
 * journal's chain belongs to the dead supervisor). Call with the
 * signals run forwards blocked; the watcher keeps them blocked. */
int af_watch_start(struct af_watch *w, const char *cgroup, uint64_t fence_id,
		   enum af_on_exit action, const char *record);

/* run ends normally: the watcher exits without touching the fence. */
void af_watch_stop(struct af_watch *w);

#endif /* AF_WATCH_H */
