/* SPDX-License-Identifier: GPL-2.0 */
/* Types shared by the fence's BPF programs and the userspace loader. */
#ifndef AF_FENCE_H
#define AF_FENCE_H

/* BPF code has the kernel's own types from vmlinux.h. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define AF_PATH_MAX	256	/* bytes of dentry names carried by an event */
#define AF_NAME_MAX	128	/* bytes of the syscall's own path argument */
#define AF_COMM_LEN	16
#define AF_WALK_MAX	128	/* ancestors visited before failing closed */

/* Root kinds; the nearest root found walking up decides. */
enum af_root_kind {
	AF_ROOT_WRITABLE = 1,
	AF_ROOT_DENY_READ = 2,
	AF_ROOT_PROTECTED = 3,	/* read-only inside a writable root */
};

/* Protected paths by name, for those that do not exist yet and for the
 * directories on their way: (parent directory, name) -> what the name
 * is. A name that is a protected path may not be created, linked,
 * renamed or symlinked into place, nor removed or renamed away; a name
 * on the way may only be made as a directory, and then names its own
 * children (af_pnext) when it appears. */
#define AF_PNAME_LEN	32	/* a component, NUL-padded (policy: at most 31 bytes) */
#define AF_PNEXT_MAX	8	/* protected names beneath one directory on the way */

enum af_pname_kind {
	AF_PN_FINAL = 1,	/* the protected path itself */
	AF_PN_WAY = 2,		/* a directory between a writable root and one */
};

struct af_pname_key {
	__u64 fence_id;
	__u64 ino;		/* of the parent directory */
	__u32 dev;
	__u32 pad;
	char name[AF_PNAME_LEN];
};
_Static_assert(sizeof(struct af_pname_key) == 56, "af_pname_key layout");

struct af_pname_val {
	__u32 kind;		/* enum af_pname_kind */
	__u32 node;		/* AF_PN_WAY: key of its children in af_pnext */
};

struct af_pnext_key {
	__u64 fence_id;
	__u32 node;
	__u32 pad;
};

struct af_pnext_val {
	__u32 n;
	__u32 pad;
	struct {
		char name[AF_PNAME_LEN];
		struct af_pname_val val;
	} kids[AF_PNEXT_MAX];
};

enum af_mode_bits {
	AF_FENCE_AUDIT = 1 << 0,	/* allow, but report what would be denied */
	AF_FENCE_DENY_READ = 1 << 1,	/* some deny_read root exists: check reads */
	AF_FENCE_NET_ALLOWED = 1 << 2,	/* report allowed connects too (spec.events: connect) */
	/* spec.events: which kinds the fence reports. Off, the programs
	 * that make them return before reserving anything. Denials are
	 * always reported. */
	AF_FENCE_EV_EXEC = 1 << 3,
	AF_FENCE_EV_FORK = 1 << 4,
	AF_FENCE_EV_EXIT = 1 << 5,
	AF_FENCE_EV_FILE = 1 << 6,	/* file effects from the syscall tracepoints */
	AF_FENCE_EV_REFUSED = 1 << 7,	/* their refusals (-EACCES, -EPERM): Landlock's denials */
	AF_FENCE_NET = 1 << 8,		/* the policy has a network section: the socket LSM programs judge */
	AF_FENCE_FDWRITE = 1 << 9,	/* attach: writes through descriptors and shared mappings
					 * no open was judged for are judged (fdwrite.bpf.c) */
};

/* A fence's entries in the node's maps are keyed by a key id: its id
 * (the cgroup id of its cgroup; kernfs ids stay far below 2^63) with
 * the generation bit. An update writes the other generation's entries,
 * then flips af_fence_cfg.key in one map update: a decision sees one
 * policy whole, never neither nor both. Events and the fence's ring
 * buffer go by the id (key & AF_KEY_ID_MASK). */
#define AF_KEY_GEN		(1ULL << 63)
#define AF_KEY_ID_MASK		(AF_KEY_GEN - 1)
#define AF_FENCES_MAX		1024	/* fences per node */

