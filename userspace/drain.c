// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "drain.h"

struct af_drain {
	struct af_loop *loop;
	int ring_fd, tfd;
	bool busy;		/* the timer reads, not the descriptor */
	bool ticking;		/* the slow timer is armed */
	af_drain_fn fn;
	void *ctx;
	unsigned long wakeups;
};

static void arm(struct af_drain *d, long us)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000 },
	};

	timerfd_settime(d->tfd, 0, &its, NULL);
}

static void step(struct af_drain *d)
{
	bool tick = false;
	int n = d->fn(d->ctx, &tick);

	d->wakeups++;
	if (n >= AF_DRAIN_BUSY) {
		if (!d->busy) {
			d->busy = true;
			af_loop_set(d->loop, d->ring_fd, false);
		}
		arm(d, AF_DRAIN_BUSY_US);
		return;
	}
	if (d->busy) {
		d->busy = false;
		/* Level-triggered: what came meanwhile wakes us at once. */
		af_loop_set(d->loop, d->ring_fd, true);
	}
	if (tick) {
		arm(d, AF_DRAIN_IDLE_MS * 1000L);
		d->ticking = true;
	} else if (d->ticking) {
		arm(d, 0);
		d->ticking = false;
	}
}

static int on_ring(void *ctx, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	step(ctx);
	return 0;
}

static int on_timer(void *ctx, int fd, uint32_t events)
{
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) < 0 && errno == EAGAIN)
		return 0;
	step(ctx);
	return 0;
}

struct af_drain *af_drain_open(struct af_loop *loop, int ring_fd, af_drain_fn fn, void *ctx)
{
	struct af_drain *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return NULL;
	d->loop = loop;
	d->ring_fd = ring_fd;
	d->fn = fn;
	d->ctx = ctx;
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->tfd < 0) {
		err = -errno;
		goto fail;
	}
	err = af_loop_add(loop, ring_fd, on_ring, d);
	if (err)
		goto fail;
	err = af_loop_add(loop, d->tfd, on_timer, d);
	if (err) {
		af_loop_del(loop, ring_fd);
		goto fail;
	}
	return d;
fail:
	if (d->tfd >= 0)
		close(d->tfd);
	free(d);
	errno = -err;
	return NULL;
}

void af_drain_close(struct af_drain *d)
{
	if (!d)
		return;
	af_loop_del(d->loop, d->ring_fd);
	af_loop_del(d->loop, d->tfd);
	close(d->tfd);
	free(d);
}

unsigned long af_drain_wakeups(const struct af_drain *d)
{
	return d->wakeups;
}
