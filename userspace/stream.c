// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "stream.h"
#include "util.h"

struct sub {
	int fd;			/* -1: free slot */
	bool want_out;		/* EPOLLOUT armed: bytes are waiting */
	char *buf;		/* AF_STREAM_BUF bytes */
	size_t off, len;	/* unsent bytes are buf[off..len) */
	uint64_t dropped;	/* records not queued since the last lost line */
};

struct af_stream {
	struct af_stream_opts o;
	int lfd, ep;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sub subs[AF_STREAM_MAX_SUBS];
};

void af_stream_path(uint64_t fence_id, char *out, size_t n)
{
	snprintf(out, n, AF_RUN_DIR "/%llu.sock", (unsigned long long)fence_id);
}

/* Sockets of supervisors that died without removing theirs. */
static void remove_stale(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(AF_RUN_DIR);
	size_t l;
	int fd;

	if (!d)
		return;
	while ((de = readdir(d))) {
		l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".sock"))
			continue;
		snprintf(path, sizeof(path), AF_RUN_DIR "/%s", de->d_name);
		fd = af_unix_connect(path);
		if (fd >= 0)
			close(fd);
		else if (fd == -ECONNREFUSED)
			unlink(path);
	}
	closedir(d);
}

static void sub_drop(struct sub *s)
{
	close(s->fd);	/* leaves the epoll set with it */
	free(s->buf);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

static void sub_arm(struct af_stream *st, struct sub *s, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0),
				  .data.ptr = s };

	if (s->want_out == out)
		return;
	s->want_out = out;
	epoll_ctl(st->ep, EPOLL_CTL_MOD, s->fd, &ev);
}

/* Send what the socket takes; drop the subscriber when it is gone. */
static void sub_flush(struct af_stream *st, struct sub *s)
{
	ssize_t w;

	while (s->off < s->len) {
		w = send(s->fd, s->buf + s->off, s->len - s->off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			s->off += w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			sub_arm(st, s, true);
			return;
		}
		sub_drop(s);
		return;
	}
	s->off = s->len = 0;
	sub_arm(st, s, false);
}

