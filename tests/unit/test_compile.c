// SPDX-License-Identifier: GPL-2.0
/*
 * Policy compile without root, kernel or libbpf: policy + identities ->
 * the entries a fence's maps get, and every kernel-side limit located.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "compile.h"
#include "policy.h"

#define HEAD	"apiVersion: agentfence/v1\nkind: Policy\nmetadata: {name: c}\nspec:\n"

static struct af_policy *load(const char *doc)
{
	struct af_policy *p = NULL;
	char err[AF_ERR_MAX];

	if (af_policy_load_buf(doc, strlen(doc), "c.yaml", NULL, &p, err))
		fail_msg("policy: %s", err);
	return p;
}

static struct af_ident ident(uint32_t dev, uint64_t ino, bool dir)
{
	return (struct af_ident){ .dev = dev, .ino = ino, .dir = dir };
}

static void test_roots_and_cfg(void **state)
{
	struct af_policy *p = load(HEAD "  mode: audit\n  filesystem:\n    writable: [/tmp, /]\n"
				   "    deny_read: [/tmp/a, /tmp/b]\n  events: [exec, file]\n");
	struct af_ident w[2] = { ident(7, 100, true), ident(7, 2, true) };
	struct af_ident d[2] = { ident(7, 101, false), { .err = -ENOENT } };
	struct af_idents ids = { .writable = w, .deny_read = d };
	struct af_entries *e;
	char err[AF_ERR_MAX];

	(void)state;
	assert_int_equal(af_compile(p, &ids, AF_BACKEND_LSM_CGROUP, &e, err), 0);
	/* A missing deny_read path has nothing to protect: no entry. */
	assert_int_equal(e->n_roots, 3);
	assert_int_equal(e->roots[0].key.ino, 100);
	assert_int_equal(e->roots[0].key.dev, 7);
	assert_int_equal(e->roots[0].key.fence_id, 0);
	assert_int_equal(e->roots[0].val.kind, AF_ROOT_WRITABLE);
	assert_int_equal(e->roots[2].val.kind, AF_ROOT_DENY_READ);
	assert_true(e->cfg.flags & AF_FENCE_AUDIT);
	assert_true(e->cfg.flags & AF_FENCE_DENY_READ);
	assert_true(e->cfg.flags & AF_FENCE_EV_EXEC);
	assert_true(e->cfg.flags & AF_FENCE_EV_FILE);
	assert_false(e->cfg.flags & AF_FENCE_EV_FORK);
	assert_int_equal(e->cfg.n_rdevs, 1);
	assert_int_equal(e->cfg.rdevs[0], 7);
	/* No network section: no allowlist entries at all, and the node's
	 * socket LSM programs leave the fence alone. */
	assert_false(e->cfg.flags & AF_FENCE_NET);
	assert_int_equal(e->cfg.net_families, 0);
	assert_int_equal(e->cfg.key, 0);
	assert_int_equal(e->n_net, 0);
	assert_int_equal(e->n_unix, 0);
	af_entries_free(e);
	/* Landlock's denials come as refusals: reported on that backend. */
	assert_int_equal(af_compile(p, &ids, AF_BACKEND_LANDLOCK, &e, err), 0);
	assert_true(e->cfg.flags & AF_FENCE_EV_REFUSED);
	af_entries_free(e);
	af_policy_free(p);
}

/* A writable path that cannot be resolved fails the compile, located. */
static void test_unresolved_writable(void **state)
{
	struct af_policy *p = load(HEAD "  filesystem:\n    writable: [/tmp]\n");
	struct af_ident w[1] = { { .err = -EACCES } };
	struct af_idents ids = { .writable = w };
	struct af_entries *e;
	char err[AF_ERR_MAX];

	(void)state;
	assert_int_equal(af_compile(p, &ids, AF_BACKEND_LSM, &e, err), -EACCES);
	assert_null(e);
	assert_string_equal(err, "c.yaml:6:16: /tmp: Permission denied");
	af_policy_free(p);
}

/* More deny_read devices than the config holds: every read is checked. */
static void test_rdevs_overflow(void **state)
{
	struct af_policy *p = load(HEAD "  filesystem:\n    writable: [/tmp]\n"
				   "    deny_read: [/a, /b, /c, /d, /e, /f, /g]\n");
	struct af_ident w[1] = { ident(1, 1, true) }, d[7];
	struct af_idents ids = { .writable = w, .deny_read = d };
	struct af_entries *e;
	char err[AF_ERR_MAX];
	int i;

	(void)state;
	for (i = 0; i < 7; i++)
		d[i] = ident(10 + (i < 6 ? i : 0), 50 + i, false);
	assert_int_equal(af_compile(p, &ids, AF_BACKEND_LSM, &e, err), 0);
	assert_int_equal(e->cfg.n_rdevs, 6);	/* the 7th shares a device */
	af_entries_free(e);
	d[6] = ident(99, 57, false);
	assert_int_equal(af_compile(p, &ids, AF_BACKEND_LSM, &e, err), 0);
	assert_int_equal(e->cfg.n_rdevs, AF_RDEVS_ALL);
	af_entries_free(e);
	af_policy_free(p);
}

