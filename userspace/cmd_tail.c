// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "cmds.h"
#include "fence.h"
#include "journal.h"
#include "json_read.h"
#include "recorder.h"
#include "stream.h"
#include "util.h"

const char af_usage_tail[] =
	"Usage: agentfence tail (--fence ID | --journal FILE | FILE | --last) [--follow] [--json]\n"
	"                       [--type TYPE,...] [--label L] [--utc]\n"
	"       agentfence tail --fence list\n"
	"       agentfence tail --pod NAMESPACE/NAME [--container NAME] [--journal FILE] ...\n"
	"\n"
	"Print the records of a fence journal, one line each: date and local time (TZ),\n"
	"process, effect, tool-call label, and for a fence attached to a container\n"
	"<runtime name id> (a Kubernetes pod's: <pod NS/NAME on NODE container NAME>).\n"
	"What came from the fenced command is printed C-escaped (\\n, \\xNN). A journal's\n"
	"rotated files (FILE.1.gz, FILE.2.gz, ...) are read first, oldest first; a\n"
	"rotated file named alone is read alone.\n"
	"Types: fence_start, exec, fork, exit, file, deny, connect, dns, lost,\n"
	"policy_update, gap, thaw, supervisor_exit, attach, attach_end, retention,\n"
	"k8s_pod, k8s_held, k8s_container, fence_end.\n"
	"\n"
	"  -F, --fence ID         a running fence (its id is its cgroup's; run -v prints it):\n"
	"                         its records so far, then with --follow the live ones from\n"
	"                         its supervisor; 'list' shows the running fences\n"
	"      --pod NS/NAME      the running fence of a Kubernetes pod (daemon --kubernetes);\n"
	"                         with --journal FILE, FILE or --last: only that pod's records\n"
	"                         (its journal, or the daemon's JSON lines collected)\n"
	"  -c, --container NAME   only records of processes of this container (a pod's:\n"
	"                         its name in the pod spec; kubectl exec -c NAME's too)\n"
	"  -j, --journal FILE     the journal to read (the live file); also as FILE alone\n"
	"  -L, --last             the journal written last in the journal directory\n"
	"                         (where run puts journals by default)\n"
	"  -f, --follow           keep reading as records arrive, like tail -f; stop after\n"
	"                         the fence_end record\n"
	"      --json             print the records as they are (JSON Lines)\n"
	"  -t, --type LIST        only records of these types (comma-separated)\n"
	"  -l, --label TEXT       only records of tool calls whose label contains TEXT\n"
	"  -u, --utc              times in UTC, not local time\n";

static const char *const known_types[] = {
	"fence_start", "exec", "fork", "exit", "file", "deny", "connect", "dns", "lost",
	"policy_update", "gap", "thaw", "supervisor_exit", "attach", "attach_end", "retention",
	"k8s_pod", "k8s_held", "k8s_container", "fence_end",
};

struct tail_opts {
	const char *journal;
	const char *fence;	/* an id, or "list" */
	const char *label;	/* only records whose label contains this */
	const char *pod;	/* only records of this pod: "NS/NAME" */
	const char *container;	/* only records whose "container" has this "name" */
	bool follow, json, color, utc;
	char types[256];	/* ",exec,deny," or "" for all */
};

static bool wanted(const struct tail_opts *o, const char *type)
{
	char pat[64];

	if (!o->types[0])
		return true;
	snprintf(pat, sizeof(pat), ",%s,", type);
	return strstr(o->types, pat) != NULL;
}

static const char *color_of(const char *type, const char *effect)
{
	if (!strcmp(type, "deny"))
		return strncmp(effect, "would", 5) ? "\033[31m" : "\033[33m";
	if (!strcmp(type, "lost"))
		return "\033[1;33m";
	if (!strcmp(type, "exec"))
		return "\033[1m";
	if (!strncmp(type, "fence_", 6))
		return "\033[36m";
	return "";
}

/* "2026-11-23T16:00:00.123456Z" as "2026-11-23 17:00:00.123" in local
 * time (TZ), or "...16:00:00.123Z" with --utc; as it is when it does
 * not parse. */
static void format_time(const struct tail_opts *o, const char *when, char *out, size_t n)
{
	struct tm tm = {};
	char frac[8] = "000", stamp[40];
	const char *end;
	time_t t;

	end = strptime(when, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (t = timegm(&tm)) == (time_t)-1) {
		af_esc(out, n, when);
		return;
	}
	if (*end == '.') {
		size_t i;

		for (i = 0; i < 3 && end[1 + i] >= '0' && end[1 + i] <= '9'; i++)
			frac[i] = end[1 + i];
	}
	if (o->utc)
		gmtime_r(&t, &tm);
	else
		localtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out, n, "%s.%s%s", stamp, frac, o->utc ? "Z" : "");
}

