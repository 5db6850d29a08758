// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "caps.h"
#include "dns_msg.h"
#include "events.h"
#include "sysfilter.h"
#include "util.h"
#include "../bpf/events.h"
#include "../bpf/fence.h"
#include "../bpf/syscalls.h"

long af_fileop_unpack(const void *data, size_t size, void *out)
{
	const struct af_ev_fileop *pk = data;
	struct af_ev_fileop *e = out;
	const char *p = data;
	size_t off = AF_FILEOP_HEAD, n[4];
	bool two, co;
	long full;

	if (size < AF_FILEOP_HEAD || pk->hdr.type != AF_EV_FILEOP_PK || pk->hdr.size != size)
		return -EINVAL;
	two = pk->lens & AF_PK_TWO;
	co = pk->dflags & AF_FOF_COALESCED;
	n[0] = pk->lens & AF_PK_LEN_MASK;
	n[1] = pk->dir_len;
	n[2] = two ? (pk->lens >> AF_PK_LEN2_SHIFT) & AF_PK_LEN_MASK : 0;
	n[3] = two ? pk->dir2_len : 0;
	/* A name takes at most AF_PATH_MAX - 1 bytes and its NUL; a dir
	 * AF_PATH_MAX; two names and the coalescing part never together. */
	if (n[0] >= AF_PATH_MAX || n[1] > AF_PATH_MAX || n[2] >= AF_PATH_MAX || n[3] > AF_PATH_MAX ||
	    (two && co) || (!two && (pk->lens >> AF_PK_LEN2_SHIFT)) ||
	    size != AF_FILEOP_HEAD + (co ? sizeof(struct af_fileop_co) : 0) + n[0] + n[1] + n[2] + n[3])
		return -EINVAL;
	memcpy(e, pk, AF_FILEOP_HEAD);
	e->hdr.type = AF_EV_FILEOP;
	e->lens = 0;
	full = two ? (long)sizeof(*e) : co ? AF_FILEOP_CO_SIZE : AF_FILEOP_SHORT;
	e->hdr.size = full;
	if (co) {
		memcpy((char *)e + AF_FILEOP_SHORT, p + off, sizeof(struct af_fileop_co));
		off += sizeof(struct af_fileop_co);
	}
	memcpy(e->path, p + off, n[0]);
	e->path[n[0]] = 0;
	off += n[0];
	memcpy(e->dir, p + off, n[1]);
	off += n[1];
	if (two) {
		memcpy(e->path2, p + off, n[2]);
		e->path2[n[2]] = 0;
		off += n[2];
		memcpy(e->dir2, p + off, n[3]);
	}
	return full;
}

/* What a denied call tried, named from its number. */
static const char *sys_verb(long nr, const char *fallback)
{
	switch (nr) {
	case AF_NR_mkdir: case AF_NR_mkdirat: return "mkdir";
	case AF_NR_rmdir: return "rmdir";
	case AF_NR_unlink: case AF_NR_unlinkat: return "unlink";
	case AF_NR_rename: case AF_NR_renameat: case AF_NR_renameat2: return "rename";
	case AF_NR_link: case AF_NR_linkat: return "link";
	case AF_NR_symlink: case AF_NR_symlinkat: return "symlink";
	case AF_NR_mknod: case AF_NR_mknodat: return "mknod";
	case AF_NR_open: case AF_NR_creat: case AF_NR_openat: case AF_NR_openat2: return "create";
	case AF_NR_truncate: case AF_NR_ftruncate: return "truncate";
	case AF_NR_chmod: case AF_NR_fchmod: case AF_NR_fchmodat: case AF_NR_fchmodat2:
		return "chmod";
	case AF_NR_chown: case AF_NR_fchown: case AF_NR_lchown: case AF_NR_fchownat:
		return "chown";
	case AF_NR_utime: case AF_NR_utimes: case AF_NR_futimesat: case AF_NR_utimensat:
		return "utimes";
	case AF_NR_fallocate: return "fallocate";
	case AF_NR_setxattr: case AF_NR_lsetxattr: case AF_NR_fsetxattr: return "setxattr";
	case AF_NR_removexattr: case AF_NR_lremovexattr: case AF_NR_fremovexattr:
		return "removexattr";
	default: return fallback;
	}
}

const char *af_fileop_verb(int sysno, uint32_t flags)
{
	switch (sysno) {
	case AF_NR_open: case AF_NR_openat: case AF_NR_openat2:
		return flags & 0100 ? "create/open for write" : "open for write";	/* O_CREAT */
	case AF_NR_unlinkat:
		return flags & 0x200 ? "rmdir" : "unlink";	/* AT_REMOVEDIR */
	case AF_NR_creat:
		return "create";
	default:
		return sys_verb(sysno, "change");
	}
}