/* Capacities of the maps keyed by fence id (all fences of a node). */
#define AF_ROOTS_MAX		65536	/* af_roots */
#define AF_NET_ALLOW_MAX	4096	/* af_net_allow */
#define AF_UNIX_ALLOW_MAX	1024	/* af_unix_allow */
/* Protected names (userspace/protect.c): the built-in policy takes 181
 * names and 27 waiting nodes in a fence with a git workspace; these
 * leave room for every fence of a node to have that many (an update
 * holds both generations' for a moment). Not preallocated: the kernel
 * keeps only the buckets (16 bytes each) until entries come. */
#define AF_PNAMES_MAX		(AF_FENCES_MAX * 256)	/* af_pnames */
#define AF_PNEXT_ENTRIES	(AF_FENCES_MAX * 32)	/* af_pnext */

struct af_root_key {
	__u64 fence_id;		/* cgroup id of the fence's cgroup */
	__u64 ino;
	__u32 dev;		/* kernel-internal dev_t: major << 20 | minor */
	__u32 pad;
};
_Static_assert(sizeof(struct af_root_key) == 24, "af_root_key layout");

struct af_root_val {
	__u32 kind;		/* enum af_root_kind */
	__u32 pad;
};
_Static_assert(sizeof(struct af_root_val) == 8, "af_root_val layout");

#define AF_RDEVS_MAX	6	/* devices of deny_read roots kept in the cfg */
#define AF_RDEVS_ALL	0xffffffffu	/* n_rdevs: more than that, check every read */

struct af_fence_cfg {
	__u32 flags;		/* enum af_mode_bits */
	/* The devices that hold a deny_read root. The ancestor walk stays
	 * on one filesystem, so a read of a file elsewhere cannot meet
	 * such a root: it is allowed without walking. */
	__u32 n_rdevs;		/* used entries of rdevs, or AF_RDEVS_ALL */
	__u32 rdevs[AF_RDEVS_MAX];	/* kernel-internal dev_t, as af_root_key.dev */
	/* The fence's DNS stub listens on 127.0.0.1 and ::1 on these
	 * ports (host byte order); dns_port4 0: no stub, no redirection. */
	__u16 dns_port4;
	__u16 dns_port6;	/* 0: none on ::1 */
	__u32 pad;
	__u64 key;		/* the key id of the fence's entries (AF_KEY_GEN) */
	/* spec.network.families: a bit per address family allowed beyond
	 * the default set (AF_NETLINK's: every netlink protocol and message). */
	__u64 net_families;
	/* The version of the fence's roots: set anew with every write of
	 * its entries (a key comes back after two updates), bumped when a
	 * protected path becomes a root later (lsm_d_instantiate). The
	 * directories' kept nearest roots (bpf/rootcache.bpf.h) name it. */
	__u64 rver;
};
_Static_assert(sizeof(struct af_fence_cfg) == 64, "af_fence_cfg layout");

/* Per-fence counters (af_fcounts, per CPU, keyed by fence id): what the
 * fence's ring buffer took and what it refused. A reader that comes
 * later knows exactly how many events were lost while nobody read:
 * dropped now minus dropped when the last reader reported. */
enum af_fcounter {
	AF_FC_EVENTS = 0,	/* events the fence made: in its ring buffer, or dropped */
	AF_FC_DROPS,		/* of those, reserve failed (buffer full, or no buffer) */
	AF_FC_MAX,
};

struct af_fcounts {
	__u64 c[AF_FC_MAX];
};
_Static_assert(sizeof(struct af_fcounts) == 8 * AF_FC_MAX, "af_fcounts layout");

/* What the fence's last reader has seen (af_fstate, keyed by fence id;
 * written by userspace only): the drops it reported, so that the next
 * reader reports the rest as the gap. */
struct af_fstate {
	__u64 acked_drops;
	__u64 generation;	/* updates applied */
};
_Static_assert(sizeof(struct af_fstate) == 16, "af_fstate layout");

/* Who holds a slot of the node's ring pool (af_rowner; userspace only):
 * a fence, or (fence_id 0) a process filling the slot. */
struct af_rowner {
	__u64 fence_id;
	__u32 pid;
	__u32 pad;
};
_Static_assert(sizeof(struct af_rowner) == 16, "af_rowner layout");

/* Kubernetes pods fenced from their cgroup's creation (bpf/k8s.bpf.h):
 * the name of a pod cgroup the daemon expects ("pod<uid>", or the
 * systemd driver's "kubepods-<qos>-pod<uid_>.slice"), NUL-padded. */
#define AF_KPEND_NAME	96

