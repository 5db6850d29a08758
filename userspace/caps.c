// SPDX-License-Identifier: GPL-2.0
/*
 * Why raw capset(2)/prctl(2) and not libcap-ng: the drop runs in the
 * child between fork and exec, where only async-signal-safe calls are
 * sound, and it is six system calls whose order matters (bounding set
 * and securebits need CAP_SETPCAP, so they go before the capset that
 * gives it up). libcap-ng would add a library, global state and
 * allocations to the one place that must not have them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"

static const char *const names[AF_CAP_LAST + 1] = {
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill",
	"setgid", "setuid", "setpcap", "linux_immutable", "net_bind_service",
	"net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
	"sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time",
	"sys_tty_config", "mknod", "lease", "audit_write", "audit_control",
	"setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
	"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
};

const char *af_cap_name(unsigned int cap)
{
	return cap <= AF_CAP_LAST ? names[cap] : NULL;
}

int af_cap_parse(const char *name)
{
	unsigned int i;

	if (!strncasecmp(name, "cap_", 4))
		name += 4;
	for (i = 0; i <= AF_CAP_LAST; i++)
		if (!strcasecmp(name, names[i]))
			return (int)i;
	return -1;
}

uint64_t af_caps_dangerous(void)
{
	/* Each reaches past the fence's hooks: the kernel itself, other
	 * users' files and processes, the network's configuration. */
	static const int bad[] = {
		CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_SETUID, CAP_SETGID,
		CAP_SETPCAP, CAP_LINUX_IMMUTABLE, CAP_NET_ADMIN, CAP_SYS_MODULE,
		CAP_SYS_RAWIO, CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_MKNOD,
		CAP_SETFCAP, CAP_MAC_OVERRIDE, CAP_MAC_ADMIN, CAP_SYS_TIME, CAP_PERFMON,
		CAP_BPF, CAP_CHECKPOINT_RESTORE, CAP_KILL, CAP_AUDIT_CONTROL,
	};
	uint64_t m = 0;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		m |= 1ULL << bad[i];
	return m;
}

void af_caps_format(uint64_t mask, char *buf, size_t size)
{
	size_t off = 0;
	unsigned int i;
	int n;

	if (size)
		buf[0] = '\0';
	for (i = 0; i <= AF_CAP_LAST; i++) {
		if (!(mask & (1ULL << i)))
			continue;
		n = snprintf(buf + off, size > off ? size - off : 0, "%s%s", off ? "," : "",
			     names[i]);
		if (n < 0 || off + n >= size) {
			/* Whole names only. */
			if (off < size)
				buf[off] = '\0';
			return;
		}
		off += n;
	}
}

int af_caps_apply(uint64_t keep, const struct af_cred *cred, const char **why)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	unsigned long c;
	int r;

	/* The kernel may know more capabilities than this build: drop
	 * those too, up to the first number it calls invalid. */
	for (c = 0; c < 64; c++) {
		if (keep & (1ULL << c))
			continue;
		r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (r < 0)
			break;
		if (r && prctl(PR_CAPBSET_DROP, c, 0, 0, 0)) {
			*why = "PR_CAPBSET_DROP";
			return -errno;
		}
	}
	/* uid 0 gains no capability at execve, setuid transitions do not
	 * touch the sets, and nothing of this can be undone. */
	if (prctl(PR_SET_SECUREBITS,
		  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		  SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
		  SECBIT_KEEP_CAPS_LOCKED, 0, 0, 0)) {
		*why = "PR_SET_SECUREBITS";
		return -errno;
	}
	/* Running as the invoking user: CAP_SETUID and CAP_SETGID are
	 * still held, and with SECBIT_NO_SETUID_FIXUP the change leaves
	 * the sets alone for the capset below to decide. Groups first:
	 * setgroups needs CAP_SETGID, which the uid change does not take
	 * away here but would elsewhere. Raw system calls: glibc's
	 * wrappers broadcast to threads, which this child has none of. */
	if (cred && cred->set) {
		if (syscall(SYS_setgroups, cred->ngroups, cred->groups)) {
			*why = "setgroups";
			return -errno;
		}
		if (syscall(SYS_setresgid, cred->gid, cred->gid, cred->gid)) {
			*why = "setresgid";
			return -errno;
		}
		if (syscall(SYS_setresuid, cred->uid, cred->uid, cred->uid)) {
			*why = "setresuid";
			return -errno;
		}
	}
	data[0].permitted = data[0].effective = data[0].inheritable = (uint32_t)keep;
	data[1].permitted = data[1].effective = data[1].inheritable = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &hdr, data)) {
		*why = "capset";
		return -errno;
	}
	/* With SECBIT_NOROOT the granted ones survive execve only as
	 * ambient capabilities. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)) {
		*why = "PR_CAP_AMBIENT_CLEAR_ALL";
		return -errno;
	}
	for (c = 0; c < 64; c++) {
		if ((keep & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0)) {
			*why = "PR_CAP_AMBIENT_RAISE";
			return -errno;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		*why = "PR_SET_NO_NEW_PRIVS";
		return -errno;
	}
	return 0;
}
