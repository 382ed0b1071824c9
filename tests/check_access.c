/*
 * Access control and confinement against a real commisd, as root with
 * throwaway users (useradd): roles from the access lists, ownership of
 * jobs, per-uid quotas, workers dropped to a pool's user with no
 * privileges left, rlimits, and idle or slow clients that must not get in
 * the way. Without root these tests cannot create users and are not run
 * (the runner says so).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define NUSERS	3

static char	users[NUSERS][32];
static uid_t	uids[NUSERS];

static void
run_cmd(const char *fmt, const char *arg)
{
	char	cmd[256];

	snprintf(cmd, sizeof cmd, fmt, arg);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* Creates NUSERS throwaway users for one test (in its forked process). */
static void
users_make(void)
{
	struct passwd	*pw;
	int		 i;

	for (i = 0; i < NUSERS; i++) {
		snprintf(users[i], sizeof users[i], "cmt%ld_%d", (long)getpid(),
		    i);
		run_cmd("useradd -M -N -s /usr/sbin/nologin %s 2>/dev/null",
		    users[i]);
		pw = getpwnam(users[i]);
		ck_assert_ptr_nonnull(pw);
		uids[i] = pw->pw_uid;
	}
}

static void
users_drop(void)
{
	int	i;

	for (i = 0; i < NUSERS; i++)
		if (users[i][0] != '\0')
			run_cmd("userdel %s 2>/dev/null || true", users[i]);
}

/* The daemon's directory and socket reachable by other users. */
static void
open_up(struct testd *d)
{
	ck_assert_int_eq(chmod(d->dir, 0755), 0);
	ck_assert_int_eq(chmod(d->sock, 0666), 0);
}

/*
 * Runs fn as user i in a child: returns its exit code. fn gets a client
 * connected as that user.
 */
