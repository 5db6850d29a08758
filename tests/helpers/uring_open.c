// SPDX-License-Identifier: GPL-2.0
/* Open a file for writing through io_uring (IORING_OP_OPENAT), with raw
 * system calls: the fence must decide it like open(2). Prints
 * "uring openat: fd N" or "uring openat: -1 (errno)". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct io_uring_params p = {};
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqe;
	unsigned int *sq_tail, *sq_array, *cq_head, *cq_tail;
	void *sq, *cq;
	int fd, ret;

	if (argc != 2) {
		fprintf(stderr, "usage: uring_open FILE\n");
		return 2;
	}
	fd = syscall(SYS_io_uring_setup, 4, &p);
	if (fd < 0) {
		printf("uring setup: %s\n", strerror(errno));
		return 3;
	}
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned int),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
		    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		printf("uring mmap: %s\n", strerror(errno));
		return 3;
	}
	sq_tail = (unsigned int *)((char *)sq + p.sq_off.tail);
	sq_array = (unsigned int *)((char *)sq + p.sq_off.array);
	cq_head = (unsigned int *)((char *)cq + p.cq_off.head);
	cq_tail = (unsigned int *)((char *)cq + p.cq_off.tail);

	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IORING_OP_OPENAT;
	sqes[0].fd = AT_FDCWD;
	sqes[0].addr = (unsigned long)argv[1];
	sqes[0].open_flags = O_WRONLY;
	sq_array[0] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);

	ret = syscall(SYS_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0);
	if (ret < 0) {
		printf("uring enter: %s\n", strerror(errno));
		return 3;
	}
	if (__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head) {
		printf("uring: no completion\n");
		return 3;
	}
	cqe = (struct io_uring_cqe *)((char *)cq + p.cq_off.cqes) +
	      (*cq_head & *(unsigned int *)((char *)cq + p.cq_off.ring_mask));
	if (cqe->res < 0)
		printf("uring openat: -1 (%s)\n", strerror(-cqe->res));
	else
		printf("uring openat: fd %d\n", cqe->res);
	return 0;
}
