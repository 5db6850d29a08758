/* SPDX-License-Identifier: GPL-2.0 */
/*
 * HTTP for the commands that talk to APIs (dockerd's socket, the
 * Kubernetes API server), through libcurl loaded with dlopen on first use:
 * linking it costs every process ~34 libraries of loader time, and `run`
 * must stay lean. Only the process that calls af_http_do() pays.
 */
#ifndef AF_HTTP_H
#define AF_HTTP_H

#include <stddef.h>

struct af_http_req {
	const char *method;		/* "GET", "POST", "PATCH", ...; NULL: GET */
	const char *url;		/* http://localhost/v1.41/..., https://127.0.0.1:16443/api/v1/... */
	const char *unix_socket;	/* NULL, or the path the connection goes to */
	const char *const *headers;	/* NULL-terminated "Name: value", or NULL */
	const char *body;
	size_t body_len;
	const char *ca_file;		/* NULL: the system's CAs */
	const char *client_cert, *client_key;	/* PEM files, or NULL */
	const char *bearer_token;	/* NULL, or a token */
	long timeout_ms;		/* the whole request; 0: none (a watch) */
	long connect_timeout_ms;	/* 0: 5000 */
	/* Streaming: called with each chunk as it arrives; nonzero stops the
	 * transfer (af_http_do then returns -ECANCELED). NULL: collect the body. */
	int (*on_data)(const char *buf, size_t len, void *ctx);
	void *ctx;
	size_t max_body;		/* collected body limit; 0: 64 MiB */
};

/*
 * 0 and *status (the HTTP status) when a response came; a negative errno and
 * why ("connect /var/run/docker.sock: No such file or directory") otherwise.
 * *body (malloc'd, NUL-terminated; the caller frees it) and *body_len when
 * on_data is NULL and body is not NULL. status, body, body_len, why may be NULL.
 * -ENOSYS: libcurl is not installed.
 */
int af_http_do(const struct af_http_req *r, long *status, char **body, size_t *body_len,
	       char *why, size_t n);

/* 0 when libcurl can be loaded, else -ENOSYS and why. */
int af_http_available(char *why, size_t n);

#endif
