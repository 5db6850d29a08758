// SPDX-License-Identifier: GPL-2.0
/* units: the process box's pieces that need no fork: capability names,
 * the seccomp filter's build (deterministic, so the journal's hash
 * means something). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "caps.h"
#include "sysfilter.h"
#include "../../bpf/fence.h"
#include <linux/capability.h>
#include <sys/syscall.h>

static void test_cap_names(void **state)
{
	unsigned int i;
	char buf[64];

	(void)state;
	for (i = 0; i <= AF_CAP_LAST; i++) {
		assert_non_null(af_cap_name(i));
		assert_int_equal(af_cap_parse(af_cap_name(i)), i);
		snprintf(buf, sizeof(buf), "CAP_%s", af_cap_name(i));
		assert_int_equal(af_cap_parse(buf), i);
	}
	assert_null(af_cap_name(AF_CAP_LAST + 1));
	assert_int_equal(af_cap_parse("Cap_Net_Bind_Service"), 10);
	assert_int_equal(af_cap_parse("sys_admin"), 21);
	assert_int_equal(af_cap_parse("CAP_"), -1);
	assert_int_equal(af_cap_parse(""), -1);
	assert_int_equal(af_cap_parse("cap_cap_chown"), -1);
	assert_int_equal(af_cap_parse("chown "), -1);
}

static void test_caps_format(void **state)
{
	char buf[512], small[8];

	(void)state;
	af_caps_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	af_caps_format(1ULL << 0 | 1ULL << 10 | 1ULL << 40, buf, sizeof(buf));
	assert_string_equal(buf, "chown,net_bind_service,checkpoint_restore");
	/* Cut at a name, never in one. */
	af_caps_format(1ULL << 0 | 1ULL << 10, small, sizeof(small));
	assert_string_equal(small, "chown");
	assert_true(af_caps_dangerous() & (1ULL << 21));	/* sys_admin */
	assert_false(af_caps_dangerous() & (1ULL << 10));	/* net_bind_service */
}

static unsigned int entries;

static void count(void *ctx, const char *sc, const char *when, const char *action, const char *why)
{
	(void)ctx;
	(void)when;
	assert_non_null(sc);
	assert_true(!strcmp(action, "EPERM") || !strcmp(action, "ENOSYS"));
	assert_true(strlen(why) > 10);	/* every entry says why */
	entries++;
}

static void test_seccomp_build(void **state)
{
	struct af_seccomp a, b;
	char why[256];

	(void)state;
	assert_int_equal(af_seccomp_build(&a, why, sizeof(why)), 0);
	assert_int_equal(af_seccomp_build(&b, why, sizeof(why)), 0);
	assert_true(a.len > 0 && a.len <= 4096);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.insns, b.insns, a.len * sizeof(*a.insns));
	assert_string_equal(a.sha256, b.sha256);
	assert_int_equal(strlen(a.sha256), 64);
	entries = 0;
	af_seccomp_describe(count, NULL);
	/* Without the Landlock backend's family rules (socket, socketpair). */
	assert_int_equal(entries, a.rules + 2);
	af_seccomp_free(&a);
	af_seccomp_free(&b);
	assert_null(a.insns);
}

/* The Landlock backend's filter also refuses socket families; which
 * ones depends on spec.network.families. */
static void test_seccomp_families(void **state)
{
	struct af_seccomp plain, fam, pkt;
	struct af_seccomp_opts o = { .families_filter = true };
	char why[256];

	(void)state;
	assert_int_equal(af_seccomp_build(&plain, why, sizeof(why)), 0);
	assert_int_equal(af_seccomp_build_opts(&fam, &o, why, sizeof(why)), 0);
	o.families = 1ULL << 17;	/* packet */
	assert_int_equal(af_seccomp_build_opts(&pkt, &o, why, sizeof(why)), 0);
	entries = 0;
	af_seccomp_describe(count, NULL);
	assert_int_equal(entries, fam.rules);
	assert_true(fam.len > plain.len && fam.len <= 4096);
	assert_string_not_equal(fam.sha256, plain.sha256);
	assert_string_not_equal(fam.sha256, pkt.sha256);
	af_seccomp_free(&plain);
	af_seccomp_free(&fam);
	af_seccomp_free(&pkt);
}

/* The classes the refusal programs read (bpf/effects.bpf.c). */
static void test_sysclass(void **state)
{
	uint8_t c[AF_SYSCLASS_MAX];

	(void)state;
	af_sysclass_fill(c, sizeof(c));
	assert_int_equal(c[SYS_init_module], AF_SC_SECCOMP);
	assert_int_equal(c[SYS_io_uring_setup], AF_SC_SECCOMP);
	assert_int_equal(c[SYS_open_by_handle_at], AF_SC_SECCOMP);
	assert_int_equal(c[SYS_chroot], AF_SC_CAP);
	assert_int_equal(c[SYS_socket], AF_SC_SECCOMP);
	assert_int_equal(c[SYS_clone3], 0);	/* ENOSYS: glibc falls back, no refusal */
	assert_int_equal(c[SYS_read], 0);
	assert_int_equal(c[SYS_openat], 0);
	assert_int_equal(af_syscall_cap(SYS_chroot), CAP_SYS_CHROOT);
	assert_int_equal(af_syscall_cap(SYS_read), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_names),
		cmocka_unit_test(test_seccomp_families),
		cmocka_unit_test(test_sysclass),
		cmocka_unit_test(test_caps_format),
		cmocka_unit_test(test_seccomp_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
