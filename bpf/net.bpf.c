// SPDX-License-Identifier: GPL-2.0
/* The network fence: cgroup sock_addr programs attached to the fence's
 * cgroup, on every backend (they need no BPF LSM). They run for sockets
 * created in the cgroup and judge by the fence of the task that uses
 * the socket (af_member, keyed by cgroup id): the object carries no
 * fence id, so one object can serve many fences. A socket made in the
 * fence and used by a task outside every fence finds no fence: denied.
 * Nested fences each apply their own list (each object's membership map
 * names its own fence for the cgroups beneath it). */
#include "common.bpf.h"
#include "k8s.bpf.h"
#include "fxco.bpf.h"
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

/* The fence's DNS stub (userspace/dns.c) listens on 127.0.0.1 and ::1
 * on the ports in its af_fence_cfg (dns_port4, dns_port6). */
/* No cgroup/connect_unix in this kernel (before 6.7): the LSM programs
 * below judge the unix path of every socket, not only passed-in ones.
 * A fact of the kernel, set when the node loads; what depends on a
 * policy is in the fence's af_fence_cfg. */
const volatile bool af_unix_lsm = false;

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
	__uint(max_entries, AF_NET_ALLOW_MAX);
	__type(key, struct af_net_key);
	__type(value, struct af_net_val);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} af_net_allow SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, AF_UNIX_ALLOW_MAX);
	__type(key, struct af_unix_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} af_unix_allow SEC(".maps") __weak;

/* The DNS stub's upstream sockets' local ports (host byte order), while
 * they wait for an answer: a fenced process may send nothing to them,
 * at any address, so it cannot forge the resolver's answer. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} af_dns_upstream SEC(".maps");

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
static __always_inline bool net_report(__u64 fid, struct af_fence_cfg *cfg, bool denied,
				       __u32 op, struct af_ev_net *tmpl)
{
	bool audit = cfg && (cfg->flags & AF_FENCE_AUDIT);
	struct af_ev_net *ev;

	if (!denied && !(cfg && (cfg->flags & AF_FENCE_NET_ALLOWED)))
		return false;
	if (denied)
		af_count(audit ? AF_CNT_AUDIT : AF_CNT_DENY);
	ev = af_reserve(fid, sizeof(*ev));
	if (!ev)
		return denied && !audit;
	__builtin_memcpy(ev, tmpl, sizeof(*ev));
	af_fill_hdr(&ev->hdr, AF_EV_NET, sizeof(*ev), fid);
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

/* The fence that judges. k false: the current task's (af_member: the
 * program is linked to its fence's cgroup). k true: the program is the
 * one linked once at the kubepods cgroup (ak_* below): the pod's fence
 * from its cgroup's creation (af_kmember, bpf/k8s.bpf.h). */
static __always_inline struct af_fence_cfg *net_fence(bool kp, __u64 *fid)
{
	struct af_fence_cfg *cfg;
	__u64 cgid, *f;

	if (!kp)
		return af_current_fence(fid);
	cgid = bpf_get_current_cgroup_id();
	f = bpf_map_lookup_elem(&af_kmember, &cgid);
	if (!f)
		return NULL;
	cfg = bpf_map_lookup_elem(&af_fences, f);
	if (cfg)
		*fid = cfg->key;
	return cfg;
}

/* Whether the current task is in a pod fenced from creation: the ak_*
 * programs let everything else pass at the cost of this lookup. */
static __always_inline bool k_member(void)
{
	__u64 cgid = bpf_get_current_cgroup_id();

	return bpf_map_lookup_elem(&af_kmember, &cgid);
}

static __always_inline bool is_v4mapped(const __u32 *a)
{
	return !a[0] && !a[1] && a[2] == bpf_htonl(0xffff);
}

/* An allowed connect or send to a destination the thread reached
 * before (bpf/fxco.bpf.h): counted, true (no record now). A new one
 * takes a slot, its old destination's repeats recorded first. */
