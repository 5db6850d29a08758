/* SPDX-License-Identifier: GPL-2.0 */
/* A running container's place on this node (its first process and its
 * cgroup), found through dockerd's API socket (the docker CLI when
 * there is none), containerd's ctr, podman's CLI. */
#ifndef AF_CONTAINER_H
#define AF_CONTAINER_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

enum af_runtime {
	AF_RUNTIME_ANY = 0,	/* ask every runtime installed */
	AF_RUNTIME_DOCKER,
	AF_RUNTIME_CONTAINERD,
	AF_RUNTIME_PODMAN,
	AF_RUNTIME_MAX,
};

#define AF_CONTAINER_ID_MAX	128
#define AF_CONTAINER_NAME_MAX	128

/* One container of a runtime's listing. */
struct af_container_entry {
	enum af_runtime runtime;
	char id[AF_CONTAINER_ID_MAX];		/* the full id */
	char name[AF_CONTAINER_NAME_MAX];	/* containerd has none: its id */
	char state[32];				/* "running", "exited", "created", ... */
	pid_t pid;				/* containerd's task listing has it; else 0 */
};

struct af_container {
	struct af_container_entry e;	/* e.pid: its first process, in this pid namespace */
	char cgroup[PATH_MAX];		/* its cgroup v2 directory, a full path */
	char via[PATH_MAX + 32];	/* how it was found: "dockerd's API at
					 * /var/run/docker.sock", "the docker CLI", ... */
};

/* "docker", "containerd", "podman"; "any" for AF_RUNTIME_ANY. */
const char *af_runtime_name(enum af_runtime rt);
int af_runtime_from_name(const char *s, enum af_runtime *rt);	/* -EINVAL */

/* Parse one runtime's listing (the client's output: for docker and
 * podman `ps -a --no-trunc --format '{{.ID}}\t{{.Names}}\t{{.State}}'`,
 * for containerd `ctr containers ls -q` joined with `ctr task ls`, see
 * container.c) into entries; returns how many, or -EOVERFLOW past max,
 * -EINVAL on a line that is none of these. Pure: unit-tested. */
int af_container_parse(enum af_runtime rt, const char *listing, const char *tasks,
		       struct af_container_entry *out, size_t max);

/* dockerd's Engine API answers, parsed with jansson: the listing of
 * GET /containers/json?all=1 into entries (as af_container_parse), and
 * the object of GET /containers/{id}/json into one entry (its pid
 * included). -EINVAL for JSON that is not what dockerd sends. Pure. */
int af_container_parse_docker_list(const char *json, size_t len, struct af_container_entry *out,
				   size_t max);
int af_container_parse_docker_inspect(const char *json, size_t len, struct af_container_entry *out);

/* Which of the entries ref names: an exact id or name first, else a
 * unique prefix of an id. Returns its index, -ENOENT for none, -ENOTUNIQ
 * when several match (the candidates are then listed in why). Pure. */
int af_container_match(const struct af_container_entry *e, size_t n, const char *ref,
		       char *why, size_t why_size);

/* Find the running container ref names (id, unique id prefix, or name)
 * in runtime rt (AF_RUNTIME_ANY: all of them; containerd in namespace ns,
 * NULL: "default"), with its first process and cgroup. On failure,
 * -errno and why: what was asked of which runtime and what it said. */
int af_container_find(const char *ref, enum af_runtime rt, const char *ns,
		      struct af_container *out, char *why, size_t why_size);

#endif /* AF_CONTAINER_H */
