/*
 * systemd notifications: notify.c on its own (addresses, the watchdog
 * variables, a full queue), then a real commisd started with
 * NOTIFY_SOCKET set to a datagram socket the test reads: READY=1 with
 * STATUS=, WATCHDOG=1 again and again, RELOADING=1 then READY=1 around
 * reloads (refused ones too), STOPPING=1 on SIGTERM, and no systemd
 * variable in any worker's /proc/PID/environ.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "testlib.h"

/* A datagram socket at path ("@name": abstract). */
static int
dgram_listen(const char *path)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(path), sizeof sun.sun_path);
	memcpy(sun.sun_path, path, strlen(path));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

/* The next datagram within ms, NUL-terminated; its length or -1. */
static int
recv_msg(int fd, char *buf, size_t size, int ms)
{
	uint64_t	deadline = test_now_ms() + (uint64_t)ms, now;
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	ssize_t		n;

	for (;;) {
		now = test_now_ms();
		if (now >= deadline)
			return -1;
		if (poll(&pfd, 1, (int)(deadline - now)) == -1) {
			ck_assert_int_eq(errno, EINTR);
			continue;
		}
		if (!(pfd.revents & POLLIN))
			continue;
		n = recv(fd, buf, size - 1, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		ck_assert_int_ge(n, 0);
		buf[n] = '\0';
		return (int)n;
	}
}

/* The next datagram that is not a lone WATCHDOG=1 (those are counted). */
static void
next_event(int fd, char *buf, size_t size, int *watchdogs)
{
	for (;;) {
		ck_assert_msg(recv_msg(fd, buf, size, 10000) >= 0,
		    "no notification within 10 s");
		if (strcmp(buf, "WATCHDOG=1") != 0)
			return;
		if (watchdogs != NULL)
			(*watchdogs)++;
	}
}

/* Discards what is queued. */
static void
drain(int fd)
{
	char	buf[1024];

	while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
		;
}

START_TEST(test_notify_abstract)
{
	char	name[64], pid[32], buf[1024];
	int	fd;

	snprintf(name, sizeof name, "@commis-notify-test-%ld-%ld",
	    (long)getpid(), random());
	fd = dgram_listen(name);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("NOTIFY_SOCKET", name, 1);
	setenv("WATCHDOG_USEC", "300000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	notify_init();
	ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
	ck_assert_ptr_null(getenv("WATCHDOG_USEC"));
	ck_assert_ptr_null(getenv("WATCHDOG_PID"));
	ck_assert_int_eq(notify_enabled(), 1);
	ck_assert_uint_eq(notify_watchdog_usec(), 300000);
	ck_assert_int_eq(notify_send("READY=1\nSTATUS=%s", "1 pool"), 0);
	ck_assert_int_eq(recv_msg(fd, buf, sizeof buf, 5000), 21);
	ck_assert_str_eq(buf, "READY=1\nSTATUS=1 pool");
	close(fd);
}
END_TEST

START_TEST(test_notify_path)
{
	char	*dir = test_tmpdir(), path[256], buf[1024];
	int	 fd;

	snprintf(path, sizeof path, "%s/notify", dir);
	fd = dgram_listen(path);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "300000", 1);
	setenv("WATCHDOG_PID", "1", 1);		/* not us */
	notify_init();
	ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
	ck_assert_ptr_null(getenv("WATCHDOG_PID"));
	ck_assert_int_eq(notify_enabled(), 1);
	ck_assert_uint_eq(notify_watchdog_usec(), 0);
	ck_assert_int_eq(notify_send("STOPPING=1"), 0);
	ck_assert_int_eq(recv_msg(fd, buf, sizeof buf, 5000), 10);
	ck_assert_str_eq(buf, "STOPPING=1");
	close(fd);
	test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_notify_disabled)
{
	log_set_level(LOG_LVL_ERROR);
	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "300000", 1);
	notify_init();
	ck_assert_ptr_null(getenv("WATCHDOG_USEC"));
	ck_assert_int_eq(notify_enabled(), 0);
	ck_assert_uint_eq(notify_watchdog_usec(), 0);
	ck_assert_int_eq(notify_send("READY=1"), 0);
	/* Neither a path nor an abstract name: ignored. */
	setenv("NOTIFY_SOCKET", "relative/sock", 1);
	notify_init();
	ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
	ck_assert_int_eq(notify_enabled(), 0);
}
END_TEST

/* A peer that does not read: sends fail at once instead of blocking. */
START_TEST(test_notify_full_queue)
{
	char	name[64];
	int	fd, i, failed = 0;

	log_set_level(LOG_LVL_ERROR);
	snprintf(name, sizeof name, "@commis-notify-full-%ld-%ld",
	    (long)getpid(), random());
	fd = dgram_listen(name);
	setenv("NOTIFY_SOCKET", name, 1);
	notify_init();
	for (i = 0; i < 5000 && !failed; i++)
		failed = notify_send("WATCHDOG=1") == -1;
	ck_assert_int_eq(failed, 1);
	close(fd);
}
END_TEST

