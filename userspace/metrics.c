// SPDX-License-Identifier: GPL-2.0
/*
 * /metrics, /healthz, /readyz through libmicrohttpd, loaded with dlopen
 * (http.c's habit: a table of the few symbols used, resolved once; only
 * the header's types and constants at build time), so that run and every
 * other command never map it. The server runs in the daemon's loop
 * (MHD_USE_EPOLL without a thread of its own: its epoll descriptor is one
 * more descriptor of the loop), so a handler reads the daemon's state
 * without a lock and a loop that stops turning stops answering /healthz.
 * Only GET and HEAD of the three paths; no request body is read.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "metrics.h"
#include "util.h"

static struct {
	void *dl;
	struct MHD_Daemon *(*start_daemon)(unsigned int flags, uint16_t port,
					   MHD_AcceptPolicyCallback apc, void *apc_cls,
					   MHD_AccessHandlerCallback dh, void *dh_cls, ...);
	void (*stop_daemon)(struct MHD_Daemon *d);
	enum MHD_Result (*run)(struct MHD_Daemon *d);
	enum MHD_Result (*get_timeout)(struct MHD_Daemon *d, MHD_UNSIGNED_LONG_LONG *t);
	const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *d,
						       enum MHD_DaemonInfoType t, ...);
	struct MHD_Response *(*create_response_from_buffer)(size_t size, void *buf,
							    enum MHD_ResponseMemoryMode mode);
	enum MHD_Result (*add_response_header)(struct MHD_Response *r, const char *h,
						const char *v);
	enum MHD_Result (*queue_response)(struct MHD_Connection *c, unsigned int status,
					   struct MHD_Response *r);
	void (*destroy_response)(struct MHD_Response *r);
} mhd;

static int mhd_err = 1;		/* 1: not tried yet; 0 loaded; else -errno */
static char mhd_why[256];

static void mhd_load(void)
{
	static const struct {
		const char *name;
		void **p;
	} syms[] = {
		{ "MHD_start_daemon", (void **)&mhd.start_daemon },
		{ "MHD_stop_daemon", (void **)&mhd.stop_daemon },
		{ "MHD_run", (void **)&mhd.run },
		{ "MHD_get_timeout", (void **)&mhd.get_timeout },
		{ "MHD_get_daemon_info", (void **)&mhd.get_daemon_info },
		{ "MHD_create_response_from_buffer", (void **)&mhd.create_response_from_buffer },
		{ "MHD_add_response_header", (void **)&mhd.add_response_header },
		{ "MHD_queue_response", (void **)&mhd.queue_response },
		{ "MHD_destroy_response", (void **)&mhd.destroy_response },
	};
	const char *lib = secure_getenv("AF_LIBMICROHTTPD");	/* tests point it at a missing file */

	if (!lib || !*lib)
		lib = "libmicrohttpd.so.12";
	mhd.dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!mhd.dl) {
		const char *e = dlerror();

		snprintf(mhd_why, sizeof(mhd_why), "libmicrohttpd is not installed (libmicrohttpd12): %s",
			 e ? e : lib);
		mhd_err = -ENOSYS;
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
		*syms[i].p = dlsym(mhd.dl, syms[i].name);
		if (!*syms[i].p) {
			snprintf(mhd_why, sizeof(mhd_why),
				 "libmicrohttpd is not usable: %s lacks %s (libmicrohttpd12 0.9.71 or later)",
				 lib, syms[i].name);
			dlclose(mhd.dl);
			memset(&mhd, 0, sizeof(mhd));
			mhd_err = -ENOSYS;
			return;
		}
	}
	mhd_err = 0;
}

/* Only the daemon's loop thread calls in: no once needed. */
int af_metrics_available(char *why, size_t n)
{
	if (mhd_err == 1)
		mhd_load();
	if (mhd_err && why && n)
		snprintf(why, n, "%s", mhd_why);
	return mhd_err;
}

