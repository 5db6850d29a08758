/* SPDX-License-Identifier: GPL-2.0 */
/* The daemon's control socket (Documentation/control.md): a unix stream
 * socket speaking JSON lines. The server never blocks on a client: each
 * has bounded input (AF_CTL_LINE_MAX) and output (AF_CTL_OUT_MAX), and a
 * wake-up reads at most AF_CTL_READ_MAX bytes from one client, so one
 * that floods cannot starve the others. Who may connect is decided by
 * SO_PEERCRED at accept: root, or a member of the daemon's group. */
#ifndef AF_CONTROL_H
#define AF_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control_proto.h"
#include "loop.h"

#define AF_CTL_CLIENTS_MAX	64		/* more are told so and closed */
#define AF_CTL_OUT_MAX		(1 << 20)	/* bytes queued to one client */
#define AF_CTL_READ_MAX		65536		/* bytes read from one client per turn */

struct af_ctl_server;
struct af_ctl_client;
struct af_json;

/* A parsed request of c. The handler replies (af_ctl_reply...) or not. */
typedef void (*af_ctl_req_fn)(void *ctx, struct af_ctl_client *c, const struct af_ctl_req *req);
/* c is going away (hung up, dropped): forget it. */
typedef void (*af_ctl_gone_fn)(void *ctx, struct af_ctl_client *c);

struct af_ctl_opts {
	const char *path;		/* the socket */
	bool has_group;
	gid_t group;			/* its members may connect too */
	af_ctl_req_fn on_request;
	af_ctl_gone_fn on_gone;
	void *ctx;
};

/* Listen on o->path (its directory made if missing); refuses when a
 * live daemon answers there (-EADDRINUSE). */
int af_ctl_listen(const struct af_ctl_opts *o, struct af_loop *loop, struct af_ctl_server **out,
		  char *why, size_t why_size);
void af_ctl_close(struct af_ctl_server *s);

/* Whether a peer with these credentials may use the socket. Pure. */
bool af_ctl_allowed(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups, bool has_group,
		    gid_t group);

/* Who is at the other end (SO_PEERCRED). */
pid_t af_ctl_client_pid(const struct af_ctl_client *c);
uid_t af_ctl_client_uid(const struct af_ctl_client *c);
/* The daemon's state for this client (its leased fences). */
void af_ctl_client_set_data(struct af_ctl_client *c, void *data);
void *af_ctl_client_data(const struct af_ctl_client *c);

/* Queue a line for c ('\n' added): never blocks. A client whose queue
 * is full is dropped (on_gone). */
void af_ctl_send(struct af_ctl_client *c, const char *line, size_t len);

/* Build a line with the JSON writer: begin opens an object with
 * "ok" (and "tag" when the request had one); send closes and queues it.
 * NULL when out of memory. */
struct af_json *af_ctl_begin(struct af_ctl_client *c, bool ok, const struct af_ctl_req *req);
struct af_json *af_ctl_begin_event(struct af_ctl_client *c, const char *event);
void af_ctl_end(struct af_ctl_client *c);
/* {"ok":false,"error":why,"errno":"EINVAL"} */
void af_ctl_error(struct af_ctl_client *c, const struct af_ctl_req *req, int err, const char *why);

/* Client side. Connect to a daemon at path: a descriptor, or -errno
 * (-ENOENT, -ECONNREFUSED: no daemon; -EACCES: not allowed). */
int af_ctl_connect(const char *path);
/* Send one request line; read lines until the reply (a line with "ok"):
 * each "event" line before it goes to on_event. The reply, malloc'd and
 * NUL-terminated, in *reply. Times out after timeout_ms (-ETIMEDOUT). */
typedef void (*af_ctl_event_fn)(void *ctx, const char *line, size_t len);
int af_ctl_call(int fd, const char *req, size_t len, af_ctl_event_fn on_event, void *ctx,
		int timeout_ms, char **reply);
/* Read what has arrived (non-blocking): event lines to on_event, a
 * reply line to on_reply. -EPIPE once the daemon has hung up. */
struct af_ctl_reader {
	int fd;
	struct af_ctl_in in;
	af_ctl_event_fn on_event;
	void *ctx;
	char *reply;		/* the last reply line, malloc'd */
};
int af_ctl_read(struct af_ctl_reader *r);

/* Print an event line as the command's own: "message" events with
 * af_err/af_warn/af_note, "denial" events as run prints denials. */
void af_ctl_print_event(void *ctx, const char *line, size_t len);

/* A request as one line, built with the JSON writer: begin, add
 * members, finish (NUL-terminated, malloc'd, in *line; -ENOMEM). */
struct af_ctl_line {
	FILE *f;
	char *buf;
	size_t len;
	struct af_json *w;
};
struct af_json *af_ctl_line_begin(struct af_ctl_line *l, const char *op);
int af_ctl_line_finish(struct af_ctl_line *l);

/* Connect to the daemon at path (NULL: AF_CTL_SOCK), send line, print
 * the events, and return its reply (malloc'd) in *reply. -ENOENT /
 * -ECONNREFUSED: no daemon; other errors are said on stderr. */
int af_ctl_ask(const char *path, const char *line, size_t len, char **reply);
/* "ok":true in a reply, or the error said with af_err and -errno-ish
 * (the reply's "errno", -EIO when unknown). */
int af_ctl_reply_ok(const char *reply);

#endif /* AF_CONTROL_H */
