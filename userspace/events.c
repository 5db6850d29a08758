// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "dns.h"
#include "net.h"
#include "util.h"
#include "../bpf/fence.h"

/* x86_64 syscall numbers, for naming what a denied call tried. */
static const char *sys_verb(long nr, const char *fallback)
{
	switch (nr) {
	case 83: case 258: return "mkdir";
	case 84: return "rmdir";
	case 87: case 263: return "unlink";
	case 82: case 264: case 316: return "rename";
	case 86: case 265: return "link";
	case 88: case 266: return "symlink";
	case 133: case 259: return "mknod";
	case 2: case 85: case 257: case 437: return "create";
	case 76: case 77: return "truncate";
	case 90: case 91: case 268: case 452: return "chmod";
	case 92: case 93: case 94: case 260: return "chown";
	case 132: case 235: case 261: case 280: return "utimes";
	default: return fallback;
	}
}

static const char *const op_names[AF_OP_MAX] = {
	[AF_OP_OPEN_WRITE] = "write",
	[AF_OP_OPEN_READ] = "read",
	[AF_OP_DIR_WRITE] = "write",
	[AF_OP_SETATTR] = "setattr",
	[AF_OP_LINK] = "link",
	[AF_OP_XATTR] = "xattr",
	[AF_OP_MOUNT] = "mount",
	[AF_OP_BPF] = "bpf",
	[AF_OP_PTRACE] = "ptrace",
	[AF_OP_SIGNAL] = "signal",
	[AF_OP_MODULE] = "module load",
	[AF_OP_URING_CREDS] = "io_uring personality",
	[AF_OP_DNS] = "dns lookup",
	[AF_OP_CGROUP] = "cgroup write outside the fence",
	[AF_OP_NET_IOCTL] = "network configuration ioctl",
};

/* Mount point of a filesystem whose mounted root is "/" (or the
 * longest root that prefixes path), for device maj:min. */
static int mount_prefix(unsigned int kdev, const char *path, char *out, size_t n, size_t *skip)
{
	unsigned int maj = kdev >> 20, min = kdev & 0xfffff;
	char *line = NULL, want[32];
	size_t cap = 0, best = 0;
	int found = -ENOENT;
	FILE *f;

	snprintf(want, sizeof(want), "%u:%u", maj, min);
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *p = line, *fld[5];
		size_t rl;
		int i;

		for (i = 0; i < 5; i++)
			fld[i] = strsep(&p, " ");
		if (!fld[4] || strcmp(fld[2], want))
			continue;
		rl = strcmp(fld[3], "/") ? strlen(fld[3]) : 0;
		if (rl && (strncmp(path, fld[3], rl) || (path[rl] && path[rl] != '/')))
			continue;
		if (found == 0 && rl <= best && !(rl == best && strlen(fld[4]) < strlen(out)))
			continue;
		best = rl;
		*skip = rl;
		af_strlcpy(out, strcmp(fld[4], "/") ? fld[4] : "", n);
		found = 0;
	}
	free(line);
	fclose(f);
	return found;
}

int af_event_path(unsigned int kdev, const char *names, size_t len, char *buf, size_t n)
{
	const char *comps[AF_PATH_MAX];
	char rel[PATH_MAX] = "", prefix[PATH_MAX];
	size_t nc = 0, off = 0, skip = 0;
	int i;

	while (off < len && nc < ARRAY_SIZE(comps)) {
		comps[nc++] = names + off;
		off += strnlen(names + off, len - off) + 1;
	}
	for (i = (int)nc - 1; i >= 0; i--) {
		size_t l = strlen(rel);

		snprintf(rel + l, sizeof(rel) - l, "/%s", comps[i]);
	}
	if (!rel[0])
		strcpy(rel, "/");
	if (mount_prefix(kdev, rel, prefix, sizeof(prefix), &skip))
		return snprintf(buf, n, "(dev %u:%u)%s", kdev >> 20, kdev & 0xfffff, rel) < 0 ? -EIO : 0;
	snprintf(buf, n, "%s%s", prefix, rel[skip] ? rel + skip : (prefix[0] ? "" : "/"));
	return 0;
}

int af_event_format(const void *data, size_t size, char *buf, size_t n)
{
	const struct af_hdr *h = data;

	if (size < sizeof(*h) || h->size > size)
		return -EINVAL;
	if (h->type == AF_EV_FILE && size >= sizeof(struct af_ev_file)) {
		const struct af_ev_file *e = data;
		const char *verb = e->op < AF_OP_MAX && op_names[e->op] ? op_names[e->op] : "write";
		char path[PATH_MAX + 256], name[AF_NAME_MAX + 1];
		size_t len = e->path_len < sizeof(e->path) ? e->path_len : sizeof(e->path);

		af_event_path(e->dev, e->path, len, path, sizeof(path));
		memcpy(name, e->name, AF_NAME_MAX);
		name[AF_NAME_MAX] = 0;
		if (e->op == AF_OP_DIR_WRITE) {
			const char *base = strrchr(name, '/');

			verb = sys_verb(e->sysno, "write in");
			base = base ? base + 1 : name;
			/* rename checks both directories: which one is this? */
			if (!strcmp(verb, "rename"))
				verb = "rename in";
			else if (base[0] && strcmp(base, ".") && strcmp(base, "..")) {
				size_t l = strlen(path);

				snprintf(path + l, sizeof(path) - l, "%s%s",
					 l && path[l - 1] == '/' ? "" : "/", base);
			}
		} else if (e->op == AF_OP_SETATTR) {
			verb = sys_verb(e->sysno, "setattr");
		}
		snprintf(buf, n, "%s %s %s%s%s (%.*s pid %u)",
			 e->verdict == AF_AUDITED ? "would deny" : "denied", verb, path,
			 e->flags & AF_EVF_PATH_TRUNC ? " [path truncated]" : "",
			 e->flags & AF_EVF_WALK_BOUND ? " [too deep to decide]" : "",
			 AF_COMM_LEN, e->comm, e->hdr.tgid);
		return 0;
	}
	if (h->type == AF_EV_DNS)
		return af_dns_event_format(data, size, buf, n);
	if (h->type == AF_EV_NET)
		return af_net_event_format(data, size, buf, n);
	if (h->type == AF_EV_SYS && size >= sizeof(struct af_ev_sys)) {
		const struct af_ev_sys *e = data;
		const char *verb = e->op < AF_OP_MAX && op_names[e->op] ? op_names[e->op] : "operation";
		char what[64] = "";

		if (e->op == AF_OP_SIGNAL)
			snprintf(what, sizeof(what), " %llu to pid %llu",
				 (unsigned long long)(e->arg >> 32), (unsigned long long)(e->arg & 0xffffffff));
		else if (e->op == AF_OP_PTRACE)
			snprintf(what, sizeof(what), " of pid %llu", (unsigned long long)e->arg);
		else if (e->op == AF_OP_BPF)
			snprintf(what, sizeof(what), " cmd %llu", (unsigned long long)e->arg);
		else if (e->op == AF_OP_CGROUP)
			snprintf(what, sizeof(what), " (inode %llu)", (unsigned long long)e->arg);
		else if (e->op == AF_OP_NET_IOCTL)
			snprintf(what, sizeof(what), " 0x%llx", (unsigned long long)e->arg);
		snprintf(buf, n, "%s %s%s (%.*s pid %u)",
			 e->verdict == AF_AUDITED ? "would deny" : "denied", verb, what,
			 AF_COMM_LEN, e->comm, e->hdr.tgid);
		return 0;
	}
	return -EINVAL;
}
