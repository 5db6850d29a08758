// SPDX-License-Identifier: GPL-2.0
/*
 * run through the daemon. The split: the daemon makes and holds the
 * fence (cgroup, BPF, DNS stub, journal, stream, death watch) as a
 * "lease" of run's connection; run keeps what belongs to the command
 * (its box, mount namespace, pty, signals, wait status) and starts it in
 * the fence's cgroup exactly as it does alone. The daemon learns the
 * command's pid before the command takes a step (the spawn gate), sends
 * what it has to say (notes, denials, the journal's summary) as events
 * that run prints as its own, and takes the fence down when run says
 * "end" with the exit status. Should run die instead, its connection
 * closes and the daemon stops the fence and journals its end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmds.h"
#include "control.h"
#include "journal.h"
#include "json.h"
#include "json_read.h"
#include "loop.h"
#include "denials.h"
#include "run_remote.h"
#include "util.h"

const char *af_run_control_path(void)
{
	const char *e = getenv("AGENTFENCE_CONTROL");

	if (e && !e[0])
		return NULL;	/* never through a daemon */
	return e ? e : AF_CTL_SOCK;
}

struct remote {
	struct af_sup *sup;
	int fd;
	uint64_t id;
	unsigned int errors;	/* error messages the daemon sent */
	struct af_ctl_reader rd;
	bool gone;
	struct af_denials *den;	/* the daemon's denial lines, as run prints its own */
	bool no_denials;
};

static void on_event(void *ctx, const char *line, size_t len)
{
	struct remote *r = ctx;
	char kind[16];

	char event[16], text[4096];

	if (!json_get_str(line, len, "kind", kind, sizeof(kind)) && !strcmp(kind, "error"))
		r->errors++;
	af_denials_flush(r->den, af_denials_now());
	if (!json_get_str(line, len, "event", event, sizeof(event)) && !strcmp(event, "denial") &&
	    (r->den || r->no_denials)) {
		if (r->den && !json_get_str(line, len, "text", text, sizeof(text)))
			af_denials_add(r->den, text, af_denials_now());
		return;
	}
	af_ctl_print_event(NULL, line, len);
}

static int call(struct remote *r, struct af_ctl_line *l, char **reply)
{
	int err = af_ctl_call(r->fd, l->buf, l->len, on_event, r, 30000, reply);

	free(l->buf);
	l->buf = NULL;
	return err;
}

/* Say the reply's error unless the daemon said it already. */
static int reply_err(struct remote *r, const char *reply)
{
	char why[2048];
	const char *v;
	size_t vl;

	if (!json_find(reply, strlen(reply), "ok", &v, &vl) && vl == 4 && !memcmp(v, "true", 4))
		return 0;
	if (!r->errors) {
		if (json_get_str(reply, strlen(reply), "error", why, sizeof(why)))
			snprintf(why, sizeof(why), "%.200s", reply);
		af_err("the daemon refused the fence: %s", why);
	}
	return strstr(reply, "\"errno\":\"ENOTSUP\"") ? -ENOTSUP : -EIO;
}

static int gate(void *ctx, pid_t child)
{
	struct remote *r = ctx;
	struct af_ctl_line l;
	struct af_json *w;
	char *reply = NULL;
	int err;

	w = af_ctl_line_begin(&l, "started");
	if (!w)
		return -ENOMEM;
	af_json_u64(w, "fence", r->id);
	af_json_i64(w, "pid", child);
	if (af_ctl_line_finish(&l))
		return -ENOMEM;
	err = call(r, &l, &reply);
	if (err) {
		af_err("the daemon did not take the command's pid: %s", strerror(-err));
		return err;
	}
	err = reply_err(r, reply);
	free(reply);
	return err;
}

/* Events while the command runs: denials. */
static int on_socket(void *ctx, int fd, uint32_t events)
{
	struct remote *r = ctx;
	int err;

	(void)fd;
	(void)events;
	err = af_ctl_read(&r->rd);
	if (err && !r->gone) {
		r->gone = true;
		af_loop_del(af_sup_loop(r->sup), r->fd);
		af_warn("the daemon hung up: what the command does now goes unjournaled until a "
			"daemon adopts the fence (its enforcement stays)");
		return 0;
	}
	return 0;
}

int af_run_policy_bytes(const char *file, const struct af_policy *p, char **out, size_t *len)
{
	char hash[AF_SHA256_HEX], *buf = NULL;
	size_t cap = 0, n = 0, k;
	FILE *f;

	if (!file) {
		*out = strndup(af_default_policy, af_default_policy_len);
		*len = af_default_policy_len;
		return *out ? 0 : -ENOMEM;
	}
	f = fopen(file, "re");
	if (!f)
		return -errno;
	for (;;) {
		if (n == cap) {
			char *b = cap < AF_POLICY_MAX_BYTES ? realloc(buf, cap = cap ? 2 * cap : 8192) : NULL;

			if (!b) {
				free(buf);
				fclose(f);
				return -EFBIG;
			}
			buf = b;
		}
		k = fread(buf + n, 1, cap - n, f);
		if (!k)
			break;
		n += k;
	}
	fclose(f);
	/* A pipe (/dev/stdin) reads empty the second time, a file may
	 * have changed: only the very bytes run checked may go. */
	af_sha256_hex(buf, n, hash);
	if (strcmp(hash, p->sha256)) {
		free(buf);
		return -ESTALE;
	}
	*out = buf;
	*len = n;
	return 0;
}

