// SPDX-License-Identifier: GPL-2.0
/*
 * HTTP through libcurl, loaded with dlopen on first use (systemd's
 * dlopen_*() habit: a table of the few symbols used, resolved once). Only
 * the header's types and constants are used at build time; nothing links.
 */
#define _GNU_SOURCE
#define CURL_DISABLE_TYPECHECK	/* the typecheck macros would wrap our pointers' names */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define AF_HTTP_MAX_BODY (64u << 20)

static struct {
	void *dl;
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
} curl;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_err;			/* 0 once loaded, else negative errno */
static char curl_why[256];

static void curl_load(void)
{
	static const struct {
		const char *name;
		void **p;
	} syms[] = {
		{ "curl_global_init", (void **)&curl.global_init },
		{ "curl_easy_init", (void **)&curl.easy_init },
		{ "curl_easy_setopt", (void **)&curl.easy_setopt },
		{ "curl_easy_perform", (void **)&curl.easy_perform },
		{ "curl_easy_getinfo", (void **)&curl.easy_getinfo },
		{ "curl_easy_cleanup", (void **)&curl.easy_cleanup },
		{ "curl_easy_strerror", (void **)&curl.easy_strerror },
		{ "curl_slist_append", (void **)&curl.slist_append },
		{ "curl_slist_free_all", (void **)&curl.slist_free_all },
	};
	const char *lib = secure_getenv("AF_LIBCURL");	/* tests point it at a missing file */

	if (!lib || !*lib)
		lib = "libcurl.so.4";
	curl.dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!curl.dl) {
		const char *e = dlerror();

		snprintf(curl_why, sizeof(curl_why), "libcurl is not installed (libcurl4): %s",
			 e ? e : lib);
		curl_err = -ENOSYS;
		return;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		*syms[i].p = dlsym(curl.dl, syms[i].name);
		if (!*syms[i].p) {
			snprintf(curl_why, sizeof(curl_why),
				 "libcurl is not usable: %s lacks %s (libcurl4 7.x or later)", lib,
				 syms[i].name);
			dlclose(curl.dl);
			memset(&curl, 0, sizeof(curl));
			curl_err = -ENOSYS;
			return;
		}
	}
	/* Not thread-safe in libcurl before 7.84: done once, here, under the once. */
	if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(curl_why, sizeof(curl_why), "libcurl: global init failed");
		curl_err = -EIO;
	}
}

int af_http_available(char *why, size_t n)
{
	pthread_once(&curl_once, curl_load);
	if (curl_err && why && n)
		snprintf(why, n, "%s", curl_why);
	return curl_err;
}

struct sink {
	const struct af_http_req *r;
	char *buf;
	size_t len, cap, max;
	bool stopped, too_big, oom;
};

static size_t on_write(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * nmemb;

	if (s->r->on_data) {
		if (s->r->on_data(p, len, s->r->ctx)) {
			s->stopped = true;
			return 0;	/* CURLE_WRITE_ERROR */
		}
		return len;
	}
	if (len > s->max - s->len) {
		s->too_big = true;
		return 0;
	}
	if (s->len + len + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *b;

		while (cap < s->len + len + 1)
			cap *= 2;
		b = realloc(s->buf, cap);
		if (!b) {
			s->oom = true;
			return 0;
		}
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return len;
}

/* "host:port" of a URL, for messages. */
static void url_authority(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "://");
	size_t len;

	p = p ? p + 3 : url;
	len = strcspn(p, "/?#");
	snprintf(out, n, "%.*s", (int)len, p);
}

