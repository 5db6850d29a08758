// SPDX-License-Identifier: GPL-2.0
/* bench/progstats: what each BPF program of agentfence's nodes cost while
 * one command ran, from the kernel's own counters (issue 14).
 *
 *   progstats [--root DIR] [--prefix BUILD] --out FILE -- COMMAND [ARG...]
 *
 * Turns the kernel's run-time statistics on with BPF_ENABLE_STATS
 * (libbpf's bpf_enable_stats(BPF_STATS_RUN_TIME)): they stay on only
 * while this process holds the descriptor the call returns, so they are
 * off again when it exits however it exits, never left on for the
 * machine. Then it opens every program pinned under ROOT/<BUILD>*
 * (default /sys/fs/bpf/agentfence-nodes, every build): progs/ and od/
 * hold programs, links/ and od-on/ links (their program by id), and
 * holds those descriptors, reads run_cnt and run_time_ns of each
 * (BPF_OBJ_GET_INFO_BY_FD: bpf_obj_get_info_by_fd, which Debian's
 * libbpf has for bpf_prog_get_info_by_fd), runs COMMAND, looks for
 * programs pinned
 * meanwhile (a node the command loaded: their counts started at zero
 * then), reads the counters again and closes the statistics
 * descriptor. FILE gets one JSON object:
 *
 *   {"status": <COMMAND's wait status>, "progs": [{"name": "af_ll_enter",
 *    "node": "<build>-<backend>", "id": 42, "runs": N, "ns": T}, ...]}
 *
 * runs and ns are the differences over COMMAND's run; a program pinned
 * under two names (a program and its link) counts once. COMMAND's own
 * output goes where it would; progstats exits with its status. Global
 * programs (tracepoints) count every task of the machine that met them
 * while COMMAND ran, not only COMMAND's. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>

#define MAX_PROGS 512

struct prog {
	__u32 id;
	int fd;
	char name[64];
	char node[128];
	__u64 runs0, ns0, runs1, ns1;
	int seen_before;
};

static struct prog progs[MAX_PROGS];
static int nprogs;

static struct prog *find(__u32 id)
{
	for (int i = 0; i < nprogs; i++)
		if (progs[i].id == id)
			return &progs[i];
	return NULL;
}

static int counters(int fd, __u32 *id, __u64 *runs, __u64 *ns)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*id = info.id;
	*runs = info.run_cnt;
	*ns = info.run_time_ns;
	return 0;
}

/* A pinned object's program: the object itself, or a link's. */
static int prog_fd_of(const char *path, int is_link)
{
	struct bpf_link_info li;
	__u32 len = sizeof(li);
	int fd = bpf_obj_get(path), pfd;

	if (fd < 0 || !is_link)
		return fd;
	memset(&li, 0, sizeof(li));
	if (bpf_obj_get_info_by_fd(fd, &li, &len)) {
		close(fd);
		return -1;
	}
	close(fd);
	pfd = bpf_prog_get_fd_by_id(li.prog_id);
	return pfd;
}

static void scan(const char *root, const char *prefix, int before)
{
	static const struct { const char *sub; int link; } subs[] = {
		{ "progs", 0 }, { "od", 0 }, { "links", 1 }, { "od-on", 1 },
	};
	DIR *d = opendir(root), *sd;
	struct dirent *de, *fe;
	char path[4096];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || (prefix && strncmp(de->d_name, prefix, strlen(prefix))))
			continue;
		if (strlen(de->d_name) > 4 && !strcmp(de->d_name + strlen(de->d_name) - 4, "-tmp"))
			continue;
		for (size_t s = 0; s < sizeof(subs) / sizeof(subs[0]); s++) {
			snprintf(path, sizeof(path), "%s/%s/%s", root, de->d_name, subs[s].sub);
			if (!(sd = opendir(path)))
				continue;
			while ((fe = readdir(sd))) {
				struct prog *p;
				__u64 runs, ns;
				__u32 id;
				int fd;

				if (fe->d_name[0] == '.' || nprogs == MAX_PROGS)
					continue;
				snprintf(path, sizeof(path), "%s/%s/%s/%s", root, de->d_name, subs[s].sub,
					 fe->d_name);
				fd = prog_fd_of(path, subs[s].link);
				if (fd < 0)
					continue;
				if (counters(fd, &id, &runs, &ns) || find(id)) {
					close(fd);
					continue;
				}
				p = &progs[nprogs++];
				p->id = id;
				p->fd = fd;	/* held: the program and its counters stay */
				snprintf(p->name, sizeof(p->name), "%.*s", (int)strcspn(fe->d_name, "@-"),
					 fe->d_name);
				snprintf(p->node, sizeof(p->node), "%s", de->d_name);
				p->seen_before = before;
				p->runs0 = before ? runs : 0;
				p->ns0 = before ? ns : 0;
			}
			closedir(sd);
		}
	}
	closedir(d);
}

static void usage(void)
{
	fprintf(stderr, "usage: progstats [--root DIR] [--prefix BUILD] --out FILE -- COMMAND [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *root = "/sys/fs/bpf/agentfence-nodes", *prefix = NULL, *out = NULL;
	int i, sfd, status;
	pid_t pid;
	FILE *f;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--root") && i + 1 < argc) {
			root = argv[++i];
		} else if (!strcmp(argv[i], "--prefix") && i + 1 < argc) {
			prefix = argv[++i];
		} else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			out = argv[++i];
		} else {
			usage();
		}
	}
	if (i >= argc || !out)
		usage();
	sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (sfd < 0) {
		fprintf(stderr, "progstats: enable BPF run-time statistics: %s (needs CAP_SYS_ADMIN)\n",
			strerror(errno));
		return 1;
	}
	scan(root, prefix, 1);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "progstats: fork: %s\n", strerror(errno));
		return 1;
	}
	if (!pid) {
		close(sfd);
		for (int k = 0; k < nprogs; k++)
			close(progs[k].fd);
		execvp(argv[i], argv + i);
		fprintf(stderr, "progstats: run %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "progstats: wait: %s\n", strerror(errno));
			return 1;
		}
	scan(root, prefix, 0);
	for (int k = 0; k < nprogs; k++) {
		__u32 id;

		if (counters(progs[k].fd, &id, &progs[k].runs1, &progs[k].ns1)) {
			progs[k].runs1 = progs[k].runs0;
			progs[k].ns1 = progs[k].ns0;
		}
	}
	close(sfd);	/* statistics off (unless another holder keeps them on) */
	f = fopen(out, "w");
	if (!f) {
		fprintf(stderr, "progstats: write %s: %s\n", out, strerror(errno));
		return 1;
	}
	fprintf(f, "{\"status\": %d, \"progs\": [", status);
	for (int k = 0; k < nprogs; k++)
		fprintf(f, "%s{\"name\": \"%s\", \"node\": \"%s\", \"id\": %u, \"runs\": %llu, \"ns\": %llu}",
			k ? ", " : "", progs[k].name, progs[k].node, progs[k].id,
			(unsigned long long)(progs[k].runs1 - progs[k].runs0),
			(unsigned long long)(progs[k].ns1 - progs[k].ns0));
	fprintf(f, "]}\n");
	if (fclose(f)) {
		fprintf(stderr, "progstats: write %s: %s\n", out, strerror(errno));
		return 1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