int af_run_remote(struct af_sup *sup, const struct af_run_remote *o, int *exit_code)
{
	struct remote r = { .sup = sup, .fd = -1 };
	struct af_sup_fence *f = NULL;
	char *policy = NULL, *reply = NULL, cgroup[PATH_MAX], why[64];
	const char *path = af_run_control_path(), *home = getenv("HOME");
	unsigned long long id;
	struct af_ctl_line l;
	struct af_json *w;
	size_t plen = 0;
	int err, status, ret = AF_EXIT_SETUP;

	if (!path)
		return -ENOENT;
	err = af_run_policy_bytes(o->policy_file, o->policy, &policy, &plen);
	if (err) {
		af_debug("not through the daemon: the policy's bytes cannot be sent (%s)",
			 err == -ESTALE ? "they read differently now" : strerror(-err));
		return -ENOENT;
	}
	r.fd = af_ctl_connect(path);
	if (r.fd < 0) {
		free(policy);
		if (r.fd != -ENOENT && r.fd != -ECONNREFUSED)
			af_debug("not through the daemon at %s: %s", path, strerror(-r.fd));
		return -ENOENT;
	}
	af_debug("through the daemon at %s", path);
	r.no_denials = o->quiet || o->denials == AF_DENIALS_OFF;
	if (!r.no_denials)
		r.den = af_denials_new(o->denials, stderr);	/* NULL: lines as they come */
	w = af_ctl_line_begin(&l, "create");
	if (!w) {
		err = -ENOMEM;
		goto out;
	}
	af_json_bool(w, "lease", true);
	af_json_strn(w, "policy", policy, plen);
	if (o->policy_file)
		af_json_str(w, "policy_file", o->policy_file);
	af_json_str(w, "workspace", o->workspace);
	if (home && home[0] == '/')
		af_json_str(w, "home", home);
	if (o->journal)
		af_json_str(w, "journal", o->journal);
	else
		af_json_bool(w, "no_journal", true);
	if (o->journal_max)
		af_json_u64(w, "journal_max", o->journal_max);
	af_json_str(w, "backend", af_backend_name(o->backend));
	af_json_bool(w, "strict", o->strict);
	af_json_bool(w, "audit", o->audit);
	af_json_bool(w, "quiet", o->quiet);
	af_json_bool(w, "tty", o->box->pty != NULL);
	af_json_strv(w, "argv", o->argv);
	free(policy);
	policy = NULL;
	if (af_ctl_line_finish(&l)) {
		err = -ENOMEM;
		goto out;
	}
	err = call(&r, &l, &reply);
	if (err) {
		af_err("the daemon at %s did not answer: %s", path, strerror(-err));
		goto out;
	}
	err = reply_err(&r, reply);
	if (err) {
		ret = err == -ENOTSUP ? AF_EXIT_NOFENCE : AF_EXIT_SETUP;
		goto out;
	}
	if (json_get_u64(reply, strlen(reply), "fence", &id) ||
	    json_get_str(reply, strlen(reply), "cgroup", cgroup, sizeof(cgroup))) {
		af_err("the daemon's reply has no fence: %.200s", reply);
		err = -EPROTO;
		goto out;
	}
	r.id = id;
	err = af_sup_fence_remote(sup, cgroup, id, o->box, o->argv, &f);
	if (err)
		goto out;
	af_sup_fence_set_gate(f, gate, &r);
	r.rd = (struct af_ctl_reader){ .fd = r.fd, .on_event = on_event, .ctx = &r };
	fcntl(r.fd, F_SETFL, fcntl(r.fd, F_GETFL) | O_NONBLOCK);
	err = af_loop_add(af_sup_loop(sup), r.fd, on_socket, &r);
	if (err)
		goto out;
	if (af_sup_fence_spawn(f, o->child, o->child_ctx) < 0) {
		err = -ECHILD;
		goto out;
	}
	if (!af_sup_wait(sup, f, &status))
		ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	err = 0;
out:
	if (r.fd >= 0)
		af_loop_del(af_sup_loop(sup), r.fd);
	af_sup_fence_close(f, ret);
	af_denials_end(r.den);
	if (r.id && !r.gone) {
		/* The end: the daemon kills what is left, journals it and
		 * sends the summary. */
		fcntl(r.fd, F_SETFL, fcntl(r.fd, F_GETFL) & ~O_NONBLOCK);
		free(reply);
		reply = NULL;
		w = af_ctl_line_begin(&l, "end");
		if (w) {
			af_json_u64(w, "fence", r.id);
			af_json_i64(w, "exit_code", ret & 0xff);
		}
		if (w && !af_ctl_line_finish(&l) && !call(&r, &l, &reply)) {
			/* Stopped meanwhile (agentfence stop): the daemon
			 * journaled its end already. */
			if (strstr(reply, "\"errno\":\"ENOENT\""))
				af_debug("fence %llu was stopped by the daemon", (unsigned long long)r.id);
			else
				reply_err(&r, reply);	/* as alone: said, the exit status stays */
		} else {
			snprintf(why, sizeof(why), "fence %llu", (unsigned long long)r.id);
			af_err("the daemon did not end %s: it stops it when run's connection closes", why);
		}
	}
	af_ctl_in_free(&r.rd.in);
	af_denials_free(r.den);
	free(r.rd.reply);
	free(reply);
	free(policy);
	if (r.fd >= 0)
		close(r.fd);
	*exit_code = ret;
	return 0;
}
