// SPDX-License-Identifier: GPL-2.0
/*
 * The Kubernetes node agent. Two threads list and watch the API (the
 * policies' ConfigMaps, then the pods bound to this node), the way
 * client-go's reflectors do: list, watch from the list's resourceVersion,
 * resume a watch that ends from the last version seen, relist on 410 Gone,
 * and after a lost connection reconnect with bounded exponential backoff
 * and relist: the list is the whole state, so the daemon reconciles and
 * no pod is lost across an outage (one deleted meanwhile is detached).
 * What they read goes, as jansson objects, through a queue to the
 * daemon's loop, which alone touches fences (daemon.h). A ConfigMap's
 * list is handed over before the pods' list, so pods are never fenced
 * deny-all for a policy that was only not read yet.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include <bpf/bpf.h>

#include "cgroup.h"
#include "control_proto.h"
#include "daemon.h"
#include "fence.h"
#include "http.h"
#include "journal.h"
#include "json.h"
#include "k8s.h"
#include "k8s_cgroup.h"
#include "k8s_held.h"
#include "loop.h"
#include "policy.h"
#include "util.h"
#include "../bpf/fence.h"

const char af_k8s_deny_all[] =
	"apiVersion: agentfence/v1\n"
	"kind: Policy\n"
	"metadata:\n"
	"  name: deny-all\n"
	"spec:\n"
	"  mode: enforce\n"
	"  filesystem:\n"
	"    writable: [/dev/null]\n"
	"  network:\n"
	"    allow: []\n"
	"    unix:\n"
	"      allow: []\n";

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define CRED_DIR "/run/agentfence/k8s"
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000

/* ---- credentials ---- */

struct api {
	char server[512];
	char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	char *token;
	bool insecure;
};

/* A YAML document as jansson values (every scalar a string): a kubeconfig
 * is read with the same accessors as the API's JSON. */
static json_t *yaml_node(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	json_t *v;

	if (!n || depth > 32)
		return NULL;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return json_stringn((const char *)n->data.scalar.value, n->data.scalar.length);
	case YAML_SEQUENCE_NODE:
		v = json_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start; v && i < n->data.sequence.items.top; i++)
			json_array_append_new(v, yaml_node(doc, yaml_document_get_node(doc, *i), depth + 1));
		return v;
	case YAML_MAPPING_NODE:
		v = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; v && p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);

			if (k && k->type == YAML_SCALAR_NODE)
				json_object_set_new(v, (const char *)k->data.scalar.value,
						    yaml_node(doc, yaml_document_get_node(doc, p->value), depth + 1));
		}
		return v;
	default:
		return NULL;
	}
}

static json_t *yaml_file(const char *path, char *why, size_t n)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	json_t *v = NULL;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(why, n, "%s: %s", path, strerror(errno));
		return NULL;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(why, n, "%s:%zu: %s", path, parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "not YAML");
	} else {
		v = yaml_node(&doc, yaml_document_get_root_node(&doc), 0);
		if (!v)
			snprintf(why, n, "%s: empty", path);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return v;
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The entry of a kubeconfig list (clusters, users, contexts) named name. */
static json_t *named(json_t *cfg, const char *list, const char *name, const char *inner)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(cfg, list), i, e)
		if (name && jstr(e, "name") && !strcmp(jstr(e, "name"), name))
			return json_object_get(e, inner);
	return NULL;
}

/* A path of the kubeconfig (relative to its directory), or its *-data
 * (base64) written to CRED_DIR/name, 0600. */
static int cred_file(const char *cfgdir, json_t *o, const char *key, const char *name, char *out,
		     size_t n, char *why, size_t wn)
{
	char datakey[64];
	const char *path = jstr(o, key), *b64;
	unsigned char *raw;
	size_t len;
	int fd, dl;

	out[0] = 0;
	if (path) {
		snprintf(out, n, "%s%s%s", path[0] == '/' ? "" : cfgdir, path[0] == '/' ? "" : "/", path);
		return 0;
	}
	snprintf(datakey, sizeof(datakey), "%s-data", key);
	b64 = jstr(o, datakey);
	if (!b64)
		return 0;
	len = strlen(b64);
	raw = malloc(len + 4);
	if (!raw)
		return -ENOMEM;
	dl = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
	if (dl < 0) {
		free(raw);
		snprintf(why, wn, "%s: not base64", datakey);
		return -EINVAL;
	}
	while (len && b64[len - 1] == '=') {	/* DecodeBlock counts the padding */
		dl--;
		len--;
	}
	mkdir("/run/agentfence", 0755);
	mkdir(CRED_DIR, 0700);
	snprintf(out, n, CRED_DIR "/%s", name);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, raw, dl) != dl) {
		snprintf(why, wn, "%s: %s", out, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(raw);
		return -EIO;
	}
	close(fd);
	free(raw);
	return 0;
}

static char *read_token(const char *path, char *why, size_t n)
{
	char buf[8192];
	int err = af_read_small(path, buf, sizeof(buf));

	if (err) {
		snprintf(why, n, "token %s: %s", path, strerror(-err));
		return NULL;
	}
	buf[strcspn(buf, "\r\n")] = 0;
	return strdup(buf);
}

static int api_kubeconfig(struct api *a, const char *path, char *why, size_t n)
{
	char dir[PATH_MAX], *slash;
	json_t *cfg, *ctx, *cl, *user;
	const char *cur, *server, *tf;
	int err = -EINVAL;

	cfg = yaml_file(path, why, n);
	if (!cfg)
		return -EINVAL;
	af_strlcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		strcpy(dir, ".");
	cur = jstr(cfg, "current-context");
	ctx = named(cfg, "contexts", cur, "context");
	cl = named(cfg, "clusters", ctx ? jstr(ctx, "cluster") : NULL, "cluster");
	user = named(cfg, "users", ctx ? jstr(ctx, "user") : NULL, "user");
	server = cl ? jstr(cl, "server") : NULL;
	if (!server) {
		snprintf(why, n, "%s: no server for current-context %s", path, cur ? cur : "(none)");
		goto out;
	}
	af_strlcpy(a->server, server, sizeof(a->server));
	a->server[strcspn(a->server, "\n")] = 0;
	if (a->server[0] && a->server[strlen(a->server) - 1] == '/')
		a->server[strlen(a->server) - 1] = 0;
	a->insecure = jstr(cl, "insecure-skip-tls-verify") &&
		      !strcmp(jstr(cl, "insecure-skip-tls-verify"), "true");
	if (cred_file(dir, cl, "certificate-authority", "ca.crt", a->ca, sizeof(a->ca), why, n))
		goto out;
	if (user && (cred_file(dir, user, "client-certificate", "client.crt", a->cert, sizeof(a->cert), why, n) ||
		     cred_file(dir, user, "client-key", "client.key", a->key, sizeof(a->key), why, n)))
		goto out;
	if (user && jstr(user, "token"))
		a->token = strdup(jstr(user, "token"));
	else if (user && (tf = jstr(user, "tokenFile")) && !(a->token = read_token(tf, why, n)))
		goto out;
	err = 0;
out:
	json_decref(cfg);
	return err;
}

static int api_in_cluster(struct api *a, char *why, size_t n)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");

	if (!host || !*host) {
		snprintf(why, n, "not in a pod (no KUBERNETES_SERVICE_HOST) and no --kubeconfig or "
			 "$KUBECONFIG");
		return -ENOENT;
	}
	snprintf(a->server, sizeof(a->server), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
		 host, port && *port ? port : "443");
	snprintf(a->ca, sizeof(a->ca), SA_DIR "/ca.crt");
	a->token = read_token(SA_DIR "/token", why, n);
	return a->token ? 0 : -ENOENT;
}

/* ---- requests ---- */

static struct {
	struct api api;
	char node[256], ns[256], journal_dir[PATH_MAX], mnt[PATH_MAX];
	int efd, tick;
	struct af_loop *loop;
	pthread_mutex_t lock;
	struct msg *head, **tail;
	bool stopping;
	unsigned long reconnects;
	pthread_t thr;
	bool cms_listed;	/* the pods' list waits for the ConfigMaps' */
	pthread_cond_t listed;
} k = { .efd = -1, .tick = -1, .lock = PTHREAD_MUTEX_INITIALIZER, .listed = PTHREAD_COND_INITIALIZER };

static int api_do(const char *method, const char *path, const char *body, long timeout_ms,
		  int (*on_data)(const char *, size_t, void *), void *ctx, long *status, char **out,
		  char *why, size_t n)
{
	static const char *const json_hdrs[] = { "Accept: application/json",
						 "Content-Type: application/json", NULL };
	char url[2048];
	struct af_http_req r = {
		.method = method,
		.url = url,
		.headers = json_hdrs,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.ca_file = k.api.ca[0] ? k.api.ca : NULL,
		.client_cert = k.api.cert[0] ? k.api.cert : NULL,
		.client_key = k.api.key[0] ? k.api.key : NULL,
		.bearer_token = k.api.token,
		.timeout_ms = timeout_ms,
		.on_data = on_data,
		.ctx = ctx,
		.insecure = k.api.insecure,
	};

	snprintf(url, sizeof(url), "%s%s", k.api.server, path);
	return af_http_do(&r, status, out, NULL, why, n);
}

/* ---- the queue to the loop ---- */

