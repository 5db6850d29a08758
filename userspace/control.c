// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "json.h"
#include "json_read.h"
#include "util.h"

struct af_ctl_client {
	struct af_ctl_server *srv;
	int fd;
	struct ucred cred;
	struct af_ctl_in in;
	char *out;
	size_t olen, ocap;
	bool want_out;		/* EPOLLOUT armed */
	bool dead;		/* drop it when the turn is over */
	size_t draining;	/* bytes left to discard before hanging up (a line too long) */
	void *data;
	/* The line being built. */
	FILE *mem;
	char *mbuf;
	size_t mlen;
	struct af_json w;
};

struct af_ctl_server {
	struct af_ctl_opts o;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct af_loop *loop;
	int lfd, ep;
	struct af_ctl_client *clients[AF_CTL_CLIENTS_MAX];
	struct af_ctl_client *cur;	/* whose request is being handled */
};

bool af_ctl_allowed(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups, bool has_group,
		    gid_t group)
{
	size_t i;

	if (uid == 0)
		return true;
	if (!has_group)
		return false;
	if (gid == group)
		return true;
	for (i = 0; i < ngroups; i++)
		if (groups[i] == group)
			return true;
	return false;
}

static int arm(struct af_ctl_client *c, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0),
				  .data.ptr = c };

	if (c->want_out == out)
		return 0;
	c->want_out = out;
	return epoll_ctl(c->srv->ep, EPOLL_CTL_MOD, c->fd, &ev) ? -errno : 0;
}

static void flush(struct af_ctl_client *c)
{
	ssize_t n;

	while (c->olen) {
		n = send(c->fd, c->out, c->olen, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			c->dead = true;
			c->olen = 0;
			return;
		}
		memmove(c->out, c->out + n, c->olen - n);
		c->olen -= n;
	}
	if (c->olen || c->want_out)
		if (arm(c, c->olen > 0))
			c->dead = true;
}

void af_ctl_send(struct af_ctl_client *c, const char *line, size_t len)
{
	size_t want;
	char *b;

	if (c->dead)
		return;
	if (c->olen + len + 1 > AF_CTL_OUT_MAX) {
		/* It does not read what it asked for: nothing to wait for. */
		c->dead = true;
		return;
	}
	if (c->olen + len + 1 > c->ocap) {
		want = c->ocap ? c->ocap : 4096;
		while (want < c->olen + len + 1)
			want *= 2;
		b = realloc(c->out, want);
		if (!b) {
			c->dead = true;
			return;
		}
		c->out = b;
		c->ocap = want;
	}
	memcpy(c->out + c->olen, line, len);
	c->out[c->olen + len] = '\n';
	c->olen += len + 1;
	flush(c);
}

static struct af_json *begin(struct af_ctl_client *c)
{
	if (c->mem)
		return NULL;	/* one line at a time */
	c->mem = open_memstream(&c->mbuf, &c->mlen);
	if (!c->mem)
		return NULL;
	af_json_init(&c->w, c->mem);
	af_json_object(&c->w, NULL);
	return &c->w;
}

struct af_json *af_ctl_begin(struct af_ctl_client *c, bool ok, const struct af_ctl_req *req)
{
	struct af_json *w = begin(c);

	if (!w)
		return NULL;
	af_json_bool(w, "ok", ok);
	if (req && req->has_tag)
		af_json_u64(w, "tag", req->tag);
	return w;
}

struct af_json *af_ctl_begin_event(struct af_ctl_client *c, const char *event)
{
	struct af_json *w = begin(c);

	if (w)
		af_json_str(w, "event", event);
	return w;
}

void af_ctl_end(struct af_ctl_client *c)
{
	if (!c->mem)
		return;
	af_json_end(&c->w);
	fclose(c->mem);
	c->mem = NULL;
	if (!c->w.bad)
		af_ctl_send(c, c->mbuf, c->mlen);
	free(c->mbuf);
	c->mbuf = NULL;
}

void af_ctl_error(struct af_ctl_client *c, const struct af_ctl_req *req, int err, const char *why)
{
	struct af_json *w = af_ctl_begin(c, false, req);

	if (!w)
		return;
	af_json_str(w, "error", why);
	af_json_str(w, "errno", strerrorname_np(err < 0 ? -err : err));
	af_ctl_end(c);
}