/* Queue len bytes if they fit whole; false if not. */
static bool sub_queue(struct sub *s, const char *data, size_t len)
{
	if (s->len - s->off + len > AF_STREAM_BUF)
		return false;
	if (s->len + len > AF_STREAM_BUF) {
		memmove(s->buf, s->buf + s->off, s->len - s->off);
		s->len -= s->off;
		s->off = 0;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return true;
}

static void sub_record(struct af_stream *st, struct sub *s, const char *line, size_t len)
{
	char lost[192], effect[96];
	struct af_json w;
	FILE *f;
	long l;

	if (s->dropped) {
		f = fmemopen(lost, sizeof(lost), "w");
		if (!f) {
			s->dropped++;
			return;
		}
		snprintf(effect, sizeof(effect), "%llu records not sent: this subscriber read too slowly",
			 (unsigned long long)s->dropped);
		af_json_init(&w, f);
		af_json_object(&w, NULL);
		af_json_str(&w, "type", "lost");
		af_json_bool(&w, "subscriber", true);
		af_json_u64(&w, "count", s->dropped);
		af_json_str(&w, "effect", effect);
		af_json_end(&w);
		fputc('\n', f);
		l = ftell(f);
		if (fclose(f) || l <= 0 || l >= (long)sizeof(lost)) {
			s->dropped++;
			return;
		}
		if (s->len - s->off + l + len > AF_STREAM_BUF) {
			s->dropped++;
			return;
		}
		sub_queue(s, lost, l);
		s->dropped = 0;
	}
	if (!sub_queue(s, line, len))
		s->dropped++;
	sub_flush(st, s);
}

static void hello(struct af_stream *st, struct sub *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct af_json w;

	if (!f)
		return;
	af_json_init(&w, f);
	af_json_object(&w, NULL);
	af_json_str(&w, "type", "subscribed");
	af_json_u64(&w, "fence_id", st->o.fence_id);
	af_json_i64(&w, "supervisor_pid", getpid());
	af_json_u64(&w, "next_seq", st->o.next_seq ? st->o.next_seq(st->o.ctx) : 0);
	af_json_str(&w, "journal", st->o.journal);
	af_json_str(&w, "policy", st->o.policy);
	af_json_strv(&w, "command", st->o.argv);
	af_json_end(&w);
	fputc('\n', f);
	if (!fclose(f))
		sub_record(st, s, buf, len);
	free(buf);
}

static void on_accept(struct af_stream *st)
{
	static const char full[] = "{\"type\":\"error\",\"effect\":\"too many subscribers\"}\n";
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int fd, sndbuf = AF_STREAM_BUF;
	struct sub *s = NULL;
	size_t i;

	while ((fd = accept4(st->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ||
		    (cred.uid != 0 && cred.uid != geteuid()) || !st->o.peer_fenced ||
		    st->o.peer_fenced(st->o.peer_ctx, cred.pid)) {
			af_debug("refused a subscriber (pid %d): it runs inside a fence or as another user",
				 cred.pid);
			close(fd);
			continue;
		}
		for (i = 0, s = NULL; i < AF_STREAM_MAX_SUBS && !s; i++)
			if (st->subs[i].fd < 0)
				s = &st->subs[i];
		if (!s) {
			send(fd, full, sizeof(full) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		s->buf = malloc(AF_STREAM_BUF);
		if (!s->buf) {
			close(fd);
			continue;
		}
		s->fd = fd;
		/* The kernel's share of the queue: bursts pass without a wakeup. */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		{
			struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = s };

			if (epoll_ctl(st->ep, EPOLL_CTL_ADD, fd, &ev)) {
				sub_drop(s);
				continue;
			}
		}
		hello(st, s);
	}
}

static int on_ready(void *ctx, int fd, uint32_t events)
{
	struct af_stream *st = ctx;
	struct epoll_event got[16];
	char junk[512];
	ssize_t r;
	int n, i;

	(void)fd;
	(void)events;
	n = epoll_wait(st->ep, got, 16, 0);
	for (i = 0; i < n; i++) {
		struct sub *s = got[i].data.ptr;

		if (!s) {
			on_accept(st);
			continue;
		}
		if (s->fd < 0)
			continue;
		if (got[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			/* Subscribers have nothing to say: anything but end of
			 * file is read and ignored. */
			r = recv(s->fd, junk, sizeof(junk), MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) ||
			    (got[i].events & (EPOLLHUP | EPOLLERR))) {
				sub_drop(s);
				continue;
			}
		}
		if (got[i].events & EPOLLOUT)
			sub_flush(st, s);
	}
	return 0;
}

int af_stream_open(const struct af_stream_opts *o, struct af_loop *loop,
		   struct af_stream **out, char *why, size_t n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	struct af_stream *st;
	struct stat sb;
	mode_t old;
	size_t i;
	int err;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->o = *o;
	st->lfd = st->ep = -1;
	for (i = 0; i < AF_STREAM_MAX_SUBS; i++)
		st->subs[i].fd = -1;
	if (mkdir(AF_RUN_DIR, 0700) && errno != EEXIST) {
		err = -errno;
		snprintf(why, n, "create %s: %s", AF_RUN_DIR, strerror(errno));
		goto fail;
	}
	/* Only its owner may list it or make sockets there; others may
	 * pass through (0711) to the daemon's control socket, which
	 * checks who they are (stream sockets are 0600). */
	if (lstat(AF_RUN_DIR, &sb) || !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid() ||
	    ((sb.st_mode & 066) && chmod(AF_RUN_DIR, 0700))) {
		err = -EPERM;
		snprintf(why, n, "%s is not a directory of uid %u, or not private to it", AF_RUN_DIR,
			 geteuid());
		goto fail;
	}
	remove_stale();
	af_stream_path(o->fence_id, st->path, sizeof(st->path));
	memcpy(sa.sun_path, st->path, sizeof(st->path));
	st->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	st->ep = epoll_create1(EPOLL_CLOEXEC);
	if (st->lfd < 0 || st->ep < 0) {
		err = -errno;
		snprintf(why, n, "socket: %s", strerror(errno));
		goto fail;
	}
	unlink(st->path);
	old = umask(0177);
	err = bind(st->lfd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (!err && (chmod(st->path, 0600) || listen(st->lfd, AF_STREAM_MAX_SUBS)))
		err = -errno;
	if (err) {
		snprintf(why, n, "listen on %s: %s", st->path, strerror(-err));
		goto fail;
	}
	ev.data.ptr = NULL;
	if (epoll_ctl(st->ep, EPOLL_CTL_ADD, st->lfd, &ev)) {
		err = -errno;
		snprintf(why, n, "epoll: %s", strerror(errno));
		goto fail;
	}
	err = af_loop_add(loop, st->ep, on_ready, st);
	if (err) {
		snprintf(why, n, "event loop: %s", strerror(-err));
		goto fail;
	}
	*out = st;
	return 0;
fail:
	if (st->lfd >= 0 && st->path[0])
		unlink(st->path);
	if (st->lfd >= 0)
		close(st->lfd);
	if (st->ep >= 0)
		close(st->ep);
	free(st);
	return err;
}

void af_stream_send(struct af_stream *st, const char *line, size_t len)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < AF_STREAM_MAX_SUBS; i++)
		if (st->subs[i].fd >= 0)
			sub_record(st, &st->subs[i], line, len);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void af_stream_close(struct af_stream *st)
{
	struct pollfd pfd[AF_STREAM_MAX_SUBS];
	int64_t end = now_ms() + 500;
	size_t i, k;

	if (!st)
		return;
	/* The last records (fence_end) matter to followers: wait a little
	 * for those that read, never for long. */
	for (;;) {
		for (i = 0, k = 0; i < AF_STREAM_MAX_SUBS; i++) {
			if (st->subs[i].fd < 0)
				continue;
			sub_flush(st, &st->subs[i]);
			if (st->subs[i].fd >= 0 && st->subs[i].off < st->subs[i].len)
				pfd[k++] = (struct pollfd){ .fd = st->subs[i].fd, .events = POLLOUT };
		}
		if (!k || now_ms() >= end || poll(pfd, k, end - now_ms()) <= 0)
			break;
	}
	for (i = 0; i < AF_STREAM_MAX_SUBS; i++)
		if (st->subs[i].fd >= 0)
			sub_drop(&st->subs[i]);
	unlink(st->path);
	close(st->lfd);
	close(st->ep);
	free(st);
}

int af_stream_connect(uint64_t fence_id, char *why, size_t n)
{
	char path[PATH_MAX];
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	int fd;

	af_stream_path(fence_id, path, sizeof(path));
	fd = af_unix_connect(path);
	if (fd == -ENOENT)
		snprintf(why, n, "no running fence %llu (agentfence tail --fence list shows them)",
			 (unsigned long long)fence_id);
	else if (fd == -ECONNREFUSED)
		snprintf(why, n, "fence %llu is gone: its supervisor exited", (unsigned long long)fence_id);
	else if (fd == -EACCES)
		snprintf(why, n, "%s: %s (run as root)", path, strerror(-fd));
	else if (fd < 0)
		snprintf(why, n, "%s: %s", path, strerror(-fd));
	if (fd < 0)
		return fd;
	/* Only a supervisor of ours or root's speaks for a fence. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		snprintf(why, n, "%s: the listener is not root's: not a fence's stream", path);
		close(fd);
		return -EPERM;
	}
	return fd;
}