int af_metrics_parse_listen(const char *arg, struct sockaddr_storage *ss, socklen_t *len,
			    char *why, size_t n)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(arg, ':');
	unsigned long port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (!colon || af_parse_ulong(colon + 1, 65535, &port) || !port) {
		snprintf(why, n, "not ADDR:PORT with a port 1-65535 (e.g. :9464, 127.0.0.1:9464, "
			 "[::1]:9464)");
		return -EINVAL;
	}
	hl = colon - arg;
	if (hl >= sizeof(host)) {
		snprintf(why, n, "not an IP address before the port (a host name is not taken)");
		return -EINVAL;
	}
	memcpy(host, arg, hl);
	host[hl] = 0;
	if (!hl) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_ANY);
		*len = sizeof(*a);
		return 0;
	}
	if (host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		host[hl - 1] = 0;
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1) {
			a->sin6_family = AF_INET6;
			a->sin6_port = htons(port);
			*len = sizeof(*a);
			return 0;
		}
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) == 1) {
			a->sin_family = AF_INET;
			a->sin_port = htons(port);
			*len = sizeof(*a);
			return 0;
		}
	}
	snprintf(why, n, "not an IP address before the port (IPv4, or IPv6 in brackets; a host "
		 "name is not taken)");
	return -EINVAL;
}

/* ---- the text format ---- */

static void put(struct af_obuf *b, const char *s, size_t len)
{
	if (af_obuf_reserve(b, len))
		return;
	memcpy(b->p + b->len, s, len);
	b->len += len;
}

static void puts_(struct af_obuf *b, const char *s)
{
	put(b, s, strlen(s));
}

void af_prom_family(struct af_obuf *b, const char *name, const char *type, const char *help)
{
	puts_(b, "# HELP ");
	puts_(b, name);
	put(b, " ", 1);
	puts_(b, help);
	puts_(b, "\n# TYPE ");
	puts_(b, name);
	put(b, " ", 1);
	puts_(b, type);
	put(b, "\n", 1);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(struct af_obuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			put(b, "\\\\", 2);
		else if (*v == '"')
			put(b, "\\\"", 2);
		else if (*v == '\n')
			put(b, "\\n", 2);
		else
			put(b, v, 1);
	}
}

void af_prom_sample(struct af_obuf *b, const char *name, uint64_t value, ...)
{
	const char *k, *v;
	char num[21];
	bool first = true;
	va_list ap;

	puts_(b, name);
	va_start(ap, value);
	while ((k = va_arg(ap, const char *))) {
		v = va_arg(ap, const char *);
		put(b, first ? "{" : ",", 1);
		first = false;
		puts_(b, k);
		put(b, "=\"", 2);
		label_value(b, v ? v : "");
		put(b, "\"", 1);
	}
	va_end(ap);
	if (!first)
		put(b, "}", 1);
	put(b, " ", 1);
	put(b, num, af_utoa(value, num));
	put(b, "\n", 1);
}

/* ---- the server ---- */

