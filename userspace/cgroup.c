// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_mountinfo(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = 0;
}

int af_cgroup2_mount(char *buf, size_t size)
{
	static char cached[PATH_MAX];
	char *line = NULL;
	size_t cap = 0;
	int ret = -ENOENT;
	FILE *f;

	if (cached[0])
		return af_strlcpy(buf, cached, size);
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype src superopts */
		char *sep = strstr(line, " - ");
		char *fields[5];
		char *p = line;
		int i;

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		for (i = 0; i < 5; i++)
			fields[i] = strsep(&p, " ");
		if (!fields[4])
			continue;
		unescape_mountinfo(fields[4]);
		if (af_strlcpy(cached, fields[4], sizeof(cached)) == 0) {
			ret = 0;
			break;
		}
	}
	free(line);
	fclose(f);
	if (ret)
		return ret;
	return af_strlcpy(buf, cached, size);
}

uint64_t af_cgroup_id_at(int dirfd, const char *name)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh.handle_bytes = sizeof(uint64_t) };
	int mount_id;

	/* cgroupfs file handles are the 64-bit kernfs node id. */
	if (name_to_handle_at(dirfd, name, &h.fh, &mount_id, name[0] ? 0 : AT_EMPTY_PATH) < 0)
		return 0;
	if (h.fh.handle_bytes != sizeof(uint64_t)) {
		errno = EINVAL;
		return 0;
	}
	return h.id;
}

uint64_t af_cgroup_id(const char *path)
{
	return af_cgroup_id_at(AT_FDCWD, path);
}

int af_cgroup_create(const char *name, char *path, size_t size, int *fd)
{
	char mnt[PATH_MAX], parent[PATH_MAX];
	int ret;

	ret = af_cgroup2_mount(mnt, sizeof(mnt));
	if (ret)
		return ret;
	if (snprintf(parent, sizeof(parent), "%s/agentfence", mnt) >= (int)sizeof(parent))
		return -ENAMETOOLONG;
	if (mkdir(parent, 0755) && errno != EEXIST)
		return -errno;
	if (snprintf(path, size, "%s/%s", parent, name) >= (int)size)
		return -ENAMETOOLONG;
	if (mkdir(path, 0755))
		return -errno;
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0) {
		ret = -errno;
		rmdir(path);
		return ret;
	}
	return 0;
}

int af_cgroup_populated(const char *path)
{
	char file[PATH_MAX], buf[256], *p;
	int ret;

	snprintf(file, sizeof(file), "%s/cgroup.events", path);
	ret = af_read_small(file, buf, sizeof(buf));
	if (ret)
		return ret;
	p = strstr(buf, "populated ");
	if (!p)
		return -EINVAL;
	return p[10] == '1';
}

/* Without cgroup.kill (before 5.14), signal each task until none is left. */
static void kill_procs(const char *path)
{
	char file[PATH_MAX];
	char *line = NULL;
	size_t cap = 0;
	DIR *dir;
	FILE *f;
	struct dirent *de;

	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	f = fopen(file, "re");
	if (f) {
		while (getline(&line, &cap, f) > 0) {
			unsigned long pid;

			line[strcspn(line, "\n")] = 0;
			if (!af_parse_ulong(line, INT_MAX, &pid) && pid > 1)
				kill((pid_t)pid, SIGKILL);
		}
		fclose(f);
	}
	free(line);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		kill_procs(file);
	}
	closedir(dir);
}

static int rmdir_tree(const char *path)
{
	char child[PATH_MAX];
	struct dirent *de;
	DIR *dir = opendir(path);

	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
		rmdir_tree(child);
	}
	closedir(dir);
	if (rmdir(path) && errno != ENOENT)
		return -errno;
	return 0;
}

int af_cgroup_destroy(const char *path)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	char file[PATH_MAX];
	int i, fd, ret;

	snprintf(file, sizeof(file), "%s/cgroup.kill", path);
	for (i = 0; i < 500; i++) {	/* 5 s */
		ret = af_cgroup_populated(path);
		if (ret == -ENOENT)
			return 0;
		if (ret <= 0)
			break;
		fd = open(file, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, "1", 1) != 1)
				kill_procs(path);
			close(fd);
		} else {
			kill_procs(path);
		}
		nanosleep(&ts, NULL);
	}
	if (ret > 0)
		return -EBUSY;
	return rmdir_tree(path);
}

int af_cgroup_write(const char *cgroup, const char *name, const char *val)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", cgroup, name);
	return af_write_small_at(AT_FDCWD, path, val);
}

int af_cgroup_freeze(int cgfd, int timeout_ms, const char *marker, bool *mine)
{
	struct timespec ts = { 0, 200 * 1000 };
	char buf[256];
	int err, fd, i;

	*mine = false;
	err = af_read_small_at(cgfd, "cgroup.freeze", buf, sizeof(buf));
	if (err)
		return err;
	if (buf[0] != '1') {
		fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		close(fd);
		err = af_write_small_at(cgfd, "cgroup.freeze", "1");
		if (err) {
			unlink(marker);
			return err;
		}
		*mine = true;
	}
	/* cgroup.events says "frozen 1" once every task is. */
	for (i = 0; i < timeout_ms * 5; i++) {
		err = af_read_small_at(cgfd, "cgroup.events", buf, sizeof(buf));
		if (err)
			return err;
		if (strstr(buf, "frozen 1"))
			return 0;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

int af_cgroup_thaw(int cgfd, const char *marker)
{
	int err = af_write_small_at(cgfd, "cgroup.freeze", "0");

	if (!err && marker)
		unlink(marker);
	return err;
}
