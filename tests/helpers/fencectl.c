// SPDX-License-Identifier: GPL-2.0
/* Drives the node API (userspace/fence.h) for tests/host/node.sh and
 * tests/vm/node.sh, until the daemon's commands do it:
 *   fencectl create CGROUP POLICY [BACKEND] [hold]   make a fence of an existing cgroup;
 *       prints its id; "hold": read its events until SIGTERM (prints "events N lost L")
 *       and remove it then; else release it (pins stay)
 *   fencectl adopt ID [remove]     read what the kernel kept: "events N lost L ...
 *       foreign F stale S" (F: delivered events of another fence; S: dropped as the
 *       ring pool slot's previous fence's)
 *   fencectl slot ID               its ring pool slot: "slot S bytes B pending P"
 *   fencectl update ID POLICY [BACKEND]
 *   fencectl remove ID | detach ID
 *   fencectl list | nodes | gc
 *   fencectl bench N POLICY [BACKEND]  make N fences of fresh cgroups, print the
 *       time of each create, wait for a line on stdin, remove them, print each remove */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>

#include "backend.h"
#include "cgroup.h"
#include "compile.h"
#include "fence.h"
#include "policy.h"
#include "supervisor.h"
#include "util.h"
#include "../bpf/fence.h"

static unsigned long long events, foreign;
static uint64_t expect_id;
static volatile sig_atomic_t stop;

