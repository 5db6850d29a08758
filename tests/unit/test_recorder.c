// SPDX-License-Identifier: GPL-2.0
/* The recorder's records of repeats the kernel coalesced
 * (bpf/fxco.bpf.h): a first record names the object, a record of its
 * repeats takes the first's path and seq, counts add up in fence_end,
 * and a repeat whose first the recorder never saw says so. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy.h"
#include "journal.h"
#include "json.h"
#include "recorder.h"
#include "../bpf/events.h"
#include "../bpf/syscalls.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* The line of the journal that contains needle. */
static const char *line_with(const char *text, const char *needle, char *out, size_t n)
{
	const char *p = strstr(text, needle), *b, *e;

	if (!p)
		return NULL;
	for (b = p; b > text && b[-1] != '\n'; b--)
		;
	e = strchr(p, '\n');
	snprintf(out, n, "%.*s", (int)(e ? e - b : (long)strlen(b)), b);
	return out;
}

static void fileop(struct af_ev_fileop *e, uint32_t tid, uint64_t kt, uint64_t count,
		   uint64_t ino, const char *path)
{
	struct af_fileop_co *co = (void *)((char *)e + AF_FILEOP_SHORT);

	memset(e, 0, AF_FILEOP_CO_SIZE);
	e->hdr.type = AF_EV_FILEOP;
	e->hdr.size = AF_FILEOP_CO_SIZE;
	e->hdr.pid = e->hdr.tgid = tid;
	e->hdr.ktime = kt;
	e->hdr.fence_id = 1;
	e->sysno = AF_NR_openat;
	e->flags = 01 | 0100 | 01000;
	e->ret = count ? 0 : 3;
	e->dfd = AF_AT_FDCWD;
	e->dflags = AF_FOF_COALESCED;
	memcpy(e->comm, "cc", 3);
	snprintf(e->path, sizeof(e->path), "%s", count ? "" : path);
	co->count = count;
	co->first = count ? kt - 1000 : 0;
	co->last = count ? kt - 10 : 0;
	co->ino = ino;
	co->dev = (8 << 20) | 1;
}

static void test_coalesced_records(void **state)
{
	char dir[] = "/tmp/af-test-recorder-XXXXXX", journal[128], why[512], err[AF_ERR_MAX];
	char *argv[] = { "sh", "-c", "make", NULL }, line[4096], *text;
	const char yaml[] = "apiVersion: agentfence/v1\nkind: Policy\nmetadata: {name: t}\n"
			    "spec:\n  filesystem:\n    writable: [/tmp]\n";
	struct af_recorder_opts ro = {
		.journal = journal, .backend = AF_BACKEND_LANDLOCK, .workspace = "/w",
		.cgroup = "/sys/fs/cgroup/t", .fence_id = 1, .argv = argv, .process_events = true,
	};
	unsigned char buf[AF_FILEOP_CO_SIZE] __attribute__((aligned(8)));
	struct af_ev_fileop *e = (void *)buf;
	struct af_recorder *r = NULL;
	struct af_policy *p = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(journal, sizeof(journal), "%s/j.jsonl", dir);
	assert_int_equal(af_policy_load_buf(yaml, sizeof(yaml) - 1, "t", NULL, &p, err), 0);
	ro.policy = p;
	assert_int_equal(af_recorder_open(&ro, &r, why, sizeof(why)), 0);
	af_recorder_root(r, 100, argv);
	/* The first open of /w/a, then two records of its repeats. */
	fileop(e, 100, 1000000, 0, 42, "/w/a");
	af_recorder_event(r, e, AF_FILEOP_CO_SIZE);
	fileop(e, 100, 2000000, 7, 42, NULL);
	af_recorder_event(r, e, AF_FILEOP_CO_SIZE);
	fileop(e, 100, 3000000, 5, 42, NULL);
	af_recorder_event(r, e, AF_FILEOP_CO_SIZE);
	/* Another thread's repeats of the same file: not the first's. */
	fileop(e, 101, 4000000, 3, 42, NULL);
	af_recorder_event(r, e, AF_FILEOP_CO_SIZE);
	assert_int_equal(af_recorder_close(r, 0, true), 0);
	af_policy_free(p);

	text = slurp(journal);
	assert_non_null(line_with(text, "(again, 7 times)", line, sizeof(line)));
	assert_non_null(strstr(line, "\"path\":\"/w/a\""));
	assert_non_null(strstr(line, "\"coalesced\":{\"count\":7,\"of\":1,"));
	assert_non_null(line_with(text, "(again, 5 times)", line, sizeof(line)));
	assert_non_null(strstr(line, "\"of\":1,"));
	/* The first record is a record like any other. */
	assert_non_null(line_with(text, "\"seq\":1,", line, sizeof(line)));
	assert_non_null(strstr(line, "\"path\":\"/w/a\""));
	assert_null(strstr(line, "coalesced"));
	/* No first seen: said, with the object's dev and ino. */
	assert_non_null(line_with(text, "(again, 3 times)", line, sizeof(line)));
	assert_non_null(strstr(line, "\"path\":\"(dev 8:1 ino 42)\""));
	assert_non_null(strstr(line, "\"path_unresolved\":true"));
	assert_non_null(strstr(line, "\"first_unknown\":true"));
	/* Every open counted: 1 + 7 + 5 + 3. */
	assert_non_null(line_with(text, "\"fence_end\"", line, sizeof(line)));
	assert_non_null(strstr(line, "\"file_effects\":16,\"coalesced\":3,"));
	free(text);
	unlink(journal);
	rmdir(dir);
}

