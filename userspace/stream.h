/* SPDX-License-Identifier: GPL-2.0 */
/* The live stream of a running fence: the supervisor (run) listens on
 * /run/agentfence/<fence-id>.sock and sends every journal record, the
 * very line it journals, to each subscriber (`agentfence tail --fence`).
 *
 * Subscribers only read. The supervisor never waits for one: each has a
 * bounded buffer; a record that does not fit is not sent to it, and the
 * next record that does is preceded by a line
 *   {"type":"lost","subscriber":true,"count":N,"effect":"..."}
 * saying how many it missed. A slow subscriber is never disconnected for
 * being slow; it is dropped when it hangs up. The first line a
 * subscriber gets is {"type":"subscribed",...}: the fence, its journal
 * and the seq of the first record the stream will carry. */
#ifndef AF_STREAM_H
#define AF_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

#define AF_RUN_DIR		"/run/agentfence"
#define AF_STREAM_MAX_SUBS	16		/* more are refused */
#define AF_STREAM_BUF		(1 << 20)	/* bytes queued per subscriber */

struct af_stream;

struct af_stream_opts {
	uint64_t fence_id;
	const char *journal;		/* its path, told to subscribers */
	char *const *argv;		/* the fenced command, for `tail --fence list` */
	const char *policy;		/* policy name */
	/* The seq the next journal record will get. */
	uint64_t (*next_seq)(void *ctx);
	void *ctx;
	/* Whether a would-be subscriber runs inside a fence (which must
	 * not watch any: the stream carries other fences' paths and
	 * commands). NULL refuses every subscriber. */
	bool (*peer_fenced)(void *ctx, pid_t pid);
	void *peer_ctx;
};

/* Listen on AF_RUN_DIR/<fence_id>.sock (the directory 0700, the socket
 * 0600, both root's); subscribers are served from loop. Removes the
 * sockets of supervisors that died. */
int af_stream_open(const struct af_stream_opts *o, struct af_loop *loop,
		   struct af_stream **out, char *why, size_t why_size);

/* One journal record, a whole line with its '\n': queue it for every
 * subscriber, send what the sockets take; never blocks. */
void af_stream_send(struct af_stream *s, const char *line, size_t len);

/* Give subscribers a moment (bounded) to take what is queued, close
 * them (they see end of file) and remove the socket. */
void af_stream_close(struct af_stream *s);

/* AF_RUN_DIR/<id>.sock */
void af_stream_path(uint64_t fence_id, char *out, size_t n);

/* Connect to the stream of a running fence: a descriptor, or -errno and
 * a reason in why. */
int af_stream_connect(uint64_t fence_id, char *why, size_t why_size);

#endif /* AF_STREAM_H */
