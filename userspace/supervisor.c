// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "box.h"
#include "cgroup.h"
#include "compile.h"
#include "dns.h"
#include "fences.h"
#include "events.h"
#include "fence.h"
#include "landlock.h"
#include "loop.h"
#include "recorder.h"
#include "spawn.h"
#include "stream.h"
#include "supervisor.h"
#include "util.h"
#include "watch.h"
#include "denials.h"
#include "drain.h"
#include "json.h"
#include "journal.h"
#include "json_read.h"
#include "../bpf/events.h"
#include "../bpf/fence.h"

#define SUP_FENCES_MAX	4096	/* a daemon's; each costs map entries and links */

struct af_sup_fence {
	struct af_sup *sup;
	const struct af_policy *policy;
	af_denial_fn on_denial;
	void *denial_ctx;
	af_gate_fn gate;
	void *gate_ctx;
	bool remote;			/* another supervisor holds it */
	bool owned;			/* we made its cgroup */
	pid_t client;
	/* Strings malloc'd to their length, "" for none: a daemon holds
	 * hundreds of fences, and five PATH_MAX arrays were 20 KiB of each. */
	char *workspace;
	char *home;
	char *policy_file;
	char *const *argv;
	enum af_backend backend;
	bool quiet;
	char *cgpath;
	char *journal;
	int cgfd;
	uint64_t id;
	struct af_entries *entries;	/* the policy, compiled */
	struct af_fence *fence;		/* NULL: Landlock alone, no journal */
	struct af_recorder *rec;	/* NULL: no journal */
	struct af_dns *dns;
	struct af_stream *stream;
	struct af_box *box;		/* NULL: no box */
	struct af_watch watch;
	pid_t root;			/* the command; 0 before it starts */
	int status;
	bool gone;			/* the command was reaped */
	unsigned long events, bad_events, denied;
	uint64_t denied_kind[AF_DK_MAX];	/* metrics.h's kinds */
	struct af_denials *den;		/* run's lines on stderr; NULL: none */
	struct af_drain *drain;		/* when its ring buffer is read */
	unsigned long lost_at;		/* f->events when drops were last read */
};

struct af_sup {
	struct af_loop *loop;
	int sigfd;
	sigset_t oldmask;
	struct af_sup_fence **fences;
	size_t nfences, cap;
	bool no_gc;		/* the caller collects (the daemon, now and then) */
};

static void sup_fence_free(struct af_sup_fence *f)
{
	free(f->workspace);
	free(f->home);
	free(f->policy_file);
	free(f->cgpath);
	free(f->journal);
	free(f);
}