/* The pod a record names (a pod's fence: every record has
 * "pod":{"namespace":..,"name":..,"node":..}): "NS/NAME" into out, and
 * " on NODE" into node; false for a record of no pod. */
static bool pod_in(const char *line, size_t len, char *out, size_t n, char *node, size_t nn)
{
	char ns[254] = "", name[254] = "";
	const char *v;
	size_t vl;

	if (json_find(line, len, "pod", &v, &vl) || !vl || *v != '{')
		return false;
	json_get_str(v, vl, "namespace", ns, sizeof(ns));
	json_get_str(v, vl, "name", name, sizeof(name));
	if (node)
		json_get_str(v, vl, "node", node, nn);
	snprintf(out, n, "%s/%s", ns, name);
	return true;
}

static bool of_pod(const char *line, size_t len, const char *pod)
{
	char p[520];

	return pod_in(line, len, p, sizeof(p), NULL, 0) && !strcmp(p, pod);
}

/* The name of the container a record's process is in ("container":
 * {"name":..}: a pod's container, or an attached one's); "" for none. */
static void container_in(const char *line, size_t len, char *out, size_t n)
{
	const char *v;
	size_t vl;

	out[0] = 0;
	if (!json_find(line, len, "container", &v, &vl) && vl && *v == '{')
		json_get_str(v, vl, "name", out, n);
}

/* A pod's records in a node's stream (the daemon's JSON lines) are of
 * several fences: its early one, its own, a restarted daemon's. The end
 * is the fence_end that leaves none of those that started open. */
static unsigned long pod_starts, pod_ends;

/* Print one record; returns true for the fence_end record that ends
 * what was asked for. */
static bool show(const struct tail_opts *o, const char *line, size_t len)
{
	char type[32] = "", when[40] = "", effect[4096] = "", comm[64] = "", label[256] = "";
	unsigned long long pid = 0;
	const char *col;
	bool end;

	if (json_get_str(line, len, "type", type, sizeof(type)))
		return false;	/* not a record: a cut line of a crashed fence */
	if (o->pod && !of_pod(line, len, o->pod))
		return false;	/* another pod's (a node's stream of records) */
	end = !strcmp(type, "fence_end");
	if (o->pod) {
		pod_starts += !strcmp(type, "fence_start");
		pod_ends += end;
		end = end && pod_ends >= pod_starts;
	}
	if (o->label)
		json_get_str(line, len, "label", label, sizeof(label));
	if (o->container) {
		char cn[256];

		container_in(line, len, cn, sizeof(cn));
		if (strcmp(cn, o->container))
			return end;	/* the end still ends --follow */
	}
	if (wanted(o, type) && (!o->label || strstr(label, o->label))) {
		if (o->json) {
			fwrite(line, 1, len, stdout);
			fputc('\n', stdout);
		} else {
			json_get_str(line, len, "time", when, sizeof(when));
			json_get_str(line, len, "effect", effect, sizeof(effect));
			json_get_str(line, len, "comm", comm, sizeof(comm));
			json_get_str(line, len, "label", label, sizeof(label));
			json_get_u64(line, len, "pid", &pid);
			col = o->color ? color_of(type, effect) : "";
			char who[24] = "";

			if (pid)
				snprintf(who, sizeof(who), "%llu", pid);
			/* Every field but pid came from the fenced command. */
			char e_when[sizeof(when) * 4], e_comm[sizeof(comm) * 4];
			char e_effect[sizeof(effect) * 4], e_label[sizeof(label) * 4];

			/* An attached container's fence: every record names it. */
			char ctr[560] = "", e_ctr[sizeof(ctr) * 4];
			const char *cv;
			size_t cl;

			char pname[520], pnode[256] = "";

			if (pod_in(line, len, pname, sizeof(pname), pnode, sizeof(pnode))) {
				char cname[128] = "";
				unsigned long long sb = 0;

				/* Its process's container (k8s.c, "containers"). */
				if (!json_find(line, len, "container", &cv, &cl) && cl && *cv == '{') {
					json_get_str(cv, cl, "name", cname, sizeof(cname));
					if (!cname[0] && !json_find(cv, cl, "sandbox", &cv, &cl) &&
					    cl == 4 && !memcmp(cv, "true", 4))
						sb = 1;
				}
				snprintf(ctr, sizeof(ctr), "pod %.250s%s%.100s%s%.127s%s", pname,
					 pnode[0] ? " on " : "", pnode, cname[0] ? " container " : "",
					 cname, sb ? " sandbox" : "");
			} else if (!json_find(line, len, "container", &cv, &cl) && cl && *cv == '{') {
				char rt[16] = "", cid[128] = "", cname[128] = "";

				json_get_str(cv, cl, "runtime", rt, sizeof(rt));
				json_get_str(cv, cl, "id", cid, sizeof(cid));
				json_get_str(cv, cl, "name", cname, sizeof(cname));
				snprintf(ctr, sizeof(ctr), "%s %s %.12s", rt, cname, cid);
			}
			format_time(o, when, e_when, sizeof(e_when));
			af_esc(e_comm, sizeof(e_comm), comm);
			af_esc(e_effect, sizeof(e_effect), effect);
			af_esc(e_label, sizeof(e_label), label);
			af_esc(e_ctr, sizeof(e_ctr), ctr);
			printf("%-*s  %7s %-15s %s%s%s%s%s%s%s%s%s\n", o->utc ? 24 : 23, e_when, who, e_comm, col,
			       e_effect, col[0] ? "\033[0m" : "", label[0] ? "  [" : "", e_label,
			       label[0] ? "]" : "", ctr[0] ? "  <" : "", e_ctr, ctr[0] ? ">" : "");
		}
		fflush(stdout);
	}
	return end;
}

