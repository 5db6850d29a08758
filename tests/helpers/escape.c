// SPDX-License-Identifier: GPL-2.0
/*
 * Escape attempts for the tests in tests/escape, run inside a fence.
 *
 *   escape sys NAME...     make each system call with harmless arguments
 *                          (it fails with EINVAL/EBADF/ENOENT when let
 *                          through) in a child; print "NAME ERRNO" or
 *                          "NAME killed SIGNAL" or "NAME ok"
 *   escape signal HOW PID  send PID a signal: kill, tgkill, pidfd,
 *                          sigqueue, pgrp, ptrace, getfd, vmread, sigio;
 *                          print "held ERRNO"
 *                          or "ESCAPED"
 *   escape caps            print the capability sets and securebits, and
 *                          try to raise each: "raise ... held/ESCAPED"
 *   escape clone3-cgroup FD-PATH  clone3 with CLONE_INTO_CGROUP
 *   escape mq NAME         mq_open an existing queue (print errno)
 *   escape mqcreate NAME, mqunlink NAME   make or remove a POSIX queue
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif
#ifndef __NR_quotactl_fd
#define __NR_quotactl_fd 443
#endif
#ifndef __NR_lookup_dcookie
#define __NR_lookup_dcookie 212
#endif
#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif

static long r(long v)
{
	return v < 0 ? -errno : v;
}

/* A harmless call with bad arguments: EINVAL, EBADF, ENOENT, EFAULT if
 * the filter lets it through, never an effect. */
