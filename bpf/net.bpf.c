// SPDX-License-Identifier: GPL-2.0
/* The network fence: cgroup sock_addr programs attached to the fence's
 * cgroup, on every backend (they need no BPF LSM). A socket is judged by
 * the cgroup it was created in, so each fence's object carries its own
 * id: a socket made in the fence and used by a task outside it is still
 * judged by this fence, and nested fences each apply their own list. */
#include "common.bpf.h"
#include <bpf/bpf_endian.h>

#define AFN_UNIX	1
#define AFN_INET	2
#define AFN_INET6	10
#define AFN_SOCK_STREAM	1
#define AFN_SOCK_DGRAM	2
#define AFN_TCP		6
#define AFN_UDP		17
#define AFN_SUN_OFF	2	/* offsetof(struct sockaddr_un, sun_path) */
#define AFN_SUN_MAX	108

/* The fence this object serves, set by the loader. */
const volatile __u64 af_net_fence = 0;
/* The fence's DNS stub (userspace/dns.c) listens on 127.0.0.1 and ::1 on
 * these ports, host byte order; 0: no stub, no redirection. */
const volatile __u16 af_dns_port4 = 0;
const volatile __u16 af_dns_port6 = 0;

#define AFN_DNS_PORT	53
#define AFN_LO4		0x7f000001	/* 127.0.0.1, host order */

/* Where a socket redirected to the stub meant to go, as it asked
 * (v4-mapped included), so that recvmsg and getpeername can say so. */
struct af_dns_orig {
	__u32 addr[4];		/* network byte order; v4 in addr[0] */
	__u32 port;		/* network byte order, as in bpf_sock_addr */
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct af_dns_orig);
} af_dns_orig SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__type(key, struct af_net_key);
	__type(value, struct af_net_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} af_net_allow SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__type(key, struct af_unix_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} af_unix_allow SEC(".maps") __weak;

/* 6.7 added uaddrlen; only the unix programs read it, and they load
 * only on kernels that have them. */
struct bpf_sock_addr_kern___af {
	struct sockaddr *uaddr;
	u32 uaddrlen;
} __attribute__((preserve_access_index));

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

static __always_inline __u8 proto_bit(__u32 protocol)
{
	if (protocol == AFN_TCP)
		return AF_NET_TCP;
	if (protocol == AFN_UDP)
		return AF_NET_UDP;
	return 0;
}

static __always_inline bool port_allowed(const struct af_net_val *v, __u16 port, __u8 bit)
{
	int i;

	if (v->any_port & bit)
		return true;
	for (i = 0; i < AF_NET_VAL_PORTS; i++) {
		if (i >= v->nports)
			break;
		if (v->ports[i].port == port)
			return v->ports[i].protos & bit;
	}
	return false;
}

/* Report a decision; returns whether to deny it. */
static __always_inline bool net_report(struct af_fence_cfg *cfg, bool denied, __u32 op,
				       struct af_ev_net *tmpl)
{
	bool audit = cfg && (cfg->flags & AF_FENCE_AUDIT);
	struct af_ev_net *ev;

	if (!denied && !(cfg && (cfg->flags & AF_FENCE_NET_ALLOWED)))
		return false;
	if (denied)
		af_count(audit ? AF_CNT_AUDIT : AF_CNT_DENY);
	ev = bpf_ringbuf_reserve(&af_events, sizeof(*ev), 0);
	if (!ev) {
		af_count(AF_CNT_RB_DROP);
		return denied && !audit;
	}
	__builtin_memcpy(ev, tmpl, sizeof(*ev));
	af_fill_hdr(&ev->hdr, AF_EV_NET, sizeof(*ev), af_net_fence);
	ev->op = op;
	ev->verdict = !denied ? AF_ALLOWED : audit ? AF_AUDITED : AF_DENIED;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	bpf_ringbuf_submit(ev, 0);
	return denied && !audit;
}

