/* SPDX-License-Identifier: GPL-2.0 */
/* Policy documents: parse (libyaml), validate, expand, print. */
#ifndef AF_POLICY_H
#define AF_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum af_mode {
	AF_MODE_ENFORCE = 0,
	AF_MODE_AUDIT = 1,
};

/* Where a value stood in its document, for located messages. */
struct af_loc {
	int line;	/* 1-based */
	int col;	/* 1-based */
};

/* spec.filesystem.writable's create: what run makes, as the user the
 * command runs as, when the path does not exist yet (user.h). */
enum af_create {
	AF_CREATE_NONE = 0,
	AF_CREATE_DIR = 1,	/* create: directory */
	AF_CREATE_FILE = 2,	/* create: file */
};

struct af_path_rule {
	char *path;		/* absolute, ${VAR} expanded, lexically normalized */
	char *raw;		/* as written in the document */
	struct af_loc loc;
	bool exists;		/* stat() succeeded at load time */
	bool relative;		/* spec.filesystem.protected: beneath every writable root */
	enum af_create create;	/* writable: made by run when missing */
};

enum af_net_kind {
	AF_NET_HOST = 1,	/* "api.example.com" or "*.example.com" */
	AF_NET_CIDR = 2,
};

#define AF_NET_MAX_PORTS 32

struct af_net_rule {
	enum af_net_kind kind;
	char *host;		/* AF_NET_HOST: lower-cased; leading "*." kept */
	int family;		/* AF_NET_CIDR: AF_INET or AF_INET6 */
	uint8_t addr[16];	/* AF_NET_CIDR: network byte order, host bits zero */
	int prefix;		/* AF_NET_CIDR: 0..32 or 0..128 */
	uint16_t ports[AF_NET_MAX_PORTS];
	int nports;		/* 0: every port */
	int protocol;		/* 0: tcp and udp; IPPROTO_TCP; IPPROTO_UDP */
	struct af_loc loc;
};

#define AF_EVBUF_MIN	(16u * 1024)
#define AF_EVBUF_MAX	(64u * 1024 * 1024)

/* spec.events: which kinds of event the fence records. Denials are
 * always recorded; fence_start, fence_end and lost records too. */
enum af_event_kind {
	AF_EVK_EXEC = 1 << 0,
	AF_EVK_FORK = 1 << 1,
	AF_EVK_EXIT = 1 << 2,
	AF_EVK_FILE = 1 << 3,		/* file effects (create, write, unlink, ...) */
	AF_EVK_DENY = 1 << 4,		/* denials and refusals: always on */
	AF_EVK_CONNECT = 1 << 5,	/* allowed connects */
	AF_EVK_DNS = 1 << 6,		/* DNS answers of the stub resolver */
	AF_EVK_ALL = (1 << 7) - 1,
};

/* spec.process.on_supervisor_exit: what becomes of the fence when the
 * supervisor (`run`) dies before its command. */
enum af_on_exit {
	AF_ON_EXIT_FREEZE = 0,	/* cgroup.freeze until adopted (default) */
	AF_ON_EXIT_KILL = 1,	/* cgroup.kill */
};

/* "freeze" or "kill". */
const char *af_on_exit_name(enum af_on_exit e);

/* The name of an address family spec.network.families knows, NULL for
 * one it does not. */
const char *af_family_name(int family);

/* The kind's name in policies and journals, NULL for a bad bit. */
const char *af_event_kind_name(unsigned int bit);

struct af_policy {
	char *file;		/* document name used in messages */
	char *name;		/* metadata.name */
	enum af_mode mode;
	bool judge_fds;		/* attach: its processes' descriptors predate the fence */

	struct af_path_rule *writable;
	size_t n_writable;
	struct af_path_rule *deny_read;
	size_t n_deny_read;
	/* Read-only inside a writable root: path is absolute, or relative
	 * (no leading '/') to every writable directory. */
	struct af_path_rule *protected;
	size_t n_protected;