static long try_sys(const char *n)
{
	const int nsflags[] = { CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET,
				CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWCGROUP, CLONE_NEWTIME };
	const char *nsnames[] = { "user", "ns", "pid", "net", "uts", "ipc", "cgroup", "time" };
	size_t i;

	if (!strcmp(n, "init_module"))
		return r(syscall(SYS_init_module, NULL, 0, ""));
	if (!strcmp(n, "finit_module"))
		return r(syscall(SYS_finit_module, -1, "", 0));
	if (!strcmp(n, "delete_module"))
		return r(syscall(SYS_delete_module, "af_no_such_module", O_NONBLOCK));
	if (!strcmp(n, "kexec_load"))
		return r(syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000UL));
	if (!strcmp(n, "kexec_file_load"))
		return r(syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0xdead0000UL));
	if (!strcmp(n, "reboot"))
		return r(syscall(SYS_reboot, 0, 0, 0, NULL));	/* bad magic: EINVAL */
	if (!strcmp(n, "swapon"))
		return r(syscall(SYS_swapon, "/af-no-such-file", 0));
	if (!strcmp(n, "swapoff"))
		return r(syscall(SYS_swapoff, "/af-no-such-file"));
	if (!strcmp(n, "iopl"))
		return r(syscall(SYS_iopl, 4));		/* levels are 0-3: EINVAL */
	if (!strcmp(n, "ioperm"))
		return r(syscall(SYS_ioperm, 0x10000UL, 1, 1)); /* beyond the port space */
	if (!strcmp(n, "bpf"))
		return r(syscall(SYS_bpf, 0xffff, NULL, 0));
	if (!strcmp(n, "perf_event_open"))
		return r(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
	if (!strcmp(n, "lookup_dcookie"))
		return r(syscall(__NR_lookup_dcookie, 0, NULL, 0));
	if (!strcmp(n, "mount"))
		return r(syscall(SYS_mount, "none", "/af-no-such-dir", "tmpfs", 0, NULL));
	if (!strcmp(n, "umount2"))
		return r(syscall(SYS_umount2, "/af-no-such-dir", 0));
	if (!strcmp(n, "pivot_root"))
		return r(syscall(SYS_pivot_root, "/af-no-such-dir", "/af-no-such-dir"));
	if (!strcmp(n, "mount_setattr"))
		return r(syscall(__NR_mount_setattr, -1, "", 0, NULL, 0));
	if (!strcmp(n, "fsopen"))
		return r(syscall(SYS_fsopen, "af-no-such-fs", 0));
	if (!strcmp(n, "fspick"))
		return r(syscall(SYS_fspick, -1, "", 0));
	if (!strcmp(n, "fsconfig"))
		return r(syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0));
	if (!strcmp(n, "fsmount"))
		return r(syscall(SYS_fsmount, -1, 0, 0));
	if (!strcmp(n, "open_tree"))
		return r(syscall(SYS_open_tree, -1, "/af-no-such-dir", 0));
	if (!strcmp(n, "move_mount"))
		return r(syscall(SYS_move_mount, -1, "", -1, "", 0));
	if (!strcmp(n, "clone3"))
		return r(syscall(SYS_clone3, NULL, 0));
	for (i = 0; i < sizeof(nsflags) / sizeof(nsflags[0]); i++) {
		char want[32];

		/* CLONE_THREAD without CLONE_SIGHAND: EINVAL before any effect. */
		snprintf(want, sizeof(want), "clone_new%s", nsnames[i]);
		if (!strcmp(n, want))
			return r(syscall(SYS_clone, nsflags[i] | CLONE_THREAD, NULL, NULL, NULL, 0));
		/* A CSIGNAL bit is not an unshare flag: EINVAL. */
		snprintf(want, sizeof(want), "unshare_new%s", nsnames[i]);
		if (!strcmp(n, want))
			return r(syscall(SYS_unshare, nsflags[i] | 0x11));
	}
	if (!strcmp(n, "clone_plain"))	/* the control: a thread-less clone works */
		return r(syscall(SYS_clone, CLONE_THREAD, NULL, NULL, NULL, 0));
	if (!strcmp(n, "setns"))
		return r(syscall(SYS_setns, -1, 0));
	if (!strcmp(n, "tiocsti"))
		return r(ioctl(-1, TIOCSTI, "x"));
	if (!strcmp(n, "tiocsti_high_bits"))	/* the kernel drops the upper 32 bits */
		return r(syscall(SYS_ioctl, -1, 0x100000000UL | TIOCSTI, "x"));
	if (!strcmp(n, "tioclinux"))
		return r(ioctl(-1, TIOCLINUX, "x"));
	if (!strcmp(n, "tioccons"))
		return r(ioctl(-1, TIOCCONS));
	if (!strcmp(n, "keyctl"))
		return r(syscall(SYS_keyctl, 0x7fff, 0, 0, 0, 0));
	if (!strcmp(n, "add_key"))
		return r(syscall(SYS_add_key, "af-no-such-type", "x", NULL, 0, 0));
	if (!strcmp(n, "request_key"))
		return r(syscall(SYS_request_key, "af-no-such-type", "x", NULL, 0));
	if (!strcmp(n, "userfaultfd"))
		return r(syscall(SYS_userfaultfd, 0xffff0000));
	if (!strcmp(n, "open_by_handle_at"))
		return r(syscall(SYS_open_by_handle_at, -1, NULL, 0));
	if (!strcmp(n, "io_uring_setup"))	/* 0 entries: EINVAL */
		return r(syscall(SYS_io_uring_setup, 0, NULL));
	if (!strcmp(n, "io_uring_enter"))
		return r(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0));
	if (!strcmp(n, "io_uring_register"))
		return r(syscall(SYS_io_uring_register, -1, 0, NULL, 0));
	if (!strcmp(n, "socket_packet"))	/* a family the fence refuses */
		return r(socket(17, SOCK_RAW, 0));
	if (!strcmp(n, "socketpair_vsock")) {
		int sv[2];

		return r(socketpair(40, SOCK_STREAM, 0, sv));
	}
	if (!strcmp(n, "settimeofday")) {
		struct timeval tv = { .tv_usec = 2000000 };	/* EINVAL */

		return r(syscall(SYS_settimeofday, &tv, NULL));
	}
	if (!strcmp(n, "clock_settime"))
		return r(syscall(SYS_clock_settime, 0x7fff, NULL));
	if (!strcmp(n, "acct"))
		return r(syscall(SYS_acct, "/af-no-such-dir/acct"));
	if (!strcmp(n, "quotactl"))
		return r(syscall(SYS_quotactl, 0, NULL, 0, NULL));
	if (!strcmp(n, "quotactl_fd"))
		return r(syscall(__NR_quotactl_fd, -1, 0, 0, NULL));
	if (!strcmp(n, "syslog"))
		return r(syscall(SYS_syslog, 0x7fff, NULL, 0));
	if (!strcmp(n, "vhangup")) {
		/* Only ever on a terminal of our own: none here. */
		if (setsid() < 0 && errno != EPERM)
			return -errno;
		return r(syscall(SYS_vhangup));
	}
	if (!strcmp(n, "personality_no_aslr"))
		return r(syscall(SYS_personality, PER_LINUX | ADDR_NO_RANDOMIZE));
	if (!strcmp(n, "personality_page_zero"))
		return r(syscall(SYS_personality, PER_LINUX | MMAP_PAGE_ZERO));
	if (!strcmp(n, "personality_exec"))
		return r(syscall(SYS_personality, PER_LINUX | READ_IMPLIES_EXEC));
	if (!strcmp(n, "personality_high_bits"))	/* 1<<31 is no flag: must not hide one */
		return r(syscall(SYS_personality, 0x80000000UL | ADDR_NO_RANDOMIZE));
	if (!strcmp(n, "personality_query"))	/* the control: allowed */
		return syscall(SYS_personality, 0xffffffffUL) < 0 ? -errno : 0;
	if (!strcmp(n, "i386_getpid")) {
		long ret;

		asm volatile("int $0x80" : "=a"(ret) : "a"(20) : "memory");
		return ret < 0 ? ret : 0;
	}
	if (!strcmp(n, "x32_getpid"))
		return r(syscall(0x40000000 | 39));
	if (!strcmp(n, "getpid"))	/* the control */
		return r(syscall(SYS_getpid)) > 0 ? 0 : -EIO;
	if (!strcmp(n, "fork")) {	/* glibc's fork: clone, not clone3 */
		pid_t p = fork();

		if (p == 0)
			_exit(0);
		return p < 0 ? -errno : (waitpid(p, NULL, 0), 0);
	}
	if (!strcmp(n, "pthread")) {	/* glibc tries clone3 first, falls back */
		pthread_t t;
		int e = pthread_create(&t, NULL, (void *(*)(void *))(void *)pthread_self, NULL);

		return e ? -e : (pthread_join(t, NULL), 0);
	}
	fprintf(stderr, "escape: unknown system call route %s\n", n);
	exit(2);
}