/* Scratch space for event templates: too big for the stack next to
 * the unix key. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct af_ev_net);
} af_net_tmp SEC(".maps") __weak;

static __always_inline struct af_ev_net *tmpl_get(void)
{
	__u32 zero = 0;
	struct af_ev_net *t = bpf_map_lookup_elem(&af_net_tmp, &zero);

	if (t)
		__builtin_memset(t, 0, sizeof(*t));
	return t;
}

static __always_inline bool is_v4mapped(const __u32 *a)
{
	return !a[0] && !a[1] && a[2] == bpf_htonl(0xffff);
}

/* Judge an IPv4 (a[0]) or IPv6 destination; report; true to deny. */
static __always_inline bool inet_denied(__u32 *a, bool v6, __u16 port, __u32 protocol,
					__u32 op, __u32 evflags)
{
	__u64 fid = af_net_fence;
	struct af_fence_cfg *cfg = bpf_map_lookup_elem(&af_fences, &fid);
	struct af_net_key key = { .fence_id = fid };
	__u8 bit = proto_bit(protocol);
	struct af_net_val *val;
	struct af_ev_net *ev;
	bool denied;

	/* ::ffff:a.b.c.d is an IPv4 destination: judge it by the v4 list. */
	if (v6 && is_v4mapped(a)) {
		a[0] = a[3];
		a[2] = a[3] = 0;
		v6 = false;
	}
	key.family = v6 ? 6 : 4;
	key.prefixlen = AF_NET_KEY_BITS + (v6 ? 128 : 32);
	__builtin_memcpy(key.addr, a, 16);
	val = bpf_map_lookup_elem(&af_net_allow, &key);
	denied = !bit || !val || !port_allowed(val, port, bit);
	if (!denied && !(cfg && (cfg->flags & AF_FENCE_NET_ALLOWED)))
		return false;
	ev = tmpl_get();
	if (!ev)
		return denied && !(cfg && (cfg->flags & AF_FENCE_AUDIT));
	ev->family = v6 ? AFN_INET6 : AFN_INET;
	ev->port = port;
	ev->protocol = protocol;
	ev->flags = evflags;
	__builtin_memcpy(ev->addr, a, 16);
	return net_report(cfg, denied, op, ev);
}

/* Send a DNS query (port 53, TCP or UDP, any address) to the fence's
 * stub instead, remembering the original destination on the socket.
 * An IPv6 destination goes to the stub on ::1, a v4-mapped one to
 * ::ffff:127.0.0.1. Returns the program's verdict. */
static __always_inline int dns_redirect(struct bpf_sock_addr *ctx, __u32 *a, bool v6)
{
	struct af_dns_orig *o;

	o = bpf_sk_storage_get(&af_dns_orig, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return 0;	/* cannot restore the answer's source: fail closed */
	__builtin_memcpy(o->addr, a, 16);
	o->port = ctx->user_port;
	if (!v6) {
		ctx->user_ip4 = bpf_htonl(AFN_LO4);
		ctx->user_port = bpf_htons(af_dns_port4);
	} else if (is_v4mapped(a)) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = bpf_htonl(AFN_LO4);
		ctx->user_port = bpf_htons(af_dns_port4);
	} else if (af_dns_port6) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = 0;
		ctx->user_ip6[3] = bpf_htonl(1);
		ctx->user_port = bpf_htons(af_dns_port6);
	} else {
		return 0;	/* no stub on ::1 (IPv6 off on lo): fail closed */
	}
	return 1;
}

static __always_inline int inet_check(struct bpf_sock_addr *ctx, __u32 op, bool v6)
{
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	__u32 a[4] = {};

	if (v6) {
		a[0] = ctx->user_ip6[0];
		a[1] = ctx->user_ip6[1];
		a[2] = ctx->user_ip6[2];
		a[3] = ctx->user_ip6[3];
	} else {
		a[0] = ctx->user_ip4;
	}
	if (af_dns_port4 && port == AFN_DNS_PORT &&
	    (ctx->protocol == AFN_TCP || ctx->protocol == AFN_UDP))
		return dns_redirect(ctx, a, v6);
	return inet_denied(a, v6, port, ctx->protocol, op, 0) ? 0 : 1;
}