/* Show the complete records available; true once fence_end was shown.
 * A cut last line (a crashed writer) is no record: it is skipped. */
static bool drain(const struct tail_opts *o, struct af_lines *l)
{
	const char *line;
	size_t len;
	bool complete;

	while ((line = af_lines_next(l, &len, &complete)))
		if (complete && show(o, line, len))
			return true;
	return false;
}

/* The newest rotated file of base: base.N.gz (base.1.gz is the oldest,
 * unless retention removed the oldest ones). */
static unsigned int rotated_files(const char *base)
{
	return af_journal_rotated_last(base, NULL);
}

/* The records of base.from.gz to base.to.gz with seq < before, each
 * file whole. True once fence_end was shown. */
static bool show_rotated(const struct tail_opts *o, const char *base, unsigned int from,
			 unsigned int to, unsigned long long before)
{
	char path[PATH_MAX + 16];
	unsigned long long seq;
	struct af_lines *l;
	const char *line;
	bool complete;
	size_t len;

	for (; from <= to; from++) {
		l = af_journal_rotated_open(base, from, path, sizeof(path));
		if (!l && errno == ENOENT && from < af_journal_rotated_first(base))
			continue;	/* removed by retention (the journal says so) */
		if (!l) {
			af_warn("cannot read the rotated journal file %s: %s", path, strerror(errno));
			continue;
		}
		while ((line = af_lines_next(l, &len, &complete))) {
			if (!complete || (before != ~0ULL && (json_get_u64(line, len, "seq", &seq) ||
							      seq >= before)))
				continue;
			if (show(o, line, len)) {
				af_lines_close(l);
				return true;
			}
		}
		af_lines_close(l);
	}
	return false;
}

static int tail_journal(const struct tail_opts *o)
{
	char base[PATH_MAX];
	unsigned int done = 0, n;
	struct af_lines *l;
	struct stat st0, st;
	bool ended = false;

	/* A rotated file alone is what was asked for; the live file comes
	 * after all of its rotated ones, which may grow while we read. */
	af_journal_base(o->journal, base, sizeof(base));
	for (;;) {
		n = strcmp(base, o->journal) ? 0 : rotated_files(base);
		if (n > done && show_rotated(o, base, done + 1, n, ~0ULL))
			return AF_EXIT_OK;
		done = n;
		l = af_lines_open(o->journal);
		if (!l || stat(o->journal, &st0)) {
			af_err("cannot read the journal %s: %s", o->journal, strerror(errno));
			af_lines_close(l);
			return AF_EXIT_FAIL;
		}
		if (!strcmp(base, o->journal) && rotated_files(base) != done) {
			af_lines_close(l);	/* rotated meanwhile: its file first */
			continue;
		}
		break;
	}
	if (o->follow)
		af_lines_follow(l);
	for (;;) {
		ended = drain(o, l);
		if (!o->follow || ended)
			break;
		usleep(20 * 1000);
		/* Rotation replaced the live file: the old one is read to its
		 * end above; go on with the new one from its start. */
		if (!stat(o->journal, &st) && (st.st_ino != st0.st_ino || st.st_dev != st0.st_dev)) {
			struct af_lines *n = af_lines_open(o->journal);

			af_lines_more(l);
			if (drain(o, l)) {
				af_lines_close(n);
				break;
			}
			if (n) {
				af_lines_close(l);
				l = n;
				af_lines_follow(l);
				st0 = st;
			}
			continue;
		}
		af_lines_more(l);
	}
	af_lines_close(l);
	return AF_EXIT_OK;
}

