/* SPDX-License-Identifier: GPL-2.0 */
/* The daemon's control protocol, its pure half: one request is one
 * JSON object on one line (Documentation/control.md). The parser is
 * strict: what it does not know, it refuses with a reason, and nothing
 * a client sends makes it read past the line or allocate more than the
 * line's size. No libbpf, no sockets: tests/unit/test_control.c and
 * tests/unit/fuzz_control.c drive it alone. */
#ifndef AF_CONTROL_PROTO_H
#define AF_CONTROL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AF_CTL_LINE_MAX		(256 * 1024)	/* one request, its '\n' included */
#define AF_CTL_STR_MAX		4096		/* a path, a name, an argument */
#define AF_CTL_POLICY_MAX	(192 * 1024)	/* the policy's YAML bytes */
#define AF_CTL_ARGV_MAX		256		/* arguments of the fenced command */
#define AF_CTL_MEMBERS_MAX	32		/* members of a request */
#define AF_CTL_SOCK		"/run/agentfence/control.sock"

enum af_ctl_op {
	AF_CTL_NONE,
	AF_CTL_CREATE,		/* a new fence (run's, or a lasting one) */
	AF_CTL_STARTED,		/* run's command started in the fence: its pid */
	AF_CTL_END,		/* run's command exited: remove the fence */
	AF_CTL_STATUS,		/* every fence of the node, or one */
	AF_CTL_STOP,		/* kill what runs in a fence, remove it */
	AF_CTL_UPDATE,		/* swap a fence's policy */
	AF_CTL_DETACH,		/* remove enforcement, leave the cgroup */
	AF_CTL_ADOPT,		/* adopt orphaned fences now */
	AF_CTL_ATTACH,		/* fence a cgroup whose processes already run */
};

struct af_ctl_req {
	enum af_ctl_op op;
	bool has_tag;
	uint64_t tag;			/* echoed in the reply ("tag") */
	bool has_fence;
	uint64_t fence;			/* its id */
	char *name;			/* create: the cgroup's name, agentfence/<name> */
	char *policy;			/* create, update: the policy's YAML bytes */
	size_t policy_len;
	char *policy_file;		/* its file name, journaled */
	char *workspace;		/* absolute */
	char *journal;			/* absolute; NULL: the daemon's default */
	char *backend;			/* NULL: auto */
	char *cgroup;			/* create: fence this existing cgroup (absolute)
					 * instead of making one; detach leaves it */
	char **argv;			/* NULL-terminated; NULL: none */
	size_t argc;
	char *home;			/* ${HOME} in the policy; NULL: the daemon's */
	bool strict, audit, quiet;
	bool no_journal;		/* create: write none */
	bool tty;			/* create: run relays a pty (journaled) */
	bool lease;			/* create: the fence ends with this connection */
	uint64_t journal_max;
	int64_t pid;			/* started */
	int64_t exit_code;		/* end */
	bool has_pid, has_exit_code;
	char *container;		/* attach: the container's id, its name, its */
	char *container_name;		/* runtime (journaled, in status) */
	char *runtime;
};

/* Parse one request (len bytes, without its '\n'). 0, or -EINVAL /
 * -E2BIG / -ENOMEM with a reason in why; req is freed on failure. */
int af_ctl_parse(const char *line, size_t len, struct af_ctl_req *req, char *why, size_t n);
void af_ctl_req_free(struct af_ctl_req *req);

const char *af_ctl_op_name(enum af_ctl_op op);

/* Framing: bytes as they come off a connection, cut into lines. fn gets
 * each whole line (without '\n', err 0) or, once, err -E2BIG for a line
 * that outgrew AF_CTL_LINE_MAX (the connection must then be closed: what
 * follows cannot be told from the rest of that line). The buffer grows
 * with what is pending, never beyond AF_CTL_LINE_MAX. */
typedef void (*af_ctl_line_fn)(void *ctx, const char *line, size_t len, int err);
struct af_ctl_in {
	char *buf;
	size_t len, cap;
	bool overflow;
};
/* 0, -E2BIG (overflowed: fn was told), -ENOMEM. */
int af_ctl_in_feed(struct af_ctl_in *in, const char *data, size_t n, af_ctl_line_fn fn,
		   void *ctx);
/* Bytes of a line still waiting for its '\n' (a client that hangs up
 * with some is told, if it still reads, that its request was cut). */
static inline size_t af_ctl_in_pending(const struct af_ctl_in *in)
{
	return in->len;
}
void af_ctl_in_free(struct af_ctl_in *in);

#endif /* AF_CONTROL_PROTO_H */