static int cmd_sys(int argc, char **argv)
{
	int i, st;

	for (i = 0; i < argc; i++) {
		pid_t p;
		int fd[2];
		long v = 0;

		if (pipe(fd))
			return 2;
		fflush(stdout);
		p = fork();
		if (p == 0) {
			v = try_sys(argv[i]);
			if (write(fd[1], &v, sizeof(v)) != sizeof(v))
				_exit(3);
			_exit(0);
		}
		close(fd[1]);
		if (read(fd[0], &v, sizeof(v)) != sizeof(v))
			v = 1;
		close(fd[0]);
		waitpid(p, &st, 0);
		if (WIFSIGNALED(st))
			printf("%s killed %s\n", argv[i], sigabbrev_np(WTERMSIG(st)));
		else if (v == 1)
			printf("%s exit %d\n", argv[i], WEXITSTATUS(st));
		else if (v < 0)
			printf("%s %s\n", argv[i], strerrorname_np(-v));
		else
			printf("%s ok\n", argv[i]);
	}
	return 0;
}

static int held(long v)
{
	if (v < 0) {
		printf("held %s\n", strerrorname_np(-v));
		return 0;
	}
	printf("ESCAPED\n");
	return 1;
}

static int cmd_signal(const char *how, pid_t pid)
{
	if (!strcmp(how, "kill"))
		return held(r(kill(pid, SIGTERM)));
	if (!strcmp(how, "kill9"))
		return held(r(kill(pid, SIGKILL)));
	if (!strcmp(how, "stop"))
		return held(r(kill(pid, SIGSTOP)));
	if (!strcmp(how, "tgkill"))
		return held(r(syscall(SYS_tgkill, pid, pid, SIGTERM)));
	if (!strcmp(how, "tkill"))
		return held(r(syscall(SYS_tkill, pid, SIGTERM)));
	if (!strcmp(how, "pgrp"))
		return held(r(kill(-getpgid(pid), SIGTERM)));
	if (!strcmp(how, "sigqueue")) {
		union sigval sv = { .sival_int = 1 };

		return held(r(sigqueue(pid, SIGUSR1, sv)));
	}
	if (!strcmp(how, "pidfd")) {
		int fd = syscall(SYS_pidfd_open, pid, 0);

		if (fd < 0)
			return held(-errno);
		return held(r(syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 0)));
	}
	if (!strcmp(how, "ptrace"))
		return held(r(syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, pid, 0, 0)));
	if (!strcmp(how, "getfd")) {	/* steal descriptor 3 (run's: BPF, journal) */
		int fd = syscall(SYS_pidfd_open, pid, 0);

		if (fd < 0)
			return held(-errno);
		return held(r(syscall(SYS_pidfd_getfd, fd, 3, 0)));
	}
	if (!strcmp(how, "vmread")) {	/* read its memory: its stack */
		char buf[64], path[64], line[256];
		unsigned long lo = 0;
		struct iovec l = { buf, sizeof(buf) }, rm;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/maps", pid);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, "[stack]"))
				lo = strtoul(line, NULL, 16);
		if (f)
			fclose(f);
		if (!lo)	/* maps unreadable: try a plausible address */
			lo = 0x7ff000000000UL;
		rm.iov_base = (void *)lo;
		rm.iov_len = sizeof(buf);
		return held(r(syscall(SYS_process_vm_readv, pid, &l, 1, &rm, 1, 0)));
	}
	if (!strcmp(how, "sigio")) {
		/* The kernel sends SIGIO (default: terminate) to the owner
		 * when the socket becomes readable; our own write makes it. */
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) ||
		    fcntl(sv[0], F_SETOWN, pid) ||
		    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_ASYNC))
			return held(-errno);
		if (write(sv[1], "x", 1) != 1)
			return held(-errno);
		usleep(200000);
		printf("sent\n");	/* the verdict is the victim's */
		return 0;
	}
	if (!strcmp(how, "sigio_peer")) {
		/* Same, but the data comes from a process outside the
		 * fence: argv[4] is a port on 127.0.0.1 that sends a byte
		 * after a delay. */
		fprintf(stderr, "escape: sigio_peer takes a port\n");
		return 2;
	}
	fprintf(stderr, "escape: unknown signal route %s\n", how);
	return 2;
}

