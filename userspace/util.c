// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	char buf[4096];

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
	if (af_cmd)
		fprintf(stderr, "agentfence %s: %s%s\n", af_cmd, kind[0] == 'e' ? "" : kind[0] == 'w' ? "warning: " : "", buf);
	else
		fprintf(stderr, "agentfence: %s%s\n", kind[0] == 'w' ? "warning: " : "", buf);
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
	va_list ap;

	va_start(ap, fmt);
	if (af_msg_hook) {
		char buf[4096];

		vsnprintf(buf, sizeof(buf), fmt, ap);
		af_msg_hook(af_msg_ctx, "note", buf);
	} else {
		fputs("agentfence: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
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
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}