static __always_inline bool nco_repeat(__u64 fid, const __u32 *a, __u16 family, __u16 port,
				       __u16 protocol, __u16 op, __u32 flags)
{
	__u64 id = bpf_get_current_pid_tgid(), now;
	struct af_nslot *s;
	struct af_nco *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&af_nco, &id);
	if (!c) {
		struct af_nco *z = bpf_map_lookup_elem(&af_nco_zero, &zero);

		if (!z || bpf_map_update_elem(&af_nco, &id, z, BPF_NOEXIST))
			return false;	/* full: ordinary records */
		c = bpf_map_lookup_elem(&af_nco, &id);
		if (!c)
			return false;
	}
	now = bpf_ktime_get_ns();
	fid &= AF_KEY_ID_MASK;
	for (int i = 0; i < AF_NCO_SLOTS; i++) {
		s = &c->s[i];
		if (s->fence_id != fid || s->family != family || s->port != port ||
		    s->protocol != protocol || s->op != op || s->flags != flags ||
		    ((__u32 *)s->addr)[0] != a[0] || ((__u32 *)s->addr)[1] != a[1] ||
		    ((__u32 *)s->addr)[2] != a[2] || ((__u32 *)s->addr)[3] != a[3])
			continue;
		af_co_count(s, now, af_nco_flush);
		return true;
	}
	s = &c->s[c->next & (AF_NCO_SLOTS - 1)];
	c->next++;
	af_nco_flush(s, now);
	s->fence_id = fid;
	__builtin_memcpy(s->addr, a, 16);
	s->family = family;
	s->port = port;
	s->protocol = protocol;
	s->op = op;
	s->flags = flags;
	s->count = 0;
	s->last = now;
	return false;
}

/* Judge an IPv4 (a[0]) or IPv6 destination; report; true to deny. */
static __always_inline bool inet_denied(__u32 *a, bool v6, __u16 port, __u32 protocol,
					__u32 op, __u32 evflags, bool kp)
{
	__u64 fid = 0;
	struct af_fence_cfg *cfg = net_fence(kp, &fid);
	struct af_net_key key = { .fence_id = fid };
	__u8 bit = proto_bit(protocol);
	struct af_net_val *val;
	struct af_ev_net *ev;
	bool denied;

	if (!cfg) {
		af_count(AF_CNT_DENY);
		return true;	/* a fence's socket outside every fence */
	}
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
	/* Allowed only: a denial always has its own record. */
	if (!denied && nco_repeat(fid, a, v6 ? AFN_INET6 : AFN_INET, port, protocol, op, evflags))
		return false;
	ev = tmpl_get();
	if (!ev)
		return denied && !(cfg && (cfg->flags & AF_FENCE_AUDIT));
	ev->family = v6 ? AFN_INET6 : AFN_INET;
	ev->port = port;
	ev->protocol = protocol;
	ev->flags = evflags;
	__builtin_memcpy(ev->addr, a, 16);
	return net_report(fid, cfg, denied, op, ev);
}

/* Send a DNS query (port 53, TCP or UDP, any address) to the fence's
 * stub instead, remembering the original destination on the socket.
 * An IPv6 destination goes to the stub on ::1, a v4-mapped one to
 * ::ffff:127.0.0.1. Returns the program's verdict. */
static __always_inline int dns_redirect(struct bpf_sock_addr *ctx, __u32 *a, bool v6,
					__u16 port4, __u16 port6)
{
	struct af_dns_orig *o;

	o = bpf_sk_storage_get(&af_dns_orig, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return 0;	/* cannot restore the answer's source: fail closed */
	__builtin_memcpy(o->addr, a, 16);
	o->port = ctx->user_port;
	if (!v6) {
		ctx->user_ip4 = bpf_htonl(AFN_LO4);
		ctx->user_port = bpf_htons(port4);
	} else if (is_v4mapped(a)) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = bpf_htonl(AFN_LO4);
		ctx->user_port = bpf_htons(port4);
	} else if (port6) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = 0;
		ctx->user_ip6[3] = bpf_htonl(1);
		ctx->user_port = bpf_htons(port6);
	} else {
		return 0;	/* no stub on ::1 (IPv6 off on lo): fail closed */
	}
	return 1;
}

static __always_inline bool upstream_denied(__u64 fid, struct af_fence_cfg *cfg, __u32 *a,
					    bool v6, __u16 port, __u32 protocol)
{
	struct af_ev_net *ev = tmpl_get();

	if (!ev)
		return !(cfg && (cfg->flags & AF_FENCE_AUDIT));
	ev->family = v6 ? AFN_INET6 : AFN_INET;
	ev->port = port;
	ev->protocol = protocol;
	__builtin_memcpy(ev->addr, a, 16);
	return net_report(fid, cfg, true, AF_OP_DNS_UPSTREAM, ev);
}

