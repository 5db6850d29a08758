// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fence.h"
#include "fences.h"
#include "json.h"
#include "json_read.h"
#include "stream.h"
#include "util.h"

static void meta_path(uint64_t id, char *out, size_t n)
{
	snprintf(out, n, AF_FENCES_DIR "/%llu.json", (unsigned long long)id);
}

int af_fence_meta_write(const struct af_fence_meta *m)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	struct af_json w;
	FILE *f;
	int fd, err = 0;

	if ((mkdir(AF_RUN_DIR, 0700) && errno != EEXIST) ||
	    (mkdir(AF_FENCES_DIR, 0700) && errno != EEXIST))
		return -errno;
	meta_path(m->id, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	af_json_init(&w, f);
	af_json_object(&w, NULL);
	af_json_u64(&w, "id", m->id);
	af_json_str(&w, "cgroup", m->cgroup);
	af_json_str(&w, "policy", m->policy);
	af_json_str(&w, "sha256", m->sha256);
	af_json_str(&w, "backend", m->backend);
	af_json_str(&w, "journal", m->journal);
	af_json_i64(&w, "supervisor", m->supervisor);
	af_json_i64(&w, "client", m->client);
	af_json_bool(&w, "owned", m->owned);
	af_json_end(&w);
	fputc('\n', f);
	if (fflush(f) || ferror(f))
		err = -EIO;
	fclose(f);
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

void af_fence_meta_remove(uint64_t id)
{
	char path[PATH_MAX];

	meta_path(id, path, sizeof(path));
	unlink(path);
}

static bool get_bool(const char *obj, size_t len, const char *key)
{
	const char *v;
	size_t vl;

	return !json_find(obj, len, key, &v, &vl) && vl == 4 && !memcmp(v, "true", 4);
}

int af_fence_meta_read(uint64_t id, struct af_fence_meta *m)
{
	char path[PATH_MAX], buf[3 * PATH_MAX];
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
	json_get_str(buf, len, "cgroup", m->cgroup, sizeof(m->cgroup));
	json_get_str(buf, len, "policy", m->policy, sizeof(m->policy));
	json_get_str(buf, len, "sha256", m->sha256, sizeof(m->sha256));
	json_get_str(buf, len, "backend", m->backend, sizeof(m->backend));
	json_get_str(buf, len, "journal", m->journal, sizeof(m->journal));
	if (!json_get_u64(buf, len, "supervisor", &v))
		m->supervisor = (pid_t)v;
	if (!json_get_u64(buf, len, "client", &v))
		m->client = (pid_t)v;
	m->owned = get_bool(buf, len, "owned");
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Ids named by the entries of dir: "<id>" or "<id>.json". */
static int collect(const char *dir, const char *suffix, uint64_t **ids, size_t *n, size_t *cap)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	char name[64], *dot;
	unsigned long id;
	uint64_t *v;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (af_strlcpy(name, de->d_name, sizeof(name)))
			continue;
		if (suffix) {
			dot = strrchr(name, '.');
			if (!dot || strcmp(dot, suffix))
				continue;
			*dot = 0;
		}
		if (af_parse_ulong(name, ULONG_MAX, &id) || !id)
			continue;
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 16;
			v = realloc(*ids, *cap * sizeof(*v));
			if (!v) {
				closedir(d);
				return -ENOMEM;
			}
			*ids = v;
		}
		(*ids)[(*n)++] = id;
	}
	closedir(d);
	return 0;
}

int af_fences_each(int (*fn)(void *ctx, const struct af_fence_meta *m), void *ctx)
{
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0, i;
	struct af_fence_meta m;
	char pin[PATH_MAX];
	int err;

	err = collect(AF_PIN_ROOT, NULL, &ids, &n, &cap);
	if (!err)
		err = collect(AF_FENCES_DIR, ".json", &ids, &n, &cap);
	if (err) {
		free(ids);
		return err;
	}
	qsort(ids, n, sizeof(*ids), cmp_u64);
	for (i = 0; i < n && !err; i++) {
		if (i && ids[i] == ids[i - 1])
			continue;
		af_fence_meta_read(ids[i], &m);
		snprintf(pin, sizeof(pin), AF_PIN_ROOT "/%llu", (unsigned long long)ids[i]);
		m.pinned = !access(pin, F_OK);
		m.orphaned = m.supervisor <= 0 || (kill(m.supervisor, 0) && errno == ESRCH);
		err = fn(ctx, &m);
	}
	free(ids);
	return err > 0 ? 0 : err;
}
