// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <limits.h>

#include "cmds.h"
#include "fence.h"
#include "control.h"
#include "fences.h"
#include "attach.h"
#include "json.h"
#include "json_read.h"
#include "daemon.h"
#include "util.h"

const char af_usage_status[] =
	"Usage: agentfence status [OPTIONS]\n"
	"\n"
	"List every fence on this node: those a daemon holds (with its counters), those\n"
	"a run holds alone, and orphaned ones, whose supervisor died while their\n"
	"enforcement stays (their pins). Works with and without a daemon.\n"
	"\n"
	"      --json             one JSON object: {\"daemon\":PID or 0,\"fences\":[...]}\n"
	"      --adopt            adopt orphaned fences first: the daemon does, or with no\n"
	"                         daemon this command does (journals what the kernel kept\n"
	"                         and the gap, then leaves them orphaned again)\n"
	"      --control PATH     the daemon's control socket (default: " AF_CTL_SOCK ")\n";

struct row {
	struct {
		uint64_t id;
		char cgroup[PATH_MAX];
		char policy[128];
		char sha256[72];	/* json_get_str keeps room for a UTF-8 sequence */
		char backend[16];
		char journal[PATH_MAX];
		pid_t supervisor, client;
		bool pinned, orphaned;
	} m;
	bool counted;		/* counters known */
	bool from_daemon;
	unsigned long long events, denied, dropped;
};

struct rows {
	struct row *v;
	size_t n, cap;
	pid_t daemon;
};

static struct row *add(struct rows *r)
{
	struct row *v;

	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		v = realloc(r->v, r->cap * sizeof(*v));
		if (!v)
			return NULL;
		r->v = v;
	}
	memset(&r->v[r->n], 0, sizeof(r->v[0]));
	return &r->v[r->n++];
}

static struct row *find(struct rows *r, uint64_t id)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->v[i].m.id == id)
			return &r->v[i];
	return NULL;
}

/* The daemon's fences, from its status reply: {"fences":[{...},...]}. */
static int from_daemon(struct rows *r, const char *reply)
{
	const char *v, *p, *end;
	unsigned long long x;
	size_t vl, len;
	struct row *row;
	int depth;

	if (!json_get_u64(reply, strlen(reply), "daemon", &x))
		r->daemon = (pid_t)x;
	if (json_find(reply, strlen(reply), "fences", &v, &vl) || vl < 2 || v[0] != '[')
		return -EINVAL;
	end = v + vl;
	for (p = v + 1; p < end; p++) {
		const char *o;

		if (*p != '{')
			continue;
		/* Strings in the objects may hold braces: skip them. */
		for (o = p, depth = 0; p < end; p++) {
			if (*p == '"') {
				for (p++; p < end && *p != '"'; p++)
					if (*p == '\\')
						p++;
			} else if (*p == '{') {
				depth++;
			} else if (*p == '}' && !--depth) {
				break;
			}
		}
		len = p - o + 1;
		row = add(r);
		if (!row)
			return -ENOMEM;
		json_get_u64(o, len, "id", &x);
		row->m.id = x;
		json_get_str(o, len, "cgroup", row->m.cgroup, sizeof(row->m.cgroup));
		json_get_str(o, len, "policy", row->m.policy, sizeof(row->m.policy));
		json_get_str(o, len, "sha256", row->m.sha256, sizeof(row->m.sha256));
		json_get_str(o, len, "backend", row->m.backend, sizeof(row->m.backend));
		json_get_str(o, len, "journal", row->m.journal, sizeof(row->m.journal));
		if (!json_get_u64(o, len, "supervisor", &x))
			row->m.supervisor = (pid_t)x;
		if (!json_get_u64(o, len, "client", &x))
			row->m.client = (pid_t)x;
		json_get_u64(o, len, "events", &row->events);
		json_get_u64(o, len, "denied", &row->denied);
		json_get_u64(o, len, "dropped", &row->dropped);
		row->counted = true;
		row->from_daemon = true;
	}
	return 0;
}

