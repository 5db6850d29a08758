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
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "compile.h"
#include "fence.bpf.skel.h"
#include "fence.h"
#include "journal.h"
#include "net.h"
#include "protect.h"
#include "sysfilter.h"
#include "util.h"
#include "events.h"
#include "../bpf/events.h"
#include "../bpf/fence.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

enum role {
	ROLE_CGROUP,	/* hot hook, lsm_cgroup backend */
	ROLE_GLOBAL,	/* hot hook, lsm backend */
	ROLE_COLD,	/* global lsm program on every BPF backend */
	ROLE_TRACE,	/* raw tracepoint on every BPF backend */
	ROLE_LL_TRACE,	/* raw tracepoint, Landlock backend only (the box's refusals) */
	ROLE_SOCK,	/* cgroup socket program on every backend (net.c decides) */
	ROLE_K8S,	/* cgroup socket program linked once at kubepods (af_fence_k8s_link) */
	ROLE_ITER,	/* bpf_iter program, lsm_cgroup backend: run, never attached (fdw_scan) */
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
	{ "cg_inode_perm", "inode_permission", 0, ROLE_CGROUP,
	  "create, delete, rename; moves out of the fence's cgroup" },
	{ "cg_setattr", "inode_setattr", 2, ROLE_CGROUP, "chmod, chown, truncate, utimes" },
	{ "cg_setattr_idmap", "inode_setattr", 3, ROLE_CGROUP, "chmod, chown, truncate, utimes" },
	{ "lsm_file_open", "file_open", 0, ROLE_GLOBAL, "writes by open" },
	{ "lsm_inode_perm", "inode_permission", 0, ROLE_GLOBAL,
	  "create, delete, rename; moves out of the fence's cgroup" },
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
	/* fdwrite.bpf.c: writes that meet no open */
	{ "cg_file_perm", "file_permission", 0, ROLE_CGROUP, "writes through descriptors opened before the fence" },
	{ "lsm_file_perm", "file_permission", 0, ROLE_GLOBAL, "writes through descriptors opened before the fence" },
	{ "lsm_fdw_mmap", "mmap_file", 0, ROLE_COLD, "shared writable mappings" },
	{ "lsm_fdw_mprotect", "file_mprotect", 0, ROLE_COLD, "shared writable mappings made writable later" },
	{ "lsm_fdw_receive", "file_receive", 0, ROLE_COLD, "writable descriptors passed into the fence" },
	{ "fdw_scan_files", NULL, 0, ROLE_ITER, NULL },
	{ "fdw_scan_tasks", NULL, 0, ROLE_ITER, NULL },
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
	/* The file effect records on the BPF-LSM backends: the path hooks give
	 * the inode hooks their mount (bpf/fs.bpf.c). */
	{ "lsm_path_mkdir", "path_mkdir", 0, ROLE_COLD, "records of mkdir" },
	{ "lsm_path_mknod", "path_mknod", 0, ROLE_COLD, "records of mknod" },
	{ "lsm_path_unlink", "path_unlink", 0, ROLE_COLD, "records of unlink" },
	{ "lsm_path_rmdir", "path_rmdir", 0, ROLE_COLD, "records of rmdir" },
	{ "lsm_path_symlink", "path_symlink", 0, ROLE_COLD, "records of symlink" },
	{ "lsm_path_link", "path_link", 0, ROLE_COLD, "records of link" },
	{ "lsm_path_rename", "path_rename", 0, ROLE_COLD, "records of rename" },
	{ "lsm_path_truncate", "path_truncate", 0, ROLE_COLD, "records of truncate" },
	{ "lsm_path_chmod", "path_chmod", 0, ROLE_COLD, "records of chmod" },
	{ "lsm_path_chown", "path_chown", 0, ROLE_COLD, "records of chown" },
	{ "fx_fallocate", NULL, 0, ROLE_COLD, NULL },
	/* The box's refusals: raw_syscalls on Landlock, fexit on the BPF-LSM
	 * backends (bpf/effects.bpf.c). */
	{ "af_ll_enter", NULL, 0, ROLE_LL_TRACE, NULL },	/* and the file effects */
	{ "af_ll_exit", NULL, 0, ROLE_LL_TRACE, NULL },
	{ "af_seccomp_exit", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_sethostname", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_setdomainname", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_chroot", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_setuid", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_setreuid", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_setresuid", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_setgid", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_setregid", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_setresgid", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_setgroups", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_capset", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_adjtimex", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_clock_adjtime", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_setrlimit", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_prlimit64", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_sched_setscheduler", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_sched_setparam", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_sched_setattr", NULL, 0, ROLE_COLD, NULL },
	{ "af_cx_ioprio_set", NULL, 0, ROLE_COLD, NULL },
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
	/* bpf/k8s.bpf.h: pods fenced from their cgroup's creation */
	{ "ak_connect4", NULL, 0, ROLE_K8S, NULL },
	{ "ak_connect6", NULL, 0, ROLE_K8S, NULL },
	{ "ak_sendmsg4", NULL, 0, ROLE_K8S, NULL },
	{ "ak_sendmsg6", NULL, 0, ROLE_K8S, NULL },
	{ "ak_recvmsg4", NULL, 0, ROLE_K8S, NULL },
	{ "ak_recvmsg6", NULL, 0, ROLE_K8S, NULL },
	{ "ak_getpeername4", NULL, 0, ROLE_K8S, NULL },
	{ "ak_getpeername6", NULL, 0, ROLE_K8S, NULL },
	{ "ak_sock_create", NULL, 0, ROLE_K8S, NULL },
	{ "ak_setsockopt", NULL, 0, ROLE_K8S, NULL },
	{ "ak_egress", NULL, 0, ROLE_K8S, NULL },
	{ "ak_connect_unix", NULL, 0, ROLE_K8S, NULL },
	{ "ak_sendmsg_unix", NULL, 0, ROLE_K8S, NULL },
};


/* ---- the node: one object per build and backend, pinned, adopted ----
 *
 * /sys/fs/bpf/agentfence-nodes/   (AF_NODE_ROOT)
 *   <build>-<backend>/            one loaded object (build: SHA-256 of its ELF)
 *     maps/<map>                  every map, for the fences' entries
 *     progs/<prog>@<attach type>  the cgroup programs fences attach
 *     links/<prog>[-<tracepoint>] the global lsm/ and tracepoint links
 *     rings/<slot>                the ring pool's buffers (also in af_rings)
 * /sys/fs/bpf/agentfence/         (AF_PIN_ROOT)
 *   <fence id>/                   a fence (its cgroup's id)
 *     node -> <build>-<backend>   the node it uses
 *     <prog>                      its cgroup links
 *
 * Nodes of different builds live side by side: a fence stays on the node
 * it was made on (its links hold that node's programs), so an upgrade
 * never has to stop a running fence, and a node is removed once no
 * fence names it (af_fence_gc for other builds' nodes, af_node_gc for
 * this build's). Fences stay where tail, the task checks and the tests
 * look for them; the nodes sit beside them, not among them, so that no
 * reader of fences mistakes a node for a fence (bpffs refuses names with
 * a dot, so a hidden name is not to be had). */

/* A fence's ring buffer unless its policy says (spec.event_buffer) or a
 * test does (AF_RINGBUF_BYTES): 128 KiB holds ~1000 file events of
 * names a few dozen bytes long (packed: bpf/fileop.bpf.h; ~220 of the
 * longest names), enough for bench/events' 200000/s with no loss on a
 * quiet host; every byte is the node's kernel memory and, while events
 * flow, the supervisor's mapping. */
#define RING_BYTES	(128 * 1024)
#define POOL_GROW	8	/* ring pool slots filled at once (one RCU grace period) */
#define META_ROOT	"/run/agentfence/fences"

struct af_node {
	struct fence_bpf *skel;		/* loaded, or opened with the pinned maps' fds */
	enum af_backend backend;
	char name[64];			/* <build>-<backend> */
	char dir[192];
	bool loaded[ARRAY_SIZE(progs)];	/* in the node: loaded, attached or pinned */
	int prog_fd[ARRAY_SIZE(progs)];	/* cgroup programs, -1 for others */
	int attach_type[ARRAY_SIZE(progs)];
	int od_fd[ARRAY_SIZE(progs)];	/* on-demand programs (role_on_demand), -1 for others */
	char uncovered[512];
	int ncpus;
};

struct af_fence {
	struct af_node *node;
	struct ring_buffer *rb;		/* mapped while events flow (af_fence_trim) */
	int ring_fd;
	uint32_t slot;			/* of the node's ring pool */
	bool seen;			/* events since the last af_fence_trim */
	uint64_t stale;			/* events of the slot's previous fence, dropped */
	uint64_t id;
	uint64_t key;			/* id | generation (AF_KEY_GEN) */
	uint16_t dns_port4, dns_port6;
	bool has_network;
	uint64_t acked;			/* drops this reader reported */
	af_event_fn on_event;
	void *ctx;
	char pin_dir[96];
	bool fdw_clean;			/* the last scan found no descriptor file_permission must judge */
	char fdw_note[200];		/* what it found, for the user */
	char uncovered[640];
};

static struct af_node *nodes[AF_BACKEND_LANDLOCK + 1];	/* this process's, by backend */

const char *af_node_build(void)
{
	static char id[17];

	if (!id[0]) {
		char hex[AF_SHA256_HEX];
		size_t sz = 0;
		const void *elf = fence_bpf__elf_bytes(&sz);

		af_sha256_hex(elf, sz, hex);
		memcpy(id, hex, 16);
	}
	return id;
}

/* AF_SIGIO_ENTRIES: the SIGIO owner map's capacity, for the test that
 * fills it; 0 when unset. Checked by af_fence_open before any node. */
static unsigned long sigio_entries(void)
{
	unsigned long se = 0;

	if (getenv("AF_SIGIO_ENTRIES") && af_parse_ulong(getenv("AF_SIGIO_ENTRIES"), 1UL << 20, &se))
		se = 0;
	return se;
}

/* A node with a test's map capacity is a node of its own: a node of the
 * same build never silently lacks what was asked of it. */
static void node_name(enum af_backend b, char *buf, size_t n)
{
	if (sigio_entries())
		snprintf(buf, n, "%s-%s-sigio%lu", af_node_build(), af_backend_name(b), sigio_entries());
	else
		snprintf(buf, n, "%s-%s", af_node_build(), af_backend_name(b));
}

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
	/* The syscall tracepoints put every task of the machine on the slow
	 * system call path: on the BPF-LSM backends the hooks emit the file
	 * effects, and fexit programs the box's refusals. */
	case ROLE_LL_TRACE:
		return b == AF_BACKEND_LANDLOCK;
	/* Only the lsm_cgroup backend links file_permission per fence. */
	case ROLE_ITER:
		return b == AF_BACKEND_LSM_CGROUP;
	default:
		return true;
	}
}

/* Pinned as programs (progs/), not links: the fences' cgroup programs,
 * and the scans, which each fence's maker runs. */
static bool role_per_fence(enum role r)
{
	return r == ROLE_CGROUP || r == ROLE_SOCK || r == ROLE_K8S || r == ROLE_ITER;
}

/* Programs on the system call path of every task of the machine (the
 * Landlock backend's effects and refusals): attached only while a fence
 * of the node exists (od_attach, od_release), so that an idle node
 * costs nothing. */
static bool role_on_demand(enum role r)
{
	return r == ROLE_LL_TRACE;
}

/* Hooks none of whose variants is in the node, in nd->uncovered: from
 * the programs a load chose or the pins an adopter finds, the same. */
