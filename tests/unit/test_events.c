// SPDX-License-Identifier: GPL-2.0
/* Packed file effect records (AF_EV_FILEOP_PK, bpf/fileop.bpf.h) made
 * whole again (userspace/events.c af_fileop_unpack): the names land
 * where struct af_ev_fileop has them, NUL-terminated; the coalescing
 * part and the second names come back; a record whose lengths do not
 * add up is refused, whichever length is wrong. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "events.h"
#include "../bpf/events.h"
#include "../bpf/syscalls.h"

struct pk {
	unsigned char b[AF_FILEOP_PK_MAX];
	size_t n;
};

static void pk_add(struct pk *p, const void *src, size_t n)
{
	assert_true(p->n + n <= sizeof(p->b));
	memcpy(p->b + p->n, src, n);
	p->n += n;
}

/* A packed record as the kernel side lays it out (bpf/events.h). */
static void pack(struct pk *p, const char *path, const char *dir, size_t dlen, const char *path2,
		 const char *dir2, size_t d2len, const struct af_fileop_co *co)
{
	struct af_ev_fileop h = { 0 };

	h.hdr.type = AF_EV_FILEOP_PK;
	h.hdr.pid = h.hdr.tgid = 42;
	h.sysno = path2 ? AF_NR_renameat2 : AF_NR_openat;
	h.ret = 3;
	h.dir_len = dlen;
	h.lens = strlen(path);
	if (path2) {
		h.dir2_len = d2len;
		h.lens |= strlen(path2) << AF_PK_LEN2_SHIFT | AF_PK_TWO;
	}
	if (co)
		h.dflags = AF_FOF_COALESCED;
	strcpy(h.comm, "agent");
	p->n = 0;
	pk_add(p, &h, AF_FILEOP_HEAD);
	if (co)
		pk_add(p, co, sizeof(*co));
	pk_add(p, path, strlen(path));
	pk_add(p, dir, dlen);
	if (path2) {
		pk_add(p, path2, strlen(path2));
		pk_add(p, dir2, d2len);
	}
	((struct af_hdr *)p->b)->size = p->n;
}

static void test_one_name(void **state)
{
	struct af_ev_fileop e;
	struct pk p;

	(void)state;
	pack(&p, "src/main.c", "ws\0home\0", 8, NULL, NULL, 0, NULL);
	memset(&e, 0x55, sizeof(e));
	assert_int_equal(af_fileop_unpack(p.b, p.n, &e), AF_FILEOP_SHORT);
	assert_int_equal(e.hdr.type, AF_EV_FILEOP);
	assert_int_equal(e.hdr.size, AF_FILEOP_SHORT);
	assert_int_equal(e.hdr.pid, 42);
	assert_int_equal(e.ret, 3);
	assert_int_equal(e.lens, 0);
	assert_string_equal(e.comm, "agent");
	assert_string_equal(e.path, "src/main.c");
	assert_int_equal(e.dir_len, 8);
	assert_memory_equal(e.dir, "ws\0home\0", 8);
}

static void test_two_names(void **state)
{
	struct af_ev_fileop e;
	struct pk p;

	(void)state;
	pack(&p, "a", "ws\0", 3, "b/c", "b\0ws\0", 5, NULL);
	memset(&e, 0x55, sizeof(e));
	assert_int_equal(af_fileop_unpack(p.b, p.n, &e), sizeof(e));
	assert_int_equal(e.hdr.size, sizeof(e));
	assert_string_equal(e.path, "a");
	assert_string_equal(e.path2, "b/c");
	assert_int_equal(e.dir2_len, 5);
	assert_memory_equal(e.dir2, "b\0ws\0", 5);
}