/* Every fence of the node, from its pins (and the node's metadata). */
static int from_node(struct rows *r)
{
	struct af_fence_info *v = NULL;
	struct af_sup_meta sm;
	struct row *row;
	size_t n = 0, i;
	int err;

	err = af_fence_list(&v, &n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		row = find(r, v[i].id);
		if (row) {
			row->m.pinned = true;
			continue;
		}
		row = add(r);
		if (!row) {
			free(v);
			return -ENOMEM;
		}
		row->m.id = v[i].id;
		row->m.pinned = true;
		af_strlcpy(row->m.cgroup, v[i].cgroup, sizeof(row->m.cgroup));
		af_strlcpy(row->m.policy, v[i].policy_name, sizeof(row->m.policy));
		af_strlcpy(row->m.sha256, v[i].policy_sha256, sizeof(row->m.sha256));
		af_strlcpy(row->m.backend, v[i].backend == AF_BACKEND_NONE ? "" :
			   af_backend_name(v[i].backend), sizeof(row->m.backend));
		af_strlcpy(row->m.journal, v[i].journal, sizeof(row->m.journal));
		row->m.supervisor = v[i].supervisor;
		row->m.orphaned = !v[i].supervisor_alive;
		if (!af_sup_meta_read(v[i].id, &sm))
			row->m.client = sm.client;
		if (v[i].this_build) {
			row->counted = true;
			row->events = v[i].events;
			row->dropped = v[i].drops;
			row->denied = ULLONG_MAX;	/* the node counts denials for all fences */
		}
	}
	free(v);
	return 0;
}

/* A fence of attach's: what it is attached to (attach.h). */
static void attached_json(struct af_json *w, uint64_t id)
{
	struct af_attach_meta m;

	if (af_attach_meta_read(id, &m))
		return;
	af_json_object(w, "attached");
	if (m.container[0]) {
		af_json_str(w, "runtime", m.runtime);
		af_json_str(w, "container", m.container);
		af_json_str(w, "name", m.name);
	}
	af_json_i64(w, "pid", m.pid);
	af_json_str(w, "workspace", m.workspace);
	af_json_end(w);
}

static void attached_line(uint64_t id)
{
	struct af_attach_meta m;
	char what[512];

	if (af_attach_meta_read(id, &m))
		return;
	af_attach_describe(&m, what, sizeof(what));
	printf("%-8s attached to %s, workspace %s\n", "", what, m.workspace);
}

static void print_json(const struct rows *r)
{
	struct af_json w;
	size_t i;

	af_json_init(&w, stdout);
	af_json_object(&w, NULL);
	af_json_i64(&w, "daemon", r->daemon);
	af_json_array(&w, "fences");
	for (i = 0; i < r->n; i++) {
		const struct row *x = &r->v[i];

		af_json_object(&w, NULL);
		af_json_u64(&w, "id", x->m.id);
		af_json_str(&w, "cgroup", x->m.cgroup);
		af_json_str(&w, "policy", x->m.policy);
		af_json_str(&w, "sha256", x->m.sha256);
		af_json_str(&w, "backend", x->m.backend);
		if (x->m.orphaned)
			af_json_str(&w, "supervisor", "orphaned");
		else
			af_json_i64(&w, "supervisor", x->m.supervisor);
		af_json_i64(&w, "client", x->m.client);
		af_json_bool(&w, "pinned", x->m.pinned);
		af_json_str(&w, "journal", x->m.journal);
		attached_json(&w, x->m.id);
		if (x->counted) {
			af_json_object(&w, "counters");
			af_json_u64(&w, "events", x->events);
			if (x->denied != ULLONG_MAX)
				af_json_u64(&w, "denied", x->denied);
			af_json_u64(&w, "dropped", x->dropped);
			af_json_end(&w);
		}
		af_json_end(&w);
	}
	af_json_end(&w);
	af_json_end(&w);
	putchar('\n');
}

