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
	snprintf(out, n, AF_SUP_META_DIR "/%llu.json", (unsigned long long)id);
}

static void sup_meta_fill(struct af_json *w, const void *ctx)
{
	const struct af_sup_meta *m = ctx;

	af_json_object(w, NULL);
	af_json_u64(w, "id", m->id);
	af_json_i64(w, "client", m->client);
	af_json_bool(w, "owned", m->owned);
	af_json_u64(w, "dns_port4", m->dns_port4);
	af_json_u64(w, "dns_port6", m->dns_port6);
	af_json_str(w, "workspace", m->workspace);
	af_json_str(w, "home", m->home);
	af_json_str(w, "policy_file", m->policy_file);
	af_json_end(w);
}

int af_sup_meta_write(const struct af_sup_meta *m)
{
	char path[PATH_MAX];

	if ((mkdir(AF_RUN_DIR, 0700) && errno != EEXIST) ||
	    (mkdir(AF_SUP_META_DIR, 0700) && errno != EEXIST))
		return -errno;
	meta_path(m->id, path, sizeof(path));
	return af_json_file_write(path, sup_meta_fill, m);
}

void af_sup_meta_remove(uint64_t id)
{
	char path[PATH_MAX];

	meta_path(id, path, sizeof(path));
	unlink(path);
}

int af_sup_meta_read(uint64_t id, struct af_sup_meta *m)
{
	char path[PATH_MAX], buf[4 * PATH_MAX];
	unsigned long long v;
	const char *val;
	size_t len, vl;
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
	json_get_str(buf, len, "workspace", m->workspace, sizeof(m->workspace));
	json_get_str(buf, len, "home", m->home, sizeof(m->home));
	json_get_str(buf, len, "policy_file", m->policy_file, sizeof(m->policy_file));
	if (!json_get_u64(buf, len, "client", &v))
		m->client = (pid_t)v;
	if (!json_get_u64(buf, len, "dns_port4", &v))
		m->dns_port4 = (uint16_t)v;
	if (!json_get_u64(buf, len, "dns_port6", &v))
		m->dns_port6 = (uint16_t)v;
	m->owned = !json_find(buf, len, "owned", &val, &vl) && vl == 4 && !memcmp(val, "true", 4);
	return 0;
}
