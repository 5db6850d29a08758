/* SPDX-License-Identifier: GPL-2.0 */
/* System call numbers, one table per architecture: the only place they
 * are written. The BPF programs read them off pt_regs and the syscall
 * tracepoints, the events carry them (af_ev_file.sysno,
 * af_ev_fileop.sysno) and userspace names them, so all three must agree
 * on one table. Types only; BPF (__TARGET_ARCH_*) and userspace
 * (__x86_64__) alike. */
#ifndef AF_SYSCALLS_H
#define AF_SYSCALLS_H

#if defined(__TARGET_ARCH_x86) || (!defined(__bpf__) && defined(__x86_64__))

/* arch/x86/entry/syscalls/syscall_64.tbl */
#define AF_NR_open		2
#define AF_NR_access		21
#define AF_NR_truncate		76
#define AF_NR_ftruncate		77
#define AF_NR_rename		82
#define AF_NR_mkdir		83
#define AF_NR_rmdir		84
#define AF_NR_creat		85
#define AF_NR_link		86
#define AF_NR_unlink		87
#define AF_NR_symlink		88
#define AF_NR_chmod		90
#define AF_NR_fchmod		91
#define AF_NR_chown		92
#define AF_NR_fchown		93
#define AF_NR_lchown		94
#define AF_NR_utime		132
#define AF_NR_mknod		133
#define AF_NR_setxattr		188
#define AF_NR_fsetxattr		190
#define AF_NR_lsetxattr		189
#define AF_NR_removexattr	197
#define AF_NR_lremovexattr	198
#define AF_NR_fremovexattr	199
#define AF_NR_utimes		235
#define AF_NR_openat		257
#define AF_NR_mkdirat		258
#define AF_NR_mknodat		259
#define AF_NR_fchownat		260
#define AF_NR_futimesat		261
#define AF_NR_unlinkat		263
#define AF_NR_renameat		264
#define AF_NR_linkat		265
#define AF_NR_symlinkat		266
#define AF_NR_fchmodat		268
#define AF_NR_faccessat		269
#define AF_NR_utimensat		280
#define AF_NR_fallocate		285
#define AF_NR_renameat2		316
#define AF_NR_openat2		437
#define AF_NR_faccessat2	439
#define AF_NR_fchmodat2		452	/* 6.6+ */

#else
/* Another architecture needs its own table here (arm64 has no open,
 * mkdir, rename...: only their *at forms), and its argument registers
 * in bpf/fs.bpf.c and bpf/effects.bpf.c. */
#error "bpf/syscalls.h: no system call table for this architecture"
#endif

#endif /* AF_SYSCALLS_H */