/* The journal written last in the directory run journals to by default. */
static int last_journal(char *out, size_t n)
{
	char dir[PATH_MAX], best[PATH_MAX] = "", *slash;
	struct timespec best_t = {};
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (af_journal_default_path(dir, sizeof(dir)) || !(slash = strrchr(dir, '/'))) {
		af_err("--last: no journal directory: neither XDG_STATE_HOME nor HOME is set "
		       "(--journal FILE)");
		return -ENOENT;
	}
	*slash = 0;
	d = opendir(dir);
	if (!d) {
		af_err("--last: cannot read the journal directory %s: %s (--journal FILE)", dir,
		       strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char path[PATH_MAX];

		/* Live files only: not FILE.N.gz, nor FILE.supervisor-exit. */
		if (l < 7 || strcmp(de->d_name + l - 6, ".jsonl") ||
		    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
		    stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (!best[0] || st.st_mtim.tv_sec > best_t.tv_sec ||
		    (st.st_mtim.tv_sec == best_t.tv_sec && (st.st_mtim.tv_nsec > best_t.tv_nsec ||
		     (st.st_mtim.tv_nsec == best_t.tv_nsec && strcmp(path, best) > 0)))) {
			af_strlcpy(best, path, sizeof(best));
			best_t = st.st_mtim;
		}
	}
	closedir(d);
	if (!best[0]) {
		af_err("--last: no journal in %s (agentfence run writes them there)", dir);
		return -ENOENT;
	}
	return af_strlcpy(out, best, n);
}

/* One line from a stream socket into *buf (grown as needed), without
 * its '\n': its length, 0 at end of file, -errno. Waits at most
 * timeout_ms for it (-1: forever). */
struct line_reader {
	int fd;
	char *buf;
	size_t cap, start, end;
};

static ssize_t read_line(struct line_reader *r, const char **line, int timeout_ms)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	char *nl;
	ssize_t got;

	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl) {
			*line = r->buf + r->start;
			got = nl - *line;
			r->start += got + 1;
			return got ? got : read_line(r, line, timeout_ms);
		}
		if (r->start) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		if (r->end == r->cap) {
			char *b = realloc(r->buf, r->cap ? r->cap * 2 : 65536);

			if (!b)
				return -ENOMEM;
			r->buf = b;
			r->cap = r->cap ? r->cap * 2 : 65536;
		}
		got = poll(&pfd, 1, timeout_ms);
		if (got == 0)
			return -ETIMEDOUT;
		if (got < 0 && errno != EINTR)
			return -errno;
		got = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (got < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (got == 0)
			return 0;
		if (got > 0)
			r->end += got;
	}
}

/* Connect to a fence's stream and read its "subscribed" line. */
static int subscribe(uint64_t id, struct line_reader *r, char *journal, size_t jn,
		     unsigned long long *next_seq, bool quiet)
{
	char why[512], type[32] = "";
	const char *line;
	ssize_t len;

	memset(r, 0, sizeof(*r));
	r->fd = af_stream_connect(id, why, sizeof(why));
	if (r->fd < 0) {
		if (!quiet)
			af_err("%s", why);
		return r->fd;
	}
	len = read_line(r, &line, 2000);
	if (len > 0)
		json_get_str(line, len, "type", type, sizeof(type));
	if (len <= 0 || strcmp(type, "subscribed")) {
		if (!quiet && len > 0 && !json_get_str(line, len, "effect", why, sizeof(why)))
			af_err("fence %llu: %s", (unsigned long long)id, why);
		else if (!quiet)
			af_err("fence %llu: its supervisor did not answer: %s", (unsigned long long)id,
			       len < 0 ? strerror(-len) : "no greeting");
		close(r->fd);
		free(r->buf);
		return -EPROTO;
	}
	if (journal)
		json_get_str(line, len, "journal", journal, jn);
	if (next_seq)
		json_get_u64(line, len, "next_seq", next_seq);
	/* The command: for list, the line itself is what it prints. */
	if (!journal)
		r->start -= len + 1;
	return 0;
}

