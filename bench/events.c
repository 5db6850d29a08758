// SPDX-License-Identifier: GPL-2.0
/*
 * bench/events: the event pipeline (issue 3, workload 8).
 *
 *   events synth [N]        N synthetic ring buffer events (fork, exec, file
 *                           effects, exit of short processes) through the real
 *                           recorder: provenance, JSON, SHA-256 chain, group
 *                           commit (one write(2) per 264 events, what the
 *                           supervisor does per ring buffer drain); on one
 *                           CPU. Journaled events/s.
 *   events e2e              for each rate, `agentfence run` a generator that makes
 *                           RATE file events/s (failing unlinks) for a few seconds,
 *                           through the kernel's ring buffer to the journal; the
 *                           highest rate journaled with no loss; then 200k/s
 *                           again with a 4 MiB ring buffer (AF_RINGBUF_BYTES).
 *   events gen RATE SECONDS the generator (run inside the fence).
 *   AF_BENCH_TAG=1          synth's records carry an attached container's
 *                           tag (journal.h af_journal_set_tag); 2: a
 *                           Kubernetes pod's (k8s.h af_k8s_pod_tag); 3:
 *                           the pod's without its uid; 4: 3 and each
 *                           process record its container (k8s.c
 *                           pod_ctag: name and 12-digit id); 5: 3 and
 *                           the container's name alone.
 *   events --json [--smoke] both measurements, one JSON object (bench/run).
 *
 * Journals go to a directory under /var/tmp (not /tmp: the built-in policy
 * makes /tmp writable, and run refuses a journal there), removed after.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy.h"
#include "recorder.h"
#include "../bpf/events.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this process: the synthetic stream's cost apart from
 * waiting on the disk (dirty page throttling) and on other tenants. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char dir[64];

static void cleanup_dir(void)
{
	char cmd[128];

	if (dir[0] && !getenv("AF_BENCH_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "events: cannot remove %s\n", dir);
	}
}

static int make_dir(void)
{
	snprintf(dir, sizeof(dir), "/var/tmp/af-bench-events.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("events: mkdtemp");
		dir[0] = 0;
		return -1;
	}
	atexit(cleanup_dir);
	return 0;
}

static void hdr(struct af_hdr *h, uint16_t type, uint16_t size, uint32_t pid, uint64_t *kt)
{
	h->type = type;
	h->size = size;
	h->pid = h->tgid = pid;
	h->ktime = (*kt += 1000);
	h->fence_id = 1;
	h->cgroup = 4242;
}

/* AF_BENCH_TAG=4, 5: what k8s.c's pod_ctag does for a container it
 * rendered before: a look-up among the pod's cgroups, the members. */
static const char *bench_ctag_text;
static uint32_t bench_cgroups[4] = { 17, 23, 4242, 99 };

static const char *bench_ctag(void *ctx, struct af_journal *j, uint32_t cg, size_t *len)
{
	(void)ctx;
	(void)j;
	for (size_t i = 0; i < 4; i++) {
		if (bench_cgroups[i] == cg) {
			*len = strlen(bench_ctag_text);
			return bench_ctag_text;
		}
	}
	return NULL;
}

