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

#include "box.h"
#include "caps.h"
#include "sysfilter.h"
#include "events.h"
#include "journal.h"
#include "json.h"
#include "provenance.h"
#include "recorder.h"
#include "util.h"
#include "../bpf/events.h"
#include "../bpf/fence.h"

struct af_recorder {
	struct af_journal *j;
	struct af_prov *prov;
	char *path;			/* malloc'd: a daemon holds hundreds */
	int64_t wall_minus_mono;	/* ns: turns bpf_ktime_get_ns() into wall time */
	pid_t supervisor;		/* its fork of the root is not the agent's */
	af_label_fn label_of;
	void *label_ctx;
	af_ctag_fn ctag_of;		/* a pod's container (af_recorder_set_ctag) */
	void *ctag_ctx;
	uint64_t lost;			/* reported so far */
	unsigned int events;		/* spec.events (enum af_event_kind) */
	uint64_t caps;			/* spec.process.capabilities */
	unsigned long execs, forks, exits, denials, audited, allowed, files, refused, other;
	unsigned long coalesced;	/* records of coalesced repeats (their count is in files) */
	struct fxco_ent *fxco;		/* the first records of coalesced effects, by key */
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
	char host[256] = "";
	struct utsname u;
	struct af_json *w;
	int err;

	if (!r || !(r->prov = af_prov_new())) {
		free(r);
		snprintf(why, n, "out of memory");
		return -ENOMEM;
	}
	err = o->resume ? af_journal_resume(o->journal, o->rotate_bytes, &r->j, why, n) :
			  af_journal_open(o->journal, o->rotate_bytes, &r->j, why, n);
	if (err) {
		af_prov_free(r->prov);
		free(r);
		return err;
	}
	r->path = strdup(o->journal);
	if (!r->path) {
		snprintf(why, n, "out of memory");
		af_journal_close(r->j);
		af_prov_free(r->prov);
		free(r);
		return -ENOMEM;
	}
	if (o->tag && af_journal_set_tag(r->j, o->tag, strlen(o->tag))) {
		snprintf(why, n, "out of memory");
		af_journal_close(r->j);
		af_prov_free(r->prov);
		free(r->path);
		free(r);
		return -ENOMEM;
	}
	af_journal_set_retention(r->j,
				 o->keep_bytes == AF_KEEP_OFF ? 0 :
				 o->keep_bytes ? o->keep_bytes : AF_JOURNAL_KEEP_BYTES_DEFAULT,
				 o->keep_days == AF_KEEP_OFF ? 0 :
				 (o->keep_days ? o->keep_days : AF_JOURNAL_KEEP_DAYS_DEFAULT) * 86400);
	r->events = o->policy->events;
	r->caps = o->policy->caps;
	r->wall_minus_mono = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	r->supervisor = o->run_pid ? o->run_pid : getpid();
	r->label_of = o->label_of;
	r->label_ctx = o->label_ctx;
	if (o->resume) {
		/* The chain goes on; the caller says why (its gap record). */
		*out = r;
		return 0;
	}
	uname(&u);
	gethostname(host, sizeof(host) - 1);
	w = af_journal_begin(r->j, "fence_start", NULL);
	if (!w) {
		snprintf(why, n, "out of memory");
		af_recorder_close(r, 0, true);
		return -ENOMEM;
	}
	af_json_u64(w, "journal_version", 1);
	af_json_object(w, "policy");
	af_json_str(w, "name", o->policy->name);
	af_json_str(w, "file", o->policy_file ? o->policy_file : o->policy->file);
	af_json_str(w, "sha256", o->policy->sha256);
	af_json_str(w, "mode", af_mode_name(o->policy->mode));
	af_json_end(w);
	af_json_str(w, "kernel", u.release);
	af_json_str(w, "backend", af_backend_name(o->backend));
	af_json_str(w, "host", host);
	af_json_str(w, "workspace", o->workspace);
	af_json_str(w, "cgroup", o->cgroup);
	af_json_u64(w, "fence_id", o->fence_id);
	af_json_i64(w, "supervisor_pid", getpid());
	if (o->run_pid)
		af_json_i64(w, "run_pid", o->run_pid);
	af_json_u64(w, "uid", getuid());
	af_json_bool(w, "process_events", o->process_events);
	if (o->box)
		af_box_json(w, "box", o->box);
	af_json_strv(w, "command", o->argv);
	af_json_str(w, "effect", "fence start");
	err = af_journal_commit(r->j);
	if (err) {
		snprintf(why, n, "%s: %s", o->journal, strerror(-err));
		af_recorder_close(r, 0, true);
		return err;
	}
	/* What earlier runs left in the directory, before this one adds;
	 * a daemon opening many fences sweeps once a minute (rotations
	 * sweep always). */
	{
		static struct timespec last;
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!last.tv_sec || now.tv_sec - last.tv_sec >= 60) {
			last = now;
			af_journal_retain(r->j);
		}
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

void af_recorder_root_from(struct af_recorder *r, pid_t pid, pid_t parent, char *const argv[])
{
	static char *const none[] = { "?", NULL };

	r->supervisor = parent;
	af_prov_root(r->prov, pid, parent, argv ? argv : none);
}

void af_recorder_lost_base(struct af_recorder *r, uint64_t total)
{
	r->lost = total;
}

void af_recorder_free(struct af_recorder *r)
{
	af_prov_free(r->prov);
	free(r->path);
	free(r);
}

struct af_journal *af_recorder_journal(struct af_recorder *r)
{
	return r->j;
}

void af_recorder_set_ctag(struct af_recorder *r, af_ctag_fn fn, void *ctx)
{
	r->ctag_of = fn;
	r->ctag_ctx = ctx;
}

/* Begin a record about process pid: who it is, where it came from. */
static struct af_json *begin_proc(struct af_recorder *r, const char *type,
				  const struct af_hdr *h, pid_t pid, const char *comm)
{
	struct timespec ts;
	int64_t wall = (int64_t)h->ktime + r->wall_minus_mono;
	const struct af_proc *p;
	pid_t anc[AF_ANCESTRY_MAX];
	const char *ctag = NULL;
	size_t ctag_len = 0;
	struct af_json *w;
	int k, i;

	ts.tv_sec = wall / 1000000000LL;
	ts.tv_nsec = wall % 1000000000LL;
	/* Before the record begins: the callee may journal the container
	 * the first time it sees it. */
	if (r->ctag_of && h->cgroup)
		ctag = r->ctag_of(r->ctag_ctx, r->j, h->cgroup, &ctag_len);
	w = af_journal_begin(r->j, type, &ts);
	if (!w)
		return NULL;
	if (ctag)
		af_journal_add(r->j, ctag, ctag_len);
	af_json_i64(w, "pid", pid);
	if (h->pid != h->tgid)
		af_json_u64(w, "tid", h->pid);
	af_json_strn(w, "comm", comm, strnlen(comm, AF_COMM_LEN));
	p = af_prov_get(r->prov, pid);
	if (p) {
		af_json_i64(w, "ppid", p->ppid);
		/* argv once, on the exec record; the others point at it. */
		if (!strcmp(type, "exec") || !p->exec_rec)
			af_json_strs(w, "argv", p->argv, p->argv_len);
		else
			af_json_u64(w, "exec_seq", p->exec_rec - 1);
		if (p->label)
			af_json_str(w, "label", p->label);
	}
	k = af_prov_ancestry(r->prov, pid, anc, AF_ANCESTRY_MAX);
	af_json_array(w, "ancestry");
	for (i = 0; i < k; i++)
		af_json_i64(w, NULL, anc[i]);
	af_json_end(w);
	return w;
}

static void record_exec(struct af_recorder *r, const struct af_ev_exec *e)
{
	size_t len = e->argv_len < AF_ARGV_MAX ? e->argv_len : AF_ARGV_MAX;
	char line[AF_ARGV_MAX + 8], label[256], filename[AF_FILENAME_MAX + 1];
	struct af_json *w;

	r->execs++;
	/* The seq begin_proc gives the exec record just below. */
	if (!af_prov_exec(r->prov, e->hdr.tgid, e->ppid, e->argv, len))
		af_prov_exec_record(r->prov, e->hdr.tgid, af_journal_records(r->j));
	snprintf(filename, sizeof(filename), "%.*s", AF_FILENAME_MAX, e->filename);
	if (r->label_of && r->label_of(r->label_ctx, filename, e->argv, len, label, sizeof(label)))
		af_prov_label(r->prov, e->hdr.tgid, label);
	w = begin_proc(r, "exec", &e->hdr, e->hdr.tgid, e->comm);
	if (!w)
		return;
	af_json_u64(w, "uid", e->uid);
	af_json_str(w, "filename", filename);
	if (e->flags & AF_EXECF_ARGV_TRUNC)
		af_json_bool(w, "argv_truncated", true);
	memcpy(line, "exec ", 5);
	argv_line(e->argv, len, line + 5, sizeof(line) - 5);
	af_json_str(w, "effect", line);
	af_journal_commit(r->j);
}

static void record_fork(struct af_recorder *r, const struct af_ev_fork *e)
{
	char effect[64];
	struct af_json *w;

	/* The supervisor starting the root process is not the agent's. */
	/* Through the daemon, run's fork may come before run has told
	 * the daemon its child's pid: run forks nothing else in the fence. */
	if ((pid_t)e->hdr.tgid == r->supervisor &&
	    (af_prov_get(r->prov, e->child) || r->supervisor != getpid()))
		return;
	r->forks++;
	af_prov_fork(r->prov, e->hdr.tgid, e->child);
	w = begin_proc(r, "fork", &e->hdr, e->hdr.tgid, e->comm);
	if (!w)
		return;
	memcpy(effect, "fork pid ", 9);
	af_utoa(e->child, effect + 9);
	af_json_u64(w, "child", e->child);
	af_json_str(w, "effect", effect);
	af_journal_commit(r->j);
}

static void record_exit(struct af_recorder *r, const struct af_ev_exit *e)
{
	char effect[64];
	struct af_json *w;

	r->exits++;
	w = begin_proc(r, "exit", &e->hdr, e->hdr.tgid, e->comm);
	af_prov_exit(r->prov, e->hdr.tgid);
	if (!w)
		return;
	if (e->code & 0x7f) {
		af_json_u64(w, "signal", e->code & 0x7f);
		snprintf(effect, sizeof(effect), "killed by signal %u", e->code & 0x7f);
	} else {
		af_json_u64(w, "status", (e->code >> 8) & 0xff);
		snprintf(effect, sizeof(effect), "exit %u", (e->code >> 8) & 0xff);
	}
	af_json_str(w, "effect", effect);
	af_journal_commit(r->j);
}

/* Append s (len bytes) at *o in out (n bytes), cut to fit and kept
 * NUL-terminated: snprintf's result, without its format parsing on the
 * path of every record. */
static size_t cat(char *out, size_t n, size_t o, const char *s, size_t len)
{
	if (o + 1 >= n)
		return o;
	if (len > n - 1 - o)
		len = n - 1 - o;
	memcpy(out + o, s, len);
	out[o + len] = 0;
	return o + len;
}

#define CATS(out, n, o, s) cat(out, n, o, s, strlen(s))

/* strerror's text without its locale lookup on every record (the
 * supervisor never sets a locale: the same English text). */
static const char *errno_text(int e)
{
	const char *t = strerrordesc_np(e);

	return t ? t : strerror(e);
}

/* A path from the kernel's walk (names leaf first, NUL-terminated,
 * up to the task's root), then the call's own relative argument. */
static void kernel_path(const char *names, size_t len, const char *rel, char *out, size_t n,
			bool trunc, bool unreachable)
{
	const char *comps[AF_PATH_MAX];
	size_t nc = 0, off = 0, o;
	int i;

	while (off < len && nc < AF_PATH_MAX) {
		comps[nc++] = names + off;
		off += strnlen(names + off, len - off) + 1;
	}
	/* Truncated: the top of the path is missing, and says so. */
	if (n)
		out[0] = 0;
	/* Outside the task's root (AF_FOF_UNREACHABLE): marked the way the
	 * kernel's getcwd marks it, then the names to the namespace's root. */
	o = cat(out, n, 0, "(unreachable)", unreachable ? 13 : 0);
	o = cat(out, n, o, "...", trunc ? 3 : 0);
	for (i = (int)nc - 1; i >= 0; i--) {
		o = cat(out, n, o, "/", 1);
		o = CATS(out, n, o, comps[i]);
	}
	if (rel && rel[0]) {
		o = cat(out, n, o, "/", 1);
		o = CATS(out, n, o, rel);
	}
	if (o == 0)
		cat(out, n, 0, "/", 1);
}

/* The path of one argument: as the kernel resolved its directory at the
 * call (or the object itself, for an fd or the fd an open returned);
 * an absolute argument as it is; never from /proc later. Returns
 * whether it is what the kernel resolved in full. */
static bool arg_path(const char *arg, size_t max, const char *dir, size_t dir_len,
		     uint32_t dflags, char *out, size_t n, bool *trunc)
{
	char rel[AF_PATH_MAX + 1];
	size_t rl = strnlen(arg, max < AF_PATH_MAX ? max : AF_PATH_MAX);

	memcpy(rel, arg, rl);
	rel[rl] = 0;
	*trunc = dflags & AF_FOF_TRUNC;
	if (dflags & AF_FOF_FULL) {
		kernel_path(dir, dir_len < AF_PATH_MAX ? dir_len : AF_PATH_MAX, NULL, out, n, *trunc,
			    dflags & AF_FOF_UNREACHABLE);
		return !(dflags & (AF_FOF_TRUNC | AF_FOF_DISCONNECTED));
	}
	if (dflags & AF_FOF_DIR) {
		kernel_path(dir, dir_len < AF_PATH_MAX ? dir_len : AF_PATH_MAX, rel, out, n, *trunc,
			    dflags & AF_FOF_UNREACHABLE);
		return !(dflags & (AF_FOF_TRUNC | AF_FOF_DISCONNECTED));
	}
	if (n)
		out[0] = 0;
	cat(out, n, 0, rel, rl);
	return !(dflags & AF_FOF_UNRESOLVED);
}

/* The first record of each object the kernel coalesces the repeats of
 * (bpf/fxco.bpf.h): its path and seq, for the records of its repeats,
 * which carry only the object's key. Direct-mapped: a key pushed out
 * by another leaves its repeats' records without a path (said so, with
 * dev and ino). */
#define FXCO_CACHE	4096	/* a power of two */

struct fxco_ent {
	uint64_t ino, name;
	uint32_t tid, dev;
	int32_t sysno;
	uint32_t flags;
	uint64_t seq;
	char *path;		/* NULL: free */
};

static struct fxco_ent *fxco_slot(struct af_recorder *r, const struct af_ev_fileop *e,
				  const struct af_fileop_co *co)
{
	uint64_t h = (co->ino ^ co->name ^ ((uint64_t)co->dev << 32) ^ e->hdr.pid ^
		      ((uint64_t)e->flags << 20)) * 0x9E3779B97F4A7C15ULL;

	if (!r->fxco && !(r->fxco = calloc(FXCO_CACHE, sizeof(*r->fxco))))
		return NULL;
	return &r->fxco[(h >> 40) & (FXCO_CACHE - 1)];
}

static bool fxco_match(const struct fxco_ent *c, const struct af_ev_fileop *e,
		       const struct af_fileop_co *co)
{
	return c && c->path && c->ino == co->ino && c->name == co->name && c->dev == co->dev &&
	       c->tid == e->hdr.pid &&
	       c->sysno == e->sysno && c->flags == e->flags;
}

/* A bpf_ktime_get_ns() time as the journal writes its records' "time". */
static void wall_text(const struct af_recorder *r, uint64_t ktime, char *out, size_t n)
{
	int64_t wall = (int64_t)ktime + r->wall_minus_mono;
	time_t sec = wall / 1000000000LL;
	struct tm tm;
	size_t l;

	gmtime_r(&sec, &tm);
	l = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + l, n - l, ".%06lldZ", (long long)(wall % 1000000000LL / 1000));
}

