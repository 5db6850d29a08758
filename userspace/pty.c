// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "loop.h"
#include "pty.h"

struct af_pty {
	int master;
	int slave;		/* until af_pty_start */
	bool tty[3];		/* which of fds 0-2 were the outer terminal */
	int term;		/* the outer terminal fd whose modes we change */
	int out;		/* where the pty's output goes, -1: nowhere */
	struct termios saved;
	bool raw;
	struct af_loop *loop;
};

int af_pty_open(struct af_pty **out, char *why, size_t why_size)
{
	struct af_pty *p;
	struct termios tio;
	struct winsize ws;
	char name[64];
	int i;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->term = p->out = p->master = p->slave = -1;
	for (i = 0; i < 3; i++) {
		p->tty[i] = isatty(i);
		if (p->tty[i] && p->term < 0)
			p->term = i;
	}
	if (p->term < 0) {
		free(p);
		return 0;
	}
	p->out = p->tty[1] ? 1 : p->tty[2] ? 2 : -1;
	p->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->master < 0 || grantpt(p->master) || unlockpt(p->master) ||
	    ptsname_r(p->master, name, sizeof(name))) {
		snprintf(why, why_size, "a pty for the command: %s", strerror(errno));
		goto fail;
	}
	/* Opened here, outside the fence: the fence need not let the
	 * command open /dev/pts. */
	p->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->slave < 0) {
		snprintf(why, why_size, "open %s: %s", name, strerror(errno));
		goto fail;
	}
	if (!tcgetattr(p->term, &tio))
		tcsetattr(p->slave, TCSANOW, &tio);
	if (!ioctl(p->term, TIOCGWINSZ, &ws))
		ioctl(p->slave, TIOCSWINSZ, &ws);
	*out = p;
	return 0;
fail:
	i = -errno;
	if (p->master >= 0)
		close(p->master);
	free(p);
	return i ? i : -EIO;
}

int af_pty_chown(struct af_pty *p, uid_t uid, gid_t gid)
{
	/* As login(1) leaves a terminal, the user's; mode 0600: no
	 * write(1) messages from others. */
	if (!p || p->slave < 0)
		return 0;
	if (fchown(p->slave, uid, gid) || fchmod(p->slave, 0600))
		return -errno;
	return 0;
}

int af_pty_child(const struct af_pty *p, const char **why)
{
	int i;

	if (!p)
		return 0;
	if (ioctl(p->slave, TIOCSCTTY, 0)) {
		*why = "TIOCSCTTY";
		return -errno;
	}
	for (i = 0; i < 3; i++) {
		if (p->tty[i] && dup2(p->slave, i) < 0) {
			*why = "dup2 the pty";
			return -errno;
		}
	}
	return 0;
}

static int write_all(int fd, const char *b, ssize_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= w;
	}
	return 0;
}

/* Read what fd has into buf: its length, or 0 when there is nothing (a
 * signal, a spurious wake-up) or fd is done and left the loop (EOF, or
 * EIO on the master: no slave is open any more, the command and all it
 * started are gone or closed it; the child's exit ends run). */
static ssize_t relay_read(struct af_pty *p, int fd, char *buf, size_t size)
{
	ssize_t n = read(fd, buf, size);

	if (n > 0)
		return n;
	if (n == 0 || (errno != EINTR && errno != EAGAIN))
		af_loop_del(p->loop, fd);
	return 0;
}

static int on_master(void *ctx, int fd, uint32_t events)
{
	struct af_pty *p = ctx;
	char buf[8192];
	ssize_t n;

	(void)events;
	n = relay_read(p, fd, buf, sizeof(buf));
	if (n && p->out >= 0 && write_all(p->out, buf, n))
		p->out = -1;
	return 0;
}

static int on_input(void *ctx, int fd, uint32_t events)
{
	struct af_pty *p = ctx;
	char buf[4096];
	ssize_t n;

	(void)events;
	n = relay_read(p, fd, buf, sizeof(buf));
	if (n)
		write_all(p->master, buf, n);
	return 0;
}

int af_pty_start(struct af_pty *p, struct af_loop *loop)
{
	struct termios raw;
	int err;

	if (!p)
		return 0;
	close(p->slave);
	p->slave = -1;
	p->loop = loop;
	/* In the background (`run ... &` in an interactive shell), touching
	 * the terminal's modes or reading it would stop us (SIGTTOU,
	 * SIGTTIN): leave both alone, relay output only. */
	if (tcgetpgrp(p->term) != getpgrp()) {
		p->tty[0] = false;
		return af_loop_add(loop, p->master, on_master, p);
	}
	/* The pty's line discipline does the echo, ^C and ^Z now: the
	 * outer one must pass every byte through untouched. */
	if (!tcgetattr(p->term, &p->saved)) {
		raw = p->saved;
		cfmakeraw(&raw);
		if (!tcsetattr(p->term, TCSAFLUSH, &raw))
			p->raw = true;
	}
	err = af_loop_add(loop, p->master, on_master, p);
	if (!err && p->tty[0])
		err = af_loop_add(loop, 0, on_input, p);
	return err;
}

void af_pty_winch(struct af_pty *p)
{
	struct winsize ws;

	if (p && !ioctl(p->term, TIOCGWINSZ, &ws))
		ioctl(p->master, TIOCSWINSZ, &ws);
}

void af_pty_close(struct af_pty *p)
{
	char buf[8192];
	ssize_t n;
	int i;

	if (!p)
		return;
	if (p->loop) {
		af_loop_del(p->loop, p->master);
		if (p->tty[0])
			af_loop_del(p->loop, 0);
	}
	/* What the command wrote just before it exited. Bounded: a
	 * process left behind could keep writing. */
	fcntl(p->master, F_SETFL, fcntl(p->master, F_GETFL) | O_NONBLOCK);
	for (i = 0; i < 256 && (n = read(p->master, buf, sizeof(buf))) > 0; i++)
		if (p->out >= 0 && write_all(p->out, buf, n))
			break;
	if (p->raw)
		tcsetattr(p->term, TCSAFLUSH, &p->saved);
	if (p->slave >= 0)
		close(p->slave);
	close(p->master);
	free(p);
}
