/* SPDX-License-Identifier: GPL-2.0 */
/* The supervisor's event loop: one epoll set, a callback per descriptor.
 * run's signals, the fence's ring buffer, the DNS stub's sockets and
 * timers and the tail subscribers' socket all hang off it. */
#ifndef AF_LOOP_H
#define AF_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct af_loop;

/* Called when fd is ready (events: EPOLLIN...). Return 0 to go on, > 0
 * to make af_loop_run return that value, < 0 (-errno) on an error that
 * must end the loop. */
typedef int (*af_loop_fn)(void *ctx, int fd, uint32_t events);

struct af_loop *af_loop_new(void);

/* Watch fd for EPOLLIN. The loop neither owns nor closes fd. */
int af_loop_add(struct af_loop *l, int fd, af_loop_fn fn, void *ctx);

/* Stop watching fd; safe from inside a callback. */
void af_loop_del(struct af_loop *l, int fd);

/* Stop (on false) or resume watching fd, keeping its callback. */
int af_loop_set(struct af_loop *l, int fd, bool on);

/* Dispatch until a callback returns non-zero; returns that value. */
int af_loop_run(struct af_loop *l);

void af_loop_free(struct af_loop *l);

#endif /* AF_LOOP_H */