static int list_fences(void)
{
	char pol[128], cmd[512], jr[PATH_MAX];
	unsigned long long pid;
	struct line_reader r;
	const char *line, *v;
	struct dirent *de;
	unsigned long id;
	ssize_t len;
	size_t vl;
	DIR *d = opendir(AF_RUN_DIR);
	int n = 0;

	while (d && (de = readdir(d))) {
		char name[64];

		if (af_strlcpy(name, de->d_name, sizeof(name)) || !strchr(name, '.') ||
		    strcmp(strchr(name, '.'), ".sock"))
			continue;
		*strchr(name, '.') = 0;
		if (af_parse_ulong(name, ULONG_MAX, &id) || subscribe(id, &r, NULL, 0, NULL, true))
			continue;
		len = read_line(&r, &line, 1000);
		if (len > 0) {
			pid = 0;
			pol[0] = jr[0] = cmd[0] = 0;
			json_get_u64(line, len, "supervisor_pid", &pid);
			json_get_str(line, len, "policy", pol, sizeof(pol));
			json_get_str(line, len, "journal", jr, sizeof(jr));
			/* The command as its JSON array: exact, and one line. */
			if (!json_find(line, len, "command", &v, &vl))
				snprintf(cmd, sizeof(cmd), "%.*s", (int)vl, v);
			if (!n++)
				printf("%-12s %8s  %-16s %-40s %s\n", "FENCE", "PID", "POLICY", "JOURNAL",
				       "COMMAND");
			char e_pol[sizeof(pol) * 4], e_jr[sizeof(jr) * 4], e_cmd[sizeof(cmd) * 4];

			printf("%-12lu %8llu  %-16s %-40s %s\n", id, pid, af_esc(e_pol, sizeof(e_pol), pol),
			       af_esc(e_jr, sizeof(e_jr), jr), af_esc(e_cmd, sizeof(e_cmd), cmd));
		}
		close(r.fd);
		free(r.buf);
	}
	if (d)
		closedir(d);
	if (!n)
		fprintf(stderr, "agentfence tail: no running fence\n");
	return AF_EXIT_OK;
}

/* What the fence journaled before we subscribed (seq < next), from its
 * journal's live file; then, with --follow, the records of the stream. */
static int tail_fence(const struct tail_opts *o)
{
	unsigned long long next = 0, seq;
	char journal[PATH_MAX] = "";
	struct line_reader r;
	struct af_lines *l;
	const char *line;
	unsigned long id;
	bool complete, ended = false;
	ssize_t len;
	size_t ll;
	int ret = AF_EXIT_OK;

	if (!strcmp(o->fence, "list"))
		return list_fences();
	if (af_parse_ulong(o->fence, ULONG_MAX, &id)) {
		af_err("--fence '%s': not a fence id (a number: agentfence tail --fence list shows them)",
		       o->fence);
		return AF_EXIT_USAGE;
	}
	if (subscribe(id, &r, journal, sizeof(journal), &next, false))
		return AF_EXIT_FAIL;
	if (journal[0] && next &&
	    show_rotated(o, journal, 1, rotated_files(journal), next)) {
		close(r.fd);
		free(r.buf);
		return ret;
	}
	l = journal[0] ? af_lines_open(journal) : NULL;
	if (!l && next)
		af_warn("cannot read the journal %s for the records before now: %s", journal,
			strerror(errno));
	while (l && (line = af_lines_next(l, &ll, &complete))) {
		if (!complete || json_get_u64(line, ll, "seq", &seq) || seq >= next)
			continue;
		ended = show(o, line, ll);
	}
	af_lines_close(l);
	while (o->follow && !ended) {
		len = read_line(&r, &line, -1);
		if (len <= 0) {
			af_err("fence %lu: the stream ended before the fence did: %s", id,
			       len ? strerror(-len) : "its supervisor went away");
			ret = AF_EXIT_FAIL;
			break;
		}
		ended = show(o, line, len);
	}
	close(r.fd);
	free(r.buf);
	return ret;
}

/* The fence of pod ns/name (daemon --kubernetes: an attach whose runtime
 * is "kubernetes", named ns/name): its id as text in out. */
