// SPDX-License-Identifier: GPL-2.0
/*
 * The journal: the chain as written, and verify against every mutation
 * of a 1000-record journal (each record edited, each line deleted,
 * neighbours swapped, cut at many lengths, rotated files deleted,
 * renamed, corrupted, cut), and JSON escaping of hostile strings.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "journal.h"
#include "json.h"
#include "json_read.h"

#define NREC 1000

static char tmp[256];
static char path[PATH_MAX];
static char *orig;		/* the pristine 1000-record journal */
static size_t orig_len;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void write_journal(const char *file, uint64_t rotate, int n)
{
	struct af_journal *j;
	char why[512];
	struct af_json *w;
	int i;

	assert_int_equal(af_journal_open(file, rotate, &j, why, sizeof(why)), 0);
	w = af_journal_begin(j, "fence_start", NULL);
	assert_non_null(w);
	/* Callers add members; the record's closing is the journal's. */
	af_json_str(w, "host", "unit");
	assert_int_equal(af_journal_commit(j), 0);
	for (i = 1; i < n - 1; i++) {
		w = af_journal_begin(j, i % 3 ? "exec" : "deny", NULL);
		af_json_i64(w, "pid", 1000 + i);
		af_json_str(w, "effect", i % 2 ? "exec /bin/sh -c 'echo \"hi\"'" : "denied write /etc/evil");
		assert_int_equal(af_journal_commit(j), 0);
	}
	af_journal_begin(j, "fence_end", NULL);
	assert_int_equal(af_journal_commit(j), 0);
	assert_int_equal(af_journal_records(j), n);
	assert_int_equal(af_journal_close(j), 0);
}

static char *slurp(const char *file, size_t *len)
{
	FILE *f = fopen(file, "re");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = n;
	return buf;
}

