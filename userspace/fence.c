// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "compile.h"
#include "fence.bpf.skel.h"
#include "fence.h"
#include "net.h"
#include "protect.h"
#include "sysfilter.h"
#include "util.h"
#include "../bpf/fence.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif

enum role {
	ROLE_CGROUP,	/* hot hook, lsm_cgroup backend */
	ROLE_GLOBAL,	/* hot hook, lsm backend */
	ROLE_COLD,	/* global lsm program on every BPF backend */
	ROLE_TRACE,	/* raw tracepoint on every BPF backend */
	ROLE_SOCK,	/* cgroup socket program on every backend (net.c decides) */
	ROLE_SYSCALL,	/* attached to the syscalls/ tracepoints of effect_syscalls[] */
	ROLE_SYSCALL_RAW, /* raw_syscalls: where ROLE_SYSCALL cannot attach */
};

struct prog_desc {
	const char *name;	/* program in the object */
	const char *hook;	/* LSM hook; NULL for tracepoints */
	int nargs;		/* the hook's argument count this variant reads; 0: any */
	enum role role;
	const char *covers;	/* what is lost when no variant loads */
};

/* Variants of one hook sit next to each other; exactly one loads. */
static const struct prog_desc progs[] = {
	{ "cg_file_open", "file_open", 0, ROLE_CGROUP, "writes by open" },
	{ "cg_inode_perm", "inode_permission", 0, ROLE_CGROUP, "create, delete, rename" },
	{ "cg_setattr", "inode_setattr", 2, ROLE_CGROUP, "chmod, chown, truncate, utimes" },
	{ "cg_setattr_idmap", "inode_setattr", 3, ROLE_CGROUP, "chmod, chown, truncate, utimes" },
	{ "lsm_file_open", "file_open", 0, ROLE_GLOBAL, "writes by open" },
	{ "lsm_inode_perm", "inode_permission", 0, ROLE_GLOBAL, "create, delete, rename" },
	{ "lsm_setattr", "inode_setattr", 2, ROLE_GLOBAL, "chmod, chown, truncate, utimes" },
	{ "lsm_setattr_idmap", "inode_setattr", 3, ROLE_GLOBAL, "chmod, chown, truncate, utimes" },
	{ "lsm_inode_link", "inode_link", 0, ROLE_COLD, "hard links" },
	{ "lsm_inode_mknod", "inode_mknod", 0, ROLE_COLD, "device nodes" },
	{ "lsm_setxattr", "inode_setxattr", 6, ROLE_COLD, "setxattr" },
	{ "lsm_removexattr", "inode_removexattr", 3, ROLE_COLD, "removexattr" },
	{ "lsm_set_acl", "inode_set_acl", 4, ROLE_COLD, NULL },	/* 6.2+; setxattr before */
	{ "lsm_remove_acl", "inode_remove_acl", 3, ROLE_COLD, NULL },
	{ "lsm_inode_create", "inode_create", 0, ROLE_COLD, "protected paths" },
	{ "lsm_inode_mkdir", "inode_mkdir", 0, ROLE_COLD, "protected paths" },
	{ "lsm_inode_symlink", "inode_symlink", 0, ROLE_COLD, "protected paths" },
	{ "lsm_inode_unlink", "inode_unlink", 0, ROLE_COLD, "protected paths" },
	{ "lsm_inode_rmdir", "inode_rmdir", 0, ROLE_COLD, "protected paths" },
	{ "lsm_inode_rename", "inode_rename", 0, ROLE_COLD, "protected paths" },
	{ "lsm_d_instantiate", "d_instantiate", 0, ROLE_COLD, "protected paths made later" },
	{ "lsm_file_ioctl", "file_ioctl", 0, ROLE_COLD, "inode flags, network configuration ioctls" },
	/* 6.8+; before, the compat path is only reached by i386/x32 system calls, which seccomp kills */
	{ "lsm_file_ioctl_compat", "file_ioctl_compat", 0, ROLE_COLD, NULL },
	{ "lsm_sb_mount", "sb_mount", 0, ROLE_COLD, "mount" },
	{ "lsm_sb_umount", "sb_umount", 0, ROLE_COLD, "umount" },
	{ "lsm_move_mount", "move_mount", 0, ROLE_COLD, "move_mount" },
	{ "lsm_sb_pivotroot", "sb_pivotroot", 0, ROLE_COLD, "pivot_root" },
	{ "lsm_bpf", "bpf", 0, ROLE_COLD, "bpf(2)" },
	{ "lsm_ptrace", "ptrace_access_check", 0, ROLE_COLD, "ptrace" },
	{ "lsm_task_kill", "task_kill", 0, ROLE_COLD, "signals" },
	{ "lsm_kernel_read_file", "kernel_read_file", 0, ROLE_COLD, "module loading" },
	{ "lsm_kernel_load_data", "kernel_load_data", 0, ROLE_COLD, "module loading" },
	{ "lsm_kmod_request", "kernel_module_request", 0, ROLE_COLD, "module autoload (socket families, protocols)" },
	{ "lsm_uring_creds", "uring_override_creds", 0, ROLE_COLD, "io_uring personalities" },
	{ "cg_cgfs_write", "inode_permission", 0, ROLE_CGROUP, "moves out of the fence's cgroup" },
	{ "lsm_cgfs_write", "inode_permission", 0, ROLE_GLOBAL, "moves out of the fence's cgroup" },
	{ "lsm_set_fowner", "file_set_fowner", 0, ROLE_COLD, "SIGIO and SIGURG to processes outside" },
	{ "lsm_sigiotask", "file_send_sigiotask", 0, ROLE_COLD, "SIGIO and SIGURG to processes outside" },
	{ "lsm_sigio_fcntl", "file_fcntl", 0, ROLE_COLD, "SIGIO and SIGURG to processes outside" },
	{ "lsm_sigio_free", "file_free_security", 0, ROLE_COLD, "SIGIO and SIGURG to processes outside" },
	{ "lsm_sock_connect", "socket_connect", 0, ROLE_COLD, "connect of sockets passed into the fence" },
	{ "lsm_sock_sendmsg", "socket_sendmsg", 0, ROLE_COLD, "sendto of sockets passed into the fence" },
	{ "lsm_sock_create", "socket_create", 0, ROLE_COLD, "packet, netlink and other socket families" },
	{ "lsm_netlink_send", "netlink_send", 0, ROLE_COLD, "netlink messages that change the node" },
	{ "lsm_unix_stream_connect", "unix_stream_connect", 0, ROLE_COLD, "unix sockets by identity" },
	{ "lsm_unix_may_send", "unix_may_send", 0, ROLE_COLD, "unix datagrams by identity" },
	{ "af_cgroup_mkdir", NULL, 0, ROLE_TRACE, NULL },
	{ "af_cgroup_rmdir", NULL, 0, ROLE_TRACE, NULL },
	{ "af_proc_fork", NULL, 0, ROLE_TRACE, NULL },
	{ "af_proc_exec", NULL, 0, ROLE_TRACE, NULL },
	{ "af_proc_exit", NULL, 0, ROLE_TRACE, NULL },
	{ "af_box_enter", NULL, 0, ROLE_TRACE, NULL },	/* seccomp and capability refusals */
	{ "af_box_exit", NULL, 0, ROLE_TRACE, NULL },
	{ "af_sys_enter", NULL, 0, ROLE_SYSCALL, NULL },
	{ "af_sys_exit", NULL, 0, ROLE_SYSCALL, NULL },
	{ "af_sys_enter_raw", NULL, 0, ROLE_SYSCALL_RAW, NULL },
	{ "af_sys_exit_raw", NULL, 0, ROLE_SYSCALL_RAW, NULL },
	{ "af_connect4", NULL, 0, ROLE_SOCK, NULL },
	{ "af_connect6", NULL, 0, ROLE_SOCK, NULL },
	{ "af_sendmsg4", NULL, 0, ROLE_SOCK, NULL },
	{ "af_sendmsg6", NULL, 0, ROLE_SOCK, NULL },
	{ "af_sock_create", NULL, 0, ROLE_SOCK, NULL },
	{ "af_setsockopt", NULL, 0, ROLE_SOCK, NULL },
	{ "af_egress", NULL, 0, ROLE_SOCK, NULL },
	{ "af_recvmsg4", NULL, 0, ROLE_SOCK, NULL },
	{ "af_recvmsg6", NULL, 0, ROLE_SOCK, NULL },
	{ "af_getpeername4", NULL, 0, ROLE_SOCK, NULL },
	{ "af_getpeername6", NULL, 0, ROLE_SOCK, NULL },
	{ "af_connect_unix", NULL, 0, ROLE_SOCK, NULL },
	{ "af_sendmsg_unix", NULL, 0, ROLE_SOCK, NULL },
};

