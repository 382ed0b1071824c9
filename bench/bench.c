/*
 * commis-bench: one run of the benchmark harness (`make bench`).
 *
 * Measures the floors first (a socketpair ping-pong between two processes,
 * memcpy bandwidth), then starts its own commisd in a temporary directory,
 * on a socket bound before the fork and handed over as systemd's
 * LISTEN_FDS, waits until every worker of its one pool is idle, and drives
 * it through libcommis: echo latency, throughput at two depths, large
 * inline payloads, CPU efficiency of short spin jobs, ping latency while
 * the pool is saturated, and bulk data: inline against segments (memfd
 * handoff, copy into a segment) from 1 to 256 MiB next to a memcpy of the
 * same size, and the size where a segment starts to beat inline. Prints a
 * table and optionally writes the same figures as JSON. Any failure ends
 * the run with a message and a non-zero exit; commisd is always stopped
 * and the directory removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commis/client.h"
#include "hist.h"

#define BENCH_POOL		"bench"
/* The same pool without latency histograms: their cost on the hot path. */
#define BENCH_NOSTATS		"nostats"
#define BENCH_SAMPLES		20000u	/* echo latency, -n */
#define BENCH_WARMUP		1000u
#define BENCH_FLOOR_TRIPS	20000u
#define BENCH_TPUT_JOBS		10000u
#define BENCH_LARGE_RUNS	50u
#define BENCH_MEMCPY_RUNS	200u
#define BENCH_SPIN_MS		10u
#define BENCH_SPIN_PER_WORKER	40u	/* 2 x 20 jobs per worker */
#define BENCH_CTL_SPIN		"200"
#define BENCH_CTL_QUEUED	1000u
#define BENCH_CTL_PINGS		200u
#define BENCH_START_MS		10000	/* workers idle after start */
#define BENCH_STOP_MS		20000	/* commisd gone after SIGTERM */
#define BENCH_RESULT_MS		60000	/* longest wait for one result */
#define BENCH_ROWS_MAX		96
/* Inline payloads up to the largest bulk size: see benchd_write_conf. */
#define BENCH_MAX_PAYLOAD	"256M"
#define BENCH_XOVER_LARGE	(256u << 10)	/* fewer runs from here */

struct bench_row {
	const char	*section;	/* printed once per group */
	const char	*stat;
	const char	*key;		/* JSON name */
	double		 value;
	const char	*unit;
};

struct bench {
	unsigned	 workers;
	const char	*pool;		/* bench_batch's pool */
	unsigned	 samples;
	int		 quick;
	const char	*json;
	long		 cpus;
	char		 model[128];
	const char	*rev;

	pid_t		 pid;		/* commisd, 0 when not running */
	char		*dir;
	char		 sock[108];
	char		 conf[PATH_MAX];
	commis_client	*cl;

	struct bench_row rows[BENCH_ROWS_MAX];
	size_t		 nrows;
	char		 err[1024];
};

