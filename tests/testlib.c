/*
 * Test helpers: temporary directories, clocks, and a real commisd started
 * on a socket the test binds before forking, handed over as systemd's
 * LISTEN_FDS, so a client can connect the moment testd_start returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commis/client.h"
#include "testlib.h"

char *
test_tmpdir(void)
{
	const char	*base = getenv("TMPDIR");
	char		*dir;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	ck_assert_int_ne(asprintf(&dir, "%s/commis-test.XXXXXX", base), -1);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static int
test_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	return remove(path);
}

void
test_rmdir(const char *dir)
{
	nftw(dir, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t
test_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *
test_build_path(const char *name)
{
	static char	 path[4096];
	const char	*b = getenv("COMMIS_BUILD");

	snprintf(path, sizeof path, "%s/%s", b ? b : "build", name);
	return path;
}

int
test_poll(int (*fn)(void *), void *arg, int ms)
{
	uint64_t	deadline = test_now_ms() + (uint64_t)ms;
	struct timespec	ts = { 0, 2 * 1000 * 1000 };

	for (;;) {
		if (fn(arg))
			return 1;
		if (test_now_ms() >= deadline)
			return 0;
		nanosleep(&ts, NULL);
	}
}

static int
test_listen(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(path), sizeof sun.sun_path);
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(fd, 512), 0);
	return fd;
}

static void
testd_write_conf(struct testd *d, const char *yaml)
{
	FILE	*f;

	snprintf(d->conf, sizeof d->conf, "%s/commis.yaml", d->dir);
	f = fopen(d->conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "socket: %s\nlog_level: %s\n%s", d->sock,
	    getenv("COMMIS_TEST_DEBUG") ? "debug" : "error", yaml);
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * $COMMIS_TEST_WRAP, if set, is an argv prefix split on blanks (no
 * quoting), e.g. "valgrind --log-file=DIR/vg.%q{COMMIS_TESTD}.%p.log"
 * (make valgrind). The wrapper must exec commisd in the same process, as
 * valgrind does: LISTEN_PID is this pid. COMMIS_TESTD (the test
 * directory's name) lets it tell apart the daemons of a run, since pids
 * are reused over a long one.
 */
#define TESTD_WRAP_MAX	32

static void
testd_exec(struct testd *d, int lfd)
{
	char		 pid[32], *wrap, *w, *argv[TESTD_WRAP_MAX + 4];
	const char	*name;
	int		 n = 0;

	if (lfd >= 0) {
		/* No second copy of the socket beside fd 3: make valgrind
		 * checks that commisd closes the one it adopted. */
		if (dup2(lfd, 3) == -1 || (lfd != 3 && close(lfd) == -1))
			_exit(127);
		snprintf(pid, sizeof pid, "%ld", (long)getpid());
		setenv("LISTEN_PID", pid, 1);
		setenv("LISTEN_FDS", "1", 1);
	}
	if ((wrap = getenv("COMMIS_TEST_WRAP")) == NULL || *wrap == '\0') {
		execl(test_build_path("commisd"), "commisd", "-c", d->conf,
		    (char *)NULL);
		_exit(127);
	}
	if ((wrap = strdup(wrap)) == NULL)
		_exit(127);
	for (w = strtok(wrap, " \t"); w != NULL; w = strtok(NULL, " \t")) {
		if (n == TESTD_WRAP_MAX)
			_exit(127);
		argv[n++] = w;
	}
	name = strrchr(d->dir, '/');
	setenv("COMMIS_TESTD", name != NULL ? name + 1 : d->dir, 1);
	argv[n++] = (char *)test_build_path("commisd");
	argv[n++] = "-c";
	argv[n++] = d->conf;
	argv[n] = NULL;
	execvp(argv[0], argv);
	_exit(127);
}

void
testd_start(struct testd *d, const char *yaml)
{
	int	lfd;

	memset(d, 0, sizeof *d);
	d->dir = test_tmpdir();
	snprintf(d->sock, sizeof d->sock, "%s/commis.sock", d->dir);
	testd_write_conf(d, yaml);
	lfd = test_listen(d->sock);
	d->pid = fork();
	ck_assert_int_ne(d->pid, -1);
	if (d->pid == 0)
		testd_exec(d, lfd);
	close(lfd);
}

/* Something accepts connections on the socket. */
static int
testd_sock_live(void *arg)
{
	struct testd		*d = arg;
	struct sockaddr_un	 sun;
	int			 fd, r;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", d->sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	r = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	close(fd);
	return r == 0;
}

void
testd_start_bound_in(struct testd *d, const char *dir, const char *yaml)
{
	memset(d, 0, sizeof *d);
	d->dir = strdup(dir);
	ck_assert_ptr_nonnull(d->dir);
	snprintf(d->sock, sizeof d->sock, "%s/commis.sock", d->dir);
	snprintf(d->conf, sizeof d->conf, "%s/commis.yaml", d->dir);
	testd_write_conf(d, yaml);
	d->pid = fork();
	ck_assert_int_ne(d->pid, -1);
	if (d->pid == 0)
		testd_exec(d, -1);
	ck_assert_msg(test_poll(testd_sock_live, d, 10000),
	    "commisd did not listen on its socket");
}