static __always_inline int inet_check(struct bpf_sock_addr *ctx, __u32 op, bool v6, bool kp)
{
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	struct af_fence_cfg *cfg;
	__u32 a[4] = {};
	__u64 fid;

	if (v6) {
		a[0] = ctx->user_ip6[0];
		a[1] = ctx->user_ip6[1];
		a[2] = ctx->user_ip6[2];
		a[3] = ctx->user_ip6[3];
	} else {
		a[0] = ctx->user_ip4;
	}
	cfg = net_fence(kp, &fid);
	if (cfg && cfg->dns_port4 && port == AFN_DNS_PORT &&
	    (ctx->protocol == AFN_TCP || ctx->protocol == AFN_UDP))
		return dns_redirect(ctx, a, v6, cfg->dns_port4, cfg->dns_port6);
	if (cfg && cfg->dns_port4 && bpf_map_lookup_elem(&af_dns_upstream, &port))
		return upstream_denied(fid, cfg, a, v6, port, ctx->protocol) ? 0 : 1;
	return inet_denied(a, v6, port, ctx->protocol, op, 0, kp) ? 0 : 1;
}

/* The stub's answers come from 127.0.0.1 or ::1: show the resolver the
 * socket asked (glibc drops answers from any other address). */
static __always_inline void dns_restore(struct bpf_sock_addr *ctx, bool v6, bool kp)
{
	struct af_fence_cfg *cfg;
	struct af_dns_orig *o;
	__u16 port4, port6;
	__u64 fid;

	cfg = net_fence(kp, &fid);
	if (!cfg || !cfg->dns_port4)
		return;
	port4 = cfg->dns_port4;
	port6 = cfg->dns_port6;
	if (!v6) {
		if (ctx->user_ip4 != bpf_htonl(AFN_LO4) || ctx->user_port != bpf_htons(port4))
			return;
	} else if (ctx->user_ip6[0] || ctx->user_ip6[1]) {
		return;
	} else if (ctx->user_ip6[2] == bpf_htonl(0xffff)) {
		if (ctx->user_ip6[3] != bpf_htonl(AFN_LO4) || ctx->user_port != bpf_htons(port4))
			return;
	} else if (ctx->user_ip6[2] || ctx->user_ip6[3] != bpf_htonl(1) || !port6 ||
		   ctx->user_port != bpf_htons(port6)) {
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
	dns_restore(ctx, false, false);
	return 1;
}

SEC("cgroup/recvmsg6")
int af_recvmsg6(struct bpf_sock_addr *ctx)
{
	dns_restore(ctx, true, false);
	return 1;
}

SEC("cgroup/getpeername4")
int af_getpeername4(struct bpf_sock_addr *ctx)
{
	dns_restore(ctx, false, false);
	return 1;
}

SEC("cgroup/getpeername6")
int af_getpeername6(struct bpf_sock_addr *ctx)
{
	dns_restore(ctx, true, false);
	return 1;
}

SEC("cgroup/connect4")
int af_connect4(struct bpf_sock_addr *ctx)
{
	return inet_check(ctx, AF_OP_CONNECT, false, false);
}

SEC("cgroup/connect6")
int af_connect6(struct bpf_sock_addr *ctx)
{
	return inet_check(ctx, AF_OP_CONNECT, true, false);
}

SEC("cgroup/sendmsg4")
int af_sendmsg4(struct bpf_sock_addr *ctx)
{
	return inet_check(ctx, AF_OP_SENDMSG, false, false);
}

SEC("cgroup/sendmsg6")
int af_sendmsg6(struct bpf_sock_addr *ctx)
{
	return inet_check(ctx, AF_OP_SENDMSG, true, false);
}

/* Only TCP and UDP inet sockets: raw, ping (ICMP datagram), SCTP and
 * MPTCP sockets reach no connect/sendmsg hook above, or not reliably. */
static __always_inline int sock_create(struct bpf_sock *sk, bool kp)
{
	__u64 fid = 0;
	struct af_fence_cfg *cfg;
	struct af_ev_net *ev;

	if (sk->family != AFN_INET && sk->family != AFN_INET6)
		return 1;
	if ((sk->type == AFN_SOCK_STREAM && sk->protocol == AFN_TCP) ||
	    (sk->type == AFN_SOCK_DGRAM && sk->protocol == AFN_UDP))
		return 1;
	cfg = net_fence(kp, &fid);
	ev = tmpl_get();
	if (!ev)
		return cfg && (cfg->flags & AF_FENCE_AUDIT) ? 1 : 0;
	ev->family = sk->family;
	ev->port = sk->type;
	ev->protocol = sk->protocol;
	return net_report(fid, cfg, true, AF_OP_SOCKET, ev) ? 0 : 1;
}

SEC("cgroup/sock_create")
int af_sock_create(struct bpf_sock *sk)
{
	return sock_create(sk, false);
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
					__u32 evflags, bool kp)
{
	__u64 fid = 0;
	struct unix_scan scan = { .flags = evflags };
	struct af_unix_key *key;
	struct af_fence_cfg *cfg;
	struct af_ev_net *ev;
	__u64 n = len;	/* 64-bit: the bound check must be on the register passed */
	__u32 zero = 0;
	bool denied;

	if (n <= AFN_SUN_OFF)
		return false;	/* unnamed: the kernel refuses it */
	cfg = net_fence(kp, &fid);
	if (!cfg) {
		af_count(AF_CNT_DENY);
		return true;	/* a fence's socket outside every fence */
	}
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
	if (!denied && !(cfg && (cfg->flags & AF_FENCE_NET_ALLOWED)))
		return false;
	ev = tmpl_get();
	if (!ev)
		return denied && !(cfg && (cfg->flags & AF_FENCE_AUDIT));
	ev->family = AFN_UNIX;
	ev->flags = scan.flags;
	ev->path_len = n;
	__builtin_memcpy(ev->path, key->path, sizeof(ev->path));
	return net_report(fid, cfg, denied, op, ev);
}

/* 6.7+ hooks; uaddrlen came with them. */
static __always_inline int unix_check(struct bpf_sock_addr *ctx, __u32 op, bool kp)
{
	struct bpf_sock_addr_kern___af *k = bpf_cast_to_kern_ctx(ctx);

	return unix_denied(k->uaddr, k->uaddrlen, op, 0, kp) ? 0 : 1;
}

/* libbpf 1.1 does not know these section names: the loader sets their
 * program and attach types (userspace/net.c). */
SEC("cgroup/connect_unix")
int af_connect_unix(struct bpf_sock_addr *ctx)
{
	return unix_check(ctx, AF_OP_UNIX_CONNECT, false);
}

SEC("cgroup/sendmsg_unix")
int af_sendmsg_unix(struct bpf_sock_addr *ctx)
{
	return unix_check(ctx, AF_OP_UNIX_SENDMSG, false);
}

/* Sockets created outside the fence and passed in (inherited, or over
 * SCM_RIGHTS) carry their creator's cgroup, so the programs above never
 * see them. These global LSM programs (BPF LSM backends only) judge them
 * by the current task's fence. */
static __always_inline bool passed_in_denied(struct socket *sock, const struct sockaddr *addr,
					     int addrlen, __u32 op)
{
	struct sock *sk = BPF_CORE_READ(sock, sk);
	struct af_fence_cfg *cfg;
	__u64 fid, cgid;
	__u16 family;
	__u32 a[4] = {};

	if (!addr || !sk)
		return false;
	cfg = af_current_fence(&fid);
	if (!cfg || !(cfg->flags & AF_FENCE_NET))
		return false;
	family = BPF_CORE_READ(addr, sa_family);
	/* Before 6.7 no cgroup program sees a unix address: judge it here
	 * whoever made the socket. */
	if (family == AFN_UNIX && af_unix_lsm)
		return unix_denied(addr, addrlen, op == AF_OP_CONNECT ? AF_OP_UNIX_CONNECT :
				   AF_OP_UNIX_SENDMSG, 0, false);
	/* Made inside a fence: its cgroup programs judged it already. */
	cgid = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
	if (bpf_map_lookup_elem(&af_member, &cgid))
		return false;
	if (family == AFN_INET) {
		const struct sockaddr_in *in = (const void *)addr;

		a[0] = BPF_CORE_READ(in, sin_addr.s_addr);
		return inet_denied(a, false, bpf_ntohs(BPF_CORE_READ(in, sin_port)),
				   BPF_CORE_READ(sk, sk_protocol), op, AF_NETF_PASSED, false);
	}
	if (family == AFN_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)addr;

		BPF_CORE_READ_INTO(&a, in6, sin6_addr.in6_u.u6_addr32);
		return inet_denied(a, true, bpf_ntohs(BPF_CORE_READ(in6, sin6_port)),
				   BPF_CORE_READ(sk, sk_protocol), op, AF_NETF_PASSED, false);
	}
	if (family == AFN_UNIX)
		return unix_denied(addr, addrlen, op == AF_OP_CONNECT ? AF_OP_UNIX_CONNECT :
				   AF_OP_UNIX_SENDMSG, AF_NETF_PASSED, false);
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

/* ---- unix sockets by identity ---- */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct af_root_key);
	__type(value, __u32);
} af_unix_ids SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct af_pname_key);
	__type(value, __u32);
} af_unix_names SEC(".maps") __weak;