pid_t af_ctl_client_pid(const struct af_ctl_client *c)
{
	return c->cred.pid;
}

uid_t af_ctl_client_uid(const struct af_ctl_client *c)
{
	return c->cred.uid;
}

void af_ctl_client_set_data(struct af_ctl_client *c, void *data)
{
	c->data = data;
}

void *af_ctl_client_data(const struct af_ctl_client *c)
{
	return c->data;
}

static void client_free(struct af_ctl_client *c)
{
	struct af_ctl_server *s = c->srv;
	size_t i;

	if (s->o.on_gone)
		s->o.on_gone(s->o.ctx, c);
	for (i = 0; i < AF_CTL_CLIENTS_MAX; i++)
		if (s->clients[i] == c)
			s->clients[i] = NULL;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->mem)
		fclose(c->mem);
	free(c->mbuf);
	af_ctl_in_free(&c->in);
	free(c->out);
	free(c);
}

static void on_line(void *ctx, const char *line, size_t len, int err)
{
	struct af_ctl_client *c = ctx;
	struct af_ctl_req req;
	char why[512];

	if (c->dead)
		return;
	if (err) {
		snprintf(why, sizeof(why), "request longer than %d bytes: closing the connection",
			 AF_CTL_LINE_MAX - 1);
		af_ctl_error(c, NULL, -E2BIG, why);
		/* Closing with its bytes unread would reset the connection
		 * before the client reads why: say it, end our side, and
		 * discard what it still sends (bounded) until it hangs up. */
		shutdown(c->fd, SHUT_WR);
		c->draining = 4 * AF_CTL_LINE_MAX;
		return;
	}
	err = af_ctl_parse(line, len, &req, why, sizeof(why));
	if (err) {
		af_ctl_error(c, NULL, err, why);
		return;
	}
	c->srv->cur = c;
	c->srv->o.on_request(c->srv->o.ctx, c, &req);
	c->srv->cur = NULL;
	af_ctl_req_free(&req);
}

static void client_input(struct af_ctl_client *c)
{
	char buf[16384];
	size_t got = 0;
	ssize_t n;

	while (got < AF_CTL_READ_MAX && !c->dead) {
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (c->draining && n > 0) {
			got += n;
			if ((size_t)n >= c->draining)
				c->dead = true;
			else
				c->draining -= n;
			continue;
		}
		if (c->draining && n == 0) {
			c->dead = true;
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/* A request cut by the hang-up is not guessed at. */
			if (af_ctl_in_pending(&c->in))
				af_ctl_error(c, NULL, -EINVAL, "connection closed in the middle of a request");
			c->dead = true;
			return;
		}
		got += n;
		if (af_ctl_in_feed(&c->in, buf, n, on_line, c) == -ENOMEM) {
			c->dead = true;
			return;
		}
	}
}

static void accept_one(struct af_ctl_server *s)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	gid_t groups[256];
	socklen_t len = sizeof(struct ucred), glen = sizeof(groups);
	struct af_ctl_client *c;
	size_t i, ngroups = 0;
	char why[256];
	int fd, refuse = 0;

	fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->srv = s;
	c->fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len)) {
		close(fd);
		free(c);
		return;
	}
	if (!getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen))
		ngroups = glen / sizeof(gid_t);
	if (!af_ctl_allowed(c->cred.uid, c->cred.gid, groups, ngroups, s->o.has_group, s->o.group)) {
		snprintf(why, sizeof(why), "permission denied: uid %u is neither root nor in the "
			 "daemon's group%s", c->cred.uid, s->o.has_group ? "" : " (it has none: --group)");
		af_debug("control: refused pid %d uid %u", c->cred.pid, c->cred.uid);
		refuse = -EACCES;
	}
	for (i = 0; i < AF_CTL_CLIENTS_MAX && s->clients[i]; i++)
		;
	if (!refuse && i == AF_CTL_CLIENTS_MAX) {
		snprintf(why, sizeof(why), "too many clients (%d): try again", AF_CTL_CLIENTS_MAX);
		refuse = -EBUSY;
	}
	ev.data.ptr = c;
	if (!refuse && epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev)) {
		snprintf(why, sizeof(why), "epoll: %s", strerror(errno));
		refuse = -errno;
	}
	if (refuse) {
		/* One line, best effort (the socket buffer of a new
		 * connection takes it), then hang up. */
		c->want_out = true;	/* not in the epoll set: no arming */
		af_ctl_error(c, NULL, refuse, why);
		close(fd);
		free(c->out);
		free(c);
		return;
	}
	s->clients[i] = c;
}

