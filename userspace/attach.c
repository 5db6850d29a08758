// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../bpf/fence.h"
#include "attach.h"
#include "cgroup.h"
#include "fence.h"
#include "fences.h"
#include "json.h"
#include "json_read.h"
#include "journal.h"
#include "policy.h"
#include "recorder.h"
#include "stream.h"
#include "util.h"

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A process of the cgroup (the first listed), 0 for none. */
static pid_t first_pid(const char *cgroup)
{
	char file[PATH_MAX + 16], buf[64];
	unsigned long v;
	char *nl;

	snprintf(file, sizeof(file), "%s/cgroup.procs", cgroup);
	if (af_read_small(file, buf, sizeof(buf)) || !buf[0])
		return 0;
	nl = strchr(buf, '\n');
	if (nl)
		*nl = 0;
	return af_parse_ulong(buf, 1UL << 30, &v) ? 0 : (pid_t)v;
}

int af_attach_cgroup(const char *dir, struct af_attach_meta *m, char *why, size_t n)
{
	char mnt[PATH_MAX], real[PATH_MAX];
	size_t ml;
	int err;

	memset(m, 0, sizeof(*m));
	err = af_cgroup2_mount(mnt, sizeof(mnt));
	if (err) {
		snprintf(why, n, "find the cgroup2 mount: %s", strerror(-err));
		return err;
	}
	if (!realpath(dir, real)) {
		err = -errno;
		snprintf(why, n, "cgroup %s: %s", dir, strerror(errno));
		return err;
	}
	ml = strlen(mnt);
	if (strncmp(real, mnt, ml) || real[ml] != '/') {
		snprintf(why, n, "cgroup %s: not beneath the cgroup2 mount %s (the root cgroup "
			 "cannot be fenced)", dir, mnt);
		return -EINVAL;
	}
	af_strlcpy(m->cgroup, real, sizeof(m->cgroup));
	m->pid = first_pid(real);
	if (!m->pid) {
		snprintf(why, n, "cgroup %s: no process runs in it (attach fences what runs; its "
			 "paths are read in a process's mount namespace)", real);
		return -ESRCH;
	}
	return 0;
}

int af_attach_pid(pid_t pid, struct af_attach_meta *m, char *why, size_t n)
{
	char file[64], buf[8192], mnt[PATH_MAX], *line, *save = NULL;
	int err;

	memset(m, 0, sizeof(*m));
	snprintf(file, sizeof(file), "/proc/%d/cgroup", pid);
	err = af_read_small(file, buf, sizeof(buf));
	if (err) {
		snprintf(why, n, "process %d: %s", pid,
			 err == -ENOENT ? "no such process" : strerror(-err));
		return err == -ENOENT ? -ESRCH : err;
	}
	err = af_cgroup2_mount(mnt, sizeof(mnt));
	if (err) {
		snprintf(why, n, "find the cgroup2 mount: %s", strerror(-err));
		return err;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::/", 4))
			continue;
		if (!strcmp(line + 3, "/")) {
			snprintf(why, n, "process %d is in the root cgroup, which cannot be fenced "
				 "(move it into a cgroup of its own first)", pid);
			return -EINVAL;
		}
		if (snprintf(m->cgroup, sizeof(m->cgroup), "%s%s", mnt, line + 3) >=
		    (int)sizeof(m->cgroup))
			break;
		m->pid = pid;
		return 0;
	}
	snprintf(why, n, "process %d has no cgroup v2 line in %s", pid, file);
	return -ENOENT;
}

int af_attach_container(const char *ref, enum af_runtime rt, const char *ns,
			struct af_attach_meta *m, char *why, size_t n)
{
	struct af_container c;
	int err;

	err = af_container_find(ref, rt, ns, &c, why, n);
	if (err)
		return err;
	memset(m, 0, sizeof(*m));
	af_strlcpy(m->runtime, af_runtime_name(c.e.runtime), sizeof(m->runtime));
	af_strlcpy(m->container, c.e.id, sizeof(m->container));
	af_strlcpy(m->name, c.e.name, sizeof(m->name));
	af_strlcpy(m->cgroup, c.cgroup, sizeof(m->cgroup));
	m->pid = c.e.pid;
	af_strlcpy(m->via, c.via, sizeof(m->via));
	return 0;
}