struct af_kpend_key {
	char name[AF_KPEND_NAME];
};
_Static_assert(sizeof(struct af_kpend_key) == AF_KPEND_NAME, "af_kpend_key layout");

/* A process stopped at its first instruction (bpf/k8s.bpf.h af_kheld). */
struct af_kheld_val {
	__u64 cgroup;		/* its cgroup's id at the exec */
	__u64 start;		/* its start, ns since boot (task_struct.start_boottime) */
	__u64 held;		/* when it was stopped, ns since boot */
};

/* Counters, one per-CPU array slot each. */
enum af_counter {
	AF_CNT_RB_DROP = 0,	/* ring buffer reserve failed */
	AF_CNT_WALK_BOUND,	/* ancestor walk hit AF_WALK_MAX: denied */
	AF_CNT_DENY,
	AF_CNT_AUDIT,
	AF_CNT_PKT_OPTIONS,	/* packets with IPv4 options or IPv6 extension headers dropped */
	AF_CNT_SIGIO_FULL,	/* af_sigio full: a fenced task's F_SETOWN refused */
	AF_CNT_BOX_FULL,	/* af_boxent full: a refusal may be misreported as seccomp's */
	AF_CNT_FX_NOMNT,	/* an allowed change with no mount for its record (not journaled) */
	AF_CNT_K8S_HOLD,	/* pod cgroups made before the daemon decided on their pod: held */
	AF_CNT_K8S_EXEC_HELD,	/* execs in a pod not fenced whole yet: stopped (bpf/k8s.bpf.h) */
	AF_CNT_K8S_HELD_FULL,	/* af_kheld full: the exec's process killed instead */
	AF_CNT_ROOT_CACHED,	/* a directory's nearest root from its storage, no walk (bpf/rootcache.bpf.h) */
	AF_CNT_MAX,
};

enum af_event_type {
	AF_EV_FILE = 1,		/* a filesystem decision that denied (or would) */
	AF_EV_SYS = 2,		/* a self-protection decision (mount, bpf, ...) */
	AF_EV_NET = 3,		/* a network decision (struct af_ev_net) */
	AF_EV_DNS = 4,		/* a lookup the DNS stub answered (struct af_ev_dns) */
	AF_EV_REFUSAL = 5,	/* the box refused a system call (struct af_ev_refusal) */
	/* 16..31: process and file events, bpf/events.h */
};

enum af_op {
	AF_OP_OPEN_WRITE = 1,	/* open for write, O_TRUNC, O_APPEND */
	AF_OP_OPEN_READ,	/* open of a deny_read object */
	AF_OP_DIR_WRITE,	/* create, delete or rename an entry of a directory */
	AF_OP_SETATTR,		/* chmod, chown, truncate, utimes */
	AF_OP_LINK,		/* hard link of an outside object */
	AF_OP_XATTR,		/* set or remove an extended attribute or ACL */
	AF_OP_MOUNT,		/* mount, umount, move_mount, pivot_root */
	AF_OP_BPF,		/* bpf(2) */
	AF_OP_PTRACE,		/* ptrace of a task outside the fence */
	AF_OP_SIGNAL,		/* signal to a task outside the fence */
	AF_OP_MODULE,		/* kernel module load */
	AF_OP_CONNECT,		/* connect(2) of a TCP or UDP socket */
	AF_OP_SENDMSG,		/* sendto(2) of an unconnected UDP socket */
	AF_OP_UNIX_CONNECT,	/* connect(2) of a unix socket */
	AF_OP_UNIX_SENDMSG,	/* sendto(2) of an unconnected unix socket */
	AF_OP_SOCKET,		/* socket(2) of a raw or other non-TCP/UDP inet socket */
	AF_OP_URING_CREDS,	/* io_uring request with a registered personality */
	AF_OP_DNS,		/* a DNS lookup through the fence's stub */
	AF_OP_CGROUP,		/* write to a cgroup file or directory outside the fence */
	AF_OP_SOCKOPT,		/* setsockopt(2) that would change where packets go (port: level, protocol: optname) */
	AF_OP_NETLINK,		/* a netlink message that changes the node (port: protocol, protocol: type) */
	AF_OP_DNS_UPSTREAM,	/* a send to the DNS stub's own upstream socket */
	AF_OP_NET_IOCTL,	/* a socket ioctl that changes the node (SIOCSIFADDR, SIOCADDRT, ...); arg: cmd */
	AF_OP_MODULE_REQUEST,	/* the kernel asked to load a module for the task (struct af_ev_kmod) */
	AF_OP_SECCOMP,		/* a system call the seccomp filter refused (struct af_ev_refusal) */
	AF_OP_CAPABILITY,	/* -EPERM from a call a capability guards, which the fence lacks */
	AF_OP_SIGIO_FULL,	/* F_SETOWN refused: no room to remember the owner's fence */
	AF_OP_FD_WRITE,		/* write through a descriptor no open was judged for (fdwrite.bpf.c) */
	AF_OP_MMAP_WRITE,	/* shared writable mapping of a file outside (fdwrite.bpf.c) */
	AF_OP_FD_RECEIVE,	/* a writable descriptor of a file outside, received (fdwrite.bpf.c) */
	AF_OP_MAX,
};