static int sup_add(struct af_sup *s, struct af_sup_fence *f)
{
	struct af_sup_fence **v;
	size_t cap;

	if (s->nfences == SUP_FENCES_MAX) {
		af_err("this supervisor holds %d fences already", SUP_FENCES_MAX);
		return -ENOSPC;
	}
	if (s->nfences == s->cap) {
		cap = s->cap ? 2 * s->cap : 4;
		v = realloc(s->fences, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->fences = v;
		s->cap = cap;
	}
	s->fences[s->nfences++] = f;
	return 0;
}

static void sup_del(struct af_sup *s, struct af_sup_fence *f)
{
	size_t i;

	for (i = 0; i < s->nfences; i++) {
		if (s->fences[i] == f) {
			s->fences[i] = s->fences[--s->nfences];
			return;
		}
	}
}

int af_sup_open(struct af_sup **out)
{
	struct af_sup *s = calloc(1, sizeof(*s));
	sigset_t mask;
	int err;

	if (!s)
		return -ENOMEM;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGWINCH);
	sigprocmask(SIG_BLOCK, &mask, &s->oldmask);
	s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	s->loop = s->sigfd >= 0 ? af_loop_new() : NULL;
	if (!s->loop) {
		err = -errno;
		af_err("%s: %s", s->sigfd < 0 ? "signalfd" : "epoll", strerror(errno));
		af_sup_close(s);
		return err;
	}
	/* Orphans of the commands come to us, not to init: we reap them
	 * when their fence comes down, so none is left a zombie. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	*out = s;
	return 0;
}

void af_sup_close(struct af_sup *s)
{
	if (!s)
		return;
	af_loop_free(s->loop);
	if (s->sigfd >= 0)
		close(s->sigfd);
	sigprocmask(SIG_SETMASK, &s->oldmask, NULL);
	free(s->fences);
	free(s);
}

int af_sup_choose_backend(enum af_backend want, const struct af_policy *p, bool strict,
			  enum af_backend *out)
{
	const struct af_probe *pr = af_probe_kernel();
	enum af_backend best = af_backend_best(pr);
	char reason[512];

	af_probe_bpf_lsm_reason(pr, reason, sizeof(reason));
	if (!pr->cgroup2[0]) {
		af_err("no enforcement available: no cgroup2 mount in /proc/self/mountinfo "
		       "(mount -t cgroup2 none /sys/fs/cgroup)");
		return -ENOTSUP;
	}
	if (want == AF_BACKEND_NONE)
		want = best;
	if (want == AF_BACKEND_NONE) {
		af_err("no enforcement available: BPF LSM: %s; Landlock: %s (see agentfence doctor)",
		       reason, strerror(-pr->landlock_abi));
		return -ENOTSUP;
	}
	if ((want == AF_BACKEND_LSM_CGROUP && (pr->lsm_cgroup || pr->lsm_global)) ||
	    (want == AF_BACKEND_LSM && pr->lsm_global)) {
		af_err("backend %s is not available: %s (see agentfence doctor)",
		       af_backend_name(want), reason);
		return -ENOTSUP;
	}
	if (want == AF_BACKEND_LANDLOCK && pr->landlock_abi <= 0) {
		af_err("backend landlock is not available: %s", strerror(-pr->landlock_abi));
		return -ENOTSUP;
	}
	if (want == AF_BACKEND_LANDLOCK) {
		const char *gaps = af_landlock_uncovered(p, pr->landlock_abi);

		if (best == AF_BACKEND_LANDLOCK)
			af_note("BPF LSM unavailable (%s); filesystem fence via Landlock", reason);
		if (p->mode == AF_MODE_AUDIT) {
			af_err("audit mode needs a BPF LSM backend: Landlock cannot allow and report");
			return -ENOTSUP;
		}
		if (gaps[0] && strict) {
			af_err("--strict: the landlock backend does not cover: %s", gaps);
			return -ENOTSUP;
		}
		if (gaps[0])
			af_note("landlock backend does not cover: %s", gaps);
	}
	*out = want;
	return 0;
}

/* The fenced command must not be able to edit, delete or rename its
 * journal, and no backend can carve a read-only file out of a writable
 * tree (Landlock cannot at all), so it lies outside every writable path. */
int af_sup_journal_path(const char *arg, const struct af_policy *p, char *out, size_t n)
{
	const char *root;
	char *dir;

	if (arg) {
		if (arg[0] == '/') {
			af_strlcpy(out, arg, n);
		} else if (!(dir = getcwd(NULL, 0)) ||
			   snprintf(out, n, "%s/%s", dir, arg) >= (int)n) {
			free(dir);
			af_err("--journal %s: path too long", arg);
			return -ENAMETOOLONG;
		} else {
			free(dir);
		}
	} else if (af_journal_default_path(out, n)) {
		af_err("no place for the journal: neither XDG_STATE_HOME nor HOME is set "
		       "(--journal FILE, or --no-journal)");
		return -ENOENT;
	}
	if (!access(out, F_OK)) {
		af_err("--journal %s exists: a journal is never appended to (choose a new file)", out);
		return -EEXIST;
	}
	root = af_policy_writable_root(p, out);
	if (root) {
		af_err("%s %s lies beneath the writable path %s, where the fenced command could "
		       "edit or delete it (--journal FILE outside the writable paths, or --no-journal)",
		       arg ? "--journal" : "the journal", out, root);
		return -EPERM;
	}
	return 0;
}

/* A unix connect to a socket that is not there (glibc tries nscd's
 * before every user lookup, installed or not) fails without the fence
 * too: denied and journaled all the same, but not worth a line. */
static bool absent_socket(const void *data, size_t size, const struct af_decision *d)
{
	const struct af_ev_net *e = data;
	char path[AF_UNIX_PATH + 1];
	struct stat st;

	if (d->op != AF_OP_UNIX_CONNECT || size < sizeof(*e) ||
	    (e->flags & (AF_NETF_ABSTRACT | AF_NETF_RELATIVE | AF_NETF_DOTDOT)) ||
	    !e->path_len || e->path_len > AF_UNIX_PATH || e->path[0] != '/')
		return false;
	memcpy(path, e->path, e->path_len);
	path[e->path_len] = '\0';
	return lstat(path, &st) && errno == ENOENT;
}

/* Every event of the fence: to its journal; denials to stderr too. */
static void on_event(void *ctx, const void *data, size_t size)
{
	struct af_sup_fence *f = ctx;
	const struct af_decision *d = af_event_decision(data, size);
	char line[2 * PATH_MAX + 512], path[PATH_MAX + AF_PATH_MAX];

	f->events++;
	af_recorder_event(f->rec, data, size);
	/* Drops happen when events pour in: look now and then, so that the
	 * lost record sits where the loss was. */
	if (f->rec && f->fence && !(f->events & 1023))
		af_recorder_lost(f->rec, af_fence_counter(f->fence, AF_CNT_RB_DROP));
	/* Landlock refuses without telling: a write-intent call's exit with
	 * EACCES or EPERM outside every writable path (inside one it is the
	 * file's own permissions), or EROFS (the protected paths' read-only
	 * mounts), is the fence's denial. A relative path the kernel could
	 * not resolve cannot be placed: journaled, not printed. */
	if (!d && f->backend == AF_BACKEND_LANDLOCK && f->policy &&
	    af_fileop_refusal(data, size, path, sizeof(path), line, sizeof(line)) &&
	    (((const struct af_ev_fileop *)data)->ret == -EROFS ||
	     (path[0] == '/' && !af_policy_writable_root(f->policy, path)))) {
		f->denied++;
		f->denied_kind[AF_DK_FILE]++;
		goto show;
	}
	/* Process and file events, allowed connects and answered lookups
	 * go to the journal only. */
	if (!d || d->verdict == AF_ALLOWED || absent_socket(data, size, d))
		return;
	f->denied++;
	f->denied_kind[af_deny_kind(d->op)]++;
	if (af_event_format(data, size, line, sizeof(line))) {
		f->bad_events++;
		return;
	}
show:
	if (f->on_denial) {
		f->on_denial(f->denial_ctx, line);	/* JSON: the client escapes */
	} else {
		af_denials_add(f->den, line, af_denials_now());
	}
}

/* Drain the fence's ring buffer: what one drain brings is one group
 * commit (journal.h), one write. Returns the events read. */
static int sup_drain(struct af_sup_fence *f)
{
	int n;

	if (f->rec)
		af_journal_hold(af_recorder_journal(f->rec));
	n = af_fence_consume(f->fence);
	if (f->rec)
		af_journal_flush(af_recorder_journal(f->rec));
	return n;
}

static int on_events(void *ctx, bool *tick)
{
	struct af_sup_fence *f = ctx;
	int n = sup_drain(f);

	af_denials_flush(f->den, af_denials_now());
	/* The "N more times" lines come by time, not with the next line. */
	*tick = af_denials_pending(f->den);
	/* Also when the flood is over and nothing else comes: the lost
	 * record must not wait for the next event (one map read per drain
	 * that brought little, and every 1024 events). */
	if (f->rec && (n < AF_DRAIN_BUSY || f->events - f->lost_at >= 1024)) {
		f->lost_at = f->events;
		af_recorder_lost(f->rec, af_fence_counter(f->fence, AF_CNT_RB_DROP));
	}
	return n < 0 ? 0 : n;
}

static void stream_tap(void *ctx, const char *line, size_t len)
{
	af_stream_send(ctx, line, len);
}

static bool peer_fenced(void *ctx, pid_t pid)
{
	const struct af_sup_fence *f = ctx;

	return af_fence_task_fenced(pid, f->id);
}

/* The live stream of the journal's records (tail --fence). Without it
 * the fence runs all the same: say why, go on. */
static void open_stream(struct af_sup_fence *f, const struct af_fence_spec *spec)
{
	struct af_stream_opts so = {
		.fence_id = f->id,
		.journal = f->journal,
		.argv = spec->argv,
		.policy = spec->policy->name,
		.next_seq = af_recorder_next_seq,
		.ctx = f->rec,
		.peer_fenced = peer_fenced,
		.peer_ctx = f,
	};
	const char *root;
	char why[512];

	/* A fenced command that could write there could put a socket of
	 * its own in the stream's place and feed tail what it likes. */
	root = af_policy_writable_root(spec->policy, AF_RUN_DIR "/x.sock");
	if (root) {
		af_note("no live stream for tail --fence: %s lies beneath the writable path %s",
			AF_RUN_DIR, root);
		return;
	}
	if (af_stream_open(&so, f->sup->loop, &f->stream, why, sizeof(why))) {
		af_note("no live stream for tail --fence: %s", why);
		f->stream = NULL;
		return;
	}
	af_recorder_tap(f->rec, stream_tap, f->stream);
}

/* The BPF fence. The network fence needs no BPF LSM: with Landlock for
 * the filesystem, the object loads for its socket programs alone, and
 * for the journal's process events. */
static int open_bpf(struct af_sup_fence *f, const struct af_fence_spec *spec)
{
	const struct af_policy *p = spec->policy;
	struct af_fence_opts fo = {
		.backend = spec->backend,
		.policy = p,
		.entries = f->entries,
		.cgroup_fd = f->cgfd,
		.cgroup_id = f->id,
		.on_event = on_event,
		.ctx = f,
		.journal = spec->journal,
		.policy_bytes = spec->policy_bytes,
		.policy_len = spec->policy_len,
	};
	char why[1024];
	int err;

	if (spec->backend == AF_BACKEND_LANDLOCK && !p->has_network && !spec->journal)
		return 0;
	/* Every DNS query of the fence goes to this stub: it binds first,
	 * for the programs carry its ports. */
	if (p->has_network) {
		err = af_dns_open(p, &f->dns, why, sizeof(why));
		if (err) {
			af_err("cannot start the DNS stub: %s", why);
			return err;
		}
		af_dns_ports(f->dns, &fo.dns_port4, &fo.dns_port6);
	}
	err = af_fence_open(&fo, &f->fence, why, sizeof(why));
	if (err && spec->backend == AF_BACKEND_LANDLOCK && !p->has_network) {
		/* Only the journal's process events needed it. */
		af_note("no process events in the journal: %s", why);
		f->fence = NULL;
		return 0;
	}
	if (err) {
		af_err("cannot attach: %s", why);
		return err;
	}
	if (af_fence_uncovered(f->fence)[0]) {
		if (spec->strict) {
			af_err("--strict: this kernel's fence does not cover: %s",
			       af_fence_uncovered(f->fence));
			return AF_SUP_REFUSED;
		}
		af_note("this kernel's fence does not cover: %s", af_fence_uncovered(f->fence));
	}
	if (af_fence_fdw_note(f->fence)[0] && !spec->quiet)
		af_note("%s", af_fence_fdw_note(f->fence));
	af_debug("fence %llu on %s via %s (watch it: agentfence tail --fence %llu --follow)",
		 (unsigned long long)f->id, f->cgpath, af_backend_name(spec->backend),
		 (unsigned long long)f->id);
	return 0;
}

/* The entry set, from the paths' identities as they are now. */
static int compile_policy(struct af_sup_fence *f, const struct af_fence_spec *spec)
{
	struct af_idents ids;
	char why[AF_ERR_MAX];
	int err;

	err = af_resolve(spec->policy, &ids);
	if (err) {
		af_err("resolve the policy's paths: %s", strerror(-err));
		return err;
	}
	err = af_compile(spec->policy, &ids, spec->backend, &f->entries, why);
	af_idents_free(&ids);
	if (err)
		af_err("%s", why);
	return err;
}

/* The policy swap: the node's generation flip (af_fence_update). */
static int fence_update(struct af_sup_fence *f, const struct af_policy *p,
			const struct af_entries *e, char *why, size_t n)
{
	return af_fence_update(f->fence, p, e, why, n);
}

/* An existing cgroup to fence: beneath the cgroup2 mount, a
 * directory, not one of agentfence's own run fences. */
static int open_cgroup(struct af_sup_fence *f, const char *path)
{
	char mnt[PATH_MAX], real[PATH_MAX];
	size_t ml;

	if (af_cgroup2_mount(mnt, sizeof(mnt))) {
		af_err("cgroup %s: no cgroup2 mount", path);
		return -ENOENT;
	}
	ml = strlen(mnt);
	if (!realpath(path, real)) {
		af_err("cgroup %s: %s", path, strerror(errno));
		return -errno;
	}
	if (strncmp(real, mnt, ml) || real[ml] != '/') {
		af_err("cgroup %s: not beneath the cgroup2 mount %s", path, mnt);
		return -EINVAL;
	}
	f->cgfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->cgfd < 0) {
		af_err("cgroup %s: %s", real, strerror(errno));
		return -errno;
	}
	if (af_str_set(&f->cgpath, real)) {
		close(f->cgfd);
		f->cgfd = -1;
		return -ENOMEM;
	}
	return 0;
}

