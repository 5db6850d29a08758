// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* 5.14 */
#endif

static struct btf *kernel_btf;
static int kernel_btf_err;
static bool heap_ready;

/* The kernel's BTF is megabytes, parsed by us and again by libbpf for
 * each object it loads, into fresh memory each time: thousands of page
 * faults, which cost more than the parsing (most of all in a VM). Keep
 * freed memory in the heap, so that each parse reuses the pages of the
 * one before, and fault those pages in with one madvise(). Undone by
 * af_heap_trim() once the objects are loaded. */
void af_heap_prepare(void)
{
	size_t size, off;
	struct stat st;
	char *p;

	if (heap_ready)
		return;
	heap_ready = true;
	if (stat("/sys/kernel/btf/vmlinux", &st) || st.st_size <= 0)
		return;
	/* The raw copy, libbpf's second copy and the type index. */
	size = (size_t)st.st_size * 5 / 2 + (1 << 20);
	if (size > (31 << 20))
		size = 31 << 20;
	/* Above the block, so that it comes from the heap, not mmap();
	 * 32 MiB is the most glibc takes. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	p = malloc(size);
	if (!p)
		return;
	off = -(uintptr_t)p & 4095;
	/* Older kernels: EINVAL, and the pages fault in one by one. */
	if (madvise(p + off, (size - off) & ~(size_t)4095, MADV_POPULATE_WRITE))
		af_debug("prefault the heap: %s", strerror(errno));
	free(p);
}

void af_heap_trim(void)
{
	if (!heap_ready)
		return;
	heap_ready = false;
	mallopt(M_TRIM_THRESHOLD, 128 << 10);
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	malloc_trim(0);
}

const struct btf *af_kernel_btf(void)
{
	if (!kernel_btf && !kernel_btf_err) {
		af_heap_prepare();
		kernel_btf = btf__load_vmlinux_btf();
		if (!kernel_btf)
			kernel_btf_err = errno;
	}
	if (!kernel_btf)
		errno = kernel_btf_err;
	return kernel_btf;
}

void af_kernel_btf_free(void)
{
	btf__free(kernel_btf);
	kernel_btf = NULL;
	kernel_btf_err = 0;
}

/* Probe results, cached per boot: the probes load BPF objects (each
 * parse the kernel's BTF) and fork into a cgroup of their own, the
 * larger part of `run`'s start-up. What the answers depend on is hashed
 * into the cache's key: the boot, the kernel, the active LSMs (a hook
 * attached while bpf is not active never runs: that one fact is always
 * read fresh, and a change of it misses the cache), the lockdown level
 * (it only rises within a boot), the cgroup2 mount and the probe
 * programs themselves. A stale "works" fails closed: the fence's own
 * load or attach fails, and drops the cache. A stale "does not work"
 * would pick a weaker backend (or refuse an explicit --backend), so
 * the reason printed says so, and `doctor` always probes again. */
#define PROBE_CACHE_DIR "/run/agentfence"
/* One file per key (probe-<key>): builds side by side on one machine
 * (an upgrade, or a developer's checkouts) do not overwrite each other's
 * answer, and each probes once a boot. */
#define PROBE_CACHE PROBE_CACHE_DIR "/probe-*"
#define PROBE_CACHE_MAGIC "agentfence-probe 2"

static bool probe_fresh;

static const char *const probe_steps[] = {
	"BPF LSM not active", "no cgroup2 mount", "load", "attach", "create a cgroup", "fork",
	"hook did not run",
};

static int step_index(const char *step)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(probe_steps); i++)
		if (!strcmp(step, probe_steps[i]))
			return (int)i;
	return -1;
}

/* FNV-1a, a word at a time (the probe object is ~700 KiB: byte by
 * byte, hashing it was a tenth of a run's CPU time). */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *c = data;
	uint64_t w;

	for (; n >= sizeof(w); n -= sizeof(w), c += sizeof(w)) {
		memcpy(&w, c, sizeof(w));
		h = (h ^ w) * 0x100000001b3ULL;
	}
	while (n--)
		h = (h ^ *c++) * 0x100000001b3ULL;
	return h;
}

/* Key of the cache entry; false when the boot cannot be told apart. */
static bool probe_key(const struct af_probe *p, char *boot, size_t bsize, uint64_t *key)
{
	char lockdown[128] = "";
	const void *elf;
	size_t elf_size;
	uint64_t h = 0xcbf29ce484222325ULL;

	if (af_read_small("/proc/sys/kernel/random/boot_id", boot, bsize) || !boot[0])
		return false;
	boot[strcspn(boot, "\n")] = 0;
	af_read_small("/sys/kernel/security/lockdown", lockdown, sizeof(lockdown));
	elf = af_probe_bpf__elf_bytes(&elf_size);
	h = fnv1a(h, PROBE_CACHE_MAGIC, sizeof(PROBE_CACHE_MAGIC));
	h = fnv1a(h, p->kernel, strlen(p->kernel) + 1);
	h = fnv1a(h, p->lsm_list, strlen(p->lsm_list) + 1);
	h = fnv1a(h, lockdown, strlen(lockdown) + 1);
	h = fnv1a(h, p->cgroup2, strlen(p->cgroup2) + 1);
	h = fnv1a(h, elf, elf_size);
	*key = h;
	return true;
}