enum af_verdict {
	AF_DENIED = 0,
	AF_AUDITED = 1,		/* audit mode: allowed, would have been denied */
	AF_ALLOWED = 2,		/* allowed (AF_FENCE_NET_ALLOWED) */
};

enum af_ev_flags {
	AF_EVF_PATH_TRUNC = 1 << 0,	/* path names did not all fit */
	AF_EVF_WALK_BOUND = 1 << 1,	/* denied because the walk hit its bound */
	AF_EVF_PATH_ROOTED = 1 << 2,	/* path names run up to the task's root (chroot, container) */
	AF_EVF_PATH_UNREACHABLE = 1 << 3,	/* with ROOTED: outside the task's root, names run
					 * to the mount namespace's root */
};

/* Every event starts with this header. */
struct af_hdr {
	__u16 type;		/* enum af_event_type */
	__u16 size;		/* whole event, header included */
	__u32 pid;		/* thread id */
	__u64 ktime;		/* bpf_ktime_get_ns() */
	__u64 fence_id;
	__u32 tgid;
	/* The low 32 bits of the cgroup id of the task that made the event
	 * (bpf_get_current_cgroup_id; 0: made in userspace, the DNS stub's):
	 * which container of a pod did it (userspace/k8s.c, "containers").
	 * The low half is kernfs's inode number, unique among the cgroups
	 * that exist (the high half, 0 on 64-bit kernels, counts its
	 * wraps), so in the padding the header had: no byte more per event. */
	__u32 cgroup;
};
_Static_assert(sizeof(struct af_hdr) == 32, "af_hdr layout");

/* Every decision event (af_ev_file, af_ev_sys, af_ev_net, af_ev_dns)
 * starts with this: the header, then what was decided. Readers take a
 * decision through this type (userspace: af_event_decision()), never by
 * offset; each decision event's layout is asserted against it below. */
struct af_decision {
	struct af_hdr hdr;
	__u32 op;		/* enum af_op */
	__u32 verdict;		/* enum af_verdict */
};
_Static_assert(sizeof(struct af_decision) == 40, "af_decision layout");

