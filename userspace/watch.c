// SPDX-License-Identifier: GPL-2.0
/*
 * Why a pipe and not PR_SET_PDEATHSIG: the watcher must tell "run is
 * done and cleans up" (it writes a byte) from "run died" (its end of
 * the pipe closes with nothing written), and the kernel closes a dead
 * process's descriptors whatever killed it. The watcher lives in run's
 * cgroup, not the fence's, and in its own process group: the fenced
 * command can neither signal it (task_kill, Landlock's signal scope)
 * nor hit it with a terminal's ^C.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "json.h"
#include "journal.h"
#include "watch.h"

static int write_file(const char *dir, const char *name, const char *val)
{
	char path[4096];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void __attribute__((noreturn))
watcher(int fd, const char *cgroup, uint64_t fence_id, enum af_on_exit action,
	const char *record, pid_t supervisor, int term, const struct termios *modes)
{
	struct af_journal *j;
	char c, why[512];
	const char *done;
	ssize_t n;
	int err;
	struct af_json *w;
	char effect[64];

	setpgid(0, 0);
	/* In a group of our own we are in the terminal's background:
	 * tcsetattr would stop us unless SIGTTOU is ignored. */
	signal(SIGTTOU, SIG_IGN);
	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0);
	if (term >= 0)
		tcsetattr(term, TCSANOW, modes);
	/* Freeze first in both cases: nothing runs while we decide, and a
	 * fork bomb cannot outpace the kill. */
	err = write_file(cgroup, "cgroup.freeze", "1");
	if (action == AF_ON_EXIT_KILL) {
		err = write_file(cgroup, "cgroup.kill", "1");
		if (err == -ENOENT)
			err = af_cgroup_destroy(cgroup);
		done = "killed";
	} else {
		done = "frozen";
	}
	fprintf(stderr, "agentfence run: the supervisor (pid %d) died: fence %llu %s%s%s "
		"(cgroup %s)\n", supervisor, (unsigned long long)fence_id, done,
		err ? ": " : "", err ? strerror(-err) : "", cgroup);
	if (record && !af_journal_open(record, 0, &j, why, sizeof(why))) {
		w = af_journal_begin(j, "supervisor_exit", NULL);
		if (w) {
			af_json_u64(w, "fence_id", fence_id);
			af_json_i64(w, "supervisor_pid", supervisor);
			af_json_str(w, "cgroup", cgroup);
			af_json_str(w, "action", af_on_exit_name(action));
			af_json_str(w, "result", err ? strerror(-err) : done);
			snprintf(effect, sizeof(effect), "supervisor died: fence %s", done);
			af_json_str(w, "effect", effect);
			af_journal_commit(j);
		}
		af_journal_close(j);
	}
	_exit(err ? 1 : 0);
}

int af_watch_start(struct af_watch *w, const char *cgroup, uint64_t fence_id,
		   enum af_on_exit action, const char *record)
{
	pid_t supervisor = getpid();
	struct termios modes;
	int p[2], term = -1, i;

	/* run may put its terminal in raw mode (pty.c) and die with it so:
	 * the modes as they are now, read before the fork (the watcher may
	 * run only after run went raw), to put them back. */
	for (i = 0; i < 3 && term < 0; i++)
		if (isatty(i) && !tcgetattr(i, &modes))
			term = i;

	w->pid = -1;
	w->fd = -1;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	w->pid = fork();
	if (w->pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (w->pid == 0) {
		close(p[1]);
		/* Nothing of run's but the pipe and stdio. */
		if (dup2(p[0], 3) < 0)
			_exit(1);
		syscall(SYS_close_range, 4, ~0U, 0);
		watcher(3, cgroup, fence_id, action, record, supervisor, term, &modes);
	}
	close(p[0]);
	w->fd = p[1];
	return 0;
}

void af_watch_stop(struct af_watch *w)
{
	if (w->fd < 0)
		return;
	if (write(w->fd, "x", 1) != 1) {
		/* The watcher is gone already; nothing to tell it. */
	}
	close(w->fd);
	w->fd = -1;
	/* It exits at once; a zombie left for init to reap could be
	 * taken for a live watcher. ECHILD: run's reaper had it already. */
	if (w->pid > 0)
		waitpid(w->pid, NULL, 0);
	w->pid = -1;
}