/* The system calls whose file effects bpf/effects.bpf.c reports: only
 * these meet its programs (syscalls/sys_enter_<name>, sys_exit_<name>).
 * A kernel without one of them (fchmodat2 is 6.6+) just lacks it. */
static const char *const effect_syscalls[] = {
	"open", "creat", "openat", "openat2", "unlink", "unlinkat", "rmdir", "mkdir",
	"mkdirat", "rename", "renameat", "renameat2", "link", "linkat", "symlink",
	"symlinkat", "truncate", "chmod", "fchmodat", "fchmodat2", "chown", "lchown",
	"fchownat", "mknod", "mknodat", "ftruncate", "fchmod", "fchown", "fallocate",
	"fsetxattr", "fremovexattr",
};

struct af_fence {
	struct fence_bpf *skel;
	struct bpf_link *links[ARRAY_SIZE(progs)];
	struct bpf_link *sys_links[2 * ARRAY_SIZE(effect_syscalls)];
	struct ring_buffer *rb;
	uint64_t id;
	int ncpus;
	bool raw_effects;	/* ROLE_SYSCALL_RAW attached instead of ROLE_SYSCALL */
	char pin_dir[PATH_MAX];
	char uncovered[512];
};

/* Argument count of an LSM hook in this kernel, 0 when it has none. */
static int hook_nargs(const struct btf *btf, const char *hook)
{
	char fn[128];
	const struct btf_type *t;
	int id;

	snprintf(fn, sizeof(fn), "bpf_lsm_%s", hook);
	id = btf__find_by_name_kind(btf, fn, BTF_KIND_FUNC);
	if (id <= 0)
		return 0;
	t = btf__type_by_id(btf, id);
	t = btf__type_by_id(btf, t->type);
	return t ? btf_vlen(t) : 0;
}