static void print_table(const struct rows *r)
{
	char sup[48], pol[300], cnt[64];
	size_t i;

	if (r->daemon)
		printf("daemon: pid %d\n", r->daemon);
	else
		printf("daemon: none\n");
	if (!r->n) {
		printf("no fences\n");
		return;
	}
	printf("%-8s %-16s %-10s %-28s %-22s %s\n", "FENCE", "SUPERVISOR", "BACKEND", "POLICY",
	       "EVENTS/DENIED/LOST", "CGROUP / JOURNAL");
	for (i = 0; i < r->n; i++) {
		const struct row *x = &r->v[i];

		if (x->m.orphaned)
			snprintf(sup, sizeof(sup), "orphaned");
		else if (x->m.client)
			snprintf(sup, sizeof(sup), "%d (run %d)", x->m.supervisor, x->m.client);
		else
			snprintf(sup, sizeof(sup), "%d", x->m.supervisor);
		snprintf(pol, sizeof(pol), "%s@%.12s", x->m.policy[0] ? x->m.policy : "?",
			 x->m.sha256[0] ? x->m.sha256 : "?");
		if (x->counted && x->denied != ULLONG_MAX)
			snprintf(cnt, sizeof(cnt), "%llu/%llu/%llu", x->events, x->denied, x->dropped);
		else if (x->counted)
			snprintf(cnt, sizeof(cnt), "%llu/-/%llu", x->events, x->dropped);
		else
			snprintf(cnt, sizeof(cnt), "-");
		printf("%-8llu %-16s %-10s %-28s %-22s %s%s\n", (unsigned long long)x->m.id, sup,
		       x->m.backend[0] ? x->m.backend : "?", pol, cnt,
		       x->m.cgroup[0] ? x->m.cgroup : "?", x->m.pinned ? "" : " (no pins)");
		if (x->m.journal[0])
			printf("%-8s %s\n", "", x->m.journal);
		attached_line(x->m.id);
	}
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "adopt", no_argument, NULL, 'a' },
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *control = NULL;
	bool json = false, adopt = false;
	struct rows r = {};
	struct af_ctl_line l;
	char *reply = NULL;
	int c, err, ret = AF_EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			af_json_errors = true;
			break;
		case 'a':
			adopt = true;
			break;
		case 'c':
			control = optarg;
			break;
		case 'h':
			fputs(af_usage_status, stdout);
			return AF_EXIT_OK;
		default:
			fputs(af_usage_status, stderr);
			return AF_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		af_err("unexpected argument '%s' (see agentfence status --help)", argv[optind]);
		return AF_EXIT_USAGE;
	}
	if (adopt) {
		if (!af_ctl_line_begin(&l, "adopt") || af_ctl_line_finish(&l))
			return AF_EXIT_FAIL;
		err = af_ctl_ask(control, l.buf, l.len, &reply);
		free(l.buf);
		if (err == -ENOENT || err == -ECONNREFUSED) {
			/* No daemon: adopt here, journal, and let go. */
			err = af_daemon_adopt_once();
			if (err) {
				af_err("--adopt: %s", strerror(-err));
				return AF_EXIT_FAIL;
			}
		} else if (err) {
			af_err("--adopt: %s", strerror(-err));
			return AF_EXIT_FAIL;
		}
		if (reply && af_ctl_reply_ok(reply))
			ret = AF_EXIT_FAIL;
		free(reply);
		reply = NULL;
	}
	if (!af_ctl_line_begin(&l, "status") || af_ctl_line_finish(&l))
		return AF_EXIT_FAIL;
	err = af_ctl_ask(control, l.buf, l.len, &reply);
	free(l.buf);
	if (!err && !af_ctl_reply_ok(reply) && from_daemon(&r, reply))
		af_warn("the daemon's status reply could not be read");
	else if (err && err != -ENOENT && err != -ECONNREFUSED)
		af_warn("the daemon at %s does not answer: %s (listing from the pins)",
			control ? control : AF_CTL_SOCK, strerror(-err));
	free(reply);
	err = from_node(&r);
	if (err) {
		af_err("cannot list the node's fences: %s", strerror(-err));
		free(r.v);
		return AF_EXIT_FAIL;
	}
	if (json)
		print_json(&r);
	else
		print_table(&r);
	free(r.v);
	return ret;
}