static void node_uncovered(struct af_node *nd)
{
	size_t i = 0, j, len;
	bool any;

	nd->uncovered[0] = 0;
	while (i < ARRAY_SIZE(progs)) {
		if (!progs[i].hook) {
			i++;
			continue;
		}
		any = false;
		for (j = i; j < ARRAY_SIZE(progs) && progs[j].hook && !strcmp(progs[j].hook, progs[i].hook) &&
			    progs[j].role == progs[i].role; j++)
			any |= nd->loaded[j];
		if (!any && progs[i].role == ROLE_COLD && role_used(ROLE_COLD, nd->backend) &&
		    progs[j - 1].covers) {
			len = strlen(nd->uncovered);
			snprintf(nd->uncovered + len, sizeof(nd->uncovered) - len, "%s%s",
				 len ? ", " : "", progs[j - 1].covers);
		}
		i = j;
	}
}

/* Choose which programs load: the backend's, in the variant that
 * matches this kernel's hook signature. A missing hot hook is an error;
 * a missing cold one is named by node_uncovered. */
static int select_programs(struct af_node *nd, enum af_backend b, char *why, size_t n)
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

			if (!hook_ok && role_used(prev->role, b) && prev->role != ROLE_COLD) {
				snprintf(why, n, "hook %s has a signature this build does not know",
					 last_hook);
				ret = -ENOTSUP;
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
		bpf_program__set_autoload(bpf_object__find_program_by_name(nd->skel->obj, d->name), load);
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

static void rm_tree(const char *dir, int depth)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR && depth > 0)
			rm_tree(path, depth - 1);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int pin_link(struct bpf_link *link, const char *dir, const char *name, char *why, size_t n)
{
	char pin[PATH_MAX];
	int err;

	snprintf(pin, sizeof(pin), "%s/%s", dir, name);
	err = bpf_link__pin(link, pin);
	if (err)
		snprintf(why, n, "pin %s: %s", pin, strerror(-err));
	bpf_link__destroy(link);	/* the pin holds it */
	return err;
}

#define OD_DIR "od-on"	/* in the node's directory: the links while a fence exists */

/* Attach the node's on-demand programs unless they are: under the node
 * lock, when a fence of the node is made. */
static int od_attach(struct af_node *nd, char *why, size_t n)
{
	char dir[256], tmp[272], pin[PATH_MAX];
	bool any = false;
	size_t i;
	int err;

	for (i = 0; i < ARRAY_SIZE(progs); i++)
		any |= nd->od_fd[i] >= 0;
	snprintf(dir, sizeof(dir), "%s/" OD_DIR, nd->dir);
	if (!any || !access(dir, F_OK))
		return 0;
	snprintf(tmp, sizeof(tmp), "%s-tmp", dir);
	rm_tree(tmp, 0);
	if (mkdir(tmp, 0700)) {
		err = -errno;
		snprintf(why, n, "create pin directory %s: %s", tmp, strerror(errno));
		return err;
	}
	for (i = 0; i < ARRAY_SIZE(progs); i++) {
		int fd;

		if (nd->od_fd[i] < 0)
			continue;
		fd = bpf_raw_tracepoint_open(strstr(progs[i].name, "enter") ? "sys_enter" : "sys_exit",
					     nd->od_fd[i]);
		if (fd < 0) {
			err = -errno;
			snprintf(why, n, "attach raw_tp/%s: %s", progs[i].name, strerror(errno));
			goto fail;
		}
		snprintf(pin, sizeof(pin), "%s/%s", tmp, progs[i].name);
		err = bpf_obj_pin(fd, pin) ? -errno : 0;
		close(fd);
		if (err) {
			snprintf(why, n, "pin %s: %s", pin, strerror(-err));
			goto fail;
		}
	}
	if (rename(tmp, dir)) {
		err = -errno;
		snprintf(why, n, "rename %s to %s: %s", tmp, dir, strerror(errno));
		goto fail;
	}
	af_debug("attached the node's raw_syscalls programs");
	return 0;
fail:
	rm_tree(tmp, 0);
	return err;
}

static bool node_used(const char *name);
static int node_lock(char *why, size_t n);

/* Detach them when no fence of the node is left (a fence's pins are
 * gone before this). */
static void od_release(struct af_node *nd)
{
	char dir[256], why[256];
	int lock;

	if (!nd)
		return;
	snprintf(dir, sizeof(dir), "%s/" OD_DIR, nd->dir);
	if (access(dir, F_OK))
		return;
	lock = node_lock(why, sizeof(why));
	if (lock < 0)
		return;
	if (!node_used(nd->name)) {
		rm_tree(dir, 0);
		af_debug("detached the node's raw_syscalls programs: no fence left");
	}
	close(lock);
}

/* Attach the node's global programs, pin them and the maps and the
 * cgroup programs beneath dir (not yet the node's name). */
static int node_pin(struct af_node *nd, const char *dir, char *why, size_t n)
{
	char sub[320], pin[PATH_MAX];
	struct bpf_map *map;
	size_t i;
	int err;

	for (i = 0; i < 6; i++) {
		static const char *const subs[] = { "", "/maps", "/progs", "/links", "/od", "/rings" };

		snprintf(sub, sizeof(sub), "%s%s", dir, subs[i]);
		if (mkdir(sub, 0700)) {
			err = -errno;
			snprintf(why, n, "create pin directory %s: %s", sub, strerror(errno));
			return err;
		}
	}
	bpf_object__for_each_map(map, nd->skel->obj) {
		if (bpf_map__is_internal(map))
			continue;	/* .rodata, .bss: their programs hold them */
		snprintf(pin, sizeof(pin), "%s/maps/%s", dir, bpf_map__name(map));
		if (bpf_obj_pin(bpf_map__fd(map), pin)) {
			err = -errno;
			snprintf(why, n, "pin %s: %s", pin, strerror(errno));
			return err;
		}
	}
	snprintf(sub, sizeof(sub), "%s/links", dir);
	for (i = 0; i < ARRAY_SIZE(progs); i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(nd->skel->obj, progs[i].name);
		struct bpf_link *link;

		nd->prog_fd[i] = -1;
		if (!bpf_program__autoload(prog))
			continue;
		nd->loaded[i] = true;
		if (role_per_fence(progs[i].role)) {
			nd->prog_fd[i] = bpf_program__fd(prog);
			nd->attach_type[i] = bpf_program__expected_attach_type(prog);
			snprintf(pin, sizeof(pin), "%s/progs/%s@%d", dir, progs[i].name, nd->attach_type[i]);
			if (bpf_obj_pin(nd->prog_fd[i], pin)) {
				err = -errno;
				snprintf(why, n, "pin %s: %s", pin, strerror(errno));
				return err;
			}
			continue;
		}
		if (role_on_demand(progs[i].role)) {
			nd->od_fd[i] = dup(bpf_program__fd(prog));
			snprintf(pin, sizeof(pin), "%s/od/%s", dir, progs[i].name);
			if (nd->od_fd[i] < 0 || bpf_obj_pin(nd->od_fd[i], pin)) {
				err = -errno;
				snprintf(why, n, "pin %s: %s", pin, strerror(errno));
				return err;
			}
			continue;
		}
		link = bpf_program__attach(prog);
		if (!link) {
			err = -errno;
			snprintf(why, n, "attach %s%s: %s", progs[i].hook ? "lsm/" : "raw_tp/",
				 progs[i].hook ? progs[i].hook : progs[i].name, strerror(errno));
			return err;
		}
		err = pin_link(link, sub, progs[i].name, why, n);
		if (err)
			return err;
	}
	return 0;
}

/* A kernel data symbol's address from /proc/kallsyms, 0 when it is not
 * there (no CONFIG_KALLSYMS_ALL, or addresses hidden: kptr_restrict). */
static uint64_t kallsyms_addr(const char *name)
{
	size_t nl = strlen(name), ll;
	uint64_t found = 0;
	char line[256];
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f)
		return 0;
	/* "ADDRESS TYPE NAME\n"; a module's symbols end in "\t[MODULE]"
	 * and do not match. */
	while (fgets(line, sizeof(line), f)) {
		ll = strlen(line);
		if (ll > nl + 1 && line[ll - 1] == '\n' && line[ll - nl - 2] == ' ' &&
		    !memcmp(line + ll - nl - 1, name, nl)) {
			found = strtoull(line, NULL, 16);
			break;
		}
	}
	fclose(f);
	return found;
}

static int node_load(struct af_node *nd, char *why, size_t n)
{
	char tmp[256];
	int err;

	nd->skel = fence_bpf__open();
	if (!nd->skel) {
		err = -errno;
		snprintf(why, n, "open BPF object: %s", strerror(errno));
		return err;
	}
	err = select_programs(nd, nd->backend, why, n);
	if (!err)
		err = af_net_prepare(nd->skel);
	if (err)
		return err;
	/* Which system calls the box refuses, for its refusal records. */
	af_sysclass_fill((uint8_t *)nd->skel->rodata->af_sysclass, AF_SYSCLASS_MAX);
	/* Where the kernel counts dentry moves: without it the BPF-LSM
	 * hooks keep no nearest roots (bpf/rootcache.bpf.h). */
	nd->skel->rodata->af_rename_lock = kallsyms_addr("rename_lock");
	if (!nd->skel->rodata->af_rename_lock)
		af_debug("no rename_lock in /proc/kallsyms: nearest roots are walked each time");
	/* The SIGIO owner map's capacity: tests shrink it to fill it (on a
	 * node of their own: node_name). */
	if (sigio_entries())
		bpf_map__set_max_entries(nd->skel->maps.af_sigio, sigio_entries());
	/* libbpf parses the BTF again for the load: let it have the memory. */
	af_kernel_btf_free();
	af_heap_prepare();
	err = fence_bpf__load(nd->skel);
	if (err) {
		snprintf(why, n, "load BPF programs: %s (run with -v for the verifier log)", strerror(-err));
		return err;
	}
	/* Pinned under a temporary name, renamed when whole: an adopter
	 * never sees half a node, even if this process dies midway. */
	snprintf(tmp, sizeof(tmp), "%s-tmp", nd->dir);
	rm_tree(tmp, 1);
	err = node_pin(nd, tmp, why, n);
	if (!err && rename(tmp, nd->dir)) {
		err = -errno;
		snprintf(why, n, "rename %s to %s: %s", tmp, nd->dir, strerror(errno));
	}
	if (err)
		rm_tree(tmp, 1);
	else
		af_debug("loaded node %s", nd->dir);
	return err;
}