static bool role_used(enum role r, enum af_backend b)
{
	switch (r) {
	case ROLE_CGROUP:
		return b == AF_BACKEND_LSM_CGROUP;
	case ROLE_GLOBAL:
		return b == AF_BACKEND_LSM;
	case ROLE_COLD:
		return b != AF_BACKEND_LANDLOCK;	/* BPF LSM refused there */
	default:
		return true;
	}
}

/* Choose which programs load: the backend's, in the variant that
 * matches this kernel's hook signature. Hooks whose programs all drop
 * out are named in f->uncovered; a missing hot hook is an error. */
static int select_programs(struct af_fence *f, enum af_backend b, char *why, size_t n)
{
	const struct btf *btf = NULL;
	const char *last_hook = NULL;
	bool hook_ok = true;
	size_t i;
	int ret = 0;

	/* Signatures matter only for the LSM programs this backend loads
	 * (none with Landlock): parse the BTF only then. */
	for (i = 0; i < ARRAY_SIZE(progs) && !btf; i++) {
		if (!progs[i].hook || !role_used(progs[i].role, b))
			continue;
		btf = af_kernel_btf();
		if (!btf) {
			snprintf(why, n, "cannot load the kernel's BTF: %s", strerror(errno));
			return -errno;
		}
	}
	for (i = 0; i <= ARRAY_SIZE(progs); i++) {
		const struct prog_desc *d = i < ARRAY_SIZE(progs) ? &progs[i] : NULL;
		bool load;
		int have;

		/* Close the previous hook's group of variants. */
		if (last_hook && (!d || !d->hook || strcmp(d->hook, last_hook) ||
				  d->role != progs[i - 1].role)) {
			const struct prog_desc *prev = &progs[i - 1];

			if (!hook_ok && role_used(prev->role, b)) {
				if (prev->role != ROLE_COLD) {
					snprintf(why, n, "hook %s has a signature this build does not know",
						 last_hook);
					ret = -ENOTSUP;
				} else if (prev->covers) {
					size_t len = strlen(f->uncovered);

					snprintf(f->uncovered + len, sizeof(f->uncovered) - len, "%s%s",
						 len ? ", " : "", prev->covers);
				}
			}
			last_hook = NULL;
		}
		if (!d)
			break;
		load = role_used(d->role, b);
		if (d->hook) {
			have = load ? hook_nargs(btf, d->hook) : 0;
			if (!last_hook) {
				last_hook = d->hook;
				hook_ok = false;
			}
			load = load && have && (!d->nargs || d->nargs == have);
			if (load)
				hook_ok = true;
		}
		bpf_program__set_autoload(bpf_object__find_program_by_name(f->skel->obj, d->name), load);
	}
	return ret;
}

