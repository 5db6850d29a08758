// SPDX-License-Identifier: GPL-2.0
/* What a program built on liburing does (the way real programs use
 * io_uring): set up a ring, create FILE with IORING_OP_OPENAT and write
 * to it with IORING_OP_WRITE. In a fence the ring cannot be set up (the
 * box's seccomp filter refuses io_uring). Prints "liburing init: ERR"
 * (exit 3) or "liburing openat: fd N, write: N" / "...: -1 (ERR)". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>

static int run(struct io_uring *ring, struct io_uring_sqe *sqe)
{
	struct io_uring_cqe *cqe;
	int ret;

	(void)sqe;
	ret = io_uring_submit(ring);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(ring, &cqe);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

int main(int argc, char **argv)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	int fd, ret;

	if (argc != 2) {
		fprintf(stderr, "usage: uring_lib FILE\n");
		return 2;
	}
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret < 0) {
		printf("liburing init: %s\n", strerror(-ret));
		return 3;
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_openat(sqe, AT_FDCWD, argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	fd = run(&ring, sqe);
	if (fd < 0) {
		printf("liburing openat: -1 (%s)\n", strerror(-fd));
		return 1;
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, fd, "uring\n", 6, 0);
	ret = run(&ring, sqe);
	printf("liburing openat: fd %d, write: %d\n", fd, ret);
	io_uring_queue_exit(&ring);
	return ret == 6 ? 0 : 1;
}