static int node_adopt(struct af_node *nd, char *why, size_t n)
{
	char path[PATH_MAX + 160];
	struct bpf_map *map;
	struct dirent *de;
	size_t i;
	DIR *d;
	int fd, err;

	nd->skel = fence_bpf__open();
	if (!nd->skel) {
		err = -errno;
		snprintf(why, n, "open BPF object: %s", strerror(errno));
		return err;
	}
	bpf_object__for_each_map(map, nd->skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/maps/%s", nd->dir, bpf_map__name(map));
		fd = bpf_obj_get(path);
		if (fd < 0 || (err = bpf_map__reuse_fd(map, fd))) {
			err = -errno;
			snprintf(why, n, "adopt the node's map %s: %s (agentfence doctor; the node "
				 "may be damaged)", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return err;
		}
		close(fd);
	}
	for (i = 0; i < ARRAY_SIZE(progs); i++)
		nd->prog_fd[i] = -1;
	for (int pass = 0; pass < 2; pass++) {
		snprintf(path, sizeof(path), "%s/%s", nd->dir, pass ? "links" : "progs");
		d = opendir(path);
		if (!d) {
			err = -errno;
			snprintf(why, n, "read %s: %s", path, strerror(errno));
			return err;
		}
		while ((de = readdir(d))) {
			size_t len = strcspn(de->d_name, pass ? "-" : "@");

			if (de->d_name[0] == '.')
				continue;
			for (i = 0; i < ARRAY_SIZE(progs); i++)
				if (strlen(progs[i].name) == len && !strncmp(progs[i].name, de->d_name, len))
					break;
			if (i == ARRAY_SIZE(progs))
				continue;	/* not this build's: cannot be, the name says */
			nd->loaded[i] = true;
			if (pass)
				continue;
			snprintf(path, sizeof(path), "%s/progs/%s", nd->dir, de->d_name);
			nd->prog_fd[i] = bpf_obj_get(path);
			nd->attach_type[i] = atoi(de->d_name + len + 1);
			if (nd->prog_fd[i] < 0) {
				err = -errno;
				snprintf(why, n, "adopt the node's program %s: %s", path, strerror(errno));
				closedir(d);
				return err;
			}
		}
		closedir(d);
	}
	snprintf(path, sizeof(path), "%s/od", nd->dir);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		for (i = 0; i < ARRAY_SIZE(progs); i++)
			if (!strcmp(progs[i].name, de->d_name))
				break;
		if (i == ARRAY_SIZE(progs))
			continue;
		snprintf(path, sizeof(path), "%s/od/%s", nd->dir, de->d_name);
		nd->od_fd[i] = bpf_obj_get(path);
		if (nd->od_fd[i] < 0) {
			err = -errno;
			snprintf(why, n, "adopt the node's program %s: %s", path, strerror(errno));
			closedir(d);
			return err;
		}
		nd->loaded[i] = true;
	}
	if (d)
		closedir(d);
	return 0;
}

static void node_free(struct af_node *nd)
{
	size_t i;

	if (!nd)
		return;
	for (i = 0; i < ARRAY_SIZE(progs); i++)
		if (nd->prog_fd[i] >= 0 && (!nd->skel || !bpf_program__autoload(
			bpf_object__find_program_by_name(nd->skel->obj, progs[i].name)) ||
			nd->prog_fd[i] != bpf_program__fd(bpf_object__find_program_by_name(nd->skel->obj,
											    progs[i].name))))
			close(nd->prog_fd[i]);
	for (i = 0; i < ARRAY_SIZE(progs); i++)
		if (nd->od_fd[i] >= 0)
			close(nd->od_fd[i]);
	fence_bpf__destroy(nd->skel);
	free(nd);
}

/* Hold the node lock (the pin root's directory): one loader at a time,
 * so that two runs starting together do not both load. */
static int node_lock(char *why, size_t n)
{
	int fd, err;

	err = mount_bpffs();
	if (err) {
		snprintf(why, n, "mount bpffs on /sys/fs/bpf: %s (pins keep the fence when the loader dies)",
			 strerror(-err));
		return err;
	}
	if ((mkdir(AF_PIN_ROOT, 0700) && errno != EEXIST) ||
	    (mkdir(AF_NODE_ROOT, 0700) && errno != EEXIST)) {
		err = -errno;
		snprintf(why, n, "create pin directories %s, %s: %s", AF_PIN_ROOT, AF_NODE_ROOT,
			 strerror(errno));
		return err;
	}
	fd = open(AF_NODE_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX)) {
		err = -errno;
		snprintf(why, n, "lock %s: %s", AF_NODE_ROOT, strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	return fd;
}

static bool node_this_build(const char *name)
{
	return !strncmp(name, af_node_build(), 16) && name[16] == '-';
}

static bool node_partial(const char *name)
{
	size_t len = strlen(name);

	return len > 4 && !strcmp(name + len - 4, "-tmp");
}

/* Nodes of other builds: reported, never used. */
static void note_other_nodes(void)
{
	struct dirent *de;
	DIR *d = opendir(AF_NODE_ROOT);

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || node_this_build(de->d_name) || node_partial(de->d_name))
			continue;
		af_note("a node of another agentfence build is pinned at %s/%s: left to its fences "
			"(agentfence doctor lists it)", AF_NODE_ROOT, de->d_name);
	}
	if (d)
		closedir(d);
}

/* Whether the node nd adopted or loaded is still the one pinned (a gc
 * of another process may have removed it while no fence used it). */
static bool node_pinned(const struct af_node *nd)
{
	struct bpf_map_info a = {}, b = {};
	__u32 la = sizeof(a), lb = sizeof(b);
	char path[PATH_MAX];
	bool same;
	int fd;

	snprintf(path, sizeof(path), "%s/maps/af_fences", nd->dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	same = !bpf_obj_get_info_by_fd(fd, &a, &la) &&
	       !bpf_obj_get_info_by_fd(bpf_map__fd(nd->skel->maps.af_fences), &b, &lb) && a.id == b.id;
	close(fd);
	return same;
}

/* The BPF object is embedded in the binary (1.5 MB): read through for
 * the build's hash and by libbpf's open and load, its pages stay mapped
 * and counted in the process's RSS for the life of a daemon, which
 * needs them no more. They are clean pages of the binary's file: drop
 * them from this process (a later read faults them in again, from the
 * page cache or the file). */
static void elf_pages_drop(void)
{
	size_t sz = 0;
	uintptr_t start = (uintptr_t)fence_bpf__elf_bytes(&sz), end = start + sz;

	start = (start + 4095) & ~(uintptr_t)4095;
	end &= ~(uintptr_t)4095;
	if (end > start && madvise((void *)start, end - start, MADV_DONTNEED))
		af_debug("drop the BPF object's pages: %s", strerror(errno));
}

/* The node of backend b, with the node lock held by the caller. */
static struct af_node *node_get_locked(enum af_backend b, int *errp, char *why, size_t n)
{
	struct af_node *nd;
	int err;

	if (b > AF_BACKEND_LANDLOCK) {
		*errp = -EINVAL;
		snprintf(why, n, "no such backend");
		return NULL;
	}
	if (nodes[b] && node_pinned(nodes[b]))
		return nodes[b];
	node_free(nodes[b]);
	nodes[b] = NULL;
	nd = calloc(1, sizeof(*nd));
	if (!nd) {
		*errp = -ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(progs); i++)
		nd->prog_fd[i] = nd->od_fd[i] = -1;
	nd->backend = b;
	nd->ncpus = libbpf_num_possible_cpus();
	node_name(b, nd->name, sizeof(nd->name));
	snprintf(nd->dir, sizeof(nd->dir), AF_NODE_ROOT "/%s", nd->name);
	if (!access(nd->dir, F_OK)) {
		err = node_adopt(nd, why, n);
		if (!err)
			af_debug("adopted node %s", nd->dir);
	} else {
		note_other_nodes();
		err = node_load(nd, why, n);
	}
	if (err) {
		/* The backend may have come from this boot's probe cache: let
		 * the next run probe again rather than fail the same way. */
		if (b == AF_BACKEND_LSM_CGROUP || b == AF_BACKEND_LSM)
			af_probe_cache_drop();
		af_heap_trim();
		node_free(nd);
		*errp = err;
		return NULL;
	}
	node_uncovered(nd);
	af_heap_trim();
	elf_pages_drop();
	nodes[b] = nd;
	return nd;
}

static struct af_node *node_get(enum af_backend b, int *errp, char *why, size_t n)
{
	struct af_node *nd;
	int lock;

	lock = node_lock(why, n);
	if (lock < 0) {
		*errp = lock;
		return NULL;
	}
	nd = node_get_locked(b, errp, why, n);
	close(lock);
	return nd;
}

#define NODE_FD(nd, m) bpf_map__fd((nd)->skel->maps.m)

/* ---- the ring pool ----
 *
 * A fence's events go to a ring buffer of its own: a slot of the node's
 * af_rings (an array of maps), named by af_rslot (fence id -> slot).
 * Putting a buffer into a map-in-map waits for an RCU grace period
 * (maybe_wait_bpf_programs: ~15 ms on a busy 2-CPU host), so slots are
 * filled POOL_GROW at a time (one batch update, one grace period) when
 * none of the size asked for is spare, and a fence takes a spare slot
 * and gives it back when it goes: create and remove write af_rslot and
 * af_rowner only, plain hash updates. The buffers stay in the node
 * (pinned under rings/, freed with it) and count as its memory.
 *
 * A slot taken over may hold what its last fence did not read, and a
 * program that found the slot just before that fence went may still
 * write into it: the taker moves the consumer position to the
 * producer's (ring_skip), and the reader drops every event whose header
 * names another fence (on_rb). Fence ids are cgroup ids, never reused. */

static int pool_sizes(struct af_node *nd, uint32_t *sizes)
{
	uint32_t keys[AF_FENCES_MAX], count = AF_FENCES_MAX, out_batch = 0, k;
	int fd = NODE_FD(nd, af_rpool);

	memset(sizes, 0, sizeof(uint32_t) * AF_FENCES_MAX);
	if (!bpf_map_lookup_batch(fd, NULL, &out_batch, keys, sizes, &count, NULL) ||
	    (errno == ENOENT && count == AF_FENCES_MAX)) {
		/* An array's batch holds every slot, in order. */
		for (k = 0; k < count; k++)
			if (keys[k] != k)
				goto one_by_one;
		return 0;
	}
one_by_one:
	for (k = 0; k < AF_FENCES_MAX; k++)
		if (bpf_map_lookup_elem(fd, &k, &sizes[k]))
			sizes[k] = 0;
	return 0;
}

/* Fill up to want empty slots with buffers of bytes each. */
static int pool_grow(struct af_node *nd, uint32_t bytes, unsigned int want, char *why, size_t n)
{
	struct af_rowner filler = { .fence_id = 0, .pid = (uint32_t)getpid() };
	uint32_t sizes[AF_FENCES_MAX], slots[POOL_GROW], count, cur;
	int owner = NODE_FD(nd, af_rowner), rings = NODE_FD(nd, af_rings);
	int fds[POOL_GROW], err = 0;
	unsigned int k = 0, i;
	char pin[PATH_MAX];

	if (want > POOL_GROW)
		want = POOL_GROW;
	pool_sizes(nd, sizes);
	for (uint32_t s = 0; s < AF_FENCES_MAX && k < want; s++) {
		if (sizes[s] || bpf_map_update_elem(owner, &s, &filler, BPF_NOEXIST))
			continue;
		/* Another process may have filled it since we looked. */
		if (!bpf_map_lookup_elem(NODE_FD(nd, af_rpool), &s, &cur) && cur) {
			bpf_map_delete_elem(owner, &s);
			continue;
		}
		fds[k] = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "af_ring", 0, 0, bytes, NULL);
		if (fds[k] < 0) {
			err = -errno;
			snprintf(why, n, "make a ring buffer of %u bytes: %s", bytes, strerror(errno));
			bpf_map_delete_elem(owner, &s);
			break;
		}
		slots[k++] = s;
	}
	if (!k) {
		if (!err) {
			err = -ENOSPC;
			snprintf(why, n, "the node's ring pool is full (%d slots: its maximum of fences)",
				 AF_FENCES_MAX);
		}
		return err;
	}
	count = k;
	if (bpf_map_update_batch(rings, slots, fds, &count, NULL)) {
		for (i = 0; i < k; i++)
			if (bpf_map_update_elem(rings, &slots[i], &fds[i], BPF_ANY))
				break;
		count = i;
	}
	snprintf(pin, sizeof(pin), "%s/rings", nd->dir);
	mkdir(pin, 0700);	/* a node of an older layout */
	for (i = 0; i < k; i++) {
		if (i < count) {
			snprintf(pin, sizeof(pin), "%s/rings/%u", nd->dir, slots[i]);
			unlink(pin);
			if (bpf_obj_pin(fds[i], pin))
				af_debug("pin %s: %s", pin, strerror(errno));
			bpf_map_update_elem(NODE_FD(nd, af_rpool), &slots[i], &bytes, BPF_ANY);
		}
		close(fds[i]);
		bpf_map_delete_elem(owner, &slots[i]);
	}
	if (!count) {
		snprintf(why, n, "add a ring buffer to the node's pool: %s", strerror(errno));
		return -errno;
	}
	af_debug("ring pool: %u slots of %u bytes filled", count, bytes);
	return 0;
}