static int mount_bpffs(void)
{
	struct statfs st;

	if (!statfs("/sys/fs/bpf", &st) && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		return -errno;
	af_debug("mounted bpffs on /sys/fs/bpf");
	return 0;
}

/* Write the entry set under the fence's id, then the fence's config
 * and membership: the programs find nothing of the fence before its
 * entries are all in place. */
static int apply_entries(struct af_fence *f, const struct af_fence_opts *o,
			 const struct af_entries *e, char *why, size_t n)
{
	int roots = bpf_map__fd(f->skel->maps.af_roots), err = 0;
	struct af_fence_cfg cfg = e->cfg;
	size_t i;

	for (i = 0; i < e->n_roots && !err; i++) {
		struct af_root_key key = e->roots[i].key;

		key.fence_id = f->id;
		err = bpf_map_update_elem(roots, &key, &e->roots[i].val, BPF_ANY);
	}
	if (err) {
		snprintf(why, n, "fill the roots map: %s", strerror(-err));
		return err;
	}
	err = af_net_apply(f->skel, e, f->id, why, n);
	if (!err)
		err = af_net_unix_ids(f->skel, o->policy, f->id, why, n);
	if (err)
		return err;
	/* The stub binds before the fence exists; its ports are the
	 * fence's, not the policy's. */
	if (o->policy->has_network && o->dns_port4) {
		cfg.dns_port4 = o->dns_port4;
		cfg.dns_port6 = o->dns_port6;
	}
	/* Protected paths (spec.filesystem.protected): resolved here,
	 * beneath the fence's id, like the unix sockets' identities. */
	err = af_protect_fill(o->policy, f->id, roots, bpf_map__fd(f->skel->maps.af_pnames),
			      bpf_map__fd(f->skel->maps.af_pnext), why, n);
	if (err)
		return err;
	err = bpf_map_update_elem(bpf_map__fd(f->skel->maps.af_fences), &f->id, &cfg, BPF_ANY);
	if (!err)
		err = bpf_map_update_elem(bpf_map__fd(f->skel->maps.af_member), &f->id, &f->id, BPF_ANY);
	if (err)
		snprintf(why, n, "fill the fence maps: %s", strerror(-err));
	return err;
}

/* The syscalls/ tracepoints need tracefs, which libbpf looks for at
 * /sys/kernel/tracing (or under debugfs). */
static int mount_tracefs(void)
{
	struct statfs st;

	if (!access("/sys/kernel/debug/tracing/events", F_OK) ||
	    (!statfs("/sys/kernel/tracing", &st) && st.f_type == TRACEFS_MAGIC))
		return 0;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, "mode=0700"))
		return -errno;
	af_debug("mounted tracefs on /sys/kernel/tracing");
	return 0;
}

