/* SPDX-License-Identifier: GPL-2.0 */
/* The fenced command's terminal: when run's stdio is a terminal, the
 * command gets a pty of its own that run relays (as sudo's use_pty),
 * so nothing in the fence holds a descriptor of the terminal outside
 * (TIOCSTI, TIOCLINUX, job control of the shell that started run). */
#ifndef AF_PTY_H
#define AF_PTY_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

struct af_loop;
struct af_pty;

/* A pty when any of fds 0, 1, 2 is a terminal; *out is NULL (and 0 is
 * returned) when none is. Returns -errno with a reason in why. */
int af_pty_open(struct af_pty **out, char *why, size_t why_size);

/* Give the pty's slave to the user the command runs as (uid, gid;
 * mode 0600), so that it can reopen its terminal (ttyname(3)). */
int af_pty_chown(struct af_pty *p, uid_t uid, gid_t gid);

/* In the child, after setsid(): make the pty its controlling terminal
 * and put it where the terminal was among fds 0-2. Async-signal-safe.
 * p may be NULL. Returns 0 or -errno with a static reason. */
int af_pty_child(const struct af_pty *p, const char **why);

/* In run, once the child runs: close the slave, raw mode on the outer
 * terminal, relay through loop. */
int af_pty_start(struct af_pty *p, struct af_loop *loop);

/* SIGWINCH: the outer terminal's size to the pty (the kernel then
 * signals the command's foreground group). */
void af_pty_winch(struct af_pty *p);

/* Relay what is left, restore the outer terminal, free. NULL is fine. */
void af_pty_close(struct af_pty *p);

#endif /* AF_PTY_H */