/* The stub's answers come from 127.0.0.1 or ::1: show the resolver the
 * socket asked (glibc drops answers from any other address). */
static __always_inline void dns_restore(struct bpf_sock_addr *ctx, bool v6)
{
	struct af_dns_orig *o;

	if (!af_dns_port4)
		return;
	if (!v6) {
		if (ctx->user_ip4 != bpf_htonl(AFN_LO4) || ctx->user_port != bpf_htons(af_dns_port4))
			return;
	} else if (ctx->user_ip6[0] || ctx->user_ip6[1]) {
		return;
	} else if (ctx->user_ip6[2] == bpf_htonl(0xffff)) {
		if (ctx->user_ip6[3] != bpf_htonl(AFN_LO4) || ctx->user_port != bpf_htons(af_dns_port4))
			return;
	} else if (ctx->user_ip6[2] || ctx->user_ip6[3] != bpf_htonl(1) || !af_dns_port6 ||
		   ctx->user_port != bpf_htons(af_dns_port6)) {
		return;
	}
	o = bpf_sk_storage_get(&af_dns_orig, ctx->sk, 0, 0);
	if (!o)
		return;
	if (!v6) {
		ctx->user_ip4 = o->addr[0];
	} else {
		ctx->user_ip6[0] = o->addr[0];
		ctx->user_ip6[1] = o->addr[1];
		ctx->user_ip6[2] = o->addr[2];
		ctx->user_ip6[3] = o->addr[3];
	}
	ctx->user_port = o->port;
}

SEC("cgroup/recvmsg4")
int af_recvmsg4(struct bpf_sock_addr *ctx)
{
	dns_restore(ctx, false);
	return 1;
}

SEC("cgroup/recvmsg6")
int af_recvmsg6(struct bpf_sock_addr *ctx)
{
	dns_restore(ctx, true);
	return 1;
}

SEC("cgroup/getpeername4")
int af_getpeername4(struct bpf_sock_addr *ctx)
{
	dns_restore(ctx, false);
	return 1;
}

SEC("cgroup/getpeername6")
int af_getpeername6(struct bpf_sock_addr *ctx)
{
	dns_restore(ctx, true);
	return 1;
}

SEC("cgroup/connect4")
int af_connect4(struct bpf_sock_addr *ctx)
{
	return inet_check(ctx, AF_OP_CONNECT, false);
}

SEC("cgroup/connect6")
int af_connect6(struct bpf_sock_addr *ctx)
{
	return inet_check(ctx, AF_OP_CONNECT, true);
}

SEC("cgroup/sendmsg4")
int af_sendmsg4(struct bpf_sock_addr *ctx)
{
	return inet_check(ctx, AF_OP_SENDMSG, false);
}

SEC("cgroup/sendmsg6")
int af_sendmsg6(struct bpf_sock_addr *ctx)
{
	return inet_check(ctx, AF_OP_SENDMSG, true);
}

/* Only TCP and UDP inet sockets: raw, ping (ICMP datagram), SCTP and
 * MPTCP sockets reach no connect/sendmsg hook above, or not reliably. */
SEC("cgroup/sock_create")
int af_sock_create(struct bpf_sock *sk)
{
	__u64 fid = af_net_fence;
	struct af_fence_cfg *cfg;
	struct af_ev_net *ev;

	if (sk->family != AFN_INET && sk->family != AFN_INET6)
		return 1;
	if ((sk->type == AFN_SOCK_STREAM && sk->protocol == AFN_TCP) ||
	    (sk->type == AFN_SOCK_DGRAM && sk->protocol == AFN_UDP))
		return 1;
	cfg = bpf_map_lookup_elem(&af_fences, &fid);
	ev = tmpl_get();
	if (!ev)
		return cfg && (cfg->flags & AF_FENCE_AUDIT) ? 1 : 0;
	ev->family = sk->family;
	ev->port = sk->type;
	ev->protocol = sk->protocol;
	return net_report(cfg, true, AF_OP_SOCKET, ev) ? 0 : 1;
}