/* The effects programs on the tracepoints of every traced call this
 * kernel has. Not pinned: once the loader is gone nobody reads what
 * they report, and they enforce nothing. */
static int attach_syscalls(struct af_fence *f, struct bpf_program *prog, bool enter,
			   char *why, size_t n)
{
	char tp[64];
	size_t i, k = enter ? 0 : ARRAY_SIZE(effect_syscalls);
	int err;

	if (getenv("AF_EFFECTS_RAW")) {
		snprintf(why, n, "AF_EFFECTS_RAW is set");
		return -ECANCELED;
	}
	err = mount_tracefs();

	if (err) {
		snprintf(why, n, "mount tracefs on /sys/kernel/tracing: %s (file effects come "
			 "from the syscall tracepoints)", strerror(-err));
		return err;
	}
	for (i = 0; i < ARRAY_SIZE(effect_syscalls); i++) {
		snprintf(tp, sizeof(tp), "sys_%s_%s", enter ? "enter" : "exit", effect_syscalls[i]);
		f->sys_links[k + i] = bpf_program__attach_tracepoint(prog, "syscalls", tp);
		if (f->sys_links[k + i])
			continue;
		err = -errno;
		if (err == -ENOENT) {
			af_debug("no tracepoint syscalls/%s in this kernel", tp);
			continue;
		}
		snprintf(why, n, "attach tracepoint syscalls/%s: %s", tp, strerror(-err));
		return err;
	}
	return 0;
}

static int attach_and_pin(struct af_fence *f, const struct af_fence_opts *o, char *why, size_t n)
{
	char pin[PATH_MAX + 64];
	size_t i;
	int err;

	err = mount_bpffs();
	if (err) {
		snprintf(why, n, "mount bpffs on /sys/fs/bpf: %s (pins keep the fence when the loader dies)",
			 strerror(-err));
		return err;
	}
	if ((mkdir(AF_PIN_ROOT, 0700) && errno != EEXIST) ||
	    snprintf(f->pin_dir, sizeof(f->pin_dir), AF_PIN_ROOT "/%llu",
		     (unsigned long long)f->id) < 0 ||
	    mkdir(f->pin_dir, 0700)) {
		err = -errno;
		snprintf(why, n, "create pin directory %s: %s", f->pin_dir, strerror(errno));
		f->pin_dir[0] = 0;
		return err;
	}
	for (i = 0; i < ARRAY_SIZE(progs); i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(f->skel->obj, progs[i].name);
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		if (progs[i].role == ROLE_SYSCALL) {
			if (f->raw_effects)
				continue;
			err = attach_syscalls(f, prog, !strcmp(progs[i].name, "af_sys_enter"), why, n);
			if (err) {
				size_t k;

				af_debug("%s; file effects from raw_syscalls instead", why);
				for (k = 0; k < ARRAY_SIZE(f->sys_links); k++) {
					bpf_link__destroy(f->sys_links[k]);
					f->sys_links[k] = NULL;
				}
				f->raw_effects = true;
			}
			continue;
		}
		if (progs[i].role == ROLE_SYSCALL_RAW && !f->raw_effects)
			continue;
		if (progs[i].role == ROLE_CGROUP || progs[i].role == ROLE_SOCK)
			link = bpf_program__attach_cgroup(prog, o->cgroup_fd);
		else
			link = bpf_program__attach(prog);
		if (!link) {
			err = -errno;
			snprintf(why, n, "attach %s%s: %s%s", progs[i].role == ROLE_CGROUP ? "lsm_cgroup/" :
				 progs[i].role == ROLE_SOCK ? "cgroup/" :
				 progs[i].hook ? "lsm/" : "raw_tp/", progs[i].hook ? progs[i].hook : progs[i].name,
				 strerror(errno), err == -EINVAL && progs[i].role == ROLE_CGROUP ?
				 " (all 10 lsm_cgroup hook slots of this kernel may be taken; see agentfence doctor)" : "");
			return err;
		}
		f->links[i] = link;
		snprintf(pin, sizeof(pin), "%s/%s", f->pin_dir, progs[i].name);
		err = bpf_link__pin(link, pin);
		if (err) {
			snprintf(why, n, "pin %s: %s", pin, strerror(-err));
			return err;
		}
	}
	return 0;
}