/* What adoption needs beyond the node's metadata, and whom we hold
 * the fence for (status). */
static void write_meta(struct af_sup_fence *f)
{
	struct af_sup_meta m = { .id = f->id, .client = f->client, .owned = f->owned };
	int err;

	if (f->dns)
		af_dns_ports(f->dns, &m.dns_port4, &m.dns_port6);
	af_strlcpy(m.workspace, f->workspace, sizeof(m.workspace));
	af_strlcpy(m.home, f->home, sizeof(m.home));
	af_strlcpy(m.policy_file, f->policy_file, sizeof(m.policy_file));
	err = af_sup_meta_write(&m);
	if (err)
		af_debug("fence %llu: cannot store what adoption needs: %s", (unsigned long long)f->id,
			 strerror(-err));
}

/* What a fence made here and a fence adopted begin with. */
struct sup_head {
	const struct af_policy *policy;
	char *const *argv;
	enum af_backend backend;
	bool quiet;
	af_denial_fn on_denial;
	void *denial_ctx;
	const char *workspace, *home, *policy_file;	/* NULL: "" */
};

static int sup_fence_new(struct af_sup *s, const struct sup_head *h, struct af_sup_fence **out)
{
	struct af_sup_fence *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (!f)
		return -ENOMEM;
	if (af_str_set(&f->workspace, h->workspace) || af_str_set(&f->home, h->home) ||
	    af_str_set(&f->policy_file, h->policy_file) || af_str_set(&f->cgpath, NULL) ||
	    af_str_set(&f->journal, NULL)) {
		sup_fence_free(f);
		return -ENOMEM;
	}
	if (sup_add(s, f)) {
		sup_fence_free(f);
		return -ENOSPC;
	}
	f->sup = s;
	f->policy = h->policy;
	f->argv = h->argv;
	f->backend = h->backend;
	f->quiet = h->quiet;
	f->on_denial = h->on_denial;
	f->denial_ctx = h->denial_ctx;
	f->cgfd = -1;
	f->watch = (struct af_watch){ .pid = -1, .fd = -1 };
	*out = f;
	return 0;
}