static int pod_fence(const char *pod, char *out, size_t n)
{
	struct af_fence_info *v = NULL;
	struct af_attach_meta *m = calloc(1, sizeof(*m));
	size_t nf = 0, i;
	int found = 0;

	if (!m || af_fence_list(&v, &nf)) {
		free(m);
		af_err("--pod %s: cannot list the node's fences", pod);
		return -1;
	}
	for (i = 0; i < nf && !found; i++) {
		if (af_attach_meta_read(v[i].id, m) || strcmp(m->runtime, "kubernetes") ||
		    strcmp(m->name, pod))
			continue;
		snprintf(out, n, "%llu", (unsigned long long)v[i].id);
		found = 1;
	}
	free(v);
	free(m);
	if (!found) {
		af_err("--pod %s: no fence of this pod on this node (is it annotated "
		       "agentfence.io/policy, and bound here?)", pod);
		return -1;
	}
	return 0;
}

int cmd_tail(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fence", required_argument, NULL, 'F' },
		{ "pod", required_argument, NULL, 'P' },
		{ "container", required_argument, NULL, 'c' },
		{ "journal", required_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'J' },
		{ "type", required_argument, NULL, 't' },
		{ "label", required_argument, NULL, 'l' },
		{ "last", no_argument, NULL, 'L' },
		{ "utc", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct tail_opts o = {};
	char last[PATH_MAX], *tok, *save, list[256], podfence[32];
	const char *pod = NULL;
	bool want_last = false;
	size_t i;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "F:j:ft:l:c:Luh", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			o.fence = optarg;
			break;
		case 'P':
			pod = optarg;
			break;
		case 'c':
			o.container = optarg;
			break;
		case 'j':
			o.journal = optarg;
			break;
		case 'f':
			o.follow = true;
			break;
		case 'J':
			o.json = true;
			break;
		case 't':
			if (snprintf(o.types, sizeof(o.types), ",%s,", optarg) >= (int)sizeof(o.types)) {
				af_err("--type: list too long");
				return AF_EXIT_USAGE;
			}
			af_strlcpy(list, optarg, sizeof(list));
			for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				for (i = 0; i < ARRAY_SIZE(known_types); i++)
					if (!strcmp(tok, known_types[i]))
						break;
				if (i == ARRAY_SIZE(known_types)) {
					char e[256], all[512];
					size_t l = 0;

					for (i = 0; i < ARRAY_SIZE(known_types) && l < sizeof(all); i++)
						l += snprintf(all + l, sizeof(all) - l, "%s%s", i ? ", " : "",
							      known_types[i]);
					af_err("--type %s: unknown record type (%s)", af_esc(e, sizeof(e), tok),
					       all);
					return AF_EXIT_USAGE;
				}
			}
			break;
		case 'L':
			want_last = true;
			break;
		case 'u':
			o.utc = true;
			break;
		case 'l':
			o.label = optarg;
			break;
		case 'h':
			fputs(af_usage_tail, stdout);
			return AF_EXIT_OK;
		default:
			fputs(af_usage_tail, stderr);
			return AF_EXIT_USAGE;
		}
	}
	if (pod) {
		if (o.fence) {
			af_err("--pod and --fence exclude each other");
			return AF_EXIT_USAGE;
		}
		if (!strchr(pod, '/') || pod[0] == '/' || !strchr(pod, '/')[1]) {
			af_err("--pod %s: not NAMESPACE/NAME", pod);
			return AF_EXIT_USAGE;
		}
		o.pod = pod;
		/* Alone: the pod's running fence; with a journal: its records. */
		if (!o.journal && !want_last && optind == argc) {
			if (pod_fence(pod, podfence, sizeof(podfence)))
				return AF_EXIT_FAIL;
			o.fence = podfence;
		}
	}
	/* tail FILE: like --journal FILE. */
	if (optind == argc - 1 && !o.journal) {
		o.journal = argv[optind++];
	}
	if (!!o.journal + !!o.fence + want_last != 1 || optind < argc) {
		af_err("%s (usage: agentfence tail --fence ID | --journal FILE | FILE | --last "
		       "[--follow] [--json])",
		       optind < argc ? "unexpected argument" :
		       o.journal || o.fence || want_last ?
		       "--fence, --journal (or FILE) and --last exclude each other" :
		       "nothing to read: --fence ID, --journal FILE, FILE or --last");
		return AF_EXIT_USAGE;
	}
	if (want_last) {
		if (last_journal(last, sizeof(last)))
			return AF_EXIT_FAIL;
		o.journal = last;
	}
	o.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	return o.fence ? tail_fence(&o) : tail_journal(&o);
}