/* Journaled events/s of a synthetic stream, on one CPU. */
static int synth(unsigned long n, double *rate, double *cpu_rate, double *bytes_per_ev)
{
	static const char *const files[] = { "/work/ws/src/main.c", "/work/ws/build/main.o",
					     "/work/ws/.git/index.lock", "/work/ws/README.md" };
	struct af_policy *p = NULL;
	struct af_recorder *r = NULL;
	struct af_ev_exec ex = {};
	struct af_ev_fork fk = {};
	struct af_ev_exit et = {};
	struct af_ev_fileop fo = {};
	char why[512], journal[128], err[AF_ERR_MAX];
	char *argv[] = { "sh", "-c", "make", NULL };
	struct af_recorder_opts ro = {
		.journal = journal, .rotate_bytes = 1ULL << 40, .backend = AF_BACKEND_LANDLOCK,
		.workspace = "/work/ws", .cgroup = "/sys/fs/cgroup/agentfence/bench", .fence_id = 1,
		.argv = argv, .process_events = true,
	};
	const char yaml[] = "apiVersion: agentfence/v1\nkind: Policy\nmetadata: {name: bench}\n"
			    "spec:\n  filesystem:\n    writable: [/tmp]\n";
	static const char args[] = "cc\0-O2\0-c\0src/main.c\0-o\0build/main.o";
	uint32_t pid = 1000, root = 999;
	unsigned long i = 0;
	uint64_t kt = 0;
	struct stat st;
	cpu_set_t one;
	double t0, t1, c0, c1;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	snprintf(journal, sizeof(journal), "%s/synth.jsonl", dir);
	if (af_policy_load_buf(yaml, sizeof(yaml) - 1, "bench", NULL, &p, err)) {
		fprintf(stderr, "events: policy: %s\n", err);
		return -1;
	}
	ro.policy = p;
	/* AF_BENCH_TAG=1: the records of a fence attached to a docker
	 * container (journal tag: runtime, 12-digit id, name). */
	if (getenv("AF_BENCH_TAG") && !strcmp(getenv("AF_BENCH_TAG"), "1"))
		ro.tag = ",\"container\":{\"runtime\":\"docker\",\"id\":\"5d106b3002d4\",\"name\":\"agent-web-1\"}";
	/* AF_BENCH_TAG=2: a Kubernetes pod's fence (k8s.h af_k8s_pod_tag,
	 * the full uid); 3: the same without the uid. */
	if (getenv("AF_BENCH_TAG") && !strcmp(getenv("AF_BENCH_TAG"), "2"))
		ro.tag = ",\"pod\":{\"namespace\":\"agents\",\"name\":\"agent-web-1\","
			 "\"uid\":\"0f8d2a4c-5b1e-4c7a-9d3f-2e6b8a1c4d5f\",\"node\":\"node-1\"}";
	if (getenv("AF_BENCH_TAG") && (!strcmp(getenv("AF_BENCH_TAG"), "3") ||
				       !strcmp(getenv("AF_BENCH_TAG"), "4") ||
				       !strcmp(getenv("AF_BENCH_TAG"), "5")))
		ro.tag = ",\"pod\":{\"namespace\":\"agents\",\"name\":\"agent-web-1\",\"node\":\"node-1\"}";
	if (getenv("AF_BENCH_TAG") && !strcmp(getenv("AF_BENCH_TAG"), "4"))
		bench_ctag_text = ",\"container\":{\"name\":\"agent\",\"id\":\"4a5b6c7d8e9f\"}";
	if (getenv("AF_BENCH_TAG") && !strcmp(getenv("AF_BENCH_TAG"), "5"))
		bench_ctag_text = ",\"container\":\"agent\"";
	if (af_recorder_open(&ro, &r, why, sizeof(why))) {
		fprintf(stderr, "events: %s\n", why);
		af_policy_free(p);
		return -1;
	}
	if (bench_ctag_text)
		af_recorder_set_ctag(r, bench_ctag, NULL);
	af_recorder_root(r, root, argv);
	t0 = now_s();
	c0 = cpu_s();
	/* Per process: fork, exec, 8 file effects, exit: 11 events; a
	 * drain of the ring buffer every 24 processes. */
	while (i < n) {
		if (i % 264 == 0) {
			if (i)
				af_journal_flush(af_recorder_journal(r));
			af_journal_hold(af_recorder_journal(r));
		}
		pid++;
		hdr(&fk.hdr, AF_EV_FORK, sizeof(fk), root, &kt);
		fk.child = pid;
		memcpy(fk.comm, "sh", 3);
		af_recorder_event(r, &fk, sizeof(fk));
		hdr(&ex.hdr, AF_EV_EXEC, sizeof(ex), pid, &kt);
		ex.ppid = root;
		memcpy(ex.comm, "cc", 3);
		memcpy(ex.filename, "/usr/bin/cc", 12);
		memcpy(ex.argv, args, sizeof(args));
		ex.argv_len = sizeof(args);
		af_recorder_event(r, &ex, sizeof(ex));
		for (int k = 0; k < 8; k++) {
			hdr(&fo.hdr, AF_EV_FILEOP, sizeof(fo), pid, &kt);
			fo.sysno = k & 1 ? 87 : 257;	/* unlink, openat */
			fo.flags = 01 | 0100 | 01000;
			fo.ret = k & 1 ? -2 : 3;
			fo.dfd = AF_AT_FDCWD;
			memcpy(fo.comm, "cc", 3);
			strcpy(fo.path, files[k & 3]);
			af_recorder_event(r, &fo, sizeof(fo));
		}
		hdr(&et.hdr, AF_EV_EXIT, sizeof(et), pid, &kt);
		et.ppid = root;
		memcpy(et.comm, "cc", 3);
		af_recorder_event(r, &et, sizeof(et));
		i += 11;
	}
	af_journal_flush(af_recorder_journal(r));
	t1 = now_s();
	c1 = cpu_s();
	af_recorder_close(r, 0, true);
	af_policy_free(p);
	*rate = i / (t1 - t0);
	*cpu_rate = i / (c1 - c0);
	*bytes_per_ev = !stat(journal, &st) ? (double)st.st_size / i : 0;
	if (getenv("AF_BENCH_KEEP"))
		printf("journal kept: %s\n", journal);
	else
		unlink(journal);
	return 0;
}

