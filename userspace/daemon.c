// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's requests. What a request makes the daemon say (errors,
 * notes, the journal's summary) goes to the client that asked, as
 * "message" events before the reply (util.h's af_msg_hook): run prints
 * them as if it had said them itself. A fence made with "lease" belongs
 * to its connection (run's): its denials go there as "denial" events,
 * and when the connection closes without an "end" (run died), the fence
 * is stopped: the daemon is alive to journal its end, so nothing of it
 * goes unrecorded and nothing is left to freeze.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "backend.h"
#include "box.h"
#include "cgroup.h"
#include "cmds.h"
#include "control.h"
#include "daemon.h"
#include "fence.h"
#include "fences.h"
#include "json.h"
#include "k8s.h"
#include "lines_out.h"
#include "metrics.h"
#include "recorder.h"
#include "supervisor.h"
#include "util.h"
#include "watch.h"

/* What the daemon keeps of an attach while its fence lasts: the fields of
 * its struct af_attach_meta, the paths malloc'd to their length (the
 * meta's four PATH_MAX buffers were 16 KiB of every attached fence, and a
 * node's daemon holds a fence per pod). meta_of() expands it for
 * attach.h's calls. */
struct dattach {
	uint64_t id;
	char runtime[16];
	char container[AF_CONTAINER_ID_MAX];
	char name[AF_CONTAINER_NAME_MAX];
	pid_t pid, attacher;
	char *cgroup, *workspace, *home;
};

static void dattach_free(struct dattach *a)
{
	if (!a)
		return;
	free(a->cgroup);
	free(a->workspace);
	free(a->home);
	free(a);
}

static struct dattach *dattach_new(const struct af_attach_meta *m)
{
	struct dattach *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->id = m->id;
	af_strlcpy(a->runtime, m->runtime, sizeof(a->runtime));
	af_strlcpy(a->container, m->container, sizeof(a->container));
	af_strlcpy(a->name, m->name, sizeof(a->name));
	a->pid = m->pid;
	a->attacher = m->attacher;
	a->cgroup = strdup(m->cgroup);
	a->workspace = strdup(m->workspace);
	a->home = strdup(m->home);
	if (!a->cgroup || !a->workspace || !a->home) {
		dattach_free(a);
		return NULL;
	}
	return a;
}

/* a as an af_attach_meta, valid until the next call (the loop's thread
 * only). */
static const struct af_attach_meta *meta_of(const struct dattach *a)
{
	static struct af_attach_meta m;

	m.id = a->id;
	af_strlcpy(m.runtime, a->runtime, sizeof(m.runtime));
	af_strlcpy(m.container, a->container, sizeof(m.container));
	af_strlcpy(m.name, a->name, sizeof(m.name));
	m.pid = a->pid;
	m.attacher = a->attacher;
	af_strlcpy(m.cgroup, a->cgroup, sizeof(m.cgroup));
	af_strlcpy(m.workspace, a->workspace, sizeof(m.workspace));
	af_strlcpy(m.home, a->home, sizeof(m.home));
	m.via[0] = 0;
	return &m;
}

struct dfence {
	struct af_sup_fence *f;
	struct af_policy *policy;	/* in force */
	struct af_policy **retired;	/* replaced by update: the DNS stub may still read them */
	size_t nretired;
	struct af_box box;		/* what the journal says of run's box */
	struct af_ctl_client *lease;	/* run's connection; NULL: the fence lasts */
	char **argv;
	char *workspace;		/* malloc'd to their length: a daemon holds */
	char *home;			/* hundreds of fences */
	bool adopted_run;		/* a run's fence adopted: it ends when its cgroup empties */
	struct dattach *attach;		/* attach's: it ends when its target does */
	struct dfence *next;
};

struct daemon {
	struct af_sup *sup;
	struct af_ctl_server *ctl;
	struct dfence *fences;
	unsigned int seq;
	struct af_ctl_client *talk;	/* where messages go now */
	unsigned long ticks;
	unsigned long made, made_trimmed;	/* fences opened; when the heap was last trimmed */
	bool serving;			/* set up: socket, adoption, watches started */
	bool kube, json_lines;
};

static struct daemon *the_daemon;
/* --kubernetes: this node's name; a pod's fence (an attach whose runtime
 * is "kubernetes") carries the pod in every record, not a container. */
static char k8s_node[256];

static int fence_tag(const struct af_attach_meta *m, char **out)
{
	if (k8s_node[0] && !strcmp(m->runtime, "kubernetes"))
		return af_k8s_pod_tag(m->name, k8s_node, out);
	return af_attach_tag(m, out);
}

static void to_client(void *ctx, const char *kind, const char *text)
{
	struct daemon *d = ctx;
	struct af_json *w;

	if (!d->talk) {
		fprintf(stderr, "agentfence daemon: %s%s\n", kind[0] == 'w' ? "warning: " : "", text);
		return;
	}
	w = af_ctl_begin_event(d->talk, "message");
	if (!w)
		return;
	af_json_str(w, "kind", kind);
	af_json_str(w, "text", text);
	af_ctl_end(d->talk);
}

/* Only errors reach the client (run printed the notes itself). */
static void errors_to_client(void *ctx, const char *kind, const char *text)
{
	if (kind[0] == 'e')
		to_client(ctx, kind, text);
}

static void talk_to(struct daemon *d, struct af_ctl_client *c)
{
	d->talk = c;
	af_msg_hook = to_client;
	af_msg_ctx = d;
}

static void on_denial(void *ctx, const char *line)
{
	struct dfence *df = ctx;
	struct af_json *w;

	if (!df->lease)
		return;		/* journaled; nobody to tell */
	w = af_ctl_begin_event(df->lease, "denial");
	if (!w)
		return;
	af_json_str(w, "text", line);
	af_ctl_end(df->lease);
}

static struct dfence *find(struct daemon *d, uint64_t id)
{
	struct dfence *df;

	for (df = d->fences; df; df = df->next)
		if (af_sup_fence_id(df->f) == id)
			return df;
	return NULL;
}

static void dfence_free(struct daemon *d, struct dfence *df)
{
	struct dfence **pp;
	size_t i;

	for (pp = &d->fences; *pp; pp = &(*pp)->next) {
		if (*pp == df) {
			*pp = df->next;
			break;
		}
	}
	af_box_free(&df->box);
	free(df->workspace);
	free(df->home);
	dattach_free(df->attach);
	af_policy_free(df->policy);
	for (i = 0; i < df->nretired; i++)
		af_policy_free(df->retired[i]);
	free(df->retired);
	if (df->argv) {
		for (i = 0; df->argv[i]; i++)
			free(df->argv[i]);
		free(df->argv);
	}
	free(df);
}

/* Stop reading the fence and leave it to the node: enforced, counted,
 * orphaned, for the next daemon (or agentfence status --adopt). */
static void dfence_release(struct daemon *d, struct dfence *df)
{
	af_sup_fence_release(df->f);
	dfence_free(d, df);
}

/* Close the fence; what closing says (the summary) goes to its run. */
static int dfence_close(struct daemon *d, struct dfence *df, int exit_code)
{
	struct af_ctl_client *was = d->talk;
	int err;

	if (df->lease)
		d->talk = df->lease;
	err = af_sup_fence_close(df->f, exit_code);
	d->talk = was;
	dfence_free(d, df);
	return err;
}

static int load_policy(const char *buf, size_t len, const char *file, const char *workspace,
		       const char *home, struct af_policy **out)
{
	struct af_policy_vars vars = { .workspace = workspace, .home = home };
	char err[AF_ERR_MAX];
	int ret;

	ret = af_policy_load_buf(buf, len, file ? file : "<built-in coding-agent policy>", &vars,
				 out, err);
	if (ret)
		af_err("%s", err);
	return ret;
}

/* The default journal of a daemon fence: beside run's, named by the
 * fence's cgroup (a daemon makes many fences a second). */
static int journal_default(const char *cgname, char *out, size_t n)
{
	const char *state = getenv("XDG_STATE_HOME");
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (state && state[0] == '/')
		return snprintf(out, n, "%s/agentfence/%s-%s.jsonl", state, stamp, cgname) >= (int)n ?
		       -ENAMETOOLONG : 0;
	return snprintf(out, n, AF_SYSTEM_JOURNAL_DIR "/%s-%s.jsonl", stamp, cgname) >= (int)n ?
	       -ENAMETOOLONG : 0;
}

static char **copy_argv(char *const *argv)
{
	size_t n = 0, i;
	char **v;

	while (argv && argv[n])
		n++;
	v = calloc(n + 2, sizeof(*v));
	if (!v)
		return NULL;
	if (!n)
		v[n++] = strdup("(daemon fence)");
	else
		for (i = 0; i < n; i++)
			v[i] = strdup(argv[i]);
	for (i = 0; i < n; i++) {
		if (!v[i]) {
			while (n--)
				free(v[n]);
			free(v);
			return NULL;
		}
	}
	return v;
}

static void reply_fence(struct af_ctl_client *c, const struct af_ctl_req *req, struct dfence *df)
{
	struct af_sup_fence_info in;
	struct af_json *w = af_ctl_begin(c, true, req);

	if (!w)
		return;
	af_sup_fence_info(df->f, &in);
	af_json_u64(w, "fence", in.id);
	af_json_str(w, "cgroup", in.cgroup);
	af_json_str(w, "journal", in.journal);
	af_json_str(w, "backend", in.backend);
	af_json_str(w, "sha256", in.sha256);
	af_ctl_end(c);
}

/* Where the fence named NAME journals: the request's --journal, the
 * default place, or nowhere (journal[0] == 0). -1 when the request was
 * answered with the error. */
static int req_journal(struct af_ctl_client *c, const struct af_ctl_req *req,
		       const struct af_policy *p, const char *name, char *journal, size_t n)
{
	char why[PATH_MAX];

	if (req->no_journal) {
		journal[0] = 0;
		return 0;
	}
	if (req->journal) {
		if (af_sup_journal_path(req->journal, p, journal, n)) {
			if (c)
				af_ctl_error(c, req, -EINVAL, "the journal cannot go there (see the message)");
			return -1;
		}
		return 0;
	}
	if (journal_default(name, why, sizeof(why)) || af_sup_journal_path(why, p, journal, n)) {
		if (c)
			af_ctl_error(c, req, -EINVAL, "no place for the journal (see the message)");
		return -1;
	}
	return 0;
}

static void do_create(struct daemon *d, struct af_ctl_client *c, const struct af_ctl_req *req)
{
	enum af_backend want = AF_BACKEND_NONE, backend;
	char name[128], journal[PATH_MAX], why[1024];
	struct dfence *df;
	int err;

	if (req->lease && !af_ctl_client_pid(c)) {
		af_ctl_error(c, req, -EINVAL, "a lease needs a peer pid");
		return;
	}
	if (req->journal && af_ctl_client_uid(c) != 0) {
		/* root writes it: a member of the group must not choose where. */
		af_ctl_error(c, req, -EPERM, "only root may choose a journal's path");
		return;
	}
	if (req->cgroup && af_ctl_client_uid(c) != 0) {
		af_ctl_error(c, req, -EPERM, "only root may fence an existing cgroup");
		return;
	}
	if (req->backend && af_backend_parse(req->backend, &want)) {
		snprintf(why, sizeof(why), "unknown backend '%s' (auto, lsm_cgroup, lsm, landlock)",
			 req->backend);
		af_ctl_error(c, req, -EINVAL, why);
		return;
	}
	df = calloc(1, sizeof(*df));
	if (!df) {
		af_ctl_error(c, req, -ENOMEM, "out of memory");
		return;
	}
	df->workspace = strdup(req->workspace ? req->workspace : "");
	df->home = strdup(req->home ? req->home : getenv("HOME") ? getenv("HOME") : "/");
	df->argv = df->workspace && df->home ? copy_argv(req->argv) : NULL;
	if (!df->argv || load_policy(req->policy, req->policy_len, req->policy_file, df->workspace,
				     df->home, &df->policy)) {
		af_ctl_error(c, req, -EINVAL, df->argv ? "the policy is invalid (see the message)" :
			     "out of memory");
		dfence_free(d, df);
		return;
	}
	if (req->audit)
		df->policy->mode = AF_MODE_AUDIT;
	/* run chose the backend and said why already: only what fails. */
	if (req->lease)
		af_msg_hook = errors_to_client;
	err = af_sup_choose_backend(want, df->policy, req->strict, &backend);
	af_msg_hook = to_client;
	if (err) {
		af_ctl_error(c, req, -ENOTSUP, "no backend can enforce this policy (see the message)");
		dfence_free(d, df);
		return;
	}
	err = af_box_prepare(&df->box, df->policy, backend == AF_BACKEND_LANDLOCK, why, sizeof(why));
	if (err) {
		af_ctl_error(c, req, err, why);
		dfence_free(d, df);
		return;
	}
	df->box.remote_pty = req->tty;
	/* Landlock fences a process that restricts itself: what is put in
	 * this cgroup by other means than run meets the network fence only. */
	if (!req->lease && backend == AF_BACKEND_LANDLOCK) {
		if (req->strict) {
			af_ctl_error(c, req, -ENOTSUP, "--strict: on the landlock backend a fence the daemon "
				     "holds for processes run did not start has no filesystem fence");
			dfence_free(d, df);
			return;
		}
		af_warn("landlock backend: processes that enter this fence other than through "
			"agentfence run meet its network rules only (no filesystem fence)");
	}
	if (req->lease)
		snprintf(name, sizeof(name), "run-%d", af_ctl_client_pid(c));
	else if (req->name)
		snprintf(name, sizeof(name), "%s-%d", req->name, getpid());
	else
		snprintf(name, sizeof(name), "fence%u-%d", ++d->seq, getpid());
	if (req_journal(c, req, df->policy, name, journal, sizeof(journal))) {
		dfence_free(d, df);
		return;
	}
	{
		struct af_fence_spec spec = {
			.name = name,
			.policy = df->policy,
			.policy_file = req->policy_file,
			.backend = backend,
			.strict = req->strict,
			.quiet = req->quiet || !req->lease,
			.journal = journal[0] ? journal : NULL,
			.journal_max = req->journal_max,
			.workspace = df->workspace,
			.argv = df->argv,
			.label_of = af_exec_label,
			.on_denial = on_denial,
			.denial_ctx = df,
			.cgroup = req->cgroup,
			.client = req->lease ? af_ctl_client_pid(c) : 0,
			.policy_bytes = req->policy,
			.policy_len = req->policy_len,
			.home = df->home,
		};

		/* Its box is run's; the journal says what it is. */
		spec.journal_box = &df->box;
		err = af_sup_fence_open(d->sup, &spec, &df->f);
	}
	if (err) {
		af_ctl_error(c, req, err == AF_SUP_REFUSED ? -ENOTSUP : err,
			     err == AF_SUP_REFUSED ? "refused: --strict (see the message)" :
			     "the fence could not be set up (see the message)");
		dfence_free(d, df);
		return;
	}
	if (req->lease)
		df->lease = c;
	df->next = d->fences;
	d->fences = df;
	d->made++;
	reply_fence(c, req, df);
}

static struct dfence *fence_of(struct daemon *d, struct af_ctl_client *c,
			       const struct af_ctl_req *req, bool own)
{
	struct dfence *df = find(d, req->fence);
	char why[128];

	if (!df) {
		snprintf(why, sizeof(why), "no fence %llu in this daemon (agentfence status)",
			 (unsigned long long)req->fence);
		af_ctl_error(c, req, -ENOENT, why);
		return NULL;
	}
	if (own && df->lease != c) {
		snprintf(why, sizeof(why), "fence %llu is not this connection's",
			 (unsigned long long)req->fence);
		af_ctl_error(c, req, -EPERM, why);
		return NULL;
	}
	return df;
}

static void do_status(struct daemon *d, struct af_ctl_client *c, const struct af_ctl_req *req)
{
	struct af_sup_fence_info in;
	struct dfence *df;
	struct af_json *w;

	if (req->has_fence && !fence_of(d, c, req, false))
		return;
	w = af_ctl_begin(c, true, req);
	if (!w)
		return;
	af_json_i64(w, "daemon", getpid());
	af_json_array(w, "fences");
	for (df = d->fences; df; df = df->next) {
		af_sup_fence_info(df->f, &in);
		if (req->has_fence && in.id != req->fence)
			continue;
		af_json_object(w, NULL);
		af_json_u64(w, "id", in.id);
		af_json_str(w, "cgroup", in.cgroup);
		af_json_str(w, "policy", in.policy);
		af_json_str(w, "sha256", in.sha256);
		af_json_str(w, "backend", in.backend);
		af_json_i64(w, "supervisor", getpid());
		af_json_i64(w, "client", in.client);
		af_json_i64(w, "root", in.root);
		af_json_bool(w, "owned", in.owned);
		af_json_str(w, "journal", in.journal);
		af_json_u64(w, "events", in.events);
		af_json_u64(w, "denied", in.denied);
		af_json_u64(w, "audited", in.audited);
		af_json_u64(w, "dropped", in.dropped);
		if (df->attach && df->attach->container[0]) {
			af_json_str(w, "runtime", df->attach->runtime);
			af_json_str(w, "container", df->attach->container);
			af_json_str(w, "container_name", df->attach->name);
		}
		af_json_end(w);
	}
	af_json_end(w);
	af_ctl_end(c);
}

/* A fence's policy swapped atomically (a generation flip): 0, or -errno
 * and why (the details were said with af_err). */
static int update_fence(struct dfence *df, const char *bytes, size_t len, const char *file,
			const char **why)
{
	struct af_policy *p, **v;
	int err;

	if (df->attach) {
		char err[AF_ERR_MAX];

		/* Its paths read again in its target's mount namespace. */
		if (af_attach_policy(bytes, len, file, meta_of(df->attach), &p, err, sizeof(err))) {
			af_err("%s", err);
			*why = "the policy is invalid (see the message)";
			return -EINVAL;
		}
	} else if (load_policy(bytes, len, file, df->workspace, df->home, &p)) {
		*why = "the policy is invalid (see the message)";
		return -EINVAL;
	}
	if (df->policy->mode == AF_MODE_AUDIT)
		p->mode = AF_MODE_AUDIT;
	/* Room to keep the old policy, before anything is swapped. */
	v = realloc(df->retired, (df->nretired + 1) * sizeof(*v));
	if (!v) {
		af_policy_free(p);
		*why = "out of memory";
		return -ENOMEM;
	}
	df->retired = v;
	err = af_sup_fence_update(df->f, p, file, bytes, len);
	if (err) {
		af_policy_free(p);
		*why = "the policy was not swapped (see the message)";
		return err;
	}
	v[df->nretired++] = df->policy;
	df->policy = p;
	return 0;
}

static void do_update(struct daemon *d, struct af_ctl_client *c, const struct af_ctl_req *req)
{
	struct dfence *df = fence_of(d, c, req, false);
	const char *why;
	int err;

	if (!df)
		return;
	err = update_fence(df, req->policy, req->policy_len, req->policy_file, &why);
	if (err)
		af_ctl_error(c, req, err, why);
	else
		reply_fence(c, req, df);
}

static void do_simple_ok(struct af_ctl_client *c, const struct af_ctl_req *req)
{
	if (af_ctl_begin(c, true, req))
		af_ctl_end(c);
}

static void adopt_all(struct daemon *d, struct af_ctl_client *c, const struct af_ctl_req *req);

/* An attached orphan's policy: its paths read again in its target's
 * mount namespace (attach.h). */
static int adopt_attach_policy(struct dfence *df, const struct af_attach_meta *m,
			       const char *bytes, size_t len, const char *file)
{
	char err[AF_ERR_MAX];
	int ret = af_attach_policy(bytes, len, file, m, &df->policy, err, sizeof(err));

	if (ret)
		af_err("fence %llu: %s", (unsigned long long)m->id, err);
	return ret;
}

/* One orphan: its policy from the bytes stored with it, read with the
 * ${WORKSPACE} and ${HOME} it had. */
static int adopt_one(struct daemon *d, const struct af_fence_info *fi)
{
	struct af_attach_meta *m;
	struct af_sup_meta sm;
	struct dfence *df;
	char *bytes = NULL;
	size_t len = 0;
	int err;

	if (af_sup_meta_read(fi->id, &sm)) {
		af_warn("fence %llu (cgroup %s): no record of its workspace (%s/%llu.json): cannot "
			"adopt it; agentfence stop %llu removes it", (unsigned long long)fi->id,
			fi->cgroup, AF_SUP_META_DIR, (unsigned long long)fi->id,
			(unsigned long long)fi->id);
		return -ENOENT;
	}
	err = af_fence_policy_bytes(fi->id, &bytes, &len);
	if (err) {
		af_warn("fence %llu: its policy was not stored with it (%s): cannot adopt it",
			(unsigned long long)fi->id, strerror(-err));
		return err;
	}
	df = calloc(1, sizeof(*df));
	if (!df) {
		free(bytes);
		return -ENOMEM;
	}
	df->workspace = strdup(sm.workspace);
	df->home = strdup(sm.home[0] ? sm.home : "/");
	df->argv = df->workspace && df->home ? copy_argv(NULL) : NULL;
	m = calloc(1, sizeof(*m));
	if (m && af_attach_meta_read(fi->id, m)) {
		free(m);
		m = NULL;
	}
	if (m && df->argv)
		err = adopt_attach_policy(df, m, bytes, len, sm.policy_file[0] ? sm.policy_file : NULL);
	else
		err = df->argv ? load_policy(bytes, len, sm.policy_file[0] ? sm.policy_file : NULL,
					     df->workspace, df->home, &df->policy) : -ENOMEM;
	free(bytes);
	if (!err && strcmp(df->policy->sha256, fi->policy_sha256)) {
		af_warn("fence %llu: its stored policy is not the one it enforces (hash %.16s, "
			"not %.16s): cannot adopt it", (unsigned long long)fi->id,
			df->policy->sha256, fi->policy_sha256);
		err = -ESTALE;
	}
	if (!err && m && !(df->attach = dattach_new(m)))
		err = -ENOMEM;
	if (!err) {
		struct af_adopt_spec a = {
			.id = fi->id,
			.policy = df->policy,
			.policy_file = sm.policy_file[0] ? sm.policy_file : NULL,
			.journal = fi->journal[0] ? fi->journal : NULL,
			.cgroup = fi->cgroup,
			.backend = fi->backend,
			.owned = sm.owned,
			.dns_port4 = sm.dns_port4,
			.dns_port6 = sm.dns_port6,
			.workspace = df->workspace,
			.home = df->home,
			.old_supervisor = fi->supervisor,
			.argv = df->argv,
			.on_denial = on_denial,
			.denial_ctx = df,
		};
		char *tag = NULL;

		err = m ? fence_tag(m, &tag) : 0;
		a.journal_tag = tag;
		if (!err)
			err = af_sup_fence_adopt(d->sup, &a, &df->f);
		free(tag);
	}
	if (err) {
		free(m);
		dfence_free(d, df);
		return err;
	}
	df->adopted_run = sm.owned && strstr(fi->cgroup, "/agentfence/run-");
	if (m) {
		m->attacher = df->attach->attacher = 0;	/* ours now */
		if (af_attach_meta_write(m))
			af_warn("fence %llu: cannot store which container it fences",
				(unsigned long long)fi->id);
		af_attach_journal(af_sup_fence_journal(df->f), "attach", m, NULL);
		free(m);
	}
	df->next = d->fences;
	d->fences = df;
	d->made++;
	fprintf(stderr, "agentfence daemon: adopted fence %llu (cgroup %s)\n",
		(unsigned long long)fi->id, fi->cgroup);
	return 0;
}

/* ---- attach: a fence beneath processes that already run ---- */

static void attach_note(struct dfence *df, const char *reason)
{
	int err = af_attach_journal(af_sup_fence_journal(df->f), "attach_end", meta_of(df->attach),
				    reason);

	if (err)
		af_warn("fence %llu: journal the end of the attach: %s",
			(unsigned long long)df->attach->id, strerror(-err));
}

/* The target is gone: its fence with it, journaled with the reason. */
static void attach_end(struct daemon *d, struct dfence *df, const char *reason)
{
	fprintf(stderr, "agentfence daemon: fence %llu: %s: removing it\n",
		(unsigned long long)df->attach->id, reason);
	attach_note(df, reason);
	af_attach_meta_remove(df->attach->id);
	talk_to(d, NULL);
	dfence_close(d, df, -1);
}

/* An error of attach_fence: to the client that asked, if one did, and to
 * the caller (the Kubernetes watch, k8s.c). */
static void attach_error(struct af_ctl_client *c, const struct af_ctl_req *req, int err,
			 const char *why, char *out, size_t n)
{
	if (c)
		af_ctl_error(c, req, err, why);
	if (out && n)
		af_strlcpy(out, why, n);
}

/* The fence of an attach: c NULL when the daemon asks itself (a pod). The
 * process req->pid names the target's mount namespace; it runs in
 * req->cgroup or beneath it (a pod's containers are its children). */
static struct dfence *attach_fence(struct daemon *d, struct af_ctl_client *c,
				   const struct af_ctl_req *req, char *journal, size_t jn,
				   enum af_backend *backend_out, char *why_out, size_t why_n)
{
	enum af_backend want = AF_BACKEND_NONE, backend;
	char why[AF_ERR_MAX], real[PATH_MAX], name[64];
	struct af_attach_meta *m;
	struct dfence *df;
	size_t rl;
	int err;

	if (c && af_ctl_client_uid(c) != 0) {
		attach_error(c, req, -EPERM, "only root may attach a fence to processes that run", why_out, why_n);
		return NULL;
	}
	if (req->backend && af_backend_parse(req->backend, &want)) {
		snprintf(why, sizeof(why), "unknown backend '%s' (auto, lsm_cgroup, lsm, landlock)",
			 req->backend);
		attach_error(c, req, -EINVAL, why, why_out, why_n);
		return NULL;
	}
	df = calloc(1, sizeof(*df));
	m = df ? calloc(1, sizeof(*m)) : NULL;
	if (!m) {
		free(df);
		attach_error(c, req, -ENOMEM, "out of memory", why_out, why_n);
		return NULL;
	}
	/* The pid names the target's mount namespace: it must be in it.
	 * pid 0, from the daemon itself only: a placeholder cgroup nothing
	 * runs in (k8s.c: a pod's fence made before its cgroup): no mount
	 * namespace, the policy's file rules dropped (attach.c), its
	 * network whole; the pod's own fence, attached once a container
	 * runs, has them. */
	if (!c && req->has_pid && !req->pid) {
		memset(m, 0, sizeof(*m));
		err = realpath(req->cgroup, m->cgroup) ? 0 : -errno;
		if (err)
			snprintf(why, sizeof(why), "cgroup %.400s: %s", req->cgroup, strerror(-err));
		else if (req->workspace)
			af_strlcpy(m->workspace, req->workspace, sizeof(m->workspace));
		af_strlcpy(m->home, "/", sizeof(m->home));
	} else {
		err = af_attach_pid((pid_t)req->pid, m, why, sizeof(why));
	}
	if (!err && m->pid && (!realpath(req->cgroup, real) || strncmp(real, m->cgroup, rl = strlen(real)) ||
		     (m->cgroup[rl] && m->cgroup[rl] != '/'))) {
		snprintf(why, sizeof(why), "process %lld is not in cgroup %.400s (it is in %.400s)",
			 (long long)req->pid, req->cgroup, m->cgroup);
		err = -EINVAL;
	}
	if (!err && m->pid)
		af_strlcpy(m->cgroup, real, sizeof(m->cgroup));
	if (!err && m->pid && req->workspace)
		err = af_attach_workspace(m, req->workspace, why, sizeof(why));
	else if (!err && m->pid)
		af_strlcpy(m->home, "/", sizeof(m->home));
	if (err) {
		attach_error(c, req, err, why, why_out, why_n);
		goto fail;
	}
	if (req->home)
		af_strlcpy(m->home, req->home, sizeof(m->home));
	af_strlcpy(m->runtime, req->runtime ? req->runtime : "", sizeof(m->runtime));
	af_strlcpy(m->container, req->container ? req->container : "", sizeof(m->container));
	af_strlcpy(m->name, req->container_name ? req->container_name : "", sizeof(m->name));
	df->workspace = strdup(m->workspace);
	df->home = strdup(m->home);
	df->argv = df->workspace && df->home ? copy_argv(NULL) : NULL;
	err = df->argv ? af_attach_policy(req->policy, req->policy_len, req->policy_file, m,
					  &df->policy, why, sizeof(why)) : -ENOMEM;
	if (err) {
		attach_error(c, req, err, df->argv ? why : "out of memory", why_out, why_n);
		goto fail;
	}
	if (req->audit)
		df->policy->mode = AF_MODE_AUDIT;
	/* Landlock's own gaps are beside the point when it fences no file:
	 * --strict is refused for that first. */
	err = af_sup_choose_backend(want, df->policy, false, &backend);
	if (!err && req->strict && backend != AF_BACKEND_LANDLOCK)
		err = af_sup_choose_backend(backend, df->policy, true, &backend);
	if (err) {
		attach_error(c, req, -ENOTSUP, "no backend can enforce this policy (see the message)", why_out, why_n);
		goto fail;
	}
	/* attach said it before it asked; the daemon's own log says it too. */
	if (backend == AF_BACKEND_LANDLOCK) {
		if (req->strict) {
			attach_error(c, req, -ENOTSUP, "--strict: the landlock backend cannot fence the files "
				     "of processes that already run (Landlock restricts only a process "
				     "that asks it to); only the network would be fenced", why_out, why_n);
			goto fail;
		}
		af_warn("files are NOT fenced: the landlock backend cannot restrict processes that "
			"already run; the network fence is enforced and every event is recorded "
			"(--strict refuses; a kernel with BPF LSM fences files too)");
	}
	snprintf(name, sizeof(name), "attach-%.12s-%d", m->container[0] ? m->container : "cgroup",
		 getpid());
	if (req_journal(c, req, df->policy, name, journal, jn)) {
		attach_error(NULL, req, -EINVAL, "the journal cannot go there (see the message)",
			     why_out, why_n);
		goto fail;
	}
	df->attach = dattach_new(m);
	if (!df->attach) {
		attach_error(c, req, -ENOMEM, "out of memory", why_out, why_n);
		goto fail;
	}
	{
		struct af_fence_spec spec = {
			.name = name,
			.policy = df->policy,
			.policy_file = req->policy_file,
			.backend = backend,
			.strict = req->strict,
			.quiet = true,
			.journal = journal[0] ? journal : NULL,
			.journal_max = req->journal_max,
			.workspace = df->workspace,
			.argv = df->argv,
			.label_of = af_exec_label,
			.on_denial = on_denial,
			.denial_ctx = df,
			.cgroup = m->cgroup,
			.policy_bytes = req->policy,
			.policy_len = req->policy_len,
			.home = df->home,
		};
		char *tag = NULL;

		err = fence_tag(m, &tag);
		spec.journal_tag = tag;
		if (!err)
			err = af_sup_fence_open(d->sup, &spec, &df->f);
		free(tag);
	}
	if (err) {
		attach_error(c, req, err == AF_SUP_REFUSED ? -ENOTSUP : err,
			     err == AF_SUP_REFUSED ? "refused: --strict (see the message)" :
			     "the fence could not be set up (see the message)", why_out, why_n);
		goto fail;
	}
	m->id = df->attach->id = af_sup_fence_id(df->f);
	err = af_attach_meta_write(m);
	if (err)
		af_warn("fence %llu: cannot store which container it fences: %s",
			(unsigned long long)m->id, strerror(-err));
	af_attach_journal(af_sup_fence_journal(df->f), "attach", m, NULL);
	df->next = d->fences;
	d->fences = df;
	d->made++;
	*backend_out = backend;
	free(m);
	return df;
fail:
	free(m);
	dfence_free(d, df);
	return NULL;
}

static void do_attach(struct daemon *d, struct af_ctl_client *c, const struct af_ctl_req *req)
{
	char journal[PATH_MAX];
	enum af_backend backend;
	struct dattach *m;
	struct af_json *w;
	struct dfence *df;

	df = attach_fence(d, c, req, journal, sizeof(journal), &backend, NULL, 0);
	if (!df)
		return;
	m = df->attach;
	w = af_ctl_begin(c, true, req);
	if (!w)
		return;
	af_json_u64(w, "fence", m->id);
	af_json_str(w, "cgroup", m->cgroup);
	af_json_str(w, "journal", journal);
	af_json_str(w, "backend", af_backend_name(backend));
	af_json_str(w, "sha256", df->policy->sha256);
	af_json_str(w, "workspace", m->workspace);
	af_json_i64(w, "daemon", getpid());
	af_ctl_end(c);
}

static void on_request(void *ctx, struct af_ctl_client *c, const struct af_ctl_req *req)
{
	struct daemon *d = ctx;
	struct dfence *df;
	int err;

	talk_to(d, c);
	switch (req->op) {
	case AF_CTL_CREATE:
		do_create(d, c, req);
		break;
	case AF_CTL_STARTED:
		df = fence_of(d, c, req, true);
		if (df) {
			af_sup_fence_set_root(df->f, (pid_t)req->pid, af_ctl_client_pid(c));
			do_simple_ok(c, req);
		}
		break;
	case AF_CTL_END:
		df = fence_of(d, c, req, true);
		if (df) {
			err = dfence_close(d, df, (int)req->exit_code);
			if (err)
				af_ctl_error(c, req, err, "the journal is incomplete (see the message)");
			else
				do_simple_ok(c, req);
		}
		break;
	case AF_CTL_STATUS:
		do_status(d, c, req);
		break;
	case AF_CTL_STOP:
		df = fence_of(d, c, req, false);
		if (df && df->attach) {
			/* Nothing of the target is killed: its cgroup is not ours. */
			attach_note(df, "stopped (agentfence stop): enforcement removed");
			af_attach_meta_remove(df->attach->id);
		}
		if (df) {
			/* Its run learns it from its command's death. */
			err = dfence_close(d, df, 128 + SIGKILL);
			if (err)
				af_ctl_error(c, req, err, "stopped, but the journal is incomplete");
			else
				do_simple_ok(c, req);
		}
		break;
	case AF_CTL_UPDATE:
		do_update(d, c, req);
		break;
	case AF_CTL_DETACH:
		df = fence_of(d, c, req, false);
		if (df && df->attach) {
			attach_note(df, "detached");
			af_attach_meta_remove(df->attach->id);
		}
		if (df) {
			err = af_sup_fence_detach(df->f);
			if (err) {
				af_ctl_error(c, req, err, "not detached (see the message)");
			} else {
				dfence_free(d, df);
				do_simple_ok(c, req);
			}
		}
		break;
	case AF_CTL_ADOPT:
		adopt_all(d, c, req);
		break;
	case AF_CTL_ATTACH:
		do_attach(d, c, req);
		break;
	default:
		af_ctl_error(c, req, -EINVAL, "unknown op");
	}
	talk_to(d, NULL);
}

/* A connection is gone: the fences it leased end with it. */
static void on_gone(void *ctx, struct af_ctl_client *c)
{
	struct daemon *d = ctx;
	struct dfence *df, *next;

	for (df = d->fences; df; df = next) {
		next = df->next;
		if (df->lease != c)
			continue;
		df->lease = NULL;
		fprintf(stderr, "agentfence daemon: the run (pid %d) of fence %llu hung up without "
			"ending it: stopping it\n", af_ctl_client_pid(c),
			(unsigned long long)af_sup_fence_id(df->f));
		talk_to(d, NULL);
		dfence_close(d, df, 128 + SIGKILL);
	}
	if (d->talk == c)
		d->talk = NULL;
}

/* Take up every orphaned fence of this build's node. */
static void adopt_all(struct daemon *d, struct af_ctl_client *c, const struct af_ctl_req *req)
{
	struct af_fence_info *v = NULL;
	unsigned int found = 0, adopted = 0;
	struct af_json *w;
	size_t n = 0, i;
	int err;

	err = af_fence_list(&v, &n);
	if (err) {
		af_err("cannot list the node's fences: %s", strerror(-err));
		if (c)
			af_ctl_error(c, req, err, "cannot list the node's fences");
		return;
	}
	for (i = 0; i < n; i++) {
		if (v[i].supervisor_alive || find(d, v[i].id) || !v[i].cgroup_alive)
			continue;
		found++;
		if (!v[i].this_build) {
			af_warn("fence %llu (cgroup %s) is orphaned on another build's node (%s): "
				"only that build adopts it; agentfence stop %llu removes it",
				(unsigned long long)v[i].id, v[i].cgroup, v[i].node,
				(unsigned long long)v[i].id);
			continue;
		}
		if (!adopt_one(d, &v[i]))
			adopted++;
	}
	free(v);
	if (found)
		fprintf(stderr, "agentfence daemon: adopted %u of %u orphaned fences\n", adopted, found);
	if (!c)
		return;
	w = af_ctl_begin(c, true, req);
	if (!w)
		return;
	af_json_u64(w, "orphaned", found);
	af_json_u64(w, "adopted", adopted);
	af_ctl_end(c);
}

/* ---- the daemon's fences for k8s.c, from within its loop ---- */

struct af_loop *af_daemon_loop(void)
{
	return the_daemon ? af_sup_loop(the_daemon->sup) : NULL;
}

int af_daemon_attach(const struct af_ctl_req *req, uint64_t *id, char *why, size_t n)
{
	char journal[PATH_MAX];
	enum af_backend backend;
	struct dfence *df;

	if (!the_daemon)
		return -ENOTCONN;
	why[0] = 0;
	df = attach_fence(the_daemon, NULL, req, journal, sizeof(journal), &backend, why, n);
	if (!df)
		return -EINVAL;
	*id = af_sup_fence_id(df->f);
	return 0;
}

int af_daemon_update(uint64_t id, const char *policy, size_t len, const char *file, char *why,
		     size_t n)
{
	struct dfence *df = the_daemon ? find(the_daemon, id) : NULL;
	const char *w = "";
	int err;

	if (!df) {
		snprintf(why, n, "no fence %llu", (unsigned long long)id);
		return -ENOENT;
	}
	err = update_fence(df, policy, len, file, &w);
	if (err)
		af_strlcpy(why, w, n);
	return err;
}

int af_daemon_detach(uint64_t id, const char *reason)
{
	struct dfence *df = the_daemon ? find(the_daemon, id) : NULL;
	int err;

	if (!df)
		return -ENOENT;
	if (df->attach) {
		attach_note(df, reason);
		af_attach_meta_remove(df->attach->id);
	}
	err = af_sup_fence_detach(df->f);
	if (!err)
		dfence_free(the_daemon, df);
	return err;
}

uint64_t af_daemon_fence_by_cgroup(const char *cgroup)
{
	struct dfence *df;

	for (df = the_daemon ? the_daemon->fences : NULL; df; df = df->next)
		if (!strcmp(af_sup_fence_cgroup(df->f), cgroup))
			return af_sup_fence_id(df->f);
	return 0;
}

struct af_journal *af_daemon_journal(uint64_t id)
{
	struct dfence *df = the_daemon ? find(the_daemon, id) : NULL;

	return df ? af_sup_fence_journal(df->f) : NULL;
}

int af_daemon_set_ctag(uint64_t id, af_ctag_fn fn, void *ctx)
{
	struct dfence *df = the_daemon ? find(the_daemon, id) : NULL;
	struct af_recorder *r = df ? af_sup_fence_recorder(df->f) : NULL;

	if (!r)
		return -ENOENT;
	af_recorder_set_ctag(r, fn, ctx);
	return 0;
}

int af_daemon_adopt_once(void)
{
	struct daemon d = {};
	struct af_fence_info *v = NULL;
	uint64_t *frozen = NULL;
	size_t n = 0, nf = 0, i;
	int err;

	the_daemon = &d;
	err = af_sup_open(&d.sup);
	if (err)
		return err < 0 ? err : -EIO;
	af_sup_no_gc(d.sup);
	/* Killed midway, the watcher freezes what we took up. */
	err = af_watch_share();
	if (err)
		goto out;
	/* Adoption thaws; a fence frozen when its supervisor died is frozen
	 * again when we let go of it (nobody reads it after us). */
	if (!af_fence_list(&v, &n) && n && (frozen = calloc(n, sizeof(*frozen)))) {
		for (i = 0; i < n; i++) {
			char path[PATH_MAX + 32], buf[256];

			if (v[i].supervisor_alive || !v[i].cgroup_alive)
				continue;
			snprintf(path, sizeof(path), "%s/cgroup.events", v[i].cgroup);
			if (!af_read_small(path, buf, sizeof(buf)) && strstr(buf, "frozen 1"))
				frozen[nf++] = v[i].id;
		}
	}
	adopt_all(&d, NULL, NULL);
	while (d.fences)
		dfence_release(&d, d.fences);
	for (i = 0; i < nf; i++) {
		char path[PATH_MAX + 32];
		int fd;

		for (size_t k = 0; k < n; k++) {
			if (v[k].id != frozen[i])
				continue;
			snprintf(path, sizeof(path), "%s/cgroup.freeze", v[k].cgroup);
			fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, "1", 1) != 1)
				af_warn("fence %llu: cannot freeze it again: %s", (unsigned long long)v[k].id,
					strerror(errno));
			if (fd >= 0)
				close(fd);
		}
	}
	err = 0;
out:
	free(frozen);
	free(v);
	af_sup_close(d.sup);
	af_msg_hook = NULL;
	the_daemon = NULL;
	return err;
}