struct uid_walk {
	__u64 dentry;
	__u64 fence_id;
	bool found;
};

static long uid_step(__u32 i, void *data)
{
	struct uid_walk *w = data;
	struct dentry *d = (struct dentry *)w->dentry, *parent;
	struct af_root_key key = { .fence_id = w->fence_id };
	__u32 *kind;

	key.ino = BPF_CORE_READ(d, d_inode, i_ino);
	key.dev = BPF_CORE_READ(d, d_sb, s_dev);
	kind = bpf_map_lookup_elem(&af_unix_ids, &key);
	if (kind && (i == 0 || *kind == AF_UNIX_ID_DIR)) {
		w->found = true;
		return 1;
	}
	parent = BPF_CORE_READ(d, d_parent);
	if (!parent || parent == d)
		return 1;
	w->dentry = (__u64)parent;
	return 0;
}

/* Whether the socket file d is allowed: itself, an allowed directory
 * above it on its filesystem, or its name in an allowed directory. */
static __always_inline bool unix_id_allowed(__u64 fid, struct dentry *d)
{
	struct uid_walk w = { .dentry = (__u64)d, .fence_id = fid };
	struct af_pname_key nk = { .fence_id = fid };
	struct dentry *parent;

	bpf_loop(AF_WALK_MAX, uid_step, &w, 0);
	if (w.found)
		return true;
	parent = BPF_CORE_READ(d, d_parent);
	if (!parent || BPF_CORE_READ(d, d_name.len) >= AF_PNAME_LEN)
		return false;
	if (bpf_probe_read_kernel_str(nk.name, sizeof(nk.name), BPF_CORE_READ(d, d_name.name)) <= 0)
		return false;
	nk.ino = BPF_CORE_READ(parent, d_inode, i_ino);
	nk.dev = BPF_CORE_READ(parent, d_sb, s_dev);
	return bpf_map_lookup_elem(&af_unix_names, &nk);
}