/* The generator: failing unlinks at rate per second for seconds. An
 * absolute path: a relative one costs the supervisor a readlink of the
 * process's cwd per record (see the README's numbers). */
static int gen(double rate, double seconds)
{
	const char *path = getenv("AF_BENCH_RELATIVE") ? "af-nx" : "/af-bench-nx/x";

	double t0 = now_s(), t;
	unsigned long done = 0, want;

	while ((t = now_s() - t0) < seconds) {
		want = (unsigned long)(t * rate);
		while (done < want) {
			unlink(path);
			done++;
		}
		if (done >= (unsigned long)((t + 0.001) * rate))
			usleep(200);
	}
	printf("%lu %.3f\n", done, now_s() - t0);
	return 0;
}

/* A number after "key": in the last line of a journal. */
static long long last_field(const char *journal, const char *key)
{
	char line[8192] = "", buf[8192], pat[64], *at;
	FILE *f = fopen(journal, "r");

	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		if (strlen(buf) > 1)
			strcpy(line, buf);
	fclose(f);
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	at = strstr(line, pat);
	return at ? atoll(at + strlen(pat)) : -1;
}

struct e2e_result {
	double rate, achieved;
	long long journaled, lost;
};

static int e2e_one(const char *af, const char *self, double rate, double seconds,
		   struct e2e_result *res)
{
	char journal[128], rs[32], ss[32], out[128], ws[128];
	int status, fd;
	pid_t pid;
	FILE *f;
	unsigned long done = 0;
	double took = 0;

	snprintf(journal, sizeof(journal), "%s/e2e-%.0f.jsonl", dir, rate);
	snprintf(out, sizeof(out), "%s/gen.out", dir);
	snprintf(rs, sizeof(rs), "%.0f", rate);
	snprintf(ss, sizeof(ss), "%g", seconds);
	/* The workspace apart from the journal, which must lie outside it. */
	snprintf(ws, sizeof(ws), "%s/ws", dir);
	mkdir(ws, 0755);
	pid = fork();
	if (pid == 0) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0)
			dup2(fd, 1);
		execl(af, af, "run", "-q", "--workspace", ws, "--journal", journal, "--", self,
		      "gen", rs, ss, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "events: agentfence run of the generator failed\n");
		return -1;
	}
	f = fopen(out, "r");
	if (!f || fscanf(f, "%lu %lf", &done, &took) != 2) {
		fprintf(stderr, "events: the generator said nothing\n");
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	res->rate = rate;
	res->achieved = done / took;
	res->lost = last_field(journal, "lost");
	res->journaled = last_field(journal, "file_effects");
	unlink(journal);
	return res->lost < 0 || res->journaled < 0 ? -1 : 0;
}

static const char *af_path(char *buf, size_t n, const char *self)
{
	const char *env = getenv("AF");
	char *slash;

	if (env)
		return env;
	/* build/bench/events -> build/agentfence */
	if (!realpath(self, buf))
		return "agentfence";
	slash = strrchr(buf, '/');
	if (slash)
		*slash = 0;
	slash = strrchr(buf, '/');
	if (slash)
		snprintf(slash, n - (slash - buf), "/agentfence");
	return buf;
}