/* ---- /metrics, /readyz (metrics.h), from the loop ---- */

/* A pod's fence: its namespace and name (from the attach's "NS/NAME"). */
static void pod_of(const struct dfence *df, char *ns, size_t nn, char *name, size_t n)
{
	const char *slash;

	ns[0] = name[0] = 0;
	if (!df->attach || strcmp(df->attach->runtime, "kubernetes") ||
	    !strcmp(df->attach->container, AF_K8S_HOLD_UID))
		return;
	slash = strchr(df->attach->name, '/');
	if (!slash)
		return;
	snprintf(ns, nn, "%.*s", (int)(slash - df->attach->name), df->attach->name);
	snprintf(name, n, "%s", slash + 1);
}

/* The entries of this build's nodes' hash maps (arrays are always full;
 * ring buffers are no entries): what fences use of the node. */
static void collect_maps(struct af_obuf *b)
{
	const char *build = af_node_build();
	DIR *nd = opendir(AF_NODE_ROOT), *md;
	struct dirent *n, *m;
	bool said = false;

	if (!nd)
		return;
	while ((n = readdir(nd))) {
		char dir[PATH_MAX], path[PATH_MAX + 256];

		if (strncmp(n->d_name, build, strlen(build)) || n->d_name[strlen(build)] != '-')
			continue;
		snprintf(dir, sizeof(dir), AF_NODE_ROOT "/%s/maps", n->d_name);
		md = opendir(dir);
		if (!md)
			continue;
		while ((m = readdir(md))) {
			struct bpf_map_info info = {};
			__u32 il = sizeof(info);
			unsigned char key[2][512];
			uint64_t used = 0;
			int fd, cur = 0;
			void *prev = NULL;

			if (m->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, m->d_name);
			fd = bpf_obj_get(path);
			if (fd < 0)
				continue;
			if (bpf_obj_get_info_by_fd(fd, &info, &il) || info.key_size > sizeof(key[0]) ||
			    (info.type != BPF_MAP_TYPE_HASH && info.type != BPF_MAP_TYPE_LRU_HASH &&
			     info.type != BPF_MAP_TYPE_PERCPU_HASH && info.type != BPF_MAP_TYPE_LPM_TRIE &&
			     info.type != BPF_MAP_TYPE_HASH_OF_MAPS &&
			     info.type != BPF_MAP_TYPE_LRU_PERCPU_HASH)) {
				close(fd);
				continue;
			}
			/* Bounded by the map's size: a map that changes meanwhile
			 * cannot keep this going. */
			while (used < info.max_entries && !bpf_map_get_next_key(fd, prev, key[cur])) {
				prev = key[cur];
				cur ^= 1;
				used++;
			}
			close(fd);
			if (!said) {
				af_prom_family(b, "agentfence_map_entries", "gauge",
					       "Entries in a hash map of this build's BPF node (all fences').");
				said = true;
			}
			af_prom_sample(b, "agentfence_map_entries", used, "node", n->d_name, "map",
				       m->d_name, NULL);
			af_prom_sample(b, "agentfence_map_entries_max", info.max_entries, "node",
				       n->d_name, "map", m->d_name, NULL);
		}
		closedir(md);
	}
	closedir(nd);
}