/* Give up the consumer's claim to what the slot's buffer holds. */
static void ring_skip(int fd)
{
	long page = sysconf(_SC_PAGESIZE);
	void *cons = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	void *prod = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, page);

	if (cons != MAP_FAILED && prod != MAP_FAILED)
		__atomic_store_n((unsigned long *)cons,
				 __atomic_load_n((unsigned long *)prod, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
	if (cons != MAP_FAILED)
		munmap(cons, page);
	if (prod != MAP_FAILED)
		munmap(prod, page);
}

static int slot_ring_fd(struct af_node *nd, uint32_t slot)
{
	uint32_t map_id;
	int fd;

	if (bpf_map_lookup_elem(NODE_FD(nd, af_rings), &slot, &map_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(map_id);
	return fd < 0 ? -errno : fd;
}

/* Take a spare slot of bytes for fence id (filling some first if none
 * is spare): *slot, and its buffer's descriptor in *fd, emptied. */
static int pool_take(struct af_node *nd, uint64_t id, uint32_t bytes, uint32_t *slot, int *fd,
		     char *why, size_t n)
{
	struct af_rowner me = { .fence_id = id, .pid = (uint32_t)getpid() };
	uint32_t sizes[AF_FENCES_MAX];
	int owner = NODE_FD(nd, af_rowner), err;

	for (int round = 0; round < 4; round++) {
		pool_sizes(nd, sizes);
		for (uint32_t s = 0; s < AF_FENCES_MAX; s++) {
			if (sizes[s] != bytes || bpf_map_update_elem(owner, &s, &me, BPF_NOEXIST))
				continue;
			*fd = slot_ring_fd(nd, s);
			if (*fd < 0) {
				bpf_map_delete_elem(owner, &s);
				continue;
			}
			/* AF_POOL_KEEP_STALE: tests leave the last fence's events
			 * there, to see the reader drop them. */
			if (!getenv("AF_POOL_KEEP_STALE") || !*getenv("AF_POOL_KEEP_STALE"))
				ring_skip(*fd);
			*slot = s;
			return 0;
		}
		err = pool_grow(nd, bytes, POOL_GROW, why, n);
		if (err)
			return err;
	}
	snprintf(why, n, "no spare ring buffer of %u bytes in the node's pool (other processes "
		 "took each one filled)", bytes);
	return -EAGAIN;
}

/* Give fence id's slot back (nothing if it holds none). */
static void pool_put(struct af_node *nd, uint64_t id)
{
	struct af_rowner o;
	uint32_t slot;

	if (bpf_map_lookup_elem(NODE_FD(nd, af_rslot), &id, &slot))
		return;
	bpf_map_delete_elem(NODE_FD(nd, af_rslot), &id);
	if (!bpf_map_lookup_elem(NODE_FD(nd, af_rowner), &slot, &o) && o.fence_id == id)
		bpf_map_delete_elem(NODE_FD(nd, af_rowner), &slot);
}

/* ---- a fence's entries ---- */

/* Delete every entry of map whose key holds a fence key at offset off
 * with (key & mask) == match. */
static void delete_keyed(int map_fd, size_t off, uint64_t match, uint64_t mask)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	size_t nkeys = 0, cap = 0, i;
	char *keys = NULL, *cur = NULL, *next;
	uint64_t v;

	if (bpf_obj_get_info_by_fd(map_fd, &info, &len) || info.key_size < off + 8)
		return;
	next = malloc(info.key_size);
	if (!next)
		return;
	while (!bpf_map_get_next_key(map_fd, cur, next)) {
		memcpy(&v, next + off, sizeof(v));
		if ((v & mask) == match) {
			if (nkeys == cap) {
				char *k = realloc(keys, (cap = cap ? 2 * cap : 64) * info.key_size);

				if (!k)
					break;
				keys = k;
			}
			memcpy(keys + nkeys++ * info.key_size, next, info.key_size);
		}
		if (!cur && !(cur = malloc(info.key_size)))
			break;
		memcpy(cur, next, info.key_size);
	}
	for (i = 0; i < nkeys; i++)
		bpf_map_delete_elem(map_fd, keys + i * info.key_size);
	free(keys);
	free(cur);
	free(next);
}

/* Every entry written under key id key (not the fence's config). */
static void delete_entries(struct af_node *nd, uint64_t match, uint64_t mask)
{
	delete_keyed(NODE_FD(nd, af_roots), offsetof(struct af_root_key, fence_id), match, mask);
	delete_keyed(NODE_FD(nd, af_pnames), offsetof(struct af_pname_key, fence_id), match, mask);
	delete_keyed(NODE_FD(nd, af_pnext), offsetof(struct af_pnext_key, fence_id), match, mask);
	delete_keyed(NODE_FD(nd, af_net_allow), offsetof(struct af_net_key, fence_id), match, mask);
	delete_keyed(NODE_FD(nd, af_unix_allow), offsetof(struct af_unix_key, fence_id), match, mask);
	delete_keyed(NODE_FD(nd, af_unix_ids), offsetof(struct af_root_key, fence_id), match, mask);
	delete_keyed(NODE_FD(nd, af_unix_names), offsetof(struct af_pname_key, fence_id), match, mask);
}

/* A new version for a fence's roots (af_fence_cfg.rver): the nearest
 * roots the kernel kept for the old ones (bpf/rootcache.bpf.h) are
 * stale. The machine's monotonic clock: no two writes of one fence's
 * entries, from whichever process, get the same one. */
static uint64_t roots_version(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Write the entry set under key; *cfg receives the config that makes
 * them the fence's (the caller writes it last, in one update). */
static int write_entries(struct af_node *nd, uint64_t key, const struct af_policy *p,
			 const struct af_entries *e, uint16_t dns4, uint16_t dns6,
			 struct af_fence_cfg *cfg, char *why, size_t n)
{
	int roots = NODE_FD(nd, af_roots), err = 0;
	size_t i;

	*cfg = e->cfg;
	cfg->key = key;
	cfg->rver = roots_version();
	for (i = 0; i < e->n_roots && !err; i++) {
		struct af_root_key k = e->roots[i].key;

		k.fence_id = key;
		err = bpf_map_update_elem(roots, &k, &e->roots[i].val, BPF_ANY);
	}
	if (err) {
		snprintf(why, n, "fill the roots map: %s", strerror(-err));
		return err;
	}
	err = af_net_apply(nd->skel, e, key, why, n);
	if (!err)
		err = af_net_unix_ids(nd->skel, p, key, why, n);
	if (err)
		return err;
	/* The stub binds before the fence exists; its ports are the
	 * fence's, not the policy's. */
	if (p->has_network && dns4) {
		cfg->dns_port4 = dns4;
		cfg->dns_port6 = dns6;
	}
	/* Protected paths (spec.filesystem.protected): resolved here,
	 * beneath the key, like the unix sockets' identities. */
	return af_protect_fill(p, key, roots, NODE_FD(nd, af_pnames), NODE_FD(nd, af_pnext), why, n);
}

/* The fence's cgroup links: attach what policy p needs and is not
 * there, and (detach_unwanted) remove what it does not need. */
static int sync_links(struct af_fence *f, int cgroup_fd, const struct af_policy *p,
		      bool detach_unwanted, char *why, size_t n)
{
	struct af_node *nd = f->node;
	char pin[PATH_MAX + 64];
	size_t i;
	int err;

	for (i = 0; i < ARRAY_SIZE(progs); i++) {
		bool want, have;
		int fd;

		if (nd->prog_fd[i] < 0 || progs[i].role == ROLE_K8S || progs[i].role == ROLE_ITER)
			continue;
		want = af_net_prog_wanted(progs[i].name, p, f->dns_port4);
		/* Writes that meet no open: attach's fences only, while their
		 * processes hold a descriptor it must judge (fdw_settle). */
		if (!strcmp(progs[i].name, "cg_file_perm"))
			want = want && p->judge_fds && !f->fdw_clean;
		snprintf(pin, sizeof(pin), "%s/%s", f->pin_dir, progs[i].name);
		have = !access(pin, F_OK);
		if (have && !want && detach_unwanted)
			unlink(pin);
		if (have || !want || detach_unwanted)
			continue;
		fd = bpf_link_create(nd->prog_fd[i], cgroup_fd, nd->attach_type[i], NULL);
		if (fd < 0) {
			err = -errno;
			snprintf(why, n, "attach %s%s: %s%s",
				 progs[i].role == ROLE_CGROUP ? "lsm_cgroup/" : "cgroup/",
				 progs[i].hook ? progs[i].hook : progs[i].name, strerror(errno),
				 err == -EINVAL && progs[i].role == ROLE_CGROUP ?
				 " (all 10 lsm_cgroup hook slots of this kernel may be taken; see agentfence doctor)" : "");
			return err;
		}
		err = bpf_obj_pin(fd, pin) ? -errno : 0;
		close(fd);
		if (err) {
			snprintf(why, n, "pin %s: %s", pin, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* ---- descriptors opened before the fence (bpf/fdwrite.bpf.c) ----
 *
 * A fence made beneath processes that run (attach) judges writes
 * through what they opened before it existed. file_permission does, but
 * its lsm_cgroup link costs every read and write in the fence (the
 * kernel's shim, ~13% on a write loop with an empty program), so it is
 * kept only while a process of the fence holds a descriptor it must
 * judge. To know that, the cgroup is frozen (every task out of its
 * system calls: an open that began before the fence's file_open link
 * has its descriptor in the table by then, or is restarted and judged),
 * scanned by the node's bpf_iter programs, and thawed. What is opened
 * later is judged at open; a writable descriptor passed in later, at
 * file_receive. A cgroup that does not freeze in FREEZE_MS, or a scan
 * that fails, keeps the link: fail closed. A maker that dies while the
 * cgroup is frozen leaves FROZEN_DIR/<id>: whoever adopts the fence
 * thaws it (af_fence_adopt). */
#define FREEZE_MS	250
#define FROZEN_DIR	"/run/agentfence/frozen"

static void frozen_marker(uint64_t id, char *out, size_t n)
{
	snprintf(out, n, FROZEN_DIR "/%llu", (unsigned long long)id);
}

/* Run scan program i; of its lines, those of fence id: counted in
 * *found, the first described in first. */
static int fdw_run_scan(struct af_node *nd, size_t i, uint64_t id, size_t *found, char *first,
			size_t n)
{
	int link, it, err = 0;
	char *line = NULL;
	size_t cap = 0;
	FILE *in;

	link = bpf_link_create(nd->prog_fd[i], 0, BPF_TRACE_ITER, NULL);
	if (link < 0)
		return -errno;
	it = bpf_iter_create(link);
	err = it < 0 ? -errno : 0;
	close(link);
	if (err)
		return err;
	in = fdopen(it, "r");
	if (!in) {
		err = -errno;
		close(it);
		return err;
	}
	errno = 0;
	while (getline(&line, &cap, in) > 0) {
		unsigned long long fid;
		int pid, fd, off = 0;
		char why;

		if (sscanf(line, "%llu %d %d %c %n", &fid, &pid, &fd, &why, &off) < 4 || !off ||
		    fid != id)
			continue;
		line[strcspn(line, "\n")] = 0;
		if (!(*found)++)
			snprintf(first, n, "process %d, %s %s", pid,
				 why == 'U' ? "an io_uring instance" : line + off,
				 why == 'D' ? "open for writing, outside the writable paths" :
				 why == 'B' ? "open for writing, deeper than the walk's bound" :
				 "(its registered files are no descriptors)");
	}
	if (ferror(in))
		err = errno ? -errno : -EIO;
	free(line);
	fclose(in);
	return err;
}

/* Scan the fence's processes (policy in place, links attached): sets
 * f->fdw_clean when none holds a descriptor file_permission must judge,
 * and f->fdw_note. */
static void fdw_settle(struct af_fence *f, int cgfd)
{
	struct af_node *nd = f->node;
	char marker[128], first[160] = "";
	size_t i, found = 0, scans = 0;
	bool mine = false;
	int err = 0;

	f->fdw_clean = false;
	for (i = 0; i < ARRAY_SIZE(progs); i++)
		if (progs[i].role == ROLE_ITER)
			scans += nd->prog_fd[i] >= 0;
	if (scans != 2) {
		snprintf(f->fdw_note, sizeof(f->fdw_note), "this kernel runs no descriptor scan "
			 "(bpf_iter): writes through descriptors are judged at every write");
		return;
	}
	frozen_marker(f->id, marker, sizeof(marker));
	if ((mkdir("/run/agentfence", 0700) && errno != EEXIST) ||
	    (mkdir(FROZEN_DIR, 0700) && errno != EEXIST))
		err = -errno;
	if (!err)
		err = af_cgroup_freeze(cgfd, FREEZE_MS, marker, &mine);
	for (i = 0; i < ARRAY_SIZE(progs) && !err; i++)
		if (progs[i].role == ROLE_ITER)
			err = fdw_run_scan(nd, i, f->id, &found, first, sizeof(first));
	if (mine)
		af_cgroup_thaw(cgfd, marker);
	if (err == -ETIMEDOUT)
		snprintf(f->fdw_note, sizeof(f->fdw_note), "the processes' descriptors were not "
			 "scanned (the cgroup did not freeze in %d ms): writes through descriptors "
			 "are judged at every write", FREEZE_MS);
	else if (err)
		snprintf(f->fdw_note, sizeof(f->fdw_note), "the processes' descriptors were not "
			 "scanned (%s): writes through descriptors are judged at every write",
			 strerror(-err));
	else if (found)
		snprintf(f->fdw_note, sizeof(f->fdw_note), "%s%s: writes through descriptors are "
			 "judged at every write", first, found > 1 ? ", and more" : "");
	else
		snprintf(f->fdw_note, sizeof(f->fdw_note), "no process holds a writable descriptor "
			 "outside the writable paths: writes are judged at open (and at receipt)");
	f->fdw_clean = !err && !found;
	af_debug("fence %llu: %s", (unsigned long long)f->id, f->fdw_note);
}

const char *af_fence_fdw_note(const struct af_fence *f)
{
	return f->fdw_note;
}

/* Wait until no program still runs with what it read before: an update
 * of a map-in-map element returns after an RCU grace period
 * (maybe_wait_bpf_programs in kernel/bpf/syscall.c). */
static void wait_programs(struct af_fence *f)
{
	bpf_map_update_elem(NODE_FD(f->node, af_rings), &f->slot, &f->ring_fd, BPF_EXIST);
}

/* The cgroups a membership map names as fence id's: out of it (keys
 * collected first: a hash walked while deleting may start over). */
static void drop_members(int member, uint64_t id)
{
	uint64_t cg, next, v;
	uint64_t *del = NULL;
	size_t ndel = 0, cap = 0, i;

	for (int r = bpf_map_get_next_key(member, NULL, &next); !r;
	     cg = next, r = bpf_map_get_next_key(member, &cg, &next)) {
		if (bpf_map_lookup_elem(member, &next, &v) || v != id)
			continue;
		if (ndel == cap) {
			uint64_t *d = realloc(del, (cap = cap ? 2 * cap : 16) * sizeof(*d));

			if (!d)
				break;
			del = d;
		}
		del[ndel++] = next;
	}
	for (i = 0; i < ndel; i++)
		bpf_map_delete_elem(member, &del[i]);
	free(del);
}

/* A fence's state in the node's maps: membership and config first (what
 * enforced it goes before what it enforced with), then its ring pool
 * slot, counters, entries. None of it waits for a grace period. */
static void remove_state(struct af_node *nd, uint64_t id)
{
	drop_members(NODE_FD(nd, af_member), id);
	/* A pod's membership from its cgroup's creation (bpf/k8s.bpf.h). */
	drop_members(NODE_FD(nd, af_kmember), id);
	bpf_map_delete_elem(NODE_FD(nd, af_fences), &id);
	pool_put(nd, id);
	bpf_map_delete_elem(NODE_FD(nd, af_fcounts), &id);
	delete_entries(nd, id, AF_KEY_ID_MASK);
	/* Last: while it is there, a fence of this id may have left state
	 * (af_fence_open looks). */
	bpf_map_delete_elem(NODE_FD(nd, af_fstate), &id);
}

/* Every cgroup beneath dirfd a member of fence id (bounded: 8 levels).
 * One that is another fence's already is refused: nested fences are not
 * supported. */
static int add_descendants(int member, uint64_t id, int dirfd, int depth)
{
	struct dirent *e;
	uint64_t cg, other;
	int fd, err = 0;
	DIR *d;

	if (depth >= 8)
		return 0;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (!err && (e = readdir(d))) {
		int sub;

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		cg = af_cgroup_id_at(dirfd, e->d_name);
		if (!cg)
			continue;	/* removed meanwhile */
		if (!bpf_map_lookup_elem(member, &cg, &other) && other != id) {
			err = -EEXIST;
			break;
		}
		err = bpf_map_update_elem(member, &cg, &id, BPF_ANY);
		sub = err ? -1 : openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0) {
			err = add_descendants(member, id, sub, depth + 1);
			close(sub);
		}
	}
	closedir(d);
	return err;
}

/* Remove fence id from node nd (NULL: only its links): links first, so
 * that what enforced it goes before what it enforced with. */
static void remove_fence(struct af_node *nd, uint64_t id)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), AF_PIN_ROOT "/%llu", (unsigned long long)id);
	rm_tree(dir, 0);
	snprintf(dir, sizeof(dir), META_ROOT "/%llu", (unsigned long long)id);
	rm_tree(dir, 0);
	if (nd)
		remove_state(nd, id);
}

static void remove_fence_state(struct af_node *nd, uint64_t id)
{
	remove_state(nd, id);
}

/* ---- per-fence metadata: /run/agentfence/fences/<id>/ ---- */

static void meta_put(FILE *fp, const char *k, const char *v)
{
	if (v && !strchr(v, '\n'))
		fprintf(fp, "%s=%s\n", k, v);
}

int af_fence_set_meta(uint64_t id, const struct af_fence_meta *m)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 16], path[PATH_MAX + 16], pid[16];
	FILE *fp;
	int err = 0;

	if ((mkdir("/run/agentfence", 0700) && errno != EEXIST) ||
	    (mkdir(META_ROOT, 0700) && errno != EEXIST))
		return -errno;
	snprintf(dir, sizeof(dir), META_ROOT "/%llu", (unsigned long long)id);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (m->policy && m->policy_len) {
		snprintf(tmp, sizeof(tmp), "%s/policy.tmp", dir);
		snprintf(path, sizeof(path), "%s/policy", dir);
		fp = fopen(tmp, "we");
		if (!fp)
			return -errno;
		if (fwrite(m->policy, 1, m->policy_len, fp) != m->policy_len)
			err = -EIO;
		if (fclose(fp) && !err)
			err = -errno;
		if (err || rename(tmp, path))
			return err ? err : -errno;
	}
	snprintf(tmp, sizeof(tmp), "%s/meta.tmp", dir);
	snprintf(path, sizeof(path), "%s/meta", dir);
	fp = fopen(tmp, "we");
	if (!fp)
		return -errno;
	snprintf(pid, sizeof(pid), "%d", (int)m->supervisor);
	meta_put(fp, "policy_name", m->policy_name);
	meta_put(fp, "policy_sha256", m->policy_sha256);
	meta_put(fp, "journal", m->journal);
	meta_put(fp, "cgroup", m->cgroup);
	meta_put(fp, "backend", af_backend_name(m->backend));
	meta_put(fp, "supervisor", pid);
	if (fclose(fp))
		return -errno;
	return rename(tmp, path) ? -errno : 0;
}

static void meta_read(uint64_t id, struct af_fence_info *fi)
{
	char path[PATH_MAX], buf[3 * PATH_MAX + 512], *line, *save = NULL;
	unsigned long v;

	snprintf(path, sizeof(path), META_ROOT "/%llu/meta", (unsigned long long)id);
	if (af_read_small(path, buf, sizeof(buf)))
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq++ = 0;
		if (!strcmp(line, "policy_name"))
			af_strlcpy(fi->policy_name, eq, sizeof(fi->policy_name));
		else if (!strcmp(line, "policy_sha256"))
			af_strlcpy(fi->policy_sha256, eq, sizeof(fi->policy_sha256));
		else if (!strcmp(line, "journal"))
			af_strlcpy(fi->journal, eq, sizeof(fi->journal));
		else if (!strcmp(line, "cgroup"))
			af_strlcpy(fi->cgroup, eq, sizeof(fi->cgroup));
		else if (!strcmp(line, "backend"))
			af_backend_parse(eq, &fi->backend);
		else if (!strcmp(line, "supervisor") && !af_parse_ulong(eq, INT_MAX, &v))
			fi->supervisor = (pid_t)v;
	}
}

int af_fence_set_supervisor(uint64_t id, pid_t pid)
{
	struct af_fence_info fi = { .backend = AF_BACKEND_NONE };
	struct af_fence_meta m;

	meta_read(id, &fi);
	m = (struct af_fence_meta){
		.policy_name = fi.policy_name,
		.policy_sha256 = fi.policy_sha256,
		.journal = fi.journal[0] ? fi.journal : NULL,
		.cgroup = fi.cgroup,
		.backend = fi.backend,
		.supervisor = pid,
	};
	return af_fence_set_meta(id, &m);
}

int af_fence_policy_bytes(uint64_t id, char **buf, size_t *len)
{
	char path[PATH_MAX];
	struct stat st;
	ssize_t got;
	int fd, err = 0;

	*buf = NULL;
	*len = 0;
	snprintf(path, sizeof(path), META_ROOT "/%llu/policy", (unsigned long long)id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || st.st_size > (1 << 20)) {
		err = errno ? -errno : -EFBIG;
		goto out;
	}
	*buf = malloc(st.st_size + 1);
	if (!*buf) {
		err = -ENOMEM;
		goto out;
	}
	got = read(fd, *buf, st.st_size);
	if (got != st.st_size) {
		err = got < 0 ? -errno : -EIO;
		free(*buf);
		*buf = NULL;
		goto out;
	}
	(*buf)[got] = 0;
	*len = got;
out:
	close(fd);
	return err;
}

/* ---- fences ---- */

static int on_rb(void *ctx, void *data, size_t size)
{
	struct af_fence *f = ctx;
	const struct af_hdr *h = data;

	/* The slot's previous fence's (the ring pool). */
	if (size >= sizeof(*h) && h->fence_id != f->id) {
		f->stale++;
		return 0;
	}
	f->seen = true;
	/* File effects come packed (bpf/fileop.bpf.h): whole again here,
	 * before any reader (one loop thread consumes the rings). A record
	 * that does not unpack goes on as it is: the recorder counts it
	 * among the events it could not read. */
	if (size >= sizeof(*h) && h->type == AF_EV_FILEOP_PK) {
		static struct af_ev_fileop full;
		long n = af_fileop_unpack(data, size, &full);

		if (n > 0) {
			data = &full;
			size = n;
		}
	}
	if (f->on_event)
		f->on_event(f->ctx, data, size);
	return 0;
}

static unsigned long ring_bytes(unsigned long asked, char *why, size_t n, int *err)
{
	unsigned long rb = asked ? asked : RING_BYTES;

	/* Tests and benchmarks shrink it to make floods overflow it (a
	 * power of 2, at least a page). */
	*err = 0;
	if (getenv("AF_RINGBUF_BYTES") &&
	    (af_parse_ulong(getenv("AF_RINGBUF_BYTES"), 1UL << 30, &rb) || rb < 4096 || (rb & (rb - 1)))) {
		*err = -EINVAL;
		snprintf(why, n, "AF_RINGBUF_BYTES=%s: not a power of 2 from 4096 to 1G",
			 getenv("AF_RINGBUF_BYTES"));
	}
	return rb;
}

static void fence_uncovered(struct af_fence *f, bool has_network)
{
	size_t i;
	bool unix_cgroup = false, unix_lsm = false;

	snprintf(f->uncovered, sizeof(f->uncovered), "%s", f->node->uncovered);
	for (i = 0; i < ARRAY_SIZE(progs); i++) {
		unix_cgroup |= f->node->loaded[i] && !strcmp(progs[i].name, "af_connect_unix");
		unix_lsm |= f->node->loaded[i] && !strcmp(progs[i].name, "lsm_sock_connect");
	}
	if (has_network && !unix_cgroup && !unix_lsm) {
		size_t len = strlen(f->uncovered);

		snprintf(f->uncovered + len, sizeof(f->uncovered) - len,
			 "%sunix sockets (cgroup/connect_unix needs Linux 6.7)", len ? ", " : "");
	}
}

static int percpu_zero(int map_fd, uint64_t id, size_t vsize, int ncpus)
{
	void *zero = calloc(ncpus > 0 ? ncpus : 1, vsize);
	int err;

	if (!zero)
		return -ENOMEM;
	err = bpf_map_update_elem(map_fd, &id, zero, BPF_ANY);
	free(zero);
	return err;
}

static void fill_meta_from_opts(const struct af_fence_opts *o, struct af_fence_meta *m, char *cg,
				size_t cgsize)
{
	char link[64];
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", o->cgroup_fd);
	len = readlink(link, cg, cgsize - 1);
	cg[len > 0 ? len : 0] = 0;
	*m = (struct af_fence_meta){
		.policy_name = o->policy->name,
		.policy_sha256 = o->policy->sha256,
		.journal = o->journal,
		.cgroup = cg,
		.backend = o->backend,
		.supervisor = getpid(),
		.policy = o->policy_bytes,
		.policy_len = o->policy_len,
	};
}

int af_fence_open(const struct af_fence_opts *opts, struct af_fence **out, char *why, size_t n)
{
	struct af_fence_cfg cfg;
	struct af_fence_meta meta;
	char node_link[160], cg[PATH_MAX];
	struct af_fence *f;
	unsigned long rb;
	uint64_t other;
	int err, lock = -1;

	*out = NULL;
	rb = ring_bytes(opts->ring_bytes ? opts->ring_bytes : opts->policy->event_buffer, why, n, &err);
	if (err)
		return err;
	if (getenv("AF_SIGIO_ENTRIES") && !sigio_entries()) {
		snprintf(why, n, "AF_SIGIO_ENTRIES=%s: not a number from 1 to 1048576",
			 getenv("AF_SIGIO_ENTRIES"));
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->ring_fd = -1;
	f->id = f->key = opts->cgroup_id;
	f->on_event = opts->on_event;
	f->ctx = opts->ctx;
	f->has_network = opts->policy->has_network;
	if (opts->policy->has_network) {
		f->dns_port4 = opts->dns_port4;
		f->dns_port6 = opts->dns_port6;
	}
	/* Under the node lock until the fence's pins name its node: no gc
	 * can take the node away in between. */
	lock = node_lock(why, n);
	if (lock < 0) {
		err = lock;
		goto fail_free;
	}
	f->node = node_get_locked(opts->backend, &err, why, n);
	if (!f->node)
		goto fail_free;
	if (f->id & AF_KEY_GEN) {
		err = -ERANGE;
		snprintf(why, n, "cgroup id %llu does not fit a fence key", (unsigned long long)f->id);
		goto fail_free;
	}
	if (!bpf_map_lookup_elem(NODE_FD(f->node, af_member), &f->id, &other) && other != f->id) {
		err = -EEXIST;
		snprintf(why, n, "cgroup %llu is inside fence %llu already (nested fences on one node "
			 "are not supported yet)", (unsigned long long)f->id, (unsigned long long)other);
		goto fail_free;
	}
	snprintf(f->pin_dir, sizeof(f->pin_dir), AF_PIN_ROOT "/%llu", (unsigned long long)f->id);
	if (mkdir(f->pin_dir, 0700)) {
		err = -errno;
		snprintf(why, n, "create pin directory %s: %s%s", f->pin_dir, strerror(errno),
			 errno == EEXIST ? " (a fence of this cgroup exists)" : "");
		f->pin_dir[0] = 0;
		goto fail_free;
	}
	snprintf(node_link, sizeof(node_link), "%s/node", f->pin_dir);
	if (symlink(f->node->name, node_link)) {
		err = -errno;
		snprintf(why, n, "link %s to its node: %s", node_link, strerror(errno));
		goto fail;
	}
	err = od_attach(f->node, why, n);
	if (err)
		goto fail;
	close(lock);
	lock = -1;
	/* We own the id now (its pin directory is ours). State of an
	 * earlier fence of the same cgroup whose removal did not finish
	 * (a crash, or a cleanup child still at work) goes first: entries
	 * left under the key would widen this fence's policy. */
	if (!bpf_map_lookup_elem(NODE_FD(f->node, af_fstate), &f->id, &(struct af_fstate){}) ||
	    !bpf_map_lookup_elem(NODE_FD(f->node, af_fences), &f->id, &cfg) ||
	    !bpf_map_lookup_elem(NODE_FD(f->node, af_member), &f->id, &other)) {
		af_debug("fence %llu: removing what an earlier fence of this cgroup left",
			 (unsigned long long)f->id);
		remove_fence_state(f->node, f->id);
	}
	err = pool_take(f->node, f->id, rb, &f->slot, &f->ring_fd, why, n);
	if (err) {
		f->ring_fd = -1;
		goto fail;
	}
	err = bpf_map_update_elem(NODE_FD(f->node, af_rslot), &f->id, &f->slot, BPF_ANY);
	if (err) {
		/* Not named by af_rslot: remove_fence cannot give it back. */
		bpf_map_delete_elem(NODE_FD(f->node, af_rowner), &f->slot);
		snprintf(why, n, "add the fence to the node's maps: %s", strerror(-err));
		goto fail;
	}
	err = percpu_zero(NODE_FD(f->node, af_fcounts), f->id, sizeof(struct af_fcounts),
			  f->node->ncpus);
	if (!err)
		err = bpf_map_update_elem(NODE_FD(f->node, af_fstate), &f->id,
					  &(struct af_fstate){}, BPF_ANY);
	if (err) {
		snprintf(why, n, "add the fence to the node's maps: %s%s", strerror(-err),
			 err == -E2BIG ? " (the node holds " "its maximum of fences)" : "");
		goto fail;
	}
	/* The entries, then the config that names them, then membership:
	 * the programs find nothing of the fence before all is in place. */
	err = write_entries(f->node, f->key, opts->policy, opts->entries, f->dns_port4, f->dns_port6,
			    &cfg, why, n);
	if (err)
		goto fail;
	err = bpf_map_update_elem(NODE_FD(f->node, af_fences), &f->id, &cfg, BPF_NOEXIST);
	if (!err)
		err = bpf_map_update_elem(NODE_FD(f->node, af_member), &f->id, &f->id, BPF_NOEXIST);
	/* The cgroup's children that exist already (a pod's containers):
	 * members too. Those made from now on, cgroup_mkdir adds. */
	if (!err)
		err = add_descendants(NODE_FD(f->node, af_member), f->id, opts->cgroup_fd, 0);
	if (err) {
		snprintf(why, n, "fill the fence maps: %s", strerror(-err));
		goto fail;
	}
	err = sync_links(f, opts->cgroup_fd, opts->policy, false, why, n);
	if (!err && opts->policy->judge_fds && f->node->backend == AF_BACKEND_LSM_CGROUP) {
		fdw_settle(f, opts->cgroup_fd);
		err = sync_links(f, opts->cgroup_fd, opts->policy, true, why, n);
	}
	if (err)
		goto fail;
	fill_meta_from_opts(opts, &meta, cg, sizeof(cg));
	err = af_fence_set_meta(f->id, &meta);
	if (err) {
		snprintf(why, n, "write %s/%llu: %s", META_ROOT, (unsigned long long)f->id, strerror(-err));
		goto fail;
	}
	fence_uncovered(f, opts->policy->has_network);
	*out = f;
	return 0;
fail:
	remove_fence(f->node, f->id);
fail_free:
	if (lock >= 0)
		close(lock);
	af_fence_release(f);
	return err;
}

/* The node a fence's pins name, if it is this build's. */
static struct af_node *node_of(uint64_t id, int *errp, char *why, size_t n)
{
	char link[PATH_MAX], name[128];
	enum af_backend b;
	ssize_t len;

	snprintf(link, sizeof(link), AF_PIN_ROOT "/%llu/node", (unsigned long long)id);
	len = readlink(link, name, sizeof(name) - 1);
	if (len <= 0) {
		*errp = errno == ENOENT ? -ESRCH : -errno;
		snprintf(why, n, "no fence %llu on this node (%s: %s)", (unsigned long long)id, link,
			 strerror(errno));
		return NULL;
	}
	name[len] = 0;
	for (b = AF_BACKEND_LSM_CGROUP; b <= AF_BACKEND_LANDLOCK; b++) {
		char mine[64];

		node_name(b, mine, sizeof(mine));
		if (!strcmp(mine, name))
			return node_get(b, errp, why, n);
	}
	*errp = -ESTALE;
	snprintf(why, n, "fence %llu runs on node %s, of another agentfence build than this one (%s)",
		 (unsigned long long)id, name, af_node_build());
	return NULL;
}

/* A maker died while the fence's cgroup was frozen for its scan. */
static void fdw_thaw_orphan(uint64_t id)
{
	char marker[128], cg[PATH_MAX];
	int cgfd;

	frozen_marker(id, marker, sizeof(marker));
	if (access(marker, F_OK))
		return;
	cgfd = af_fence_cgroup_open(id, cg, sizeof(cg));
	if (cgfd >= 0) {
		if (!af_cgroup_thaw(cgfd, marker))
			af_warn("fence %llu: thawed %s, frozen by an agentfence that died while "
				"scanning its descriptors", (unsigned long long)id, cg);
		close(cgfd);
	} else {
		unlink(marker);
	}
}

int af_fence_adopt(uint64_t id, af_event_fn on_event, void *ctx, struct af_fence **out,
		   uint64_t *lost, char *why, size_t n)
{
	struct af_fence_cfg cfg;
	struct af_fstate st = {};
	struct af_fence *f;
	int err;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->ring_fd = -1;
	f->id = id;
	f->on_event = on_event;
	f->ctx = ctx;
	f->node = node_of(id, &err, why, n);
	if (!f->node)
		goto fail;
	snprintf(f->pin_dir, sizeof(f->pin_dir), AF_PIN_ROOT "/%llu", (unsigned long long)id);
	if (bpf_map_lookup_elem(NODE_FD(f->node, af_fences), &id, &cfg)) {
		err = -ESRCH;
		snprintf(why, n, "fence %llu has pins but no config in its node (half made or half removed)",
			 (unsigned long long)id);
		goto fail;
	}
	f->key = cfg.key;
	f->has_network = cfg.flags & AF_FENCE_NET;
	f->dns_port4 = cfg.dns_port4;
	f->dns_port6 = cfg.dns_port6;
	if (bpf_map_lookup_elem(NODE_FD(f->node, af_rslot), &id, &f->slot) ||
	    (f->ring_fd = slot_ring_fd(f->node, f->slot)) < 0) {
		err = -errno;
		f->ring_fd = -1;
		snprintf(why, n, "fence %llu has no ring buffer in its node's pool: %s",
			 (unsigned long long)id, strerror(errno));
		goto fail;
	}
	bpf_map_lookup_elem(NODE_FD(f->node, af_fstate), &id, &st);
	f->acked = st.acked_drops;
	fdw_thaw_orphan(id);
	if (lost)
		*lost = af_fence_fcounter(f, AF_FC_DROPS) - f->acked;
	fence_uncovered(f, f->has_network);
	*out = f;
	return 0;
fail:
	af_fence_release(f);
	return err;
}

int af_fence_update(struct af_fence *f, const struct af_policy *p, const struct af_entries *e,
		    char *why, size_t n)
{
	struct af_node *nd = f->node;
	struct af_fence_cfg cfg;
	struct af_fstate st = {};
	uint64_t old = f->key, key = f->key ^ AF_KEY_GEN;
	char cgpath[PATH_MAX];
	int cgfd = -1, err;

	if (p->has_network && !f->dns_port4 && f->has_network == false)
		af_debug("fence %llu gains a network section: no DNS stub ports yet",
			 (unsigned long long)f->id);
	/* Leftovers of an update that died midway. */
	delete_entries(nd, key, ~0ULL);
	err = write_entries(nd, key, p, e, f->dns_port4, f->dns_port6, &cfg, why, n);
	if (err)
		goto fail;
	/* Links the new policy needs, before it applies. */
	cgfd = af_fence_cgroup_open(f->id, cgpath, sizeof(cgpath));
	if (cgfd < 0) {
		err = cgfd;
		snprintf(why, n, "open the cgroup of fence %llu: %s", (unsigned long long)f->id,
			 strerror(-err));
		goto fail;
	}
	/* file_permission while the new policy's verdicts are unknown. */
	f->fdw_clean = false;
	err = sync_links(f, cgfd, p, false, why, n);
	if (err)
		goto fail;
	/* The flip: one element, replaced whole. */
	err = bpf_map_update_elem(NODE_FD(nd, af_fences), &f->id, &cfg, BPF_EXIST);
	if (err) {
		snprintf(why, n, "switch the fence's config: %s", strerror(-err));
		goto fail;
	}
	f->key = key;
	wait_programs(f);
	delete_entries(nd, old, ~0ULL);
	if (p->judge_fds && nd->backend == AF_BACKEND_LSM_CGROUP)
		fdw_settle(f, cgfd);
	sync_links(f, cgfd, p, true, why, n);
	f->has_network = p->has_network;
	if (!bpf_map_lookup_elem(NODE_FD(nd, af_fstate), &f->id, &st)) {
		st.generation++;
		bpf_map_update_elem(NODE_FD(nd, af_fstate), &f->id, &st, BPF_EXIST);
	}
	fence_uncovered(f, p->has_network);
	close(cgfd);
	return 0;
fail:
	delete_entries(nd, key, ~0ULL);
	if (cgfd >= 0)
		close(cgfd);
	return err;
}

int af_fence_events_fd(struct af_fence *f)
{
	return f->ring_fd;	/* a ring buffer polls readable when it holds events */
}

int af_fence_net_allow_fd(struct af_fence *f)
{
	return NODE_FD(f->node, af_net_allow);
}

int af_fence_dns_upstream_fd(struct af_fence *f)
{
	return NODE_FD(f->node, af_dns_upstream);
}

uint64_t af_fence_id(const struct af_fence *f)
{
	return f->id;
}

uint64_t af_fence_key(const struct af_fence *f)
{
	return f->key;
}

/* The buffer is mapped when there is something to read, and unmapped
 * by af_fence_trim once the fence is quiet: a mapping costs the
 * supervisor twice the buffer's size in resident memory. */
int af_fence_consume(struct af_fence *f)
{
	if (!f->rb) {
		f->rb = ring_buffer__new(f->ring_fd, on_rb, f, NULL);
		if (!f->rb)
			return -errno;
	}
	return ring_buffer__consume(f->rb);
}

void af_fence_trim(struct af_fence *f)
{
	if (f->rb && !f->seen) {
		ring_buffer__consume(f->rb);
		ring_buffer__free(f->rb);
		f->rb = NULL;
	}
	f->seen = false;
}

static uint64_t percpu_sum(int map_fd, const void *key, size_t vsize, size_t idx, int ncpus)
{
	size_t words = vsize / sizeof(uint64_t);
	uint64_t vals[(ncpus > 0 ? ncpus : 1) * words], sum = 0;
	int i;

	if (ncpus <= 0 || bpf_map_lookup_elem(map_fd, key, vals))
		return 0;
	for (i = 0; i < ncpus; i++)
		sum += vals[i * words + idx];
	return sum;
}

uint64_t af_fence_fcounter(struct af_fence *f, unsigned int idx)
{
	if (idx >= AF_FC_MAX)
		return 0;
	return percpu_sum(NODE_FD(f->node, af_fcounts), &f->id, sizeof(struct af_fcounts), idx,
			  f->node->ncpus);
}

uint64_t af_fence_counter(struct af_fence *f, unsigned int idx)
{
	uint64_t v;

	if (idx != AF_CNT_RB_DROP)
		return percpu_sum(NODE_FD(f->node, af_counters), &idx, sizeof(uint64_t), 0,
				  f->node->ncpus);
	/* The reader reports what it reads here: the next reader's gap
	 * starts from it (af_fence_adopt). */
	v = af_fence_fcounter(f, AF_FC_DROPS);
	if (v != f->acked) {
		struct af_fstate st = {};

		bpf_map_lookup_elem(NODE_FD(f->node, af_fstate), &f->id, &st);
		st.acked_drops = v;
		if (!bpf_map_update_elem(NODE_FD(f->node, af_fstate), &f->id, &st, BPF_EXIST))
			f->acked = v;
	}
	return v;
}

int af_fence_ring_info(struct af_fence *f, struct af_ring_info *ri)
{
	long page = sysconf(_SC_PAGESIZE);
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	void *cons, *prod;

	if (bpf_obj_get_info_by_fd(f->ring_fd, &info, &len))
		return -errno;
	cons = mmap(NULL, page, PROT_READ, MAP_SHARED, f->ring_fd, 0);
	prod = mmap(NULL, page, PROT_READ, MAP_SHARED, f->ring_fd, page);
	ri->slot = f->slot;
	ri->bytes = info.max_entries;
	ri->pending = cons != MAP_FAILED && prod != MAP_FAILED ?
		      *(volatile unsigned long *)prod - *(volatile unsigned long *)cons : 0;
	if (cons != MAP_FAILED)
		munmap(cons, page);
	if (prod != MAP_FAILED)
		munmap(prod, page);
	return 0;
}

uint64_t af_fence_acked(const struct af_fence *f)
{
	return f->acked;
}

uint64_t af_fence_stale(const struct af_fence *f)
{
	return f->stale;
}

const char *af_fence_uncovered(struct af_fence *f)
{
	return f->uncovered;
}

void af_fence_release(struct af_fence *f)
{
	if (!f)
		return;
	ring_buffer__free(f->rb);
	if (f->ring_fd >= 0)
		close(f->ring_fd);
	free(f);
}

void af_fence_remove(struct af_fence *f)
{
	if (!f)
		return;
	remove_fence(f->node, f->id);
	od_release(f->node);
	af_fence_release(f);
}

void af_fence_close(struct af_fence *f)
{
	af_fence_remove(f);
}

int af_fence_detach(uint64_t id, char *why, size_t n)
{
	char dir[PATH_MAX];
	struct af_node *nd;
	int err = 0;

	snprintf(dir, sizeof(dir), AF_PIN_ROOT "/%llu", (unsigned long long)id);
	if (access(dir, F_OK)) {
		snprintf(why, n, "no fence %llu (agentfence status lists them)", (unsigned long long)id);
		return -ESRCH;
	}
	nd = node_of(id, &err, why, n);
	if (!nd && err != -ESTALE)
		return err;
	/* Another build's fence: its links go (enforcement ends); its
	 * entries go with its node. */
	remove_fence(nd, id);
	od_release(nd);
	return 0;
}

int af_fence_cgroup_open(uint64_t id, char *path, size_t size)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh.handle_bytes = sizeof(uint64_t), .fh.handle_type = 1, .id = id };
	char mnt[PATH_MAX], link[64];
	int mfd, fd, err;
	ssize_t len;

	err = af_cgroup2_mount(mnt, sizeof(mnt));
	if (err)
		return err;
	mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = -errno;
	close(mfd);
	if (fd < 0)
		return err;
	if (path) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		len = readlink(link, path, size - 1);
		path[len > 0 ? len : 0] = 0;
	}
	return fd;
}