bool af_fileop_is_symlink(int sysno)
{
	return sysno == AF_NR_symlink || sysno == AF_NR_symlinkat;
}

const struct af_decision *af_event_decision(const void *data, size_t size)
{
	const struct af_hdr *h = data;

	if (size < sizeof(struct af_decision) || h->size > size)
		return NULL;
	switch (h->type) {
	case AF_EV_FILE: case AF_EV_SYS: case AF_EV_NET: case AF_EV_DNS: case AF_EV_REFUSAL:
		return data;
	default:
		return NULL;
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
	[AF_OP_MODULE_REQUEST] = "module autoload",
	[AF_OP_SIGIO_FULL] = "F_SETOWN (no room to remember the owner's fence)",
	[AF_OP_FD_WRITE] = "write (descriptor opened before the fence)",
	[AF_OP_MMAP_WRITE] = "shared writable mapping of",
	[AF_OP_FD_RECEIVE] = "receipt of a writable descriptor of",
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

int af_event_rooted_path(const char *names, size_t len, bool unreachable, char *buf, size_t n)
{
	const char *comps[AF_PATH_MAX];
	size_t nc = 0, off = 0, l;
	int i;

	while (off < len && nc < ARRAY_SIZE(comps)) {
		comps[nc++] = names + off;
		off += strnlen(names + off, len - off) + 1;
	}
	/* Outside the task's root: marked as the kernel's getcwd marks it. */
	snprintf(buf, n, "%s", unreachable ? "(unreachable)" : "");
	for (i = (int)nc - 1; i >= 0; i--) {
		l = strlen(buf);
		snprintf(buf + l, n - l, "/%s", comps[i]);
	}
	if (!nc) {
		l = strlen(buf);
		snprintf(buf + l, n - l, "/");
	}
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

		if (e->flags & AF_EVF_PATH_ROOTED)
			af_event_rooted_path(e->path, len, e->flags & AF_EVF_PATH_UNREACHABLE, path,
					     sizeof(path));
		else
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
	if (h->type == AF_EV_SYS && size >= sizeof(struct af_ev_kmod) &&
	    ((const struct af_decision *)data)->op == AF_OP_MODULE_REQUEST) {
		const struct af_ev_kmod *e = data;

		snprintf(buf, n, "%s module autoload %.*s (%.*s pid %u)",
			 e->verdict == AF_AUDITED ? "would deny" : "denied",
			 AF_KMOD_NAME, e->name, AF_COMM_LEN, e->comm, e->hdr.tgid);
		return 0;
	}
	if (h->type == AF_EV_REFUSAL && size >= sizeof(struct af_ev_refusal)) {
		const struct af_ev_refusal *e = data;
		char name[64], why[64];
		int cap = af_syscall_cap(e->sysno);

		af_syscall_name(e->sysno, name, sizeof(name));
		if (e->op == AF_OP_CAPABILITY && cap >= 0)
			snprintf(why, sizeof(why), "capability %s", af_cap_name(cap));
		else
			snprintf(why, sizeof(why), "%s", e->op == AF_OP_SECCOMP ? "seccomp" : "capability");
		snprintf(buf, n, "denied %s(0x%llx, 0x%llx, 0x%llx): %s, %s (%.*s pid %u)", name,
			 (unsigned long long)e->args[0], (unsigned long long)e->args[1],
			 (unsigned long long)e->args[2], why, strerror(-e->ret),
			 AF_COMM_LEN, e->comm, e->hdr.tgid);
		return 0;
	}
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

static const char *const net_verbs[AF_OP_MAX] = {
	[AF_OP_CONNECT] = "connect",
	[AF_OP_SENDMSG] = "sendto",
	[AF_OP_UNIX_CONNECT] = "unix connect",
	[AF_OP_UNIX_SENDMSG] = "unix sendto",
	[AF_OP_SOCKET] = "socket",
	[AF_OP_SOCKOPT] = "setsockopt",
	[AF_OP_NETLINK] = "netlink message",
	[AF_OP_DNS_UPSTREAM] = "send to the DNS stub's upstream socket",
};

static af_event_namer namer;
static void *namer_ctx;

void af_event_set_namer(af_event_namer fn, void *ctx)
{
	namer = fn;
	namer_ctx = ctx;
}

static void format_dest(const struct af_ev_net *e, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];
	const char *name;
	size_t len;

	switch (e->family) {
	case AF_INET:
	case AF_INET6:
		inet_ntop(e->family, e->addr, a, sizeof(a));
		name = namer ? namer(namer_ctx, e->family == AF_INET6 ? 6 : 4, e->addr) : NULL;
		snprintf(buf, n, e->family == AF_INET6 ? "[%s]:%u%s%s%s%s" : "%s:%u%s%s%s%s", a, e->port,
			 e->protocol == IPPROTO_UDP ? "/udp" : "", name ? " (" : "", name ? name : "",
			 name ? ")" : "");
		return;
	case AF_UNIX:
		len = e->path_len < sizeof(e->path) ? e->path_len : sizeof(e->path);
		if (e->flags & AF_NETF_ABSTRACT)	/* skip the leading NUL */
			snprintf(buf, n, "@%.*s (abstract)", (int)(len ? len - 1 : 0), e->path + 1);
		else
			snprintf(buf, n, "%.*s%s%s", (int)strnlen(e->path, len), e->path,
				 e->flags & AF_NETF_RELATIVE ? " (relative path)" : "",
				 e->flags & AF_NETF_DOTDOT ? " (path with ..)" :
				 e->flags & AF_NETF_IDENTITY ? " (the socket it resolves to is not allowed)" : "");
		return;
	}
	snprintf(buf, n, "family %u", e->family);
}

int af_net_event_format(const void *data, size_t size, char *buf, size_t n)
{
	const struct af_ev_net *e = data;
	const char *verb;
	char dest[256];

	if (size < sizeof(*e) || e->hdr.type != AF_EV_NET)
		return -EINVAL;
	verb = e->op < AF_OP_MAX && net_verbs[e->op] ? net_verbs[e->op] : "network operation";
	if (e->op == AF_OP_SOCKOPT)
		snprintf(dest, sizeof(dest), "level %u option %u", e->port, e->protocol);
	else if (e->op == AF_OP_NETLINK)
		snprintf(dest, sizeof(dest), "protocol %u type %u", e->port, e->protocol);
	else if (e->op == AF_OP_SOCKET && e->family != AF_INET && e->family != AF_INET6 &&
		 e->family != AF_PACKET && e->family != AF_NETLINK)
		snprintf(dest, sizeof(dest), "family %u type %u protocol %u", e->family, e->port,
			 e->protocol);
	else if (e->op == AF_OP_SOCKET)
		snprintf(dest, sizeof(dest), "%s %s protocol %u", e->family == AF_INET6 ? "inet6" :
			 e->family == AF_PACKET ? "packet" : e->family == AF_INET ? "inet" : "netlink",
			 e->port == SOCK_RAW ? "raw" : e->port == SOCK_DGRAM ? "dgram" :
			 e->port == SOCK_STREAM ? "stream" : "other", e->protocol);
	else
		format_dest(e, dest, sizeof(dest));
	snprintf(buf, n, "%s %s %s%s (%.*s pid %u)",
		 e->verdict == AF_ALLOWED ? "allowed" : e->verdict == AF_AUDITED ? "would deny" : "denied",
		 verb, dest, e->flags & AF_NETF_PASSED ? " (socket from outside the fence)" : "",
		 AF_COMM_LEN, e->comm, e->hdr.tgid);
	return 0;
}

int af_dns_event_format(const void *data, size_t size, char *buf, size_t n)
{
	const struct af_ev_dns *e = data;
	char tbuf[16], addrs[256] = "", who[64] = "";
	const char *type;
	size_t i, len = 0;

	if (size < sizeof(*e) || e->hdr.type != AF_EV_DNS)
		return -EINVAL;
	type = af_dns_type_name(e->qtype, tbuf, sizeof(tbuf));
	for (i = 0; i < e->naddrs && i < AF_DNS_EV_ADDRS && len < sizeof(addrs) - 64; i++) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(e->family[i] == 6 ? AF_INET6 : AF_INET, e->addr[i], a, sizeof(a));
		len += snprintf(addrs + len, sizeof(addrs) - len, "%s%s", i ? ", " : " -> ", a);
	}
	if (e->naddrs > AF_DNS_EV_ADDRS)
		snprintf(addrs + len, sizeof(addrs) - len, ", ... (%u in all)", e->naddrs);
	if (e->hdr.tgid)
		snprintf(who, sizeof(who), " (%.*s pid %u)", AF_COMM_LEN, e->comm, e->hdr.tgid);
	if (e->verdict == AF_DENIED)
		snprintf(buf, n, "denied dns lookup %.*s (%s): NXDOMAIN%s", AF_DNS_EV_NAME, e->name,
			 type, who);
	else if (e->rcode)
		snprintf(buf, n, "dns lookup %.*s (%s): %s%s", AF_DNS_EV_NAME, e->name, type,
			 e->rcode == AF_DNS_NXDOMAIN ? "NXDOMAIN" : e->rcode == AF_DNS_SERVFAIL ?
			 "SERVFAIL" : "error", who);
	else if (e->naddrs)
		snprintf(buf, n, "allowed dns %.*s (%s)%s for %us%s", AF_DNS_EV_NAME, e->name, type,
			 addrs, e->ttl, who);
	else
		snprintf(buf, n, "allowed dns %.*s (%s): no addresses%s", AF_DNS_EV_NAME, e->name,
			 type, who);
	return 0;
}