static int on_rb(void *ctx, void *data, size_t size)
{
	const struct af_fence_opts *o = ctx;

	if (o->on_event)
		o->on_event(o->ctx, data, size);
	return 0;
}

int af_fence_open(const struct af_fence_opts *opts, struct af_fence **out, char *why, size_t n)
{
	struct af_fence_opts *o;
	struct af_fence *f;
	int err;

	f = calloc(1, sizeof(*f) + sizeof(*o));
	if (!f)
		return -ENOMEM;
	o = (struct af_fence_opts *)(f + 1);
	*o = *opts;
	f->id = opts->cgroup_id;
	f->ncpus = libbpf_num_possible_cpus();
	f->skel = fence_bpf__open();
	if (!f->skel) {
		err = -errno;
		snprintf(why, n, "open BPF object: %s", strerror(errno));
		goto fail;
	}
	err = select_programs(f, opts->backend, why, n);
	if (!err)
		err = af_net_prepare(f->skel, opts->policy, opts->dns_port4, f->uncovered,
				     sizeof(f->uncovered));
	if (err)
		goto fail;
	/* libbpf parses the BTF again for the load: let it have the memory. */
	af_kernel_btf_free();
	af_heap_prepare();
	/* The ring buffer's size: tests and benchmarks shrink it to make
	 * floods overflow it (a power of 2, at least a page). */
	if (getenv("AF_RINGBUF_BYTES")) {
		unsigned long rb;

		if (af_parse_ulong(getenv("AF_RINGBUF_BYTES"), 1UL << 30, &rb) || rb < 4096 ||
		    (rb & (rb - 1))) {
			err = -EINVAL;
			snprintf(why, n, "AF_RINGBUF_BYTES=%s: not a power of 2 from 4096 to 1G",
				 getenv("AF_RINGBUF_BYTES"));
			goto fail;
		}
		bpf_map__set_max_entries(f->skel->maps.af_events, rb);
	}
	/* Which system calls the box refuses, for its refusal records. */
	af_sysclass_fill((uint8_t *)f->skel->rodata->af_sysclass, AF_SYSCLASS_MAX);
	/* The SIGIO owner map's capacity: tests shrink it to fill it. */
	if (getenv("AF_SIGIO_ENTRIES")) {
		unsigned long se;

		if (af_parse_ulong(getenv("AF_SIGIO_ENTRIES"), 1UL << 20, &se) || !se) {
			err = -EINVAL;
			snprintf(why, n, "AF_SIGIO_ENTRIES=%s: not a number from 1 to 1048576",
				 getenv("AF_SIGIO_ENTRIES"));
			goto fail;
		}
		bpf_map__set_max_entries(f->skel->maps.af_sigio, se);
	}
	err = fence_bpf__load(f->skel);
	if (err) {
		snprintf(why, n, "load BPF programs: %s (run with -v for the verifier log)", strerror(-err));
		goto fail;
	}
	err = apply_entries(f, opts, opts->entries, why, n);
	if (err)
		goto fail;
	f->rb = ring_buffer__new(bpf_map__fd(f->skel->maps.af_events), on_rb, o, NULL);
	if (!f->rb) {
		err = -errno;
		snprintf(why, n, "open the event ring buffer: %s", strerror(errno));
		goto fail;
	}
	err = attach_and_pin(f, opts, why, n);
	if (err)
		goto fail;
	af_heap_trim();
	*out = f;
	return 0;
fail:
	/* The backend may have come from this boot's probe cache: let the
	 * next run probe again rather than fail the same way. */
	if (opts->backend == AF_BACKEND_LSM_CGROUP || opts->backend == AF_BACKEND_LSM)
		af_probe_cache_drop();
	af_heap_trim();
	af_fence_close(f);
	return err;
}