static void test_coalesced(void **state)
{
	struct af_fileop_co co = { .count = 7, .first = 1, .last = 2, .ino = 99, .name = 5, .dev = 8 };
	const struct af_fileop_co *got;
	struct af_ev_fileop e;
	struct pk p;

	(void)state;
	/* A record of repeats: no names at all. */
	pack(&p, "", "", 0, NULL, NULL, 0, &co);
	assert_int_equal(p.n, AF_FILEOP_HEAD + sizeof(co));
	assert_int_equal(af_fileop_unpack(p.b, p.n, &e), AF_FILEOP_CO_SIZE);
	got = (const void *)((const char *)&e + AF_FILEOP_SHORT);
	assert_memory_equal(got, &co, sizeof(co));
	assert_string_equal(e.path, "");
	/* The first record of a coalesced object: names and the key. */
	co.count = 0;
	pack(&p, "out.log", "ws\0", 3, NULL, NULL, 0, &co);
	assert_int_equal(af_fileop_unpack(p.b, p.n, &e), AF_FILEOP_CO_SIZE);
	assert_string_equal(e.path, "out.log");
	assert_int_equal(((const struct af_fileop_co *)((const char *)&e + AF_FILEOP_SHORT))->ino, 99);
}

static void test_longest_names(void **state)
{
	char name[AF_PATH_MAX], dir[AF_PATH_MAX + 1];
	struct af_ev_fileop e;
	struct pk p;

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	memset(dir, 'd', AF_PATH_MAX);
	dir[AF_PATH_MAX] = 0;
	pack(&p, name, dir, AF_PATH_MAX, name, dir, AF_PATH_MAX, NULL);
	assert_int_equal(p.n, AF_FILEOP_HEAD + 4 * AF_PATH_MAX - 2);
	assert_int_equal(af_fileop_unpack(p.b, p.n, &e), sizeof(e));
	assert_string_equal(e.path, name);
	assert_string_equal(e.path2, name);
	assert_memory_equal(e.dir2, dir, AF_PATH_MAX);
}

/* Every way the lengths can disagree with the bytes. */
static void test_bad_records(void **state)
{
	struct af_fileop_co co = { 0 };
	struct af_ev_fileop e, *h;
	struct pk p;

	(void)state;
	pack(&p, "abc", "ws\0", 3, NULL, NULL, 0, NULL);
	h = (struct af_ev_fileop *)p.b;
	assert_int_equal(af_fileop_unpack(p.b, p.n - 1, &e), -EINVAL);	/* hdr.size says more */
	assert_int_equal(af_fileop_unpack(p.b, AF_FILEOP_HEAD - 1, &e), -EINVAL);
	h->lens++;
	assert_int_equal(af_fileop_unpack(p.b, p.n, &e), -EINVAL);
	h->lens--;
	h->dir_len--;
	assert_int_equal(af_fileop_unpack(p.b, p.n, &e), -EINVAL);
	h->dir_len++;
	h->lens |= 1 << AF_PK_LEN2_SHIFT;	/* a second name's length without AF_PK_TWO */
	assert_int_equal(af_fileop_unpack(p.b, p.n, &e), -EINVAL);
	h->lens &= AF_PK_LEN_MASK;
	h->hdr.type = AF_EV_FILEOP;
	assert_int_equal(af_fileop_unpack(p.b, p.n, &e), -EINVAL);
	h->hdr.type = AF_EV_FILEOP_PK;
	assert_int_equal(af_fileop_unpack(p.b, p.n, &e), AF_FILEOP_SHORT);

	/* A name of AF_PATH_MAX bytes has no room for its NUL. */
	h->lens = AF_PATH_MAX;
	h->dir_len = 0;
	p.n = AF_FILEOP_HEAD + AF_PATH_MAX;
	h->hdr.size = p.n;
	assert_int_equal(af_fileop_unpack(p.b, p.n, &e), -EINVAL);

	/* Two names and the coalescing part: never made together. */
	pack(&p, "a", "", 0, "b", "", 0, &co);
	assert_int_equal(af_fileop_unpack(p.b, p.n, &e), -EINVAL);
	pack(&p, "a", "", 0, "b", "", 0, NULL);
	h = (struct af_ev_fileop *)p.b;
	h->dir2_len = 1;
	assert_int_equal(af_fileop_unpack(p.b, p.n, &e), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_name),
		cmocka_unit_test(test_two_names),
		cmocka_unit_test(test_coalesced),
		cmocka_unit_test(test_longest_names),
		cmocka_unit_test(test_bad_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