static int on_ready(void *ctx, int fd, uint32_t events)
{
	struct af_ctl_server *s = ctx;
	struct epoll_event got[16];
	int n, i;

	(void)fd;
	(void)events;
	n = epoll_wait(s->ep, got, 16, 0);
	for (i = 0; i < n; i++) {
		struct af_ctl_client *c = got[i].data.ptr;

		if (!c) {
			accept_one(s);
			continue;
		}
		if (got[i].events & EPOLLOUT)
			flush(c);
		if (got[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR))
			client_input(c);
		if (c->dead)
			client_free(c);
	}
	return 0;
}

int af_ctl_listen(const struct af_ctl_opts *o, struct af_loop *loop, struct af_ctl_server **out,
		  char *why, size_t n)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct af_ctl_server *s;
	char dir[PATH_MAX], *slash;
	mode_t old;
	int err, fd;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	s->loop = loop;
	s->lfd = s->ep = -1;
	if (af_strlcpy(s->path, o->path, sizeof(s->path))) {
		snprintf(why, n, "%s: path too long for a unix socket", o->path);
		free(s);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, s->path, sizeof(s->path));
	af_strlcpy(dir, o->path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		/* Others pass through to the socket, which checks them. */
		if (mkdir(dir, 0711) && errno != EEXIST) {
			err = -errno;
			snprintf(why, n, "create %s: %s", dir, strerror(errno));
			goto fail;
		}
		if (o->has_group)
			chmod(dir, 0711);
	}
	fd = af_ctl_connect(o->path);
	if (fd >= 0) {
		close(fd);
		err = -EADDRINUSE;
		snprintf(why, n, "a daemon already answers on %s (agentfence status)", o->path);
		goto fail;
	}
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->lfd < 0 || s->ep < 0) {
		err = -errno;
		snprintf(why, n, "socket: %s", strerror(errno));
		goto fail;
	}
	unlink(s->path);
	old = umask(0177);
	err = bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (!err && o->has_group && (chown(s->path, 0, o->group) || chmod(s->path, 0660)))
		err = -errno;
	if (!err && listen(s->lfd, 64))
		err = -errno;
	if (err) {
		snprintf(why, n, "listen on %s: %s", s->path, strerror(-err));
		goto fail;
	}
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev) || (err = af_loop_add(loop, s->ep, on_ready, s))) {
		err = err ? err : -errno;
		snprintf(why, n, "epoll: %s", strerror(-err));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->lfd >= 0) {
		close(s->lfd);
		if (err != -EADDRINUSE)
			unlink(s->path);
	}
	if (s->ep >= 0)
		close(s->ep);
	free(s);
	return err;
}

void af_ctl_close(struct af_ctl_server *s)
{
	size_t i;

	if (!s)
		return;
	af_loop_del(s->loop, s->ep);
	for (i = 0; i < AF_CTL_CLIENTS_MAX; i++)
		if (s->clients[i])
			client_free(s->clients[i]);
	close(s->lfd);
	unlink(s->path);
	close(s->ep);
	free(s);
}

int af_ctl_connect(const char *path)
{
	return af_unix_connect(path);
}

struct call {
	af_ctl_event_fn on_event;
	void *ctx;
	char **reply;
};

static bool is_event(const char *line, size_t len)
{
	/* Replies begin {"ok":, events {"event": (the daemon's writer). */
	return len > 9 && !memcmp(line, "{\"event\":", 9);
}

static void reader_line(void *ctx, const char *line, size_t len, int err)
{
	struct af_ctl_reader *r = ctx;

	if (err)
		return;
	if (is_event(line, len)) {
		if (r->on_event)
			r->on_event(r->ctx, line, len);
		return;
	}
	free(r->reply);
	r->reply = strndup(line, len);
}