int af_sup_fence_open(struct af_sup *s, const struct af_fence_spec *spec,
		      struct af_sup_fence **out)
{
	struct af_sup_fence *f;
	char why[1024];
	int err;

	err = sup_fence_new(s, &(struct sup_head){
		.policy = spec->policy, .argv = spec->argv, .backend = spec->backend,
		.quiet = spec->quiet, .on_denial = spec->on_denial, .denial_ctx = spec->denial_ctx,
		.workspace = spec->workspace, .home = spec->home ? spec->home : getenv("HOME"),
		.policy_file = spec->policy_file }, &f);
	if (err)
		return err;
	f->client = spec->client;
	f->box = spec->box;
	if (!spec->on_denial && !spec->quiet && spec->denials != AF_DENIALS_OFF &&
	    !(f->den = af_denials_new(spec->denials, stderr))) {
		err = -ENOMEM;
		goto fail;
	}
	if (spec->journal && af_str_set(&f->journal, spec->journal)) {
		err = -ENOMEM;
		goto fail;
	}
	err = compile_policy(f, spec);
	if (err)
		goto fail;

	/* Every pin and cgroup of the node, looked at: run's once, not
	 * a daemon's at each of its fences. */
	if (!s->no_gc)
		af_fence_gc();
	if (spec->cgroup) {
		err = open_cgroup(f, spec->cgroup);
		if (err)
			goto fail;
	} else {
		char cg[PATH_MAX];

		err = af_cgroup_create(spec->name, cg, sizeof(cg), &f->cgfd);
		if (err) {
			af_err("cannot create cgroup agentfence/%s: %s%s", spec->name, strerror(-err),
			       err == -EACCES || err == -EPERM || err == -EROFS ? " (run as root)" : "");
			goto fail;
		}
		f->owned = true;
		if (af_str_set(&f->cgpath, cg)) {
			close(f->cgfd);
			f->cgfd = -1;
			af_cgroup_destroy(cg);
			err = -ENOMEM;
			goto fail;
		}
	}
	f->id = af_cgroup_id(f->cgpath);
	if (!f->id) {
		err = errno ? -errno : -EIO;
		af_err("cannot get the id of cgroup %s: %s", f->cgpath, strerror(-err));
		goto fail;
	}
	err = open_bpf(f, spec);
	if (err)
		goto fail;
	if (spec->journal) {
		struct af_recorder_opts ro = {
			.journal = spec->journal,
			.rotate_bytes = spec->journal_max,
			.keep_bytes = spec->journal_keep_bytes,
			.keep_days = spec->journal_keep_days,
			.policy = spec->policy,
			.policy_file = spec->policy_file,
			.backend = spec->backend,
			.workspace = spec->workspace,
			.cgroup = f->cgpath,
			.fence_id = f->id,
			.argv = spec->argv,
			.process_events = f->fence != NULL,
			.box = spec->box ? spec->box : spec->journal_box,
			.run_pid = spec->client,
			.label_of = spec->label_of,
			.label_ctx = spec->label_ctx,
			.tag = spec->journal_tag,
		};

		err = af_recorder_open(&ro, &f->rec, why, sizeof(why));
		if (err) {
			af_err("cannot write the journal: %s", why);
			goto fail;
		}
	}
	if (f->dns) {
		af_dns_set_upstream_map(f->dns, af_fence_dns_upstream_fd(f->fence));
		err = af_dns_start(f->dns, s->loop, af_fence_net_allow_fd(f->fence), f->id,
				   on_event, f);
		af_dns_set_key(f->dns, af_fence_key(f->fence));
		if (err) {
			af_err("cannot start the DNS stub: %s", strerror(-err));
			goto fail;
		}
	}
	if (f->fence) {
		f->drain = af_drain_open(s->loop, af_fence_events_fd(f->fence), on_events, f);
		err = f->drain ? 0 : -errno;
		if (err) {
			af_err("event loop: %s", strerror(-err));
			goto fail;
		}
	}
	if (f->rec)
		open_stream(f, spec);
	{
		char record[PATH_MAX + 32];

		if (spec->journal)
			snprintf(record, sizeof(record), "%s.supervisor-exit", spec->journal);
		err = af_watch_start(&f->watch, f->cgpath, f->id, spec->policy->on_supervisor_exit,
				     spec->journal ? record : NULL);
		if (err) {
			af_err("cannot start the supervisor's watcher: %s", strerror(-err));
			goto fail;
		}
	}
	write_meta(f);
	*out = f;
	return 0;
fail:
	af_sup_fence_close(f, AF_EXIT_SETUP);
	return err;
}