/* The entries of dir that keep accepts, as an array of elements of
 * esize bytes (zeroed, then filled by fill): the walk af_fence_list and
 * af_node_list share. A missing dir is an empty list. */
static int list_dir(const char *dir, bool (*keep)(const char *name), size_t esize,
		    void (*fill)(void *elem, const char *name), void **out, size_t *count)
{
	size_t cap = 0;
	struct dirent *de;
	char *v = NULL, *nv;
	DIR *d;

	*out = NULL;
	*count = 0;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!keep(de->d_name))
			continue;
		if (*count == cap) {
			nv = realloc(v, (cap = cap ? 2 * cap : 16) * esize);
			if (!nv) {
				closedir(d);
				free(v);
				*count = 0;
				return -ENOMEM;
			}
			v = nv;
		}
		memset(v + *count * esize, 0, esize);
		fill(v + *count * esize, de->d_name);
		(*count)++;
	}
	closedir(d);
	*out = v;
	return 0;
}

static bool is_fence_name(const char *name)
{
	unsigned long id;

	return !af_parse_ulong(name, ULONG_MAX, &id);
}

static void fence_info_fill(void *elem, const char *name)
{
	struct af_fence_info *fi = elem;
	char link[PATH_MAX], cg[PATH_MAX];
	unsigned long id;
	ssize_t len;
	int fd, err;

	af_parse_ulong(name, ULONG_MAX, &id);
	fi->id = id;
	snprintf(link, sizeof(link), AF_PIN_ROOT "/%lu/node", id);
	len = readlink(link, fi->node, sizeof(fi->node) - 1);
	fi->node[len > 0 ? len : 0] = 0;
	meta_read(id, fi);
	fd = af_fence_cgroup_open(id, cg, sizeof(cg));
	fi->cgroup_alive = fd >= 0;
	if (fd >= 0) {
		af_strlcpy(fi->cgroup, cg, sizeof(fi->cgroup));
		close(fd);
	}
	fi->supervisor_alive = af_pid_alive(fi->supervisor);
	if (len > 0) {
		struct af_node *nd = node_of(id, &err, link, sizeof(link));

		fi->this_build = nd != NULL;
		if (nd) {
			struct af_fstate st = {};

			fi->events = percpu_sum(NODE_FD(nd, af_fcounts), &fi->id,
						sizeof(struct af_fcounts), AF_FC_EVENTS, nd->ncpus);
			fi->drops = percpu_sum(NODE_FD(nd, af_fcounts), &fi->id,
					       sizeof(struct af_fcounts), AF_FC_DROPS, nd->ncpus);
			bpf_map_lookup_elem(NODE_FD(nd, af_fstate), &fi->id, &st);
			fi->acked_drops = st.acked_drops;
			fi->generation = st.generation;
		}
	}
}