static void metrics_collect(void *ctx, struct af_obuf *b)
{
	struct daemon *d = ctx;
	struct af_sup_fence_info fi;
	struct dfence *df;
	unsigned int nf = 0, npods = 0;
	char id[24], ns[254], pod[254];

	for (df = d->fences; df; df = df->next) {
		nf++;
		pod_of(df, ns, sizeof(ns), pod, sizeof(pod));
		npods += !!pod[0];
	}
	af_prom_family(b, "agentfence_fences", "gauge", "Fences this daemon holds.");
	af_prom_sample(b, "agentfence_fences", nf, NULL);
	if (d->kube) {
		af_prom_family(b, "agentfence_pods_fenced", "gauge",
			       "Kubernetes pods of this node this daemon fences.");
		af_prom_sample(b, "agentfence_pods_fenced", npods, NULL);
	}
	af_prom_family(b, "agentfence_fence_events_total", "counter",
		       "Events a fence's ring buffer brought, since this daemon took it up.");
	for (df = d->fences; df; df = df->next) {
		af_sup_fence_info(df->f, &fi);
		pod_of(df, ns, sizeof(ns), pod, sizeof(pod));
		snprintf(id, sizeof(id), "%llu", (unsigned long long)fi.id);
		af_prom_sample(b, "agentfence_fence_events_total", fi.events, "fence", id, "namespace",
			       ns, "pod", pod, NULL);
	}
	af_prom_family(b, "agentfence_denials_total", "counter",
		       "Denials of a fence by kind (file, network, unix, dns, process, system), since "
		       "this daemon took it up.");
	for (df = d->fences; df; df = df->next) {
		af_sup_fence_info(df->f, &fi);
		pod_of(df, ns, sizeof(ns), pod, sizeof(pod));
		snprintf(id, sizeof(id), "%llu", (unsigned long long)fi.id);
		for (unsigned int k = 0; k < AF_DK_MAX; k++)
			af_prom_sample(b, "agentfence_denials_total", fi.denied_kind[k], "fence", id,
				       "namespace", ns, "pod", pod, "kind", af_deny_kinds[k], NULL);
	}
	af_prom_family(b, "agentfence_lost_events_total", "counter",
		       "Events of a fence the kernel could not queue (its ring buffer full): in its "
		       "journal as lost records.");
	for (df = d->fences; df; df = df->next) {
		af_sup_fence_info(df->f, &fi);
		pod_of(df, ns, sizeof(ns), pod, sizeof(pod));
		snprintf(id, sizeof(id), "%llu", (unsigned long long)fi.id);
		af_prom_sample(b, "agentfence_lost_events_total", fi.dropped, "fence", id, "namespace",
			       ns, "pod", pod, NULL);
	}
	af_prom_family(b, "agentfence_journal_records_total", "counter",
		       "Journal records this daemon wrote, all fences.");
	af_prom_sample(b, "agentfence_journal_records_total", af_journal_written_total(), NULL);
	if (d->json_lines) {
		af_prom_family(b, "agentfence_stdout_lines_total", "counter",
			       "Journal records written on stdout as JSON lines.");
		af_prom_sample(b, "agentfence_stdout_lines_total", af_lines_out_written(), NULL);
		af_prom_family(b, "agentfence_stdout_dropped_lines_total", "counter",
			       "JSON lines dropped: stdout was not read fast enough (the journals have them).");
		af_prom_sample(b, "agentfence_stdout_dropped_lines_total", af_lines_out_dropped(), NULL);
	}
	if (d->kube) {
		af_prom_family(b, "agentfence_k8s_synced", "gauge",
			       "1 once the first list of this node's pods was handled.");
		af_prom_sample(b, "agentfence_k8s_synced", af_k8s_synced(), NULL);
		af_prom_family(b, "agentfence_k8s_watch_reconnects_total", "counter",
			       "Lists and watches of the API server retried after a failure.");
		af_prom_sample(b, "agentfence_k8s_watch_reconnects_total", af_k8s_reconnects(), NULL);
	}
	collect_maps(b);
}