/* The peer the kernel found for a unix connect or send: judged by the
 * socket file it is bound to, not the string that named it (a symlink
 * in an allowed directory to docker.sock is docker.sock). A peer with
 * no address (socketpair, unbound) names nothing and is allowed; an
 * abstract one never is (the policy cannot allow one). */
static __always_inline bool unix_peer_denied(struct sock *other, __u32 op)
{
	struct unix_sock *u = (struct unix_sock *)other;
	struct unix_address *addr;
	struct af_fence_cfg *cfg;
	struct af_ev_net *ev;
	struct dentry *d;
	__u64 fid;
	int len;

	if (!other)
		return false;
	cfg = af_current_fence(&fid);
	if (!cfg || !(cfg->flags & AF_FENCE_NET))
		return false;
	addr = BPF_CORE_READ(u, addr);
	if (!addr)
		return false;
	d = BPF_CORE_READ(u, path.dentry);
	if (!d) {
		/* Abstract: the string programs judge and report it. */
		return true;
	}
	if (unix_id_allowed(fid, d))
		return false;
	ev = tmpl_get();
	if (!ev)
		return !(cfg && (cfg->flags & AF_FENCE_AUDIT));
	ev->family = AFN_UNIX;
	ev->flags = AF_NETF_IDENTITY;
	len = BPF_CORE_READ(addr, len) - AFN_SUN_OFF;
	if (len > 0) {
		ev->path_len = len > AF_UNIX_PATH ? AF_UNIX_PATH : len;
		bpf_probe_read_kernel(ev->path, sizeof(ev->path) - 1,
				      (const char *)addr + bpf_core_field_offset(struct unix_address, name) +
				      AFN_SUN_OFF);
	}
	return net_report(fid, cfg, true, op, ev);
}

SEC("lsm/unix_stream_connect")
int BPF_PROG(lsm_unix_stream_connect, struct sock *sock, struct sock *other, struct sock *newsk,
	     int ret)
{
	if (ret)
		return ret;
	return af_lsm_ret(unix_peer_denied(other, AF_OP_UNIX_CONNECT));
}

