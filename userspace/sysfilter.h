/* SPDX-License-Identifier: GPL-2.0 */
/* The seccomp filter beneath every backend: system calls an agent has
 * no business making, refused whatever the fs backend (seccomp.c holds
 * the one table, each entry with why). */
#ifndef AF_SYSFILTER_H
#define AF_SYSFILTER_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"

struct af_seccomp {
	struct sock_filter *insns;	/* the classic BPF program */
	unsigned short len;
	char sha256[AF_SHA256_HEX];	/* of the program's bytes, for the journal */
	unsigned int rules;		/* table entries in the program */
};

/* Build the filter (libseccomp: allocates; call before fork). Returns
 * 0 or -errno with the reason in why. */
int af_seccomp_build(struct af_seccomp *s, char *why, size_t why_size);

/* What a fence's filter adds to the table's fixed entries. */
struct af_seccomp_opts {
	bool families_filter;	/* socket(2)/socketpair(2) by family (Landlock backend) */
	uint64_t families;	/* spec.network.families: allowed beyond unix, inet, inet6 */
};

int af_seccomp_build_opts(struct af_seccomp *s, const struct af_seccomp_opts *o, char *why,
			  size_t why_size);

/* The classes of bpf/fence.h's af_sysclass by system call number (the
 * seccomp table's calls, and those whose -EPERM means a missing
 * capability), for the BPF programs that journal the box's refusals. */
void af_sysclass_fill(uint8_t *class, size_t n);

/* The capability whose absence an -EPERM of system call nr means, or -1. */
int af_syscall_cap(int nr);

/* The name of system call nr of the native ABI ("syscall N" if unknown). */
void af_syscall_name(int nr, char *buf, size_t n);

/* Install it on the calling thread (no_new_privs must be set): for the
 * child between fork and exec, async-signal-safe. 0 or -errno. */
int af_seccomp_install(const struct af_seccomp *s);

void af_seccomp_free(struct af_seccomp *s);

/* Walk the table for doctor: fn gets each entry's system call, the
 * condition ("" when always), what it returns and why. */
typedef void (*af_seccomp_entry_fn)(void *ctx, const char *syscall, const char *when,
				    const char *action, const char *why);
void af_seccomp_describe(af_seccomp_entry_fn fn, void *ctx);

/* What happens to a system call of a foreign ABI (i386, x32). */
#define AF_SECCOMP_BADARCH "killed (SIGSYS): i386 and x32 system calls are not filtered, so not allowed"

#endif /* AF_SYSFILTER_H */