static bool metrics_ready(void *ctx, char *why, size_t n)
{
	struct daemon *d = ctx;

	if (!d->serving) {
		snprintf(why, n, "starting");
		return false;
	}
	if (d->kube && !af_k8s_synced()) {
		snprintf(why, n, "the node's pods are not listed yet (the API server: see the log)");
		return false;
	}
	return true;
}

/* A run's fence it adopted ends with the run's command (nobody is left
 * to say "end"): once its cgroup is empty, journal the end (exit status
 * unknown: -1) and remove it. */
static int on_tick(void *ctx, int fd, uint32_t events)
{
	struct daemon *d = ctx;
	struct dfence *df, *next;
	const char *why;
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	af_metrics_tick();
	/* What runs that died left (their empty cgroups, stale pins). */
	if (!(++d->ticks % 30))
		af_fence_gc();
	af_sup_trim(d->sup);
	/* A fence's making leaves free chunks amid the heap (its policy's
	 * text and parse, the compiler's tables, the request), which glibc
	 * gives back only from the heap's top: a second after fences were
	 * made, the free pages go back (100 pods at once: the free pages
	 * amid a heap their fences grew). */
	if (d->made != d->made_trimmed) {
		d->made_trimmed = d->made;
		malloc_trim(0);
	}
	for (df = d->fences; df; df = next) {
		next = df->next;
		if (df->adopted_run && af_cgroup_populated(af_sup_fence_cgroup(df->f)) == 0)
			dfence_close(d, df, -1);
		else if (df->attach && (why = af_attach_ended(meta_of(df->attach))))
			attach_end(d, df, why);
	}
	return 0;
}