static int
as_user(struct testd *d, int i, int (*fn)(commis_client *, void *), void *arg)
{
	commis_client	*cl;
	pid_t		 pid;
	int		 status, rc;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (setgroups(0, NULL) == -1 || setgid(uids[i]) == -1 ||
		    setuid(uids[i]) == -1)
			_exit(100);
		if (commis_connect(d->sock, &cl) != COMMIS_OK)
			_exit(101);
		rc = fn(cl, arg);
		commis_close(cl);
		_exit(rc);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int
do_ping(commis_client *cl, void *arg)
{
	uint64_t	rtt;
	int		rc = commis_ping(cl, &rtt);

	if (rc == COMMIS_OK)
		return 0;
	return commis_client_errcode(cl) == COMMIS_E_DENIED ? 10 : 11;
}

static int
do_submit(commis_client *cl, void *arg)
{
	struct commis_result	r;
	int			rc;

	rc = submit(cl, "echo", "x", NULL, &r);
	commis_result_free(&r);
	if (rc == COMMIS_OK)
		return 0;
	if (rc == COMMIS_ERR_REJECTED)
		return 10 + r.error;
	return 99;
}

static int
do_nowait_sleep(commis_client *cl, void *arg)
{
	uint64_t	id;

	if (commis_submit_nowait(cl, "sleep", "60000", 5, NULL, &id) !=
	    COMMIS_OK)
		return 99;
	*(uint64_t *)arg = id;	/* a page shared with the test */
	return 0;
}

static int
do_cancel(commis_client *cl, void *arg)
{
	if (commis_cancel(cl, *(uint64_t *)arg) == COMMIS_OK)
		return 0;
	return commis_client_errcode(cl) == COMMIS_E_DENIED ? 10 : 11;
}

static void
start_with(struct ctx *c, const char *fmt)
{
	char	yaml[4096];

	snprintf(yaml, sizeof yaml, fmt, users[0], users[1], users[2]);
	ctx_start(c, yaml);
	open_up(&c->d);
}

START_TEST(test_roles)
{
	struct ctx	c;

	users_make();
	/* users[0] read, users[1] submit, users[2] not listed. */
	start_with(&c, "access_read: [user:%s]\naccess_submit: [user:%s]\n"
	    "# %s is not listed\n" POOL_YAML(""));
	ck_assert_int_eq(as_user(&c.d, 0, do_ping, NULL), 0);
	ck_assert_int_eq(as_user(&c.d, 0, do_submit, NULL),
	    10 + COMMIS_E_DENIED);
	ck_assert_int_eq(as_user(&c.d, 1, do_submit, NULL), 0);
	/* Not in any list: refused at once. */
	ck_assert_int_ne(as_user(&c.d, 2, do_ping, NULL), 0);
	ck_assert_int_ge(test_stat(c.cl, "refused"), 1);
	ck_assert_int_ge(test_stat(c.cl, "denied"), 1);
	ctx_stop(&c);
	users_drop();
}
END_TEST

static uint64_t *
shared_u64(void)
{
	void	*p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

/* A submit user cannot cancel another user's job; admin can. */
START_TEST(test_job_ownership)
{
	struct commis_result	 r;
	struct ctx		 c;
	uint64_t		*id = shared_u64();

	users_make();
	start_with(&c, "access_submit: [user:%s, user:%s]\n# %s\n"
	    "shutdown_timeout_ms: 100\n" POOL_YAML(""));
	ck_assert_int_eq(as_user(&c.d, 0, do_nowait_sleep, id), 0);
	ck_assert_uint_gt(*id, 0);
	ck_assert_int_eq(as_user(&c.d, 1, do_cancel, id), 10);
	ck_assert_int_eq(as_user(&c.d, 0, do_cancel, id), 0);
	ck_assert_int_eq(commis_wait(c.cl, *id, 0, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_CANCELLED);
	commis_result_free(&r);
	ctx_stop(&c);
	users_drop();
}
END_TEST

static int
do_flood(commis_client *cl, void *arg)
{
	uint64_t	id;
	int		i, accepted = 0;

	for (i = 0; i < 5; i++) {
		if (commis_submit_nowait(cl, "sleep", "60000", 5, NULL, &id) ==
		    COMMIS_OK)
			accepted++;
		else if (commis_client_errcode(cl) != COMMIS_E_QUEUE_FULL)
			return 99;
	}
	return accepted;
}

/* One user's flood hits its own quota, not another user's submit. */
START_TEST(test_uid_quota)
{
	struct ctx	c;

	users_make();
	start_with(&c, "jobs_per_uid: 2\nshutdown_timeout_ms: 100\n"
	    "# %s %s %s\npools:\n  - name: p\n    workers: 1\n");
	ck_assert_int_eq(as_user(&c.d, 0, do_flood, NULL), 2);
	ck_assert_int_eq(as_user(&c.d, 1, do_flood, NULL), 2);
	ctx_stop(&c);
	users_drop();
}
END_TEST

static int
do_backlog(commis_client *cl, void *arg)
{
	uint64_t	id;
	int		i;

	for (i = 0; i < 20; i++) {
		if (commis_submit_nowait(cl, "sleep", "50", 2, NULL, &id) !=
		    COMMIS_OK)
			return 99;
	}
	return 0;
}

/* One user's backlog does not starve another user's job: it runs next,
 * not after the twenty queued before it. */
START_TEST(test_fair_dispatch)
{
	struct ctx	c;
	long long	left;

	users_make();
	start_with(&c, "# %s %s %s\npools:\n  - name: p\n    workers: 1\n");
	wait_ready(c.cl, 1);
	ck_assert_int_eq(as_user(&c.d, 0, do_backlog, NULL), 0);
	ck_assert_int_eq(as_user(&c.d, 1, do_submit, NULL), 0);
	/* 20 x 50 ms of the first user's work: most is still queued. */
	left = test_stat(c.cl, "queued");
	ck_assert_msg(left >= 10, "only %lld of the backlog left", left);
	ctx_stop(&c);
	users_drop();
}
END_TEST

/* The value of a "Key:" line of /proc/PID/status. */
static void
proc_status(long pid, const char *key, char *out, size_t outlen)
{
	char	 path[64], line[256];
	FILE	*f;
	size_t	 kl = strlen(key);

	out[0] = '\0';
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			snprintf(out, outlen, "%s", line + kl + 1 +
			    strspn(line + kl + 1, " \t"));
			out[strcspn(out, "\n")] = '\0';
		}
	}
	fclose(f);
}

START_TEST(test_worker_confinement)
{
	struct wstat	 ws;
	struct ctx	 c;
	char		 v[128], want[64], yaml[512], *tok, *save;

	users_make();
	snprintf(yaml, sizeof yaml, "pools:\n  - name: p\n    workers: 1\n"
	    "    user: %s\n    rlimit_nofile: 64\n    rlimit_core: 1\n",
	    users[0]);
	ctx_start(&c, yaml);
	wait_ready(c.cl, 1);
	wstats(c.cl, &ws);
	ck_assert_int_eq(ws.n, 1);
	snprintf(want, sizeof want, "%ld\t%ld\t%ld\t%ld", (long)uids[0],
	    (long)uids[0], (long)uids[0], (long)uids[0]);
	proc_status(ws.pid[0], "Uid", v, sizeof v);
	ck_assert_str_eq(v, want);
	proc_status(ws.pid[0], "NoNewPrivs", v, sizeof v);
	ck_assert_str_eq(v, "1");
	proc_status(ws.pid[0], "CapEff", v, sizeof v);
	ck_assert_str_eq(v, "0000000000000000");
	/* No group of root's left. */
	proc_status(ws.pid[0], "Groups", v, sizeof v);
	for (tok = strtok_r(v, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save))
		ck_assert_str_ne(tok, "0");
	proc_status(ws.pid[0], "Gid", v, sizeof v);
	ck_assert_int_ne(atoi(v), 0);
	ctx_stop(&c);
	users_drop();
}
END_TEST

#if !defined(__SANITIZE_ADDRESS__)
/* RLIMIT_AS stops a job that wants too much memory; others go on. */
START_TEST(test_rlimit_as)
{
	struct commis_result	 r;
	struct ctx		 c;
	char			 yaml[4096];

	snprintf(yaml, sizeof yaml, "pools:\n  - name: p\n    workers: 1\n"
	    "    rlimit_as: 1G\n    max_attempts: 1\n    modules: [%s]\n",
	    test_build_path("testmod.so"));
	ctx_start(&c, yaml);
	ck_assert_int_eq(submit(c.cl, "test.hog", "2048", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
	ck_assert_ptr_nonnull(strstr(r.cause, "out of memory"));
	commis_result_free(&r);
	ck_assert_int_eq(submit(c.cl, "echo", "fine", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	commis_result_free(&r);
	ctx_stop(&c);
}
END_TEST
#endif

static int
raw_sock(const char *path)
{
	struct sockaddr_un	sun;
	int			fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	return fd;
}

/* 1,000 idle connections and a slow-loris client: ping still answers,
 * and the slow client is closed after first_frame_timeout_ms. */
START_TEST(test_idle_and_slow_clients)
{
	enum { N = 1000 };
	struct rlimit	 rl = { 4096, 4096 };
	struct pollfd	 pfd;
	struct ctx	 c;
	uint64_t	 rtt;
	int		*fds, slow, i;
	char		 b;

	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ctx_start(&c, "first_frame_timeout_ms: 300\nmax_connections: 2000\n"
	    POOL_YAML(""));
	fds = calloc(N, sizeof *fds);
	for (i = 0; i < N; i++)
		fds[i] = raw_sock(c.d.sock);
	slow = raw_sock(c.d.sock);
	ck_assert_int_eq(write(slow, "CM", 2), 2);	/* and never more */
	ck_assert_int_eq(commis_ping(c.cl, &rtt), COMMIS_OK);
	/* The slow client is closed by commisd (EOF after an ERROR). */
	pfd.fd = slow;
	pfd.events = POLLIN;
	for (;;) {
		ck_assert_int_eq(poll(&pfd, 1, 20000), 1);
		if (read(slow, &b, 1) <= 0)
			break;
	}
	ck_assert_int_ge(test_stat(c.cl, "slow_clients"), 1);
	ck_assert_int_eq(commis_ping(c.cl, &rtt), COMMIS_OK);
	for (i = 0; i < N; i++)
		close(fds[i]);
	close(slow);
	free(fds);
	ctx_stop(&c);
}
END_TEST

static int
testd_gone(void *arg)
{
	struct testd	*d = arg;
	int		 status;

	return waitpid(d->pid, &status, WNOHANG) == d->pid;
}

/* socket_group is applied; a world-writable socket directory refused. */
START_TEST(test_socket_group_and_dir)
{
	struct testd	 d;
	struct stat	 sb;
	char		*dir;

	dir = test_tmpdir();
	testd_start_bound_in(&d, dir, "socket_group: daemon\n" POOL_YAML(""));
	ck_assert_int_eq(stat(d.sock, &sb), 0);
	ck_assert_int_eq(sb.st_gid, getgrnam("daemon")->gr_gid);
	ck_assert_int_eq(sb.st_mode & 0777, 0660);
	testd_stop(&d);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	memset(&d, 0, sizeof d);
	d.dir = strdup(dir);
	snprintf(d.sock, sizeof d.sock, "%s/commis.sock", dir);
	snprintf(d.conf, sizeof d.conf, "%s/commis.yaml", dir);
	{
		FILE	*f = fopen(d.conf, "w");

		fprintf(f, "socket: %s\n", d.sock);
		fclose(f);
	}
	d.pid = fork();
	if (d.pid == 0) {
		execl(test_build_path("commisd"), "commisd", "-c", d.conf,
		    (char *)NULL);
		_exit(127);
	}
	ck_assert(test_poll(testd_gone, &d, 10000));
	ck_assert_int_eq(access(d.sock, F_OK), -1);
	d.pid = 0;
	testd_stop(&d);
	free(dir);
}
END_TEST

Suite *
access_suite(void)
{
	Suite	*s = suite_create("access");
	TCase	*tc = tcase_create("access");

	tcase_set_timeout(tc, 60);
	if (geteuid() != 0) {
		fprintf(stderr, "access: not root, so no throwaway users: "
		    "the user tests are not run\n");
	} else {
		tcase_add_test(tc, test_roles);
		tcase_add_test(tc, test_job_ownership);
		tcase_add_test(tc, test_uid_quota);
		tcase_add_test(tc, test_fair_dispatch);
		tcase_add_test(tc, test_worker_confinement);
	}
#if !defined(__SANITIZE_ADDRESS__)
	/* ASan reserves terabytes of address space: no RLIMIT_AS for it. */
	tcase_add_test(tc, test_rlimit_as);
#endif
	tcase_add_test(tc, test_idle_and_slow_clients);
	if (geteuid() == 0)
		tcase_add_test(tc, test_socket_group_and_dir);
	suite_add_tcase(s, tc);
	return s;
}