enum { M_CM, M_POD };
enum { M_LIST, M_ADDED, M_MODIFIED, M_DELETED };

struct msg {
	int kind, type;
	json_t *obj;		/* the object; M_LIST: the items */
	struct msg *next;
};

static void push(int kind, int type, json_t *obj)
{
	struct msg *m = calloc(1, sizeof(*m));
	uint64_t one = 1;

	if (!m) {
		json_decref(obj);
		return;
	}
	m->kind = kind;
	m->type = type;
	m->obj = obj;
	pthread_mutex_lock(&k.lock);
	*k.tail = m;
	k.tail = &m->next;
	pthread_mutex_unlock(&k.lock);
	if (write(k.efd, &one, sizeof(one)) != sizeof(one)) {
		/* the counter is full: the loop is awake anyway */
	}
}

/* ---- the reflectors (threads) ---- */

/* The threads' messages: to stderr, never through af_msg_hook (the
 * loop's, which may be talking to a client). */
static void tlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tlog(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "agentfence daemon: warning: %s\n", buf);
}

struct watch_buf {
	int kind;
	char *line;
	size_t len, cap;
	char rv[64];
	bool gone;		/* 410: relist */
};

static void watch_event(struct watch_buf *w, const char *line, size_t len)
{
	json_error_t e;
	json_t *ev = json_loadb(line, len, 0, &e), *obj;
	const char *type, *rv;
	int t;

	if (!ev)
		return;
	type = jstr(ev, "type");
	obj = json_object_get(ev, "object");
	rv = obj ? jstr(json_object_get(obj, "metadata"), "resourceVersion") : NULL;
	if (type && !strcmp(type, "ERROR")) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));

		if (code == 410)
			w->gone = true;
		else
			tlog("kubernetes: watch error %lld: %s", (long long)code,
				jstr(obj, "message") ? jstr(obj, "message") : "");
		w->gone = true;		/* either way: relist */
		json_decref(ev);
		return;
	}
	if (rv)
		af_strlcpy(w->rv, rv, sizeof(w->rv));
	t = !type ? -1 : !strcmp(type, "ADDED") ? M_ADDED : !strcmp(type, "MODIFIED") ? M_MODIFIED :
	    !strcmp(type, "DELETED") ? M_DELETED : -1;	/* BOOKMARK: the version only */
	if (t >= 0 && obj)
		push(w->kind, t, json_incref(obj));
	json_decref(ev);
}