static int curl_fail(CURL *c, CURLcode rc, const struct af_http_req *r, const struct sink *s,
		     const char *errbuf, char *why, size_t n)
{
	char where[256];
	long os_errno = 0;
	const char *detail = errbuf[0] ? errbuf : curl.easy_strerror(rc);

	if (r->unix_socket)
		snprintf(where, sizeof(where), "%s", r->unix_socket);
	else
		url_authority(r->url, where, sizeof(where));
	switch (rc) {
	case CURLE_WRITE_ERROR:
		if (s->stopped) {
			snprintf(why, n, "%s: stopped by the reader", where);
			return -ECANCELED;
		}
		if (s->too_big) {
			snprintf(why, n, "%s: response body larger than %zu bytes", where, s->max);
			return -EFBIG;
		}
		if (s->oom) {
			snprintf(why, n, "%s: out of memory", where);
			return -ENOMEM;
		}
		break;
	case CURLE_COULDNT_CONNECT:
		curl.easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
		if (os_errno > 0) {
			snprintf(why, n, "connect %s: %s", where, strerror((int)os_errno));
			return -(int)os_errno;
		}
		snprintf(why, n, "connect %s: %s", where, detail);
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(why, n, "%s: %s", where, detail);
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(why, n, "resolve %s: %s", where, detail);
		return -EHOSTUNREACH;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
		snprintf(why, n, "TLS with %s: %s", where, detail);
		return -EPROTO;
	case CURLE_OUT_OF_MEMORY:
		snprintf(why, n, "%s: out of memory", where);
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(why, n, "URL %s: %s", r->url, detail);
		return -EINVAL;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		snprintf(why, n, "%s: %s", where, detail);
		return -ECONNRESET;
	default:
		break;
	}
	snprintf(why, n, "%s: %s", where, detail);
	return -EIO;
}

int af_http_do(const struct af_http_req *r, long *status, char **body, size_t *body_len,
	       char *why, size_t n)
{
	char errbuf[CURL_ERROR_SIZE] = "", whybuf[256], *auth = NULL;
	struct sink s = { .r = r };
	struct curl_slist *hdrs = NULL, *h;
	CURL *c = NULL;
	CURLcode rc;
	long code = 0;
	int err;

	if (!why || !n) {
		why = whybuf;
		n = sizeof(whybuf);
	}
	why[0] = '\0';
	if (status)
		*status = 0;
	if (body)
		*body = NULL;
	if (body_len)
		*body_len = 0;
	if (!r || !r->url) {
		snprintf(why, n, "no URL");
		return -EINVAL;
	}
	err = af_http_available(why, n);
	if (err)
		return err;
	s.max = r->max_body ? r->max_body : AF_HTTP_MAX_BODY;

	c = curl.easy_init();
	if (!c) {
		snprintf(why, n, "libcurl: cannot make a handle");
		return -ENOMEM;
	}
	/* Headers: the caller's, the token, and no "Expect: 100-continue" round trip. */
	for (const char *const *p = r->headers; p && *p; p++) {
		h = curl.slist_append(hdrs, *p);
		if (!h)
			goto oom;
		hdrs = h;
	}
	if (r->bearer_token) {
		if (asprintf(&auth, "Authorization: Bearer %s", r->bearer_token) < 0) {
			auth = NULL;
			goto oom;
		}
		h = curl.slist_append(hdrs, auth);
		if (!h)
			goto oom;
		hdrs = h;
	}
	h = curl.slist_append(hdrs, "Expect:");
	if (!h)
		goto oom;
	hdrs = h;

	curl.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);	/* threads: no SIGALRM for resolver timeouts */
	curl.easy_setopt(c, CURLOPT_URL, r->url);
	/* Only HTTP(S), and no redirects: an API that redirects is not the API asked. */
	curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl.easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl.easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms > 0 ? r->connect_timeout_ms : 5000L);
	curl.easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 0L);
	curl.easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	if (r->unix_socket)
		curl.easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, r->unix_socket);
	if (r->ca_file)
		curl.easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
	if (r->client_cert) {
		curl.easy_setopt(c, CURLOPT_SSLCERT, r->client_cert);
		curl.easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (r->client_key) {
		curl.easy_setopt(c, CURLOPT_SSLKEY, r->client_key);
		curl.easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (r->body) {
		curl.easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
		curl.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	}
	if (r->method && !strcmp(r->method, "HEAD"))
		curl.easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (r->method && strcmp(r->method, r->body ? "POST" : "GET"))
		curl.easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);

	rc = curl.easy_perform(c);
	if (rc != CURLE_OK) {
		err = curl_fail(c, rc, r, &s, errbuf, why, n);
		goto out;
	}
	curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (status)
		*status = code;
	if (!r->on_data && body) {
		if (!s.buf) {
			s.buf = strdup("");
			if (!s.buf)
				goto oom;
		}
		*body = s.buf;
		s.buf = NULL;
		if (body_len)
			*body_len = s.len;
	}
	err = 0;
	goto out;
oom:
	snprintf(why, n, "out of memory");
	err = -ENOMEM;
out:
	free(s.buf);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	if (hdrs)
		curl.slist_free_all(hdrs);
	curl.easy_cleanup(c);
	return err;
}
