// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "events.h"
#include "journal.h"
#include "json.h"
#include "provenance.h"
#include "recorder.h"
#include "util.h"
#include "../bpf/events.h"

struct af_recorder {
	struct af_journal *j;
	struct af_prov *prov;
	char path[PATH_MAX];
	int64_t wall_minus_mono;	/* ns: turns bpf_ktime_get_ns() into wall time */
	uint64_t lost;			/* reported so far */
	unsigned int events;		/* spec.events (enum af_event_kind) */
	unsigned long execs, forks, exits, denials, audited, allowed, files, refused, other;
};

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int af_journal_default_path(char *out, size_t n)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	/* XDG: a relative XDG_STATE_HOME is invalid and is ignored. A
	 * system fence (root's, without a state directory of its own, as
	 * under sudo, systemd or a daemon) journals where logs live. */
	if (state && state[0] == '/')
		snprintf(out, n, "%s/agentfence/%s-%d.jsonl", state, stamp, getpid());
	else if (geteuid() == 0)
		snprintf(out, n, AF_SYSTEM_JOURNAL_DIR "/%s-%d.jsonl", stamp, getpid());
	else if (home && home[0] == '/')
		snprintf(out, n, "%s/.local/state/agentfence/%s-%d.jsonl", home, stamp, getpid());
	else
		return -ENOENT;
	return 0;
}

const char *af_policy_writable_root(const struct af_policy *p, const char *path)
{
	char cur[PATH_MAX], real[PATH_MAX], *slash;
	struct stat st, rs;
	size_t i;

	/* The nearest existing ancestor, then every directory above it:
	 * compared by identity, so symlinks and bind mounts count. */
	if (af_strlcpy(cur, path, sizeof(cur)))
		return NULL;
	while (stat(cur, &st)) {
		slash = strrchr(cur, '/');
		if (!slash || slash == cur) {
			strcpy(cur, "/");
			if (stat(cur, &st))
				return NULL;
			break;
		}
		*slash = 0;
	}
	if (!realpath(cur, real))
		return NULL;
	strcpy(cur, real);
	for (;;) {
		if (stat(cur, &st))
			return NULL;
		for (i = 0; i < p->n_writable; i++) {
			if (!stat(p->writable[i].path, &rs) && rs.st_dev == st.st_dev &&
			    rs.st_ino == st.st_ino)
				return p->writable[i].path;
		}
		if (!strcmp(cur, "/"))
			return NULL;
		slash = strrchr(cur, '/');
		if (slash == cur)
			cur[1] = 0;
		else
			*slash = 0;
	}
}

static void policy_hash(const struct af_recorder_opts *o, char out[AF_SHA256_HEX])
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (!o->policy_file) {
		af_sha256_hex(af_default_policy, af_default_policy_len, out);
		return;
	}
	f = fopen(o->policy_file, "re");
	if (f) {
		FILE *m = open_memstream(&buf, &len);
		char chunk[8192];
		size_t r;

		while (m && (r = fread(chunk, 1, sizeof(chunk), f)) > 0)
			fwrite(chunk, 1, r, m);
		if (m)
			fclose(m);
		fclose(f);
	}
	af_sha256_hex(buf ? buf : "", buf ? len : 0, out);
	free(buf);
}

/* argv as a JSON array: NUL-separated strings, the last may be cut. */
static void json_argv(FILE *f, const char *argv, size_t len)
{
	size_t off = 0;
	bool first = true;

	fputc('[', f);
	while (argv && off < len) {
		size_t l = strnlen(argv + off, len - off);

		if (!first)
			fputc(',', f);
		json_strn(f, argv + off, l);
		first = false;
		off += l + 1;
	}
	fputc(']', f);
}

/* "exec python3 -c ..." for people: the arguments joined by spaces. */
static void argv_line(const char *argv, size_t len, char *out, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 1 < n; i++)
		out[o++] = argv[i] ? argv[i] : ' ';
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = 0;
}