static void record_fileop(struct af_recorder *r, const struct af_ev_fileop *e, size_t size)
{
	bool two = size >= sizeof(struct af_ev_fileop);
	const struct af_fileop_co *co = NULL;
	const struct fxco_ent *first = NULL;
	char path[PATH_MAX + AF_PATH_MAX], path2[PATH_MAX + AF_PATH_MAX] = "";
	char effect[2 * sizeof(path) + 128];
	bool refused = e->ret == -EACCES || e->ret == -EPERM || e->ret == -EROFS;	/* EROFS: mountns.c */
	bool symlink = af_fileop_is_symlink(e->sysno);
	const char *verb = af_fileop_verb(e->sysno, e->flags);
	struct af_json *w;
	size_t l;

	bool exact, exact2 = true, trunc, trunc2 = false;

	/* Coalescing (bpf/fxco.bpf.h), never of a refusal: count 0 is the
	 * first record of an object, count > 0 a record of its repeats,
	 * named by the first's path. */
	if ((e->dflags & AF_FOF_COALESCED) && size >= AF_FILEOP_CO_SIZE && e->ret >= 0)
		co = (const void *)((const char *)e + AF_FILEOP_SHORT);
	if (co && co->count) {
		struct fxco_ent *c = fxco_slot(r, e, co);

		trunc = false;
		exact = fxco_match(c, e, co);
		if (exact)
			af_strlcpy(path, c->path, sizeof(path));
		else
			snprintf(path, sizeof(path), "(dev %u:%u ino %llu)", co->dev >> 20,
				 co->dev & 0xfffff, (unsigned long long)co->ino);
		first = exact ? c : NULL;
	} else {
		/* A symlink's target is stored as written, relative or not. */
		exact = arg_path(e->path, sizeof(e->path), e->dir, e->dir_len, e->dflags & 0xff,
				 path, sizeof(path), &trunc);
	}
	if (co && !co->count) {
		struct fxco_ent *c = fxco_slot(r, e, co);
		char *dup = strdup(path);

		if (c && dup) {
			free(c->path);
			c->path = dup;
			c->ino = co->ino;
			c->name = co->name;
			c->dev = co->dev;
			c->tid = e->hdr.pid;
			c->sysno = e->sysno;
			c->flags = e->flags;
			c->seq = af_journal_records(r->j);	/* this record's */
		} else {
			free(dup);
		}
	}
	if (two && e->path2[0])
		exact2 = arg_path(e->path2, sizeof(e->path2), e->dir2, e->dir2_len,
				  (e->dflags >> AF_FOF_DIR2_SHIFT) & 0xff, path2, sizeof(path2), &trunc2);
	r->files += co && co->count ? co->count : 1;
	if (co && co->count)
		r->coalesced++;
	if (refused)
		r->refused++;
	w = begin_proc(r, refused ? "deny" : "file", &e->hdr, e->hdr.tgid, e->comm);
	if (!w)
		return;
	effect[0] = 0;
	l = CATS(effect, sizeof(effect), 0, refused ? "refused " : "");
	l = CATS(effect, sizeof(effect), l, verb);
	l = cat(effect, sizeof(effect), l, " ", 1);
	l = CATS(effect, sizeof(effect), l, symlink ? path2 : path);
	l = CATS(effect, sizeof(effect), l, path2[0] ? (symlink ? " -> " : " to ") : "");
	l = CATS(effect, sizeof(effect), l, symlink ? path : path2);
	if (e->ret < 0) {
		l = CATS(effect, sizeof(effect), l, refused ? " (" : ": ");
		l = CATS(effect, sizeof(effect), l, errno_text(-e->ret));
		l = CATS(effect, sizeof(effect), l, refused ? ")" : "");
	}
	af_json_str(w, "verdict", e->ret >= 0 ? "ok" : refused ? "refused" : "failed");
	af_json_str(w, "op", verb);
	af_json_i64(w, "syscall", e->sysno);
	af_json_i64(w, "ret", e->ret);
	af_json_str(w, "path", path);
	if (path2[0])
		af_json_str(w, "path2", path2);
	/* Said, not hidden: a path whose top did not fit the event, or one
	 * the kernel could not resolve (left as the call gave it). */
	if (trunc || trunc2)
		af_json_bool(w, "path_truncated", true);
	if (!exact || !exact2)
		af_json_bool(w, "path_unresolved", true);
	if (co && co->count) {
		char t[64];

		/* The same effect again, count times between first and last
		 * (since this object's previous record of this thread). */
		af_json_object(w, "coalesced");
		af_json_u64(w, "count", co->count);
		if (first)
			af_json_u64(w, "of", first->seq);
		else
			af_json_bool(w, "first_unknown", true);
		wall_text(r, co->first, t, sizeof(t));
		af_json_str(w, "first", t);
		wall_text(r, co->last, t, sizeof(t));
		af_json_str(w, "last", t);
		af_json_end(w);
		snprintf(t, sizeof(t), " (again, %llu times)", (unsigned long long)co->count);
		CATS(effect, sizeof(effect), l, t);
	}
	af_json_str(w, "effect", effect);
	af_journal_commit(r->j);
}