static int on_watch_data(const char *buf, size_t len, void *ctx)
{
	struct watch_buf *w = ctx;
	const char *nl;

	if (k.stopping)
		return 1;
	while (len) {
		nl = memchr(buf, '\n', len);
		size_t take = nl ? (size_t)(nl - buf) : len;

		if (w->len + take + 1 > w->cap) {
			size_t cap = w->cap ? w->cap : 65536;
			char *b;

			while (cap < w->len + take + 1)
				cap *= 2;
			if (cap > (64u << 20))
				return 1;	/* an object beyond any pod's: drop the watch */
			b = realloc(w->line, cap);
			if (!b)
				return 1;
			w->line = b;
			w->cap = cap;
		}
		memcpy(w->line + w->len, buf, take);
		w->len += take;
		if (!nl)
			break;
		watch_event(w, w->line, w->len);
		w->len = 0;
		if (w->gone)
			return 1;
		buf = nl + 1;
		len -= take + 1;
	}
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* List and watch one collection until the daemon stops. */
static void reflect(int kind, const char *path)
{
	char url[1024], why[512], rv[64];
	long backoff = BACKOFF_MIN_MS, status;
	struct watch_buf w = { .kind = kind };
	bool failed = false;
	char *body;
	json_t *list;
	int err;

	while (!k.stopping) {
		if (failed) {
			__atomic_add_fetch(&k.reconnects, 1, __ATOMIC_RELAXED);
			sleep_ms(backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		}
		failed = true;
		err = api_do("GET", path, NULL, 30000, NULL, NULL, &status, &body, why, sizeof(why));
		if (err || status != 200) {
			if (!err)
				snprintf(why, sizeof(why), "HTTP %ld: %.300s", status, body ? body : "");
			tlog("kubernetes: list %s: %s (retrying)", path, why);
			free(body);
			continue;
		}
		list = json_loads(body, 0, NULL);
		free(body);
		if (!list || !json_is_array(json_object_get(list, "items"))) {
			tlog("kubernetes: list %s: not a list (retrying)", path);
			json_decref(list);
			continue;
		}
		af_strlcpy(rv, jstr(json_object_get(list, "metadata"), "resourceVersion") ?: "", sizeof(rv));
		push(kind, M_LIST, json_incref(json_object_get(list, "items")));
		json_decref(list);
		if (kind == M_CM) {
			pthread_mutex_lock(&k.lock);
			k.cms_listed = true;
			pthread_cond_broadcast(&k.listed);
			pthread_mutex_unlock(&k.lock);
		}
		backoff = BACKOFF_MIN_MS;
		failed = false;
		/* Watch from the list's version; a watch the server ends
		 * (timeoutSeconds) resumes from the last version seen. */
		af_strlcpy(w.rv, rv, sizeof(w.rv));
		w.gone = false;
		while (!k.stopping && !w.gone) {
			snprintf(url, sizeof(url), "%s%swatch=1&allowWatchBookmarks=true&timeoutSeconds=300"
				 "&resourceVersion=%s", path, strchr(path, '?') ? "&" : "?", w.rv);
			w.len = 0;
			err = api_do("GET", url, NULL, 0, on_watch_data, &w, &status, NULL, why, sizeof(why));
			if (w.gone || k.stopping)
				break;
			if (err || status != 200) {
				if (!err)
					snprintf(why, sizeof(why), "HTTP %ld", status);
				tlog("kubernetes: watch %s: %s (reconnecting)", path, why);
				failed = true;
				break;
			}
		}
	}
	free(w.line);
}

static void *cm_thread(void *arg)
{
	char path[1024];

	(void)arg;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps?labelSelector=agentfence.io%%2Fpolicy",
		 k.ns);
	reflect(M_CM, path);
	return NULL;
}

static void *pod_thread(void *arg)
{
	char path[1024];

	(void)arg;
	pthread_mutex_lock(&k.lock);
	while (!k.cms_listed && !k.stopping)
		pthread_cond_wait(&k.listed, &k.lock);
	pthread_mutex_unlock(&k.lock);
	snprintf(path, sizeof(path), "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", k.node);
	reflect(M_POD, path);
	return NULL;
}

/* ---- the loop's side: policies, pods, fences ---- */

struct policy {
	char name[254];
	char *yaml;		/* NULL: the ConfigMap has no policy.yaml */
	struct policy *next;
};

struct pod {
	char uid[64], ns[254], name[254], policy[254];
	/* malloc'd to their length (three PATH_MAX arrays were 12 KiB of
	 * every pod the node runs): */
	char *workspace;	/* "" none */
	char *cgroup;		/* NULL until found */
	enum af_k8s_qos qos;
	uint64_t fence;
	uint64_t early;		/* its fence from its cgroup's creation (bpf/k8s.bpf.h), until fence */
	char *early_cg;		/* that fence's placeholder cgroup; NULL none */
	bool held;		/* its cgroup was made before the daemon knew it: held */
	bool deny_all;		/* fenced fail-closed: its policy is missing or invalid */
	bool listed;		/* in the last list */
	bool started;		/* seen before it ran (not running at the daemon's start) */
	bool first_list;	/* seen in the daemon's first list of pods */
	char *cnames;		/* its last status's containers: "<cid>\0<name>\0"..., "\0" */
	size_t cnames_len;
	struct ctag *ctags;	/* its containers as records name them, by cgroup */
	unsigned int nctags, ctag_next;
	struct pod *next;
};

static struct policy *policies;
static struct pod *pods;
static bool pods_listed_once;

static void pod_free(struct pod *p)
{
	free(p->workspace);
	free(p->cgroup);
	free(p->early_cg);
	free(p);
}

static struct policy *policy_find(const char *name)
{
	for (struct policy *p = policies; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

static const char *now_rfc3339(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* A Warning Event on the pod: kubectl describe shows why it is fenced
 * deny-all. Synchronous, short: the loop waits at most 3 s. */
static void pod_event(const struct pod *p, const char *reason, const char *message)
{
	char path[512], why[512], ts[32];
	json_t *ev;
	char *body;
	long status;
	int err;

	ev = json_pack("{s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s,s:s},s:s,s:s,s:i}",
		       "metadata", "generateName", "agentfence-", "namespace", p->ns,
		       "involvedObject", "kind", "Pod", "apiVersion", "v1", "namespace", p->ns,
		       "name", p->name, "uid", p->uid,
		       "reason", reason, "message", message, "type", "Warning",
		       "source", "component", "agentfence", "host", k.node,
		       "firstTimestamp", now_rfc3339(ts, sizeof(ts)), "lastTimestamp", ts, "count", 1);
	body = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	if (!body)
		return;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", p->ns);
	err = api_do("POST", path, body, 3000, NULL, NULL, &status, NULL, why, sizeof(why));
	free(body);
	if (err || status / 100 != 2)
		af_warn("pod %s/%s: cannot create its Event (%s): %s", p->ns, p->name, reason,
			err ? why : "HTTP error");
}

/* The pod in the fence's journal: who it is, on which node, what it runs. */
static void journal_pod(const struct pod *p, json_t *obj, const char *how, const char *policy_state)
{
	struct af_journal *j = af_daemon_journal(p->fence);
	json_t *cs = json_object_get(json_object_get(obj, "status"), "containerStatuses"), *c;
	struct af_json *w;
	size_t i;

	if (!j || !(w = af_journal_begin(j, "k8s_pod", NULL)))
		return;
	/* A pod's fence has the pod in every record (af_k8s_pod_tag):
	 * the uid goes beside it. */
	if (!af_journal_tagged(j)) {
		af_json_str(w, "namespace", p->ns);
		af_json_str(w, "pod", p->name);
		af_json_str(w, "node", k.node);
	}
	af_json_str(w, "uid", p->uid);
	af_json_str(w, "how", how);
	af_json_str(w, "policy", p->policy);
	af_json_str(w, "policy_state", policy_state);
	af_json_array(w, "containers");
	json_array_foreach(cs, i, c) {
		af_json_object(w, NULL);
		af_json_str(w, "container", jstr(c, "name"));
		af_json_str(w, "id", jstr(c, "containerID"));
		af_json_end(w);
	}
	af_json_end(w);
	af_journal_commit(j);
}

/* A process of a running container of the pod (not the sandbox's pause:
 * the workspace is a path as the containers see it). 0: none yet. */
static bool app_container(const char *dir);

static pid_t pod_pid(const struct pod *p, json_t *obj, enum af_k8s_driver drv)
{
	json_t *cs = json_object_get(json_object_get(obj, "status"), "containerStatuses"), *c;
	char rel[1024], file[PATH_MAX + 1100], buf[64];
	unsigned long v;
	size_t i;

	json_array_foreach(cs, i, c) {
		if (!json_object_get(json_object_get(c, "state"), "running") || !jstr(c, "containerID"))
			continue;
		if (af_k8s_container_cgroup(drv, p->qos, p->uid, jstr(c, "containerID"), rel, sizeof(rel)))
			continue;
		snprintf(file, sizeof(file), "%s/%s/cgroup.procs", k.mnt, rel);
		if (af_read_small(file, buf, sizeof(buf)) || !buf[0])
			continue;
		buf[strcspn(buf, "\n")] = 0;
		if (!af_parse_ulong(buf, 1UL << 30, &v))
			return (pid_t)v;
	}
	/* The status comes later than the container (the kubelet's relist):
	 * a container's process held at its first instruction is one. */
	return p->cgroup ? af_kheld_find(p->cgroup, app_container) : 0;
}

/* ---- containers: which one of the pod a record's process is in ----
 *
 * A pod's fence is its pod cgroup: every container of it, the sandbox,
 * kubectl exec sessions (they join their container's cgroup). Each
 * process record has the low half of its task's cgroup id (struct
 * af_hdr.cgroup, filled in the kernel with the event); the fence's
 * recorder asks ctag_of for the members it adds beside the pod,
 * ',"container":{"name":"agent","id":"<12 digits>"}', rendered once per
 * cgroup here and copied into each record (bench/RESULTS.md, Kubernetes:
 * the bytes are the cost). The cgroup is found beneath the pod's (a
 * container's own or one below it), its directory's name gives the
 * container id, the pod's status or else the runtime's bundle the name:
 * the status comes after a container starts (the kubelet reports it
 * later), the bundle is there before its first instruction. The
 * sandbox's (pause) is '"container":{"sandbox":true,"id":..}'; a process
 * in the pod's own cgroup, or in a cgroup gone before its record was
 * read, has no "container". Each container the first time a fence's
 * records name it: a k8s_container record with its full id and cgroup. */

#define CTAGS_MAX	32	/* cgroups remembered per pod; then the oldest goes */

struct ctag {
	uint32_t cgroup;	/* struct af_hdr.cgroup */
	bool final;		/* resolved; else again when the pod's status changes */
	bool retry;		/* the status changed since */
	char *text;		/* the members; NULL: none */
	size_t len;
	struct af_journal *journaled;	/* where its k8s_container record went */
};

int af_k8s_container_tag(const char *name, const char *cid, char **out)
{
	struct af_obuf b = {};
	struct af_json w;

	*out = NULL;
	af_json_resume_buf(&w, &b);
	af_json_object(&w, "container");
	if (name)
		af_json_str(&w, "name", name);
	else
		af_json_bool(&w, "sandbox", true);
	/* docker ps's 12 digits: the full 64 cost 5 % more per event
	 * (bench/RESULTS.md, Attach); the k8s_container record has them. */
	af_json_strn(&w, "id", cid, strnlen(cid, 12));
	af_json_end(&w);
	return af_obuf_cstr(&b, out);
}

/* Whether the cgroup whose id's low half is cg is dirfd's or one below
 * it (bounded: 8 levels, as early_move). */
static bool cgroup_under(int dirfd, uint32_t cg, int depth)
{
	struct dirent *de;
	bool found = false;
	int fd;
	DIR *d;

	if ((uint32_t)af_cgroup_id_at(dirfd, "") == cg)
		return true;
	if (depth >= 8)
		return false;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (!found && (de = readdir(d))) {
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0) {
			found = cgroup_under(sub, cg, depth + 1);
			close(sub);
		}
	}
	closedir(d);
	return found;
}

/* The directory beneath the pod's cgroup that cg is in or below: its
 * name into out; 1: cg is the pod's own; 0: not found; 2: found. */
static int ctag_find(const char *pod_cg, uint32_t cg, char *out, size_t n)
{
	struct dirent *de;
	int fd, sub, ret = 0;
	DIR *d;

	fd = open(pod_cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if ((uint32_t)af_cgroup_id_at(fd, "") == cg) {
		close(fd);
		return 1;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while (!ret && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0)
			continue;
		if (cgroup_under(sub, cg, 1) && !af_strlcpy(out, de->d_name, n))
			ret = 2;
		close(sub);
	}
	closedir(d);
	return ret;
}

/* The name the pod's last status gives container cid, or NULL. */
static const char *status_name(const struct pod *p, const char *cid)
{
	const char *c = p->cnames;

	while (c && *c) {
		const char *name = c + strlen(c) + 1;

		if (!strcmp(c, cid))
			return name;
		c = name + strlen(name) + 1;
	}
	return NULL;
}

/* The name and kind of container cid from its runtime's bundle, written
 * before the container's first instruction: containerd's and CRI-O's
 * config.json annotations, in /run (the daemon on the host) or else
 * through /proc/1/root (the host's root from the DaemonSet: hostPID,
 * privileged; its own /run has none). Their state directories are
 * looked for one and two levels beneath /run (/run/containerd, k3s's
 * /run/k3s/containerd, a test cluster's own): cid is 64 digits, no other
 * container's. 0: *name the container's (malloc'd) or NULL for the
 * sandbox; -ENOENT: no bundle readable. */
static int runtime_name(const char *cid, char **name)
{
	static const struct {
		const char *fmt, *type_key, *name_key;
	} rt[] = {
		{ "/proc/1/root/run/*/io.containerd.runtime.v2.task/k8s.io/%s/config.json",
		  "io.kubernetes.cri.container-type", "io.kubernetes.cri.container-name" },
		{ "/proc/1/root/run/*/*/io.containerd.runtime.v2.task/k8s.io/%s/config.json",
		  "io.kubernetes.cri.container-type", "io.kubernetes.cri.container-name" },
		{ "/proc/1/root/run/containers/storage/overlay-containers/%s/userdata/config.json",
		  "io.kubernetes.cri-o.ContainerType", "io.kubernetes.container.name" },
	};
	char pat[PATH_MAX];
	json_t *cfg, *ann;
	const char *type, *nm;
	size_t i;
	glob_t g;

	for (i = 0; i < 2 * sizeof(rt) / sizeof(rt[0]); i++) {
		/* Each first as the daemon sees /run, then the host's. */
		snprintf(pat, sizeof(pat), rt[i / 2].fmt + (i % 2 ? 0 : strlen("/proc/1/root")), cid);
		if (glob(pat, GLOB_NOSORT, NULL, &g))
			continue;
		cfg = g.gl_pathc == 1 ? json_load_file(g.gl_pathv[0], JSON_DISABLE_EOF_CHECK, NULL) : NULL;
		globfree(&g);
		if (!cfg)
			continue;
		ann = json_object_get(cfg, "annotations");
		type = jstr(ann, rt[i / 2].type_key);
		nm = jstr(ann, rt[i / 2].name_key);
		if (type && !strcmp(type, "sandbox")) {
			*name = NULL;
			json_decref(cfg);
			return 0;
		}
		*name = nm ? strdup(nm) : NULL;
		json_decref(cfg);
		if (*name)
			return 0;
	}
	return -ENOENT;
}

/* Whether the cgroup directory dir beneath a pod's is a container's
 * (not the sandbox's, not unknown), by its runtime's bundle. */
static bool app_container(const char *dir)
{
	char cid[130], *name = NULL;

	if (af_k8s_cgroup_container(dir, cid, sizeof(cid)) || runtime_name(cid, &name) || !name)
		return false;
	free(name);
	return true;
}

static void ctag_clear(struct ctag *t)
{
	free(t->text);
	memset(t, 0, sizeof(*t));
}

static void ctags_free(struct pod *p)
{
	for (unsigned int i = 0; i < p->nctags; i++)
		ctag_clear(&p->ctags[i]);
	free(p->ctags);
	p->ctags = NULL;
	p->nctags = p->ctag_next = 0;
}

/* Resolve cgroup cg of pod p into t (its slot). */
static void ctag_resolve(struct pod *p, struct af_journal *j, uint32_t cg, struct ctag *t)
{
	char dir[NAME_MAX + 1], cid[130], pod_cg[PATH_MAX], effect[400];
	const char *name = NULL;
	char *rname = NULL, cgrel[PATH_MAX + NAME_MAX + 2];
	bool sandbox = false;
	struct af_json *w;
	int found;

	ctag_clear(t);
	t->cgroup = cg;
	t->final = true;
	if (p->cgroup)
		af_strlcpy(pod_cg, p->cgroup, sizeof(pod_cg));
	else if (af_k8s_pod_cgroup_find(k.mnt, p->qos, p->uid, NULL, pod_cg, sizeof(pod_cg)))
		return;
	found = ctag_find(pod_cg, cg, dir, sizeof(dir));
	/* The pod's own cgroup, or gone (nothing to name it by): none. */
	if (found != 2 || af_k8s_cgroup_container(dir, cid, sizeof(cid)))
		return;
	name = status_name(p, cid);
	if (!name && !runtime_name(cid, &rname)) {
		name = rname;
		sandbox = !rname;
	}
	/* Not known yet (no status, no bundle readable): the id alone
	 * ('"sandbox":true' would say what is not known), looked at again
	 * when the pod's status changes. */
	t->final = name || sandbox;
	if (t->final ? af_k8s_container_tag(name, cid, &t->text) :
	    asprintf(&t->text, ",\"container\":{\"id\":\"%.12s\"}", cid) < 0) {
		t->text = NULL;
		free(rname);
		return;
	}
	t->len = t->text ? strlen(t->text) : 0;
	if (j && t->text && t->final) {
		w = af_journal_begin(j, "k8s_container", NULL);
		if (w) {
			if (name)
				af_json_str(w, "name", name);
			else
				af_json_bool(w, "sandbox", true);
			af_json_str(w, "id", cid);
			snprintf(cgrel, sizeof(cgrel), "%s/%s", !strncmp(pod_cg, k.mnt, strlen(k.mnt)) ?
				 pod_cg + strlen(k.mnt) : pod_cg, dir);
			af_json_str(w, "cgroup", cgrel);
			af_json_str(w, "source", status_name(p, cid) ? "status" : "runtime");
			if (name)
				snprintf(effect, sizeof(effect), "container %.253s (%.12s): its "
					 "processes' records name it", name, cid);
			else
				snprintf(effect, sizeof(effect), "the pod's sandbox (%.12s): its "
					 "processes' records name it", cid);
			af_json_str(w, "effect", effect);
			af_journal_commit(j);
		}
		t->journaled = j;	/* once per journal, written or not */
	}
	free(rname);
}

/* The recorder's af_ctag_fn for a pod's fences (its own and its early
 * one): the members for cgroup cg, valid until the next call. */
static const char *pod_ctag(void *ctx, struct af_journal *j, uint32_t cg, size_t *len)
{
	struct pod *p = ctx;
	struct ctag *t = NULL;
	unsigned int i;

	for (i = 0; i < p->nctags; i++) {
		if (p->ctags[i].cgroup == cg) {
			t = &p->ctags[i];
			break;
		}
	}
	if (!t) {
		if (!p->ctags && !(p->ctags = calloc(CTAGS_MAX, sizeof(*p->ctags))))
			return NULL;
		if (p->nctags < CTAGS_MAX) {
			t = &p->ctags[p->nctags++];
		} else {
			t = &p->ctags[p->ctag_next];
			p->ctag_next = (p->ctag_next + 1) % CTAGS_MAX;
		}
		ctag_resolve(p, j, cg, t);
	} else if (!t->final && t->retry) {
		ctag_resolve(p, j, cg, t);
	} else if (t->final && t->text && j && t->journaled != j) {
		/* Named in the early fence's journal: this one names it too. */
		ctag_resolve(p, j, cg, t);
	}
	*len = t->len;
	return t->text;
}

/* The containers of the pod's last status (every kind: init, regular,
 * ephemeral), their ids and names only (not the status object: memory
 * per pod); when they changed, the cgroups not named at the last look
 * are looked at again. */
static void pod_status(struct pod *p, json_t *obj)
{
	static const char *const lists[] = { "containerStatuses", "initContainerStatuses",
					     "ephemeralContainerStatuses" };
	json_t *st = json_object_get(obj, "status"), *c;
	struct af_obuf b = {};
	const char *id, *sep, *name;
	size_t i, j, l1, l2;

	for (i = 0; st && i < sizeof(lists) / sizeof(lists[0]); i++) {
		json_array_foreach(json_object_get(st, lists[i]), j, c) {
			id = jstr(c, "containerID");
			sep = id ? strstr(id, "://") : NULL;
			name = jstr(c, "name");
			if (!sep || !sep[3] || !name)
				continue;
			l1 = strlen(sep + 3) + 1;
			l2 = strlen(name) + 1;
			if (af_obuf_reserve(&b, l1 + l2 + 1))
				break;
			memcpy(b.p + b.len, sep + 3, l1);
			memcpy(b.p + b.len + l1, name, l2);
			b.len += l1 + l2;
		}
	}
	if (b.oom || af_obuf_reserve(&b, 1)) {
		free(b.p);
		return;		/* the last one stays */
	}
	b.p[b.len++] = 0;
	if (p->cnames && b.len == p->cnames_len && !memcmp(b.p, p->cnames, b.len)) {
		free(b.p);
		return;
	}
	free(p->cnames);
	/* Kept for the pod's life: in memory of its size, not the 4 KiB
	 * the buffer grew from. */
	p->cnames = realloc(b.p, b.len) ?: b.p;
	p->cnames_len = b.len;
	for (i = 0; i < p->nctags; i++)
		p->ctags[i].retry = !p->ctags[i].final;
}

static void pod_ctag_on(struct pod *p, uint64_t fence)
{
	if (fence && af_daemon_set_ctag(fence, pod_ctag, p))
		af_warn("pod %s/%s: fence %llu has no journal: its records name no container",
			p->ns, p->name, (unsigned long long)fence);
}

/* The first error the daemon says while it fences (why a policy is
 * invalid: "configmap:ns/name:3:5: ..."), for the pod's Event; still said. */
struct capture {
	af_msg_fn prev;
	void *prev_ctx;
	char text[AF_ERR_MAX];
};

static void capture_fn(void *ctx, const char *kind, const char *text)
{
	struct capture *c = ctx;

	if (kind[0] == 'e' && !c->text[0])
		af_strlcpy(c->text, text, sizeof(c->text));
	if (c->prev)
		c->prev(c->prev_ctx, kind, text);
	else
		fprintf(stderr, "agentfence daemon: %s%s\n", kind[0] == 'w' ? "warning: " : "", text);
}

static void capture_start(struct capture *c)
{
	c->prev = af_msg_hook;
	c->prev_ctx = af_msg_ctx;
	c->text[0] = 0;
	af_msg_hook = capture_fn;
	af_msg_ctx = c;
}

/* Restores the hook; why gets the captured error when there is one. */
static void capture_end(struct capture *c, int err, char *why, size_t n)
{
	af_msg_hook = c->prev;
	af_msg_ctx = c->prev_ctx;
	if (err && c->text[0])
		af_strlcpy(why, c->text, n);
}

static int update_fence(uint64_t id, const char *yaml, const char *file, char *why, size_t n)
{
	struct capture c;
	int err;

	capture_start(&c);
	err = af_daemon_update(id, yaml, strlen(yaml), file, why, n);
	capture_end(&c, err, why, n);
	return err;
}

static int attach_to(struct pod *p, const char *cgroup, pid_t pid, const char *yaml,
		     const char *file, const char *suffix, uint64_t *id, char *why, size_t n)
{
	char journal[PATH_MAX], stamp[32], cname[520];
	time_t t = time(NULL);
	struct tm tm;
	struct af_ctl_req req = {
		.op = AF_CTL_ATTACH,
		.policy = (char *)yaml,
		.policy_len = strlen(yaml),
		.policy_file = (char *)file,
		.workspace = p->workspace[0] ? p->workspace : NULL,
		.journal = journal,
		.cgroup = (char *)cgroup,
		.pid = pid,
		.has_pid = true,
		.runtime = "kubernetes",
		.container = p->uid,
		.container_name = cname,
	};

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(journal, sizeof(journal), "%.3000s/%.63s_%.200s_%.8s-%s%s.jsonl", k.journal_dir, p->ns,
		 p->name, p->uid, stamp, suffix);
	snprintf(cname, sizeof(cname), "%s/%s", p->ns, p->name);
	{
		struct capture c;
		int err;

		capture_start(&c);
		err = af_daemon_attach(&req, id, why, n);
		capture_end(&c, err, why, n);
		return err;
	}
}

static int attach_with(struct pod *p, pid_t pid, const char *yaml, const char *file, char *why,
		       size_t n)
{
	return attach_to(p, p->cgroup, pid, yaml, file, "", &p->fence, why, n);
}

/* ---- pods fenced from their cgroup's creation (bpf/k8s.bpf.h) ----
 *
 * The watch sees a pod when it is bound to the node, usually well
 * before the kubelet makes its cgroup. For an annotated pod the daemon
 * makes its fence then, on a placeholder cgroup (<cgroup2>/agentfence/
 * k8s/pod<uid>, where nothing runs), with the pod's policy (its paths
 * missing until a container runs: the network part is whole), and names
 * the pod's cgroup in af_kpend: cgroup_mkdir makes the pod's cgroup and
 * its containers' members of that fence (af_kmember) as the kubelet
 * makes them, and the network programs linked once at kubepods judge
 * them from the first instruction. Once a container runs, the daemon's
 * attach fences the pod's cgroup as before (files, events, the rest),
 * and the early fence goes. A pod cgroup made before the daemon decided
 * on its pod is held (the hold fence: deny-all network) until it does;
 * an unannotated pod is marked pass as soon as it is seen. */

#define EARLY_DIR "agentfence/k8s"

static struct {
	uint64_t hold;		/* the hold fence: deny-all, on EARLY_DIR/hold */
	int kpend, kparent, kmember;
	bool linked;		/* the kubepods programs are linked, af_kparent filled */
	bool held;		/* af_kheld is watched (k8s_held.c) */
	char dir[PATH_MAX + 32];	/* <cgroup2>/EARLY_DIR */
} e = { .kpend = -1, .kparent = -1, .kmember = -1 };

/* The names the pod's cgroup may have (both drivers, every QoS class):
 * "pod<uid>", "kubepods-[<qos>-]pod<uid_>.slice". */
static int early_names(const char *uid, struct af_kpend_key keys[4])
{
	static const enum af_k8s_qos qos[3] = { AF_K8S_GUARANTEED, AF_K8S_BURSTABLE, AF_K8S_BESTEFFORT };
	char rel[PATH_MAX];
	const char *base;
	int i;

	memset(keys, 0, 4 * sizeof(*keys));
	for (i = 0; i < 4; i++) {
		if (af_k8s_pod_cgroup(i ? AF_K8S_SYSTEMD : AF_K8S_CGROUPFS, i ? qos[i - 1] : AF_K8S_BESTEFFORT,
				      uid, rel, sizeof(rel)))
			return -EINVAL;
		base = strrchr(rel, '/');
		base = base ? base + 1 : rel;
		if (strlen(base) >= AF_KPEND_NAME)
			return -ENAMETOOLONG;
		memcpy(keys[i].name, base, strlen(base));
	}
	return 0;
}

static void early_mark(const char *uid, uint64_t id)
{
	struct af_kpend_key keys[4];

	if (e.kpend < 0 || early_names(uid, keys))
		return;
	for (int i = 0; i < 4; i++)
		if (bpf_map_update_elem(e.kpend, &keys[i], &id, BPF_ANY))
			af_warn("kubernetes: pod %s: cannot name its cgroup to the kernel: %s (it is held "
				"until the daemon attaches it)", uid, strerror(errno));
}

static void early_unmark(const char *uid)
{
	struct af_kpend_key keys[4];

	if (e.kpend < 0 || early_names(uid, keys))
		return;
	for (int i = 0; i < 4; i++)
		bpf_map_delete_elem(e.kpend, &keys[i]);
}

/* Every cgroup from dir down (bounded: 8 levels) that is a member of
 * fence from in af_kmember becomes one of to (0: no member). Top down,
 * so that a cgroup made meanwhile inherits the new value. Returns how
 * many moved. */
static int early_move(int dirfd, uint64_t from, uint64_t to, int depth)
{
	struct dirent *de;
	uint64_t cg, v;
	int fd, moved = 0;
	DIR *d;

	if (depth >= 8)
		return 0;
	cg = af_cgroup_id_at(dirfd, "");
	if (!cg || bpf_map_lookup_elem(e.kmember, &cg, &v) || v != from)
		return 0;
	if (to ? !bpf_map_update_elem(e.kmember, &cg, &to, BPF_EXIST) :
		 !bpf_map_delete_elem(e.kmember, &cg))
		moved++;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return moved;
	}
	while ((de = readdir(d))) {
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0) {
			moved += early_move(sub, from, to, depth + 1);
			close(sub);
		}
	}
	closedir(d);
	return moved;
}

/* The pod's cgroup, if the kubelet made it and the hold holds it:
 * decided now (to: its fence, or 0: pass). Whether it was held. */
static bool early_release(const char *uid, json_t *obj, uint64_t to, const char *who)
{
	char path[PATH_MAX];
	enum af_k8s_driver drv;
	enum af_k8s_qos qos;
	int fd, moved;

	if (!e.hold || e.kmember < 0 ||
	    af_k8s_qos_parse(jstr(json_object_get(obj, "status"), "qosClass"), &qos) ||
	    af_k8s_pod_cgroup_find(k.mnt, qos, uid, &drv, path, sizeof(path)))
		return false;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	moved = early_move(fd, e.hold, to, 0);
	close(fd);
	if (!to)
		af_kheld_decide(path, true, "its pod is not fenced");
	if (moved)
		fprintf(stderr, "agentfence daemon: pod %s: its cgroup was made before the daemon knew "
			"the pod: held (network denied) until now: %s (%d cgroups)\n", who,
			to ? "fenced" : "passed", moved);
	return moved > 0;
}

static int cgroup_dir(const char *path)
{
	return mkdir(path, 0755) && errno != EEXIST ? -errno : 0;
}

static void held_wake(void);

/* The hold fence, the maps, the kubepods programs: at start, and every
 * tick until the kubelet's kubepods cgroups are all there. */
static void early_setup(void)
{
	static const char *const parents[] = {
		"kubepods", "kubepods/burstable", "kubepods/besteffort",
		"kubepods.slice", "kubepods.slice/kubepods-burstable.slice",
		"kubepods.slice/kubepods-besteffort.slice",
	};
	char path[PATH_MAX + 64], why[AF_ERR_MAX];
	unsigned int found = 0;
	size_t i;
	int err;

	if (e.linked)
		return;
	if (!e.hold) {
		struct pod hp = { .uid = AF_K8S_HOLD_UID, .ns = "agentfence", .name = "hold",
				  .workspace = (char *)"" };

		snprintf(e.dir, sizeof(e.dir), "%.4000s/agentfence", k.mnt);
		if ((err = cgroup_dir(e.dir)) || (snprintf(e.dir, sizeof(e.dir), "%.4000s/" EARLY_DIR, k.mnt),
						 err = cgroup_dir(e.dir))) {
			af_err("kubernetes: cgroup %s: %s: pods are fenced only once they run", e.dir,
			       strerror(-err));
			e.linked = true;
			return;
		}
		snprintf(path, sizeof(path), "%.4000s/hold", e.dir);
		if ((err = cgroup_dir(path))) {
			af_err("kubernetes: cgroup %s: %s", path, strerror(-err));
			return;
		}
		hp.cgroup = path;
		e.hold = af_daemon_fence_by_cgroup(path);
		if (!e.hold && attach_to(&hp, path, 0, af_k8s_deny_all, "agentfence:hold", "", &e.hold,
					 why, sizeof(why))) {
			af_err("kubernetes: the hold fence: %s: pods are fenced only once they run", why);
			e.hold = 0;
			return;
		}
		e.kpend = af_fence_k8s_map(e.hold, "af_kpend", why, sizeof(why));
		e.kparent = af_fence_k8s_map(e.hold, "af_kparent", why, sizeof(why));
		e.kmember = af_fence_k8s_map(e.hold, "af_kmember", why, sizeof(why));
		if (e.kpend < 0 || e.kparent < 0 || e.kmember < 0) {
			af_err("kubernetes: %s", why);
			return;
		}
	}
	/* Before any pod cgroup is a member: no one else continues them. */
	if (!e.held) {
		if (af_kheld_open(e.hold, k.mnt, k.loop, held_wake, why, sizeof(why))) {
			af_err("kubernetes: %s", why);
			return;
		}
		e.held = true;
	}
	/* A hybrid host (cgroup v1 controllers, the unified hierarchy
	 * beside them): the kubelet makes kubepods in the v1 hierarchies
	 * only, runc makes a pod's path in the unified one when its first
	 * container starts, levels above included. Made here first (runc
	 * finds them), so that there is a parent to link to and to watch. */
	for (i = 0; strcmp(k.mnt, "/sys/fs/cgroup") && i < ARRAY_SIZE(parents); i++) {
		struct stat st;

		snprintf(path, sizeof(path), "/sys/fs/cgroup/pids/%s", parents[i]);
		if (stat(path, &st) || !S_ISDIR(st.st_mode))
			continue;
		snprintf(path, sizeof(path), "%s/%s", k.mnt, parents[i]);
		if ((err = cgroup_dir(path)))
			af_warn("kubernetes: cgroup %s: %s", path, strerror(-err));
	}
	for (i = 0; i < ARRAY_SIZE(parents); i++) {
		uint64_t id;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", k.mnt, parents[i]);
		id = af_cgroup_id(path);
		if (!id)
			continue;
		found |= 1u << i;
		if (!strchr(parents[i], '/')) {
			fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			err = fd < 0 ? -errno : af_fence_k8s_link(e.hold, fd, id, why, sizeof(why));
			if (fd >= 0)
				close(fd);
			if (err) {
				af_err("kubernetes: link the network fence to %s: %s", path,
				       fd < 0 ? strerror(-err) : why);
				return;
			}
		}
		if (bpf_map_update_elem(e.kparent, &id, &e.hold, BPF_ANY)) {
			af_err("kubernetes: %s: %s", path, strerror(errno));
			return;
		}
	}
	/* One driver's three levels: the kubelet made them all. */
	if ((found & 7) == 7 || (found & 0x38) == 0x38) {
		e.linked = true;
		fprintf(stderr, "agentfence daemon: kubernetes: pods fenced from their cgroup's creation "
			"(network at once, the rest from each command's exec; hold fence %llu for pods not yet "
			"decided)\n", (unsigned long long)e.hold);
	}
}

/* A clean stop lets go of the holds (an uninstalled daemon must not
 * hold every new pod for ever); the pods it knew keep their fences. */
static void early_stop(void)
{
	uint64_t key, next, zero = 0, keys[16];
	size_t n = 0;

	if (e.kparent < 0)
		return;
	/* Keys first: an update moves its element in its hash bucket, so
	 * updating while walking may walk for ever. */
	for (int r = bpf_map_get_next_key(e.kparent, NULL, &next); !r && n < ARRAY_SIZE(keys);
	     key = next, r = bpf_map_get_next_key(e.kparent, &key, &next))
		keys[n++] = next;
	for (size_t i = 0; i < n; i++)
		bpf_map_update_elem(e.kparent, &keys[i], &zero, BPF_EXIST);
}

/* The uid a name of af_kpend stands for ("pod<uid>",
 * "kubepods-[<qos>-]pod<uid_>.slice"), into uid; false if none. */
static bool early_name_uid(const char *name, char *uid, size_t n)
{
	const char *s = strncmp(name, "pod", 3) ? strstr(name, "-pod") : name;
	size_t len, i;

	if (!s)
		return false;
	s += s == name ? 3 : 4;
	len = strcspn(s, ".");
	if (!len || len >= n)
		return false;
	for (i = 0; i < len; i++)
		uid[i] = s[i] == '_' ? '-' : s[i];
	uid[len] = 0;
	return true;
}

/* At a relist: names of pods that are gone (deleted while no daemon
 * ran, or while the watch was down) go too. */
static void early_gc(json_t *list)
{
	struct af_kpend_key key, next, *del = NULL;
	size_t ndel = 0, cap = 0, i;
	char uid[AF_KPEND_NAME];
	json_t *o;

	if (e.kpend < 0)
		return;
	for (int r = bpf_map_get_next_key(e.kpend, NULL, &next); !r;
	     key = next, r = bpf_map_get_next_key(e.kpend, &key, &next)) {
		bool found = false;

		next.name[AF_KPEND_NAME - 1] = 0;
		if (!early_name_uid(next.name, uid, sizeof(uid)))
			continue;
		json_array_foreach(list, i, o)
			if (!strcmp(jstr(json_object_get(o, "metadata"), "uid") ?: "", uid))
				found = true;
		if (found)
			continue;
		if (ndel == cap) {
			struct af_kpend_key *d = realloc(del, (cap = cap ? 2 * cap : 16) * sizeof(*d));

			if (!d)
				break;
			del = d;
		}
		del[ndel++] = next;
	}
	for (i = 0; i < ndel; i++)
		bpf_map_delete_elem(e.kpend, &del[i]);
	free(del);
}

/* An annotated pod seen before its containers run: its fence now, on its
 * placeholder, and its cgroup named to the kernel. */
static void early_fence(struct pod *p, json_t *obj)
{
	char why[AF_ERR_MAX], file[600];
	struct policy *pol = policy_find(p->policy);
	struct timespec t0, t1;
	int err;

	if (!e.linked || !e.hold || p->early || p->fence)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		/* Made already and not held (it ran before the daemon, or
		 * while none ran): the attach fences it, reported as such. */
		char path[PATH_MAX];
		enum af_k8s_driver drv;
		uint64_t id, v;

		if (!af_k8s_pod_cgroup_find(k.mnt, p->qos, p->uid, &drv, path, sizeof(path)) &&
		    (id = af_cgroup_id(path)) &&
		    (bpf_map_lookup_elem(e.kmember, &id, &v) || v != e.hold))
			return;
	}
	{
		char cg[PATH_MAX + 128];

		snprintf(cg, sizeof(cg), "%.4000s/pod%s", e.dir, p->uid);
		if (af_str_set(&p->early_cg, cg))
			return;		/* out of memory: fenced once it runs */
	}
	p->early = af_daemon_fence_by_cgroup(p->early_cg);	/* adopted: the daemon restarted */
	if (!p->early) {
		if ((err = cgroup_dir(p->early_cg))) {
			af_warn("pod %s/%s: cgroup %s: %s: fenced only once it runs", p->ns, p->name,
				p->early_cg, strerror(-err));
			return;
		}
		snprintf(file, sizeof(file), "configmap:%s/%s", k.ns, p->policy);
		err = pol && pol->yaml ? attach_to(p, p->early_cg, 0, pol->yaml, file, "-early",
						   &p->early, why, sizeof(why)) : -ENOENT;
		/* Missing or invalid: deny-all (pod_fence says why, with an
		 * Event, once it runs). */
		if (err && attach_to(p, p->early_cg, 0, af_k8s_deny_all, "agentfence:deny-all", "-early",
				     &p->early, why, sizeof(why))) {
			af_warn("pod %s/%s: no fence before it runs: %s", p->ns, p->name, why);
			p->early = 0;
			rmdir(p->early_cg);
			return;
		}
	}
	early_mark(p->uid, p->early);
	pod_ctag_on(p, p->early);
	{
		char who[520];

		snprintf(who, sizeof(who), "%s/%s", p->ns, p->name);
		p->held = early_release(p->uid, obj, p->early, who);
	}
	if (p->held) {
		/* Its connects until now were the hold fence's (its journal). */
		struct af_journal *j = af_daemon_journal(p->early);
		struct af_json *w = j ? af_journal_begin(j, "k8s_held", NULL) : NULL;

		if (w) {
			af_json_str(w, "namespace", p->ns);
			af_json_str(w, "pod", p->name);
			af_json_str(w, "uid", p->uid);
			af_json_u64(w, "hold_fence", e.hold);
			af_json_str(w, "effect", "its cgroup was made before the daemon knew the pod: "
				    "network denied until now (the hold fence's journal has what was denied)");
			af_journal_commit(j);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "agentfence daemon: pod %s/%s: fence %llu ready before its containers (%.1f ms; "
		"its cgroup %s)\n", p->ns, p->name, (unsigned long long)p->early,
		(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
		p->held ? "was made before: it was held until now" : "is not made yet");
}

/* The early fence's job is done (the pod's own is attached) or the pod
 * is gone. */
static void early_end(struct pod *p, const char *reason)
{
	if (!p->early)
		return;
	early_unmark(p->uid);
	af_daemon_detach(p->early, reason);
	af_daemon_set_ctag(p->early, NULL, NULL);	/* when it is still there */
	p->early = 0;
	if (p->early_cg && rmdir(p->early_cg) && errno != ENOENT)
		af_warn("pod %s/%s: remove cgroup %s: %s", p->ns, p->name, p->early_cg, strerror(errno));
	free(p->early_cg);
	p->early_cg = NULL;
}


/* Fence a pod that runs: its policy, or deny-all (and an Event) when the
 * policy is missing, invalid or cannot be applied to it. */
static void pod_fence(struct pod *p, json_t *obj)
{
	char why[AF_ERR_MAX], file[600], msg[AF_ERR_MAX + 1400];
	const char *how, *state = "applied";
	enum af_k8s_driver drv;
	struct policy *pol;
	pid_t pid;
	uint64_t id;
	int err;

	{
		char cg[PATH_MAX];

		if (af_k8s_pod_cgroup_find(k.mnt, p->qos, p->uid, &drv, cg, sizeof(cg)))
			return;		/* not made yet: the next event or tick */
		if ((!p->cgroup || strcmp(p->cgroup, cg)) && af_str_set(&p->cgroup, cg))
			return;		/* out of memory: the next event or tick */
	}
	how = p->early && p->held ? "from its cgroup's creation (held until the daemon learned the pod)" :
	      p->early ? "from its cgroup's creation" :
	      p->first_list && !p->started ? "running before the daemon started" : "started";
	id = af_daemon_fence_by_cgroup(p->cgroup);
	if (id) {
		/* A fence the daemon adopted (it was restarted): the gap is in
		 * its journal; the policy now in force is the ConfigMap's. */
		p->fence = id;
		pol = policy_find(p->policy);
		p->deny_all = !pol || !pol->yaml;
		snprintf(file, sizeof(file), "configmap:%s/%s", k.ns, p->policy);
		if (pol && pol->yaml && update_fence(id, pol->yaml, file, why, sizeof(why)))
			p->deny_all = true;
		fprintf(stderr, "agentfence daemon: pod %s/%s: fence %llu adopted (the daemon restarted)\n",
			p->ns, p->name, (unsigned long long)id);
		pod_ctag_on(p, id);
		journal_pod(p, obj, "adopted", p->deny_all ? "denied" : "applied");
		early_end(p, "the pod's cgroup is fenced (adopted)");
		af_kheld_sweep();
		return;
	}
	pid = pod_pid(p, obj, drv);
	if (!pid)
		return;		/* no container runs yet */
	pol = policy_find(p->policy);
	snprintf(file, sizeof(file), "configmap:%s/%s", k.ns, p->policy);
	if (!pol || !pol->yaml) {
		snprintf(msg, sizeof(msg), "policy %s: no ConfigMap %s/%s labelled agentfence.io/policy with "
			 "a policy.yaml: the pod is fenced deny-all", p->policy, k.ns, p->policy);
		state = "missing";
	} else {
		err = attach_with(p, pid, pol->yaml, file, why, sizeof(why));
		if (!err)
			goto fenced;
		snprintf(msg, sizeof(msg), "policy %s (ConfigMap %s/%s): %s: the pod is fenced deny-all",
			 p->policy, k.ns, p->policy, why);
		state = "invalid";
	}
	af_warn("pod %s/%s: %s", p->ns, p->name, msg);
	pod_event(p, state[0] == 'm' ? "AgentfencePolicyMissing" : "AgentfencePolicyInvalid", msg);
	/* With the workspace when it is there (a policy that comes later
	 * may name it), else without: a missing one must not stop deny-all. */
	err = attach_with(p, pid, af_k8s_deny_all, "agentfence:deny-all", why, sizeof(why));
	if (err && p->workspace[0]) {
		char *ws = p->workspace;

		p->workspace = (char *)"";
		err = attach_with(p, pid, af_k8s_deny_all, "agentfence:deny-all", why, sizeof(why));
		p->workspace = ws;
	}
	if (err) {
		af_err("pod %s/%s: cannot fence it: %s (retrying)", p->ns, p->name, why);
		p->fence = 0;
		return;
	}
	p->deny_all = true;
fenced:
	fprintf(stderr, "agentfence daemon: pod %s/%s: fence %llu (%s; policy %s%s; cgroup %s)\n",
		p->ns, p->name, (unsigned long long)p->fence, how, p->policy,
		p->deny_all ? ": deny-all" : "", p->cgroup);
	pod_ctag_on(p, p->fence);
	journal_pod(p, obj, how, state);
	/* Its own fence judges it now (its links are on the pod's cgroup). */
	early_end(p, "the pod's containers run: its cgroup is fenced");
	/* Its processes held at their first instruction run now. */
	af_kheld_sweep();
}

static void pod_gone(struct pod *p, const char *reason)
{
	struct pod **pp;

	if (!p->fence) {
		/* Its processes held at their first instruction never ran. */
		char cg[PATH_MAX];

		if (p->cgroup)
			af_kheld_decide(p->cgroup, false, reason);
		else if (!af_k8s_pod_cgroup_find(k.mnt, p->qos, p->uid, NULL, cg, sizeof(cg)))
			af_kheld_decide(cg, false, reason);
	}
	early_end(p, reason);
	if (p->fence) {
		int err = af_daemon_detach(p->fence, reason);

		fprintf(stderr, "agentfence daemon: pod %s/%s: %s: fence %llu %s\n", p->ns, p->name,
			reason, (unsigned long long)p->fence,
			err == -ENOENT ? "already gone" : err ? "NOT detached" : "detached");
		af_daemon_set_ctag(p->fence, NULL, NULL);	/* p goes: nobody names */
	}
	for (pp = &pods; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	ctags_free(p);
	free(p->cnames);
	pod_free(p);
}

static struct pod *pod_find(const char *uid)
{
	for (struct pod *p = pods; p; p = p->next)
		if (!strcmp(p->uid, uid))
			return p;
	return NULL;
}

static void pod_seen(json_t *obj, int type, bool in_list)
{
	json_t *md = json_object_get(obj, "metadata"), *ann = json_object_get(md, "annotations");
	const char *uid = jstr(md, "uid"), *pol = jstr(ann, AF_K8S_ANN_POLICY);
	const char *ws = jstr(ann, AF_K8S_ANN_WORKSPACE), *phase;
	struct pod *p;

	if (!uid)
		return;
	p = pod_find(uid);
	if (type == M_DELETED) {
		if (p)
			pod_gone(p, "pod deleted");
		else
			early_unmark(uid);
		return;
	}
	if (!p && !pol) {
		/* Not ours: untouched (passed, and let go if it was held). */
		char who[520];

		snprintf(who, sizeof(who), "%s/%s", jstr(md, "namespace") ?: "", jstr(md, "name") ?: "");
		early_mark(uid, 0);
		early_release(uid, obj, 0, who);
		return;
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p || !(p->workspace = strdup(ws ? ws : ""))) {
			free(p);
			return;
		}
		af_strlcpy(p->uid, uid, sizeof(p->uid));
		af_strlcpy(p->ns, jstr(md, "namespace") ?: "", sizeof(p->ns));
		af_strlcpy(p->name, jstr(md, "name") ?: "", sizeof(p->name));
		af_strlcpy(p->policy, pol, sizeof(p->policy));
		p->first_list = in_list && !pods_listed_once;
		p->next = pods;
		pods = p;
	}
	p->listed = true;
	pod_status(p, obj);
	phase = jstr(json_object_get(obj, "status"), "phase");
	/* Pending in the API may be stale (the kubelet reports later than
	 * it starts containers): a pod whose cgroup is there ran before. */
	if (!p->fence && phase && !strcmp(phase, "Pending")) {
		char cg[PATH_MAX];
		enum af_k8s_driver drv;
		enum af_k8s_qos qos;

		if (af_k8s_qos_parse(jstr(json_object_get(obj, "status"), "qosClass"), &qos) ||
		    af_k8s_pod_cgroup_find(k.mnt, qos, p->uid, &drv, cg, sizeof(cg)) || !p->first_list)
			p->started = true;
	}
	/* Once fenced, a pod stays fenced until it is deleted: editing its
	 * annotations does not take the fence off. */
	if (!p->fence) {
		if (af_k8s_qos_parse(jstr(json_object_get(obj, "status"), "qosClass"), &p->qos))
			return;
		if (!p->early && phase && (!strcmp(phase, "Pending") || !strcmp(phase, "Running")))
			early_fence(p, obj);
		pod_fence(p, obj);
	}
}

/* The pods not fenced yet (their cgroup or container came after the
 * last event) are looked at again every second, with their last object. */
struct pending {
	char uid[64];
	json_t *obj;
	struct pending *next;
};
static struct pending *pendings;

static void pending_set(json_t *obj)
{
	const char *uid = jstr(json_object_get(obj, "metadata"), "uid");
	struct pod *p = uid ? pod_find(uid) : NULL;
	struct pending *q, **qq;

	for (qq = &pendings; (q = *qq); qq = &q->next) {
		if (uid && !strcmp(q->uid, uid)) {
			*qq = q->next;
			json_decref(q->obj);
			free(q);
			break;
		}
	}
	if (!p || p->fence || !(q = calloc(1, sizeof(*q))))
		return;
	af_strlcpy(q->uid, uid, sizeof(q->uid));
	q->obj = json_incref(obj);
	q->next = pendings;
	pendings = q;
}

static void policy_apply(struct policy *pol, const char *name)
{
	char file[600], why[AF_ERR_MAX], msg[AF_ERR_MAX + 1400];

	snprintf(file, sizeof(file), "configmap:%s/%s", k.ns, name);
	for (struct pod *p = pods; p; p = p->next) {
		/* An early fence follows too (deny-all when it cannot). */
		if (p->early && !strcmp(p->policy, name) &&
		    (!pol || !pol->yaml || update_fence(p->early, pol->yaml, file, why, sizeof(why))) &&
		    update_fence(p->early, af_k8s_deny_all, "agentfence:deny-all", why, sizeof(why)))
			af_err("pod %s/%s: cannot fence it deny-all: %s", p->ns, p->name, why);
		if (!p->fence || strcmp(p->policy, name))
			continue;
		if (pol && pol->yaml &&
		    !update_fence(p->fence, pol->yaml, file, why, sizeof(why))) {
			fprintf(stderr, "agentfence daemon: pod %s/%s: fence %llu: policy %s updated\n",
				p->ns, p->name, (unsigned long long)p->fence, name);
			p->deny_all = false;
			continue;
		}
		if (pol && pol->yaml)
			snprintf(msg, sizeof(msg), "policy %s (ConfigMap %s/%s) changed: %s: the pod is "
				 "fenced deny-all", name, k.ns, name, why);
		else
			snprintf(msg, sizeof(msg), "policy %s: the ConfigMap %s/%s is gone or has no "
				 "policy.yaml: the pod is fenced deny-all", name, k.ns, name);
		af_warn("pod %s/%s: %s", p->ns, p->name, msg);
		pod_event(p, pol && pol->yaml ? "AgentfencePolicyInvalid" : "AgentfencePolicyMissing", msg);
		if (!p->deny_all && update_fence(p->fence, af_k8s_deny_all, "agentfence:deny-all", why,
						 sizeof(why)))
			af_err("pod %s/%s: cannot fence it deny-all: %s", p->ns, p->name, why);
		else
			p->deny_all = true;
	}
}

static void cm_seen(json_t *obj, int type)
{
	const char *name = jstr(json_object_get(obj, "metadata"), "name");
	const char *yaml = jstr(json_object_get(obj, "data"), "policy.yaml");
	struct policy *pol, **pp;

	if (!name)
		return;
	pol = policy_find(name);
	if (type == M_DELETED) {
		for (pp = &policies; *pp; pp = &(*pp)->next) {
			if (*pp == pol) {
				*pp = pol->next;
				break;
			}
		}
		if (pol) {
			free(pol->yaml);
			free(pol);
			policy_apply(NULL, name);
		}
		return;
	}
	if (pol && (pol->yaml && yaml ? !strcmp(pol->yaml, yaml) : pol->yaml == yaml))
		return;		/* the same policy (a relist, a label edit) */
	if (!pol) {
		pol = calloc(1, sizeof(*pol));
		if (!pol)
			return;
		af_strlcpy(pol->name, name, sizeof(pol->name));
		pol->next = policies;
		policies = pol;
	}
	free(pol->yaml);
	pol->yaml = yaml ? strdup(yaml) : NULL;
	policy_apply(pol, name);
}

static void handle(struct msg *m)
{
	size_t i;
	json_t *o;

	if (m->kind == M_CM && m->type == M_LIST) {
		/* ConfigMaps not in the list were deleted meanwhile. */
		for (struct policy *pol = policies, *next; pol; pol = next) {
			bool found = false;

			next = pol->next;
			json_array_foreach(m->obj, i, o)
				if (!strcmp(jstr(json_object_get(o, "metadata"), "name") ?: "", pol->name))
					found = true;
			if (!found) {
				json_t *fake = json_pack("{s:{s:s}}", "metadata", "name", pol->name);

				cm_seen(fake, M_DELETED);
				json_decref(fake);
			}
		}
		json_array_foreach(m->obj, i, o)
			cm_seen(o, M_MODIFIED);
	} else if (m->kind == M_CM) {
		cm_seen(m->obj, m->type);
	} else if (m->type == M_LIST) {
		for (struct pod *p = pods; p; p = p->next)
			p->listed = false;
		json_array_foreach(m->obj, i, o) {
			pod_seen(o, M_MODIFIED, true);
			pending_set(o);
		}
		early_gc(m->obj);
		/* Pods deleted while the watch was down: reconciled. */
		for (struct pod *p = pods, *next; p; p = next) {
			next = p->next;
			if (!p->listed)
				pod_gone(p, "pod deleted (seen at a relist)");
		}
		if (!pods_listed_once)
			fprintf(stderr, "agentfence daemon: kubernetes: node %s: %zu pods listed\n", k.node,
				json_array_size(m->obj));
		pods_listed_once = true;
	} else {
		pod_seen(m->obj, m->type, false);
		pending_set(m->obj);	/* a deleted pod's goes */
	}
}

static int on_wake(void *ctx, int fd, uint32_t events)
{
	struct msg *m, *next;
	uint64_t n;

	(void)ctx;
	(void)events;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	pthread_mutex_lock(&k.lock);
	m = k.head;
	k.head = NULL;
	k.tail = &k.head;
	pthread_mutex_unlock(&k.lock);
	for (; m; m = next) {
		next = m->next;
		handle(m);
		json_decref(m->obj);
		free(m);
	}
	return 0;
}

/* The pods not fenced yet, with their last object, looked at again. */
static void pendings_retry(void)
{
	struct pending *q, *next, *list = pendings;

	pendings = NULL;
	for (q = list; q; q = next) {
		next = q->next;
		if (pod_find(q->uid)) {	/* not deleted meanwhile */
			pod_seen(q->obj, M_MODIFIED, false);
			pending_set(q->obj);
		}
		json_decref(q->obj);
		free(q);
	}
}

/* A process of a pod was held at its first instruction (k8s_held.c):
 * its container runs, the pod can be attached now rather than once the
 * kubelet reports it. */
static void held_wake(void)
{
	pendings_retry();
	af_kheld_sweep();
}

static int on_tick(void *ctx, int fd, uint32_t events)
{
	uint64_t n;

	(void)ctx;
	(void)events;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	early_setup();
	pendings_retry();
	af_kheld_sweep();
	return 0;
}

static int mkdir_p(const char *dir)
{
	char p[PATH_MAX];

	if (dir[0] != '/' || af_strlcpy(p, dir, sizeof(p)) < 0)
		return -EINVAL;
	for (char *s = p + 1;; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;

		*s = 0;
		if (mkdir(p, 0750) && errno != EEXIST)
			return -errno;
		*s = c;
		if (!c)
			return 0;
	}
}

int af_k8s_node_name(const struct af_k8s_opts *o, char *out, size_t n)
{
	const char *node = o->node;
	char host[256];

	if (!node || !*node)
		node = getenv("NODE_NAME");
	if (!node || !*node) {
		if (gethostname(host, sizeof(host)))
			host[0] = 0;
		host[sizeof(host) - 1] = 0;
		node = host;
	}
	if (!*node || strspn(node, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(node) ||
	    af_strlcpy(out, node, n)) {
		af_err("kubernetes: node name '%s' is not a Kubernetes node name (--node NAME)", node);
		return -EINVAL;
	}
	return 0;
}

int af_k8s_pod_tag(const char *ns_name, const char *node, char **out)
{
	const char *slash = strchr(ns_name, '/');
	struct af_obuf b = {};
	struct af_json w;

	*out = NULL;
	af_json_resume_buf(&w, &b);
	af_json_object(&w, "pod");
	if (slash) {
		af_json_strn(&w, "namespace", ns_name, slash - ns_name);
		af_json_str(&w, "name", slash + 1);
	} else {
		af_json_str(&w, "name", ns_name);
	}
	af_json_str(&w, "node", node);
	af_json_end(&w);
	return af_obuf_cstr(&b, out);
}

int af_k8s_start(const struct af_k8s_opts *o, struct af_loop *loop)
{
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	const char *kc = o->kubeconfig;
	char why[1024];
	pthread_t t;
	int err;

	k.tail = &k.head;
	if (!kc || !*kc)
		kc = getenv("KUBECONFIG");
	err = af_http_available(why, sizeof(why));
	if (!err)
		err = kc && *kc ? api_kubeconfig(&k.api, kc, why, sizeof(why)) : api_in_cluster(&k.api, why, sizeof(why));
	if (err) {
		af_err("kubernetes: %s", why);
		return err;
	}
	if (k.api.insecure)
		af_warn("kubernetes: %s: the API server's certificate is not verified "
			"(insecure-skip-tls-verify in %s)", k.api.server, kc);
	err = af_k8s_node_name(o, k.node, sizeof(k.node));
	if (err)
		return err;
	af_strlcpy(k.ns, o->namespace && *o->namespace ? o->namespace : "agentfence", sizeof(k.ns));
	if (strspn(k.ns, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(k.ns)) {
		af_err("kubernetes: --namespace %s: not a namespace name", k.ns);
		return -EINVAL;
	}
	af_strlcpy(k.journal_dir, o->journal_dir && *o->journal_dir ? o->journal_dir : AF_K8S_JOURNAL_DIR,
		   sizeof(k.journal_dir));
	err = mkdir_p(k.journal_dir);
	if (err) {
		af_err("kubernetes: journal directory %s: %s", k.journal_dir, strerror(-err));
		return err;
	}
	err = af_cgroup2_mount(k.mnt, sizeof(k.mnt));
	if (err) {
		af_err("kubernetes: find the cgroup2 mount: %s", strerror(-err));
		return err;
	}
	k.loop = loop;
	k.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	k.tick = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (k.efd < 0 || k.tick < 0 || timerfd_settime(k.tick, 0, &its, NULL) ||
	    af_loop_add(loop, k.efd, on_wake, NULL) || af_loop_add(loop, k.tick, on_tick, NULL)) {
		af_err("kubernetes: event loop: %s", strerror(errno));
		return -EIO;
	}
	if (pthread_create(&t, NULL, cm_thread, NULL) || pthread_detach(t) ||
	    pthread_create(&k.thr, NULL, pod_thread, NULL) || pthread_detach(k.thr)) {
		af_err("kubernetes: cannot start the watches");
		return -EAGAIN;
	}
	fprintf(stderr, "agentfence daemon: kubernetes: %s, node %s, policies from ConfigMaps in "
		"namespace %s, journals in %s\n", k.api.server, k.node, k.ns, k.journal_dir);
	early_setup();
	return 0;
}

bool af_k8s_synced(void)
{
	return pods_listed_once;
}

uint64_t af_k8s_reconnects(void)
{
	return __atomic_load_n(&k.reconnects, __ATOMIC_RELAXED);
}

/* The watches block in the API's stream: they are left to end with the
 * process (they touch no fence: only the loop does). */
void af_k8s_stop(void)
{
	pthread_mutex_lock(&k.lock);
	k.stopping = true;
	pthread_cond_broadcast(&k.listed);
	pthread_mutex_unlock(&k.lock);
	early_stop();
	if (k.loop) {
		af_loop_del(k.loop, k.efd);
		af_loop_del(k.loop, k.tick);
		af_kheld_close(k.loop);
	}
}