int af_recorder_open(const struct af_recorder_opts *o, struct af_recorder **out,
		     char *why, size_t n)
{
	struct af_recorder *r = calloc(1, sizeof(*r));
	char hash[AF_SHA256_HEX], host[256] = "";
	struct utsname u;
	FILE *f;
	int err, i;

	if (!r || !(r->prov = af_prov_new())) {
		free(r);
		snprintf(why, n, "out of memory");
		return -ENOMEM;
	}
	err = af_journal_open(o->journal, o->rotate_bytes, &r->j, why, n);
	if (err) {
		af_prov_free(r->prov);
		free(r);
		return err;
	}
	af_strlcpy(r->path, o->journal, sizeof(r->path));
	r->events = o->policy->events;
	r->wall_minus_mono = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	policy_hash(o, hash);
	uname(&u);
	gethostname(host, sizeof(host) - 1);
	f = af_journal_begin(r->j, "fence_start", NULL);
	if (!f) {
		snprintf(why, n, "out of memory");
		af_recorder_close(r, 0, true);
		return -ENOMEM;
	}
	fputs(",\"journal_version\":1,\"policy\":{\"name\":", f);
	json_str(f, o->policy->name);
	fputs(",\"file\":", f);
	json_str(f, o->policy_file ? o->policy_file : o->policy->file);
	fprintf(f, ",\"sha256\":\"%s\",\"mode\":", hash);
	json_str(f, af_mode_name(o->policy->mode));
	fputs("},\"kernel\":", f);
	json_str(f, u.release);
	fputs(",\"backend\":", f);
	json_str(f, af_backend_name(o->backend));
	fputs(",\"host\":", f);
	json_str(f, host);
	fputs(",\"workspace\":", f);
	json_str(f, o->workspace);
	fputs(",\"cgroup\":", f);
	json_str(f, o->cgroup);
	fprintf(f, ",\"fence_id\":%llu,\"supervisor_pid\":%d,\"uid\":%u,\"process_events\":",
		(unsigned long long)o->fence_id, getpid(), getuid());
	json_bool(f, o->process_events);
	if (o->box)
		fprintf(f, ",\"box\":%s", o->box);
	fputs(",\"command\":[", f);
	for (i = 0; o->argv[i]; i++) {
		if (i)
			fputc(',', f);
		json_str(f, o->argv[i]);
	}
	fputs("],\"effect\":\"fence start\"", f);
	err = af_journal_commit(r->j);
	if (err) {
		snprintf(why, n, "%s: %s", o->journal, strerror(-err));
		af_recorder_close(r, 0, true);
		return err;
	}
	*out = r;
	return 0;
}

void af_recorder_tap(struct af_recorder *r, af_journal_tap_fn fn, void *ctx)
{
	af_journal_set_tap(r->j, fn, ctx);
}

uint64_t af_recorder_next_seq(void *r)
{
	return af_journal_records(((struct af_recorder *)r)->j);
}

void af_recorder_root(struct af_recorder *r, pid_t pid, char *const argv[])
{
	af_prov_root(r->prov, pid, getpid(), argv);
}

/* Begin a record about process pid: who it is, where it came from. */
static FILE *begin_proc(struct af_recorder *r, const char *type, const struct af_hdr *h,
			pid_t pid, const char *comm)
{
	struct timespec ts;
	int64_t wall = (int64_t)h->ktime + r->wall_minus_mono;
	const struct af_proc *p;
	pid_t anc[AF_ANCESTRY_MAX];
	FILE *f;
	int k, i;

	ts.tv_sec = wall / 1000000000LL;
	ts.tv_nsec = wall % 1000000000LL;
	f = af_journal_begin(r->j, type, &ts);
	if (!f)
		return NULL;
	fprintf(f, ",\"pid\":%d", pid);
	if (h->pid != h->tgid)
		fprintf(f, ",\"tid\":%u", h->pid);
	fputs(",\"comm\":", f);
	json_strn(f, comm, strnlen(comm, AF_COMM_LEN));
	p = af_prov_get(r->prov, pid);
	if (p) {
		fprintf(f, ",\"ppid\":%d,\"argv\":", p->ppid);
		json_argv(f, p->argv, p->argv_len);
		if (p->label) {
			fputs(",\"label\":", f);
			json_str(f, p->label);
		}
	}
	k = af_prov_ancestry(r->prov, pid, anc, AF_ANCESTRY_MAX);
	fputs(",\"ancestry\":[", f);
	for (i = 0; i < k; i++)
		fprintf(f, "%s%d", i ? "," : "", anc[i]);
	fputc(']', f);
	return f;
}

/* The label of `agentfence exec --label L -- CMD`, from the kernel's
 * exec event of that very process: its pid then keeps L through the
 * exec of CMD, and its descendants inherit it (af_prov_fork). */