bool af_fileop_refusal(const void *data, size_t size, char *path, size_t pn, char *line,
		       size_t n)
{
	const struct af_ev_fileop *e = data;
	char p2[PATH_MAX + AF_PATH_MAX] = "";
	bool trunc, trunc2 = false, symlink;

	if (size < AF_FILEOP_SHORT || e->hdr.type != AF_EV_FILEOP ||
	    (e->ret != -EACCES && e->ret != -EPERM && e->ret != -EROFS))
		return false;
	arg_path(e->path, sizeof(e->path), e->dir, e->dir_len, e->dflags & 0xff, path, pn, &trunc);
	if (size >= sizeof(*e) && e->path2[0])
		arg_path(e->path2, sizeof(e->path2), e->dir2, e->dir2_len,
			 (e->dflags >> AF_FOF_DIR2_SHIFT) & 0xff, p2, sizeof(p2), &trunc2);
	symlink = af_fileop_is_symlink(e->sysno);
	/* A symlink's new name is path2; what the fence refused is there. */
	if (symlink && p2[0])
		af_strlcpy(path, p2, pn);
	snprintf(line, n, "denied %s %s%s (%.*s pid %u)", af_fileop_verb(e->sysno, e->flags), path,
		 trunc || trunc2 ? " [path truncated]" : "", AF_COMM_LEN, e->comm, e->hdr.tgid);
	return true;
}