pid_t af_sup_fence_spawn(struct af_sup_fence *f, af_child_fn fn, void *ctx)
{
	int pidfd = -1, err, gate[2] = { -1, -1 };
	pid_t child;

	if (f->gate && pipe2(gate, O_CLOEXEC)) {
		err = -errno;
		af_err("cannot start the command: pipe: %s", strerror(errno));
		return err;
	}
	fflush(NULL);
	child = af_fork_into_cgroup(f->cgfd, &pidfd);
	if (child < 0) {
		err = -errno;
		af_err("cannot start the command in cgroup %s: %s", f->cgpath, strerror(errno));
		if (f->gate) {
			close(gate[0]);
			close(gate[1]);
		}
		return err;
	}
	if (child == 0) {
		char c;

		if (f->gate) {
			close(gate[1]);
			if (read(gate[0], &c, 1) != 1)
				_exit(AF_EXIT_SETUP);
			close(gate[0]);
		}
		fn(ctx, &f->sup->oldmask);
		_exit(AF_EXIT_SETUP);
	}
	if (pidfd >= 0)
		close(pidfd);
	if (f->gate) {
		close(gate[0]);
		err = f->gate(f->gate_ctx, child);
		if (err || write(gate[1], "x", 1) != 1) {
			err = err ? err : -errno;
			close(gate[1]);
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
			return err;
		}
		close(gate[1]);
	}
	f->root = child;
	if (f->rec)
		af_recorder_root(f->rec, child, f->argv);
	return child;
}

/* Reap every exited child: the commands, and (as a subreaper) whatever
 * they left that exited since. True once f's command is gone. */
static bool reap(struct af_sup *s, struct af_sup_fence *f)
{
	pid_t pid;
	size_t i;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < s->nfences; i++) {
			struct af_sup_fence *g = s->fences[i];

			if (g->root == pid && !g->gone) {
				g->status = st;
				g->gone = true;
			}
		}
	}
	return f && f->gone;
}

struct wait_ctx {
	struct af_sup *sup;
	struct af_sup_fence *fence;
};

