// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* SHA256_Init and friends: deprecated in OpenSSL 3, but they hash with
 * no provider lookup; the one-shot SHA256() fetches one first, and the
 * library's set-up and clean-up around that fetch were a fifth of a
 * run's CPU time. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <zlib.h>

#include "journal.h"
#include "json.h"
#include "util.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define HASH_KEY ",\"hash\":\""

struct af_journal {
	char *path;		/* malloc'd, shorter than PATH_MAX: a daemon holds hundreds */
	int fd;
	uint64_t size;		/* bytes in the live file */
	uint64_t rotate;
	unsigned int rotated;	/* files rotated so far */
	uint64_t seq;		/* the next record's, committed or not yet written */
	uint64_t failed;
	int err;		/* first write error */
	char head[AF_SHA256_HEX];
	af_journal_tap_fn tap;
	void *tap_ctx;
	/* Group commit: records sealed since the last flush sit in batch,
	 * whole lines; they reach the file in one write at af_journal_flush
	 * (or at once, when nobody holds the journal). The chain on disk
	 * stops at disk_seq and disk_head until then. */
	struct af_obuf batch;
	size_t rec_start;	/* where the record in progress begins */
	bool in_rec;
	unsigned int hold;	/* af_journal_hold depth */
	uint64_t disk_seq;
	char disk_head[AF_SHA256_HEX];
	struct af_json w;	/* the record in progress's writer */
	time_t date_sec;	/* the second date is the text of */
	char date[32];
	pthread_t zthread;	/* compressing zfrom..zto (rotate) */
	bool zbusy;
	unsigned int zfrom, zto;	/* the thread's rotated files */
	unsigned int zpend;	/* the first rotated file no thread took yet; 0: none */
	/* Retention (af_journal_retain): due after a rotation. */
	uint64_t keep_bytes, keep_age;
	bool retain_due, retaining;
	/* Where file N (1: the first) began, for the files this process
	 * began: seq UINT64_MAX when unknown (a resumed journal's). */
	struct file_start { uint64_t seq; char prev[AF_SHA256_HEX]; } *starts;
	size_t nstarts;
	char *tag;		/* af_journal_set_tag's members, or NULL */
	size_t tag_len;
};

static void note_start(struct af_journal *j, unsigned int file)
{
	struct file_start *ns;
	size_t i;

	if (file >= j->nstarts) {
		size_t n = file + 16;

		ns = realloc(j->starts, n * sizeof(*ns));
		if (!ns)
			return;
		for (i = j->nstarts; i < n; i++)
			ns[i].seq = UINT64_MAX;
		j->starts = ns;
		j->nstarts = n;
	}
	j->starts[file].seq = j->seq;
	memcpy(j->starts[file].prev, j->head, AF_SHA256_HEX);
}

#define BATCH_MAX	(1U << 20)	/* a held batch is written when it grows past this */


