// SPDX-License-Identifier: GPL-2.0
/*
 * userspace/http.c against a loopback server this test runs in a thread
 * (127.0.0.1 and a unix socket only): methods, headers, bodies, streaming,
 * and the errors a caller reports (no socket, refused, timeout, too big,
 * libcurl missing).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <cmocka.h>

#include "http.h"

static int tcp_fd = -1, unix_fd = -1;
static int port;
static char sock_path[108], url[256];
static pthread_t tcp_thr, unix_thr;

static void reply(int fd, const char *status, const char *body)
{
	char head[512];
	int len = snprintf(head, sizeof(head),
			   "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			   "Connection: close\r\n\r\n", status, strlen(body));

	if (write(fd, head, len) != len || write(fd, body, strlen(body)) < 0)
		return;
}

/* One request per connection; the answer depends on the path. */
static void serve(int fd)
{
	char req[16384], method[16], path[256], echo[16384 + 64];
	size_t len = 0, want = 0;
	char *end = NULL, *cl;
	ssize_t got;

	while (len < sizeof(req) - 1) {
		got = read(fd, req + len, sizeof(req) - 1 - len);
		if (got <= 0)
			return;
		len += got;
		req[len] = '\0';
		if (!end && (end = strstr(req, "\r\n\r\n"))) {
			cl = strcasestr(req, "\r\nContent-Length: ");
			want = (end - req) + 4 + (cl && cl < end ? strtoul(cl + 18, NULL, 10) : 0);
		}
		if (end && len >= want)
			break;
	}
	if (!end || sscanf(req, "%15s %255s", method, path) != 2)
		return;
	if (!strcmp(path, "/hello")) {
		reply(fd, "200 OK", "hello\n");
	} else if (!strcmp(path, "/echo")) {
		/* The method, the headers the test looks for, and the body. */
		snprintf(echo, sizeof(echo), "%s x=%s auth=%s expect=%s body=%s", method,
			 strcasestr(req, "\r\nX-Test: 1\r\n") ? "1" : "0",
			 strstr(req, "\r\nAuthorization: Bearer s3cret\r\n") ? "1" : "0",
			 strcasestr(req, "\r\nExpect:") ? "1" : "0", end + 4);
		reply(fd, "201 Created", echo);
	} else if (!strcmp(path, "/stream")) {
		static const char *chunks[] = { "5\r\nline1\r\n", "5\r\nline2\r\n", "5\r\nline3\r\n", "0\r\n\r\n" };
		const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

		if (write(fd, head, strlen(head)) < 0)
			return;
		for (size_t i = 0; i < 4; i++) {
			if (write(fd, chunks[i], strlen(chunks[i])) < 0)
				return;
			usleep(20000);
		}
	} else if (!strcmp(path, "/big")) {
		static char big[10000];

		memset(big, 'x', sizeof(big) - 1);
		reply(fd, "200 OK", big);
	} else if (!strcmp(path, "/slow")) {
		sleep(2);	/* longer than the test's timeout */
		reply(fd, "200 OK", "late\n");
	} else {
		reply(fd, "404 Not Found", "{\"kind\":\"Status\"}");
	}
}

static void *server(void *arg)
{
	int lfd = *(int *)arg, fd;

	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		serve(fd);
		close(fd);
	}
	return NULL;
}

static int setup(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	socklen_t alen = sizeof(a);

	(void)state;
	signal(SIGPIPE, SIG_IGN);	/* the server writes to clients that gave up */
	tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (tcp_fd < 0 || bind(tcp_fd, (struct sockaddr *)&a, sizeof(a)) || listen(tcp_fd, 8) ||
	    getsockname(tcp_fd, (struct sockaddr *)&a, &alen))
		return -1;
	port = ntohs(a.sin_port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	snprintf(sock_path, sizeof(sock_path), "/tmp/af-http-test.%d.sock", (int)getpid());
	unlink(sock_path);
	strcpy(u.sun_path, sock_path);
	unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (unix_fd < 0 || bind(unix_fd, (struct sockaddr *)&u, sizeof(u)) || listen(unix_fd, 8))
		return -1;
	if (pthread_create(&tcp_thr, NULL, server, &tcp_fd) ||
	    pthread_create(&unix_thr, NULL, server, &unix_fd))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	/* The threads die with the process; the socket file must not outlive it. */
	unlink(sock_path);
	return 0;
}

static char *u(const char *path)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s%s", url, path);
	return buf;
}

static void test_get(void **state)
{
	struct af_http_req r = { .url = u("/hello") };
	char why[256], *body;
	size_t len;
	long status;

	(void)state;
	assert_int_equal(af_http_do(&r, &status, &body, &len, why, sizeof(why)), 0);
	assert_int_equal(status, 200);
	assert_string_equal(body, "hello\n");
	assert_int_equal(len, 6);
	free(body);
	/* A status that is not 2xx is still a response. */
	r.url = u("/nothing");
	assert_int_equal(af_http_do(&r, &status, &body, NULL, why, sizeof(why)), 0);
	assert_int_equal(status, 404);
	assert_string_equal(body, "{\"kind\":\"Status\"}");
	free(body);
}