static int on_signal(void *ctx, int sigfd, uint32_t events)
{
	struct wait_ctx *w = ctx;
	struct signalfd_siginfo si;

	(void)events;
	if (read(sigfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGCHLD)
		return reap(w->sup, w->fence) ? 1 : 0;
	if (w->fence->box) {
		if (si.ssi_signo == SIGWINCH) {
			af_pty_winch(w->fence->box->pty);
			return 0;
		}
		/* The command has a session of its own: no terminal
		 * signals it but through us. */
		kill(w->fence->root, si.ssi_signo);
		return 0;
	}
	if (si.ssi_signo == SIGWINCH)
		return 0;
	/* A terminal's ^C already reached the command, which shares our
	 * process group: forward only signals sent to us alone. */
	if (si.ssi_code == SI_USER || si.ssi_code == SI_QUEUE ||
	    (si.ssi_signo != SIGINT && si.ssi_signo != SIGQUIT))
		kill(w->fence->root, si.ssi_signo);
	return 0;
}

int af_sup_wait(struct af_sup *s, struct af_sup_fence *f, int *status)
{
	struct wait_ctx w = { .sup = s, .fence = f };
	uint64_t drops;
	int err;

	if (!f->root)
		return -ECHILD;
	err = f->box ? af_pty_start(f->box->pty, s->loop) : 0;
	err = err ? err : af_loop_add(s->loop, s->sigfd, on_signal, &w);
	/* A SIGCHLD that came before the loop is in the signalfd already. */
	err = err ? err : af_loop_run(s->loop);
	af_loop_del(s->loop, s->sigfd);
	if (err < 0) {
		af_err("waiting for the command: %s", strerror(-err));
		return err;
	}
	*status = f->status;
	if (f->fence) {
		sup_drain(f);
		drops = af_fence_counter(f->fence, AF_CNT_RB_DROP);
		if (drops)
			af_warn("%llu events were lost (ring buffer full; the journal's lost records say "
				"where); denials still happened", (unsigned long long)drops);
	}
	return 0;
}

static int fence_close(struct af_sup_fence *f, int exit_code, bool keep)
{
	int err = 0, c;

	if (!f)
		return 0;
	/* What the command wrote last reaches the terminal; the terminal
	 * is as it was. */
	if (f->box) {
		af_pty_close(f->box->pty);
		f->box->pty = NULL;
	}
	af_drain_close(f->drain);
	f->drain = NULL;
	af_dns_close(f->dns);
	/* Kill what the command left behind before the fence comes down:
	 * nothing may outlive its fence. */
	if (f->cgfd >= 0 && (keep || f->remote)) {
		close(f->cgfd);
	} else if (f->cgfd >= 0) {
		close(f->cgfd);
		c = af_cgroup_destroy(f->cgpath);
		if (c)
			af_err("cannot remove cgroup %s: %s", f->cgpath, strerror(-c));
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	/* Only now: should the supervisor die while it takes the fence
	 * down, the watcher still freezes what is left. */
	af_watch_stop(&f->watch);
	/* The journal ends after the fence's last process: the exits of
	 * what the command left behind are in it. */
	if (f->rec) {
		if (f->fence) {
			sup_drain(f);
			af_recorder_lost(f->rec, af_fence_counter(f->fence, AF_CNT_RB_DROP));
		}
		/* The counts and the summary of the lines, then the journal's. */
		af_denials_end(f->den);
		err = af_recorder_close(f->rec, exit_code, f->quiet);
		if (err)
			af_err("the journal %s is incomplete: %s", f->journal, strerror(-err));
	} else if (f->den) {
		if (f->fence)
			af_fence_consume(f->fence);
		af_denials_end(f->den);
	}
	af_denials_free(f->den);
	f->den = NULL;
	af_stream_close(f->stream);
	af_fence_close(f->fence);
	if (f->id && !f->remote)
		af_sup_meta_remove(f->id);
	af_entries_free(f->entries);
	sup_del(f->sup, f);
	sup_fence_free(f);
	return err;
}

int af_sup_fence_close(struct af_sup_fence *f, int exit_code)
{
	return fence_close(f, exit_code, f && !f->owned);
}

int af_sup_fence_detach(struct af_sup_fence *f)
{
	if (f->owned || f->remote) {
		af_err("fence %llu: its cgroup %s is agentfence's own: stop it instead",
		       (unsigned long long)f->id, f->cgpath);
		return -EPERM;
	}
	return fence_close(f, 0, true);
}

int af_sup_fence_remote(struct af_sup *s, const char *cgpath, uint64_t id, struct af_box *box,
			char *const *argv, struct af_sup_fence **out)
{
	struct af_sup_fence *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return -ENOMEM;
	f->sup = s;
	f->remote = true;
	f->id = id;
	f->box = box;
	f->argv = argv;
	f->watch = (struct af_watch){ .pid = -1, .fd = -1 };
	if (af_str_set(&f->workspace, NULL) || af_str_set(&f->home, NULL) ||
	    af_str_set(&f->policy_file, NULL) || af_str_set(&f->cgpath, cgpath) ||
	    af_str_set(&f->journal, NULL)) {
		sup_fence_free(f);
		return -ENOMEM;
	}
	f->cgfd = open(cgpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->cgfd < 0) {
		err = -errno;
		af_err("cannot open the fence's cgroup %s: %s", cgpath, strerror(errno));
		sup_fence_free(f);
		return err;
	}
	err = sup_add(s, f);
	if (err) {
		close(f->cgfd);
		sup_fence_free(f);
		return err;
	}
	*out = f;
	return 0;
}

void af_sup_fence_set_gate(struct af_sup_fence *f, af_gate_fn fn, void *ctx)
{
	f->gate = fn;
	f->gate_ctx = ctx;
}

void af_sup_fence_set_root(struct af_sup_fence *f, pid_t pid, pid_t parent)
{
	f->root = pid;
	if (f->rec)
		af_recorder_root_from(f->rec, pid, parent, f->argv);
}

void af_sup_no_gc(struct af_sup *s)
{
	s->no_gc = true;
}

void af_sup_trim(struct af_sup *s)
{
	for (size_t i = 0; i < s->nfences; i++)
		if (s->fences[i]->fence)
			af_fence_trim(s->fences[i]->fence);
}

struct af_loop *af_sup_loop(struct af_sup *s)
{
	return s->loop;
}

static int on_serve_signal(void *ctx, int sigfd, uint32_t events)
{
	struct af_sup *s = ctx;
	struct signalfd_siginfo si;

	(void)events;
	if (read(sigfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGCHLD) {
		reap(s, NULL);
		return 0;
	}
	if (si.ssi_signo == SIGWINCH)
		return 0;
	return (int)si.ssi_signo;
}

int af_sup_serve(struct af_sup *s)
{
	int err = af_loop_add(s->loop, s->sigfd, on_serve_signal, s);

	if (err)
		return err;
	err = af_loop_run(s->loop);
	af_loop_del(s->loop, s->sigfd);
	return err;
}

struct af_sup_fence *af_sup_fence_next(struct af_sup *s, struct af_sup_fence *prev)
{
	size_t i;

	if (!prev)
		return s->nfences ? s->fences[0] : NULL;
	for (i = 0; i < s->nfences; i++)
		if (s->fences[i] == prev)
			return i + 1 < s->nfences ? s->fences[i + 1] : NULL;
	return NULL;
}

struct af_sup_fence *af_sup_fence_find(struct af_sup *s, uint64_t id)
{
	size_t i;

	for (i = 0; i < s->nfences; i++)
		if (s->fences[i]->id == id)
			return s->fences[i];
	return NULL;
}

const char *const af_deny_kinds[AF_DK_MAX] = {
	[AF_DK_FILE] = "file", [AF_DK_NETWORK] = "network", [AF_DK_UNIX] = "unix",
	[AF_DK_DNS] = "dns", [AF_DK_PROCESS] = "process", [AF_DK_SYSTEM] = "system",
};

unsigned int af_deny_kind(unsigned int op)
{
	switch (op) {
	case AF_OP_OPEN_WRITE: case AF_OP_OPEN_READ: case AF_OP_DIR_WRITE: case AF_OP_SETATTR:
	case AF_OP_LINK: case AF_OP_XATTR: case AF_OP_FD_WRITE: case AF_OP_MMAP_WRITE:
	case AF_OP_FD_RECEIVE:
		return AF_DK_FILE;
	case AF_OP_CONNECT: case AF_OP_SENDMSG: case AF_OP_SOCKET: case AF_OP_SOCKOPT:
	case AF_OP_NETLINK: case AF_OP_NET_IOCTL: case AF_OP_DNS_UPSTREAM:
		return AF_DK_NETWORK;
	case AF_OP_UNIX_CONNECT: case AF_OP_UNIX_SENDMSG:
		return AF_DK_UNIX;
	case AF_OP_DNS:
		return AF_DK_DNS;
	case AF_OP_PTRACE: case AF_OP_SIGNAL: case AF_OP_SIGIO_FULL: case AF_OP_CGROUP:
		return AF_DK_PROCESS;
	default:	/* mount, bpf, modules, io_uring creds, seccomp, capabilities */
		return AF_DK_SYSTEM;
	}
}

void af_sup_fence_info(const struct af_sup_fence *f, struct af_sup_fence_info *o)
{
	memset(o, 0, sizeof(*o));
	o->id = f->id;
	o->cgroup = f->cgpath;
	o->policy = f->policy ? f->policy->name : "";
	o->sha256 = f->policy ? f->policy->sha256 : "";
	o->backend = af_backend_name(f->backend);
	o->journal = f->journal;
	o->root = f->root;
	o->client = f->client;
	o->owned = f->owned;
	o->events = f->events;
	o->denied = f->denied;
	memcpy(o->denied_kind, f->denied_kind, sizeof(o->denied_kind));
	if (f->fence)
		o->dropped = af_fence_fcounter(f->fence, AF_FC_DROPS);
}

int af_sup_fence_update(struct af_sup_fence *f, const struct af_policy *p, const char *file,
			const void *bytes, size_t len)
{
	struct af_entries *entries = NULL;
	struct af_idents ids;
	char why[AF_ERR_MAX];
	struct af_json *w;
	int err;

	if (!f->fence) {
		af_err("fence %llu has no BPF fence to update", (unsigned long long)f->id);
		return -EINVAL;
	}
	if (p->has_network != f->policy->has_network) {
		/* The DNS stub and the socket programs come with the fence. */
		af_err("fence %llu: a policy %s a network section cannot replace one %s it "
		       "(stop the fence and create it again)", (unsigned long long)f->id,
		       p->has_network ? "with" : "without", f->policy->has_network ? "with" : "without");
		return -EINVAL;
	}
	err = af_resolve(p, &ids);
	if (err) {
		af_err("resolve the policy's paths: %s", strerror(-err));
		return err;
	}
	err = af_compile(p, &ids, f->backend, &entries, why);
	af_idents_free(&ids);
	if (err) {
		af_err("%s", why);
		return err;
	}
	err = fence_update(f, p, entries, why, sizeof(why));
	if (err) {
		af_err("fence %llu: cannot swap its policy: %s (the old one stays in force)",
		       (unsigned long long)f->id, why);
		af_entries_free(entries);
		return err;
	}
	if (f->rec) {
		w = af_journal_begin(af_recorder_journal(f->rec), "policy_update", NULL);
		if (w) {
			char effect[128];

			af_json_str(w, "policy", p->name);
			af_json_str(w, "file", file ? file : p->file);
			af_json_str(w, "old_sha256", f->policy->sha256);
			af_json_str(w, "sha256", p->sha256);
			snprintf(effect, sizeof(effect), "policy %.16s replaced by %.16s",
				 f->policy->sha256, p->sha256);
			af_json_str(w, "effect", effect);
			af_journal_commit(af_recorder_journal(f->rec));
		}
	}
	af_entries_free(f->entries);
	f->entries = entries;
	f->policy = p;
	/* The stub learns under the new generation's key. */
	af_dns_set_key(f->dns, af_fence_key(f->fence));
	{
		struct af_fence_meta m = {
			.policy_name = p->name, .policy_sha256 = p->sha256,
			.journal = f->journal[0] ? f->journal : NULL, .cgroup = f->cgpath,
			.backend = f->backend, .supervisor = getpid(),
			.policy = bytes, .policy_len = len,
		};

		err = af_fence_set_meta(f->id, &m);
		if (err)
			af_warn("fence %llu: its stored metadata still names the old policy: %s",
				(unsigned long long)f->id, strerror(-err));
	}
	return 0;
}

/* The watcher's record (watch.c): the supervisor_exit of the dead
 * supervisor, beside the journal. Its members go into the gap record. */
static void gap_exit_record(struct af_json *w, const char *journal, pid_t old)
{
	char path[PATH_MAX + 32], buf[4096], v[256];
	unsigned long long x;
	size_t len;
	FILE *fp;

	/* An adopter's watcher writes beside the first one's. */
	snprintf(path, sizeof(path), "%s.supervisor-exit.%d", journal, old);
	fp = fopen(path, "re");
	if (!fp) {
		snprintf(path, sizeof(path), "%s.supervisor-exit", journal);
		fp = fopen(path, "re");
	}
	if (!fp)
		return;
	len = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[len] = 0;
	af_json_object(w, "supervisor_exit");
	af_json_str(w, "record", path);
	if (!json_get_str(buf, len, "time", v, sizeof(v)))
		af_json_str(w, "time", v);
	if (!json_get_u64(buf, len, "supervisor_pid", &x))
		af_json_u64(w, "supervisor_pid", x);
	if (!json_get_str(buf, len, "action", v, sizeof(v)))
		af_json_str(w, "action", v);
	if (!json_get_str(buf, len, "result", v, sizeof(v)))
		af_json_str(w, "result", v);
	af_json_end(w);
}

int af_sup_fence_adopt(struct af_sup *s, const struct af_adopt_spec *a, struct af_sup_fence **out)
{
	struct af_sup_fence *f;
	struct af_idents ids;
	uint64_t lost = 0, kept, acked, total;
	char why[AF_ERR_MAX];
	struct af_json *w;
	int err;

	err = sup_fence_new(s, &(struct sup_head){
		.policy = a->policy, .argv = a->argv, .backend = a->backend, .quiet = true,
		.on_denial = a->on_denial, .denial_ctx = a->denial_ctx,
		.workspace = a->workspace, .home = a->home, .policy_file = a->policy_file }, &f);
	if (err)
		return err;
	f->owned = a->owned;
	f->id = a->id;
	if (af_str_set(&f->cgpath, a->cgroup) || af_str_set(&f->journal, a->journal)) {
		err = -ENOMEM;
		goto fail;
	}
	f->cgfd = open(f->cgpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->cgfd < 0) {
		err = -errno;
		af_err("adopt fence %llu: its cgroup %s: %s", (unsigned long long)a->id, f->cgpath,
		       strerror(errno));
		goto fail;
	}
	err = af_resolve(a->policy, &ids);
	if (!err) {
		err = af_compile(a->policy, &ids, a->backend, &f->entries, why);
		af_idents_free(&ids);
		if (err)
			af_err("adopt fence %llu: %s", (unsigned long long)a->id, why);
	}
	if (err)
		goto fail;
	/* The journal first: what the kernel kept goes into it. */
	if (a->journal) {
		struct af_recorder_opts ro = {
			.journal = a->journal, .policy = a->policy, .backend = a->backend,
			.workspace = a->workspace, .cgroup = f->cgpath, .fence_id = a->id,
			.argv = a->argv, .process_events = true, .resume = true,
			.tag = a->journal_tag,
		};

		err = af_recorder_open(&ro, &f->rec, why, sizeof(why));
		if (err) {
			af_err("adopt fence %llu: resume its journal: %s", (unsigned long long)a->id, why);
			goto fail;
		}
	}
	err = af_fence_adopt(a->id, on_event, f, &f->fence, &lost, why, sizeof(why));
	if (err) {
		af_err("adopt fence %llu: %s", (unsigned long long)a->id, why);
		goto fail;
	}
	kept = f->events;
	acked = af_fence_acked(f->fence);
	af_fence_consume(f->fence);
	kept = f->events - kept;
	/* Reading the drops acknowledges them: from now on the recorder's
	 * lost records count from here, and the gap is all the drops since
	 * the last reader's acknowledgement (a fence that runs on, one
	 * released rather than frozen, drops while we read what it kept). */
	total = af_fence_counter(f->fence, AF_CNT_RB_DROP);
	lost = total - acked;
	if (f->rec)
		af_recorder_lost_base(f->rec, total);
	if (f->rec) {
		char effect[160];

		w = af_journal_begin(af_recorder_journal(f->rec), "gap", NULL);
		if (w) {
			af_json_u64(w, "fence_id", a->id);
			af_json_u64(w, "lost", lost);
			af_json_u64(w, "kept", kept);
			af_json_i64(w, "supervisor_pid", a->old_supervisor);
			af_json_i64(w, "adopted_by", getpid());
			gap_exit_record(w, a->journal, a->old_supervisor);
			snprintf(effect, sizeof(effect), "fence adopted: %llu events lost while nobody "
				 "read, %llu kept by the kernel", (unsigned long long)lost,
				 (unsigned long long)kept);
			af_json_str(w, "effect", effect);
			err = af_journal_commit(af_recorder_journal(f->rec));
			if (err) {
				af_err("adopt fence %llu: journal its gap: %s", (unsigned long long)a->id,
				       strerror(-err));
				goto fail;
			}
		}
	}
	/* Names fail closed until the stub answers on the fence's ports. */
	if (a->policy->has_network && a->dns_port4) {
		err = af_dns_open_at(a->policy, a->dns_port4, a->dns_port6, &f->dns, why, sizeof(why));
		if (!err) {
			af_dns_set_upstream_map(f->dns, af_fence_dns_upstream_fd(f->fence));
			err = af_dns_start(f->dns, s->loop, af_fence_net_allow_fd(f->fence), f->id,
					   on_event, f);
			af_dns_set_key(f->dns, af_fence_key(f->fence));
		}
		if (err) {
			af_warn("adopt fence %llu: its DNS stub cannot restart: %s (names fail to "
				"resolve in it)", (unsigned long long)a->id, err < 0 && !why[0] ?
				strerror(-err) : why);
			af_dns_close(f->dns);
			f->dns = NULL;
		}
	}
	f->drain = af_drain_open(s->loop, af_fence_events_fd(f->fence), on_events, f);
	err = f->drain ? 0 : -errno;
	if (err) {
		af_err("event loop: %s", strerror(-err));
		goto fail;
	}
	if (f->rec) {
		struct af_fence_spec spec = { .policy = a->policy, .argv = a->argv };

		open_stream(f, &spec);
	}
	{
		char record[PATH_MAX + 32];

		if (a->journal)
			snprintf(record, sizeof(record), "%s.supervisor-exit.%d", a->journal, getpid());
		err = af_watch_start(&f->watch, f->cgpath, f->id, a->policy->on_supervisor_exit,
				     a->journal ? record : NULL);
		if (err) {
			af_err("cannot start the supervisor's watcher: %s", strerror(-err));
			goto fail;
		}
	}
	{
		struct af_fence_meta m = {
			.policy_name = a->policy->name, .policy_sha256 = a->policy->sha256,
			.journal = a->journal, .cgroup = f->cgpath, .backend = a->backend,
			.supervisor = getpid(),
		};

		af_fence_set_meta(f->id, &m);
	}
	write_meta(f);
	/* Someone reads it again: what the watcher froze runs on. */
	err = af_cgroup_write(f->cgpath, "cgroup.freeze", "0");
	if (err && err != -ENOENT)
		af_warn("adopt fence %llu: cannot thaw %s: %s", (unsigned long long)a->id, f->cgpath,
			strerror(-err));
	if (f->rec) {
		w = af_journal_begin(af_recorder_journal(f->rec), "thaw", NULL);
		if (w) {
			af_json_u64(w, "fence_id", a->id);
			af_json_str(w, "result", err && err != -ENOENT ? strerror(-err) : "thawed");
			af_json_str(w, "effect", "fence thawed: its supervisor reads it again");
			af_journal_commit(af_recorder_journal(f->rec));
		}
	}
	*out = f;
	return 0;
fail:
	/* Whatever went wrong, the fence stays as it was: enforced (and
	 * frozen, if it was), for a later adoption or agentfence stop. */
	if (f->rec) {
		af_journal_close(af_recorder_journal(f->rec));
		af_recorder_free(f->rec);
		f->rec = NULL;
	}
	af_drain_close(f->drain);
	f->drain = NULL;
	af_dns_close(f->dns);
	af_watch_stop(&f->watch);
	af_stream_close(f->stream);
	if (f->fence)
		af_fence_release(f->fence);
	if (f->cgfd >= 0)
		close(f->cgfd);
	af_entries_free(f->entries);
	sup_del(s, f);
	sup_fence_free(f);
	return err ? err : -EIO;
}

void af_sup_fence_release(struct af_sup_fence *f)
{
	/* As if the supervisor died, but said: the watcher stays quiet,
	 * the journal gets no end, the fence stays for adoption. */
	af_drain_close(f->drain);
	f->drain = NULL;
	af_dns_close(f->dns);
	af_stream_close(f->stream);
	if (f->rec) {
		af_journal_close(af_recorder_journal(f->rec));
		af_recorder_free(f->rec);
	}
	af_watch_stop(&f->watch);
	if (f->fence)
		af_fence_release(f->fence);
	if (f->cgfd >= 0)
		close(f->cgfd);
	af_entries_free(f->entries);
	sup_del(f->sup, f);
	sup_fence_free(f);
}

uint64_t af_sup_fence_id(const struct af_sup_fence *f)
{
	return f->id;
}

const char *af_sup_fence_cgroup(const struct af_sup_fence *f)
{
	return f->cgpath;
}

struct af_journal *af_sup_fence_journal(struct af_sup_fence *f)
{
	return f->rec ? af_recorder_journal(f->rec) : NULL;
}

struct af_recorder *af_sup_fence_recorder(struct af_sup_fence *f)
{
	return f->rec;
}
