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
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
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

/* The supervisor is gone: freeze (and kill) the fence and say so. */
static int on_death(const char *cgroup, uint64_t fence_id, enum af_on_exit action,
		    const char *record, pid_t supervisor, const char *who)
{
	struct af_journal *j;
	char why[512], effect[64];
	const char *done;
	struct af_json *w;
	int err;

	/* Freeze first in both cases: nothing runs while we decide, and a
	 * fork bomb cannot outpace the kill. */
	err = af_cgroup_write(cgroup, "cgroup.freeze", "1");
	if (action == AF_ON_EXIT_KILL) {
		err = af_cgroup_write(cgroup, "cgroup.kill", "1");
		if (err == -ENOENT)
			err = af_cgroup_destroy(cgroup);
		done = "killed";
	} else {
		done = "frozen";
	}
	fprintf(stderr, "agentfence %s: the supervisor (pid %d) died: fence %llu %s%s%s "
		"(cgroup %s)\n", who, supervisor, (unsigned long long)fence_id, done,
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
	return err;
}

static void __attribute__((noreturn))
watcher(int fd, const char *cgroup, uint64_t fence_id, enum af_on_exit action,
	const char *record, pid_t supervisor, int term, const struct termios *modes)
{
	ssize_t n;
	char c;

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
	_exit(on_death(cgroup, fence_id, action, record, supervisor, "run") ? 1 : 0);
}

/* ---- one watcher for all the fences of a supervisor (the daemon) ----
 * Lines on the pipe: "A <id> <action>\t<cgroup>\t<record>\n" watches a
 * fence, "D <id>\n" stops watching it. The pipe's end with fences still
 * watched is the supervisor's death: each is frozen (or killed). */
struct watched {
	uint64_t id;
	enum af_on_exit action;
	char *cgroup, *record;
};

static struct {
	bool on;
	pid_t pid;
	int fd;
} shared = { false, -1, -1 };

static void __attribute__((noreturn)) shared_watcher(int fd, pid_t supervisor)
{
	struct watched *v = NULL;
	size_t n = 0, cap = 0, i;
	char *line = NULL;
	size_t lcap = 0;
	FILE *in;
	int bad = 0;

	setpgid(0, 0);
	in = fdopen(fd, "r");
	if (!in)
		_exit(1);
	while (getline(&line, &lcap, in) > 0) {
		unsigned long long id;
		unsigned int action;
		char *cg, *rec;

		line[strcspn(line, "\n")] = 0;
		if (line[0] == 'D' && sscanf(line, "D %llu", &id) == 1) {
			for (i = 0; i < n; i++) {
				if (v[i].id != id)
					continue;
				free(v[i].cgroup);
				free(v[i].record);
				v[i] = v[--n];
				break;
			}
			continue;
		}
		if (line[0] != 'A' || sscanf(line, "A %llu %u", &id, &action) != 2 ||
		    !(cg = strchr(line, '\t')) || !(rec = strchr(cg + 1, '\t')))
			continue;
		*rec++ = 0;
		cg++;
		if (n == cap) {
			struct watched *nv = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));

			if (!nv)
				continue;
			v = nv;
		}
		v[n] = (struct watched){ .id = id, .action = (enum af_on_exit)action,
					 .cgroup = strdup(cg), .record = rec[0] ? strdup(rec) : NULL };
		if (v[n].cgroup)
			n++;
	}
	for (i = 0; i < n; i++)
		bad |= on_death(v[i].cgroup, v[i].id, v[i].action, v[i].record, supervisor, "daemon");
	_exit(bad ? 1 : 0);
}

int af_watch_share(void)
{
	pid_t supervisor = getpid();
	int p[2];

	if (shared.on)
		return 0;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	shared.pid = fork();
	if (shared.pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (shared.pid == 0) {
		close(p[1]);
		if (dup2(p[0], 3) < 0)
			_exit(1);
		syscall(SYS_close_range, 4, ~0U, 0);
		shared_watcher(3, supervisor);
	}
	close(p[0]);
	shared.fd = p[1];
	shared.on = true;
	return 0;
}

pid_t af_watch_shared_pid(void)
{
	return shared.on ? shared.pid : -1;
}

static int shared_say(const char *line, size_t len)
{
	while (len) {
		ssize_t k = write(shared.fd, line, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -EPIPE;
		line += k;
		len -= k;
	}
	return 0;
}

int af_watch_start(struct af_watch *w, const char *cgroup, uint64_t fence_id,
		   enum af_on_exit action, const char *record)
{
	pid_t supervisor = getpid();
	struct termios modes;
	int p[2], term = -1, i;

	if (shared.on) {
		char line[2 * PATH_MAX + 64];
		int len;

		w->pid = -1;
		w->fd = -1;
		len = snprintf(line, sizeof(line), "A %llu %u\t%s\t%s\n", (unsigned long long)fence_id,
			       (unsigned int)action, cgroup, record ? record : "");
		if (len >= (int)sizeof(line) || strchr(cgroup, '\n') || strchr(cgroup, '\t') ||
		    (record && (strchr(record, '\n') || strchr(record, '\t'))))
			return -ENAMETOOLONG;
		if (shared_say(line, len))
			return -EPIPE;
		w->shared = true;
		w->id = fence_id;
		return 0;
	}

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
	if (w->shared) {
		char line[32];
		int len = snprintf(line, sizeof(line), "D %llu\n", (unsigned long long)w->id);

		shared_say(line, len);
		w->shared = false;
		return;
	}
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