int af_fence_list(struct af_fence_info **out, size_t *count)
{
	return list_dir(AF_PIN_ROOT, is_fence_name, sizeof(**out), fence_info_fill, (void **)out, count);
}

/* ---- collection ---- */

/* Whether a fence names node dir name. */
static bool node_used(const char *name)
{
	char link[PATH_MAX], target[128];
	struct dirent *de;
	bool used = false;
	DIR *d = opendir(AF_PIN_ROOT);
	ssize_t len;

	while (d && !used && (de = readdir(d))) {
		unsigned long id;

		if (af_parse_ulong(de->d_name, ULONG_MAX, &id))
			continue;
		snprintf(link, sizeof(link), AF_PIN_ROOT "/%s/node", de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len < 0) {
			/* A fence of a build before nodes (or half made) holds
			 * nothing of any node. */
			continue;
		}
		target[len] = 0;
		used = !strcmp(target, name);
	}
	if (d)
		closedir(d);
	return used;
}

static bool is_node_name(const char *name)
{
	return name[0] != '.';
}

static void node_info_fill(void *elem, const char *name)
{
	struct af_node_info *ni = elem;
	char fences[PATH_MAX];
	struct dirent *fe;
	DIR *fd;

	af_strlcpy(ni->name, name, sizeof(ni->name));
	ni->this_build = node_this_build(name);
	ni->partial = node_partial(name);
	/* Fences naming it. */
	fd = opendir(AF_PIN_ROOT);
	while (fd && (fe = readdir(fd))) {
		char target[128];
		unsigned long id;
		ssize_t len;

		if (af_parse_ulong(fe->d_name, ULONG_MAX, &id))
			continue;
		snprintf(fences, sizeof(fences), AF_PIN_ROOT "/%s/node", fe->d_name);
		len = readlink(fences, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = 0;
			ni->fences += !strcmp(target, name);
		}
	}
	if (fd)
		closedir(fd);
	snprintf(fences, sizeof(fences), AF_NODE_ROOT "/%s/progs", name);
	fd = opendir(fences);
	while (fd && (fe = readdir(fd)))
		ni->progs += fe->d_name[0] != '.';
	if (fd)
		closedir(fd);
	snprintf(fences, sizeof(fences), AF_NODE_ROOT "/%s/links", name);
	fd = opendir(fences);
	while (fd && (fe = readdir(fd)))
		ni->links += fe->d_name[0] != '.';
	if (fd)
		closedir(fd);
}