static const char *exec_label(const struct af_ev_exec *e, size_t len, char *out, size_t n)
{
	const char *args[8], *base;
	struct stat self, exe;
	size_t off = 0, k = 0, i;

	while (off < len && k < ARRAY_SIZE(args)) {
		args[k++] = e->argv + off;
		off += strnlen(e->argv + off, len - off) + 1;
	}
	if (k < 3 || off > len || strcmp(args[1], "exec"))
		return NULL;
	base = strrchr(e->filename, '/');
	base = base ? base + 1 : e->filename;
	if (strcmp(base, "agentfence") &&
	    (stat("/proc/self/exe", &self) || stat(e->filename, &exe) ||
	     self.st_dev != exe.st_dev || self.st_ino != exe.st_ino))
		return NULL;
	for (i = 2; i < k && strcmp(args[i], "--"); i++) {
		if ((!strcmp(args[i], "--label") || !strcmp(args[i], "-l")) && i + 1 < k)
			return af_strlcpy(out, args[i + 1], n) ? NULL : out;
		if (!strncmp(args[i], "--label=", 8))
			return af_strlcpy(out, args[i] + 8, n) ? NULL : out;
		if (!strncmp(args[i], "-l", 2) && args[i][2])
			return af_strlcpy(out, args[i] + 2, n) ? NULL : out;
	}
	return NULL;
}

static void record_exec(struct af_recorder *r, const struct af_ev_exec *e)
{
	size_t len = e->argv_len < AF_ARGV_MAX ? e->argv_len : AF_ARGV_MAX;
	char line[AF_ARGV_MAX + 8], label[256];
	FILE *f;

	r->execs++;
	af_prov_exec(r->prov, e->hdr.tgid, e->ppid, e->argv, len);
	if (exec_label(e, len, label, sizeof(label)))
		af_prov_label(r->prov, e->hdr.tgid, label);
	f = begin_proc(r, "exec", &e->hdr, e->hdr.tgid, e->comm);
	if (!f)
		return;
	fprintf(f, ",\"uid\":%u,\"filename\":", e->uid);
	json_strn(f, e->filename, strnlen(e->filename, AF_FILENAME_MAX));
	if (e->flags & AF_EXECF_ARGV_TRUNC)
		fputs(",\"argv_truncated\":true", f);
	memcpy(line, "exec ", 5);
	argv_line(e->argv, len, line + 5, sizeof(line) - 5);
	fputs(",\"effect\":", f);
	json_str(f, line);
	af_journal_commit(r->j);
}

static void record_fork(struct af_recorder *r, const struct af_ev_fork *e)
{
	char effect[64];
	FILE *f;

	/* The supervisor starting the root process is not the agent's. */
	if (af_prov_get(r->prov, e->child) && (pid_t)e->hdr.tgid == getpid())
		return;
	r->forks++;
	af_prov_fork(r->prov, e->hdr.tgid, e->child);
	f = begin_proc(r, "fork", &e->hdr, e->hdr.tgid, e->comm);
	if (!f)
		return;
	snprintf(effect, sizeof(effect), "fork pid %u", e->child);
	fprintf(f, ",\"child\":%u,\"effect\":", e->child);
	json_str(f, effect);
	af_journal_commit(r->j);
}

static void record_exit(struct af_recorder *r, const struct af_ev_exit *e)
{
	char effect[64];
	FILE *f;

	r->exits++;
	f = begin_proc(r, "exit", &e->hdr, e->hdr.tgid, e->comm);
	af_prov_exit(r->prov, e->hdr.tgid);
	if (!f)
		return;
	if (e->code & 0x7f) {
		fprintf(f, ",\"signal\":%u", e->code & 0x7f);
		snprintf(effect, sizeof(effect), "killed by signal %u", e->code & 0x7f);
	} else {
		fprintf(f, ",\"status\":%u", (e->code >> 8) & 0xff);
		snprintf(effect, sizeof(effect), "exit %u", (e->code >> 8) & 0xff);
	}
	fputs(",\"effect\":", f);
	json_str(f, effect);
	af_journal_commit(r->j);
}