/* Every datagram to a peer, connected or not. */
SEC("lsm/unix_may_send")
int BPF_PROG(lsm_unix_may_send, struct socket *sock, struct socket *other, int ret)
{
	if (ret)
		return ret;
	return af_lsm_ret(unix_peer_denied(BPF_CORE_READ(other, sk), AF_OP_UNIX_SENDMSG));
}

#define AFN_PACKET	17
#define AFN_NETLINK	16
#define AFN_NETLINK_ROUTE	0
#define AFN_NETLINK_SOCK_DIAG	4
#define AFN_RTM_BASE	16
#define AFN_SOCK_DESTROY	21

/* Socket families a fence may make: unix, inet and inet6 (judged by
 * the programs above) and netlink for reading the node's state (route
 * and sock_diag: getaddrinfo, ip, ss). Everything else (packet, XDP,
 * vsock, key, alg, can, bluetooth, tipc, rds, ...) sees or changes what
 * no agent needs. */
static __always_inline bool family_denied(const struct af_fence_cfg *cfg, int family, int protocol)
{
	if (family == AFN_UNIX || family == AFN_INET || family == AFN_INET6)
		return false;
	if (family >= 0 && family < 64 && ((cfg->net_families >> family) & 1))
		return false;
	if (family == AFN_NETLINK)
		return protocol != AFN_NETLINK_ROUTE && protocol != AFN_NETLINK_SOCK_DIAG;
	return true;
}

/* Packet sockets see and forge every frame of an interface, netlink
 * ones change the node: only the families above in a fence.
 * cgroup/sock_create is never called for them; this global LSM program
 * (BPF LSM backends only) judges by the current task's fence. */
SEC("lsm/socket_create")
int BPF_PROG(lsm_sock_create, int family, int type, int protocol, int kern, int ret)
{
	struct af_fence_cfg *cfg;
	struct af_ev_net *ev;
	__u64 fid;

	if (ret || kern)
		return ret;
	cfg = af_current_fence(&fid);
	if (!cfg || !(cfg->flags & AF_FENCE_NET) || !family_denied(cfg, family, protocol))
		return 0;
	ev = tmpl_get();
	if (!ev)
		return af_lsm_ret(!(cfg && (cfg->flags & AF_FENCE_AUDIT)));
	ev->family = family;
	ev->port = type;
	ev->protocol = protocol;
	if (!(cfg->flags & AF_FENCE_AUDIT))
		af_effects_denied();	/* reported here, not again as socket's -EPERM */
	return af_lsm_ret(net_report(fid, cfg, true, AF_OP_SOCKET, ev));
}

/* A netlink message that changes the node: for NETLINK_ROUTE every
 * type but a GET (new, del and set of links, addresses, routes, rules,
 * neighbours, qdiscs, filters; XDP attaches through RTM_SETLINK), for
 * sock_diag SOCK_DESTROY. Reads stay allowed. */
SEC("lsm/netlink_send")
int BPF_PROG(lsm_netlink_send, struct sock *sk, struct sk_buff *skb, int ret)
{
	struct af_fence_cfg *cfg;
	struct af_ev_net *ev;
	struct nlmsghdr nlh;
	__u16 proto;
	__u64 fid;

	if (ret)
		return ret;
	cfg = af_current_fence(&fid);
	if (!cfg || !(cfg->flags & AF_FENCE_NET) || ((cfg->net_families >> AFN_NETLINK) & 1))
		return 0;
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (bpf_probe_read_kernel(&nlh, sizeof(nlh), BPF_CORE_READ(skb, data)))
		return af_lsm_ret(true);
	if (proto == AFN_NETLINK_ROUTE) {
		if (nlh.nlmsg_type < AFN_RTM_BASE || ((nlh.nlmsg_type - AFN_RTM_BASE) & 3) == 2)
			return 0;
	} else if (proto == AFN_NETLINK_SOCK_DIAG) {
		if (nlh.nlmsg_type != AFN_SOCK_DESTROY)
			return 0;
	} else {
		return 0;	/* refused at socket_create */
	}
	ev = tmpl_get();
	if (!ev)
		return af_lsm_ret(!(cfg && (cfg->flags & AF_FENCE_AUDIT)));
	ev->family = AFN_NETLINK;
	ev->port = proto;
	ev->protocol = nlh.nlmsg_type;
	return af_lsm_ret(net_report(fid, cfg, true, AF_OP_NETLINK, ev));
}