/* The unix path being judged, per CPU: a map value, so that the scan
 * below may index it with a variable. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct af_unix_key);
} af_unix_tmp SEC(".maps") __weak;

struct unix_scan {
	__u32 n;		/* bytes of the name */
	__u32 end;		/* where it ends: the first NUL, or n */
	__u32 flags;
};

/* One byte of the scan: find the end and any ".." component. A
 * bpf_loop callback, so that the verifier looks at one step instead of
 * every path length (it took 100 ms per program unrolled). */
static long unix_scan_step(__u64 i, void *ctx)
{
	struct unix_scan *s = ctx;
	__u32 zero = 0;
	struct af_unix_key *k = bpf_map_lookup_elem(&af_unix_tmp, &zero);
	const char *p;

	if (!k || i >= s->n || i >= AFN_SUN_MAX)
		return 1;
	p = k->path;
	if (!p[i]) {
		s->end = i;
		return 1;
	}
	if (p[i] == '.' && p[i + 1] == '.' && (i == 0 || p[i - 1] == '/') &&
	    (p[i + 2] == '/' || !p[i + 2]))
		s->flags |= AF_NETF_DOTDOT;
	return 0;
}

/* Unix sockets. The path is judged as a string: absolute, without ".."
 * components, under an allowed directory or equal to an allowed file.
 * Abstract names are always denied: the policy has no syntax to allow
 * one. sun is the kernel's copy of the address, len its length. */
static __always_inline bool unix_denied(const struct sockaddr *sun, __u64 len, __u32 op,
					__u32 evflags)
{
	__u64 fid = af_net_fence;
	struct unix_scan scan = { .flags = evflags };
	struct af_unix_key *key;
	struct af_fence_cfg *cfg;
	struct af_ev_net *ev;
	__u64 n = len;	/* 64-bit: the bound check must be on the register passed */
	__u32 zero = 0;
	bool denied;

	if (n <= AFN_SUN_OFF)
		return false;	/* unnamed: the kernel refuses it */
	key = bpf_map_lookup_elem(&af_unix_tmp, &zero);
	if (!key)
		return true;
	__builtin_memset(key, 0, sizeof(*key));
	key->fence_id = fid;
	n -= AFN_SUN_OFF;
	if (n > AFN_SUN_MAX)
		n = AFN_SUN_MAX;
	if (bpf_probe_read_kernel(key->path, n, (const char *)sun + AFN_SUN_OFF))
		return true;
	if (!key->path[0]) {
		scan.flags |= AF_NETF_ABSTRACT;
	} else {
		if (key->path[0] != '/')
			scan.flags |= AF_NETF_RELATIVE;
		scan.n = n;
		scan.end = n;
		bpf_loop(AFN_SUN_MAX, unix_scan_step, &scan, 0);
		/* path[end] is the terminating NUL: part of the key, so
		 * that an allowed file matches exactly and "/a/b" never
		 * matches a directory entry "/a/b/". */
		key->prefixlen = AF_NET_KEY_BITS + 8 * ((scan.end & 0x7f) + 1);
	}
	denied = (scan.flags & ~AF_NETF_PASSED) || !bpf_map_lookup_elem(&af_unix_allow, key);
	cfg = bpf_map_lookup_elem(&af_fences, &fid);
	if (!denied && !(cfg && (cfg->flags & AF_FENCE_NET_ALLOWED)))
		return false;
	ev = tmpl_get();
	if (!ev)
		return denied && !(cfg && (cfg->flags & AF_FENCE_AUDIT));
	ev->family = AFN_UNIX;
	ev->flags = scan.flags;
	ev->path_len = n;
	__builtin_memcpy(ev->path, key->path, sizeof(ev->path));
	return net_report(cfg, denied, op, ev);
}

/* 6.7+ hooks; uaddrlen came with them. */
static __always_inline int unix_check(struct bpf_sock_addr *ctx, __u32 op)
{
	struct bpf_sock_addr_kern___af *k = bpf_cast_to_kern_ctx(ctx);

	return unix_denied(k->uaddr, k->uaddrlen, op, 0) ? 0 : 1;
}

/* libbpf 1.1 does not know these section names: the loader sets their
 * program and attach types (userspace/net.c). */