int af_daemon_run(const struct af_daemon_opts *o)
{
	struct daemon d = {};
	struct af_ctl_opts co = {
		.path = o->control ? o->control : AF_CTL_SOCK,
		.has_group = o->has_group,
		.group = o->group,
		.on_request = on_request,
		.on_gone = on_gone,
		.ctx = &d,
	};
	char why[512];
	int err, ret = AF_EXIT_SETUP, tick = -1;

	the_daemon = &d;
	/* One malloc arena: the daemon's other threads (the Kubernetes
	 * watches, the stdout writer, the journals' compressor) allocate
	 * now and then, never in a hot loop, and an arena of their own each
	 * kept its own free pages (0.7 MiB of the --kubernetes daemon's RSS
	 * with 100 pods). */
	mallopt(M_ARENA_MAX, 1);
	if (af_sup_open(&d.sup))
		return AF_EXIT_SETUP;
	af_sup_no_gc(d.sup);
	/* One watcher for all the fences, forked while the daemon is small. */
	err = af_watch_share();
	if (err) {
		af_err("cannot start the fences' watcher: %s", strerror(-err));
		goto out;
	}
	af_fence_gc();
	err = af_ctl_listen(&co, af_sup_loop(d.sup), &d.ctl, why, sizeof(why));
	if (err) {
		af_err("cannot listen: %s", why);
		goto out;
	}
	if (o->k8s && af_k8s_node_name(o->k8s, k8s_node, sizeof(k8s_node)))
		goto out;
	d.kube = !!o->k8s;
	if (o->listen) {
		struct af_metrics_src src = { .collect = metrics_collect, .ready = metrics_ready,
					      .ctx = &d };

		err = af_metrics_start(o->listen, &src, af_sup_loop(d.sup), why, sizeof(why));
		if (err) {
			af_err("--listen %s", why);
			goto out;
		}
	}
	/* Before adoption: its gap records go out too. */
	if (o->json_lines) {
		/* AF_JSON_LINES_BYTES: a test's small buffer, to fill it. */
		const char *cap = secure_getenv("AF_JSON_LINES_BYTES");
		unsigned long max = 0;

		if (cap && af_parse_ulong(cap, 1UL << 30, &max))
			max = 0;
		err = af_lines_out_start(STDOUT_FILENO, max);
		if (err) {
			af_err("JSON lines on stdout: %s", strerror(-err));
			goto out;
		}
		d.json_lines = true;
	}
	if (o->adopt)
		adopt_all(&d, NULL, NULL);
	/* After adoption: a pod's fence adopted is found by its cgroup. */
	if (o->k8s && af_k8s_start(o->k8s, af_sup_loop(d.sup)))
		goto out;
	{
		struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };

		tick = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (tick < 0 || timerfd_settime(tick, 0, &its, NULL) ||
		    af_loop_add(af_sup_loop(d.sup), tick, on_tick, &d))
			af_warn("no timer: adopted run fences are not removed when they empty");
	}
	fprintf(stderr, "agentfence daemon: pid %d, listening on %s%s\n", getpid(), co.path,
		o->has_group ? " (root and its group)" : " (root only)");
	if (o->listen)
		fprintf(stderr, "agentfence daemon: /metrics, /healthz, /readyz on http://%s\n",
			o->listen);
	d.serving = true;
	if (o->ready_fd >= 0) {
		if (write(o->ready_fd, "1", 1) != 1) {
			/* The caller is gone; serve all the same. */
		}
		close(o->ready_fd);
	}
	err = af_sup_serve(d.sup);
	if (err < 0) {
		af_err("event loop: %s", strerror(-err));
		ret = AF_EXIT_FAIL;
	} else {
		unsigned int n = 0;

		for (struct dfence *df = d.fences; df; df = df->next)
			n++;
		fprintf(stderr, "agentfence daemon: signal %d: releasing %u fence%s (still enforced; "
			"the next daemon or agentfence status --adopt adopts %s, with a gap record)\n",
			err, n, n == 1 ? "" : "s", n == 1 ? "it" : "them");
		ret = AF_EXIT_OK;
	}
out:
	if (o->k8s)
		af_k8s_stop();
	af_metrics_stop();
	/* The fences stay, enforced and counted, orphaned: a daemon that
	 * stops (an upgrade, a restart) stops no agent. Released before the
	 * socket closes: a run's hang-up would stop its fence. Their
	 * journals get the gap when a reader adopts them. Attached fences
	 * too: their attach record stays for the adopter. */
	while (d.fences)
		dfence_release(&d, d.fences);
	af_ctl_close(d.ctl);
	af_sup_close(d.sup);
	if (tick >= 0)
		close(tick);
	/* After the fences' last records (their release). */
	af_lines_out_stop(2000);
	af_msg_hook = NULL;
	return ret;
}