/* A fence decision (file, self-protection, network, DNS). */
static void record_decision(struct af_recorder *r, const void *data, size_t size)
{
	const struct af_decision *d = af_event_decision(data, size);
	const struct af_hdr *h = data;
	char line[PATH_MAX + 512], comm[AF_COMM_LEN + 1] = "", *cut;
	const char *verdict = "denied", *type = "deny";
	const struct af_net_co *nco = NULL;
	struct af_json *w;

	if (!d || af_event_format(data, size, line, sizeof(line))) {
		r->other++;
		return;
	}
	/* -EPERM of a call a capability guards, when the fence grants that
	 * capability, is not the box's refusal. */
	if (h->type == AF_EV_REFUSAL && d->op == AF_OP_CAPABILITY) {
		int cap = af_syscall_cap(((const struct af_ev_refusal *)data)->sysno);

		if (cap < 0 || (r->caps >> cap) & 1)
			return;
	}
	if (d->verdict == AF_AUDITED) {
		verdict = "audited";
		r->audited++;
	} else if (d->verdict == AF_ALLOWED) {
		verdict = "allowed";
		type = "connect";
		/* Repeats coalesced by the kernel (bpf/fxco.bpf.h). */
		if (h->type == AF_EV_NET && size >= AF_EV_NET_CO_SIZE &&
		    (((const struct af_ev_net *)data)->flags & AF_NETF_COALESCED))
			nco = (const void *)((const char *)data + sizeof(struct af_ev_net));
		if (h->type != AF_EV_DNS)
			r->allowed += nco ? nco->count : 1;
		if (nco)
			r->coalesced++;
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
	w = begin_proc(r, type, h, h->tgid, comm);
	if (!w)
		return;
	af_json_str(w, "verdict", verdict);
	af_json_u64(w, "op", d->op);
	if (h->type == AF_EV_REFUSAL) {
		const struct af_ev_refusal *e = data;
		char name[64];
		int cap = af_syscall_cap(e->sysno);

		af_syscall_name(e->sysno, name, sizeof(name));
		af_json_str(w, "syscall", name);
		af_json_str(w, "reason", d->op == AF_OP_SECCOMP ? "seccomp" : "capability");
		if (d->op == AF_OP_CAPABILITY && cap >= 0)
			af_json_str(w, "capability", af_cap_name(cap));
		af_json_i64(w, "ret", e->ret);
	} else if (h->type == AF_EV_SYS && d->op == AF_OP_MODULE_REQUEST &&
		   size >= sizeof(struct af_ev_kmod)) {
		const struct af_ev_kmod *e = data;

		af_json_strn(w, "module", e->name, strnlen(e->name, AF_KMOD_NAME));
	}
	if (nco) {
		char t[64];
		size_t l = strlen(line);

		af_json_object(w, "coalesced");
		af_json_u64(w, "count", nco->count);
		wall_text(r, nco->first, t, sizeof(t));
		af_json_str(w, "first", t);
		wall_text(r, nco->last, t, sizeof(t));
		af_json_str(w, "last", t);
		af_json_end(w);
		snprintf(line + l, sizeof(line) - l, " (again, %llu times)",
			 (unsigned long long)nco->count);
	}
	af_json_str(w, "effect", line);
	af_journal_commit(r->j);
}

void af_recorder_event(struct af_recorder *r, const void *data, size_t size)
{
	const struct af_decision *d = af_event_decision(data, size);
	const struct af_hdr *h = data;

	if (!r || size < sizeof(*h))
		return;
	/* The DNS stub's answers are made in userspace, so spec.events is
	 * applied here; a refused lookup is a denial, always recorded. */
	if (h->type == AF_EV_DNS && !(r->events & AF_EVK_DNS) && d && d->verdict != AF_DENIED)
		return;
	if (h->type == AF_EV_EXEC && size >= sizeof(struct af_ev_exec))
		record_exec(r, data);
	else if (h->type == AF_EV_FORK && size >= sizeof(struct af_ev_fork))
		record_fork(r, data);
	else if (h->type == AF_EV_EXIT && size >= sizeof(struct af_ev_exit))
		record_exit(r, data);
	else if (h->type == AF_EV_FILEOP && size >= AF_FILEOP_SHORT)
		record_fileop(r, data, size);
	else
		record_decision(r, data, size);
}

void af_recorder_lost(struct af_recorder *r, uint64_t total)
{
	char effect[96];
	struct af_json *w;

	if (!r || total <= r->lost)
		return;
	w = af_journal_begin(r->j, "lost", NULL);
	if (!w)
		return;
	snprintf(effect, sizeof(effect), "%llu events lost: the ring buffer was full",
		 (unsigned long long)(total - r->lost));
	af_json_u64(w, "count", total - r->lost);
	af_json_u64(w, "total", total);
	af_json_str(w, "effect", effect);
	af_journal_commit(r->j);
	r->lost = total;
}

int af_recorder_close(struct af_recorder *r, int exit_code, bool quiet)
{
	char effect[64];
	struct af_json *w;
	int err;

	if (!r)
		return 0;
	w = af_journal_begin(r->j, "fence_end", NULL);
	if (w) {
		snprintf(effect, sizeof(effect), "fence end: exit %d", exit_code);
		af_json_i64(w, "exit_status", exit_code);
		af_json_u64(w, "processes", af_prov_count(r->prov));
		af_json_u64(w, "execs", r->execs);
		af_json_u64(w, "exits", r->exits);
		af_json_u64(w, "denials", r->denials);
		af_json_u64(w, "audited", r->audited);
		af_json_u64(w, "connects", r->allowed);
		af_json_u64(w, "file_effects", r->files);
		af_json_u64(w, "coalesced", r->coalesced);
		af_json_u64(w, "refused", r->refused);
		af_json_u64(w, "lost", r->lost);
		af_json_u64(w, "undecoded", r->other);
		af_json_u64(w, "records", af_journal_records(r->j) + 1);
		af_json_str(w, "effect", effect);
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
	for (size_t i = 0; r->fxco && i < FXCO_CACHE; i++)
		free(r->fxco[i].path);
	free(r->fxco);
	af_prov_free(r->prov);
	free(r->path);
	free(r);
	return err;
}
