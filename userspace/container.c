// SPDX-License-Identifier: GPL-2.0
/*
 * Containers by their runtime's own daemon or client, so that what the
 * operator sees (`docker ps`, `ctr task ls`, `podman ps`) is what
 * agentfence finds:
 *
 *   docker   dockerd's Engine API on its socket (DOCKER_HOST unix://PATH,
 *            else /var/run/docker.sock), over HTTP (http.h):
 *            GET /containers/REF/json (dockerd resolves an id, a name, a
 *            unique id prefix: one request), and for what it does not
 *            find, GET /containers/json?all=1 for the candidates. Each
 *            docker CLI call costs ~30-50 ms of Go start-up; a request
 *            on the socket ~1 ms. Without a socket (DOCKER_HOST tcp://,
 *            ssh://, a DOCKER_CONTEXT), the docker CLI:
 *            docker ps -a --no-trunc --format '{{.ID}}\t{{.Names}}\t{{.State}}'
 *            docker inspect --format '{{.State.Pid}}' ID
 *   podman   the CLI, as docker's (podman has an API socket only while
 *            `podman system service` runs)
 *   containerd
 *            ctr -n NS containers ls -q       every container's id
 *            ctr -n NS task ls                TASK PID STATUS of those that run
 *
 * The client talks to its daemon the way the operator configured it
 * (DOCKER_HOST, CONTAINER_HOST, ...). The container's cgroup is then read
 * from /proc/PID/cgroup: the kernel's word, not the runtime's.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cgroup.h"
#include "container.h"
#include "http.h"
#include "util.h"

#define CLIENT_TIMEOUT_MS	10000
#define CLIENT_OUT_MAX		(1 << 20)
#define LISTING_MAX		4096

static const char *const runtime_names[AF_RUNTIME_MAX] = {
	[AF_RUNTIME_ANY] = "any",
	[AF_RUNTIME_DOCKER] = "docker",
	[AF_RUNTIME_CONTAINERD] = "containerd",
	[AF_RUNTIME_PODMAN] = "podman",
};

const char *af_runtime_name(enum af_runtime rt)
{
	return rt < AF_RUNTIME_MAX ? runtime_names[rt] : "?";
}

int af_runtime_from_name(const char *s, enum af_runtime *rt)
{
	for (int i = 0; i < AF_RUNTIME_MAX; i++)
		if (!strcmp(s, runtime_names[i])) {
			*rt = i;
			return 0;
		}
	return -EINVAL;
}

/* The next line of *p, NUL-terminated in place, or NULL at the end. */
static char *next_line(char **p)
{
	char *line = *p, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = 0;
		*p = nl + 1;
	} else {
		*p = line + strlen(line);
	}
	return line;
}

static int set_field(char *dst, size_t size, const char *src)
{
	if (!*src || af_strlcpy(dst, src, size))
		return -EINVAL;
	for (const char *c = src; *c; c++)
		if (!isgraph((unsigned char)*c))
			return -EINVAL;
	return 0;
}

/* docker and podman: ID \t NAMES \t STATE per line. NAMES may list
 * several (a,b): the first is the name. */
