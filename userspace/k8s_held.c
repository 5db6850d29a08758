// SPDX-License-Identifier: GPL-2.0
/* Processes of a pod stopped at their first instruction (bpf/k8s.bpf.h):
 * the kernel stops every process that execs in a pod not fenced whole
 * yet and names it in af_kheld; this module finds them for the pod's
 * attach (the process's root is its container's), continues them once
 * the pod's own fence judges their cgroup (af_member), and kills those
 * of a pod deleted before that. A process is known by its tgid and its
 * start (a pid reused meanwhile is another process: forgotten). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../bpf/fence.h"
#include "cgroup.h"
#include "fence.h"
#include "k8s_held.h"
#include "loop.h"
#include "util.h"

#define HELD_MAX	4096	/* af_kheld's max_entries */

static struct {
	int held, member;
	struct ring_buffer *rb;
	void (*wake)(void);
	char mnt[256];
} h = { .held = -1, .member = -1 };

static int on_rb(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

static int on_ready(void *ctx, int fd, uint32_t events)
{
	(void)ctx;
	(void)fd;
	(void)events;
	if (ring_buffer__consume(h.rb) > 0 && h.wake)
		h.wake();
	return 0;
}

int af_kheld_open(uint64_t id, const char *mnt, struct af_loop *loop, void (*wake)(void),
		  char *why, size_t n)
{
	int rb;

	af_strlcpy(h.mnt, mnt, sizeof(h.mnt));
	h.wake = wake;
	h.held = af_fence_k8s_map(id, "af_kheld", why, n);
	h.member = h.held >= 0 ? af_fence_k8s_map(id, "af_member", why, n) : -1;
	rb = h.member >= 0 ? af_fence_k8s_map(id, "af_kheld_rb", why, n) : -1;
	if (rb < 0)
		return -ENOENT;
	h.rb = ring_buffer__new(rb, on_rb, NULL, NULL);
	close(rb);
	if (!h.rb || af_loop_add(loop, ring_buffer__epoll_fd(h.rb), on_ready, NULL)) {
		snprintf(why, n, "the held processes' ring buffer: %s", strerror(errno ? errno : ENOMEM));
		return -ENOMEM;
	}
	return 0;
}

/* Whether process tgid is the one held (its start): 0 and its cgroup
 * (absolute) in path; -ESRCH: gone (or its pid is another's now); -EIO:
 * not read (kept: looked at again). */
static int held_proc(__u32 tgid, const struct af_kheld_val *v, char *path, size_t n)
{
	char file[64], buf[16384], *s;
	unsigned long long start;
	long tck = sysconf(_SC_CLK_TCK);
	int i;

	snprintf(file, sizeof(file), "/proc/%u/stat", tgid);
	if (af_read_small(file, buf, sizeof(buf)))
		return -ESRCH;
	/* After the command's ')': state (field 3) ... starttime (22). */
	s = strrchr(buf, ')');
	for (i = 0; i < 20 && s; i++)
		s = strchr(s + 1, ' ');
	if (tck <= 0 || !s || sscanf(s, " %llu", &start) != 1)
		return -EIO;
	if (start != v->start / (1000000000ULL / tck))
		return -ESRCH;
	/* Every hierarchy's line (a hybrid host has a dozen), the unified
	 * one's "0::/path". */
	snprintf(file, sizeof(file), "/proc/%u/cgroup", tgid);
	if (af_read_small(file, buf, sizeof(buf)))
		return -ESRCH;
	s = !strncmp(buf, "0::", 3) ? buf : strstr(buf, "\n0::");
	if (!s)
		return -EIO;
	s += s == buf ? 3 : 4;
	s[strcspn(s, "\n")] = 0;
	return snprintf(path, n, "%s%s", h.mnt, s) < (int)n ? 0 : -EIO;
}

/* Each held process: fn(tgid, its cgroup's path) says whether it is
 * done with (the entry goes). Keys first: deleting while walking may
 * restart the walk. */
static void held_each(bool (*fn)(__u32 tgid, const char *cg, const struct af_kheld_val *v, void *ctx),
		      void *ctx)
{
	__u32 *keys, key, next;
	struct af_kheld_val v;
	char cg[4096];
	size_t n = 0;
	int err;

	/* Usually none: one call. */
	if (h.held < 0 || bpf_map_get_next_key(h.held, NULL, &next) ||
	    !(keys = malloc(HELD_MAX * sizeof(*keys))))
		return;
	for (int r = 0; !r && n < HELD_MAX; key = next, r = bpf_map_get_next_key(h.held, &key, &next))
		keys[n++] = next;
	for (size_t i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(h.held, &keys[i], &v))
			continue;
		err = held_proc(keys[i], &v, cg, sizeof(cg));
		if (err == -ESRCH || (!err && fn(keys[i], cg, &v, ctx)))
			bpf_map_delete_elem(h.held, &keys[i]);
	}
	free(keys);
}