static struct {
	struct MHD_Daemon *d;
	struct af_loop *loop;
	int epfd, lfd;
	struct af_metrics_src src;
} srv = { .epfd = -1, .lfd = -1 };

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
			     char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = mhd.create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	mhd.add_response_header(r, "Content-Type", type);
	mhd.add_response_header(r, "Cache-Control", "no-store");
	ret = mhd.queue_response(c, status, r);
	mhd.destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	static char text[] = "text/plain; charset=utf-8";
	char msg[512];
	int len;

	(void)cls;
	(void)version;
	(void)upload;
	(void)state;
	if (*upload_size)
		return MHD_NO;		/* a body: nothing here takes one */
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		len = snprintf(msg, sizeof(msg), "%s: only GET and HEAD\n", method);
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, msg, len);
	}
	if (!strcmp(url, "/metrics")) {
		struct af_obuf b = {};
		enum MHD_Result ret;

		srv.src.collect(srv.src.ctx, &b);
		if (b.oom) {
			free(b.p);
			len = snprintf(msg, sizeof(msg), "out of memory\n");
			return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text, msg, len);
		}
		ret = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.p ? b.p : "",
			    b.len);
		free(b.p);
		return ret;
	}
	if (!strcmp(url, "/healthz")) {
		/* Answered from the loop: it turns. */
		len = snprintf(msg, sizeof(msg), "ok\n");
		return reply(c, MHD_HTTP_OK, text, msg, len);
	}
	if (!strcmp(url, "/readyz")) {
		char why[400] = "";

		if (srv.src.ready(srv.src.ctx, why, sizeof(why))) {
			len = snprintf(msg, sizeof(msg), "ready%s%s\n", why[0] ? ": " : "", why);
			return reply(c, MHD_HTTP_OK, text, msg, len);
		}
		len = snprintf(msg, sizeof(msg), "not ready: %s\n", why);
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, text, msg, len);
	}
	len = snprintf(msg, sizeof(msg), "not found (/metrics, /healthz, /readyz)\n");
	return reply(c, MHD_HTTP_NOT_FOUND, text, msg, len);
}

/* MHD's own epoll set is edge-triggered: run until it has no work left
 * that needs no new event (bounded: the loop has other descriptors). */
static void run_some(void)
{
	MHD_UNSIGNED_LONG_LONG t;

	for (int i = 0; i < 16; i++) {
		mhd.run(srv.d);
		if (mhd.get_timeout(srv.d, &t) != MHD_YES || t > 0)
			break;
	}
}

static int on_ready(void *ctx, int fd, uint32_t events)
{
	(void)ctx;
	(void)fd;
	(void)events;
	run_some();
	return 0;
}

int af_metrics_start(const char *arg, const struct af_metrics_src *src, struct af_loop *loop,
		     char *why, size_t n)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *di;
	socklen_t sl;
	int one = 1, err;

	err = af_metrics_parse_listen(arg, &ss, &sl, why, n);
	if (!err)
		err = af_metrics_available(why, n);
	if (err)
		return err;
	/* Bound here, not by MHD: its failure would not say why. */
	srv.lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (srv.lfd < 0 || setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(srv.lfd, (struct sockaddr *)&ss, sl) || listen(srv.lfd, 64)) {
		err = -errno;
		snprintf(why, n, "%s: %s%s", arg, strerror(errno),
			 err == -EADDRINUSE ? " (another process listens there: --listen another port)" :
			 err == -EADDRNOTAVAIL ? " (no interface has that address)" : "");
		goto fail;
	}
	srv.src = *src;
	srv.d = mhd.start_daemon(MHD_USE_EPOLL | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0,
				 NULL, NULL, on_request, NULL,
				 MHD_OPTION_LISTEN_SOCKET, srv.lfd,
				 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)32,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
				 MHD_OPTION_END);
	if (!srv.d) {
		err = -EIO;
		snprintf(why, n, "%s: libmicrohttpd would not start its server", arg);
		goto fail;
	}
	di = mhd.get_daemon_info(srv.d, MHD_DAEMON_INFO_EPOLL_FD);
	srv.epfd = di ? di->epoll_fd : -1;
	if (srv.epfd < 0 || af_loop_add(loop, srv.epfd, on_ready, NULL)) {
		err = -EIO;
		snprintf(why, n, "%s: cannot add the server to the event loop", arg);
		mhd.stop_daemon(srv.d);
		srv.d = NULL;
		goto fail;
	}
	srv.loop = loop;
	return 0;
fail:
	if (srv.lfd >= 0)
		close(srv.lfd);
	srv.lfd = -1;
	return err;
}

void af_metrics_tick(void)
{
	if (srv.d)
		run_some();
}

void af_metrics_stop(void)
{
	if (!srv.d)
		return;
	af_loop_del(srv.loop, srv.epfd);
	mhd.stop_daemon(srv.d);	/* closes the listening socket too */
	srv.d = NULL;
	srv.lfd = -1;
}