/* What a traced system call does to the filesystem (x86_64 numbers). */
static const char *fileop_verb(const struct af_ev_fileop *e)
{
	switch (e->sysno) {
	case 2: case 257: case 437:
		return e->flags & 0100 ? "create/open for write" : "open for write";
	case 85: return "create";
	case 87: return "unlink";
	case 263: return e->flags & 0x200 ? "rmdir" : "unlink";
	case 84: return "rmdir";
	case 83: case 258: return "mkdir";
	case 82: case 264: case 316: return "rename";
	case 86: case 265: return "link";
	case 88: case 266: return "symlink";
	case 76: return "truncate";
	case 90: case 268: case 452: return "chmod";
	case 92: case 94: case 260: return "chown";
	case 133: case 259: return "mknod";
	default: return "change";
	}
}

/* A relative path argument, made absolute through the process's cwd or
 * directory descriptor while it still exists (else left relative);
 * dfd 0 keeps it as it is. */
static void resolve(pid_t pid, int dfd, const char *path, size_t max, char *out, size_t n)
{
	char link[64], dir[PATH_MAX];
	ssize_t l;

	if (path[0] == '/' || !path[0] || !dfd) {
		snprintf(out, n, "%.*s", (int)strnlen(path, max), path);
		return;
	}
	if (dfd == AF_AT_FDCWD)
		snprintf(link, sizeof(link), "/proc/%d/cwd", pid);
	else
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", pid, dfd);
	l = readlink(link, dir, sizeof(dir) - 1);
	if (l <= 0) {
		snprintf(out, n, "%.*s", (int)strnlen(path, max), path);
		return;
	}
	dir[l] = 0;
	snprintf(out, n, "%s%s%.*s", dir, strcmp(dir, "/") ? "/" : "", (int)strnlen(path, max), path);
}

static void record_fileop(struct af_recorder *r, const struct af_ev_fileop *e)
{
	char path[PATH_MAX + AF_PATH_MAX], path2[PATH_MAX + AF_PATH_MAX] = "";
	char effect[2 * sizeof(path) + 128];
	bool refused = e->ret == -EACCES || e->ret == -EPERM || e->ret == -EROFS;	/* EROFS: mountns.c */
	const char *verb = fileop_verb(e);
	size_t l;
	FILE *f;

	/* A symlink's target is stored as written, relative or not. */
	resolve(e->hdr.tgid, e->sysno == 88 || e->sysno == 266 ? 0 : e->dfd, e->path,
		sizeof(e->path), path, sizeof(path));
	if (e->path2[0])
		resolve(e->hdr.tgid, e->dfd2, e->path2, sizeof(e->path2), path2, sizeof(path2));
	r->files++;
	if (refused)
		r->refused++;
	f = begin_proc(r, refused ? "deny" : "file", &e->hdr, e->hdr.tgid, e->comm);
	if (!f)
		return;
	l = snprintf(effect, sizeof(effect), "%s%s %s%s%s", refused ? "refused " : "", verb,
		     e->sysno == 88 || e->sysno == 266 ? path2 : path,
		     path2[0] ? (e->sysno == 88 || e->sysno == 266 ? " -> " : " to ") : "",
		     e->sysno == 88 || e->sysno == 266 ? path : path2);
	if (e->ret < 0 && l < sizeof(effect))
		snprintf(effect + l, sizeof(effect) - l, "%s%s%s", refused ? " (" : ": ",
			 strerror(-e->ret), refused ? ")" : "");
	fprintf(f, ",\"verdict\":\"%s\",\"op\":", e->ret >= 0 ? "ok" : refused ? "refused" : "failed");
	json_str(f, verb);
	fprintf(f, ",\"syscall\":%d,\"ret\":%d,\"path\":", e->sysno, e->ret);
	json_str(f, path);
	if (path2[0]) {
		fputs(",\"path2\":", f);
		json_str(f, path2);
	}
	fputs(",\"effect\":", f);
	json_str(f, effect);
	af_journal_commit(r->j);
}

/* A fence decision (file, self-protection, network): these all start
 * with the header, then op and verdict. */
