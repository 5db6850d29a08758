// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "backend.h"
#include "cgroup.h"
#include "landlock.h"
#include "probe.skel.h"
#include "spawn.h"
#include "util.h"

static int read_lsm_list(char *buf, size_t size)
{
	const char *path = "/sys/kernel/security/lsm";
	int ret = af_read_small(path, buf, size);

	if (ret == -ENOENT &&
	    !mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL)) {
		af_debug("mounted securityfs on /sys/kernel/security");
		ret = af_read_small(path, buf, size);
	}
	if (ret)
		return ret;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static bool list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while ((p = strstr(p, name))) {
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == 0))
			return true;
		p += n;
	}
	return false;
}

/* Open the probe object with only the named program loaded. */
static struct af_probe_bpf *probe_open(bool cgroup_prog, int *err)
{
	struct af_probe_bpf *skel = af_probe_bpf__open();

	if (!skel) {
		*err = -errno;
		return NULL;
	}
	bpf_program__set_autoload(skel->progs.probe_cgroup, cgroup_prog);
	bpf_program__set_autoload(skel->progs.probe_global, !cgroup_prog);
	skel->rodata->target_tgid = getpid();
	*err = af_probe_bpf__load(skel);
	if (*err) {
		af_probe_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static int probe_global(const char **step)
{
	struct af_probe_bpf *skel;
	struct bpf_link *link;
	int err, fd;

	*step = "load";
	skel = probe_open(false, &err);
	if (!skel)
		return err;
	*step = "attach";
	link = bpf_program__attach_lsm(skel->progs.probe_global);
	if (!link) {
		err = -errno;
		goto out;
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	*step = "hook did not run";
	err = skel->bss->hits_global ? 0 : -ENOTSUP;
	bpf_link__destroy(link);
out:
	af_probe_bpf__destroy(skel);
	return err;
}

static int probe_cgroup(const char **step)
{
	char name[64], path[4096];
	struct af_probe_bpf *skel;
	struct bpf_link *link = NULL;
	int err, cgfd = -1, pidfd, status;
	pid_t child;

	*step = "load";
	skel = probe_open(true, &err);
	if (!skel)
		return err;
	*step = "create a cgroup";
	snprintf(name, sizeof(name), "probe-%d", getpid());
	err = af_cgroup_create(name, path, sizeof(path), &cgfd);
	if (err)
		goto out;
	*step = "attach";
	link = bpf_program__attach_cgroup(skel->progs.probe_cgroup, cgfd);
	if (!link) {
		err = -errno;
		goto out;
	}
	*step = "fork";
	child = af_fork_into_cgroup(cgfd, &pidfd);
	if (child < 0) {
		err = -errno;
		goto out;
	}
	if (child == 0) {
		int fd = open("/dev/null", O_RDONLY);

		_exit(fd < 0);
	}
	if (pidfd >= 0)
		close(pidfd);
	waitpid(child, &status, 0);
	*step = "hook did not run";
	err = skel->bss->hits_cgroup ? 0 : -ENOTSUP;
out:
	bpf_link__destroy(link);
	if (cgfd >= 0) {
		close(cgfd);
		af_cgroup_destroy(path);
	}
	af_probe_bpf__destroy(skel);
	return err;
}

const struct btf *af_kernel_btf(void)
{
	static struct btf *btf;
	static int err;

	if (!btf && !err) {
		btf = btf__load_vmlinux_btf();
		if (!btf)
			err = errno;
	}
	if (!btf)
		errno = err;
	return btf;
}

const struct af_probe *af_probe_kernel(void)
{
	static struct af_probe p;
	static bool done;
	struct utsname u;
	const struct btf *btf;

	if (done)
		return &p;
	done = true;
	if (!uname(&u))
		af_strlcpy(p.kernel, u.release, sizeof(p.kernel));
	p.lsm_list_err = read_lsm_list(p.lsm_list, sizeof(p.lsm_list));
	p.bpf_lsm_active = !p.lsm_list_err && list_has(p.lsm_list, "bpf");
	p.btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	btf = af_kernel_btf();
	if (btf)
		p.bpf_lsm_builtin = btf__find_by_name_kind(btf, "bpf_lsm_file_open", BTF_KIND_FUNC) > 0;
	if (af_cgroup2_mount(p.cgroup2, sizeof(p.cgroup2)))
		p.cgroup2[0] = 0;
	p.landlock_abi = af_landlock_abi();

	p.lsm_global = -ENOTSUP;
	p.lsm_global_step = "BPF LSM not active";
	p.lsm_cgroup = -ENOTSUP;
	p.lsm_cgroup_step = "BPF LSM not active";
	if (!p.btf || !p.bpf_lsm_builtin || !p.bpf_lsm_active)
		return &p;
	p.lsm_global = probe_global(&p.lsm_global_step);
	if (p.cgroup2[0])
		p.lsm_cgroup = probe_cgroup(&p.lsm_cgroup_step);
	else
		p.lsm_cgroup_step = "no cgroup2 mount";
	af_debug("probe: lsm_cgroup %d (%s), lsm %d (%s), landlock abi %d",
		 p.lsm_cgroup, p.lsm_cgroup_step, p.lsm_global, p.lsm_global_step,
		 p.landlock_abi);
	return &p;
}

enum af_backend af_backend_best(const struct af_probe *p)
{
	/* The fence is a cgroup: without cgroup2 no backend can draw it. */
	if (!p->cgroup2[0])
		return AF_BACKEND_NONE;
	if (p->lsm_cgroup == 0 && p->lsm_global == 0)
		return AF_BACKEND_LSM_CGROUP;
	if (p->lsm_global == 0)
		return AF_BACKEND_LSM;
	if (p->landlock_abi > 0)
		return AF_BACKEND_LANDLOCK;
	return AF_BACKEND_NONE;
}

static const char *const names[] = {
	[AF_BACKEND_NONE] = "none",
	[AF_BACKEND_LSM_CGROUP] = "lsm_cgroup",
	[AF_BACKEND_LSM] = "lsm",
	[AF_BACKEND_LANDLOCK] = "landlock",
};

const char *af_backend_name(enum af_backend b)
{
	return names[b];
}

int af_backend_parse(const char *s, enum af_backend *b)
{
	size_t i;

	if (!strcmp(s, "auto")) {
		*b = AF_BACKEND_NONE;
		return 0;
	}
	for (i = 1; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i])) {
			*b = i;
			return 0;
		}
	}
	return -EINVAL;
}