static void put(const char *file, const char *buf, size_t len)
{
	FILE *f = fopen(file, "we");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "%s/af-journal-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(path, sizeof(path), "%s/pristine.jsonl", tmp);
	write_journal(path, 0, NREC);
	orig = slurp(path, &orig_len);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(orig);
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Line starts of orig, and their count. */
static size_t line_starts(size_t *starts)
{
	size_t n = 0, i;

	starts[n++] = 0;
	for (i = 0; i + 1 < orig_len; i++)
		if (orig[i] == '\n')
			starts[n++] = i + 1;
	starts[n] = orig_len;
	return n;
}

static enum af_verify_status verify_buf(const char *buf, size_t len, struct af_verify *v)
{
	char file[PATH_MAX + 16];

	snprintf(file, sizeof(file), "%s/m.jsonl", tmp);
	put(file, buf, len);
	af_journal_verify(file, v);
	return v->status;
}

static void test_chain(void **state)
{
	size_t starts[NREC + 2], n, i;
	char prev[AF_SHA256_HEX] = "0000000000000000000000000000000000000000000000000000000000000000";
	struct af_verify v;

	(void)state;
	n = line_starts(starts);
	assert_int_equal(n, NREC);
	for (i = 0; i < n; i++) {
		const char *line = orig + starts[i];
		size_t len = starts[i + 1] - starts[i] - 1;
		char got[80], want[AF_SHA256_HEX];
		unsigned long long seq;
		const char *h = strstr(line, ",\"hash\":\"");

		assert_int_equal(json_get_u64(line, len, "seq", &seq), 0);
		assert_int_equal(seq, i);
		assert_int_equal(json_get_str(line, len, "prev", got, sizeof(got)), 0);
		assert_string_equal(got, prev);
		assert_non_null(h);
		af_sha256_hex(line, h - line, want);
		assert_int_equal(json_get_str(line, len, "hash", got, sizeof(got)), 0);
		assert_string_equal(got, want);
		strcpy(prev, want);
	}
	assert_int_equal(verify_buf(orig, orig_len, &v), AF_VERIFY_INTACT);
	assert_int_equal(v.records, NREC);
	assert_string_equal(v.head, prev);
}

/* A tag (an attached container's): in every record after it is set,
 * right after "type", covered by the hash; the chain verifies. */
static void test_tag(void **state)
{
	static const char tag[] = ",\"container\":{\"runtime\":\"docker\",\"id\":\"3f2a\",\"name\":\"a\\\"b\"}";
	char file[PATH_MAX + 16], why[512], got[64];
	struct af_journal *j;
	struct af_verify v;
	const char *line, *nl, *cv;
	size_t len, cl;
	char *buf;
	int i;

	(void)state;
	snprintf(file, sizeof(file), "%s/tag.jsonl", tmp);
	assert_int_equal(af_journal_open(file, 0, &j, why, sizeof(why)), 0);
	af_journal_begin(j, "fence_start", NULL);
	assert_int_equal(af_journal_commit(j), 0);
	assert_false(af_journal_tagged(j));
	assert_int_equal(af_journal_set_tag(j, tag, strlen(tag)), 0);
	assert_true(af_journal_tagged(j));
	for (i = 0; i < 3; i++) {
		struct af_json *w = af_journal_begin(j, "file", NULL);

		af_json_i64(w, "pid", 7);
		assert_int_equal(af_journal_commit(j), 0);
	}
	af_journal_begin(j, "fence_end", NULL);
	assert_int_equal(af_journal_commit(j), 0);
	assert_int_equal(af_journal_close(j), 0);
	af_journal_verify(file, &v);
	assert_int_equal(v.status, AF_VERIFY_INTACT);
	buf = slurp(file, &len);
	for (line = buf, i = 0; (nl = strchr(line, '\n')); line = nl + 1, i++) {
		int has = !json_find(line, nl - line, "container", &cv, &cl);

		assert_int_equal(has, i > 0);
		if (!has)
			continue;
		assert_non_null(strstr(line, "\"type\":\"file\",\"container\":") ?:
				strstr(line, "\"type\":\"fence_end\",\"container\":"));
		assert_int_equal(json_get_str(cv, cl, "name", got, sizeof(got)), 0);
		assert_string_equal(got, "a\"b");
		if (strstr(line, "\"file\"")) {
			unsigned long long pid;

			assert_int_equal(json_get_u64(line, nl - line, "pid", &pid), 0);
			assert_int_equal(pid, 7);
		}
	}
	assert_int_equal(i, 5);
	free(buf);
}

static void test_refuses_existing_file(void **state)
{
	struct af_journal *j;
	char why[512];

	(void)state;
	assert_int_equal(af_journal_open(path, 0, &j, why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, "never appended"));
}

/* Every record edited (one byte, at a spot that moves through the
 * record), and every byte of the first, a middle and the last record. */
static void test_verify_edits(void **state)
{
	char *buf = malloc(orig_len);
	size_t starts[NREC + 2], i, k;
	size_t whole[] = { 0, NREC / 2, NREC - 1 };
	struct af_verify v;

	(void)state;
	line_starts(starts);
	for (i = 0; i < NREC; i++) {
		size_t len = starts[i + 1] - starts[i];
		size_t at = starts[i] + (i * 7919) % len;

		memcpy(buf, orig, orig_len);
		buf[at] ^= 0x01;
		assert_int_not_equal(verify_buf(buf, orig_len, &v), AF_VERIFY_INTACT);
		if (buf[at] != '\n' && orig[at] != '\n' && at > starts[i] + 20)
			assert_int_equal(v.bad_seq, i);
	}
	for (k = 0; k < sizeof(whole) / sizeof(whole[0]); k++) {
		for (i = starts[whole[k]]; i < starts[whole[k] + 1]; i++) {
			memcpy(buf, orig, orig_len);
			buf[i] = buf[i] == 'x' ? 'y' : 'x';
			assert_int_not_equal(verify_buf(buf, orig_len, &v), AF_VERIFY_INTACT);
		}
	}
	free(buf);
}

static void test_verify_deletions(void **state)
{
	char *buf = malloc(orig_len);
	size_t starts[NREC + 2], i, len;
	struct af_verify v;

	(void)state;
	line_starts(starts);
	for (i = 0; i < NREC; i++) {
		len = starts[i];
		memcpy(buf, orig, len);
		memcpy(buf + len, orig + starts[i + 1], orig_len - starts[i + 1]);
		len += orig_len - starts[i + 1];
		assert_int_not_equal(verify_buf(buf, len, &v), AF_VERIFY_INTACT);
		if (i == NREC - 1) {
			assert_int_equal(v.status, AF_VERIFY_INCOMPLETE);
			assert_non_null(strstr(v.why, "no fence_end"));
		} else {
			assert_int_equal(v.status, AF_VERIFY_BROKEN);
			assert_int_equal(v.bad_seq, i == 0 ? 1 : i + 1);
		}
		if (i > 0 && i < NREC - 1)
			assert_non_null(strstr(v.why, "records deleted"));
	}
	free(buf);
}

static void test_verify_swaps(void **state)
{
	char *buf = malloc(orig_len);
	size_t starts[NREC + 2], i, a, b, o;
	struct af_verify v;

	(void)state;
	line_starts(starts);
	for (i = 0; i + 1 < NREC; i++) {
		/* neighbours, and i with a record far away */
		size_t pairs[2][2] = { { i, i + 1 }, { i, (i * 31 + 17) % NREC } };
		int p;

		/* Far pairs for every 4th record: verify reads it all each time. */
		for (p = 0; p < (i % 4 ? 1 : 2); p++) {
			a = pairs[p][0] < pairs[p][1] ? pairs[p][0] : pairs[p][1];
			b = pairs[p][0] < pairs[p][1] ? pairs[p][1] : pairs[p][0];
			if (a == b)
				continue;
			o = 0;
			memcpy(buf, orig, starts[a]);
			o = starts[a];
			memcpy(buf + o, orig + starts[b], starts[b + 1] - starts[b]);
			o += starts[b + 1] - starts[b];
			memcpy(buf + o, orig + starts[a + 1], starts[b] - starts[a + 1]);
			o += starts[b] - starts[a + 1];
			memcpy(buf + o, orig + starts[a], starts[a + 1] - starts[a]);
			o += starts[a + 1] - starts[a];
			memcpy(buf + o, orig + starts[b + 1], orig_len - starts[b + 1]);
			o += orig_len - starts[b + 1];
			assert_int_equal(o, orig_len);
			assert_int_equal(verify_buf(buf, orig_len, &v), AF_VERIFY_BROKEN);
			assert_int_equal(v.bad_seq, b);
			assert_non_null(strstr(v.why, a == 0 ? "not 0" : "records reordered"));
		}
	}
	free(buf);
}

static void test_verify_truncation(void **state)
{
	size_t starts[NREC + 2], len;
	struct af_verify v;

	(void)state;
	line_starts(starts);
	for (len = 0; len < orig_len; len += 89) {
		assert_int_not_equal(verify_buf(orig, len, &v), AF_VERIFY_INTACT);
		if (len > starts[1] && orig[len - 1] != '\n') {
			assert_int_equal(v.status, AF_VERIFY_INCOMPLETE);
			assert_non_null(strstr(v.why, "truncated last line"));
		}
	}
	/* One byte short: the newline of fence_end. */
	assert_int_equal(verify_buf(orig, orig_len - 1, &v), AF_VERIFY_INCOMPLETE);
	assert_int_equal(v.bad_seq, NREC - 1);
}

static void swap(const char *a, const char *b, const char *via)
{
	assert_int_equal(rename(a, via), 0);
	assert_int_equal(rename(b, a), 0);
	assert_int_equal(rename(via, b), 0);
}

static void test_rotation(void **state)
{
	char base[PATH_MAX], f1[PATH_MAX + 32], f2[PATH_MAX + 32], tmpf[PATH_MAX + 32], *gz;
	struct af_verify v;
	struct stat st;
	size_t len;

	(void)state;
	snprintf(base, sizeof(base), "%s/rot/j.jsonl", tmp);
	write_journal(base, 16384, NREC);
	af_journal_verify(base, &v);
	assert_int_equal(v.status, AF_VERIFY_INTACT);
	assert_int_equal(v.records, NREC);
	assert_true(v.files > 5);
	/* A rotated file names its journal. */
	snprintf(f1, sizeof(f1), "%s.2.gz", base);
	af_journal_verify(f1, &v);
	assert_int_equal(v.status, AF_VERIFY_INTACT);

	/* A corrupted byte in the compressed data. */
	gz = slurp(f1, &len);
	gz[len / 2] ^= 0x55;
	put(f1, gz, len);
	af_journal_verify(base, &v);
	assert_int_equal(v.status, AF_VERIFY_BROKEN);
	/* Cut short. */
	put(f1, gz, len / 2);
	gz[len / 2] ^= 0x55;
	af_journal_verify(base, &v);
	assert_int_equal(v.status, AF_VERIFY_BROKEN);
	put(f1, gz, len);
	af_journal_verify(base, &v);
	assert_int_equal(v.status, AF_VERIFY_INTACT);

	/* Two rotated files swapped, then put back. */
	snprintf(f1, sizeof(f1), "%s.2.gz", base);
	snprintf(f2, sizeof(f2), "%s.3.gz", base);
	snprintf(tmpf, sizeof(tmpf), "%s.x", base);
	swap(f1, f2, tmpf);
	af_journal_verify(base, &v);
	assert_int_equal(v.status, AF_VERIFY_BROKEN);
	assert_non_null(strstr(v.why, "records reordered"));
	swap(f1, f2, tmpf);
	af_journal_verify(base, &v);
	assert_int_equal(v.status, AF_VERIFY_INTACT);
	/* A rotated file deleted. */
	rename(f1, tmpf);
	af_journal_verify(base, &v);
	assert_int_equal(v.status, AF_VERIFY_BROKEN);
	assert_non_null(strstr(v.why, "is missing"));
	rename(tmpf, f1);
	/* The first rotated file deleted, the others renumbered to hide it. */
	snprintf(f1, sizeof(f1), "%s.1.gz", base);
	snprintf(f2, sizeof(f2), "%s.2.gz", base);
	rename(f1, tmpf);
	rename(f2, f1);
	af_journal_verify(base, &v);
	assert_int_equal(v.status, AF_VERIFY_BROKEN);
	assert_non_null(strstr(v.why, "not 0"));
	rename(f1, f2);
	rename(tmpf, f1);
	af_journal_verify(base, &v);
	assert_int_equal(v.status, AF_VERIFY_INTACT);
	/* The live file deleted. */
	rename(base, tmpf);
	af_journal_verify(base, &v);
	assert_int_equal(v.status, AF_VERIFY_BROKEN);
	assert_non_null(strstr(v.why, "live file is missing"));
	rename(tmpf, base);
	af_journal_verify(base, &v);
	assert_int_equal(v.status, AF_VERIFY_INTACT);
	assert_int_equal(stat(base, &st), 0);
	free(gz);
}

/* Whether buf is valid UTF-8 without raw control bytes. */
static void assert_clean_utf8(const char *buf, size_t len)
{
	size_t i = 0;
	uint32_t cp;
	int n;

	while (i < len) {
		assert_true((unsigned char)buf[i] >= 0x20);
		n = utf8_next(buf + i, len - i, &cp);
		assert_true(n > 0);
		i += n;
	}
}

static void test_hostile_strings(void **state)
{
	char file[PATH_MAX + 16], out[64], *huge, *line;
	static const char ctl[] = "a\001b\nc\td\"e\\f\x7f";
	static const char bad_utf8[] = "x\xff\xc0\xafy\xed\xa0\x80z\xe2\x82";
	struct af_journal *j;
	struct af_verify v;
	size_t len, i, hl = 1 << 20;
	char why[256];
	struct af_json *w;

	(void)state;
	snprintf(file, sizeof(file), "%s/hostile.jsonl", tmp);
	assert_int_equal(af_journal_open(file, 0, &j, why, sizeof(why)), 0);
	w = af_journal_begin(j, "fence_start", NULL);
	af_json_str(w, "ctl", ctl);
	af_json_str(w, "bad", bad_utf8);
	/* A huge argv: 1 MiB of bytes 0..255 (NUL separated args). */
	huge = malloc(hl);
	for (i = 0; i < hl; i++)
		huge[i] = (char)(i * 131);
	af_json_strn(w, "argv", huge, hl);
	assert_int_equal(af_journal_commit(j), 0);
	af_journal_begin(j, "fence_end", NULL);
	assert_int_equal(af_journal_commit(j), 0);
	assert_int_equal(af_journal_close(j), 0);

	line = slurp(file, &len);
	assert_ptr_equal(memchr(line, '\n', len), line + strcspn(line, "\n"));
	len = strcspn(line, "\n");
	assert_clean_utf8(line, len);
	assert_int_equal(json_get_str(line, len, "ctl", out, sizeof(out)), 0);
	assert_memory_equal(out, ctl, sizeof(ctl));
	assert_int_equal(json_get_str(line, len, "bad", out, sizeof(out)), 0);
	assert_string_equal(out, "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd");
	af_journal_verify(file, &v);
	assert_int_equal(v.status, AF_VERIFY_INTACT);
	assert_int_equal(v.records, 2);
	free(line);
	free(huge);
}

/* The writer places every comma and closes what it opens. */
/* The writer's eight-bytes-at-a-time scan escapes exactly what the
 * byte-by-byte rules do: every special byte at every position of strings
 * of every length around a word, through the stdio and buffer sinks. */
static void ref_escape(const char *s, size_t len, char *out)
{
	size_t i = 0;
	uint32_t cp;
	int n;

	*out++ = '"';
	while (i < len) {
		unsigned char ch = s[i];

		n = ch < 0x80 ? 1 : utf8_next(s + i, len - i, &cp);
		if (n > 1) {
			memcpy(out, s + i, n);
			out += n;
			i += n;
		} else if (n < 0) {
			memcpy(out, "\xef\xbf\xbd", 3);
			out += 3;
			i += -n;
		} else if (ch == '"' || ch == '\\') {
			*out++ = '\\';
			*out++ = ch;
			i++;
		} else if (ch < 0x20) {
			out += sprintf(out, "\\u%04x", ch);
			i++;
		} else {
			*out++ = ch;
			i++;
		}
	}
	*out++ = '"';
	*out = 0;
}

static void test_json_escape_wordwise(void **state)
{
	static const char *const specials[] = { "\x01", "\x1f", "\"", "\\", "\x7f", "\x80", "\xc3\xa9",
						"\xff", "\xe2\x82", " ", "\n" };
	char in[64], want[512], *got;
	size_t len, p, k, glen;
	struct af_obuf b = {};
	struct af_json w;

	(void)state;
	for (len = 0; len < 40; len++) {
		for (p = 0; p <= len; p++) {
			for (k = 0; k < sizeof(specials) / sizeof(*specials); k++) {
				size_t sl = strlen(specials[k]), n = 0;
				FILE *f;

				memset(in, 'a' + (int)(len % 26), len);
				memcpy(in + p, specials[k], sl);
				n = p + sl > len ? p + sl : len;
				ref_escape(in, n, want);
				f = open_memstream(&got, &glen);
				json_strn(f, in, n);
				fclose(f);
				assert_string_equal(got, want);
				free(got);
				b.len = 0;
				af_json_resume_buf(&w, &b);
				w.more[1] = false;
				af_json_strn(&w, NULL, in, n);
				assert_int_equal(b.len, strlen(want));
				assert_memory_equal(b.p, want, b.len);
			}
		}
	}
	free(b.p);
}

static void test_json_writer(void **state)
{
	char *buf = NULL, *const argv[] = { "sh", "-c", "echo \"x\"", NULL };
	static const char strs[] = "a\0b\0cut";
	struct af_json w;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	af_json_init(&w, f);
	af_json_object(&w, NULL);
	af_json_str(&w, "s", "t");
	af_json_u64(&w, "u", 18446744073709551615ULL);
	af_json_i64(&w, "i", -5);
	af_json_bool(&w, "b", false);
	af_json_str(&w, "n", NULL);
	af_json_object(&w, "o");
	af_json_array(&w, "empty");
	af_json_end(&w);
	af_json_end(&w);
	af_json_strv(&w, "argv", argv);
	af_json_strs(&w, "strs", strs, sizeof(strs) - 1);
	af_json_array(&w, "nums");
	af_json_i64(&w, NULL, 1);
	af_json_i64(&w, NULL, 2);
	af_json_end(&w);
	af_json_end(&w);
	assert_false(w.bad);
	assert_int_equal(w.depth, 0);
	fclose(f);
	assert_string_equal(buf, "{\"s\":\"t\",\"u\":18446744073709551615,\"i\":-5,\"b\":false,"
			    "\"n\":null,\"o\":{\"empty\":[]},\"argv\":[\"sh\",\"-c\",\"echo \\\"x\\\"\"],"
			    "\"strs\":[\"a\",\"b\",\"cut\"],\"nums\":[1,2]}");
	free(buf);
}

/* A record whose objects do not balance is not written: the line would
 * not parse, and the chain must hold only lines that do. */
static void test_json_unbalanced_record(void **state)
{
	char file[PATH_MAX + 16], why[256];
	struct af_journal *j;
	struct af_verify v;
	struct af_json *w;
	char *line;
	size_t len;

	(void)state;
	snprintf(file, sizeof(file), "%s/unbalanced.jsonl", tmp);
	assert_int_equal(af_journal_open(file, 0, &j, why, sizeof(why)), 0);
	w = af_journal_begin(j, "fence_start", NULL);
	af_json_object(w, "open");
	assert_int_equal(af_journal_commit(j), -EINVAL);
	w = af_journal_begin(j, "fence_start", NULL);
	af_json_end(w);
	af_json_end(w);
	assert_int_equal(af_journal_commit(j), -EINVAL);
	assert_int_equal(af_journal_failed(j), 2);
	w = af_journal_begin(j, "fence_start", NULL);
	af_json_str(w, "ok", "yes");
	assert_int_equal(af_journal_commit(j), 0);
	af_journal_begin(j, "fence_end", NULL);
	assert_int_equal(af_journal_commit(j), 0);
	af_journal_close(j);
	af_journal_verify(file, &v);
	assert_int_equal(v.status, AF_VERIFY_INTACT);
	assert_int_equal(v.records, 2);
	line = slurp(file, &len);
	assert_non_null(strstr(line, "\"type\":\"fence_start\",\"ok\":\"yes\",\"hash\":"));
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_tag),
		cmocka_unit_test(test_refuses_existing_file),
		cmocka_unit_test(test_verify_edits),
		cmocka_unit_test(test_verify_deletions),
		cmocka_unit_test(test_verify_swaps),
		cmocka_unit_test(test_verify_truncation),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_json_writer),
		cmocka_unit_test(test_json_escape_wordwise),
		cmocka_unit_test(test_json_unbalanced_record),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