int af_fence_events_fd(struct af_fence *f)
{
	return ring_buffer__epoll_fd(f->rb);
}

int af_fence_net_allow_fd(struct af_fence *f)
{
	return bpf_map__fd(f->skel->maps.af_net_allow);
}

int af_fence_dns_upstream_fd(struct af_fence *f)
{
	return bpf_map__fd(f->skel->maps.af_dns_upstream);
}

int af_fence_consume(struct af_fence *f)
{
	return ring_buffer__consume(f->rb);
}

uint64_t af_fence_counter(struct af_fence *f, unsigned int idx)
{
	uint64_t vals[f->ncpus > 0 ? f->ncpus : 1], sum = 0;
	int i;

	if (f->ncpus <= 0 || bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.af_counters), &idx, vals))
		return 0;
	for (i = 0; i < f->ncpus; i++)
		sum += vals[i];
	return sum;
}

const char *af_fence_uncovered(struct af_fence *f)
{
	return f->uncovered;
}

static void unpin_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/* Releasing a tracepoint link waits for an RCU grace period (55 ms each
 * here, 2.5 s for the effect tracepoints one after another): release
 * them from threads at once, so that they share the grace periods. */
static void destroy_links_at_once(struct bpf_link **links, size_t n)
{
	pthread_t th[n];
	bool started[n];
	size_t i;

	for (i = 0; i < n; i++) {
		started[i] = links[i] && !pthread_create(&th[i], NULL, destroy_link, links[i]);
		if (!started[i])
			bpf_link__destroy(links[i]);
		links[i] = NULL;
	}
	for (i = 0; i < n; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
	}
}

/* Even together, the effect tracepoints' links take a second or more
 * to release. They decide nothing (they trace; the cgroup they filter on
 * is gone by now): a child process releases them, and the caller goes
 * on at once, dropping its references for the price of a close(). */
static void release_in_background(struct bpf_link **links, size_t n)
{
	pid_t pid;
	size_t i;

	for (i = 0; i < n && !links[i]; i++)
		;
	if (i == n)
		return;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		destroy_links_at_once(links, n);
		_exit(0);
	}
	if (pid < 0) {
		destroy_links_at_once(links, n);
		return;
	}
	for (i = 0; i < n; i++) {
		bpf_link__destroy(links[i]);
		links[i] = NULL;
	}
}

void af_fence_close(struct af_fence *f)
{
	size_t i;

	if (!f)
		return;
	/* Unpin first: releasing the tracepoint links takes long, and the
	 * fence is gone for everyone from now on. */
	if (f->pin_dir[0])
		unpin_dir(f->pin_dir);
	ring_buffer__free(f->rb);
	for (i = 0; i < ARRAY_SIZE(progs); i++)
		bpf_link__destroy(f->links[i]);
	release_in_background(f->sys_links, ARRAY_SIZE(f->sys_links));
	fence_bpf__destroy(f->skel);
	free(f);
}