/* A pod's fence names the container of each process record (k8s.c
 * pod_ctag): its members right after the tag, from the header's cgroup;
 * records of no process, and events made in userspace (cgroup 0), carry
 * none; the callee may journal a record of its own first. */
static unsigned int ctag_calls;

static const char *ctag(void *ctx, struct af_journal *j, uint32_t cg, size_t *len)
{
	static const char a[] = ",\"container\":{\"name\":\"agent\",\"id\":\"aaaaaaaaaaaa\"}";
	static const char b[] = ",\"container\":{\"name\":\"side\",\"id\":\"bbbbbbbbbbbb\"}";
	struct af_json *w;

	(void)ctx;
	if (!ctag_calls++ && (w = af_journal_begin(j, "k8s_container", NULL))) {
		af_json_str(w, "name", "agent");
		af_journal_commit(j);
	}
	if (cg == 7) {
		*len = sizeof(a) - 1;
		return a;
	}
	if (cg == 8) {
		*len = sizeof(b) - 1;
		return b;
	}
	return NULL;
}

static void test_container_members(void **state)
{
	char dir[] = "/tmp/af-test-recorder-XXXXXX", journal[128], why[512], err[AF_ERR_MAX];
	char *argv[] = { "sh", NULL }, line[4096], *text;
	const char yaml[] = "apiVersion: agentfence/v1\nkind: Policy\nmetadata: {name: t}\n"
			    "spec:\n  filesystem:\n    writable: [/tmp]\n";
	struct af_recorder_opts ro = {
		.journal = journal, .backend = AF_BACKEND_LANDLOCK, .workspace = "/w",
		.cgroup = "/sys/fs/cgroup/t", .fence_id = 1, .argv = argv, .process_events = true,
		.tag = ",\"pod\":{\"namespace\":\"ns\",\"name\":\"p\",\"node\":\"n\"}",
	};
	struct af_ev_fork fk = {};
	struct af_recorder *r = NULL;
	struct af_policy *p = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(journal, sizeof(journal), "%s/j.jsonl", dir);
	assert_int_equal(af_policy_load_buf(yaml, sizeof(yaml) - 1, "t", NULL, &p, err), 0);
	ro.policy = p;
	assert_int_equal(af_recorder_open(&ro, &r, why, sizeof(why)), 0);
	af_recorder_set_ctag(r, ctag, NULL);
	af_recorder_root(r, 100, argv);
	fk.hdr.type = AF_EV_FORK;
	fk.hdr.size = sizeof(fk);
	fk.hdr.pid = fk.hdr.tgid = 100;
	fk.hdr.ktime = 1000;
	fk.hdr.fence_id = 1;
	memcpy(fk.comm, "sh", 3);
	fk.hdr.cgroup = 7;
	fk.child = 201;
	af_recorder_event(r, &fk, sizeof(fk));
	fk.hdr.cgroup = 8;
	fk.child = 202;
	af_recorder_event(r, &fk, sizeof(fk));
	fk.hdr.cgroup = 9;	/* the pod's own cgroup: none */
	fk.child = 203;
	af_recorder_event(r, &fk, sizeof(fk));
	fk.hdr.cgroup = 0;	/* not the kernel's: not asked */
	fk.child = 204;
	af_recorder_event(r, &fk, sizeof(fk));
	assert_int_equal(af_recorder_close(r, 0, true), 0);
	af_policy_free(p);
	assert_int_equal(ctag_calls, 3);

	text = slurp(journal);
	assert_non_null(line_with(text, "\"fork pid 201\"", line, sizeof(line)));
	assert_non_null(strstr(line, "\"type\":\"fork\",\"pod\":{\"namespace\":\"ns\",\"name\":\"p\","
				     "\"node\":\"n\"},\"container\":{\"name\":\"agent\",\"id\":\"aaaaaaaaaaaa\"},"
				     "\"pid\":100,"));
	assert_non_null(line_with(text, "\"fork pid 202\"", line, sizeof(line)));
	assert_non_null(strstr(line, "\"container\":{\"name\":\"side\""));
	assert_null(strstr(line, "agent"));
	assert_non_null(line_with(text, "\"fork pid 203\"", line, sizeof(line)));
	assert_null(strstr(line, "container"));
	assert_non_null(line_with(text, "\"fork pid 204\"", line, sizeof(line)));
	assert_null(strstr(line, "container"));
	/* The callee's own record comes before the first it named, whole. */
	assert_non_null(line_with(text, "\"type\":\"k8s_container\"", line, sizeof(line)));
	assert_non_null(strstr(line, "\"seq\":1,"));
	assert_null(line_with(text, "\"fence_start\",\"pod\":{\"namespace\":\"ns\",\"name\":\"p\","
				    "\"node\":\"n\"},\"container\"", line, sizeof(line)));
	assert_non_null(line_with(text, "\"fence_end\"", line, sizeof(line)));
	assert_null(strstr(line, "\"container\""));
	free(text);
	unlink(journal);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coalesced_records),
		cmocka_unit_test(test_container_members),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