int af_ctl_read(struct af_ctl_reader *r)
{
	char buf[16384];
	ssize_t n;

	for (;;) {
		n = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -EPIPE;
		if (af_ctl_in_feed(&r->in, buf, n, reader_line, r))
			return -EPROTO;
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int send_all(int fd, const char *b, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, b, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		b += n;
		len -= n;
	}
	return 0;
}

int af_ctl_call(int fd, const char *req, size_t len, af_ctl_event_fn on_event, void *ctx,
		int timeout_ms, char **reply)
{
	struct af_ctl_reader r = { .fd = fd, .on_event = on_event, .ctx = ctx };
	int64_t end = now_ms() + timeout_ms;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int err;

	err = send_all(fd, req, len);
	if (!err)
		err = send_all(fd, "\n", 1);
	if (err)
		return err;
	while (!r.reply) {
		int left = (int)(end - now_ms());

		if (left <= 0) {
			err = -ETIMEDOUT;
			break;
		}
		n = poll(&p, 1, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (!n)
			continue;
		err = af_ctl_read(&r);
		if (err && !r.reply)
			break;
		err = 0;
	}
	af_ctl_in_free(&r.in);
	if (err) {
		free(r.reply);
		return err;
	}
	*reply = r.reply;
	return 0;
}

void af_ctl_print_event(void *ctx, const char *line, size_t len)
{
	char event[16], kind[16], text[4096];

	(void)ctx;
	if (json_get_str(line, len, "event", event, sizeof(event)) ||
	    json_get_str(line, len, "text", text, sizeof(text)))
		return;
	if (!strcmp(event, "denial")) {
		char esc[sizeof(text)];

		fprintf(stderr, "agentfence: %s\n", af_esc(esc, sizeof(esc), text));
		return;
	}
	if (strcmp(event, "message") || json_get_str(line, len, "kind", kind, sizeof(kind)))
		return;
	if (!strcmp(kind, "error"))
		af_err("%s", text);
	else if (!strcmp(kind, "warning"))
		af_warn("%s", text);
	else
		af_note("%s", text);
}

struct af_json *af_ctl_line_begin(struct af_ctl_line *l, const char *op)
{
	memset(l, 0, sizeof(*l));
	l->w = calloc(1, sizeof(*l->w));
	l->f = l->w ? open_memstream(&l->buf, &l->len) : NULL;
	if (!l->f) {
		free(l->w);
		l->w = NULL;
		return NULL;
	}
	af_json_init(l->w, l->f);
	af_json_object(l->w, NULL);
	af_json_str(l->w, "op", op);
	return l->w;
}

int af_ctl_line_finish(struct af_ctl_line *l)
{
	bool bad;

	af_json_end(l->w);
	bad = l->w->bad;
	fclose(l->f);
	free(l->w);
	l->w = NULL;
	if (bad || !l->buf) {
		free(l->buf);
		l->buf = NULL;
		return -ENOMEM;
	}
	return 0;
}

int af_ctl_ask(const char *path, const char *line, size_t len, char **reply)
{
	int fd, err;

	fd = af_ctl_connect(path ? path : AF_CTL_SOCK);
	if (fd < 0)
		return fd;
	err = af_ctl_call(fd, line, len, af_ctl_print_event, NULL, 30000, reply);
	close(fd);
	return err;
}

int af_ctl_reply_ok(const char *reply)
{
	char why[4096], name[32];
	const char *v;
	size_t vl;
	int e;

	if (!json_find(reply, strlen(reply), "ok", &v, &vl) && vl == 4 && !memcmp(v, "true", 4))
		return 0;
	if (json_get_str(reply, strlen(reply), "error", why, sizeof(why)))
		snprintf(why, sizeof(why), "the daemon's reply makes no sense: %.200s", reply);
	af_err("%s", why);
	if (!json_get_str(reply, strlen(reply), "errno", name, sizeof(name))) {
		for (e = 1; e < 134; e++) {
			const char *n = strerrorname_np(e);

			if (n && !strcmp(n, name))
				return -e;
		}
	}
	return -EIO;
}
