// SPDX-License-Identifier: GPL-2.0
/*
 * micro: the hot paths a fence sits on, timed with clock_gettime loops.
 *
 *   micro openw DIR N          open(O_WRONLY|O_CREAT|O_TRUNC) + close of files in DIR
 *   micro openw1 DIR N         the same, always the same file (the repeats the kernel coalesces)
 *   micro readout FILE N       stat + open(O_RDONLY) + read 4 KiB + close of FILE
 *   micro write4k DIR N        pwrite 4 KiB through one descriptor opened before the loop
 *   micro spawn N -- CMD...    fork + exec CMD + wait
 *   micro connect ADDR N       TCP connect to a listener of ours on ADDR (127.0.0.1), accept,
 *                              close both (the client with a reset: no TIME_WAIT pile-up)
 *   micro syscall getppid N    getppid(2), the cheapest syscall: what every syscall pays on
 *                              the way in and out (e.g. while syscall tracepoints are attached)
 *
 * MICRO_WAIT=FILE: after the set-up (write4k's descriptor is open), say
 * "ready" on stderr and wait until FILE exists before the first
 * operation (bench/attach.py attaches a fence meanwhile).
 *
 * The N iterations run in BATCHES equal batches; one JSON line reports the
 * fastest batch and the median batch in ns per operation. The fastest batch
 * is the figure of merit: on a small shared machine the slower ones measure
 * whoever else had the CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCHES 5
#define NFILES 64

struct bench {
	const char *name;
	int (*setup)(const char *arg);
	int (*op)(unsigned long i);
};

static char paths[NFILES][4096];
static char *const *spawn_argv;
static int wfd = -1, lfd = -1;
static struct sockaddr_in laddr;
static char buf[4096];

static void die(const char *what)
{
	fprintf(stderr, "micro: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Files three levels beneath the workspace, like src/pkg/file.c: the
 * fence's ancestor walk has a realistic distance to its root. */
static int openw_setup(const char *dir)
{
	char d[4000];
	int i;

	snprintf(d, sizeof(d), "%s/src", dir);
	if (mkdir(d, 0755) && errno != EEXIST)
		die(d);
	snprintf(d, sizeof(d), "%s/src/pkg", dir);
	if (mkdir(d, 0755) && errno != EEXIST)
		die(d);
	for (i = 0; i < NFILES; i++)
		snprintf(paths[i], sizeof(paths[i]), "%s/f%02d.c", d, i);
	return 0;
}

static int openw_op(unsigned long i)
{
	int fd = open(paths[i % NFILES], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* The same file every time: the repeats the kernel coalesces. */
static int openw1_op(unsigned long i)
{
	(void)i;
	return openw_op(0);
}

static int readout_setup(const char *file)
{
	snprintf(paths[0], sizeof(paths[0]), "%s", file);
	return 0;
}

static int readout_op(unsigned long i)
{
	struct stat st;
	int fd;

	(void)i;
	if (stat(paths[0], &st))
		return -errno;
	fd = open(paths[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (read(fd, buf, sizeof(buf)) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

static int write4k_setup(const char *dir)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/write4k.dat", dir);
	wfd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (wfd < 0)
		die(p);
	memset(buf, 'x', sizeof(buf));
	return 0;
}

/* A 1 MiB window, so that the file stays in the page cache and the
 * loop measures the write path, not the disk. */
static int write4k_op(unsigned long i)
{
	if (pwrite(wfd, buf, sizeof(buf), (off_t)(i % 256) * sizeof(buf)) != sizeof(buf))
		return -errno;
	return 0;
}

static int spawn_op(unsigned long i)
{
	int st;
	pid_t pid;

	(void)i;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execvp(spawn_argv[0], spawn_argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -ECHILD;
	return 0;
}

static int connect_setup(const char *addr)
{
	socklen_t len = sizeof(laddr);

	laddr.sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &laddr.sin_addr) != 1) {
		errno = EINVAL;
		die(addr);
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&laddr, sizeof(laddr)) || listen(lfd, 64) ||
	    getsockname(lfd, (struct sockaddr *)&laddr, &len))
		die("listen");
	return 0;
}

static int connect_op(unsigned long i)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int c, a, err = 0;

	(void)i;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -errno;
	if (connect(c, (struct sockaddr *)&laddr, sizeof(laddr))) {
		err = -errno;
		close(c);
		return err;
	}
	a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (a < 0)
		err = -errno;
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c);
	if (a >= 0)
		close(a);
	return err;
}

static int syscall_setup(const char *name)
{
	if (strcmp(name, "getppid")) {
		errno = EINVAL;
		die(name);
	}
	return 0;
}

/* The raw syscall: no libc wrapper can answer it from a cache. */
static int syscall_op(unsigned long i)
{
	(void)i;
	return syscall(SYS_getppid) < 0 ? -errno : 0;
}

static const struct bench benches[] = {
	{ "openw", openw_setup, openw_op },
	{ "openw1", openw_setup, openw1_op },
	{ "readout", readout_setup, readout_op },
	{ "write4k", write4k_setup, write4k_op },
	{ "spawn", NULL, spawn_op },
	{ "connect", connect_setup, connect_op },
	{ "syscall", syscall_setup, syscall_op },
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void usage(void)
{
	fputs("usage: micro openw DIR N | openw1 DIR N | readout FILE N | write4k DIR N | connect ADDR N |\n"
	      "       syscall getppid N | spawn N -- CMD [ARG...]\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const struct bench *b = NULL;
	double t[BATCHES], t0, total = 0;
	unsigned long n, per, i, k = 0;
	const char *arg = NULL;
	size_t j;
	int err;

	if (argc < 3)
		usage();
	for (j = 0; j < sizeof(benches) / sizeof(benches[0]); j++)
		if (!strcmp(argv[1], benches[j].name))
			b = &benches[j];
	if (!b)
		usage();
	if (b->setup) {
		if (argc != 4)
			usage();
		arg = argv[2];
		n = strtoul(argv[3], NULL, 10);
	} else {
		if (argc < 5 || strcmp(argv[3], "--"))
			usage();
		n = strtoul(argv[2], NULL, 10);
		spawn_argv = argv + 4;
	}
	if (n < BATCHES)
		n = BATCHES;
	per = n / BATCHES;
	if (b->setup)
		b->setup(arg);
	if (getenv("MICRO_WAIT")) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		fprintf(stderr, "ready\n");
		while (access(getenv("MICRO_WAIT"), F_OK))
			nanosleep(&ts, NULL);
	}
	/* One untimed operation: the first create, the first exec. */
	err = b->op(0);
	if (err) {
		errno = -err;
		die(b->name);
	}
	for (i = 0; i < BATCHES; i++) {
		unsigned long end = k + per;

		t0 = now_ns();
		for (; k < end; k++) {
			err = b->op(k);
			if (err) {
				errno = -err;
				die(b->name);
			}
		}
		t[i] = (now_ns() - t0) / per;
		total += t[i] * per;
	}
	qsort(t, BATCHES, sizeof(t[0]), cmp_double);
	printf("{\"bench\":\"%s\",\"iters\":%lu,\"batches\":%d,\"ns_min\":%.1f,\"ns_median\":%.1f,\"seconds\":%.3f}\n",
	       b->name, per * BATCHES, BATCHES, t[0], t[BATCHES / 2], total / 1e9);
	return 0;
}