static int parse_ps(enum af_runtime rt, char *text, struct af_container_entry *out, size_t max)
{
	char *line, *p = text;
	size_t n = 0;

	while ((line = next_line(&p))) {
		char *id, *names, *state, *comma;
		struct af_container_entry *e;

		if (!*line)
			continue;
		id = strsep(&line, "\t");
		names = strsep(&line, "\t");
		state = strsep(&line, "\t");
		if (!names || !state || line)
			return -EINVAL;
		if (n == max)
			return -EOVERFLOW;
		e = &out[n];
		memset(e, 0, sizeof(*e));
		e->runtime = rt;
		comma = strchr(names, ',');
		if (comma)
			*comma = 0;
		/* docker says "running"; podman 4 "Up 3 seconds ago",
		 * "Exited (0) ...", "Created": its first word, lowercase. */
		state[strcspn(state, " ")] = 0;
		for (char *c = state; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (!strcmp(state, "up"))
			state = "running";
		if (set_field(e->id, sizeof(e->id), id) ||
		    set_field(e->name, sizeof(e->name), names) ||
		    set_field(e->state, sizeof(e->state), state))
			return -EINVAL;
		n++;
	}
	return n;
}

/* containerd: ids, one per line; then TASK PID STATUS rows (a header
 * first) for those with a task. */
static int parse_ctr(char *ids, char *tasks, struct af_container_entry *out, size_t max)
{
	char *line, *p = ids;
	size_t n = 0;
	bool header = true;

	while ((line = next_line(&p))) {
		struct af_container_entry *e;

		if (!*line)
			continue;
		if (n == max)
			return -EOVERFLOW;
		e = &out[n];
		memset(e, 0, sizeof(*e));
		e->runtime = AF_RUNTIME_CONTAINERD;
		if (set_field(e->id, sizeof(e->id), line))
			return -EINVAL;
		strcpy(e->name, e->id);
		strcpy(e->state, "created");	/* no task */
		n++;
	}
	p = tasks;
	while ((line = next_line(&p))) {
		char task[AF_CONTAINER_ID_MAX], status[32];
		unsigned long pid;
		size_t i;

		if (!*line)
			continue;
		if (header) {
			header = false;
			if (!strncmp(line, "TASK", 4))
				continue;
		}
		if (sscanf(line, "%127s %lu %31s", task, &pid, status) != 3 || pid > INT32_MAX)
			return -EINVAL;
		for (i = 0; i < n; i++) {
			if (strcmp(out[i].id, task))
				continue;
			out[i].pid = (pid_t)pid;
			for (char *c = status; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			strcpy(out[i].state, status);
		}
	}
	return n;
}

int af_container_parse(enum af_runtime rt, const char *listing, const char *tasks,
		       struct af_container_entry *out, size_t max)
{
	char *a = strdup(listing ? listing : ""), *b = strdup(tasks ? tasks : "");
	int ret;

	if (!a || !b)
		ret = -ENOMEM;
	else if (rt == AF_RUNTIME_CONTAINERD)
		ret = parse_ctr(a, b, out, max);
	else if (rt == AF_RUNTIME_DOCKER || rt == AF_RUNTIME_PODMAN)
		ret = parse_ps(rt, a, out, max);
	else
		ret = -EINVAL;
	free(a);
	free(b);
	return ret;
}

/* ---- dockerd's Engine API ---- */

/* A string member of o, or NULL. */
static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* dockerd's names begin with '/'; a link's are "/other/alias". */
static const char *docker_name(const char *n)
{
	return n && n[0] == '/' && n[1] && !strchr(n + 1, '/') ? n + 1 : NULL;
}

static void lower_state(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

int af_container_parse_docker_list(const char *json, size_t len, struct af_container_entry *out,
				   size_t max)
{
	json_t *root = json_loadb(json, len, 0, NULL), *c;
	size_t i, n = 0;
	int ret = -EINVAL;

	if (!json_is_array(root))
		goto out;
	json_array_foreach(root, i, c) {
		struct af_container_entry *e;
		const char *name = NULL, *state = jstr(c, "State");
		json_t *names = json_object_get(c, "Names"), *v;
		size_t k;

		if (n == max) {
			ret = -EOVERFLOW;
			goto out;
		}
		json_array_foreach(names, k, v)
			if ((name = docker_name(json_string_value(v))))
				break;
		e = &out[n];
		memset(e, 0, sizeof(*e));
		e->runtime = AF_RUNTIME_DOCKER;
		if (!json_is_array(names) || !name || !state ||
		    set_field(e->id, sizeof(e->id), jstr(c, "Id") ? jstr(c, "Id") : "") ||
		    set_field(e->name, sizeof(e->name), name) ||
		    set_field(e->state, sizeof(e->state), state))
			goto out;
		lower_state(e->state);
		n++;
	}
	ret = (int)n;
out:
	json_decref(root);
	return ret;
}

int af_container_parse_docker_inspect(const char *json, size_t len, struct af_container_entry *e)
{
	json_t *root = json_loadb(json, len, 0, NULL), *st, *pid;
	const char *name;
	int ret = -EINVAL;

	memset(e, 0, sizeof(*e));
	e->runtime = AF_RUNTIME_DOCKER;
	st = json_object_get(root, "State");
	pid = json_object_get(st, "Pid");
	name = docker_name(jstr(root, "Name"));
	if (!json_is_object(root) || !json_is_integer(pid) || json_integer_value(pid) < 0 ||
	    json_integer_value(pid) > INT32_MAX || !name || !jstr(st, "Status") ||
	    set_field(e->id, sizeof(e->id), jstr(root, "Id") ? jstr(root, "Id") : "") ||
	    set_field(e->name, sizeof(e->name), name) ||
	    set_field(e->state, sizeof(e->state), jstr(st, "Status")))
		goto out;
	lower_state(e->state);
	e->pid = (pid_t)json_integer_value(pid);
	ret = 0;
out:
	json_decref(root);
	return ret;
}

/* dockerd's socket as the docker CLI finds it, or NULL when the CLI
 * would talk elsewhere (DOCKER_HOST tcp:// or ssh://, a context of
 * DOCKER_CONTEXT: its TLS and ssh set-up are the CLI's) or no socket
 * is there. */
static const char *docker_socket(char *buf, size_t n)
{
	const char *h = getenv("DOCKER_HOST"), *ctx = getenv("DOCKER_CONTEXT");
	struct stat st;

	if (ctx && *ctx && strcmp(ctx, "default"))
		return NULL;
	if (h && *h) {
		if (strncmp(h, "unix://", 7))
			return NULL;
		h += 7;
	} else {
		h = "/var/run/docker.sock";
	}
	if (af_strlcpy(buf, h, n) || stat(buf, &st) || !S_ISSOCK(st.st_mode))
		return NULL;
	return buf;
}

/* GET path of dockerd: 0 with its status and body (malloc'd), or
 * -errno with why. */
static int docker_get(const char *sock, const char *path, long *status, char **body, size_t *len,
		      char *why, size_t n)
{
	char url[512], hwhy[256] = "";
	struct af_http_req r = {
		.method = "GET", .url = url, .unix_socket = sock,
		.timeout_ms = CLIENT_TIMEOUT_MS, .connect_timeout_ms = 2000, .max_body = CLIENT_OUT_MAX,
	};
	int err;

	snprintf(url, sizeof(url), "http://localhost%s", path);
	*body = NULL;
	err = af_http_do(&r, status, body, len, hwhy, sizeof(hwhy));
	if (err) {
		snprintf(why, n, "docker: GET %s of dockerd's API at %.200s: %s", path, sock, hwhy);
		free(*body);
		*body = NULL;
	}
	return err;
}

/* What dockerd said besides 200: its {"message": ...}. */
static void docker_refusal(const char *sock, const char *path, long status, const char *body,
			   size_t len, char *why, size_t n)
{
	json_t *root = json_loadb(body ? body : "", len, 0, NULL);
	const char *msg = jstr(root, "message");

	snprintf(why, n, "docker: GET %s of dockerd's API at %.200s: HTTP %ld: %s", path, sock, status,
		 msg ? msg : "no message");
	json_decref(root);
}

/* A name or id dockerd can be asked for by path: the characters its
 * names and ids have, nothing a URL would read otherwise. */
static bool docker_ref_ok(const char *ref)
{
	if (!*ref || strlen(ref) >= AF_CONTAINER_ID_MAX)
		return false;
	for (const char *c = ref; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_.-", *c))
			return false;
	return true;
}

/* The container dockerd resolves ref to (an id, a name, a unique id
 * prefix): 0 and *e; -ENOENT when it finds none, -EIO when it refuses
 * (an ambiguous prefix), -errno with why otherwise. */
static int docker_inspect(const char *sock, const char *ref, struct af_container_entry *e,
			  char *why, size_t n)
{
	char path[AF_CONTAINER_ID_MAX + 32], *body = NULL;
	size_t len = 0;
	long status = 0;
	int err;

	snprintf(path, sizeof(path), "/containers/%s/json", ref);
	err = docker_get(sock, path, &status, &body, &len, why, n);
	if (err)
		return err;
	if (status == 404) {
		err = -ENOENT;
	} else if (status != 200) {
		docker_refusal(sock, path, status, body, len, why, n);
		err = -EIO;
	} else if (af_container_parse_docker_inspect(body, len, e)) {
		snprintf(why, n, "docker: GET %s of dockerd's API at %.200s: not the container object "
			 "dockerd sends", path, sock);
		err = -EPROTO;
	}
	free(body);
	return err;
}

static int docker_list(const char *sock, struct af_container_entry *e, size_t max, char *why,
		       size_t n)
{
	static const char path[] = "/containers/json?all=1";
	size_t len = 0;
	long status = 0;
	char *body;
	int ret;

	ret = docker_get(sock, path, &status, &body, &len, why, n);
	if (ret)
		return ret;
	if (status != 200) {
		docker_refusal(sock, path, status, body, len, why, n);
		ret = -EIO;
	} else {
		ret = af_container_parse_docker_list(body, len, e, max);
		if (ret == -EOVERFLOW)
			snprintf(why, n, "docker: more than %d containers", LISTING_MAX);
		else if (ret < 0)
			snprintf(why, n, "docker: GET %s of dockerd's API at %.200s: not the listing dockerd "
				 "sends", path, sock);
	}
	free(body);
	return ret;
}

static void list_candidates(const struct af_container_entry *e, size_t n, const char *ref,
			    bool prefix, char *why, size_t size)
{
	size_t len = strlen(ref), used, shown = 0;

	snprintf(why, size, "%s names %s containers:", ref, prefix ? "several" : "two or more");
	for (size_t i = 0; i < n; i++) {
		bool hit = prefix ? !strncmp(e[i].id, ref, len)
				  : !strcmp(e[i].id, ref) || !strcmp(e[i].name, ref);

		if (!hit)
			continue;
		used = strlen(why);
		if (shown++ == 8) {
			snprintf(why + used, size - used, " ...");
			break;
		}
		snprintf(why + used, size - used, "%s %s %.12s (%s)", shown > 1 ? "," : "",
			 af_runtime_name(e[i].runtime), e[i].id, e[i].name);
	}
	used = strlen(why);
	snprintf(why + used, size - used, "; give more of the id, or --runtime");
}

int af_container_match(const struct af_container_entry *e, size_t n, const char *ref,
		       char *why, size_t size)
{
	size_t len = strlen(ref);
	int hit = -ENOENT, hits = 0;

	if (!len)
		return -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(e[i].id, ref) || !strcmp(e[i].name, ref)) {
			hit = (int)i;
			hits++;
		}
	if (hits > 1) {
		list_candidates(e, n, ref, false, why, size);
		return -ENOTUNIQ;
	}
	if (hits == 1)
		return hit;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(e[i].id, ref, len)) {
			hit = (int)i;
			hits++;
		}
	if (hits > 1) {
		list_candidates(e, n, ref, true, why, size);
		return -ENOTUNIQ;
	}
	return hit;
}

/* fork + exec argv with stdout and stderr on out and err, stdin on
 * /dev/null; an exec failure comes back through a close-on-exec pipe as
 * its errno (ENOENT: not installed). */
static int spawn_client(char *const argv[], int out, int err, pid_t *pid)
{
	int p[2], e = 0;
	ssize_t r;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	*pid = fork();
	if (*pid < 0) {
		e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (*pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
			e = errno;
		} else {
			execvp(argv[0], argv);
			e = errno;
		}
		if (write(p[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(p[1]);
	do
		r = read(p[0], &e, sizeof(e));
	while (r < 0 && errno == EINTR);
	close(p[0]);
	if (r == sizeof(e)) {
		while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -e;
	}
	return 0;
}

/* Run a client, its stdout into *out (NUL-terminated, malloc'd), its
 * stderr's first line into err. Returns its exit status, or -errno
 * (-ENOENT: not installed; -ETIMEDOUT: killed after CLIENT_TIMEOUT_MS). */
static int client(char *const argv[], char **out, char *err, size_t err_size)
{
	int pout[2] = { -1, -1 }, perr[2] = { -1, -1 }, status, ret;
	size_t len = 0, elen = 0;
	struct timespec t0, t;
	char *buf = NULL;
	pid_t pid = -1;

	*out = NULL;
	err[0] = 0;
	if (pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC)) {
		ret = -errno;
		goto close_pipes;
	}
	ret = spawn_client(argv, pout[1], perr[1], &pid);
	close(pout[1]);
	close(perr[1]);
	pout[1] = perr[1] = -1;
	if (ret)
		goto close_pipes;
	buf = malloc(CLIENT_OUT_MAX + 1);
	if (!buf) {
		kill(pid, SIGKILL);
		ret = -ENOMEM;
		goto reap;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int open_fds = 2; open_fds;) {
		struct pollfd pf[2] = { { pout[0], POLLIN, 0 }, { perr[0], POLLIN, 0 } };
		long left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = CLIENT_TIMEOUT_MS - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(pf, 2, (int)left) == 0) {
			kill(pid, SIGKILL);
			ret = -ETIMEDOUT;
			goto reap;
		}
		for (int i = 0; i < 2; i++) {
			char tmp[4096];
			ssize_t r;

			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(pf[i].fd, tmp, sizeof(tmp));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(i ? perr[0] : pout[0]);
				if (i)
					perr[0] = -1;
				else
					pout[0] = -1;
				open_fds--;
				continue;
			}
			if (i == 0) {
				if (len + (size_t)r > CLIENT_OUT_MAX) {
					kill(pid, SIGKILL);
					ret = -EFBIG;
					goto reap;
				}
				memcpy(buf + len, tmp, (size_t)r);
				len += (size_t)r;
			} else if (elen + 1 < err_size) {
				size_t k = (size_t)r < err_size - 1 - elen ? (size_t)r : err_size - 1 - elen;

				memcpy(err + elen, tmp, k);
				elen += k;
				err[elen] = 0;
			}
		}
	}
	ret = 0;
reap:
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!ret)
		ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
close_pipes:
	for (int i = 0; i < 2; i++) {
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
	}
	/* What the client said: its first line. */
	err[strcspn(err, "\n")] = 0;
	if (ret == 0 || ret > 0) {
		buf[len] = 0;
		*out = buf;
	} else {
		free(buf);
	}
	return ret;
}

/* A client's answer, or a reason in why: "docker: not installed", ... */
static int ask(enum af_runtime rt, char *const argv[], char **out, char *why, size_t size)
{
	char err[256];
	int ret = client(argv, out, err, sizeof(err));

	if (ret == 0)
		return 0;
	char cmd[160] = "";

	for (int i = 0; argv[i] && i < 6; i++) {
		size_t len = strlen(cmd);

		snprintf(cmd + len, sizeof(cmd) - len, "%s%s", i ? " " : "", argv[i]);
	}
	if (ret == -ENOENT)
		snprintf(why, size, "%s: not installed (no %s in PATH)", af_runtime_name(rt), argv[0]);
	else if (ret == -ETIMEDOUT)
		snprintf(why, size, "%s: `%s` gave no answer in %d s", af_runtime_name(rt), cmd,
			 CLIENT_TIMEOUT_MS / 1000);
	else if (ret < 0)
		snprintf(why, size, "%s: run %s: %s", af_runtime_name(rt), argv[0], strerror(-ret));
	else
		snprintf(why, size, "%s: `%s` exited %d: %s", af_runtime_name(rt), cmd, ret,
			 err[0] ? err : "no message");
	free(*out);
	*out = NULL;
	/* Not installed is not "no such container". */
	return ret == -ENOENT ? -ENXIO : ret < 0 ? ret : -EIO;
}

/* Append one runtime's containers to e[*n] (docker's through dsock
 * when set); on failure a reason in why. */
static int list_runtime(enum af_runtime rt, const char *ns, const char *dsock,
			struct af_container_entry *e, size_t *n, char *why, size_t size)
{
	char *listing = NULL, *tasks = NULL;
	int ret;

	if (rt == AF_RUNTIME_DOCKER && dsock) {
		ret = docker_list(dsock, e + *n, LISTING_MAX - *n, why, size);
		if (ret < 0)
			return ret;
		*n += (size_t)ret;
		return 0;
	}
	if (rt == AF_RUNTIME_CONTAINERD) {
		/* ctr waits for a socket that is not there: say so at once. */
		const char *sock = getenv("CONTAINERD_ADDRESS");

		if (!sock || !*sock)
			sock = "/run/containerd/containerd.sock";
		if (access(sock, F_OK)) {
			snprintf(why, size, "containerd: no socket at %s (not running? CONTAINERD_ADDRESS names "
				 "another)", sock);
			return -ENXIO;
		}
	}
	if (rt == AF_RUNTIME_CONTAINERD) {
		char *const ls[] = { "ctr", "-n", (char *)ns, "containers", "ls", "-q", NULL };
		char *const tl[] = { "ctr", "-n", (char *)ns, "task", "ls", NULL };

		ret = ask(rt, ls, &listing, why, size);
		if (!ret)
			ret = ask(rt, tl, &tasks, why, size);
	} else {
		char *const ps[] = { rt == AF_RUNTIME_DOCKER ? "docker" : "podman", "ps", "-a",
				     "--no-trunc", "--format", "{{.ID}}\t{{.Names}}\t{{.State}}", NULL };

		ret = ask(rt, ps, &listing, why, size);
	}
	if (!ret) {
		ret = af_container_parse(rt, listing, tasks, e + *n, LISTING_MAX - *n);
		if (ret == -EOVERFLOW)
			snprintf(why, size, "%s: more than %d containers", af_runtime_name(rt), LISTING_MAX);
		else if (ret < 0)
			snprintf(why, size, "%s: its listing is not in the format asked for", af_runtime_name(rt));
		else
			*n += (size_t)ret;
	}
	free(listing);
	free(tasks);
	return ret < 0 ? ret : 0;
}

static int container_pid(struct af_container *c, const char *dsock, char *why, size_t size)
{
	char *const inspect[] = { c->e.runtime == AF_RUNTIME_DOCKER ? "docker" : "podman", "inspect",
				  "--format", "{{.State.Pid}}", c->e.id, NULL };
	unsigned long pid;
	char *out = NULL;
	int ret;

	if (c->e.runtime == AF_RUNTIME_CONTAINERD)
		return c->e.pid > 0 ? 0 : -ESRCH;
	if (c->e.runtime == AF_RUNTIME_DOCKER && dsock) {
		struct af_container_entry e;

		ret = docker_inspect(dsock, c->e.id, &e, why, size);
		if (ret == -ENOENT)
			snprintf(why, size, "docker: container %.12s went away while it was looked up",
				 c->e.id);
		if (ret)
			return ret == -ENOENT ? -ESRCH : ret;
		if (!e.pid || strcmp(e.state, "running")) {
			snprintf(why, size, "docker: container %.12s has no process (%s, pid %d)", c->e.id,
				 e.state, e.pid);
			return -ESRCH;
		}
		c->e.pid = e.pid;
		return 0;
	}
	ret = ask(c->e.runtime, inspect, &out, why, size);
	if (ret)
		return ret;
	out[strcspn(out, "\n")] = 0;
	ret = af_parse_ulong(out, INT32_MAX, &pid);
	free(out);
	if (ret || !pid) {
		snprintf(why, size, "%s: container %.12s has no process (pid %s)", af_runtime_name(c->e.runtime),
			 c->e.id, ret ? "unreadable" : "0");
		return -ESRCH;
	}
	c->e.pid = (pid_t)pid;
	return 0;
}

/* Its cgroup v2 directory, from /proc/PID/cgroup's "0::" line. */
static int container_cgroup(struct af_container *c, char *why, size_t size)
{
	char file[64], buf[8192], mnt[PATH_MAX], *line, *p = buf;
	int ret;

	snprintf(file, sizeof(file), "/proc/%d/cgroup", c->e.pid);
	ret = af_read_small(file, buf, sizeof(buf));
	if (ret) {
		snprintf(why, size, "read %s: %s (did the container just exit?)", file, strerror(-ret));
		return ret;
	}
	ret = af_cgroup2_mount(mnt, sizeof(mnt));
	if (ret) {
		snprintf(why, size, "find the cgroup2 mount: %s", strerror(-ret));
		return ret;
	}
	while ((line = next_line(&p)))
		if (!strncmp(line, "0::/", 4)) {
			if (snprintf(c->cgroup, sizeof(c->cgroup), "%s%s", mnt,
				     strcmp(line + 3, "/") ? line + 3 : "") >= (int)sizeof(c->cgroup))
				break;
			return 0;
		}
	snprintf(why, size, "%s has no cgroup v2 line: the container's process is not in the cgroup2 "
		 "hierarchy at %s", file, mnt);
	return -ENOENT;
}

static void say_via(struct af_container *c, const char *dsock, const char *nocurl)
{
	if (c->e.runtime == AF_RUNTIME_DOCKER && dsock)
		snprintf(c->via, sizeof(c->via), "dockerd's API at %.200s", dsock);
	else if (c->e.runtime == AF_RUNTIME_CONTAINERD)
		snprintf(c->via, sizeof(c->via), "ctr");
	else
		snprintf(c->via, sizeof(c->via), "the %s CLI%s%s", af_runtime_name(c->e.runtime),
			 c->e.runtime == AF_RUNTIME_DOCKER && nocurl[0] ? ": " : "",
			 c->e.runtime == AF_RUNTIME_DOCKER ? nocurl : "");
}

int af_container_find(const char *ref, enum af_runtime rt, const char *ns,
		      struct af_container *out, char *why, size_t size)
{
	struct af_container_entry *e;
	char reasons[1024] = "", one[320], sockbuf[PATH_MAX], nocurl[300] = "";
	const char *dsock = NULL;
	size_t n = 0, asked = 0;
	int i, ret;

	if (!ns)
		ns = "default";
	if (rt == AF_RUNTIME_ANY || rt == AF_RUNTIME_DOCKER) {
		char cwhy[256];

		dsock = docker_socket(sockbuf, sizeof(sockbuf));
		if (dsock && af_http_available(cwhy, sizeof(cwhy))) {
			snprintf(nocurl, sizeof(nocurl), "not dockerd's socket: %s", cwhy);
			dsock = NULL;
		}
	}
	/* One request when dockerd knows ref and no other runtime is asked. */
	if (rt == AF_RUNTIME_DOCKER && dsock && docker_ref_ok(ref)) {
		memset(out, 0, sizeof(*out));
		ret = docker_inspect(dsock, ref, &out->e, why, size);
		/* An ambiguous prefix is dockerd 20.10's HTTP 500 (400 in
		 * later ones): any refusal goes to the listing. */
		if (ret && ret != -ENOENT && ret != -EIO)
			return ret;
		if (!ret) {
			say_via(out, dsock, nocurl);
			if (strcmp(out->e.state, "running") || !out->e.pid) {
				snprintf(why, size, "docker container %.12s (%s) is not running: %s",
					 out->e.id, out->e.name, out->e.state);
				return -ESRCH;
			}
			return container_cgroup(out, why, size);
		}
		/* Unknown or ambiguous: the listing says which. */
	}
	e = calloc(LISTING_MAX, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (int r = AF_RUNTIME_DOCKER; r < AF_RUNTIME_MAX; r++) {
		size_t len;

		if (rt != AF_RUNTIME_ANY && rt != (enum af_runtime)r)
			continue;
		ret = list_runtime(r, ns, dsock, e, &n, one, sizeof(one));
		if (!ret) {
			asked++;
			continue;
		}
		len = strlen(reasons);
		snprintf(reasons + len, sizeof(reasons) - len, "%s%s", len ? "; " : "", one);
		if (rt != AF_RUNTIME_ANY) {
			snprintf(why, size, "%s", one);
			goto out;
		}
	}
	i = af_container_match(e, n, ref, why, size);
	if (i == -ENOENT) {
		ret = -ENOENT;
		snprintf(why, size, "no container %s in %s (%zu container%s listed%s%s)", ref,
			 rt == AF_RUNTIME_ANY ? "any runtime" : af_runtime_name(rt), n, n == 1 ? "" : "s",
			 reasons[0] ? "; " : "", reasons);
		if (!asked)
			ret = -ENXIO;	/* no runtime answered at all */
		goto out;
	}
	if (i < 0) {
		ret = i;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	out->e = e[i];
	say_via(out, dsock, nocurl);
	if (strcmp(out->e.state, "running")) {
		snprintf(why, size, "%s container %.12s (%s) is not running: %s", af_runtime_name(out->e.runtime),
			 out->e.id, out->e.name, out->e.state);
		ret = -ESRCH;
		goto out;
	}
	ret = container_pid(out, dsock, why, size);
	if (!ret)
		ret = container_cgroup(out, why, size);
out:
	free(e);
	return ret;
}