/* One path as the target sees it. */
struct seen {
	int err;		/* 0, or the errno of realpath() there */
	dev_t dev;
	ino_t ino;
	mode_t mode;
	char path[PATH_MAX];	/* canonical, in the target's root */
};

/* Resolve paths[0..n) in pid's mount namespace and root, in a child
 * (setns and chroot are for a process of its own): realpath() there
 * follows symbolic links inside that root only. Then each is checked
 * from here, through /proc/PID/root: the same file, or -EXDEV (it moved
 * meanwhile). */
static int resolve_in(pid_t pid, char *const *paths, size_t n, struct seen *out, char *why,
		      size_t wn)
{
	char file[64], through[PATH_MAX + 32];
	int rootfd = -1, nsfd = -1, pfd[2] = { -1, -1 }, status, err = 0;
	size_t i, got = 0;
	struct stat st;
	pid_t child;

	snprintf(file, sizeof(file), "/proc/%d/root", pid);
	rootfd = open(file, O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(file, sizeof(file), "/proc/%d/ns/mnt", pid);
	nsfd = rootfd < 0 ? -1 : open(file, O_RDONLY | O_CLOEXEC);
	if (rootfd < 0 || nsfd < 0) {
		err = -errno;
		snprintf(why, wn, "process %d: open %s: %s (did it just exit?)", pid, file,
			 strerror(errno));
		goto out;
	}
	if (pipe2(pfd, O_CLOEXEC)) {
		err = -errno;
		snprintf(why, wn, "pipe: %s", strerror(errno));
		goto out;
	}
	child = fork();
	if (child < 0) {
		err = -errno;
		snprintf(why, wn, "fork: %s", strerror(errno));
		goto out;
	}
	if (!child) {
		close(pfd[0]);
		if (setns(nsfd, CLONE_NEWNS) || fchdir(rootfd) || chroot(".") || chdir("/"))
			_exit(errno & 0xff);
		for (i = 0; i < n; i++) {
			struct seen s = {};
			char *r = realpath(paths[i], NULL);

			if (!r || stat(r, &st)) {
				s.err = errno;
			} else {
				s.dev = st.st_dev;
				s.ino = st.st_ino;
				s.mode = st.st_mode;
				if (af_strlcpy(s.path, r, sizeof(s.path)))
					s.err = ENAMETOOLONG;
			}
			free(r);
			if (write(pfd[1], &s, sizeof(s)) != sizeof(s))
				_exit(EPIPE);
		}
		_exit(0);
	}
	close(pfd[1]);
	pfd[1] = -1;
	while (got < n) {
		ssize_t r = read(pfd[0], &out[got], sizeof(*out));

		if (r < 0 && errno == EINTR)
			continue;
		if (r != sizeof(*out))
			break;
		got++;
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (got < n) {
		err = WIFEXITED(status) && WEXITSTATUS(status) ? -WEXITSTATUS(status) : -EIO;
		snprintf(why, wn, "cannot enter the mount namespace of process %d: %s", pid,
			 strerror(-err));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (out[i].err)
			continue;
		snprintf(through, sizeof(through), "/proc/%d/root%s", pid,
			 strcmp(out[i].path, "/") ? out[i].path : "");
		if (stat(through, &st) || st.st_dev != out[i].dev || st.st_ino != out[i].ino) {
			snprintf(why, wn, "%s (as process %d sees it) changed while it was read",
				 paths[i], pid);
			err = -EXDEV;
			goto out;
		}
	}
out:
	if (rootfd >= 0)
		close(rootfd);
	if (nsfd >= 0)
		close(nsfd);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return err;
}

static void home_of(pid_t pid, char *out, size_t n)
{
	char file[64], *buf, *p;
	size_t len;
	FILE *f;

	af_strlcpy(out, "/", n);
	snprintf(file, sizeof(file), "/proc/%d/environ", pid);
	f = fopen(file, "re");
	if (!f)
		return;
	buf = malloc(65536);
	if (!buf) {
		fclose(f);
		return;
	}
	len = fread(buf, 1, 65535, f);
	fclose(f);
	buf[len] = 0;
	for (p = buf; p < buf + len; p += strlen(p) + 1)
		if (!strncmp(p, "HOME=/", 6) && !has_control(p + 5)) {
			af_strlcpy(out, p + 5, n);
			break;
		}
	free(buf);
}

int af_attach_workspace(struct af_attach_meta *m, const char *ws, char *why, size_t n)
{
	char *paths[1] = { (char *)ws };
	struct seen *s;
	int err;

	if (ws[0] != '/' || has_control(ws)) {
		snprintf(why, n, "workspace %s: must be an absolute path as the target sees it", ws);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	err = resolve_in(m->pid, paths, 1, s, why, n);
	if (!err && s->err) {
		err = -s->err;
		snprintf(why, n, "workspace %s (as process %d sees it): %s", ws, m->pid,
			 strerror(s->err));
	} else if (!err && !S_ISDIR(s->mode)) {
		err = -ENOTDIR;
		snprintf(why, n, "workspace %s (as process %d sees it): not a directory", ws, m->pid);
	} else if (!err && !strcmp(s->path, "/")) {
		err = -EPERM;
		snprintf(why, n, "workspace %s: is the target's /: the fence would let it write "
			 "everywhere (a project directory or a volume)", ws);
	}
	if (!err)
		af_strlcpy(m->workspace, s->path, sizeof(m->workspace));
	free(s);
	if (!err)
		home_of(m->pid, m->home, sizeof(m->home));
	return err;
}

/* Every absolute path rule of p. */
static size_t path_rules(struct af_policy *p, struct af_path_rule **v)
{
	struct { struct af_path_rule *r; size_t n; } lists[] = {
		{ p->writable, p->n_writable }, { p->deny_read, p->n_deny_read },
		{ p->protected, p->n_protected }, { p->unix_allow, p->n_unix_allow },
	};
	size_t k = 0, i, j;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		for (j = 0; j < lists[i].n; j++)
			if (!lists[i].r[j].relative && lists[i].r[j].path[0] == '/') {
				if (v)
					v[k] = &lists[i].r[j];
				k++;
			}
	return k;
}

static int rebase(struct af_policy *p, pid_t pid, char *why, size_t wn)
{
	struct af_path_rule **rules = NULL;
	char **paths = NULL, *np;
	struct seen *s = NULL;
	size_t n = path_rules(p, NULL), i;
	int err = -ENOMEM;

	if (!n)
		return 0;
	if (pid <= 0) {
		/* No target yet (daemon.c, a pod's fence made before its
		 * cgroup): its fence is the network's only (bpf/k8s.bpf.h;
		 * no file hook sees the pod before it is attached): the file
		 * rules go, unix paths stay, missing (nothing resolves in
		 * /proc/0), so that they match nothing. */
		struct { struct af_path_rule *r; size_t *n; } drop[] = {
			{ p->writable, &p->n_writable }, { p->deny_read, &p->n_deny_read },
			{ p->protected, &p->n_protected },
		};

		for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
			for (size_t j = 0; j < *drop[i].n; j++) {
				free(drop[i].r[j].path);
				free(drop[i].r[j].raw);
				drop[i].r[j].path = drop[i].r[j].raw = NULL;
			}
			*drop[i].n = 0;
		}
		n = path_rules(p, NULL);
		err = 0;
		if (!n)
			goto out;
		err = -ENOMEM;
		rules = calloc(n, sizeof(*rules));
		if (!rules)
			goto out;
		path_rules(p, rules);
		for (i = 0; i < n; i++) {
			/* /proc/0 is no process: nothing resolves there. */
			if (asprintf(&np, "/proc/0/root%s", rules[i]->path) < 0)
				goto out;
			free(rules[i]->path);
			rules[i]->path = np;
			rules[i]->exists = false;
		}
		err = 0;
		goto out;
	}
	rules = calloc(n, sizeof(*rules));
	paths = calloc(n, sizeof(*paths));
	s = calloc(n, sizeof(*s));
	if (!rules || !paths || !s)
		goto out;
	path_rules(p, rules);
	for (i = 0; i < n; i++)
		paths[i] = rules[i]->path;
	err = resolve_in(pid, paths, n, s, why, wn);
	if (err)
		goto out;
	for (i = 0; i < n; i++) {
		/* Missing there: stays missing (never the host's file). */
		const char *in = s[i].err ? rules[i]->path : s[i].path;

		if (asprintf(&np, "/proc/%d/root%s", pid, strcmp(in, "/") ? in : "") < 0) {
			err = -ENOMEM;
			goto out;
		}
		free(rules[i]->path);
		rules[i]->path = np;
		rules[i]->exists = !s[i].err;
	}
out:
	if (err == -ENOMEM && !why[0])
		snprintf(why, wn, "out of memory");
	free(rules);
	free(paths);
	free(s);
	return err;
}

int af_attach_policy(const void *bytes, size_t len, const char *file,
		     const struct af_attach_meta *m, struct af_policy **out, char *err, size_t n)
{
	char why[AF_ERR_MAX], root[64];
	struct af_policy_vars vars = { .workspace = m->workspace, .home = m->home, .root = root,
				       .unresolved = m->pid <= 0 };
	int ret;

	snprintf(root, sizeof(root), "/proc/%d/root", m->pid);
	why[0] = 0;
	ret = af_policy_load_buf(bytes, len, file ? file : "<built-in coding-agent policy>", &vars,
				 out, why);
	if (ret) {
		af_strlcpy(err, why, n);
		return ret;
	}
	/* Everything its processes hold was opened before the fence. */
	(*out)->judge_fds = true;
	why[0] = 0;
	ret = rebase(*out, m->pid, why, sizeof(why));
	if (ret) {
		snprintf(err, n, "the policy's paths in process %d's mount namespace: %s", m->pid, why);
		af_policy_free(*out);
		*out = NULL;
	}
	return ret;
}

static void meta_path(uint64_t id, char *out, size_t n)
{
	snprintf(out, n, AF_ATTACH_META_DIR "/%llu.json", (unsigned long long)id);
}

static void attach_meta_fill(struct af_json *w, const void *ctx)
{
	const struct af_attach_meta *m = ctx;

	af_json_object(w, NULL);
	af_json_u64(w, "id", m->id);
	af_json_str(w, "runtime", m->runtime);
	af_json_str(w, "container", m->container);
	af_json_str(w, "name", m->name);
	af_json_i64(w, "pid", m->pid);
	af_json_i64(w, "attacher", m->attacher);
	af_json_str(w, "cgroup", m->cgroup);
	af_json_str(w, "workspace", m->workspace);
	af_json_str(w, "home", m->home);
	af_json_end(w);
}

int af_attach_meta_write(const struct af_attach_meta *m)
{
	char path[PATH_MAX];

	if ((mkdir(AF_RUN_DIR, 0700) && errno != EEXIST) ||
	    (mkdir(AF_ATTACH_META_DIR, 0700) && errno != EEXIST))
		return -errno;
	meta_path(m->id, path, sizeof(path));
	return af_json_file_write(path, attach_meta_fill, m);
}

int af_attach_meta_read(uint64_t id, struct af_attach_meta *m)
{
	char path[PATH_MAX], buf[4 * PATH_MAX + 1024];
	unsigned long long v;
	size_t len;
	FILE *f;

	memset(m, 0, sizeof(*m));
	m->id = id;
	meta_path(id, path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return -errno;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = 0;
	json_get_str(buf, len, "runtime", m->runtime, sizeof(m->runtime));
	json_get_str(buf, len, "container", m->container, sizeof(m->container));
	json_get_str(buf, len, "name", m->name, sizeof(m->name));
	json_get_str(buf, len, "cgroup", m->cgroup, sizeof(m->cgroup));
	json_get_str(buf, len, "workspace", m->workspace, sizeof(m->workspace));
	json_get_str(buf, len, "home", m->home, sizeof(m->home));
	if (!json_get_u64(buf, len, "pid", &v))
		m->pid = (pid_t)v;
	if (!json_get_u64(buf, len, "attacher", &v))
		m->attacher = (pid_t)v;
	return m->pid > 0 && m->cgroup[0] ? 0 : -EINVAL;
}

void af_attach_meta_remove(uint64_t id)
{
	char path[PATH_MAX];

	meta_path(id, path, sizeof(path));
	unlink(path);
}

void af_attach_describe(const struct af_attach_meta *m, char *out, size_t n)
{
	if (m->container[0])
		snprintf(out, n, "%s container %s (%.12s)", m->runtime, m->name, m->container);
	else
		snprintf(out, n, "cgroup %s (process %d)", m->cgroup, m->pid);
}

const char *af_attach_ended(const struct af_attach_meta *m)
{
	uint64_t id = af_cgroup_id(m->cgroup);

	if (!id || id != m->id)
		return m->container[0] ? "container exited (its cgroup is gone)" : "cgroup removed";
	/* pid 0: a cgroup nothing is to run in (k8s.c's fence of a pod whose
	 * cgroup is not made yet): it ends when it is removed. */
	if (m->pid && af_cgroup_populated(m->cgroup) == 0)
		return m->container[0] ? "container exited (its cgroup is empty)" : "cgroup empty";
	return NULL;
}

int af_attach_tag(const struct af_attach_meta *m, char **out)
{
	struct af_obuf b = {};
	struct af_json w;

	*out = NULL;
	if (!m->container[0])
		return 0;
	af_json_resume_buf(&w, &b);
	af_json_object(&w, "container");
	af_json_str(&w, "runtime", m->runtime);
	/* The short id (docker ps's) keeps each record small: the hash
	 * covers every byte. The full id is in the attach record. */
	af_json_strn(&w, "id", m->container, strnlen(m->container, 12));
	af_json_str(&w, "name", m->name);
	af_json_end(&w);
	return af_obuf_cstr(&b, out);
}

int af_attach_journal(struct af_journal *j, const char *type, const struct af_attach_meta *m,
		      const char *reason)
{
	struct af_json *w;

	if (!j)
		return 0;
	w = af_journal_begin(j, type, NULL);
	if (!w)
		return -ENOMEM;
	af_json_u64(w, "fence_id", m->id);
	/* A tagged journal's records carry the container (its short
	 * id) already: the full one goes beside it. */
	if (m->container[0]) {
		af_json_object(w, af_journal_tagged(j) ? "attached_to" : "container");
		af_json_str(w, "runtime", m->runtime);
		af_json_str(w, "id", m->container);
		af_json_str(w, "name", m->name);
		af_json_end(w);
	}
	af_json_str(w, "cgroup", m->cgroup);
	af_json_i64(w, "pid", m->pid);
	if (reason)
		af_json_str(w, "reason", reason);
	else
		af_json_str(w, "workspace", m->workspace);
	return af_journal_commit(j);
}

/* The events the kernel kept for an orphan, into its journal. */
struct orphan_read {
	struct af_recorder *r;
	uint64_t kept;
};

static void orphan_event(void *ctx, const void *data, size_t size)
{
	struct orphan_read *o = ctx;

	o->kept++;
	af_recorder_event(o->r, data, size);
}

/* What its watcher froze when the supervisor died runs on, unfenced
 * (as after any detach). */
static void thaw(const char *cgroup)
{
	char file[PATH_MAX + 16];
	int fd;

	snprintf(file, sizeof(file), "%s/cgroup.freeze", cgroup);
	fd = open(file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;	/* gone with its container */
	if (write(fd, "0", 1) != 1)
		af_warn("cannot thaw %s: %s", cgroup, strerror(errno));
	close(fd);
}

int af_attach_end_orphan(const struct af_fence_info *fi, const struct af_attach_meta *m,
			 const char *reason, char *why, size_t n)
{
	static char *const no_argv[] = { NULL };
	struct af_policy_vars vars = { 0 };
	struct orphan_read o = { 0 };
	struct af_policy *p = NULL;
	struct af_fence *f = NULL;
	struct af_sup_meta sm;
	char err[AF_ERR_MAX], *bytes = NULL, *tag = NULL, effect[192];
	uint64_t lost = 0, total;
	struct af_json *w;
	size_t len = 0;
	int ret;

	why[0] = 0;
	if (!fi->journal[0]) {	/* --no-journal: nothing to close */
		ret = af_fence_detach(fi->id, why, n);
		if (!ret)
			thaw(m->cgroup);
		return ret;
	}
	ret = af_sup_meta_read(fi->id, &sm);
	if (ret) {
		snprintf(why, n, "no record of its workspace (%s/%llu.json): %s", AF_SUP_META_DIR,
			 (unsigned long long)fi->id, strerror(-ret));
		return ret;
	}
	ret = af_fence_policy_bytes(fi->id, &bytes, &len);
	if (ret) {
		snprintf(why, n, "its policy was not stored with it: %s", strerror(-ret));
		return ret;
	}
	/* Read for what the records need (events, capabilities), not to
	 * resolve: the paths are the container's. */
	vars.workspace = sm.workspace;
	vars.home = sm.home[0] ? sm.home : "/";
	vars.unresolved = true;	/* its container may be gone: paths are its business */
	ret = af_policy_load_buf(bytes, len, sm.policy_file[0] ? sm.policy_file : "<stored policy>",
				 &vars, &p, err);
	free(bytes);
	if (ret) {
		snprintf(why, n, "its stored policy: %s", err);
		return ret;
	}
	ret = af_attach_tag(m, &tag);
	if (ret) {
		snprintf(why, n, "its container's tag: %s", strerror(-ret));
		goto out;
	}
	{
		struct af_recorder_opts ro = {
			.journal = fi->journal, .policy = p, .backend = fi->backend,
			.workspace = sm.workspace, .cgroup = m->cgroup, .fence_id = fi->id,
			.argv = no_argv, .process_events = true, .resume = true, .tag = tag,
		};

		ret = af_recorder_open(&ro, &o.r, err, sizeof(err));
		if (ret) {
			snprintf(why, n, "resume its journal %s: %s", fi->journal, err);
			goto out;
		}
	}
	/* What the kernel kept while nobody read goes in first, then the
	 * gap (as an adoption's), the end of the attach and fence_end. */
	ret = af_fence_adopt(fi->id, orphan_event, &o, &f, &lost, err, sizeof(err));
	if (ret) {
		snprintf(why, n, "read what its kernel side kept: %s", err);
		af_recorder_free(o.r);
		o.r = NULL;
		goto out;
	}
	while (af_fence_consume(f) > 0)
		;
	total = af_fence_counter(f, AF_CNT_RB_DROP);
	lost = total - af_fence_acked(f);
	af_recorder_lost_base(o.r, total);
	w = af_journal_begin(af_recorder_journal(o.r), "gap", NULL);
	if (w) {
		af_json_u64(w, "fence_id", fi->id);
		af_json_u64(w, "lost", lost);
		af_json_u64(w, "kept", o.kept);
		af_json_i64(w, "supervisor_pid", fi->supervisor);
		af_json_i64(w, "adopted_by", getpid());
		snprintf(effect, sizeof(effect), "orphaned fence closed: %llu events lost while nobody "
			 "read, %llu kept by the kernel", (unsigned long long)lost,
			 (unsigned long long)o.kept);
		af_json_str(w, "effect", effect);
		af_journal_commit(af_recorder_journal(o.r));
	}
	ret = af_attach_journal(af_recorder_journal(o.r), "attach_end", m, reason);
	af_fence_remove(f);
	f = NULL;
	thaw(m->cgroup);
	if (af_recorder_close(o.r, 0, true) && !ret)
		ret = -EIO;
	o.r = NULL;
	if (ret)
		snprintf(why, n, "journal %s: %s", fi->journal, strerror(-ret));
out:
	free(tag);
	af_policy_free(p);
	return ret;
}