/* SIGIO from data a peer outside the fence sends: the kernel signals
 * in the peer's (or a softirq's) context, not ours. */
static int cmd_sigio_peer(pid_t pid, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
		return held(-errno);
	if (fcntl(s, F_SETOWN, pid) || fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_ASYNC))
		return held(-errno);
	if (write(s, "go", 2) != 2)
		return held(-errno);
	usleep(1000000);
	printf("sent\n");
	return 0;
}

static int cmd_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	int bad = 0;

	printf("securebits %#x\n", prctl(PR_GET_SECUREBITS));
	printf("no_new_privs %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	/* Every way to get a capability back. */
	d[0].permitted = d[0].effective = d[0].inheritable = ~0u;
	d[1].permitted = d[1].effective = d[1].inheritable = ~0u;
	bad |= printf("capset all: ") && held(r(syscall(SYS_capset, &hdr, d)));
	bad |= printf("ambient raise sys_admin: ") &&
	       held(r(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0)));
	bad |= printf("securebits clear: ") && held(r(prctl(PR_SET_SECUREBITS, 0, 0, 0, 0)));
	bad |= printf("no_new_privs clear: ") && held(r(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0)));
	bad |= printf("bounding set read sys_admin: ") &&
	       (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 1 ? held(0) : held(-EPERM));
	bad |= printf("chown to nobody: ") && held(r(fchown(open(".", O_RDONLY), 65534, 65534)));
	return bad;
}

static int cmd_clone3_cgroup(const char *dir)
{
	int fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	struct clone_args args = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD };
	long p;

	if (fd < 0)
		return held(-errno);
	args.cgroup = fd;
	p = syscall(SYS_clone3, &args, sizeof(args));
	if (p == 0)
		_exit(0);
	if (p > 0)
		waitpid(p, NULL, 0);
	return held(p < 0 ? -errno : 0);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "sys"))
		return cmd_sys(argc - 2, argv + 2);
	if (argc == 4 && !strcmp(argv[1], "signal"))
		return cmd_signal(argv[2], atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "signal") && !strcmp(argv[2], "sigio_peer"))
		return cmd_sigio_peer(atoi(argv[3]), atoi(argv[4]));
	if (argc == 2 && !strcmp(argv[1], "caps"))
		return cmd_caps();
	if (argc == 3 && !strcmp(argv[1], "clone3-cgroup"))
		return cmd_clone3_cgroup(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "mqcreate")) {
		struct mq_attr at = { .mq_maxmsg = 1, .mq_msgsize = 16 };
		mqd_t q = mq_open(argv[2], O_RDWR | O_CREAT, 0600, &at);

		return q == (mqd_t)-1 ? (perror("mq_open"), 2) : 0;
	}
	if (argc == 3 && !strcmp(argv[1], "mqunlink"))
		return mq_unlink(argv[2]) ? 2 : 0;
	if (argc == 3 && !strcmp(argv[1], "mq")) {
		mqd_t q = mq_open(argv[2], O_RDWR);

		return held(q == (mqd_t)-1 ? -errno : 0);
	}
	fprintf(stderr, "usage: escape sys NAME... | signal HOW PID [PORT] | caps | "
		"clone3-cgroup DIR | mq NAME\n");
	return 2;
}
