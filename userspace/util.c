// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "json.h"
#include "util.h"

const char *af_cmd;
int af_verbose;
bool af_json_errors;
af_msg_fn af_msg_hook;
void *af_msg_ctx;

static void vmsg(const char *kind, const char *fmt, va_list ap)
{
	char buf[4096], esc[8192];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (af_msg_hook) {
		af_msg_hook(af_msg_ctx, kind, buf);
		return;
	}
	if (af_json_errors) {
		fprintf(stderr, "{\"%s\":", kind);
		json_str(stderr, buf);
		fprintf(stderr, ",\"command\":");
		json_str(stderr, af_cmd ? af_cmd : "");
		fprintf(stderr, "}\n");
		return;
	}
	/* Messages quote paths and names the fenced command chose. */
	af_esc(esc, sizeof(esc), buf);
	if (af_cmd)
		fprintf(stderr, "agentfence %s: %s%s\n", af_cmd, kind[0] == 'e' ? "" : kind[0] == 'w' ? "warning: " : "", esc);
	else
		fprintf(stderr, "agentfence: %s%s\n", kind[0] == 'w' ? "warning: " : "", esc);
}

void af_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("error", fmt, ap);
	va_end(ap);
}

void af_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning", fmt, ap);
	va_end(ap);
}

/* Notes are the product talking to its user ("filesystem fence via
 * Landlock"): they carry no subcommand, like a denial line. */
void af_note(const char *fmt, ...)
{
	char buf[4096], esc[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (af_msg_hook)
		af_msg_hook(af_msg_ctx, "note", buf);
	else
		fprintf(stderr, "agentfence: %s\n", af_esc(esc, sizeof(esc), buf));
}

void af_debug(const char *fmt, ...)
{
	va_list ap;

	if (!af_verbose)
		return;
	va_start(ap, fmt);
	fputs("agentfence: debug: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int af_str_set(char **dst, const char *src)
{
	char *c = strdup(src ? src : "");

	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

int af_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (!size)
		return -ENAMETOOLONG;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = 0;
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int af_parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int af_read_small(const char *path, char *buf, size_t size)
{
	return af_read_small_at(AT_FDCWD, path, buf, size);
}

int af_write_small_at(int dirfd, const char *path, const char *val)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		err = -errno;
	close(fd);
	return err;
}

int af_read_small_at(int dirfd, const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

bool af_pid_alive(pid_t pid)
{
	char path[64], st[512];
	const char *r;

	if (pid <= 0 || (kill(pid, 0) && errno == ESRCH))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (af_read_small(path, st, sizeof(st)))
		return true;
	/* "pid (comm) S ...": comm may hold ") ", the state follows the last. */
	r = strrchr(st, ')');
	return !(r && r[1] == ' ' && (r[2] == 'Z' || r[2] == 'X'));
}

/* Length of the valid UTF-8 sequence at s (at most len bytes) of a
 * printable code point, or 0: overlong forms, surrogates, C1 controls
 * (U+0080..U+009F, which terminals obey) and bytes that start nothing
 * are not. */
static size_t utf8_printable(const unsigned char *s, size_t len)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0 ||
	    /* bidi overrides and isolates reorder what the line shows */
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
		return 0;
	return n;
}

size_t af_escape(char *out, size_t n, const char *in, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0, i = 0, need = 0;

	while (i < len) {
		char tmp[8];
		size_t tl, u;

		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') {
			tmp[0] = s[i];
			tl = 1, u = 1;
		} else if (s[i] >= 0x80 && (u = utf8_printable(s + i, len - i))) {
			memcpy(tmp, s + i, u);
			tl = u;
		} else {
			static const char hex[] = "0123456789abcdef";
			char c = s[i] == '\\' ? '\\' : s[i] == '\n' ? 'n' : s[i] == '\t' ? 't' :
				 s[i] == '\r' ? 'r' : 0;

			tmp[0] = '\\';
			if (c) {
				tmp[1] = c;
				tl = 2;
			} else {
				tmp[1] = 'x';
				tmp[2] = hex[s[i] >> 4];
				tmp[3] = hex[s[i] & 15];
				tl = 4;
			}
			u = 1;
		}
		/* Whole escapes only: a cut one could read as something else. */
		if (o == need && n && o + tl < n) {
			memcpy(out + o, tmp, tl);
			o += tl;
		}
		need += tl;
		i += u;
	}
	if (n)
		out[o] = 0;
	return need;
}

const char *af_esc(char *buf, size_t n, const char *s)
{
	af_escape(buf, n, s, strlen(s));
	return buf;
}

int af_unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (af_strlcpy(sa.sun_path, path, sizeof(sa.sun_path)))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}