static const struct af_net_entry *find_net(const struct af_entries *e, int family,
					   uint32_t prefix, const char *addr4)
{
	uint8_t a[4];
	size_t i;

	sscanf(addr4, "%hhu.%hhu.%hhu.%hhu", &a[0], &a[1], &a[2], &a[3]);
	for (i = 0; i < e->n_net; i++) {
		if (e->net[i].key.family == (uint32_t)family &&
		    e->net[i].key.prefixlen == AF_NET_KEY_BITS + prefix &&
		    !memcmp(e->net[i].key.addr, a, family == 4 ? 4 : 0))
			return &e->net[i];
	}
	return NULL;
}

/* The longest match decides alone: its value carries what every entry
 * containing it allows. */
static void test_net_entries_merge(void **state)
{
	struct af_policy *p = load(HEAD "  filesystem:\n    writable: [/tmp]\n  network:\n"
				   "    allow_loopback: false\n    allow:\n"
				   "      - {cidr: 10.0.0.0/8, ports: [443]}\n"
				   "      - {cidr: 10.1.0.0/16, ports: [80], protocol: udp}\n"
				   "      - {cidr: 192.168.0.0/16}\n");
	struct af_ident w[1] = { ident(1, 1, true) };
	struct af_idents ids = { .writable = w };
	const struct af_net_entry *n;
	struct af_entries *e;
	char err[AF_ERR_MAX];

	(void)state;
	assert_int_equal(af_compile(p, &ids, AF_BACKEND_LSM, &e, err), 0);
	assert_int_equal(e->n_net, 3);
	n = find_net(e, 4, 16, "10.1.0.0");
	assert_non_null(n);
	assert_int_equal(n->key.fence_id, 0);
	assert_int_equal(n->val.nports, 2);
	assert_int_equal(n->val.ports[0].port, 443);
	assert_int_equal(n->val.ports[0].protos, AF_NET_TCP | AF_NET_UDP);
	assert_int_equal(n->val.ports[1].port, 80);
	assert_int_equal(n->val.ports[1].protos, AF_NET_UDP);
	n = find_net(e, 4, 16, "192.168.0.0");
	assert_non_null(n);
	assert_int_equal(n->val.any_port, AF_NET_TCP | AF_NET_UDP);
	assert_int_equal(n->val.nports, 0);
	af_entries_free(e);
	af_policy_free(p);
}

/* The policy's network knobs live in the fence's config, not in the
 * node's rodata (one object serves fences with and without them). */
static void test_net_cfg(void **state)
{
	struct af_policy *p = load(HEAD "  filesystem:\n    writable: [/tmp]\n  network:\n"
				   "    families: [packet]\n");
	struct af_ident w[1] = { ident(1, 1, true) };
	struct af_idents ids = { .writable = w };
	struct af_entries *e;
	char err[AF_ERR_MAX];

	(void)state;
	assert_int_equal(af_compile(p, &ids, AF_BACKEND_LSM_CGROUP, &e, err), 0);
	assert_true(e->cfg.flags & AF_FENCE_NET);
	assert_int_equal(e->cfg.net_families, p->families);
	assert_true(e->cfg.net_families & (1ULL << 17));	/* AF_PACKET */
	af_entries_free(e);
	af_policy_free(p);
}

/* An entry holds AF_NET_VAL_PORTS ports: policy check must say which
 * rule goes past it, by line and column. */
static void test_ports_per_prefix_limit(void **state)
{
	char doc[4096], p1[512] = "", p2[512] = "", p3[512] = "";
	struct af_ident w[1] = { ident(1, 1, true) };
	struct af_idents ids = { .writable = w };
	struct af_entries *e;
	char err[AF_ERR_MAX];
	struct af_policy *p;
	int i;

	(void)state;
	for (i = 0; i < 32; i++) {
		snprintf(p1 + strlen(p1), sizeof(p1) - strlen(p1), "%s%d", i ? "," : "", 1000 + i);
		snprintf(p2 + strlen(p2), sizeof(p2) - strlen(p2), "%s%d", i ? "," : "", 2000 + i);
	}
	snprintf(p3, sizeof(p3), "3000");
	/* 32 + 32 ports fit exactly. */
	snprintf(doc, sizeof(doc), HEAD "  filesystem:\n    writable: [/tmp]\n  network:\n    allow:\n"
		 "      - {cidr: 10.0.0.0/8, ports: [%s]}\n      - {cidr: 10.1.0.0/16, ports: [%s]}\n",
		 p1, p2);
	p = load(doc);
	assert_int_equal(af_compile(p, &ids, AF_BACKEND_LSM, &e, err), 0);
	af_entries_free(e);
	af_policy_free(p);
	/* One port more, in a range inside both: line 11, column 9. */
	snprintf(doc, sizeof(doc), HEAD "  filesystem:\n    writable: [/tmp]\n  network:\n    allow:\n"
		 "      - {cidr: 10.0.0.0/8, ports: [%s]}\n      - {cidr: 10.1.0.0/16, ports: [%s]}\n"
		 "      - {cidr: 10.1.2.0/24, ports: [%s]}\n", p1, p2, p3);
	p = load(doc);
	assert_int_equal(af_compile(p, &ids, AF_BACKEND_LSM, &e, err), -E2BIG);
	assert_null(e);
	assert_string_equal(err, "c.yaml:11:9: more than 64 distinct ports for one address range "
			    "(with the rules that contain it)");
	af_policy_free(p);
}