static void on_event(void *ctx, const void *data, size_t size)
{
	const struct af_hdr *h = data;

	(void)ctx;
	events++;
	if (size < sizeof(*h) || h->fence_id != expect_id)
		foreign++;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int compile(const char *file, enum af_backend *b, struct af_policy **p, struct af_entries **e)
{
	struct af_policy_vars vars = { .workspace = getenv("WORKSPACE"), .home = getenv("HOME") };
	char err[AF_ERR_MAX];
	struct af_idents ids;
	int ret;

	ret = af_policy_load_file(file, &vars, p, err);
	if (ret) {
		fprintf(stderr, "fencectl: %s\n", err);
		return ret;
	}
	if (*b == AF_BACKEND_NONE && af_sup_choose_backend(AF_BACKEND_NONE, *p, false, b))
		return -ENOTSUP;
	ret = af_resolve(*p, &ids);
	if (!ret)
		ret = af_compile(*p, &ids, *b, e, err);
	if (ret)
		fprintf(stderr, "fencectl: %s\n", err);
	af_idents_free(&ids);
	return ret;
}

static int drain(struct af_fence *f)
{
	int n;

	while ((n = af_fence_consume(f)) > 0)
		;
	return n;
}

int main(int argc, char **argv)
{
	char why[1024];
	struct af_fence *f = NULL;
	enum af_backend b = AF_BACKEND_NONE;
	const char *cmd = argc > 1 ? argv[1] : "";
	uint64_t lost = 0, id = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
	struct af_policy *p = NULL;
	struct af_entries *e = NULL;
	int err;

	if (!strcmp(cmd, "create") && argc >= 4) {
		struct af_fence_opts o = { .on_event = on_event };
		bool hold = argc > 5 && !strcmp(argv[5], "hold");
		int cg = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (argc > 4 && strcmp(argv[4], "auto") && af_backend_parse(argv[4], &b))
			return 2;
		if (cg < 0 || compile(argv[3], &b, &p, &e))
			return 1;
		o.backend = b;
		o.policy = p;
		o.entries = e;
		o.cgroup_fd = cg;
		o.cgroup_id = af_cgroup_id(argv[2]);
		err = af_fence_open(&o, &f, why, sizeof(why));
		if (err) {
			fprintf(stderr, "fencectl: create: %s\n", why);
			return 1;
		}
		printf("%llu\n", (unsigned long long)af_fence_id(f));
		fflush(stdout);
		expect_id = af_fence_id(f);
		if (!hold) {
			af_fence_release(f);
			return 0;
		}
		signal(SIGTERM, on_term);
		while (!stop) {
			struct pollfd pfd = { .fd = af_fence_events_fd(f), .events = POLLIN };

			poll(&pfd, 1, 100);
			drain(f);
			af_fence_counter(f, AF_CNT_RB_DROP);
		}
		drain(f);
		printf("events %llu lost %llu\n", events,
		       (unsigned long long)af_fence_counter(f, AF_CNT_RB_DROP));
		af_fence_remove(f);
		return 0;
	}
	if (!strcmp(cmd, "adopt") && argc >= 3) {
		expect_id = id;
		err = af_fence_adopt(id, on_event, NULL, &f, &lost, why, sizeof(why));
		if (err) {
			fprintf(stderr, "fencectl: adopt: %s\n", why);
			return 1;
		}
		drain(f);
		printf("events %llu lost %llu produced %llu dropped %llu foreign %llu stale %llu\n", events,
		       (unsigned long long)lost,
		       (unsigned long long)af_fence_fcounter(f, AF_FC_EVENTS),
		       (unsigned long long)af_fence_fcounter(f, AF_FC_DROPS), foreign,
		       (unsigned long long)af_fence_stale(f));
		af_fence_counter(f, AF_CNT_RB_DROP);	/* acknowledged */
		if (argc > 3 && !strcmp(argv[3], "remove"))
			af_fence_remove(f);
		else
			af_fence_release(f);
		return 0;
	}
	if (!strcmp(cmd, "slot") && argc >= 3) {
		struct af_ring_info ri;

		err = af_fence_adopt(id, NULL, NULL, &f, NULL, why, sizeof(why));
		if (!err)
			err = af_fence_ring_info(f, &ri);
		if (err) {
			fprintf(stderr, "fencectl: slot: %s\n", err ? why : "");
			return 1;
		}
		printf("slot %u bytes %u pending %llu\n", ri.slot, ri.bytes, (unsigned long long)ri.pending);
		af_fence_release(f);
		return 0;
	}
	if (!strcmp(cmd, "update") && argc >= 4) {
		if (argc > 4 && af_backend_parse(argv[4], &b))
			return 2;
		if (compile(argv[3], &b, &p, &e))
			return 1;
		err = af_fence_adopt(id, NULL, NULL, &f, NULL, why, sizeof(why));
		if (!err)
			err = af_fence_update(f, p, e, why, sizeof(why));
		if (err) {
			fprintf(stderr, "fencectl: update: %s\n", why);
			return 1;
		}
		af_fence_release(f);
		return 0;
	}
	if (!strcmp(cmd, "remove") && argc >= 3) {
		err = af_fence_adopt(id, NULL, NULL, &f, NULL, why, sizeof(why));
		if (err) {
			fprintf(stderr, "fencectl: remove: %s\n", why);
			return 1;
		}
		af_fence_remove(f);
		return 0;
	}
	if (!strcmp(cmd, "detach") && argc >= 3) {
		if (af_fence_detach(id, why, sizeof(why))) {
			fprintf(stderr, "fencectl: detach: %s\n", why);
			return 1;
		}
		return 0;
	}
	if (!strcmp(cmd, "list")) {
		struct af_fence_info *v;
		size_t n, i;

		if (af_fence_list(&v, &n))
			return 1;
		for (i = 0; i < n; i++)
			printf("%llu node=%s this_build=%d backend=%s cgroup=%s alive=%d supervisor=%d "
			       "sup_alive=%d policy=%s sha=%.12s events=%llu drops=%llu acked=%llu gen=%llu\n",
			       (unsigned long long)v[i].id, v[i].node, v[i].this_build,
			       af_backend_name(v[i].backend), v[i].cgroup, v[i].cgroup_alive,
			       (int)v[i].supervisor, v[i].supervisor_alive, v[i].policy_name,
			       v[i].policy_sha256, (unsigned long long)v[i].events,
			       (unsigned long long)v[i].drops, (unsigned long long)v[i].acked_drops,
			       (unsigned long long)v[i].generation);
		free(v);
		return 0;
	}
	if (!strcmp(cmd, "nodes")) {
		struct af_node_info *v;
		size_t n, i;

		if (af_node_list(&v, &n))
			return 1;
		for (i = 0; i < n; i++)
			printf("%s this_build=%d partial=%d fences=%u progs=%u links=%u\n", v[i].name,
			       v[i].this_build, v[i].partial, v[i].fences, v[i].progs, v[i].links);
		free(v);
		return 0;
	}
	if (!strcmp(cmd, "bench") && argc >= 4) {
		int nf = atoi(argv[2]), i, cg;
		char mnt[PATH_MAX], dir[PATH_MAX + 64], path[PATH_MAX + 96], line[16];
		struct af_fence **fs = calloc(nf > 0 ? nf : 1, sizeof(*fs));
		struct timespec t0, t1;

		if (argc > 4 && strcmp(argv[4], "auto") && af_backend_parse(argv[4], &b))
			return 2;
		if (!fs || compile(argv[3], &b, &p, &e) || af_cgroup2_mount(mnt, sizeof(mnt)))
			return 1;
		snprintf(dir, sizeof(dir), "%s/nodebench-%d", mnt, getpid());
		if (mkdir(dir, 0755))
			return 1;
		for (i = 0; i < nf; i++) {
			struct af_fence_opts o = { .backend = b, .policy = p, .entries = e };

			snprintf(path, sizeof(path), "%s/f%d-%d", dir, i, (int)getpid());
			if (mkdir(path, 0755) || (cg = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
				return 1;
			o.cgroup_fd = cg;
			o.cgroup_id = af_cgroup_id(path);
			clock_gettime(CLOCK_MONOTONIC, &t0);
			err = af_fence_open(&o, &fs[i], why, sizeof(why));
			clock_gettime(CLOCK_MONOTONIC, &t1);
			close(cg);
			if (err) {
				fprintf(stderr, "fencectl: bench: fence %d: %s\n", i, why);
				nf = i;
				break;
			}
			printf("create %.3f %llu\n", (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
			       (unsigned long long)af_fence_id(fs[i]));
		}
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			line[0] = 0;
		for (i = 0; i < nf; i++) {
			clock_gettime(CLOCK_MONOTONIC, &t0);
			af_fence_remove(fs[i]);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			printf("remove %.3f\n", (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
			snprintf(path, sizeof(path), "%s/f%d-%d", dir, i, (int)getpid());
			rmdir(path);
		}
		rmdir(dir);
		return 0;
	}
	if (!strcmp(cmd, "gc")) {
		af_fence_gc();
		printf("%d\n", af_node_gc());
		return 0;
	}
	fprintf(stderr, "usage: see tests/helpers/fencectl.c\n");
	return 2;
}