/* Only root's own files count: anyone else could forge a weaker answer. */
static bool trusted(int fd, bool dir)
{
	struct stat st;

	return !fstat(fd, &st) && st.st_uid == 0 && !(st.st_mode & 022) &&
	       (dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
}

static bool probe_cache_read(struct af_probe *p, const char *boot, uint64_t key)
{
	char buf[512], cboot[64], name[32];
	unsigned long long ckey;
	int dfd, fd, builtin, gi, ci, n = 0;
	ssize_t len = -1;
	bool ok = false;

	dfd = open(PROBE_CACHE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return false;
	snprintf(name, sizeof(name), "probe-%016llx", (unsigned long long)key);
	fd = trusted(dfd, true) ? openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
	if (fd >= 0 && trusted(fd, false))
		len = read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	close(dfd);
	if (len <= 0)
		return false;
	buf[len] = 0;
	if (sscanf(buf, PROBE_CACHE_MAGIC " boot %63s key %llx builtin %d lsm %d %d "
		   "lsm_cgroup %d %d%n", cboot, &ckey, &builtin, &p->lsm_global, &gi,
		   &p->lsm_cgroup, &ci, &n) != 7 || !n)
		return false;
	ok = !strcmp(cboot, boot) && ckey == key && gi >= 0 && ci >= 0 &&
	     gi < (int)ARRAY_SIZE(probe_steps) && ci < (int)ARRAY_SIZE(probe_steps) &&
	     p->lsm_global <= 0 && p->lsm_cgroup <= 0;
	if (!ok)
		return false;
	p->bpf_lsm_builtin = builtin;
	p->lsm_global_step = probe_steps[gi];
	p->lsm_cgroup_step = probe_steps[ci];
	return true;
}

static void probe_cache_write(const struct af_probe *p, const char *boot, uint64_t key)
{
	char buf[512], tmp[64], name[32];
	int gi = step_index(p->lsm_global_step), ci = step_index(p->lsm_cgroup_step);
	int dfd, fd, len;

	if (gi < 0 || ci < 0 || geteuid() != 0)
		return;
	if (mkdir(PROBE_CACHE_DIR, 0700) && errno != EEXIST)
		return;
	dfd = open(PROBE_CACHE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	if (!trusted(dfd, true))
		goto out;
	len = snprintf(buf, sizeof(buf), PROBE_CACHE_MAGIC " boot %s key %llx builtin %d "
		       "lsm %d %d lsm_cgroup %d %d\n", boot, (unsigned long long)key,
		       p->bpf_lsm_builtin, p->lsm_global, gi, p->lsm_cgroup, ci);
	snprintf(tmp, sizeof(tmp), "probe.%d", getpid());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	snprintf(name, sizeof(name), "probe-%016llx", (unsigned long long)key);
	if (write(fd, buf, len) != len || close(fd) || renameat(dfd, tmp, dfd, name)) {
		af_debug("probe cache %s: %s", PROBE_CACHE, strerror(errno));
		unlinkat(dfd, tmp, 0);
	}
out:
	close(dfd);
}

void af_probe_fresh(void)
{
	probe_fresh = true;
}

void af_probe_cache_drop(void)
{
	struct dirent *de;
	DIR *d = opendir(PROBE_CACHE_DIR);

	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, "probe-", 6) || unlinkat(dirfd(d), de->d_name, 0))
			continue;
		af_debug("dropped the probe cache %s/%s", PROBE_CACHE_DIR, de->d_name);
	}
	if (d)
		closedir(d);
}

const struct af_probe *af_probe_kernel(void)
{
	static struct af_probe p;
	static bool done;
	struct utsname u;
	const struct btf *btf;
	char boot[64];
	uint64_t key = 0;
	bool keyed;

	if (done)
		return &p;
	done = true;
	if (!uname(&u))
		af_strlcpy(p.kernel, u.release, sizeof(p.kernel));
	p.lsm_list_err = read_lsm_list(p.lsm_list, sizeof(p.lsm_list));
	p.bpf_lsm_active = !p.lsm_list_err && list_has(p.lsm_list, "bpf");
	p.btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	if (af_cgroup2_mount(p.cgroup2, sizeof(p.cgroup2)))
		p.cgroup2[0] = 0;
	p.landlock_abi = af_landlock_abi();

	keyed = p.btf && probe_key(&p, boot, sizeof(boot), &key);
	if (keyed && !probe_fresh && probe_cache_read(&p, boot, key)) {
		p.cached = true;
		af_debug("probe (cached this boot in %s): lsm_cgroup %d (%s), lsm %d (%s), "
			 "landlock abi %d", PROBE_CACHE, p.lsm_cgroup, p.lsm_cgroup_step,
			 p.lsm_global, p.lsm_global_step, p.landlock_abi);
		return &p;
	}
	btf = af_kernel_btf();
	if (btf)
		p.bpf_lsm_builtin = btf__find_by_name_kind(btf, "bpf_lsm_file_open", BTF_KIND_FUNC) > 0;

	p.lsm_global = -ENOTSUP;
	p.lsm_global_step = probe_steps[0];
	p.lsm_cgroup = -ENOTSUP;
	p.lsm_cgroup_step = probe_steps[0];
	if (p.btf && p.bpf_lsm_builtin && p.bpf_lsm_active) {
		p.lsm_global = probe_global(&p.lsm_global_step);
		if (p.cgroup2[0])
			p.lsm_cgroup = probe_cgroup(&p.lsm_cgroup_step);
		else
			p.lsm_cgroup_step = "no cgroup2 mount";
	}
	af_debug("probe: lsm_cgroup %d (%s), lsm %d (%s), landlock abi %d",
		 p.lsm_cgroup, p.lsm_cgroup_step, p.lsm_global, p.lsm_global_step,
		 p.landlock_abi);
	if (keyed)
		probe_cache_write(&p, boot, key);
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
	if (p->cached && (p->lsm_global || p->lsm_cgroup) && p->bpf_lsm_active) {
		size_t len = strlen(buf);

		snprintf(buf + len, size - len, "; probed earlier this boot, `agentfence doctor` "
			 "probes again");
	}
}