static void test_methods_headers_body(void **state)
{
	static const char *const hdrs[] = { "X-Test: 1", "Content-Type: application/json", NULL };
	char big[3000], expect[3200], why[256], *body;
	struct af_http_req r = {
		.method = "POST", .url = u("/echo"), .headers = hdrs,
		.body = "{\"a\":1}", .body_len = 7, .bearer_token = "s3cret",
	};
	long status;

	(void)state;
	assert_int_equal(af_http_do(&r, &status, &body, NULL, why, sizeof(why)), 0);
	assert_int_equal(status, 201);
	assert_string_equal(body, "POST x=1 auth=1 expect=0 body={\"a\":1}");
	free(body);
	r.method = "PATCH";
	r.bearer_token = NULL;
	assert_int_equal(af_http_do(&r, &status, &body, NULL, why, sizeof(why)), 0);
	assert_string_equal(body, "PATCH x=1 auth=0 expect=0 body={\"a\":1}");
	free(body);
	r.method = "DELETE";
	r.body = NULL;
	r.headers = NULL;
	assert_int_equal(af_http_do(&r, &status, &body, NULL, why, sizeof(why)), 0);
	assert_string_equal(body, "DELETE x=0 auth=0 expect=0 body=");
	free(body);
	/* A body over curl's 1 KiB Expect threshold goes in one round trip. */
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	r.method = "POST";
	r.body = big;
	r.body_len = strlen(big);
	assert_int_equal(af_http_do(&r, &status, &body, NULL, why, sizeof(why)), 0);
	snprintf(expect, sizeof(expect), "POST x=0 auth=0 expect=0 body=%s", big);
	assert_string_equal(body, expect);
	free(body);
}

static void test_unix_socket(void **state)
{
	struct af_http_req r = { .url = "http://localhost/hello", .unix_socket = sock_path };
	char why[256], *body;
	long status;

	(void)state;
	assert_int_equal(af_http_do(&r, &status, &body, NULL, why, sizeof(why)), 0);
	assert_int_equal(status, 200);
	assert_string_equal(body, "hello\n");
	free(body);
	r.unix_socket = "/nonexistent/af-http.sock";
	assert_int_equal(af_http_do(&r, &status, &body, NULL, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, "connect /nonexistent/af-http.sock: No such file or directory");
	assert_null(body);
	assert_int_equal(status, 0);
}

static void test_refused(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	char why[256], where[128], expect[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct af_http_req r = { .url = where };

	(void)state;
	/* A port that was just bound and is not listening refuses. */
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(where, sizeof(where), "http://127.0.0.1:%d/x", ntohs(a.sin_port));
	assert_int_equal(af_http_do(&r, NULL, NULL, NULL, why, sizeof(why)), -ECONNREFUSED);
	snprintf(expect, sizeof(expect), "connect 127.0.0.1:%d: Connection refused", ntohs(a.sin_port));
	assert_string_equal(why, expect);
	close(fd);
}

struct lines {
	char buf[256];
	int calls, stop_after;
};

static int on_data(const char *buf, size_t len, void *ctx)
{
	struct lines *l = ctx;

	strncat(l->buf, buf, len < sizeof(l->buf) - strlen(l->buf) - 1 ? len : 0);
	return ++l->calls == l->stop_after;
}

static void test_streaming(void **state)
{
	struct lines l = { .stop_after = 0 };
	struct af_http_req r = { .url = u("/stream"), .on_data = on_data, .ctx = &l };
	char why[256], *body = (char *)1;
	long status;

	(void)state;
	assert_int_equal(af_http_do(&r, &status, &body, NULL, why, sizeof(why)), 0);
	assert_int_equal(status, 200);
	assert_string_equal(l.buf, "line1line2line3");
	assert_true(l.calls >= 3);	/* one per chunk: they arrive 20 ms apart */
	assert_null(body);		/* nothing collected */
	/* The reader stops after the first chunk. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	assert_int_equal(af_http_do(&r, &status, NULL, NULL, why, sizeof(why)), -ECANCELED);
	assert_string_equal(l.buf, "line1");
	assert_int_equal(l.calls, 1);
}

static void test_limits(void **state)
{
	struct af_http_req r = { .url = u("/big"), .max_body = 1000 };
	char why[256], *body;

	(void)state;
	assert_int_equal(af_http_do(&r, NULL, &body, NULL, why, sizeof(why)), -EFBIG);
	assert_non_null(strstr(why, "larger than 1000 bytes"));
	assert_null(body);
	r.max_body = 0;
	assert_int_equal(af_http_do(&r, NULL, &body, NULL, why, sizeof(why)), 0);
	assert_int_equal(strlen(body), 9999);
	free(body);
	r.url = u("/slow");
	r.timeout_ms = 300;
	assert_int_equal(af_http_do(&r, NULL, &body, NULL, why, sizeof(why)), -ETIMEDOUT);
	assert_non_null(strstr(why, "127.0.0.1:"));
	r.url = "ftp://127.0.0.1/x";	/* only HTTP(S) */
	assert_true(af_http_do(&r, NULL, &body, NULL, why, sizeof(why)) < 0);
	r.url = NULL;
	assert_int_equal(af_http_do(&r, NULL, &body, NULL, why, sizeof(why)), -EINVAL);
}

/* In a fresh process (the loader's answer is cached per process): the test re-executes itself. */
static int no_libcurl_child(void)
{
	struct af_http_req r = { .url = "http://127.0.0.1:1/" };
	char why[256];
	int err = af_http_do(&r, NULL, NULL, NULL, why, sizeof(why));

	printf("%d %s\n", err, why);
	return err == -ENOSYS && strstr(why, "libcurl is not installed (libcurl4)") &&
	       af_http_available(NULL, 0) == -ENOSYS ? 0 : 1;
}

static void test_no_libcurl(void **state)
{
	int wst;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("AF_LIBCURL", "/nonexistent/libcurl.so.4", 1);
		setenv("AF_HTTP_TEST_CHILD", "1", 1);
		execl("/proc/self/exe", "test_http", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFEXITED(wst));
	assert_int_equal(WEXITSTATUS(wst), 0);
}

int main(void)
{
	if (getenv("AF_HTTP_TEST_CHILD"))
		return no_libcurl_child();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_methods_headers_body),
		cmocka_unit_test(test_unix_socket),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_streaming),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_no_libcurl),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
