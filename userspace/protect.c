// SPDX-License-Identifier: GPL-2.0
/*
 * Protected paths on the BPF LSM backends (bpf/fs.bpf.c).
 *
 * An existing protected path is a root of kind AF_ROOT_PROTECTED: by
 * identity, so hard links, bind mounts and /proc/self/fd reopens meet
 * it, and everything beneath it is read-only by the nearest-root rule.
 * Every name from the writable root down to it is also in af_pnames,
 * keyed by the parent directory's identity: the protected path may not
 * be removed, renamed away, or replaced by a rename, link or symlink
 * into place, and a directory on its way may not be renamed or removed
 * (a new .git would bring new hooks). Where the walk meets a name that
 * does not exist yet, the names below it wait in af_pnext under the
 * way's node number: when the directory is made in the fence,
 * lsm/d_instantiate inserts its children's names by its new identity.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bpf/bpf.h>

#include "compile.h"
#include "fence.h"
#include "protect.h"
#include "util.h"
#include "../bpf/fence.h"

/* A node: a directory on the way, as a path; its children. */
struct node {
	char *path;
	struct af_pnext_val next;
};

struct fill {
	uint64_t fence_id;
	int roots_fd, pnames_fd, pnext_fd;
	char *why;
	size_t n;
	struct node *nodes;
	size_t n_nodes;
};

static int node_of(struct fill *f, const char *path, uint32_t *idx)
{
	struct node *nn;
	size_t i;

	for (i = 0; i < f->n_nodes; i++)
		if (!strcmp(f->nodes[i].path, path)) {
			*idx = i + 1;
			return 0;
		}
	nn = realloc(f->nodes, (f->n_nodes + 1) * sizeof(*nn));
	if (!nn)
		return -ENOMEM;
	f->nodes = nn;
	memset(&nn[f->n_nodes], 0, sizeof(*nn));
	nn[f->n_nodes].path = strdup(path);
	if (!nn[f->n_nodes].path)
		return -ENOMEM;
	*idx = ++f->n_nodes;
	return 0;
}

static int add_kid(struct fill *f, uint32_t parent, const char *name, struct af_pname_val v)
{
	struct af_pnext_val *next = &f->nodes[parent - 1].next;
	uint32_t i;

	for (i = 0; i < next->n; i++)
		if (!strcmp(next->kids[i].name, name)) {
			if (v.kind == AF_PN_FINAL)
				next->kids[i].val = v;
			return 0;
		}
	if (next->n == AF_PNEXT_MAX) {
		snprintf(f->why, f->n, "more than %d protected names beneath %s",
			 AF_PNEXT_MAX, f->nodes[parent - 1].path);
		return -E2BIG;
	}
	snprintf(next->kids[next->n].name, AF_PNAME_LEN, "%s", name);
	next->kids[next->n].val = v;
	next->n++;
	return 0;
}

/* After a failed update of a protected names map: -errno, and why. A
 * full map (E2BIG) is the node's limit for all its fences together. */
static int full_or(char *why, size_t n, const char *what, unsigned int max)
{
	int err = errno;

	if (err == E2BIG)
		snprintf(why, n, "the node's map of protected %s is full (%u entries for all its "
			 "fences): fewer protected paths or writable paths per fence, or fewer fences",
			 what, max);
	else
		snprintf(why, n, "fill the protected %s map: %s", what, strerror(err));
	return -err;
}

static int put_name(struct fill *f, const struct stat *dir, const char *name,
		    struct af_pname_val v)
{
	struct af_pname_key key = { .fence_id = f->fence_id };
	struct af_pname_val old;

	key.ino = dir->st_ino;
	key.dev = af_kdev(dir->st_dev);
	snprintf(key.name, sizeof(key.name), "%s", name);
	/* A protected path is final even when another one lies beneath it. */
	if (v.kind == AF_PN_WAY && !bpf_map_lookup_elem(f->pnames_fd, &key, &old) &&
	    old.kind == AF_PN_FINAL)
		return 0;
	if (bpf_map_update_elem(f->pnames_fd, &key, &v, BPF_ANY))
		return full_or(f->why, f->n, "names", AF_PNAMES_MAX);
	return 0;
}

static int one(void *ctx, const char *path, const char *root)
{
	struct fill *f = ctx;
	size_t rlen = strcmp(root, "/") ? strlen(root) : 0;
	char buf[PATH_MAX], *s, *name;
	struct stat dir, st;
	bool there = true;	/* the directory so far exists */
	uint32_t parent = 0;	/* node of the missing directory above, 0: none */
	int err;

	if (af_strlcpy(buf, path, sizeof(buf)) || stat(root, &dir))
		return 0;
	name = buf + rlen + 1;
	for (;;) {
		struct af_pname_val v = {};
		bool last;

		s = strchr(name, '/');
		last = !s;
		if (s)
			*s = 0;
		v.kind = last ? AF_PN_FINAL : AF_PN_WAY;
		if (!last && (err = node_of(f, buf, &v.node)))
			goto oom;
		if (there)
			err = put_name(f, &dir, name, v);
		else
			err = add_kid(f, parent, name, v);
		if (err)
			return err;
		if (there && !stat(buf, &st)) {
			if (last) {
				struct af_root_key key = { .fence_id = f->fence_id, .ino = st.st_ino,
							   .dev = af_kdev(st.st_dev) };
				struct af_root_val val = { .kind = AF_ROOT_PROTECTED };

				if (bpf_map_update_elem(f->roots_fd, &key, &val, BPF_ANY)) {
					snprintf(f->why, f->n, "fill the roots map: %s", strerror(errno));
					return -errno;
				}
				return 0;
			}
			if (!S_ISDIR(st.st_mode))
				return 0;	/* a file on the way: nothing can be beneath */
			dir = st;
		} else {
			there = false;
		}
		if (last)
			return 0;
		parent = v.node;
		*s = '/';
		name = s + 1;
	}
oom:
	snprintf(f->why, f->n, "out of memory");
	return -ENOMEM;
}

int af_protect_fill(const struct af_policy *p, uint64_t fence_id, int roots_fd,
		    int pnames_fd, int pnext_fd, char *why, size_t n)
{
	struct fill f = { .fence_id = fence_id, .roots_fd = roots_fd, .pnames_fd = pnames_fd,
			  .pnext_fd = pnext_fd, .why = why, .n = n };
	size_t i;
	int err;

	err = af_policy_protected_each(p, one, &f);
	for (i = 0; !err && i < f.n_nodes; i++) {
		struct af_pnext_key key = { .fence_id = fence_id, .node = i + 1 };

		if (f.nodes[i].next.n && bpf_map_update_elem(pnext_fd, &key, &f.nodes[i].next, BPF_ANY))
			err = full_or(why, n, "names waiting for their directories", AF_PNEXT_ENTRIES);
	}
	for (i = 0; i < f.n_nodes; i++)
		free(f.nodes[i].path);
	free(f.nodes);
	return err;
}