int af_node_list(struct af_node_info **out, size_t *count)
{
	return list_dir(AF_NODE_ROOT, is_node_name, sizeof(**out), node_info_fill, (void **)out, count);
}

/* Remove nodes no fence uses: other builds' always (they are never
 * used again once their last fence is gone), this build's only with
 * mine (they would be loaded again by the next run). Under the node
 * lock, so that no loader adopts one as it goes. */
static int node_gc(bool mine)
{
	struct dirent *de;
	char why[256], dir[PATH_MAX];
	int lock, removed = 0;
	size_t i;
	DIR *d;

	if (access(AF_NODE_ROOT, F_OK))
		return 0;
	lock = node_lock(why, sizeof(why));
	if (lock < 0)
		return lock;
	d = opendir(AF_NODE_ROOT);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		/* A partial node: its loader died holding the lock (we hold it now). */
		if (!node_partial(de->d_name) &&
		    ((node_this_build(de->d_name) && !mine) || node_used(de->d_name)))
			continue;
		snprintf(dir, sizeof(dir), AF_NODE_ROOT "/%s", de->d_name);
		af_debug("removed node %s: no fence uses it", dir);
		rm_tree(dir, 1);
		removed++;
		for (i = 0; i < ARRAY_SIZE(nodes); i++) {
			if (nodes[i] && !strcmp(nodes[i]->name, de->d_name)) {
				node_free(nodes[i]);
				nodes[i] = NULL;
			}
		}
	}
	if (d)
		closedir(d);
	close(lock);
	return removed;
}