/* Whether the loader that named a cgroup "<kind>-<pid>" still runs. */
static bool loader_alive(const char *cgroup_path)
{
	const char *base = strrchr(cgroup_path, '/');
	const char *dash = strchr(base ? base : cgroup_path, '-');
	unsigned long pid;

	if (!dash || af_parse_ulong(dash + 1, INT_MAX, &pid))
		return false;
	return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

/* Whether the cgroup with this id still exists and holds tasks; when it
 * exists but is empty, remove it (its loader died before cleaning). */
static bool cgroup_alive(uint64_t id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh.handle_bytes = sizeof(uint64_t), .fh.handle_type = 1, .id = id };
	char mnt[PATH_MAX], link[64], path[PATH_MAX];
	int mfd, fd, populated;
	ssize_t len;

	if (af_cgroup2_mount(mnt, sizeof(mnt)))
		return true;	/* cannot tell: keep the fence */
	mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return true;
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(mfd);
	if (fd < 0)
		return errno != ESTALE && errno != ENOENT;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (len <= 0)
		return true;
	path[len] = 0;
	/* A loader still alive is setting its fence up (the cgroup is
	 * empty until the command starts) or tearing it down. */
	if (loader_alive(path))
		return true;
	populated = af_cgroup_populated(path);
	if (populated != 0)
		return true;
	af_cgroup_destroy(path);
	return false;
}

/* Cgroups of loaders that died before their fence was pinned (or
 * while probing): empty, and nobody left to remove them. */
static void gc_cgroups(void)
{
	char mnt[PATH_MAX], dir[PATH_MAX + 16], path[PATH_MAX * 2];
	struct dirent *de;
	DIR *d;

	if (af_cgroup2_mount(mnt, sizeof(mnt)))
		return;
	snprintf(dir, sizeof(dir), "%s/agentfence", mnt);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || !strchr(de->d_name, '-'))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (loader_alive(path))
			continue;
		if (af_cgroup_populated(path) == 0 && !rmdir(path))
			af_note("removed cgroup %s: its loader is gone", path);
	}
	closedir(d);
}

bool af_fence_task_fenced(pid_t pid, uint64_t own)
{
	char file[64], buf[4096], mnt[PATH_MAX], path[PATH_MAX * 2], pin[PATH_MAX];
	char *line, *slash;
	uint64_t id;

	snprintf(file, sizeof(file), "/proc/%d/cgroup", pid);
	if (pid <= 0 || af_read_small(file, buf, sizeof(buf)) || af_cgroup2_mount(mnt, sizeof(mnt)))
		return true;
	line = strstr(buf, "0::");
	if (!line || (line != buf && line[-1] != '\n'))
		return true;
	line += 3;
	line[strcspn(line, "\n")] = 0;
	/* Where run makes its fences (cgroup.h), with or without pins. */
	if (!strncmp(line, "/agentfence/", 12))
		return true;
	snprintf(path, sizeof(path), "%s%s", mnt, line);
	for (;;) {
		id = af_cgroup_id(path);
		snprintf(pin, sizeof(pin), AF_PIN_ROOT "/%llu", (unsigned long long)id);
		if (id && (id == own || !access(pin, F_OK)))
			return true;
		slash = strrchr(path, '/');
		if (!slash || (size_t)(slash - path) < strlen(mnt))
			return false;
		*slash = 0;
	}
}

void af_fence_gc(void)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(AF_PIN_ROOT);

	if (d) {
		while ((de = readdir(d))) {
			unsigned long id;

			if (af_parse_ulong(de->d_name, ULONG_MAX, &id))
				continue;
			if (cgroup_alive(id))
				continue;
			snprintf(dir, sizeof(dir), AF_PIN_ROOT "/%s", de->d_name);
			af_note("removed the pins of fence %lu: its cgroup is gone or empty", id);
			unpin_dir(dir);
		}
		closedir(d);
	}
	gc_cgroups();
}