	/* spec.network; has_network is false when the section is absent */
	bool has_network;
	struct af_loc network_loc;	/* of the "network" key */
	struct af_net_rule *net_allow;
	size_t n_net_allow;
	bool allow_loopback;
	char **dns_servers;	/* "system" or an IP address literal */
	size_t n_dns_servers;
	struct af_path_rule *unix_allow;
	size_t n_unix_allow;
	/* spec.network.families: socket families allowed beyond unix, inet
	 * and inet6, as a bit per address family number (AF_PACKET...);
	 * AF_NETLINK's bit allows every netlink protocol and message. */
	uint64_t families;

	unsigned int events;		/* enum af_event_kind bits */
	struct af_loc events_loc;	/* of spec.events, {0, 0} when absent */
	/* spec.event_buffer: bytes of the fence's ring buffer, a power of 2
	 * from AF_EVBUF_MIN to AF_EVBUF_MAX; 0 when absent (the node's
	 * default, 128 KiB: userspace/fence.c RING_BYTES). */
	uint32_t event_buffer;

	/* spec.process */
	uint64_t caps;			/* granted capabilities (1 << CAP_*), default 0 */
	enum af_on_exit on_supervisor_exit;
	struct af_loc process_loc;	/* of spec.process, {0, 0} when absent */

	/* spec.env: "NAME=value" (${HOME}, ${WORKSPACE} expanded), set in
	 * the command's environment: where an agent keeps its state, by
	 * its own documented variable. */
	char **env;
	size_t n_env;

	/* Non-fatal findings, each "file:line:col: warning: ..." */
	char **warnings;
	size_t n_warnings;

	char sha256[65];	/* of the document's bytes, as parsed (hex) */
};

/* Values substituted for ${WORKSPACE} and ${HOME}; NULL leaves the
 * variable undefined, and a document that uses it is then an error. */
struct af_policy_vars {
	const char *workspace;
	const char *home;
	const char *root;	/* paths are checked beneath it (attach: /proc/PID/root); NULL: / */
	bool unresolved;	/* paths not looked up (every one missing, none an error):
				 * a pod's fence before its cgroup (k8s.c), or a policy read
				 * only for what an orphan's fence records (attach.c) */
};

#define AF_ERR_MAX 1024

/* Document limits; a document beyond any of them is rejected. */
#define AF_POLICY_MAX_BYTES	(1 << 20)	/* whole file */
#define AF_POLICY_MAX_DEPTH	32		/* nested sequences/mappings */
#define AF_POLICY_MAX_NODES	65536		/* scalars + collections */
#define AF_POLICY_MAX_PATHS	64		/* per path list */
#define AF_PROTECT_NAME_MAX	31		/* bytes of a protected path's component */
#define AF_NET_MAX_ALLOW	256		/* spec.network.allow items */
#define AF_NET_MAX_DNS		16		/* spec.network.dns.servers */
#define AF_POLICY_MAX_ENV	32		/* spec.env entries */
#define AF_ENV_VALUE_MAX	4096		/* bytes of one expanded value */

/* On failure: returns -errno-like negative value (-EINVAL for a bad
 * document, -ENOENT/-EACCES for an unreadable file, -ENOMEM) and writes
 * one "file:line:col: message" (or "file: message") line to err. */
int af_policy_load_file(const char *path, const struct af_policy_vars *vars,
			struct af_policy **out, char err[AF_ERR_MAX]);
int af_policy_load_buf(const char *buf, size_t len, const char *name,
		       const struct af_policy_vars *vars,
		       struct af_policy **out, char err[AF_ERR_MAX]);
void af_policy_free(struct af_policy *p);

/* Every protected path that lies beneath a writable root, absolute,
 * with the writable root it lies beneath (the nearest, by string): a
 * relative entry once for every writable directory. cb's non-zero
 * return stops the walk and is returned. */
int af_policy_protected_each(const struct af_policy *p,
			     int (*cb)(void *ctx, const char *path, const char *root),
			     void *ctx);

/* "enforce" or "audit". */
const char *af_mode_name(enum af_mode mode);

/* The normalized policy, human-readable or as one JSON object (one line).
 * Returns 0, or -EIO when writing to f failed. */
int af_policy_print(FILE *f, const struct af_policy *p, bool json);

#endif /* AF_POLICY_H */