int af_node_gc(void)
{
	return node_gc(true);
}

/* The ring pool of node nd: claims nobody can give back (a filler that
 * died, a taker that died before af_rslot named its slot) are dropped,
 * and spare buffers beyond POOL_GROW go (each removal waits for a grace
 * period: never on a fence's way). Returns how many buffers went. */
static int pool_trim(struct af_node *nd)
{
	uint32_t sizes[AF_FENCES_MAX], slot, zero = 0;
	int owner = NODE_FD(nd, af_rowner), rslot = NODE_FD(nd, af_rslot);
	struct af_rowner o, me = { .pid = (uint32_t)getpid() };
	unsigned int spare = 0, freed = 0;
	uint64_t id, next;
	bool named;
	char pin[PATH_MAX];

	for (uint32_t s = 0; s < AF_FENCES_MAX; s++) {
		if (bpf_map_lookup_elem(owner, &s, &o))
			continue;
		if (!o.fence_id) {
			if (o.pid && !af_pid_alive((pid_t)o.pid))
				bpf_map_delete_elem(owner, &s);
			continue;
		}
		named = !bpf_map_lookup_elem(rslot, &o.fence_id, &slot) && slot == s;
		if (!named && o.pid && !af_pid_alive((pid_t)o.pid))
			bpf_map_delete_elem(owner, &s);
	}
	/* Names of fences that are gone (a remove that died midway). */
	for (int r = bpf_map_get_next_key(rslot, NULL, &next); !r;
	     id = next, r = bpf_map_get_next_key(rslot, &id, &next)) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), AF_PIN_ROOT "/%llu", (unsigned long long)next);
		if (access(dir, F_OK) && errno == ENOENT &&
		    bpf_map_lookup_elem(NODE_FD(nd, af_fences), &next, &(struct af_fence_cfg){}))
			pool_put(nd, next);
	}
	pool_sizes(nd, sizes);
	for (uint32_t s = 0; s < AF_FENCES_MAX; s++) {
		if (!sizes[s] || bpf_map_update_elem(owner, &s, &me, BPF_NOEXIST))
			continue;
		if (++spare > POOL_GROW) {
			bpf_map_update_elem(NODE_FD(nd, af_rpool), &s, &zero, BPF_ANY);
			bpf_map_delete_elem(NODE_FD(nd, af_rings), &s);
			snprintf(pin, sizeof(pin), "%s/rings/%u", nd->dir, s);
			unlink(pin);
			freed++;
		}
		bpf_map_delete_elem(owner, &s);
	}
	return (int)freed;
}

int af_node_trim(void)
{
	int freed = 0, err;
	char why[256], dir[PATH_MAX];

	for (enum af_backend b = AF_BACKEND_LSM_CGROUP; b <= AF_BACKEND_LANDLOCK; b++) {
		struct af_node *nd;
		char name[64];

		node_name(b, name, sizeof(name));
		snprintf(dir, sizeof(dir), AF_NODE_ROOT "/%s", name);
		if (access(dir, F_OK))
			continue;
		nd = node_get(b, &err, why, sizeof(why));
		if (nd)
			freed += pool_trim(nd);
	}
	return freed;
}

/* Whether the loader that named a cgroup "<kind>-<pid>" still runs. */
static bool loader_alive(const char *cgroup_path)
{
	const char *base = strrchr(cgroup_path, '/');
	const char *dash = strchr(base ? base : cgroup_path, '-');
	unsigned long pid;

	if (!dash || af_parse_ulong(dash + 1, INT_MAX, &pid))
		return false;
	return af_pid_alive((pid_t)pid);
}

/* Whether fence id still has something to do: its supervisor (from its
 * metadata) runs, or its cgroup exists and holds tasks (an orphaned
 * fence keeps enforcing). An empty cgroup of run's (under
 * <cgroup2>/agentfence/) whose loader died goes with it; a cgroup
 * agentfence did not make is never removed. */
static bool fence_alive(uint64_t id)
{
	struct af_fence_info fi = {};
	char path[PATH_MAX], mnt[PATH_MAX], own[PATH_MAX + 16];
	int fd, populated;

	meta_read(id, &fi);
	if (af_pid_alive(fi.supervisor))
		return true;
	fd = af_fence_cgroup_open(id, path, sizeof(path));
	if (fd < 0)
		return fd != -ESTALE && fd != -ENOENT;
	close(fd);
	if (!path[0])
		return true;
	/* A loader still alive is setting its fence up (the cgroup is
	 * empty until the command starts) or tearing it down. */
	if (loader_alive(path))
		return true;
	populated = af_cgroup_populated(path);
	if (populated != 0)
		return true;
	/* The placeholder of a pod's fence made before the pod's cgroup
	 * (userspace/k8s.c): empty by design, the fence enforces on the
	 * pod's cgroups (bpf/k8s.bpf.h) until the daemon removes it. */
	if (!af_cgroup2_mount(mnt, sizeof(mnt))) {
		snprintf(own, sizeof(own), "%s/agentfence/k8s/", mnt);
		if (!strncmp(path, own, strlen(own)))
			return true;
	}
	if (!af_cgroup2_mount(mnt, sizeof(mnt))) {
		snprintf(own, sizeof(own), "%s/agentfence/", mnt);
		if (!strncmp(path, own, strlen(own)))
			af_cgroup_destroy(path);
	}
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
	struct dirent *de;
	DIR *d = opendir(AF_PIN_ROOT);

	if (d) {
		while ((de = readdir(d))) {
			char why[256];
			unsigned long id;
			int err;

			if (af_parse_ulong(de->d_name, ULONG_MAX, &id))
				continue;
			if (fence_alive(id))
				continue;
			af_note("removed fence %lu: its supervisor is gone and its cgroup gone or empty", id);
			{
				struct af_node *nd = node_of(id, &err, why, sizeof(why));

				remove_fence(nd, id);
				od_release(nd);
			}
		}
		closedir(d);
	}
	node_gc(false);
	gc_cgroups();
}

/* ---- Kubernetes: pods fenced from their cgroup's creation ---- */

int af_fence_k8s_link(uint64_t id, int cgroup_fd, uint64_t cgroup_id, char *why, size_t n)
{
	char pin[PATH_MAX];
	struct af_node *nd;
	size_t i;
	int err = 0, fd;

	nd = node_of(id, &err, why, n);
	if (!nd)
		return err;
	for (i = 0; i < ARRAY_SIZE(progs) && !err; i++) {
		if (progs[i].role != ROLE_K8S || nd->prog_fd[i] < 0)
			continue;
		snprintf(pin, sizeof(pin), AF_PIN_ROOT "/%llu/%s@%llu", (unsigned long long)id,
			 progs[i].name, (unsigned long long)cgroup_id);
		if (!access(pin, F_OK))
			continue;
		fd = bpf_link_create(nd->prog_fd[i], cgroup_fd, nd->attach_type[i], NULL);
		if (fd < 0) {
			err = -errno;
			snprintf(why, n, "attach %s to cgroup %llu: %s", progs[i].name,
				 (unsigned long long)cgroup_id, strerror(errno));
			break;
		}
		if (bpf_obj_pin(fd, pin)) {
			err = -errno;
			snprintf(why, n, "pin %s: %s", pin, strerror(errno));
		}
		close(fd);
	}
	return err;
}

int af_fence_k8s_map(uint64_t id, const char *name, char *why, size_t n)
{
	struct af_node *nd;
	struct bpf_map *map;
	int err = 0, fd;

	nd = node_of(id, &err, why, n);
	if (!nd)
		return err;
	map = bpf_object__find_map_by_name(nd->skel->obj, name);
	fd = map ? dup(bpf_map__fd(map)) : -1;
	if (fd < 0) {
		err = map ? -errno : -ENOENT;
		snprintf(why, n, "the node's map %s: %s", name, strerror(-err));
		return err;
	}
	return fd;
}