#define AF_DECISION_LAYOUT(t)							\
	_Static_assert(__builtin_offsetof(struct t, op) ==			\
		       __builtin_offsetof(struct af_decision, op) &&		\
		       __builtin_offsetof(struct t, verdict) ==			\
		       __builtin_offsetof(struct af_decision, verdict),		\
		       #t " starts with struct af_decision")

/* path holds the names from the object up to its filesystem's root,
 * leaf first, each NUL-terminated; userspace reverses them and finds
 * the mount point from the device. name is the path argument of the
 * system call in progress, when the hook could tell. */
struct af_ev_file {
	struct af_hdr hdr;
	__u32 op;		/* enum af_op */
	__u32 verdict;		/* enum af_verdict */
	__u32 dev;
	__u32 flags;		/* enum af_ev_flags */
	__u64 ino;
	__s64 sysno;		/* bpf/syscalls.h number, -1 when unknown */
	__u32 path_len;
	__u32 pad;
	char comm[AF_COMM_LEN];
	char name[AF_NAME_MAX];
	char path[AF_PATH_MAX * 2];	/* twice: keeps every bounded write in range */
};
_Static_assert(sizeof(struct af_ev_file) == 32 + 40 + 16 + 128 + 512, "af_ev_file layout");
AF_DECISION_LAYOUT(af_ev_file);

struct af_ev_sys {
	struct af_hdr hdr;
	__u32 op;		/* enum af_op */
	__u32 verdict;
	__u64 arg;		/* bpf cmd, target pid, signal, ... */
	char comm[AF_COMM_LEN];
};
_Static_assert(sizeof(struct af_ev_sys) == 32 + 16 + 16, "af_ev_sys layout");
AF_DECISION_LAYOUT(af_ev_sys);

/* A module autoload the kernel was asked for on the task's behalf
 * (request_module: socket families, protocols, binary formats, char
 * majors, ...), refused in a fence. */
#define AF_KMOD_NAME	64

struct af_ev_kmod {
	struct af_hdr hdr;
	__u32 op;		/* AF_OP_MODULE_REQUEST */
	__u32 verdict;
	char comm[AF_COMM_LEN];
	char name[AF_KMOD_NAME];	/* "net-pf-17", NUL-terminated */
};
_Static_assert(sizeof(struct af_ev_kmod) == 32 + 8 + 16 + AF_KMOD_NAME, "af_ev_kmod layout");
AF_DECISION_LAYOUT(af_ev_kmod);

/* System call classes, by number (rodata af_sysclass, filled from the
 * seccomp table and the capability table in userspace/sysfilter.c):
 * the raw sys_enter/sys_exit programs of bpf/effects.bpf.c journal a
 * call of these classes that the box refused. */
#define AF_SYSCLASS_MAX	512

enum af_sysclass_bits {
	AF_SC_SECCOMP = 1 << 0,	/* some seccomp rule may refuse it */
	AF_SC_CAP = 1 << 1,	/* its -EPERM means a capability was missing */
};

/* A system call the box refused: AF_OP_SECCOMP when the seccomp filter
 * did (the call returned without ever reaching sys_enter), or
 * AF_OP_CAPABILITY when it ran and failed -EPERM for want of a
 * capability (userspace names which, sysfilter.c). */
struct af_ev_refusal {
	struct af_hdr hdr;
	__u32 op;		/* AF_OP_SECCOMP, AF_OP_CAPABILITY */
	__u32 verdict;		/* AF_DENIED */
	__s32 sysno;		/* bpf/syscalls.h number */
	__s32 ret;		/* -errno the call returned */
	__u64 args[3];		/* its first arguments (family, flags, ioctl cmd, ...) */
	char comm[AF_COMM_LEN];
};
_Static_assert(sizeof(struct af_ev_refusal) == 32 + 8 + 8 + 24 + 16, "af_ev_refusal layout");
AF_DECISION_LAYOUT(af_ev_refusal);

/* The network fence (bpf/net.bpf.c). Allowlists are LPM tries whose
 * key data is (family, fence id, address): prefixlen = 96 + the CIDR's
 * prefix. IPv4 addresses, IPv4-mapped IPv6 ones included, live under
 * family 4 in the first 4 address bytes. */
#define AF_NET_KEY_BITS		96	/* family + fence id, before the address */
#define AF_NET_VAL_PORTS	64	/* distinct ports per allowlist entry */
#define AF_UNIX_PATH		112	/* sun_path (108) rounded up */

enum af_net_proto_bits {
	AF_NET_TCP = 1 << 0,
	AF_NET_UDP = 1 << 1,
};

struct af_net_key {
	__u32 prefixlen;
	__u32 family;		/* 4 or 6 */
	__u64 fence_id;
	__u8 addr[16];		/* network byte order */
};
_Static_assert(sizeof(struct af_net_key) == 32, "af_net_key layout");

struct af_net_port {
	__u16 port;		/* host byte order */
	__u8 protos;		/* enum af_net_proto_bits */
	__u8 pad;
};

/* Everything every allow entry containing this prefix allows: the
 * longest match then decides alone. */
struct af_net_val {
	__u8 any_port;		/* protocols allowed on every port */
	__u8 nports;
	__u16 pad;
	__u32 pad2;
	struct af_net_port ports[AF_NET_VAL_PORTS];
};
_Static_assert(sizeof(struct af_net_val) == 8 + 4 * AF_NET_VAL_PORTS, "af_net_val layout");

/* Unix path allowlist: key data is (0, fence id, path bytes). A
 * directory is stored with a trailing '/', a file with its NUL. */
struct af_unix_key {
	__u32 prefixlen;
	__u32 pad;
	__u64 fence_id;
	char path[AF_UNIX_PATH];
};
_Static_assert(sizeof(struct af_unix_key) == 16 + AF_UNIX_PATH, "af_unix_key layout");

/* Unix sockets by identity: the socket file the kernel resolved, its
 * (dev, ino) or an ancestor's in af_unix_ids, or its (parent, name) in
 * af_unix_names for an allowed socket made after the fence started. */
enum af_unix_id_kind {
	AF_UNIX_ID_DIR = 1,	/* every socket beneath it */
	AF_UNIX_ID_FILE = 2,	/* this socket */
};

enum af_net_ev_flags {
	AF_NETF_ABSTRACT = 1 << 0,	/* unix: an abstract name, path holds it without the NUL */
	AF_NETF_RELATIVE = 1 << 1,	/* unix: a relative path, which cannot be judged */
	AF_NETF_DOTDOT = 1 << 2,	/* unix: a ".." component, which cannot be judged */
	AF_NETF_PASSED = 1 << 3,	/* a socket made outside the fence, passed in */
	AF_NETF_IDENTITY = 1 << 4,	/* unix: the socket file the path resolved to is not allowed */
	AF_NETF_COALESCED = 1 << 5,	/* repeats of an allowed one: struct af_net_co follows */
};

/* An allowed TCP/UDP connect or send repeated by one thread to one
 * destination (bpf/fxco.bpf.h): the first is a record at once, the
 * repeats a record of their count (AF_EV_NET_CO_SIZE bytes, flags with
 * AF_NETF_COALESCED) within AF_FXCO_NS of the first counted, when the
 * thread's slot is taken for another destination, and at its exit.
 * Denials are never coalesced. */
struct af_net_co {
	__u64 count;		/* repeats since the destination's previous record */
	__u64 first, last;	/* bpf_ktime_get_ns() of the first and the last of them */
};

struct af_ev_net {
	struct af_hdr hdr;
	__u32 op;		/* enum af_op */
	__u32 verdict;		/* enum af_verdict */
	__u16 family;		/* AF_INET, AF_INET6, AF_UNIX */
	__u16 port;		/* host byte order; AF_OP_SOCKET: the socket type */
	__u16 protocol;		/* IPPROTO_* */
	__u16 path_len;		/* unix: bytes of path */
	__u32 flags;		/* enum af_net_ev_flags */
	__u32 pad;
	__u8 addr[16];		/* network byte order; v4 in the first 4 bytes */
	char comm[AF_COMM_LEN];
	char path[AF_UNIX_PATH];
};
_Static_assert(sizeof(struct af_ev_net) == 32 + 24 + 16 + 16 + AF_UNIX_PATH, "af_ev_net layout");
AF_DECISION_LAYOUT(af_ev_net);
#define AF_EV_NET_CO_SIZE	(32 + 24 + 16 + 16 + AF_UNIX_PATH + 24)

/* Made by the DNS stub in userspace (userspace/dns.c), not by BPF: the
 * journal and run's output take it like the kernel's decisions. */
#define AF_DNS_EV_NAME		256
#define AF_DNS_EV_ADDRS		8

struct af_ev_dns {
	struct af_hdr hdr;	/* pid/tgid: the asker over TCP; 0 when unknown (UDP) */
	__u32 op;		/* AF_OP_DNS */
	__u32 verdict;		/* AF_DENIED: answered NXDOMAIN, asked nobody */
	__u16 qtype;
	__u16 rcode;		/* of the reply the stub sent */
	__u16 naddrs;		/* addresses learned; family/addr hold the first ones */
	__u16 transport;	/* IPPROTO_UDP or IPPROTO_TCP */
	__u32 ttl;		/* seconds the learned addresses stay allowed */
	__u32 pad;
	__u8 family[AF_DNS_EV_ADDRS];	/* 4 or 6 */
	__u8 addr[AF_DNS_EV_ADDRS][16];
	char comm[AF_COMM_LEN];
	char name[AF_DNS_EV_NAME];
};
_Static_assert(sizeof(struct af_ev_dns) == 32 + 24 + 8 + 128 + 16 + AF_DNS_EV_NAME,
	       "af_ev_dns layout");
AF_DECISION_LAYOUT(af_ev_dns);

#endif /* AF_FENCE_H */