SEC("cgroup/connect_unix")
int af_connect_unix(struct bpf_sock_addr *ctx)
{
	return unix_check(ctx, AF_OP_UNIX_CONNECT);
}

SEC("cgroup/sendmsg_unix")
int af_sendmsg_unix(struct bpf_sock_addr *ctx)
{
	return unix_check(ctx, AF_OP_UNIX_SENDMSG);
}

/* Sockets created outside the fence and passed in (inherited, or over
 * SCM_RIGHTS) carry their creator's cgroup, so the programs above never
 * see them. These global LSM programs (BPF LSM backends only) judge them
 * by the current task's fence. */
static __always_inline bool passed_in_denied(struct socket *sock, const struct sockaddr *addr,
					     int addrlen, __u32 op)
{
	struct sock *sk = BPF_CORE_READ(sock, sk);
	__u64 fid, cgid;
	__u16 family;
	__u32 a[4] = {};

	if (!addr || !sk || !af_current_fence(&fid) || fid != af_net_fence)
		return false;
	/* Made inside a fence: its cgroup programs judged it already. */
	cgid = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
	if (bpf_map_lookup_elem(&af_member, &cgid))
		return false;
	family = BPF_CORE_READ(addr, sa_family);
	if (family == AFN_INET) {
		const struct sockaddr_in *in = (const void *)addr;

		a[0] = BPF_CORE_READ(in, sin_addr.s_addr);
		return inet_denied(a, false, bpf_ntohs(BPF_CORE_READ(in, sin_port)),
				   BPF_CORE_READ(sk, sk_protocol), op, AF_NETF_PASSED);
	}
	if (family == AFN_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)addr;

		BPF_CORE_READ_INTO(&a, in6, sin6_addr.in6_u.u6_addr32);
		return inet_denied(a, true, bpf_ntohs(BPF_CORE_READ(in6, sin6_port)),
				   BPF_CORE_READ(sk, sk_protocol), op, AF_NETF_PASSED);
	}
	if (family == AFN_UNIX)
		return unix_denied(addr, addrlen, op == AF_OP_CONNECT ? AF_OP_UNIX_CONNECT :
				   AF_OP_UNIX_SENDMSG, AF_NETF_PASSED);
	return false;
}

SEC("lsm/socket_connect")
int BPF_PROG(lsm_sock_connect, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret)
		return ret;
	return af_lsm_ret(passed_in_denied(sock, address, addrlen, AF_OP_CONNECT));
}

/* Only sends that name a destination: a socket connected outside the
 * fence keeps the peer it was given there (a documented gap). */
SEC("lsm/socket_sendmsg")
int BPF_PROG(lsm_sock_sendmsg, struct socket *sock, struct msghdr *msg, int size, int ret)
{
	if (ret)
		return ret;
	return af_lsm_ret(passed_in_denied(sock, BPF_CORE_READ(msg, msg_name),
					   BPF_CORE_READ(msg, msg_namelen), AF_OP_SENDMSG));
}

#define AFN_PACKET	17

/* Packet sockets see and forge every frame of an interface: none in a
 * fence. cgroup/sock_create is never called for them; this global LSM
 * program (BPF LSM backends only) judges by the current task's fence. */
SEC("lsm/socket_create")
int BPF_PROG(lsm_sock_create, int family, int type, int protocol, int kern, int ret)
{
	struct af_fence_cfg *cfg;
	struct af_ev_net *ev;
	__u64 fid;

	if (ret)
		return ret;
	if (kern || family != AFN_PACKET || !af_current_fence(&fid) || fid != af_net_fence)
		return 0;
	cfg = bpf_map_lookup_elem(&af_fences, &fid);
	ev = tmpl_get();
	if (!ev)
		return af_lsm_ret(!(cfg && (cfg->flags & AF_FENCE_AUDIT)));
	ev->family = family;
	ev->port = type;
	ev->protocol = protocol;
	return af_lsm_ret(net_report(cfg, true, AF_OP_SOCKET, ev));
}

char LICENSE[] SEC("license") = "GPL";
