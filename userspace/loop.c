// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

struct handler {
	int fd;			/* -1 once deleted */
	af_loop_fn fn;
	void *ctx;
	struct handler *next;
};

struct af_loop {
	int ep;
	struct handler *handlers;	/* freed with the loop: a deleted one
					 * may still sit in a batch being
					 * dispatched */
};

struct af_loop *af_loop_new(void)
{
	struct af_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		int err = errno;

		free(l);
		errno = err;
		return NULL;
	}
	return l;
}

int af_loop_add(struct af_loop *l, int fd, af_loop_fn fn, void *ctx)
{
	struct handler *h = calloc(1, sizeof(*h));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!h)
		return -ENOMEM;
	h->fd = fd;
	h->fn = fn;
	h->ctx = ctx;
	ev.data.ptr = h;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;

		free(h);
		return err;
	}
	h->next = l->handlers;
	l->handlers = h;
	return 0;
}

void af_loop_del(struct af_loop *l, int fd)
{
	struct handler *h;

	for (h = l->handlers; h; h = h->next) {
		if (h->fd == fd) {
			epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
			h->fd = -1;
		}
	}
}

int af_loop_set(struct af_loop *l, int fd, bool on)
{
	struct handler *h;

	for (h = l->handlers; h; h = h->next) {
		if (h->fd == fd) {
			struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.ptr = h };

			return epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
		}
	}
	return -ENOENT;
}

int af_loop_run(struct af_loop *l)
{
	struct epoll_event got[16];
	int n, i, ret;

	for (;;) {
		n = epoll_wait(l->ep, got, ARRAY_SIZE(got), -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++) {
			struct handler *h = got[i].data.ptr;

			if (h->fd < 0)
				continue;
			ret = h->fn(h->ctx, h->fd, got[i].events);
			if (ret)
				return ret;
		}
	}
}

void af_loop_free(struct af_loop *l)
{
	struct handler *h, *next;

	if (!l)
		return;
	for (h = l->handlers; h; h = next) {
		next = h->next;
		free(h);
	}
	close(l->ep);
	free(l);
}