static void test_unix_entries_and_limit(void **state)
{
	char doc[1024], longp[120];
	struct af_ident w[1] = { ident(1, 1, true) };
	struct af_ident u[2] = { ident(5, 5, true), ident(5, 6, false) };
	struct af_idents ids = { .writable = w, .unix_allow = u };
	struct af_entries *e;
	char err[AF_ERR_MAX];
	struct af_policy *p;

	(void)state;
	p = load(HEAD "  filesystem:\n    writable: [/tmp]\n  network:\n"
		 "    unix: {allow: [/run/dir, /run/one.sock]}\n");
	assert_int_equal(af_compile(p, &ids, AF_BACKEND_LSM, &e, err), 0);
	assert_int_equal(e->n_unix, 2);
	/* A directory covers what is beneath it; a file is matched with its NUL. */
	assert_string_equal(e->unix_keys[0].path, "/run/dir/");
	assert_int_equal(e->unix_keys[0].prefixlen, AF_NET_KEY_BITS + 8 * 9);
	assert_string_equal(e->unix_keys[1].path, "/run/one.sock");
	assert_int_equal(e->unix_keys[1].prefixlen, AF_NET_KEY_BITS + 8 * 14);
	af_entries_free(e);
	af_policy_free(p);

	memset(longp, 'x', sizeof(longp));
	longp[0] = '/';
	longp[107] = 0;		/* 107 bytes: no room for the NUL and a '/' */
	snprintf(doc, sizeof(doc), HEAD "  filesystem:\n    writable: [/tmp]\n  network:\n"
		 "    unix: {allow: [%s]}\n", longp);
	p = load(doc);
	assert_int_equal(af_compile(p, &ids, AF_BACKEND_LSM, &e, err), -ENAMETOOLONG);
	assert_non_null(strstr(err, "c.yaml:8:20: /xxx"));
	assert_non_null(strstr(err, ": longer than a unix socket path can be"));
	af_policy_free(p);
}

/* What DNS answers teach: the host rule's ports, plus the cidrs that
 * contain the address; nothing left alive: the entry goes. */
static void test_learned(void **state)
{
	struct af_policy *p = load(HEAD "  filesystem:\n    writable: [/tmp]\n  network:\n"
				   "    allow_loopback: false\n    allow:\n"
				   "      - {host: api.example.com, ports: [443]}\n"
				   "      - {cidr: 10.0.0.0/8, ports: [22]}\n");
	const uint8_t a[4] = { 10, 1, 2, 3 }, b[4] = { 192, 0, 2, 1 };
	bool live[2] = { true, false }, remove;
	struct af_net_entry n;

	(void)state;
	assert_int_equal(af_compile_learned(p, 4, a, live, &n, &remove), 0);
	assert_false(remove);
	assert_int_equal(n.key.prefixlen, AF_NET_KEY_BITS + 32);
	assert_memory_equal(n.key.addr, a, 4);
	assert_int_equal(n.val.nports, 2);
	assert_int_equal(af_compile_learned(p, 4, b, live, &n, &remove), 0);
	assert_false(remove);
	assert_int_equal(n.val.nports, 1);
	assert_int_equal(n.val.ports[0].port, 443);
	live[0] = false;
	assert_int_equal(af_compile_learned(p, 4, b, live, &n, &remove), 0);
	assert_true(remove);
	af_policy_free(p);
}

/* af_resolve asks the filesystem: the only impure step. */
static void test_resolve(void **state)
{
	struct af_policy *p = load(HEAD "  filesystem:\n    writable: [/tmp]\n"
				   "    deny_read: [/nonexistent-af-compile]\n");
	struct af_idents ids;
	struct stat st;

	(void)state;
	assert_int_equal(af_resolve(p, &ids), 0);
	assert_int_equal(stat("/tmp", &st), 0);
	assert_int_equal(ids.writable[0].err, 0);
	assert_int_equal(ids.writable[0].ino, st.st_ino);
	assert_int_equal(ids.writable[0].dev, af_kdev(st.st_dev));
	assert_true(ids.writable[0].dir);
	assert_int_equal(ids.deny_read[0].err, -ENOENT);
	af_idents_free(&ids);
	af_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roots_and_cfg),
		cmocka_unit_test(test_unresolved_writable),
		cmocka_unit_test(test_rdevs_overflow),
		cmocka_unit_test(test_net_entries_merge),
		cmocka_unit_test(test_net_cfg),
		cmocka_unit_test(test_ports_per_prefix_limit),
		cmocka_unit_test(test_unix_entries_and_limit),
		cmocka_unit_test(test_learned),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