static int
bench_err(struct bench *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Records why the run fails, unless it already does; returns -1. */
static int
bench_err(struct bench *b, const char *fmt, ...)
{
	va_list	ap;

	if (b->err[0] != '\0')
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->err, sizeof b->err, fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t
bench_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A sample count, cut to a tenth by -q. */
static unsigned
bench_count(const struct bench *b, unsigned n)
{
	if (!b->quick)
		return n;
	return n / 10 > 0 ? n / 10 : 1;
}

static void
bench_row(struct bench *b, const char *section, const char *stat,
    const char *key, double value, const char *unit)
{
	struct bench_row	*r;

	if (b->nrows == BENCH_ROWS_MAX)
		return;
	r = &b->rows[b->nrows++];
	r->section = section;
	r->stat = stat;
	r->key = key;
	r->value = value;
	r->unit = unit;
}

static int
bench_cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values. */
static uint64_t
bench_pct(const uint64_t *v, size_t n, double q)
{
	size_t	rank = (size_t)(q * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

static double
bench_pct_us(const uint64_t *v, size_t n, double q)
{
	return (double)bench_pct(v, n, q) / 1e3;
}

static int
bench_io(int fd, void *p, size_t len, int out)
{
	uint8_t	*c = p;
	ssize_t	 n;

	while (len > 0) {
		n = out ? write(fd, c, len) : read(fd, c, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The ping-pong partner: answers every 8 bytes until EOF. */
static void
bench_floor_child(int fd)
{
	uint64_t	m;

	while (bench_io(fd, &m, sizeof m, 0) == 0) {
		if (bench_io(fd, &m, sizeof m, 1) == -1)
			_exit(1);
	}
	_exit(0);
}

/*
 * Floor 1: a round trip of 8 bytes over a socketpair between two
 * processes, the least any request through commisd can cost.
 */
static int
bench_floor(struct bench *b)
{
	unsigned	 n = bench_count(b, BENCH_FLOOR_TRIPS);
	unsigned	 warm = bench_count(b, BENCH_WARMUP), i;
	uint64_t	*v, m = 0, t0;
	int		 sv[2], st, rc = 0;
	pid_t		 pid;

	if ((v = calloc(n, sizeof *v)) == NULL)
		return bench_err(b, "out of memory");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		free(v);
		return bench_err(b, "socketpair: %s", strerror(errno));
	}
	if ((pid = fork()) == -1) {
		free(v);
		close(sv[0]);
		close(sv[1]);
		return bench_err(b, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(sv[0]);
		bench_floor_child(sv[1]);
	}
	close(sv[1]);
	for (i = 0; i < warm + n && rc == 0; i++) {
		t0 = bench_now_ns();
		if (bench_io(sv[0], &m, sizeof m, 1) == -1 ||
		    bench_io(sv[0], &m, sizeof m, 0) == -1)
			rc = bench_err(b, "ping-pong: %s", strerror(errno));
		else if (i >= warm)
			v[i - warm] = bench_now_ns() - t0;
		m++;
	}
	close(sv[0]);
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		rc = bench_err(b, "ping-pong child failed");
	if (rc == 0) {
		qsort(v, n, sizeof *v, bench_cmp_u64);
		bench_row(b, "socketpair round trip, 8 B", "p50",
		    "floor_rtt_p50_us", bench_pct_us(v, n, 0.50), "us");
		bench_row(b, "socketpair round trip, 8 B", "p99",
		    "floor_rtt_p99_us", bench_pct_us(v, n, 0.99), "us");
	}
	free(v);
	return rc;
}

/* Floor 4: memcpy bandwidth at one size, the median copy in GB/s. */
static int
bench_memcpy(struct bench *b, size_t size, const char *section,
    const char *key)
{
	unsigned	 n = bench_count(b, BENCH_MEMCPY_RUNS), i;
	uint8_t		*src, *dst;
	uint64_t	*v, t0;

	src = malloc(size);
	dst = malloc(size);
	v = calloc(n, sizeof *v);
	if (src == NULL || dst == NULL || v == NULL) {
		free(src);
		free(dst);
		free(v);
		return bench_err(b, "out of memory");
	}
	memset(src, 0xa5, size);
	memset(dst, 0x5a, size);
	for (i = 0; i < n; i++) {
		src[i % size] = (uint8_t)i;
		t0 = bench_now_ns();
		memcpy(dst, src, size);
		/* The copy must happen, and before the clock is read. */
		__asm__ __volatile__("" : : "r"(dst) : "memory");
		v[i] = bench_now_ns() - t0;
	}
	qsort(v, n, sizeof *v, bench_cmp_u64);
	bench_row(b, section, "p50", key,
	    (double)size / (double)bench_pct(v, n, 0.50), "GB/s");
	free(src);
	free(dst);
	free(v);
	return 0;
}

static int
benchd_rm_one(const char *path, const struct stat *sb, int flag,
    struct FTW *f)
{
	return remove(path);
}

static int
benchd_listen(struct bench *b)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(b->sock) >= sizeof sun.sun_path)
		return bench_err(b, "socket path too long: %s", b->sock);
	strcpy(sun.sun_path, b->sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return bench_err(b, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    listen(fd, 512) == -1) {
		bench_err(b, "%s: %s", b->sock, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
benchd_write_conf(struct bench *b)
{
	FILE	*f;

	snprintf(b->conf, sizeof b->conf, "%s/commis.yaml", b->dir);
	if ((f = fopen(b->conf, "w")) == NULL)
		return bench_err(b, "%s: %s", b->conf, strerror(errno));
	/*
	 * Inline both ways up to 256 MiB: max_payload for the inputs, and
	 * segment_threshold as high, so that results stay inline too (a
	 * segment input still comes back as itself from echo).
	 */
	fprintf(f, "socket: %s\nlog_level: error\nmax_payload: %s\n"
	    "segment_threshold: %s\npools:\n"
	    "  - name: %s\n    workers: %u\n"
	    "  - name: " BENCH_NOSTATS "\n    workers: %u\n"
	    "    latency_stats: false\n", b->sock, BENCH_MAX_PAYLOAD,
	    BENCH_MAX_PAYLOAD, BENCH_POOL, b->workers, b->workers);
	if (fclose(f) == EOF)
		return bench_err(b, "%s: %s", b->conf, strerror(errno));
	return 0;
}

/* In the child: the listener becomes fd 3, as systemd would pass it. */
static void
benchd_exec(struct bench *b, int lfd)
{
	char		 pid[32], path[PATH_MAX];
	const char	*build = getenv("COMMIS_BUILD");

	if (dup2(lfd, 3) == -1)
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	snprintf(path, sizeof path, "%s/commisd", build ? build : "build");
	execl(path, "commisd", "-c", b->conf, (char *)NULL);
	fprintf(stderr, "commis-bench: %s: %s\n", path, strerror(errno));
	_exit(127);
}

/*
 * Starts commisd on a socket bound here, so that the connection made
 * right after the fork is accepted as soon as commisd runs.
 */
static int
benchd_start(struct bench *b)
{
	const char	*base = getenv("TMPDIR");
	int		 lfd;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&b->dir, "%s/commis-bench.XXXXXX", base) == -1) {
		b->dir = NULL;
		return bench_err(b, "out of memory");
	}
	if (mkdtemp(b->dir) == NULL) {
		bench_err(b, "mkdtemp %s: %s", b->dir, strerror(errno));
		free(b->dir);
		b->dir = NULL;
		return -1;
	}
	snprintf(b->sock, sizeof b->sock, "%s/commis.sock", b->dir);
	if (benchd_write_conf(b) == -1 || (lfd = benchd_listen(b)) == -1)
		return -1;
	if ((b->pid = fork()) == -1) {
		b->pid = 0;
		close(lfd);
		return bench_err(b, "fork: %s", strerror(errno));
	}
	if (b->pid == 0)
		benchd_exec(b, lfd);
	close(lfd);
	if (commis_connect(b->sock, &b->cl) != COMMIS_OK)
		return bench_err(b, "connect %s: %s", b->sock,
		    strerror(errno));
	return 0;
}

/* The first "key": number in a stats JSON text. */
static int
bench_json_num(const char *json, const char *key, long long *v)
{
	char		 pat[64];
	const char	*p;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	if ((p = strstr(json, pat)) == NULL)
		return -1;
	*v = strtoll(p + strlen(pat), NULL, 10);
	return 0;
}

/* Fetches the stats and reads the first pool's counters named in keys. */
static int
bench_stats(struct bench *b, commis_client *cl, const char **keys,
    long long *v, size_t n)
{
	char	*json, *pool;
	size_t	 i;
	int	 rc;

	if ((rc = commis_stats(cl, COMMIS_STATS_JSON, &json)) != COMMIS_OK)
		return bench_err(b, "stats: %s", commis_client_error(cl));
	if ((pool = strstr(json, "\"pools\":[")) == NULL)
		pool = json;
	for (i = 0; i < n; i++) {
		if (bench_json_num(pool, keys[i], &v[i]) == -1) {
			bench_err(b, "stats: no \"%s\" in %s", keys[i], json);
			free(json);
			return -1;
		}
	}
	free(json);
	return 0;
}

/*
 * Whether commisd has exited, waiting up to ms for it; if so, the reason
 * replaces any error already recorded (a lost connection, say), since it
 * is the cause.
 */
static int
benchd_exited(struct bench *b, int ms)
{
	struct timespec	ts = { 0, 1000000 };
	uint64_t	deadline = bench_now_ns() + (uint64_t)ms * 1000000u;
	int		st;

	while (waitpid(b->pid, &st, WNOHANG) != b->pid) {
		if (bench_now_ns() >= deadline)
			return 0;
		nanosleep(&ts, NULL);
	}
	b->pid = 0;
	b->err[0] = '\0';
	bench_err(b, "commisd exited with %s %d while starting",
	    WIFEXITED(st) ? "status" : "signal",
	    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 1;
}

/* Polls until every worker is idle, or fails if commisd exits. */
static int
benchd_wait_idle(struct bench *b)
{
	const char	*keys[] = { "available" };
	struct timespec	 ts = { 0, 1000000 };
	uint64_t	 deadline = bench_now_ns() + BENCH_START_MS * 1000000ull;
	long long	 avail;

	for (;;) {
		if (benchd_exited(b, 0))
			return -1;
		if (bench_stats(b, b->cl, keys, &avail, 1) == -1) {
			benchd_exited(b, 1000);
			return -1;
		}
		if (avail == (long long)b->workers)
			return 0;
		if (bench_now_ns() >= deadline)
			return bench_err(b, "%lld of %u workers idle after "
			    "%d ms", avail, b->workers, BENCH_START_MS);
		nanosleep(&ts, NULL);
	}
}

/* SIGTERM, reap (SIGKILL past the deadline), remove the directory. */
static int
benchd_stop(struct bench *b)
{
	struct timespec	ts = { 0, 1000000 };
	uint64_t	deadline = bench_now_ns() + BENCH_STOP_MS * 1000000ull;
	int		st = 0, rc = 0;

	commis_close(b->cl);
	b->cl = NULL;
	if (b->pid > 0) {
		kill(b->pid, SIGTERM);
		while (waitpid(b->pid, &st, WNOHANG) != b->pid) {
			if (bench_now_ns() >= deadline) {
				kill(b->pid, SIGKILL);
				waitpid(b->pid, &st, 0);
				rc = bench_err(b, "commisd did not exit within "
				    "%d ms of SIGTERM", BENCH_STOP_MS);
				break;
			}
			nanosleep(&ts, NULL);
		}
		if (rc == 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
			rc = bench_err(b, "commisd ended with %s %d",
			    WIFEXITED(st) ? "status" : "signal",
			    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		b->pid = 0;
	}
	if (b->dir != NULL) {
		nftw(b->dir, benchd_rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(b->dir);
		b->dir = NULL;
	}
	return rc;
}

/* A job must have come back succeeded with len bytes of output. */
static int
bench_job_ok(struct bench *b, const char *what, int rc,
    struct commis_result *r, size_t len)
{
	if (rc != COMMIS_OK && rc != COMMIS_ERR_REJECTED)
		return bench_err(b, "%s: %s", what, commis_client_error(b->cl));
	if (r->error != 0)
		return bench_err(b, "%s: rejected: %s: %s", what,
		    commis_err_name(r->error), r->cause);
	if (r->status != COMMIS_ST_SUCCEEDED)
		return bench_err(b, "%s: job %s: %s", what,
		    commis_status_name(r->status), r->cause);
	if (r->output_len != len)
		return bench_err(b, "%s: %zu bytes of output, expected %zu",
		    what, r->output_len, len);
	return 0;
}

/* Echo of 1 byte, one job at a time, timed per job. */
static int
bench_echo(struct bench *b)
{
	struct commis_submit_opts	 o = { .pool = BENCH_POOL };
	struct commis_result		 r;
	const char			*sec = "echo round trip, 1 B";
	unsigned			 n = bench_count(b, b->samples);
	unsigned			 warm = bench_count(b, BENCH_WARMUP), i;
	uint64_t			*v, t0, t1;
	int				 rc;

	if ((v = calloc(n, sizeof *v)) == NULL)
		return bench_err(b, "out of memory");
	for (i = 0; i < warm + n; i++) {
		t0 = bench_now_ns();
		rc = commis_submit_wait(b->cl, "echo", "x", 1, &o, &r);
		t1 = bench_now_ns();
		if (bench_job_ok(b, "echo", rc, &r, 1) == -1) {
			commis_result_free(&r);
			free(v);
			return -1;
		}
		commis_result_free(&r);
		if (i >= warm)
			v[i - warm] = t1 - t0;
	}
	qsort(v, n, sizeof *v, bench_cmp_u64);
	bench_row(b, sec, "p50", "echo_p50_us", bench_pct_us(v, n, 0.50), "us");
	bench_row(b, sec, "p99", "echo_p99_us", bench_pct_us(v, n, 0.99), "us");
	bench_row(b, sec, "p99.9", "echo_p999_us", bench_pct_us(v, n, 0.999),
	    "us");
	free(v);
	return 0;
}

/* Collects one result on cl and checks it; len as in bench_job_ok. */
static int
bench_collect(struct bench *b, commis_client *cl, const char *what,
    size_t len)
{
	struct commis_result	r;
	int			rc;

	rc = commis_wait_result(cl, BENCH_RESULT_MS, &r);
	if (rc != COMMIS_OK) {
		commis_result_free(&r);
		return bench_err(b, "%s: %s", what, commis_client_error(cl));
	}
	rc = bench_job_ok(b, what, rc, &r, len);
	commis_result_free(&r);
	return rc;
}

/*
 * Submits total jobs of handler/data with at most depth outstanding,
 * collecting each result; *ns gets the wall time of the whole batch.
 */
static int
bench_batch(struct bench *b, const char *handler, const char *data,
    unsigned total, unsigned depth, size_t outlen, uint64_t *ns)
{
	struct commis_submit_opts	o = { .pool = b->pool ? b->pool :
					    BENCH_POOL };
	unsigned			sent = 0, done = 0;
	uint64_t			t0 = bench_now_ns();
	size_t				len = strlen(data);

	while (done < total) {
		while (sent < total && sent - done < depth) {
			if (commis_submit_async(b->cl, handler, data, len, &o,
			    NULL) != COMMIS_OK)
				return bench_err(b, "submit %s: %s", handler,
				    commis_client_error(b->cl));
			sent++;
		}
		if (bench_collect(b, b->cl, handler, outlen) == -1)
			return -1;
		done++;
	}
	*ns = bench_now_ns() - t0;
	return 0;
}

/* Throughput of 1-byte echo jobs with depth of them in flight. */
static int
bench_throughput(struct bench *b, unsigned depth, const char *stat,
    const char *key)
{
	unsigned	n = bench_count(b, BENCH_TPUT_JOBS);
	uint64_t	ns;

	if (bench_batch(b, "echo", "x", n, depth, 1, &ns) == -1)
		return -1;
	bench_row(b, "echo throughput", stat, key, (double)n * 1e9 /
	    (double)ns, "jobs/s");
	return 0;
}

/*
 * What the supervisor does per job for latency statistics (three
 * histogram updates), timed in this process: ns per job, and as a share
 * of one job's time at the given throughput. Unlike the A/B throughput
 * figure, this one does not drown in scheduling noise.
 */
static void
bench_hist_cost(struct bench *b, double jobs_s)
{
	enum { N = 2000000 };
	struct histw	*h[3] = { histw_new(), histw_new(), histw_new() };
	uint64_t	 t0, ns, now = bench_now_ns();
	unsigned	 i;

	if (h[0] == NULL || h[1] == NULL || h[2] == NULL)
		goto out;
	t0 = bench_now_ns();
	for (i = 0; i < N; i++) {
		histw_add(h[0], (i * 7919u) % 5000u, now + i * 500u);
		histw_add(h[1], (i * 104729u) % 90000u, now + i * 500u);
		histw_add(h[2], (i * 1299709u) % 95000u, now + i * 500u);
	}
	ns = bench_now_ns() - t0;
	bench_row(b, "", "histograms", "stats_ns_per_job", (double)ns / N,
	    "ns/job");
	bench_row(b, "", "of a job", "stats_share_pct",
	    100.0 * ((double)ns / N) / (1e9 / jobs_s), "%");
out:
	for (i = 0; i < 3; i++)
		histw_free(h[i]);
}

/*
 * The cost of latency statistics on the hot path: no-op throughput (64
 * in flight) on a pool with them and one without, alternating, the
 * median of five rounds each.
 */
static int
bench_stats_cost(struct bench *b)
{
	enum { ROUNDS = 5 };
	unsigned	n = bench_count(b, BENCH_TPUT_JOBS), i;
	uint64_t	on[ROUNDS], off[ROUNDS], ns;
	double		t_on, t_off;

	for (i = 0; i < 2 * ROUNDS + 2; i++) {
		b->pool = i % 2 ? BENCH_NOSTATS : BENCH_POOL;
		if (bench_batch(b, "echo", "x", n, 64, 1, &ns) == -1) {
			b->pool = NULL;
			return -1;
		}
		if (i >= 2)		/* the first of each: warm-up */
			(i % 2 ? off : on)[(i - 2) / 2] = ns;
	}
	b->pool = NULL;
	qsort(on, ROUNDS, sizeof on[0], bench_cmp_u64);
	qsort(off, ROUNDS, sizeof off[0], bench_cmp_u64);
	t_on = (double)n * 1e9 / (double)on[ROUNDS / 2];
	t_off = (double)n * 1e9 / (double)off[ROUNDS / 2];
	bench_row(b, "stats cost, 64 in flight", "with stats",
	    "stats_on_jobs_s", t_on, "jobs/s");
	bench_row(b, "", "without", "stats_off_jobs_s", t_off, "jobs/s");
	bench_row(b, "", "cost", "stats_cost_pct",
	    100.0 * (t_off - t_on) / t_off, "%");
	bench_hist_cost(b, t_on);
	return 0;
}

/* Echo of a large inline payload: p50 of the round trip in ms. */
static int
bench_large(struct bench *b, size_t size, const char *section,
    const char *key)
{
	struct commis_submit_opts	 o = { .pool = BENCH_POOL };
	struct commis_result		 r;
	unsigned			 n = bench_count(b, BENCH_LARGE_RUNS);
	unsigned			 i;
	uint8_t				*p;
	uint64_t			*v, t0, t1;
	int				 rc = 0;

	p = malloc(size);
	v = calloc(n, sizeof *v);
	if (p == NULL || v == NULL) {
		free(p);
		free(v);
		return bench_err(b, "out of memory");
	}
	for (i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 31 + 7);
	/* One untimed run first, as for the other figures. */
	for (i = 0; i < n + 1 && rc == 0; i++) {
		t0 = bench_now_ns();
		rc = commis_submit_wait(b->cl, "echo", p, size, &o, &r);
		t1 = bench_now_ns();
		if ((rc = bench_job_ok(b, section, rc, &r, size)) == 0 &&
		    memcmp(r.output, p, size) != 0)
			rc = bench_err(b, "%s: output differs from input",
			    section);
		commis_result_free(&r);
		if (i > 0)
			v[i - 1] = t1 - t0;
	}
	if (rc == 0) {
		qsort(v, n, sizeof *v, bench_cmp_u64);
		bench_row(b, section, "p50", key,
		    (double)bench_pct(v, n, 0.50) / 1e6, "ms");
	}
	free(p);
	free(v);
	return rc;
}

/*
 * 2 x workers x 20 spin jobs of 10 ms submitted at once: the ideal wall
 * time is jobs x 10 ms / workers; efficiency is ideal / measured.
 */
static int
bench_efficiency(struct bench *b)
{
	unsigned	jobs = BENCH_SPIN_PER_WORKER * b->workers;
	char		arg[16];
	uint64_t	ns;
	double		ideal;

	snprintf(arg, sizeof arg, "%u", BENCH_SPIN_MS);
	if (bench_batch(b, "spin", arg, jobs, jobs, 0, &ns) == -1)
		return -1;
	ideal = (double)jobs * BENCH_SPIN_MS * 1e6 / b->workers;
	bench_row(b, "spin 10 ms x 40 per worker", "wall", "spin_wall_ms",
	    (double)ns / 1e6, "ms");
	bench_row(b, "spin 10 ms x 40 per worker", "ideal", "spin_ideal_ms",
	    ideal / 1e6, "ms");
	bench_row(b, "spin 10 ms x 40 per worker", "efficiency",
	    "spin_efficiency_pct", 100.0 * ideal / (double)ns, "%");
	return 0;
}

/* Until every worker runs one of the control test's jobs. */
static int
bench_wait_saturated(struct bench *b, commis_client *cl, long long want)
{
	const char	*keys[] = { "active", "submitted" };
	struct timespec	 ts = { 0, 1000000 };
	uint64_t	 deadline = bench_now_ns() + BENCH_START_MS * 1000000ull;
	long long	 v[2];

	for (;;) {
		if (bench_stats(b, cl, keys, v, 2) == -1)
			return -1;
		if (v[0] == (long long)b->workers && v[1] >= want)
			return 0;
		if (bench_now_ns() >= deadline)
			return bench_err(b, "pool not saturated after %d ms: "
			    "%lld active, %lld submitted", BENCH_START_MS,
			    v[0], v[1]);
		nanosleep(&ts, NULL);
	}
}

/*
 * Ping latency on a second connection while every worker spins for 200
 * ms and 1000 more such jobs are queued. Closing the first connection
 * afterwards cancels the queued ones.
 */
static int
bench_control(struct bench *b)
{
	struct commis_submit_opts	 o = { .pool = BENCH_POOL };
	const char			*keys[] = { "submitted" };
	const char			*sec = "ping under load";
	commis_client			*pc = NULL;
	unsigned			 n = bench_count(b, BENCH_CTL_PINGS);
	unsigned			 i;
	uint64_t			*v;
	long long			 before;
	int				 rc = -1;

	if ((v = calloc(n, sizeof *v)) == NULL)
		return bench_err(b, "out of memory");
	if (commis_connect(b->sock, &pc) != COMMIS_OK) {
		bench_err(b, "connect %s: %s", b->sock, strerror(errno));
		goto out;
	}
	if (bench_stats(b, pc, keys, &before, 1) == -1)
		goto out;
	for (i = 0; i < b->workers + BENCH_CTL_QUEUED; i++) {
		if (commis_submit_async(b->cl, "spin", BENCH_CTL_SPIN,
		    strlen(BENCH_CTL_SPIN), &o, NULL) != COMMIS_OK) {
			bench_err(b, "submit spin: %s",
			    commis_client_error(b->cl));
			goto out;
		}
	}
	if (bench_wait_saturated(b, pc, before + i) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if (commis_ping(pc, &v[i]) != COMMIS_OK) {
			bench_err(b, "ping: %s", commis_client_error(pc));
			goto out;
		}
	}
	qsort(v, n, sizeof *v, bench_cmp_u64);
	bench_row(b, sec, "p50", "ping_loaded_p50_us", bench_pct_us(v, n, 0.50),
	    "us");
	bench_row(b, sec, "p99", "ping_loaded_p99_us", bench_pct_us(v, n, 0.99),
	    "us");
	rc = 0;
out:
	commis_close(pc);
	free(v);
	return rc;
}

/* --- bulk data: inline against segments --- */

enum bench_way {
	BENCH_INLINE,		/* commis_submit_wait: copied inline */
	BENCH_HANDOFF,		/* commis_submit_fd of a filled memfd */
	BENCH_COPY,		/* commis_submit_copy: into a new segment */
};

static const char *const bench_way_names[] = {
	[BENCH_INLINE] = "inline echo",
	[BENCH_HANDOFF] = "segment handoff",
	[BENCH_COPY] = "submit_copy",
};

/* A bulk size: its timed runs (cut by -q), section and JSON keys. */
struct bench_bulk {
	size_t		 size;
	unsigned	 runs;
	const char	*section;
	const char	*k_memcpy, *k_inline, *k_handoff, *k_copy, *k_pct;
};

#define BENCH_BULK(mib, runs, t)					\
	{ (size_t)(mib) << 20, runs, "bulk " #mib " MiB, p50",		\
	  "bulk_" t "_memcpy_ms", "bulk_" t "_inline_ms",		\
	  "bulk_" t "_handoff_us", "bulk_" t "_copy_ms",		\
	  "bulk_" t "_handoff_memcpy_pct" }

static const struct bench_bulk bench_bulks[] = {
	BENCH_BULK(1, 30, "1m"),
	BENCH_BULK(16, 10, "16m"),
	BENCH_BULK(64, 10, "64m"),
	BENCH_BULK(256, 5, "256m"),
};

/* A crossover size: inline against submit_copy. */
struct bench_xover {
	size_t		 size;
	unsigned	 runs;
	const char	*s_inline, *s_copy, *k_inline, *k_copy;
};

#define BENCH_XOVER(kib, runs, label, t)				\
	{ (size_t)(kib) << 10, runs, label " inline", label " copy",	\
	  "xover_" t "_inline_us", "xover_" t "_copy_us" }

static const struct bench_xover bench_xovers[] = {
	BENCH_XOVER(4, 200, "4 KiB", "4k"),
	BENCH_XOVER(16, 200, "16 KiB", "16k"),
	BENCH_XOVER(64, 200, "64 KiB", "64k"),
	BENCH_XOVER(256, 50, "256 KiB", "256k"),
	BENCH_XOVER(1024, 50, "1 MiB", "1m"),
	BENCH_XOVER(4096, 20, "4 MiB", "4m"),
};

#define BENCH_NITEMS(a)	(sizeof (a) / sizeof (a)[0])

static uint8_t *
bench_pattern(size_t size)
{
	uint8_t	*p;
	size_t	 i;

	if ((p = malloc(size)) == NULL)
		return NULL;
	for (i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 31 + 7);
	return p;
}

/* A memfd holding src, unsealed and unmapped: commis_submit_fd seals it. */
static int
bench_memfd(struct bench *b, const uint8_t *src, size_t size)
{
	size_t	off = 0;
	ssize_t	n;
	int	fd;

	if ((fd = memfd_create("commis-bench", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1)
		return bench_err(b, "memfd_create: %s", strerror(errno));
	while (off < size) {
		if ((n = write(fd, src + off, size - off)) == -1) {
			if (errno == EINTR)
				continue;
			bench_err(b, "memfd write: %s", strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	return fd;
}

/* The handoff must be the same segment coming back, not a copy of it. */
static int
bench_same_seg(struct bench *b, int fd, const struct commis_result *r)
{
	struct stat	in, out;

	if (!r->output_mapped || fstat(fd, &in) == -1 ||
	    fstat(r->output_fd, &out) == -1)
		return bench_err(b, "segment handoff: no segment came back");
	if (in.st_dev != out.st_dev || in.st_ino != out.st_ino)
		return bench_err(b, "segment handoff: echo returned a copy, "
		    "not the segment it was given");
	return 0;
}

/*
 * The p50 in ns of runs echo jobs of size bytes sent one way, after one
 * untimed run whose output is compared with src. The timed runs never
 * touch the output: a segment result is only mapped (by libcommis).
 */
static int
bench_way(struct bench *b, enum bench_way way, const uint8_t *src, int fd,
    size_t size, unsigned runs, uint64_t *p50)
{
	struct commis_submit_opts	 o = { .pool = BENCH_POOL };
	struct commis_result		 r;
	const char			*what = bench_way_names[way];
	uint64_t			*v, t0, t1;
	unsigned			 i;
	int				 rc = 0;

	if ((v = calloc(runs, sizeof *v)) == NULL)
		return bench_err(b, "out of memory");
	for (i = 0; i < runs + 1 && rc == 0; i++) {
		t0 = bench_now_ns();
		if (way == BENCH_INLINE)
			rc = commis_submit_wait(b->cl, "echo", src, size, &o,
			    &r);
		else if (way == BENCH_HANDOFF)
			rc = commis_submit_fd(b->cl, "echo", fd, &o, &r);
		else
			rc = commis_submit_copy(b->cl, "echo", src, size, &o,
			    &r);
		t1 = bench_now_ns();
		rc = bench_job_ok(b, what, rc, &r, size);
		if (rc == 0 && way == BENCH_INLINE && r.output_mapped)
			rc = bench_err(b, "%s: the result came as a segment "
			    "(segment_threshold too low)", what);
		if (rc == 0 && way != BENCH_INLINE && !r.output_mapped)
			rc = bench_err(b, "%s: the result came inline", what);
		if (rc == 0 && way == BENCH_HANDOFF)
			rc = bench_same_seg(b, fd, &r);
		if (rc == 0 && i == 0 && memcmp(r.output, src, size) != 0)
			rc = bench_err(b, "%s: output differs from input",
			    what);
		commis_result_free(&r);
		if (i > 0)
			v[i - 1] = t1 - t0;
	}
	if (rc == 0) {
		qsort(v, runs, sizeof *v, bench_cmp_u64);
		*p50 = bench_pct(v, runs, 0.50);
	}
	free(v);
	return rc;
}

/* memcpy of size bytes between touched buffers: p50 in ns. */
static int
bench_memcpy_ns(struct bench *b, const uint8_t *src, size_t size,
    unsigned runs, uint64_t *p50)
{
	uint8_t		*dst;
	uint64_t	*v, t0;
	unsigned	 i;

	dst = malloc(size);
	v = calloc(runs + 1, sizeof *v);
	if (dst == NULL || v == NULL) {
		free(dst);
		free(v);
		return bench_err(b, "out of memory");
	}
	memset(dst, 0x5a, size);
	for (i = 0; i < runs + 1; i++) {
		t0 = bench_now_ns();
		memcpy(dst, src, size);
		__asm__ __volatile__("" : : "r"(dst) : "memory");
		v[i] = bench_now_ns() - t0;
	}
	/* v[0] was the warm-up. */
	qsort(v + 1, runs, sizeof *v, bench_cmp_u64);
	*p50 = bench_pct(v + 1, runs, 0.50);
	free(dst);
	free(v);
	return 0;
}

/* One bulk size: memcpy, inline, handoff, copy, all in this run. */
static int
bench_bulk_one(struct bench *b, const struct bench_bulk *k)
{
	unsigned	 runs = bench_count(b, k->runs);
	uint64_t	 t_memcpy = 0, t_inline = 0, t_handoff = 0, t_copy = 0;
	uint8_t		*src;
	int		 fd, rc;

	if ((src = bench_pattern(k->size)) == NULL)
		return bench_err(b, "out of memory");
	if ((fd = bench_memfd(b, src, k->size)) == -1) {
		free(src);
		return -1;
	}
	rc = bench_memcpy_ns(b, src, k->size, runs, &t_memcpy);
	if (rc == 0)
		rc = bench_way(b, BENCH_INLINE, src, -1, k->size, runs,
		    &t_inline);
	if (rc == 0)
		rc = bench_way(b, BENCH_HANDOFF, src, fd, k->size, runs,
		    &t_handoff);
	if (rc == 0)
		rc = bench_way(b, BENCH_COPY, src, -1, k->size, runs, &t_copy);
	if (rc == 0) {
		bench_row(b, k->section, "memcpy", k->k_memcpy,
		    (double)t_memcpy / 1e6, "ms");
		bench_row(b, k->section, "inline echo", k->k_inline,
		    (double)t_inline / 1e6, "ms");
		bench_row(b, k->section, "segment handoff", k->k_handoff,
		    (double)t_handoff / 1e3, "us");
		bench_row(b, k->section, "submit_copy", k->k_copy,
		    (double)t_copy / 1e6, "ms");
		bench_row(b, k->section, "handoff/memcpy", k->k_pct,
		    100.0 * (double)t_handoff / (double)t_memcpy, "%");
	}
	close(fd);
	free(src);
	return rc;
}

/*
 * Inline against submit_copy from 4 KiB to 4 MiB; the crossover is the
 * smallest size where the copy into a segment wins (0: none does).
 */
static int
bench_crossover(struct bench *b)
{
	const char	*sec = "inline vs segment, p50";
	const struct bench_xover *k;
	uint64_t	 t_inline = 0, t_copy = 0;
	uint8_t		*src;
	size_t		 i, cross = 0;
	int		 rc = 0;

	if ((src = bench_pattern(bench_xovers[BENCH_NITEMS(bench_xovers) -
	    1].size)) == NULL)
		return bench_err(b, "out of memory");
	for (i = 0; i < BENCH_NITEMS(bench_xovers) && rc == 0; i++) {
		k = &bench_xovers[i];
		rc = bench_way(b, BENCH_INLINE, src, -1, k->size,
		    bench_count(b, k->runs), &t_inline);
		if (rc == 0)
			rc = bench_way(b, BENCH_COPY, src, -1, k->size,
			    bench_count(b, k->runs), &t_copy);
		if (rc != 0)
			break;
		bench_row(b, sec, k->s_inline, k->k_inline,
		    (double)t_inline / 1e3, "us");
		bench_row(b, sec, k->s_copy, k->k_copy, (double)t_copy / 1e3,
		    "us");
		if (cross == 0 && t_copy < t_inline)
			cross = k->size;
	}
	if (rc == 0)
		bench_row(b, sec, "crossover", "crossover_bytes",
		    (double)cross, "B");
	free(src);
	return rc;
}

static int
bench_bulk(struct bench *b)
{
	size_t	i;

	if (bench_crossover(b) == -1)
		return -1;
	for (i = 0; i < BENCH_NITEMS(bench_bulks); i++) {
		if (bench_bulk_one(b, &bench_bulks[i]) == -1)
			return -1;
	}
	return 0;
}

/* Everything that needs commisd, in order. */
static int
bench_daemon(struct bench *b)
{
	if (benchd_start(b) == -1 || benchd_wait_idle(b) == -1)
		return -1;
	if (bench_echo(b) == -1 ||
	    bench_throughput(b, 64, "64 in flight", "tput_64_jobs_s") == -1 ||
	    bench_throughput(b, 256, "256 in flight", "tput_256_jobs_s") == -1 ||
	    bench_stats_cost(b) == -1)
		return -1;
	if (bench_large(b, 1u << 20, "echo round trip, 1 MiB",
	    "echo_1m_p50_ms") == -1 ||
	    bench_large(b, 4u << 20, "echo round trip, 4 MiB",
	    "echo_4m_p50_ms") == -1)
		return -1;
	if (bench_bulk(b) == -1)
		return -1;
	/* Last: it leaves queued jobs on b->cl. */
	if (bench_efficiency(b) == -1 || bench_control(b) == -1)
		return -1;
	return 0;
}

static void
bench_machine(struct bench *b)
{
	FILE	*f;
	char	 line[512], *p;
	size_t	 n;

	b->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	b->rev = getenv("COMMIS_REV");
	if (b->rev == NULL || *b->rev == '\0')
		b->rev = "unknown";
	strcpy(b->model, "unknown");
	if ((f = fopen("/proc/cpuinfo", "re")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "model name", 10) != 0 ||
		    (p = strchr(line, ':')) == NULL)
			continue;
		p += strspn(p + 1, " \t") + 1;
		n = strcspn(p, "\n");
		if (n >= sizeof b->model)
			n = sizeof b->model - 1;
		memcpy(b->model, p, n);
		b->model[n] = '\0';
		break;
	}
	fclose(f);
}

static void
bench_print(const struct bench *b)
{
	const struct bench_row	*r;
	const char		*last = NULL;
	size_t			 i;

	printf("commis-bench: rev %s, %ld CPUs (%s), %u workers, %u echo "
	    "samples%s\n\n", b->rev, b->cpus, b->model, b->workers,
	    bench_count(b, b->samples), b->quick ? " (quick)" : "");
	printf("%-28s %-15s %10s  %s\n", "measurement", "stat", "value",
	    "unit");
	for (i = 0; i < b->nrows; i++) {
		r = &b->rows[i];
		printf("%-28s %-15s %10.*f  %s\n",
		    last != NULL && strcmp(last, r->section) == 0 ? "" :
		    r->section, r->stat, r->value >= 1000 ? 0 : r->value >= 10 ?
		    1 : 2, r->value, r->unit);
		last = r->section;
	}
	fflush(stdout);
}

/* A string for JSON: drops quotes, backslashes and control characters. */
static void
bench_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s != '"' && *s != '\\' && (unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

static int
bench_write_json(struct bench *b)
{
	FILE	*f;
	size_t	 i;

	if ((f = fopen(b->json, "w")) == NULL)
		return bench_err(b, "%s: %s", b->json, strerror(errno));
	fprintf(f, "{\n  \"rev\": ");
	bench_json_str(f, b->rev);
	fprintf(f, ",\n  \"cpus\": %ld,\n  \"cpu_model\": ", b->cpus);
	bench_json_str(f, b->model);
	fprintf(f, ",\n  \"workers\": %u,\n  \"samples\": %u,\n"
	    "  \"quick\": %s,\n  \"results\": {\n", b->workers,
	    bench_count(b, b->samples), b->quick ? "true" : "false");
	for (i = 0; i < b->nrows; i++)
		fprintf(f, "    \"%s\": %.3f%s\n", b->rows[i].key,
		    b->rows[i].value, i + 1 < b->nrows ? "," : "");
	fprintf(f, "  }\n}\n");
	if (fclose(f) == EOF)
		return bench_err(b, "%s: %s", b->json, strerror(errno));
	return 0;
}

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code == 0 ? stdout : stderr,
	    "usage: commis-bench [-hq] [-n samples] [-o file] [-w workers]\n"
	    "  -n samples  echo round trips timed (default %u)\n"
	    "  -o file     also write the results as JSON to file\n"
	    "  -q          quick: a tenth of every sample count\n"
	    "  -w workers  workers in the pool (default: online CPUs)\n"
	    "  -h          this help\n"
	    "commisd is $COMMIS_BUILD/commisd (default build/commisd).\n",
	    BENCH_SAMPLES);
	exit(code);
}

static unsigned
bench_arg(const char *s, unsigned min, unsigned max, const char *what)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "commis-bench: %s must be %u-%u, got '%s'\n",
		    what, min, max, s);
		exit(2);
	}
	return (unsigned)v;
}

int
main(int argc, char **argv)
{
	struct bench	b;
	int		ch, rc;

	memset(&b, 0, sizeof b);
	/* A peer gone mid-write is an error return, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	b.samples = BENCH_SAMPLES;
	while ((ch = getopt(argc, argv, "hn:o:qw:")) != -1) {
		switch (ch) {
		case 'h':
			usage(0);
		case 'n':
			b.samples = bench_arg(optarg, 1, 10000000, "-n");
			break;
		case 'o':
			b.json = optarg;
			break;
		case 'q':
			b.quick = 1;
			break;
		case 'w':
			b.workers = bench_arg(optarg, 1, 1024, "-w");
			break;
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	bench_machine(&b);
	if (b.workers == 0)
		b.workers = b.cpus > 0 ? (unsigned)b.cpus : 1;

	rc = bench_floor(&b);
	if (rc == 0)
		rc = bench_memcpy(&b, 1u << 20, "memcpy 1 MiB", "memcpy_1m_gbs");
	if (rc == 0)
		rc = bench_memcpy(&b, 4u << 20, "memcpy 4 MiB", "memcpy_4m_gbs");
	if (rc == 0)
		rc = bench_daemon(&b);
	/* Stop commisd even after a failure; the first error is the one. */
	if (benchd_stop(&b) == -1 && rc == 0)
		rc = -1;
	if (rc == 0) {
		bench_print(&b);
		if (b.json != NULL)
			rc = bench_write_json(&b);
	}
	if (rc == -1) {
		fprintf(stderr, "commis-bench: %s\n", b.err);
		return 1;
	}
	return 0;
}