/* Judge what leaves, not only the connect() argument. */
#define AFN_SOL_SOCKET		1
#define AFN_SO_MARK		36
#define AFN_SOL_IP		0
#define AFN_IP_OPTIONS		4
#define AFN_IP_FREEBIND		15
#define AFN_IP_TRANSPARENT	19
#define AFN_SOL_IPV6		41
#define AFN_IPV6_2292HOPOPTS	3
#define AFN_IPV6_2292DSTOPTS	4
#define AFN_IPV6_2292RTHDR	5
#define AFN_IPV6_2292PKTOPTIONS	6
#define AFN_IPV6_HOPOPTS	54
#define AFN_IPV6_RTHDRDSTOPTS	55
#define AFN_IPV6_RTHDR		57
#define AFN_IPV6_DSTOPTS	59
#define AFN_IPV6_TRANSPARENT	75
#define AFN_IPV6_FREEBIND	78
#define AFN_PAGE_SIZE		4096

/* Socket options that change where a packet goes after connect() was
 * judged (IPv4 source routes, IPv6 routing headers and the option
 * headers around them), or let a socket speak from an address that is
 * not the node's (freebind, transparent: a forged DNS answer), or
 * route it by mark. Per-message control data of the same kinds cannot
 * be seen here: af_egress drops such packets. */
static __always_inline int setsockopt_check(struct bpf_sockopt *ctx, bool kp)
{
	__s32 level = ctx->level, name = ctx->optname;
	struct af_fence_cfg *cfg;
	struct af_ev_net *ev;
	__u64 fid = 0;
	bool bad = false;

	if (level == AFN_SOL_IP)
		bad = name == AFN_IP_OPTIONS || name == AFN_IP_FREEBIND || name == AFN_IP_TRANSPARENT;
	else if (level == AFN_SOL_IPV6)
		bad = name == AFN_IPV6_2292HOPOPTS || name == AFN_IPV6_2292DSTOPTS ||
		      name == AFN_IPV6_2292RTHDR || name == AFN_IPV6_2292PKTOPTIONS ||
		      name == AFN_IPV6_HOPOPTS || name == AFN_IPV6_RTHDRDSTOPTS ||
		      name == AFN_IPV6_RTHDR || name == AFN_IPV6_DSTOPTS ||
		      name == AFN_IPV6_TRANSPARENT || name == AFN_IPV6_FREEBIND;
	else if (level == AFN_SOL_SOCKET)
		bad = name == AFN_SO_MARK;
	if (!bad) {
		/* Longer than a page: the kernel's own copy is used. */
		if (ctx->optlen > AFN_PAGE_SIZE)
			ctx->optlen = 0;
		return 1;
	}
	/* A fence's socket used outside every fence finds no fence:
	 * refused, as by the programs above. */
	cfg = net_fence(kp, &fid);
	ev = tmpl_get();
	if (!ev)
		return cfg && (cfg->flags & AF_FENCE_AUDIT) ? 1 : 0;
	ev->family = ctx->sk ? ctx->sk->family : 0;
	ev->port = level;
	ev->protocol = name;
	if (net_report(fid, cfg, true, AF_OP_SOCKOPT, ev))
		return 0;
	if (ctx->optlen > AFN_PAGE_SIZE)
		ctx->optlen = 0;
	return 1;
}

SEC("cgroup/setsockopt")
int af_setsockopt(struct bpf_sockopt *ctx)
{
	return setsockopt_check(ctx, false);
}

#define AFN_ETH_P_IP	0x0800
#define AFN_ETH_P_IPV6	0x86DD
#define AFN_NEXTHDR_HOP		0
#define AFN_NEXTHDR_ROUTING	43
#define AFN_NEXTHDR_DEST	60

/* What leaves a fenced socket: an IPv4 packet with options (source
 * routes, set per message with IP_RETOPTS control data) or an IPv6
 * packet with hop-by-hop, destination-options or routing headers
 * (IPV6_RTHDR and kin as control data) is dropped and counted. */