void
testd_start_bound(struct testd *d, const char *yaml)
{
	char	*dir = test_tmpdir();

	testd_start_bound_in(d, dir, yaml);
	free(dir);
}

struct testd_wait {
	pid_t	pid;
	int	status;
	int	done;
};

static int
testd_reaped(void *arg)
{
	struct testd_wait	*w = arg;

	if (waitpid(w->pid, &w->status, WNOHANG) == w->pid)
		w->done = 1;
	return w->done;
}

int
testd_stop(struct testd *d)
{
	struct testd_wait	w = { d->pid, 0, 0 };

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		if (!test_poll(testd_reaped, &w, 20000)) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &w.status, 0);
			ck_abort_msg("commisd did not exit after SIGTERM");
		}
		d->pid = 0;
	}
	if (d->dir != NULL) {
		test_rmdir(d->dir);
		free(d->dir);
		d->dir = NULL;
	}
	return w.status;
}

/* Integration helpers: a daemon plus a libcommis client. */

void
ctx_start(struct ctx *c, const char *yaml)
{
	testd_start(&c->d, yaml);
	ck_assert_int_eq(commis_connect(c->d.sock, &c->cl), COMMIS_OK);
}

void
ctx_stop(struct ctx *c)
{
	int	status;

	commis_close(c->cl);
	status = testd_stop(&c->d);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "commisd exit status %#x", status);
}

int
submit(commis_client *cl, const char *handler, const char *data,
    const char *pool, struct commis_result *r)
{
	struct commis_submit_opts	o = { .pool = pool };

	memset(r, 0, sizeof *r);
	return commis_submit_wait(cl, handler, data, strlen(data), &o, r);
}

void
wstats(commis_client *cl, struct wstat *ws)
{
	char		*json, *p, *q;
	unsigned	 slot;

	memset(ws, 0, sizeof *ws);
	ck_assert_int_eq(commis_stats(cl, COMMIS_STATS_JSON, &json), COMMIS_OK);
	p = strstr(json, "\"available\":");
	ck_assert_ptr_nonnull(p);
	ws->available = atoi(p + strlen("\"available\":"));
	for (p = json; (p = strstr(p, "{\"id\":")) != NULL && ws->n < 16;
	    p++) {
		ck_assert_int_eq(sscanf(p, "{\"id\":%u,\"pid\":%ld,"
		    "\"state\":\"%15[a-z]\"", &slot, &ws->pid[ws->n],
		    ws->state[ws->n]), 3);
		q = strstr(p, "\"job\":");
		ck_assert_ptr_nonnull(q);
		ws->running[ws->n] = q[strlen("\"job\":")] != 'n';
		ws->n++;
	}
	free(json);
}

struct ready_arg {
	commis_client	*cl;
	int		 n;
};

static int
pool_ready(void *arg)
{
	struct ready_arg	*a = arg;
	struct wstat		 ws;

	wstats(a->cl, &ws);
	return ws.available == a->n;
}

void
wait_ready(commis_client *cl, int n)
{
	struct ready_arg	a = { cl, n };

	ck_assert_msg(test_poll(pool_ready, &a, 10000),
	    "pool did not get %d idle workers", n);
}

long long
test_json_num(const char *json, const char *key)
{
	char		 pat[64];
	const char	*p;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	p = strstr(json, pat);
	ck_assert_msg(p != NULL, "no %s in %s", key, json);
	return strtoll(p + strlen(pat), NULL, 10);
}

long long
test_stat(commis_client *cl, const char *key)
{
	char		*json;
	long long	 v;

	ck_assert_int_eq(commis_stats(cl, COMMIS_STATS_JSON, &json), COMMIS_OK);
	v = test_json_num(json, key);
	free(json);
	return v;
}

struct stat_min {
	commis_client	*cl;
	const char	*key;
	long long	 min;
};

static int
test_stat_reached(void *arg)
{
	struct stat_min	*a = arg;

	return test_stat(a->cl, a->key) >= a->min;
}

void
test_wait_stat(commis_client *cl, const char *key, long long min)
{
	struct stat_min	a = { cl, key, min };

	ck_assert_msg(test_poll(test_stat_reached, &a, 20000),
	    "stats %s never reached %lld", key, min);
}

struct frame_hdr
test_recv_frame(struct frame_dec *d, int sock, struct mbuf *m, int *fd)
{
	struct frame	f;
	int		r;

	while ((r = frame_dec_next(d, &f)) == 0)
		ck_assert_int_gt(frame_dec_read(d, sock), 0);
	ck_assert_int_eq(r, 1);
	mbuf_reset(m);
	mbuf_add(m, f.payload, f.hdr.len);
	*fd = f.fd;
	return f.hdr;
}