void af_sha256_hex(const void *buf, size_t len, char out[AF_SHA256_HEX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;
	int i;

	SHA256_Init(&c);
	SHA256_Update(&c, buf, len);
	SHA256_Final(md, &c);
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = 0;
}

static size_t rotated_files(const char *base, unsigned long **out);

static int mkdir_parents(const char *path)
{
	char dir[PATH_MAX], *s;

	if (af_strlcpy(dir, path, sizeof(dir)))
		return -ENAMETOOLONG;
	for (s = dir + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		if (mkdir(dir, 0750) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

static int open_live(struct af_journal *j)
{
	j->fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
	j->size = 0;
	return j->fd < 0 ? -errno : 0;
}

int af_journal_open(const char *path, uint64_t rotate_bytes, struct af_journal **out,
		    char *why, size_t n)
{
	struct af_journal *j = calloc(1, sizeof(*j));
	int err;

	if (!j)
		return -ENOMEM;
	j->fd = -1;
	j->rotate = rotate_bytes ? rotate_bytes : AF_JOURNAL_ROTATE_DEFAULT;
	strcpy(j->head, ZERO_HASH);
	strcpy(j->disk_head, ZERO_HASH);
	j->date_sec = -1;
	err = strlen(path) >= PATH_MAX ? -ENAMETOOLONG : (j->path = strdup(path)) ? 0 : -ENOMEM;
	if (!err)
		err = mkdir_parents(path);
	if (!err)
		err = open_live(j);
	if (!err)
		note_start(j, 1);
	if (err) {
		snprintf(why, n, "%s: %s%s", path, strerror(-err),
			 err == -EEXIST ? " (a journal is never appended to: choose a new file)" : "");
		free(j->path);
		free(j);
		return err;
	}
	*out = j;
	return 0;
}

int af_journal_resume(const char *path, uint64_t rotate_bytes, struct af_journal **out,
		      char *why, size_t n)
{
	struct af_journal *j;
	struct af_verify v;
	struct stat st;
	char last = 0;
	int fd, err;

	af_journal_verify(path, &v);
	if (v.status == AF_VERIFY_BROKEN) {
		snprintf(why, n, "%s: its chain is broken (%s:%lu: %s): it cannot go on", path, v.file,
			 v.line, v.why);
		return -EBADMSG;
	}
	if (v.status == AF_VERIFY_INTACT) {
		snprintf(why, n, "%s: it has its fence_end already", path);
		return -EALREADY;
	}
	fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		err = -errno;
		snprintf(why, n, "%s: %s", path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) || (st.st_size && pread(fd, &last, 1, st.st_size - 1) != 1) ||
	    (st.st_size && last != '\n')) {
		close(fd);
		snprintf(why, n, "%s: its last line was cut when its writer died (log verify says "
			 "where): it cannot go on", path);
		return -EBADMSG;
	}
	j = calloc(1, sizeof(*j));
	if (!j || strlen(path) >= PATH_MAX || !(j->path = strdup(path))) {
		free(j);
		close(fd);
		return -ENOMEM;
	}
	j->fd = fd;
	j->size = st.st_size;
	j->rotate = rotate_bytes ? rotate_bytes : AF_JOURNAL_ROTATE_DEFAULT;
	j->rotated = v.files ? v.files - 1 : 0;
	j->seq = j->disk_seq = v.records;
	j->date_sec = -1;
	af_strlcpy(j->head, v.head, sizeof(j->head));
	af_strlcpy(j->disk_head, v.head, sizeof(j->disk_head));
	*out = j;
	return 0;
}

struct af_json *af_journal_begin(struct af_journal *j, const char *type,
				 const struct timespec *when)
{
	struct af_obuf *b = &j->batch;
	struct timespec now;
	char num[21];
	long us;
	int k;

	if (!when) {
		clock_gettime(CLOCK_REALTIME, &now);
		when = &now;
	}
	/* A record begun and never committed is dropped. */
	if (j->in_rec)
		b->len = j->rec_start;
	if (b->oom)
		return NULL;
	/* strftime once a second, not once a record. */
	if (when->tv_sec != j->date_sec) {
		struct tm tm;

		gmtime_r(&when->tv_sec, &tm);
		strftime(j->date, sizeof(j->date), "%Y-%m-%dT%H:%M:%S", &tm);
		j->date_sec = when->tv_sec;
	}
	if (af_obuf_reserve(b, 256))
		return NULL;
	j->rec_start = b->len;
	j->in_rec = true;
#define PUT(s, n) (memcpy(b->p + b->len, (s), (n)), b->len += (n))
	PUT("{\"seq\":", 7);
	k = af_utoa(j->seq, num);
	PUT(num, k);
	PUT(",\"time\":\"", 9);
	PUT(j->date, strlen(j->date));
	us = when->tv_nsec / 1000;
	b->p[b->len++] = '.';
	for (k = 100000; k; k /= 10)
		b->p[b->len++] = '0' + us / k % 10;
	PUT("Z\",\"prev\":\"", 11);
	PUT(j->head, 64);
	PUT("\",\"type\":", 9);
#undef PUT
	af_json_resume_buf(&j->w, b);
	/* The type is the value of "type": no comma before it; the
	 * members after it take theirs. */
	j->w.more[1] = false;
	af_json_str(&j->w, NULL, type);
	/* Rendered once (af_journal_set_tag): a copy per record. */
	if (j->tag_len && !af_obuf_reserve(b, j->tag_len)) {
		memcpy(b->p + b->len, j->tag, j->tag_len);
		b->len += j->tag_len;
	}
	return &j->w;
}

int af_journal_set_tag(struct af_journal *j, const char *members, size_t len)
{
	char *t = NULL;

	if (len && !(t = malloc(len)))
		return -ENOMEM;
	if (len)
		memcpy(t, members, len);
	free(j->tag);
	j->tag = t;
	j->tag_len = len;
	return 0;
}

bool af_journal_tagged(const struct af_journal *j)
{
	return j->tag_len > 0;
}

void af_journal_add(struct af_journal *j, const char *members, size_t len)
{
	struct af_obuf *b = &j->batch;

	/* Out of memory: the buffer says so (b->oom), the commit drops it. */
	if (j->in_rec && len && !af_obuf_reserve(b, len)) {
		memcpy(b->p + b->len, members, len);
		b->len += len;
	}
}

/* gzip src into dst (via a temporary name, so a crash leaves no
 * half-written dst), fsync'd. */
static int gzip_file(const char *src, const char *dst, const char *mode)
{
	char tmp[PATH_MAX + 8], buf[65536];
	int in, out = -1, err = 0;
	gzFile gz = NULL;
	ssize_t r;

	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (out < 0 || !(gz = gzdopen(dup(out), mode))) {
		err = -errno ? -errno : -ENOMEM;
		goto out;
	}
	while ((r = read(in, buf, sizeof(buf))) > 0) {
		if (gzwrite(gz, buf, r) != r) {
			err = -EIO;
			goto out;
		}
	}
	if (r < 0)
		err = -errno;
out:
	if (gz && gzclose(gz) != Z_OK && !err)
		err = -EIO;
	if (out >= 0 && !err && fsync(out))
		err = -errno;
	if (out >= 0)
		close(out);
	close(in);
	if (!err && rename(tmp, dst))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static void fsync_dir(const char *path)
{
	char dir[PATH_MAX], *s;
	int fd;

	af_strlcpy(dir, path, sizeof(dir));
	s = strrchr(dir, '/');
	if (s)
		*s = 0;
	fd = open(s ? (dir[0] ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Compression of a rotated file, off the event path: gzip of 64 MiB
 * takes about a second, which a fence's ring buffer does not hold. The
 * plain FILE.N is a rotated file like FILE.N.gz for every reader until
 * its .gz is in place; then it goes. */
static void compress_one(const char *src)
{
	char dst[PATH_MAX + 40];
	int fd = open(src, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	/* The rename and the new live file, durable: on ext4 a directory's
	 * fsync waits for the renamed file's data, so not on the event
	 * path either. */
	fsync_dir(src);
	snprintf(dst, sizeof(dst), "%s.gz", src);
	if (!gzip_file(src, dst, "wb1")) {
		unlink(src);
		fsync_dir(src);
	}
}

/* Below the event path, which a flood keeps busy: the fastest level
 * (about 3 times deflate's default; JSON shrinks 6-8 times all the
 * same) at the lowest priority, the rotated files zfrom..zto in order.
 * The fsync of each is here too: 64 MiB of dirty pages take a while. */
static void *compress_main(void *arg)
{
	struct af_journal *j = arg;
	char src[PATH_MAX + 32];
	unsigned int n;

	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	for (n = j->zfrom; n <= j->zto; n++) {
		snprintf(src, sizeof(src), "%s.%u", j->path, n);
		compress_one(src);
	}
	return NULL;
}

static void compress_wait(struct af_journal *j)
{
	if (j->zbusy) {
		pthread_join(j->zthread, NULL);
		j->zbusy = false;
	}
}

/* Hand the rotated files not yet compressed to a thread, unless the
 * last one is still at work: then they wait for the next rotation (or
 * the end), and the event path never waits for gzip. */
static void compress_start(struct af_journal *j, bool wait)
{
	if (j->zbusy) {
		if (wait)
			compress_wait(j);
		else if (pthread_tryjoin_np(j->zthread, NULL))
			return;
		j->zbusy = false;
	}
	if (!j->zpend)
		return;
	j->zfrom = j->zpend;
	j->zto = j->rotated;
	j->zpend = 0;
	if (wait || pthread_create(&j->zthread, NULL, compress_main, j))
		compress_main(j);
	else
		j->zbusy = true;
}

static int rotate(struct af_journal *j)
{
	char dst[PATH_MAX + 32];
	int err;

	snprintf(dst, sizeof(dst), "%s.%u", j->path, j->rotated + 1);
	if (rename(j->path, dst))
		return -errno;	/* the live file goes on growing */
	close(j->fd);
	j->fd = -1;
	j->rotated++;
	err = open_live(j);
	note_start(j, j->rotated + 1);
	j->retain_due = j->keep_bytes || j->keep_age;
	if (!j->zpend)
		j->zpend = j->rotated;
	compress_start(j, false);
	return err;
}

/* Everything lost since the chain on disk: the records of the batch
 * (counted as failed), and the in-memory chain goes back to the disk's,
 * so that the next record follows the last one written. */
static void drop_batch(struct af_journal *j, int err)
{
	j->failed += j->seq - j->disk_seq;
	j->seq = j->disk_seq;
	memcpy(j->head, j->disk_head, sizeof(j->head));
	j->batch.len = 0;
	j->batch.oom = false;
	if (!j->err)
		j->err = err;
}

static af_journal_tap_fn mirror;
static void *mirror_ctx;
static uint64_t written_total;	/* the loop's thread writes it; read there too */

void af_journal_set_mirror(af_journal_tap_fn fn, void *ctx)
{
	mirror = fn;
	mirror_ctx = ctx;
}

uint64_t af_journal_written_total(void)
{
	return __atomic_load_n(&written_total, __ATOMIC_RELAXED);
}

/* Write the batch: one write(2) (a partial one continues), then the
 * taps, line by line, then rotation when the file is full. */
static int write_batch(struct af_journal *j)
{
	struct af_obuf *b = &j->batch;
	size_t off = 0, len = j->in_rec ? j->rec_start : b->len;
	int err = 0;

	if (b->oom) {
		drop_batch(j, -ENOMEM);
		return -ENOMEM;
	}
	if (!len)
		return 0;
	if (j->fd < 0) {
		drop_batch(j, -EBADF);
		return -EBADF;
	}
	while (off < len) {
		ssize_t w = write(j->fd, b->p + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? -errno : -EIO;
			/* No half record stays behind to break the chain. */
			if (off && ftruncate(j->fd, j->size))
				err = -errno;
			drop_batch(j, err);
			return err;
		}
		off += w;
	}
	j->size += len;
	__atomic_add_fetch(&written_total, j->seq - j->disk_seq, __ATOMIC_RELAXED);
	j->disk_seq = j->seq;
	memcpy(j->disk_head, j->head, sizeof(j->head));
	if (j->tap) {
		const char *p = b->p, *end = b->p + len, *nl;

		for (; p < end; p = nl + 1) {
			nl = memchr(p, '\n', end - p);
			if (!nl)
				break;
			j->tap(j->tap_ctx, p, nl + 1 - p);
		}
	}
	if (mirror)
		mirror(mirror_ctx, b->p, len);
	/* A record in progress moves to the front. */
	memmove(b->p, b->p + len, b->len - len);
	b->len -= len;
	if (j->in_rec)
		j->rec_start = 0;
	if (j->size >= j->rotate) {
		err = rotate(j);
		if (err && !j->err)
			j->err = err;
	}
	return err;
}

int af_journal_commit(struct af_journal *j)
{
	struct af_obuf *b = &j->batch;
	char hash[AF_SHA256_HEX];
	int err = 0;

	if (!j->in_rec)
		return -EINVAL;
	/* An object or array left open, or closed once too often: the
	 * line would not parse. A bug of the caller; the record is lost. */
	if (j->w.bad || j->w.depth != 1 || b->oom) {
		err = b->oom ? -ENOMEM : -EINVAL;
		b->len = j->rec_start;
		b->oom = false;
		j->in_rec = false;
		j->failed++;
		if (!j->err)
			j->err = err;
		return err;
	}
	af_sha256_hex(b->p + j->rec_start, b->len - j->rec_start, hash);
	if (af_obuf_reserve(b, sizeof(HASH_KEY) + 64 + 3)) {
		b->len = j->rec_start;
		b->oom = false;
		j->in_rec = false;
		j->failed++;
		if (!j->err)
			j->err = -ENOMEM;
		return -ENOMEM;
	}
	memcpy(b->p + b->len, HASH_KEY, strlen(HASH_KEY));
	b->len += strlen(HASH_KEY);
	memcpy(b->p + b->len, hash, 64);
	b->len += 64;
	memcpy(b->p + b->len, "\"}\n", 3);
	b->len += 3;
	j->in_rec = false;
	j->seq++;
	memcpy(j->head, hash, sizeof(hash));
	/* Held: written with the rest of the batch, unless the file is
	 * full (rotation stays where it was) or the batch is large. */
	if (!j->hold || j->size + b->len >= j->rotate || b->len >= BATCH_MAX)
		err = write_batch(j);
	if (j->retain_due)
		af_journal_retain(j);
	return err;
}

void af_journal_hold(struct af_journal *j)
{
	j->hold++;
}

int af_journal_flush(struct af_journal *j)
{
	int err;

	if (j->hold)
		j->hold--;
	if (j->hold)
		return 0;
	err = write_batch(j);
	if (j->retain_due)
		af_journal_retain(j);
	return err;
}

void af_journal_set_tap(struct af_journal *j, af_journal_tap_fn fn, void *ctx)
{
	j->tap = fn;
	j->tap_ctx = ctx;
}

uint64_t af_journal_records(const struct af_journal *j)
{
	return j->seq;
}

const char *af_journal_head(const struct af_journal *j)
{
	return j->head;
}

uint64_t af_journal_failed(const struct af_journal *j)
{
	return j->failed;
}

int af_journal_close(struct af_journal *j)
{
	int err;

	if (!j)
		return 0;
	if (j->in_rec)
		j->batch.len = j->rec_start;
	j->in_rec = false;
	j->hold = 0;
	write_batch(j);
	compress_start(j, true);
	compress_wait(j);
	free(j->batch.p);
	free(j->starts);
	free(j->tag);
	if (j->fd >= 0) {
		if (fsync(j->fd) && !j->err)
			j->err = -errno;
		close(j->fd);
		fsync_dir(j->path);
	}
	err = j->err;
	free(j->path);
	free(j);
	return err;
}

/* Reading: plain and gzip files alike (zlib reads plain files as is). */

struct af_lines {
	gzFile gz;
	char *buf;
	size_t cap, start, end;
	bool eof, follow;
};

struct af_lines *af_lines_open(const char *path)
{
	struct af_lines *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->gz = gzopen(path, "rb");
	l->cap = 1 << 16;
	l->buf = malloc(l->cap);
	if (!l->gz || !l->buf) {
		int e = errno ? errno : ENOMEM;

		af_lines_close(l);
		errno = e;
		return NULL;
	}
	gzbuffer(l->gz, 1 << 17);
	return l;
}

const char *af_lines_next(struct af_lines *l, size_t *len, bool *complete)
{
	for (;;) {
		char *nl = memchr(l->buf + l->start, '\n', l->end - l->start);
		int r;

		if (nl) {
			const char *line = l->buf + l->start;

			*len = nl - line;
			*complete = true;
			l->start = nl - l->buf + 1;
			return line;
		}
		if (l->eof) {
			const char *line = l->buf + l->start;

			if (l->start == l->end || l->follow)
				return NULL;
			*len = l->end - l->start;
			*complete = false;
			l->start = l->end;
			return line;
		}
		/* Make room: move the partial line down, grow if it fills all. */
		if (l->start) {
			memmove(l->buf, l->buf + l->start, l->end - l->start);
			l->end -= l->start;
			l->start = 0;
		}
		if (l->end == l->cap) {
			char *nb = realloc(l->buf, l->cap * 2);

			if (!nb) {
				l->eof = true;
				continue;
			}
			l->buf = nb;
			l->cap *= 2;
		}
		r = gzread(l->gz, l->buf + l->end, l->cap - l->end > INT_MAX ? INT_MAX : l->cap - l->end);
		if (r <= 0)
			l->eof = true;
		else
			l->end += r;
	}
}

void af_lines_follow(struct af_lines *l)
{
	l->follow = true;
}

void af_lines_more(struct af_lines *l)
{
	l->eof = false;
	gzclearerr(l->gz);
}

int af_lines_error(struct af_lines *l, const char **msg)
{
	int errnum = Z_OK;

	*msg = gzerror(l->gz, &errnum);
	return errnum == Z_OK ? 0 : -EIO;
}

void af_lines_close(struct af_lines *l)
{
	if (!l)
		return;
	if (l->gz)
		gzclose(l->gz);
	free(l->buf);
	free(l);
}

/* Verification. */

void af_journal_base(const char *path, char *out, size_t n)
{
	size_t len = strlen(path), i;

	af_strlcpy(out, path, n);
	if (len < 5 || strcmp(path + len - 3, ".gz"))
		return;
	i = len - 3;
	while (i > 0 && path[i - 1] >= '0' && path[i - 1] <= '9')
		i--;
	if (i < len - 3 && i > 1 && path[i - 1] == '.' && i - 1 < n)
		out[i - 1] = 0;
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

int af_journal_rotated_path(const char *base, unsigned long n, char *out, size_t size)
{
	snprintf(out, size, "%s.%lu.gz", base, n);
	if (!access(out, F_OK))
		return 0;
	snprintf(out, size, "%s.%lu", base, n);
	if (!access(out, F_OK))
		return 0;
	/* Compressed in between: the .gz is there now. */
	snprintf(out, size, "%s.%lu.gz", base, n);
	return access(out, F_OK) ? -ENOENT : 0;
}

struct af_lines *af_journal_rotated_open(const char *base, unsigned long n, char *out, size_t size)
{
	struct af_lines *l;

	if (af_journal_rotated_path(base, n, out, size))
		return NULL;
	l = af_lines_open(out);
	/* The plain file went between the look and the open: its
	 * compressed twin is complete by then. */
	if (!l && errno == ENOENT) {
		snprintf(out, size, "%s.%lu.gz", base, n);
		l = af_lines_open(out);
	}
	return l;
}

/* Rotation numbers N of base.N.gz (or base.N), sorted; a gap among them is a
 * deleted file, which the chain reports. */
static size_t rotated_files(const char *base, unsigned long **out)
{
	char dir[PATH_MAX], *slash;
	const char *name;
	unsigned long *ns = NULL;
	size_t count = 0, cap = 0, nlen;
	struct dirent *de;
	DIR *d;

	af_strlcpy(dir, base, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		name = base + (slash - dir) + 1;
	} else {
		name = base;
	}
	d = opendir(slash ? (dir[0] ? dir : "/") : ".");
	*out = NULL;
	if (!d)
		return 0;
	nlen = strlen(name);
	while ((de = readdir(d))) {
		char num[32];
		size_t l = strlen(de->d_name), nl;
		unsigned long v;

		/* base.N.gz, or base.N while it is being compressed */
		if (l <= nlen + 1 || strncmp(de->d_name, name, nlen) || de->d_name[nlen] != '.')
			continue;
		nl = l - nlen - 1;
		if (nl > 3 && !strcmp(de->d_name + l - 3, ".gz"))
			nl -= 3;
		if (nl >= sizeof(num))
			continue;
		memcpy(num, de->d_name + nlen + 1, nl);
		num[nl] = 0;
		if (num[strspn(num, "0123456789")] || af_parse_ulong(num, UINT_MAX, &v) || !v)
			continue;
		if (count && ns[count - 1] == v)
			continue;
		if (count == cap) {
			unsigned long *nn = realloc(ns, (cap = cap ? cap * 2 : 16) * sizeof(*ns));

			if (!nn)
				break;
			ns = nn;
		}
		ns[count++] = v;
	}
	closedir(d);
	if (count) {
		size_t i, k = 1;

		qsort(ns, count, sizeof(*ns), cmp_ulong);
		for (i = 1; i < count; i++)
			if (ns[i] != ns[k - 1])
				ns[k++] = ns[i];
		count = k;
	}
	*out = ns;
	return count;
}

struct chain {
	struct af_verify *v;
	uint64_t next_seq;
	char prev[AF_SHA256_HEX];
	char last_type[32];
	/* The journal begins after seq 0: retention removed its oldest
	 * files, if a retention record of the chain says it began so. */
	bool pruned, pruned_ok;
	uint64_t pruned_seq;
	char pruned_prev[AF_SHA256_HEX];
};

static bool is_hex64(const char *s)
{
	int i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

__attribute__((format(printf, 4, 5)))
static void broken(struct chain *c, uint64_t seq, enum af_verify_status st, const char *fmt, ...)
{
	va_list ap;

	c->v->status = st;
	c->v->bad_seq = seq;
	va_start(ap, fmt);
	vsnprintf(c->v->why, sizeof(c->v->why), fmt, ap);
	va_end(ap);
}

/* One record: its own hash, its place in the sequence, its link to the
 * previous one. Returns false at the first problem. */
static bool check_line(struct chain *c, char *line, size_t len, bool complete, bool last_file)
{
	static const char pre[] = "{\"seq\":";
	char hash[AF_SHA256_HEX], *p, *end, *h;
	unsigned long long seq;
	size_t body;

	if (!complete) {
		if (last_file) {
			broken(c, c->next_seq, AF_VERIFY_INCOMPLETE,
			       "truncated last line (a crash or a cut): %zu bytes without a newline", len);
		} else {
			broken(c, c->next_seq, AF_VERIFY_BROKEN,
			       "truncated line at the end of a rotated file");
		}
		return false;
	}
	line[len] = 0;
	if (len < sizeof(pre) + 64 || strncmp(line, pre, sizeof(pre) - 1) ||
	    line[sizeof(pre) - 1] < '0' || line[sizeof(pre) - 1] > '9') {
		broken(c, c->next_seq, AF_VERIFY_BROKEN,
		       "record after seq %lld is not a journal record (edited)", (long long)c->next_seq - 1);
		return false;
	}
	errno = 0;
	seq = strtoull(line + sizeof(pre) - 1, &end, 10);
	h = len >= 64 + 2 + strlen(HASH_KEY) ? line + len - 64 - 2 - strlen(HASH_KEY) : NULL;
	if (errno || *end != ',' || !h || strncmp(h, HASH_KEY, strlen(HASH_KEY)) ||
	    strcmp(line + len - 2, "\"}") || !is_hex64(h + strlen(HASH_KEY))) {
		broken(c, seq, AF_VERIFY_BROKEN, "malformed record (edited)");
		return false;
	}
	body = h - line;
	af_sha256_hex(line, body, hash);
	if (strncmp(hash, h + strlen(HASH_KEY), 64)) {
		broken(c, seq, AF_VERIFY_BROKEN, "record edited: its hash does not match its content");
		return false;
	}
	p = strstr(end, ",\"prev\":\"");
	if (seq != 0 && c->next_seq == 0 && !c->v->records && p && p - line <= 80 && is_hex64(p + 9)) {
		c->pruned = true;
		c->pruned_seq = seq;
		c->next_seq = seq;
		memcpy(c->pruned_prev, p + 9, 64);
		c->pruned_prev[64] = 0;
		memcpy(c->prev, c->pruned_prev, sizeof(c->prev));
	}
	if (seq != c->next_seq) {
		if (c->next_seq == 0)
			broken(c, seq, AF_VERIFY_BROKEN,
			       "the journal starts at seq %llu, not 0: its first records or files were deleted",
			       seq);
		else if (seq > c->next_seq)
			broken(c, seq, AF_VERIFY_BROKEN, "records deleted: seq %llu follows seq %llu",
			       seq, (unsigned long long)c->next_seq - 1);
		else
			broken(c, seq, AF_VERIFY_BROKEN, "records reordered or repeated: seq %llu follows seq %llu",
			       seq, (unsigned long long)c->next_seq - 1);
		return false;
	}
	p = strstr(end, ",\"prev\":\"");
	if (!p || p - line > 80 || !is_hex64(p + 9) || p[9 + 64] != '"') {
		broken(c, seq, AF_VERIFY_BROKEN, "malformed record: no prev hash (edited)");
		return false;
	}
	if (strncmp(p + 9, c->prev, 64)) {
		broken(c, seq, AF_VERIFY_BROKEN,
		       "prev hash does not match seq %lld: a record was replaced", (long long)seq - 1);
		return false;
	}
	p = strstr(p, ",\"type\":\"");
	if (p) {
		size_t tl = strcspn(p + 9, "\"");

		snprintf(c->last_type, sizeof(c->last_type), "%.*s", (int)tl, p + 9);
	}
	if (c->pruned && !c->pruned_ok && !strcmp(c->last_type, "retention")) {
		char want[128];

		snprintf(want, sizeof(want), ",\"kept_from_seq\":%llu,\"kept_prev\":\"%s\"",
			 (unsigned long long)c->pruned_seq, c->pruned_prev);
		c->pruned_ok = strstr(line, want) != NULL;
	}
	if (seq == 0 && strcmp(c->last_type, "fence_start")) {
		broken(c, seq, AF_VERIFY_BROKEN, "record 0 is not the fence_start anchor");
		return false;
	}
	memcpy(c->prev, hash, sizeof(hash));
	c->next_seq++;
	c->v->records++;
	memcpy(c->v->head, hash, sizeof(hash));
	return true;
}

static bool check_file(struct chain *c, const char *path, bool last_file)
{
	struct af_lines *l = af_lines_open(path);
	const char *line, *msg;
	size_t len, pl = strlen(path);
	bool complete, ok = true;

	/* A rotated FILE.N compressed between the look and the open. */
	if (!l && errno == ENOENT && !last_file && (pl < 3 || strcmp(path + pl - 3, ".gz"))) {
		char gz[PATH_MAX + 64];

		snprintf(gz, sizeof(gz), "%s.gz", path);
		l = af_lines_open(gz);
		if (!l)
			errno = ENOENT;
	}
	af_strlcpy(c->v->file, path, sizeof(c->v->file));
	c->v->line = 0;
	if (!l) {
		broken(c, c->next_seq, AF_VERIFY_BROKEN, "cannot read: %s", strerror(errno));
		return false;
	}
	c->v->files++;
	while (ok && (line = af_lines_next(l, &len, &complete))) {
		c->v->line++;
		/* check_line NUL-terminates in place: the reader's buffer
		 * is ours until the next call. */
		ok = check_line(c, (char *)line, len, complete, last_file);
	}
	if (ok && af_lines_error(l, &msg)) {
		broken(c, c->next_seq, AF_VERIFY_BROKEN, "corrupt gzip data: %s", msg);
		ok = false;
	}
	af_lines_close(l);
	return ok;
}

/* Where record seq is, if anywhere: a gap in the chain is a deletion
 * unless the missing record turns up later, out of order. */
static bool find_seq(const char *base, const unsigned long *rot, size_t nrot, uint64_t seq,
		     char *where, size_t n)
{
	char file[PATH_MAX + 32];
	size_t i;

	for (i = 0; i <= nrot; i++) {
		struct af_lines *l;
		const char *line;
		unsigned long lineno = 0;
		size_t len;
		bool complete, found = false;

		if (i < nrot)
			l = af_journal_rotated_open(base, rot[i], file, sizeof(file));
		else
			l = af_lines_open(af_strlcpy(file, base, sizeof(file)) ? "" : file);
		while (l && !found && (line = af_lines_next(l, &len, &complete))) {
			char num[24];

			lineno++;
			if (len > 8 && !strncmp(line, "{\"seq\":", 7)) {
				snprintf(num, sizeof(num), "%.*s", (int)(len - 7 < 23 ? len - 7 : 23), line + 7);
				found = strtoull(num, NULL, 10) == seq && num[strspn(num, "0123456789")] == ',';
			}
		}
		af_lines_close(l);
		if (found) {
			snprintf(where, n, "%.3000s line %lu", file, lineno);
			return true;
		}
	}
	return false;
}

void af_journal_verify(const char *path, struct af_verify *v)
{
	struct chain c = { .v = v };
	char base[PATH_MAX], file[PATH_MAX + 64];
	unsigned long *rot;
	size_t nrot, i;
	struct stat st;

	memset(v, 0, sizeof(*v));
	strcpy(c.prev, ZERO_HASH);
	strcpy(v->head, ZERO_HASH);
	af_journal_base(path, base, sizeof(base));
	nrot = rotated_files(base, &rot);
	for (i = 0; i < nrot; i++) {
		af_journal_rotated_path(base, rot[i], file, sizeof(file));
		/* The first may be N > 1 (retention: the chain says so). */
		if (rot[i] != rot[0] + i) {
			af_strlcpy(v->file, file, sizeof(v->file));
			broken(&c, c.next_seq, AF_VERIFY_BROKEN, "rotated file %s.%zu.gz is missing",
			       base, rot[0] + i);
			goto out;
		}
		if (!check_file(&c, file, false))
			goto out;
	}
	if (stat(base, &st) && errno == ENOENT && nrot) {
		af_strlcpy(v->file, base, sizeof(v->file));
		broken(&c, c.next_seq, AF_VERIFY_BROKEN, "the live file is missing after %zu rotated files",
		       nrot);
		goto out;
	}
	if (!check_file(&c, base, true))
		goto out;
	if (!v->records) {
		broken(&c, 0, AF_VERIFY_BROKEN, "empty: no records");
	} else if (strcmp(c.last_type, "fence_end")) {
		broken(&c, c.next_seq, AF_VERIFY_INCOMPLETE,
		       "no fence_end record after seq %llu: the fence is still running, or the journal lost its tail",
		       (unsigned long long)c.next_seq - 1);
	}
out:
	/* A journal that begins after seq 0 with no retention record to say
	 * so is broken there, at its start, whatever else came after. */
	if (c.pruned && !c.pruned_ok) {
		if (!nrot || af_journal_rotated_path(base, rot[0], v->file, sizeof(v->file)))
			af_strlcpy(v->file, base, sizeof(v->file));
		v->line = 1;
		broken(&c, c.pruned_seq, AF_VERIFY_BROKEN,
		       "the journal starts at seq %llu, not 0: its first records or files were "
		       "deleted (no retention record of the journal says it begins there)",
		       (unsigned long long)c.pruned_seq);
	} else if (c.pruned) {
		v->first_seq = c.pruned_seq;
	}
	if (v->status == AF_VERIFY_BROKEN && !strncmp(v->why, "records deleted", 15) &&
	    find_seq(base, rot, nrot, c.next_seq, file, sizeof(file)))
		snprintf(v->why, sizeof(v->why), "records reordered: seq %llu follows seq %lld, "
			 "and seq %llu comes later (%.300s)", (unsigned long long)v->bad_seq,
			 (long long)c.next_seq - 1, (unsigned long long)c.next_seq, file);
	free(rot);
}

unsigned long af_journal_rotated_last(const char *base, unsigned long *first)
{
	unsigned long *rot, last = 0;
	size_t n = rotated_files(base, &rot);

	if (first)
		*first = n ? rot[0] : 0;
	if (n)
		last = rot[n - 1];
	free(rot);
	return last;
}

unsigned long af_journal_rotated_first(const char *base)
{
	unsigned long first;

	af_journal_rotated_last(base, &first);
	return first;
}

/* Retention. */

void af_journal_set_retention(struct af_journal *j, uint64_t max_bytes, uint64_t max_age_s)
{
	j->keep_bytes = max_bytes;
	j->keep_age = max_age_s;
}

struct unit {
	char name[NAME_MAX + 1];	/* the live file of another journal, or one of ours */
	uint64_t bytes;
	time_t mtime;
	unsigned long own;		/* our rotated file's N; 0: another journal */
	off_t live_size;		/* another journal's live file: its size */
};

static int cmp_unit(const void *a, const void *b)
{
	const struct unit *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return x->own < y->own ? -1 : x->own > y->own;
}

/* Whether the plain file of size bytes at dfd/name is a finished
 * journal: its first record a fence_start, its last a fence_end. What
 * is not is never touched (a running fence's, a crashed one's,
 * anything else). */
static bool finished_journal(int dfd, const char *name, off_t size)
{
	static const char start[] = "{\"seq\":0,";
	char buf[4096], *nl;
	ssize_t r;
	int fd;
	bool ok = false;

	if (size < 128)
		return false;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	r = pread(fd, buf, sizeof(buf) - 1, 0);
	if (r > (ssize_t)sizeof(start) && !memcmp(buf, start, sizeof(start) - 1)) {
		buf[r] = 0;
		nl = strchr(buf, '\n');
		if (nl)
			*nl = 0;
		if (strstr(buf, ",\"type\":\"fence_start\",")) {
			off_t at = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;

			r = pread(fd, buf, sizeof(buf) - 1, at);
			if (r > 1 && buf[r - 1] == '\n') {
				buf[r - 1] = 0;
				nl = strrchr(buf, '\n');
				ok = strstr(nl ? nl + 1 : buf, ",\"type\":\"fence_end\",") != NULL;
			}
		}
	}
	close(fd);
	return ok;
}

/* The directory's regular files, read once and sorted by name: a
 * journal's family (below) is then a run of names after its own, not
 * another read of the directory for each journal (a directory of N
 * journals cost N reads of N names at every start). */
struct dent {
	char *name;
	off_t size;
	time_t mtime;
};

static int cmp_dent(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

static void free_dents(struct dent *e, size_t n)
{
	while (n)
		free(e[--n].name);
	free(e);
}

static int read_dents(int dfd, struct dent **out, size_t *nout)
{
	struct dent *e = NULL, *ne;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	int fd = dup(dfd), err = 0;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		return err;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			ne = realloc(e, (cap = cap ? 2 * cap : 64) * sizeof(*e));
			if (!ne) {
				err = -ENOMEM;
				break;
			}
			e = ne;
		}
		e[n].name = strdup(de->d_name);
		if (!e[n].name) {
			err = -ENOMEM;
			break;
		}
		e[n].size = st.st_size;
		e[n].mtime = st.st_mtime;
		n++;
	}
	closedir(d);
	if (err) {
		free_dents(e, n);
		return err;
	}
	if (n)
		qsort(e, n, sizeof(*e), cmp_dent);
	*out = e;
	*nout = n;
	return 0;
}

/* Whether what follows "LIVE." in a name makes it of LIVE's family:
 * N, N.gz, supervisor-exit. */
static bool family_suffix(const char *rest)
{
	size_t digits = strspn(rest, "0123456789");

	if (!strcmp(rest, "supervisor-exit"))
		return true;
	return digits && (!rest[digits] || !strcmp(rest + digits, ".gz"));
}

/* The first entry of the sorted listing whose name is not below key. */
static size_t lower_bound(const struct dent *e, size_t n, const char *key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(e[mid].name, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The bytes of a journal's family beside its live file, from the
 * listing; removes them too when told. Its names all begin with
 * "LIVE.": one run of the sorted listing. */
static uint64_t family(int dfd, const struct dent *e, size_t n, const char *live, bool remove)
{
	size_t ll = strlen(live), i;
	char key[NAME_MAX + 2];
	uint64_t bytes = 0;

	snprintf(key, sizeof(key), "%s.", live);
	for (i = lower_bound(e, n, key); i < n && !strncmp(e[i].name, key, ll + 1); i++) {
		if (!family_suffix(e[i].name + ll + 1))
			continue;
		bytes += e[i].size;
		if (remove)
			unlinkat(dfd, e[i].name, 0);
	}
	return bytes;
}

int af_journal_retain(struct af_journal *j)
{
	char dir[PATH_MAX], *slash, effect[256];
	const char *self;
	struct unit *u = NULL;
	struct dent *e = NULL;
	size_t nu = 0, ne = 0, k, i, removed = 0, sl;
	uint64_t total = 0, freed = 0, kept_from = UINT64_MAX;
	unsigned long own_to = 0;
	time_t now = time(NULL);
	bool by_size = false, by_age = false;
	struct af_json *w;
	int dfd, err = 0;

	j->retain_due = false;
	if (j->retaining || (!j->keep_bytes && !j->keep_age))
		return 0;
	j->retaining = true;
	af_strlcpy(dir, j->path, sizeof(dir));
	slash = strrchr(dir, '/');
	self = slash ? j->path + (slash - dir) + 1 : j->path;
	sl = strlen(self);
	if (slash)
		*slash = 0;
	dfd = open(slash ? (dir[0] ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = dfd < 0 ? -errno : read_dents(dfd, &e, &ne);
	if (err)
		goto out;
	u = calloc(ne ? ne : 1, sizeof(*u));
	if (!u) {
		err = -ENOMEM;
		goto out;
	}
	for (k = 0; k < ne; k++) {
		const char *name = e[k].name, *rest, *dot = strrchr(name, '.');
		unsigned long own = 0;
		off_t bytes = e[k].size, live_size = 0;

		if (!strcmp(name, self)) {
			total += bytes;	/* the live file: counted, never removed */
			continue;
		}
		if (!strncmp(name, self, sl) && name[sl] == '.') {
			rest = name + sl + 1;
			own = strtoul(rest, NULL, 10);
			rest += strspn(rest, "0123456789");
			total += bytes;
			/* Ours to remove: a compressed rotated file whose
			 * successor's first record we know (a plain one is
			 * being compressed, or waits for it; compression goes
			 * in order, so every .gz is older). */
			if (!own || (rest[0] && strcmp(rest, ".gz")) || own + 1 >= j->nstarts ||
			    j->starts[own + 1].seq == UINT64_MAX || !rest[0])
				continue;
		} else if (dot && dot[1] >= '0' && dot[1] <= '9') {
			continue;	/* counted with its journal's live file */
		} else if ((dot && !strcmp(dot, ".gz")) || strstr(name, ".supervisor-exit")) {
			continue;
		} else {
			/* Another journal, with its family. Whether it is
			 * finished (its first and last records read) is asked
			 * only of one about to be removed: a start with the
			 * directory under its bounds reads no journal. */
			live_size = bytes;
			bytes += family(dfd, e, ne, name, false);
			total += bytes;
		}
		af_strlcpy(u[nu].name, name, sizeof(u[nu].name));
		u[nu].bytes = bytes;
		u[nu].mtime = e[k].mtime;
		u[nu].own = own;
		u[nu].live_size = live_size;
		nu++;
	}
	qsort(u, nu, sizeof(*u), cmp_unit);
	for (i = 0; i < nu; i++) {
		bool old = j->keep_age && now - u[i].mtime > (time_t)j->keep_age;
		bool big = j->keep_bytes && total > j->keep_bytes;

		if (!old && !big)
			continue;
		/* Running, crashed, or not a journal of ours: kept. */
		if (!u[i].own && !finished_journal(dfd, u[i].name, u[i].live_size))
			continue;
		by_age |= old;
		by_size |= big && !old;
		if (u[i].own) {
			if (u[i].own > own_to)
				own_to = u[i].own;
			unlinkat(dfd, u[i].name, 0);
		} else {
			family(dfd, e, ne, u[i].name, true);
			unlinkat(dfd, u[i].name, 0);
		}
		total -= u[i].bytes;
		freed += u[i].bytes;
		u[i].mtime = -1;	/* removed */
		removed++;
	}
	if (!removed)
		goto out;
	/* Our own rotated files go oldest first, no gap: every one up to
	 * the newest removed (an older one is older by time too; a plain
	 * and a .gz twin may both be there). */
	if (own_to) {
		unsigned long n;
		char name[PATH_MAX + 32];

		for (n = 1; n <= own_to; n++) {
			snprintf(name, sizeof(name), "%s.%lu.gz", j->path, n);
			unlink(name);
			snprintf(name, sizeof(name), "%s.%lu", j->path, n);
			unlink(name);
		}
		kept_from = j->starts[own_to + 1].seq;
	}
	fsync_dir(j->path);
	w = af_journal_begin(j, "retention", NULL);
	if (!w) {
		err = -ENOMEM;
		goto out;
	}
	af_json_array(w, "removed");
	for (i = 0; i < nu; i++)
		if (u[i].mtime == -1)
			af_json_str(w, NULL, u[i].name);
	af_json_end(w);
	af_json_u64(w, "bytes", freed);
	af_json_str(w, "reason", by_size && by_age ? "size and age" : by_size ? "size" : "age");
	af_json_u64(w, "keep_bytes", j->keep_bytes);
	af_json_u64(w, "keep_days", j->keep_age / 86400);
	if (own_to) {
		/* What verify checks the journal's new beginning against. */
		af_json_u64(w, "kept_from_seq", kept_from);
		af_json_str(w, "kept_prev", j->starts[own_to + 1].prev);
	}
	snprintf(effect, sizeof(effect), "retention: removed %zu journal file%s (%llu bytes): %s",
		 removed, removed == 1 ? "" : "s", (unsigned long long)freed,
		 by_size && by_age ? "over the size and age bounds" :
		 by_size ? "over the size bound" : "older than the age bound");
	af_json_str(w, "effect", effect);
	err = af_journal_commit(j);
out:
	free(u);
	free_dents(e, ne);
	if (dfd >= 0)
		close(dfd);
	j->retaining = false;
	return err;
}