static __always_inline int egress_check(struct __sk_buff *skb, bool kp)
{
	__u8 b[8];

	if (skb->protocol == bpf_htons(AFN_ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, 0, b, 1))
			return 1;
		if ((b[0] & 0x0f) <= 5)
			return 1;
	} else if (skb->protocol == bpf_htons(AFN_ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, 6, b, 1))
			return 1;
		if (b[0] != AFN_NEXTHDR_HOP && b[0] != AFN_NEXTHDR_ROUTING && b[0] != AFN_NEXTHDR_DEST)
			return 1;
	} else {
		return 1;
	}
	af_count(AF_CNT_PKT_OPTIONS);
	{
		/* The fence of the socket's cgroup (the program runs for
		 * sockets made beneath the fence's cgroup). */
		__u64 cgid = bpf_skb_cgroup_id(skb);
		__u64 *fid = bpf_map_lookup_elem(kp ? (void *)&af_kmember : (void *)&af_member, &cgid);
		struct af_fence_cfg *cfg = fid ? bpf_map_lookup_elem(&af_fences, fid) : NULL;

		if (cfg && (cfg->flags & AF_FENCE_AUDIT))
			return 1;
	}
	return 0;
}

SEC("cgroup_skb/egress")
int af_egress(struct __sk_buff *skb)
{
	return egress_check(skb, false);
}

/* ---- linked once at the kubepods cgroup (bpf/k8s.bpf.h) ----
 * They run for every socket of every pod of the node: a task of a pod
 * fenced from its cgroup's creation (af_kmember) is judged by its
 * fence's policy, as the programs above would once linked to its
 * cgroup; everything else passes after one lookup. The daemon's attach
 * later links the programs above to the pod's cgroup (af_member) and
 * then removes the pod from af_kmember: in between both judge alike. */

SEC("cgroup/connect4")
int ak_connect4(struct bpf_sock_addr *ctx)
{
	return k_member() ? inet_check(ctx, AF_OP_CONNECT, false, true) : 1;
}

SEC("cgroup/connect6")
int ak_connect6(struct bpf_sock_addr *ctx)
{
	return k_member() ? inet_check(ctx, AF_OP_CONNECT, true, true) : 1;
}

SEC("cgroup/sendmsg4")
int ak_sendmsg4(struct bpf_sock_addr *ctx)
{
	return k_member() ? inet_check(ctx, AF_OP_SENDMSG, false, true) : 1;
}

SEC("cgroup/sendmsg6")
int ak_sendmsg6(struct bpf_sock_addr *ctx)
{
	return k_member() ? inet_check(ctx, AF_OP_SENDMSG, true, true) : 1;
}

SEC("cgroup/recvmsg4")
int ak_recvmsg4(struct bpf_sock_addr *ctx)
{
	if (k_member())
		dns_restore(ctx, false, true);
	return 1;
}

SEC("cgroup/recvmsg6")
int ak_recvmsg6(struct bpf_sock_addr *ctx)
{
	if (k_member())
		dns_restore(ctx, true, true);
	return 1;
}

SEC("cgroup/getpeername4")
int ak_getpeername4(struct bpf_sock_addr *ctx)
{
	if (k_member())
		dns_restore(ctx, false, true);
	return 1;
}

SEC("cgroup/getpeername6")
int ak_getpeername6(struct bpf_sock_addr *ctx)
{
	if (k_member())
		dns_restore(ctx, true, true);
	return 1;
}

SEC("cgroup/sock_create")
int ak_sock_create(struct bpf_sock *sk)
{
	return k_member() ? sock_create(sk, true) : 1;
}

SEC("cgroup/setsockopt")
int ak_setsockopt(struct bpf_sockopt *ctx)
{
	if (k_member())
		return setsockopt_check(ctx, true);
	if (ctx->optlen > AFN_PAGE_SIZE)
		ctx->optlen = 0;
	return 1;
}

SEC("cgroup_skb/egress")
int ak_egress(struct __sk_buff *skb)
{
	__u64 cgid = bpf_skb_cgroup_id(skb);

	return bpf_map_lookup_elem(&af_kmember, &cgid) ? egress_check(skb, true) : 1;
}

SEC("cgroup/connect_unix")
int ak_connect_unix(struct bpf_sock_addr *ctx)
{
	return k_member() ? unix_check(ctx, AF_OP_UNIX_CONNECT, true) : 1;
}

SEC("cgroup/sendmsg_unix")
int ak_sendmsg_unix(struct bpf_sock_addr *ctx)
{
	return k_member() ? unix_check(ctx, AF_OP_UNIX_SENDMSG, true) : 1;
}

char LICENSE[] SEC("license") = "GPL";