/* How long ago v's process was stopped, in ms. */
static double held_ms(const struct af_kheld_val *v)
{
	struct timespec now;

	clock_gettime(CLOCK_BOOTTIME, &now);
	return ((double)now.tv_sec * 1e9 + now.tv_nsec - (double)v->held) / 1e6;
}

static bool sweep_one(__u32 tgid, const char *cg, const struct af_kheld_val *v, void *ctx)
{
	uint64_t id = af_cgroup_id(cg), fence;

	(void)ctx;
	if (!id || bpf_map_lookup_elem(h.member, &id, &fence))
		return false;
	if (kill((pid_t)tgid, SIGCONT)) {
		af_warn("kubernetes: continue process %u (cgroup %s): %s", tgid, cg, strerror(errno));
		return errno == ESRCH;
	}
	fprintf(stderr, "agentfence daemon: process %u continued: held at its first instruction "
		"until its pod's fence %llu was whole (%.1f ms; cgroup %s)\n", tgid,
		(unsigned long long)fence, held_ms(v), cg);
	return true;
}

void af_kheld_sweep(void)
{
	held_each(sweep_one, NULL);
}

/* The name of the directory right beneath path that cg is in, or NULL. */
static const char *beneath(const char *cg, const char *path, char *name, size_t n)
{
	size_t l = strlen(path);
	const char *s;

	if (strncmp(cg, path, l) || cg[l] != '/')
		return NULL;
	s = cg + l + 1;
	snprintf(name, n, "%.*s", (int)strcspn(s, "/"), s);
	return name[0] ? name : NULL;
}

struct find {
	const char *path;
	bool (*want)(const char *name);
	pid_t pid;
};

static bool find_one(__u32 tgid, const char *cg, const struct af_kheld_val *v, void *ctx)
{
	struct find *f = ctx;
	char name[256];

	(void)v;
	if (!f->pid && beneath(cg, f->path, name, sizeof(name)) && f->want(name))
		f->pid = (pid_t)tgid;
	return false;
}

pid_t af_kheld_find(const char *path, bool (*want)(const char *name))
{
	struct find f = { path, want, 0 };

	held_each(find_one, &f);
	return f.pid;
}

struct decide {
	const char *path, *why;
	bool cont;
};

static bool decide_one(__u32 tgid, const char *cg, const struct af_kheld_val *v, void *ctx)
{
	struct decide *d = ctx;
	char name[256];

	if (!beneath(cg, d->path, name, sizeof(name)) && strcmp(cg, d->path))
		return false;
	if (kill((pid_t)tgid, d->cont ? SIGCONT : SIGKILL) && errno != ESRCH) {
		af_warn("kubernetes: %s process %u (cgroup %s): %s", d->cont ? "continue" : "kill",
			tgid, cg, strerror(errno));
		return false;
	}
	fprintf(stderr, "agentfence daemon: process %u %s: held at its first instruction; %s "
		"(%.1f ms; cgroup %s)\n", tgid, d->cont ? "continued" : "killed", d->why, held_ms(v), cg);
	return true;
}

void af_kheld_decide(const char *path, bool cont, const char *why)
{
	struct decide d = { path, why, cont };

	held_each(decide_one, &d);
}

void af_kheld_close(struct af_loop *loop)
{
	if (h.rb) {
		af_loop_del(loop, ring_buffer__epoll_fd(h.rb));
		ring_buffer__free(h.rb);
		h.rb = NULL;
	}
	if (h.held >= 0)
		close(h.held);
	if (h.member >= 0)
		close(h.member);
	h.held = h.member = -1;
}