int main(int argc, char **argv)
{
	static const double rates[] = { 25000, 50000, 100000, 200000, 400000 };
	char afbuf[PATH_MAX], self[PATH_MAX];
	bool json = false, smoke = false, run_synth = true, run_e2e = true;
	unsigned long n = 2000000;
	double rate = 0, cpu_rate = 0, bpe = 0, seconds = 2, best = 0;
	struct e2e_result res[8], big = { .lost = -1 };
	int nres = 0, i;
	const char *af = NULL;

	if (argc >= 2 && !strcmp(argv[1], "gen")) {
		if (argc != 4)
			return 2;
		return gen(atof(argv[2]), atof(argv[3]));
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--smoke"))
			smoke = true;
		else if (!strcmp(argv[i], "synth"))
			run_e2e = false;
		else if (!strcmp(argv[i], "e2e"))
			run_synth = false;
		else if (atol(argv[i]) > 0 && run_synth && !run_e2e)
			n = atol(argv[i]);
		else {
			fprintf(stderr, "usage: events [--json] [--smoke] [synth [N] | e2e] | gen RATE SECONDS\n");
			return 2;
		}
	}
	if (smoke) {
		n = 20000;
		seconds = 0.5;
	}
	if (make_dir())
		return 1;
	if (run_synth && synth(n, &rate, &cpu_rate, &bpe))
		return 1;
	if (run_e2e) {
		if (!realpath("/proc/self/exe", self))
			return 1;
		af = af_path(afbuf, sizeof(afbuf), self);
		for (i = 0; i < (int)(sizeof(rates) / sizeof(rates[0])) && (!smoke || i < 1); i++) {
			if (e2e_one(af, self, rates[i], seconds, &res[nres]))
				return 1;
			if (!res[nres].lost && res[nres].achieved >= 0.95 * rates[i])
				best = rates[i];
			if (!json)
				printf("e2e: rate %.0f/s (achieved %.0f/s): journaled %lld, lost %lld\n",
				       rates[i], res[nres].achieved, res[nres].journaled, res[nres].lost);
			nres++;
			if (res[nres - 1].lost > res[nres - 1].journaled)
				break;	/* far past the limit */
		}
	}
	if (run_e2e && !smoke) {
		setenv("AF_RINGBUF_BYTES", "4194304", 1);
		if (e2e_one(af, self, 200000, seconds, &big))
			return 1;
		unsetenv("AF_RINGBUF_BYTES");
		if (!json)
			printf("e2e: rate 200000/s with a 4 MiB ring (achieved %.0f/s): journaled %lld, lost %lld\n",
			       big.achieved, big.journaled, big.lost);
	}
	if (!json) {
		if (run_synth)
			printf("synth: %lu events, %.0f journaled events/s on one CPU (%.0f per CPU "
			       "second), %.0f bytes/record\n", n, rate, cpu_rate, bpe);
		if (run_e2e)
			printf("e2e: highest rate with no loss: %.0f events/s\n", best);
		return 0;
	}
	printf("{\"synth\":{\"events\":%lu,\"events_per_s\":%.0f,\"events_per_cpu_s\":%.0f,\"bytes_per_record\":%.0f},"
	       "\"e2e\":{\"seconds\":%g,\"lossless_per_s\":%.0f,\"runs\":[", n, rate, cpu_rate, bpe, seconds, best);
	for (i = 0; i < nres; i++)
		printf("%s{\"rate\":%.0f,\"achieved\":%.0f,\"journaled\":%lld,\"lost\":%lld}", i ? "," : "",
		       res[i].rate, res[i].achieved, res[i].journaled, res[i].lost);
	printf("]}");
	if (big.lost >= 0)
		printf(",\"e2e_ring4m\":{\"rate\":%.0f,\"achieved\":%.0f,\"journaled\":%lld,\"lost\":%lld}",
		       big.rate, big.achieved, big.journaled, big.lost);
	printf("}\n");
	return 0;
}