/* Fails if any of the systemd variables shows in pid's environ. */
static void
assert_clean_environ(long pid)
{
	static const char *const vars[] = { "NOTIFY_SOCKET=",
	    "WATCHDOG_USEC=", "WATCHDOG_PID=", "LISTEN_FDS=", "LISTEN_PID=" };
	char	 path[64], *buf;
	size_t	 len, i;
	FILE	*f;

	snprintf(path, sizeof path, "/proc/%ld/environ", pid);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	buf = malloc(1 << 20);
	ck_assert_ptr_nonnull(buf);
	len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	ck_assert_uint_gt(len, 0);
	for (i = 0; i < sizeof vars / sizeof vars[0]; i++)
		ck_assert_msg(memmem(buf, len, vars[i], strlen(vars[i])) ==
		    NULL, "%s in %s", vars[i], path);
	free(buf);
}

static void
reload_events(int fd, const char *status)
{
	char	buf[1024];

	next_event(fd, buf, sizeof buf, NULL);
	ck_assert_msg(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0 &&
	    strtoull(buf + 27, NULL, 10) > 0, "%s", buf);
	next_event(fd, buf, sizeof buf, NULL);
	ck_assert_msg(strncmp(buf, "READY=1\nSTATUS=", 15) == 0 &&
	    strstr(buf, status) != NULL, "%s", buf);
}

START_TEST(test_commisd_notifies)
{
	const char	*argv[1] = { "reload" };
	struct wstat	 ws;
	struct ctx	 c;
	char		*dir = test_tmpdir(), path[256], buf[1024], *text;
	int		 fd, i, watchdogs = 0, status;
	uint64_t	 deadline;
	FILE		*f;

	snprintf(path, sizeof path, "%s/notify", dir);
	fd = dgram_listen(path);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	unsetenv("WATCHDOG_PID");
	ctx_start(&c, POOL_YAML(""));
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");

	/* READY=1 once the socket listens and the workers are forked. */
	next_event(fd, buf, sizeof buf, &watchdogs);
	ck_assert_str_eq(buf, "READY=1\nSTATUS=1 pool, 2 workers");

	/* WATCHDOG=1 every 100 ms. */
	deadline = test_now_ms() + 5000;
	while (watchdogs < 5 && test_now_ms() < deadline) {
		if (recv_msg(fd, buf, sizeof buf, 1000) >= 0 &&
		    strcmp(buf, "WATCHDOG=1") == 0)
			watchdogs++;
	}
	ck_assert_int_ge(watchdogs, 5);

	/* No worker (nor commisd itself) shows systemd's variables. */
	wait_ready(c.cl, 2);
	wstats(c.cl, &ws);
	ck_assert_int_eq(ws.n, 2);
	for (i = 0; i < ws.n; i++)
		assert_clean_environ(ws.pid[i]);
	assert_clean_environ((long)c.d.pid);

	/* A reload, then a refused one: READY=1 after both. */
	drain(fd);
	ck_assert_int_eq(commis_admin(c.cl, 1, argv, &text), COMMIS_OK);
	free(text);
	reload_events(fd, "STATUS=reloaded: 1 pool, ");
	f = fopen(c.d.conf, "a");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "    workerz: 3\n");
	fclose(f);
	drain(fd);
	text = NULL;
	ck_assert_int_eq(commis_admin(c.cl, 1, argv, &text),
	    COMMIS_ERR_REJECTED);
	free(text);
	reload_events(fd, "STATUS=reload refused");

	/* SIGTERM: STOPPING=1, then a clean exit. */
	commis_close(c.cl);
	drain(fd);
	ck_assert_int_eq(kill(c.d.pid, SIGTERM), 0);
	next_event(fd, buf, sizeof buf, NULL);
	ck_assert_msg(strncmp(buf, "STOPPING=1\n", 11) == 0, "%s", buf);
	status = testd_stop(&c.d);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "commisd exit status %#x", status);
	close(fd);
	test_rmdir(dir);
	free(dir);
}
END_TEST

/* Without NOTIFY_SOCKET commisd runs as before (and sends nothing). */
START_TEST(test_commisd_without_systemd)
{
	struct ctx	c;

	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "200000", 1);
	ctx_start(&c, POOL_YAML(""));
	unsetenv("WATCHDOG_USEC");
	wait_ready(c.cl, 2);
	ctx_stop(&c);
}
END_TEST

Suite *
notify_suite(void)
{
	Suite	*s = suite_create("notify");
	TCase	*tc;

	tc = tcase_create("protocol");
	tcase_add_test(tc, test_notify_abstract);
	tcase_add_test(tc, test_notify_path);
	tcase_add_test(tc, test_notify_disabled);
	tcase_add_test(tc, test_notify_full_queue);
	suite_add_tcase(s, tc);

	tc = tcase_create("commisd");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_commisd_notifies);
	tcase_add_test(tc, test_commisd_without_systemd);
	suite_add_tcase(s, tc);
	return s;
}