static void record_decision(struct af_recorder *r, const void *data, size_t size)
{
	const struct af_hdr *h = data;
	const uint32_t *opv = (const uint32_t *)(h + 1);
	char line[PATH_MAX + 512], comm[AF_COMM_LEN + 1] = "", *cut;
	const char *verdict = "denied", *type = "deny";
	FILE *f;

	if (size < sizeof(*h) + 8 || af_event_format(data, size, line, sizeof(line))) {
		r->other++;
		return;
	}
	if (opv[1] == AF_AUDITED) {
		verdict = "audited";
		r->audited++;
	} else if (opv[1] == AF_ALLOWED) {
		verdict = "allowed";
		type = "connect";
		if (h->type != AF_EV_DNS)
			r->allowed++;
	} else {
		r->denials++;
	}
	if (h->type == AF_EV_DNS)
		type = "dns";	/* answered lookups, and refused ones */
	/* The line ends "(comm pid N)": the record has those as fields. */
	cut = strrchr(line, '(');
	if (cut && cut > line && cut[-1] == ' ' && strstr(cut, " pid ")) {
		snprintf(comm, sizeof(comm), "%.*s", (int)(strstr(cut, " pid ") - cut - 1), cut + 1);
		cut[-1] = 0;
	}
	f = begin_proc(r, type, h, h->tgid, comm);
	if (!f)
		return;
	fputs(",\"verdict\":", f);
	json_str(f, verdict);
	fprintf(f, ",\"op\":%u,\"effect\":", opv[0]);
	json_str(f, line);
	af_journal_commit(r->j);
}

void af_recorder_event(struct af_recorder *r, const void *data, size_t size)
{
	const struct af_hdr *h = data;

	if (!r || size < sizeof(*h))
		return;
	/* The DNS stub's answers are made in userspace, so spec.events is
	 * applied here; a refused lookup is a denial, always recorded. */
	if (h->type == AF_EV_DNS && !(r->events & AF_EVK_DNS) && size >= sizeof(*h) + 8 &&
	    ((const uint32_t *)(h + 1))[1] != AF_DENIED)
		return;
	if (h->type == AF_EV_EXEC && size >= sizeof(struct af_ev_exec))
		record_exec(r, data);
	else if (h->type == AF_EV_FORK && size >= sizeof(struct af_ev_fork))
		record_fork(r, data);
	else if (h->type == AF_EV_EXIT && size >= sizeof(struct af_ev_exit))
		record_exit(r, data);
	else if (h->type == AF_EV_FILEOP && size >= sizeof(struct af_ev_fileop))
		record_fileop(r, data);
	else
		record_decision(r, data, size);
}

void af_recorder_lost(struct af_recorder *r, uint64_t total)
{
	char effect[96];
	FILE *f;

	if (!r || total <= r->lost)
		return;
	f = af_journal_begin(r->j, "lost", NULL);
	if (!f)
		return;
	snprintf(effect, sizeof(effect), "%llu events lost: the ring buffer was full",
		 (unsigned long long)(total - r->lost));
	fprintf(f, ",\"count\":%llu,\"total\":%llu,\"effect\":", (unsigned long long)(total - r->lost),
		(unsigned long long)total);
	json_str(f, effect);
	af_journal_commit(r->j);
	r->lost = total;
}

int af_recorder_close(struct af_recorder *r, int exit_code, bool quiet)
{
	char effect[64];
	FILE *f;
	int err;

	if (!r)
		return 0;
	f = af_journal_begin(r->j, "fence_end", NULL);
	if (f) {
		snprintf(effect, sizeof(effect), "fence end: exit %d", exit_code);
		fprintf(f, ",\"exit_status\":%d,\"processes\":%lu,\"execs\":%lu,\"exits\":%lu,"
			"\"denials\":%lu,\"audited\":%lu,\"connects\":%lu,\"file_effects\":%lu,"
			"\"refused\":%lu,\"lost\":%llu,"
			"\"undecoded\":%lu,\"records\":%llu,\"effect\":",
			exit_code,
			af_prov_count(r->prov), r->execs, r->exits, r->denials, r->audited, r->allowed,
			r->files, r->refused, (unsigned long long)r->lost, r->other,
			(unsigned long long)af_journal_records(r->j) + 1);
		json_str(f, effect);
		af_journal_commit(r->j);
	}
	if (!quiet)
		af_note("journal %s: %llu records, head %.16s; processes started: %lu, execs: %lu, "
			"file changes: %lu, denials: %lu, lost events: %llu%s", r->path,
			(unsigned long long)af_journal_records(r->j), af_journal_head(r->j),
			af_prov_count(r->prov), r->execs, r->files - r->refused,
			r->denials + r->audited + r->refused,
			(unsigned long long)r->lost,
			af_journal_failed(r->j) ? " (some records could not be written!)" : "");
	err = af_journal_close(r->j);
	af_prov_free(r->prov);
	free(r);
	return err;
}