void af_probe_bpf_lsm_reason(const struct af_probe *p, char *buf, size_t size)
{
	if (!p->btf)
		snprintf(buf, size, "kernel has no BTF (/sys/kernel/btf/vmlinux)");
	else if (!p->bpf_lsm_builtin)
		snprintf(buf, size, "kernel built without CONFIG_BPF_LSM");
	else if (p->lsm_list_err)
		snprintf(buf, size, "cannot read /sys/kernel/security/lsm: %s",
			 strerror(-p->lsm_list_err));
	else if (!p->bpf_lsm_active)
		snprintf(buf, size, "bpf is not an active LSM; boot with lsm=%s,bpf",
			 p->lsm_list);
	else if (p->lsm_global == -EPERM)
		snprintf(buf, size, "lsm programs: %s: %s (refused even to root: a hypervisor, "
			 "kernel lockdown or a security module forbids BPF LSM programs here)",
			 p->lsm_global_step, strerror(EPERM));
	else if (p->lsm_global)
		snprintf(buf, size, "lsm programs: %s: %s", p->lsm_global_step,
			 p->lsm_global == -ENOTSUP ? "not supported" : strerror(-p->lsm_global));
	else if (p->lsm_cgroup)
		snprintf(buf, size, "lsm_cgroup programs: %s: %s", p->lsm_cgroup_step,
			 p->lsm_cgroup == -ENOTSUP ? "not supported" : strerror(-p->lsm_cgroup));
	else
		snprintf(buf, size, "available");
}
