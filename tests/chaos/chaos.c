/*
 * commis-chaos: the chaos harness of issue 9 (`make chaos`,
 * docs/reliability.md).
 *
 * Starts its own commisd in a temporary directory (a socket bound before
 * the fork, handed over as systemd's LISTEN_FDS) with one process pool of
 * 2 workers running tests/modules/testmod.so, and drives N test.mark jobs
 * with unique tokens through libcommis, 256 in flight. Each attempt of a
 * test.mark job appends "TOKEN PID" to an append-only log. Meanwhile the
 * main loop, which polls the stats for the workers' pids, delivers D
 * disruptions spaced at random over the run: SIGKILL of a worker, SIGSTOP
 * then SIGCONT a few ms later, and fault segv/abort/hang jobs.
 *
 * The checker then verifies: every token got exactly one terminal result;
 * none is lost; a token ran more than once only if a worker died; the
 * queue drains; commisd's and the workers' fd counts are at baseline; and
 * after SIGTERM no worker and no child remains. It prints
 *
 *	chaos: jobs=N disruptions=D lost=0 duplicates=K max_recovery_ms=R
 *	N passed, M failed
 *
 * and exits non-zero when a check fails.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "commis/client.h"

#define CHAOS_POOL		"chaos"
#define CHAOS_WORKERS		2
#define CHAOS_ATTEMPTS		5
#define CHAOS_INFLIGHT		256
#define CHAOS_JOBS		100000u
#define CHAOS_DISRUPT		1000u
#define CHAOS_QUICK_JOBS	10000u
#define CHAOS_QUICK_DISRUPT	100u
#define CHAOS_HANG_TIMEOUT_MS	100u	/* per-job timeout of fault hang */
#define CHAOS_POLL_MS		2	/* stats poll while running */
#define CHAOS_START_MS		10000
#define CHAOS_STOP_MS		20000
#define CHAOS_SETTLE_MS		20000	/* queue drained, pool back */
#define CHAOS_RESULT_MS		60000	/* no result at all for this long */
#define CHAOS_MAX_PIDS		65536
#define CHAOS_REQ_SLOTS		1024	/* > in-flight tokens + faults */
#define CHAOS_NO_STATUS		0xff

enum chaos_kind { K_KILL, K_STOP, K_SEGV, K_ABORT, K_HANG, K_NKINDS };

struct chaos_req {
	uint64_t	 id;		/* 0: free slot */
	int		 fault;		/* a fault job, not a token */
	uint32_t	 token;
};

struct chaos_pid {
	long		 pid;
	unsigned long long start;	/* /proc/PID/stat start time */
};

struct chaos_pool {
	long		 pid[16];
	char		 state[16][16];
	int		 n;
	long long	 queued, jobs, restarts;
};

struct chaos {
	unsigned	 njobs, ndisrupt;
	unsigned	 seed;

	pid_t		 pid;		/* commisd, 0 when not running */
	char		*dir;
	char		 sock[108];
	char		 conf[PATH_MAX];
	char		 log[PATH_MAX];
	commis_client	*cl;		/* jobs */
	commis_client	*ctl;		/* stats */

	uint8_t		*status;	/* per token; CHAOS_NO_STATUS */
	uint8_t		*nresults;
	uint8_t		*attempts;
	uint16_t	*logged;
	struct chaos_req req[CHAOS_REQ_SLOTS];
	unsigned	 inflight, faults_inflight;
	unsigned	 submitted, done, rejected, stray;

	unsigned	*thresholds;	/* done counts that fire disruptions */
	unsigned	 fired, by_kind[K_NKINDS];
	unsigned	 fault_results, fault_attempts, fault_bad;
	pid_t		 stopped;	/* SIGSTOPped, awaiting SIGCONT */
	uint64_t	 cont_at;

	struct chaos_pid *pids;
	size_t		 npids;
	struct chaos_pool last;
	uint64_t	 last_poll;
	uint64_t	 kill_at;	/* earliest unrecovered SIGKILL, or 0 */
	long		 killed[64];
	int		 nkilled;
	uint64_t	 max_recovery_ms;

	int		 fd_base_sup, fd_base_worker;
	unsigned	 passed, failed;
	unsigned long long duplicates;
	unsigned	 lost;
};

static void	chaos_fatal(struct chaos *, const char *, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void	chaos_check(struct chaos *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static uint64_t
chaos_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
chaos_sleep_ms(unsigned ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
chaos_rm_one(const char *path, const struct stat *sb, int flag,
    struct FTW *f)
{
	return remove(path);
}

static void
chaos_cleanup(struct chaos *c)
{
	int	st;

	if (c->stopped > 0)
		kill(c->stopped, SIGCONT);
	commis_close(c->cl);
	commis_close(c->ctl);
	c->cl = c->ctl = NULL;
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &st, 0);
		c->pid = 0;
	}
	if (c->dir != NULL) {
		nftw(c->dir, chaos_rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(c->dir);
		c->dir = NULL;
	}
}

/* A failure that stops the run: commisd is killed, the dir removed. */
static void
chaos_fatal(struct chaos *c, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "commis-chaos: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	chaos_cleanup(c);
	printf("%u passed, %u failed\n", c->passed, c->failed + 1);
	exit(1);
}

static void
chaos_check(struct chaos *c, int ok, const char *fmt, ...)
{
	va_list	ap;

	if (ok) {
		c->passed++;
		return;
	}
	c->failed++;
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Number of open fds of a process, or -1. */
static int
chaos_fd_count(long pid)
{
	char		 path[64];
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	snprintf(path, sizeof path, "/proc/%ld/fd", pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Field 22 of /proc/PID/stat (start time), or 0. */
static unsigned long long
chaos_start_time(long pid)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 v = 0;
	ssize_t			 n;
	int			 fd, i;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	/* After "pid (comm)", field 3 is the state; 22 is the start time. */
	for (i = 2; i < 22 && p != NULL; i++)
		if ((p = strchr(p + 1, ' ')) == NULL)
			return 0;
	sscanf(p, " %llu", &v);
	return v;
}

static void
chaos_saw_pid(struct chaos *c, long pid)
{
	size_t	i;

	for (i = c->npids; i > 0; i--)
		if (c->pids[i - 1].pid == pid)
			return;
	if (c->npids == CHAOS_MAX_PIDS)
		chaos_fatal(c, "more than %d worker pids", CHAOS_MAX_PIDS);
	c->pids[c->npids].pid = pid;
	c->pids[c->npids].start = chaos_start_time(pid);
	c->npids++;
}

static long long
chaos_json_num(const char *json, const char *key)
{
	char		 pat[64];
	const char	*p;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	if ((p = strstr(json, pat)) == NULL)
		return -1;
	return strtoll(p + strlen(pat), NULL, 10);
}

/* Reads the stats: totals, the pool's counters and its workers. */
static void
chaos_poll(struct chaos *c, struct chaos_pool *pl)
{
	char		*json, *pool, *p;
	unsigned	 slot;

	memset(pl, 0, sizeof *pl);
	if (commis_stats(c->ctl, COMMIS_STATS_JSON, &json) != COMMIS_OK)
		chaos_fatal(c, "stats: %s", commis_client_error(c->ctl));
	pl->jobs = chaos_json_num(json, "jobs");
	if ((pool = strstr(json, "\"pools\":[")) == NULL)
		chaos_fatal(c, "stats without pools: %s", json);
	pl->queued = chaos_json_num(pool, "queued");
	pl->restarts = chaos_json_num(pool, "restarts");
	for (p = pool; (p = strstr(p, "{\"id\":")) != NULL && pl->n < 16;
	    p++) {
		if (sscanf(p, "{\"id\":%u,\"pid\":%ld,\"state\":\"%15[a-z]\"",
		    &slot, &pl->pid[pl->n], pl->state[pl->n]) != 3)
			continue;
		if (pl->pid[pl->n] > 0)
			chaos_saw_pid(c, pl->pid[pl->n]);
		pl->n++;
	}
	free(json);
	c->last = *pl;
	c->last_poll = chaos_now_ms();
}

/* Whether the pool has CHAOS_WORKERS workers up, none of them killed. */
static int
chaos_pool_full(const struct chaos *c, const struct chaos_pool *pl)
{
	int	i, j, up = 0;

	for (i = 0; i < pl->n; i++) {
		for (j = 0; j < c->nkilled; j++)
			if (pl->pid[i] == c->killed[j])
				return 0;
		if (strcmp(pl->state[i], "idle") == 0 ||
		    strcmp(pl->state[i], "busy") == 0)
			up++;
	}
	return up == CHAOS_WORKERS;
}

/* Polls the stats; closes an outstanding recovery once the pool is full. */
static void
chaos_watch(struct chaos *c)
{
	struct chaos_pool	pl;
	uint64_t		now;

	chaos_poll(c, &pl);
	if (c->kill_at == 0 || !chaos_pool_full(c, &pl))
		return;
	now = chaos_now_ms();
	if (now - c->kill_at > c->max_recovery_ms)
		c->max_recovery_ms = now - c->kill_at;
	c->kill_at = 0;
	c->nkilled = 0;
}

static int
chaos_listen(struct chaos *c)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(c->sock) >= sizeof sun.sun_path)
		chaos_fatal(c, "socket path too long: %s", c->sock);
	strcpy(sun.sun_path, c->sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		chaos_fatal(c, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    listen(fd, 512) == -1)
		chaos_fatal(c, "%s: %s", c->sock, strerror(errno));
	return fd;
}

/*
 * One static process pool. Restarts are quick and never put the pool in
 * the failed state: the harness kills idle workers on purpose, and those
 * deaths count against restart_intensity.
 */
static void
chaos_write_conf(struct chaos *c)
{
	const char	*build = getenv("COMMIS_BUILD");
	FILE		*f;

	snprintf(c->conf, sizeof c->conf, "%s/commis.yaml", c->dir);
	if ((f = fopen(c->conf, "w")) == NULL)
		chaos_fatal(c, "%s: %s", c->conf, strerror(errno));
	fprintf(f, "socket: %s\nlog_level: error\npools:\n"
	    "  - name: " CHAOS_POOL "\n    workers: %d\n"
	    "    isolation: process\n    max_attempts: %d\n"
	    "    timeout_ms: 2000\n    kill_grace_ms: 200\n"
	    "    spawn_rate: 10000\n    restart_intensity: 100000\n"
	    "    restart_period_ms: 1000\n    modules: [\"%s/testmod.so\"]\n",
	    c->sock, CHAOS_WORKERS, CHAOS_ATTEMPTS, build ? build : "build");
	if (fclose(f) == EOF)
		chaos_fatal(c, "%s: %s", c->conf, strerror(errno));
}

/* In the child: the listener becomes fd 3, as systemd would pass it. */
static void
chaos_exec(struct chaos *c, int lfd)
{
	char		 pid[32], path[PATH_MAX];
	const char	*build = getenv("COMMIS_BUILD");

	if (dup2(lfd, 3) == -1)
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("COMMIS_CHAOS_LOG", c->log, 1);
	snprintf(path, sizeof path, "%s/commisd", build ? build : "build");
	execl(path, "commisd", "-c", c->conf, (char *)NULL);
	fprintf(stderr, "commis-chaos: %s: %s\n", path, strerror(errno));
	_exit(127);
}

/* Starts commisd, connects twice, waits for both workers to be idle. */
static void
chaos_start(struct chaos *c)
{
	const char		*base = getenv("TMPDIR");
	struct chaos_pool	 pl;
	uint64_t		 deadline;
	int			 lfd, st;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&c->dir, "%s/commis-chaos.XXXXXX", base) == -1 ||
	    mkdtemp(c->dir) == NULL)
		chaos_fatal(c, "mkdtemp in %s: %s", base, strerror(errno));
	snprintf(c->sock, sizeof c->sock, "%s/commis.sock", c->dir);
	snprintf(c->log, sizeof c->log, "%s/marks.log", c->dir);
	chaos_write_conf(c);
	lfd = chaos_listen(c);
	if ((c->pid = fork()) == -1)
		chaos_fatal(c, "fork: %s", strerror(errno));
	if (c->pid == 0)
		chaos_exec(c, lfd);
	close(lfd);
	if (commis_connect(c->sock, &c->cl) != COMMIS_OK ||
	    commis_connect(c->sock, &c->ctl) != COMMIS_OK)
		chaos_fatal(c, "connect %s: %s", c->sock, strerror(errno));
	deadline = chaos_now_ms() + CHAOS_START_MS;
	for (;;) {
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->pid = 0;
			chaos_fatal(c, "commisd exited while starting");
		}
		chaos_poll(c, &pl);
		if (pl.n == CHAOS_WORKERS &&
		    strcmp(pl.state[0], "idle") == 0 &&
		    strcmp(pl.state[1], "idle") == 0)
			break;
		if (chaos_now_ms() >= deadline)
			chaos_fatal(c, "workers not idle after %d ms",
			    CHAOS_START_MS);
		chaos_sleep_ms(1);
	}
	c->fd_base_sup = chaos_fd_count(c->pid);
	c->fd_base_worker = chaos_fd_count(pl.pid[0]);
	if (c->fd_base_sup <= 0 || c->fd_base_worker <= 0 ||
	    chaos_fd_count(pl.pid[1]) != c->fd_base_worker)
		chaos_fatal(c, "cannot read fd baselines (%d, %d)",
		    c->fd_base_sup, c->fd_base_worker);
}

static struct chaos_req *
chaos_req_slot(struct chaos *c, uint64_t id, int create)
{
	size_t	i, h = (size_t)(id * 0x9e3779b97f4a7c15ull) % CHAOS_REQ_SLOTS;

	for (i = 0; i < CHAOS_REQ_SLOTS; i++, h = (h + 1) % CHAOS_REQ_SLOTS) {
		if (c->req[h].id == id)
			return &c->req[h];
		if (c->req[h].id == 0 && create)
			return &c->req[h];
	}
	return NULL;
}

/*
 * Removes a slot keeping the probe chains intact: later entries of the
 * cluster are moved back into the hole when their home allows it.
 */
static void
chaos_req_del(struct chaos *c, struct chaos_req *r)
{
	size_t	hole = (size_t)(r - c->req), i, home;

	r->id = 0;
	for (i = (hole + 1) % CHAOS_REQ_SLOTS; c->req[i].id != 0;
	    i = (i + 1) % CHAOS_REQ_SLOTS) {
		home = (size_t)(c->req[i].id * 0x9e3779b97f4a7c15ull) %
		    CHAOS_REQ_SLOTS;
		if ((i > hole && (home <= hole || home > i)) ||
		    (i < hole && home <= hole && home > i)) {
			c->req[hole] = c->req[i];
			c->req[i].id = 0;
			hole = i;
		}
	}
}

static void
chaos_submit(struct chaos *c, const char *handler, const char *data,
    uint32_t timeout_ms, int fault, uint32_t token)
{
	struct commis_submit_opts	 o;
	struct chaos_req		*r;
	uint64_t			 id;

	memset(&o, 0, sizeof o);
	o.pool = CHAOS_POOL;
	o.timeout_ms = timeout_ms;
	if (commis_submit_async(c->cl, handler, data, strlen(data), &o,
	    &id) != COMMIS_OK)
		chaos_fatal(c, "submit %s: %s", handler,
		    commis_client_error(c->cl));
	if (id == 0 || (r = chaos_req_slot(c, id, 1)) == NULL || r->id != 0)
		chaos_fatal(c, "request id %llu: no slot or reused",
		    (unsigned long long)id);
	r->id = id;
	r->fault = fault;
	r->token = token;
	if (fault)
		c->faults_inflight++;
	else
		c->inflight++;
}

static void
chaos_submit_tokens(struct chaos *c)
{
	char	tok[32];

	while (c->inflight < CHAOS_INFLIGHT && c->submitted < c->njobs) {
		snprintf(tok, sizeof tok, "T%07u", c->submitted);
		chaos_submit(c, "test.mark", tok, 0, 0, c->submitted);
		c->submitted++;
	}
}

static void
chaos_result(struct chaos *c, struct commis_result *res)
{
	struct chaos_req	*r;
	uint32_t		 t;

	if ((r = chaos_req_slot(c, res->request_id, 0)) == NULL) {
		c->stray++;
		return;
	}
	if (r->fault) {
		c->faults_inflight--;
		c->fault_results++;
		c->fault_attempts += res->attempts;
		if (res->error != 0 || (res->status != COMMIS_ST_CRASHED &&
		    res->status != COMMIS_ST_TIMEDOUT))
			c->fault_bad++;
	} else {
		t = r->token;
		c->inflight--;
		c->done++;
		if (res->error != 0)
			c->rejected++;
		if (c->nresults[t] < UINT8_MAX)
			c->nresults[t]++;
		c->status[t] = res->error != 0 ? CHAOS_NO_STATUS - 1 :
		    (uint8_t)res->status;
		c->attempts[t] = (uint8_t)(res->attempts > 255 ? 255 :
		    res->attempts);
	}
	chaos_req_del(c, r);
}

/* Waits up to ms for a result, then takes every one that is ready. */
static void
chaos_collect(struct chaos *c, int ms)
{
	struct commis_result	res;
	int			rc;

	if (commis_pending(c->cl) == 0) {
		chaos_sleep_ms((unsigned)ms);
		return;
	}
	rc = commis_wait_result(c->cl, ms, &res);
	if (rc == COMMIS_ERR_TIMEOUT)
		return;
	if (rc != COMMIS_OK)
		chaos_fatal(c, "result: %s", commis_client_error(c->cl));
	do {
		chaos_result(c, &res);
		commis_result_free(&res);
	} while ((rc = commis_poll_result(c->cl, &res)) == 1);
	if (rc != 0)
		chaos_fatal(c, "result: %s", commis_client_error(c->cl));
}

/* A random worker pid from the latest stats, or 0. */
static long
chaos_pick(struct chaos *c)
{
	long	cand[16];
	int	i, n = 0;

	for (i = 0; i < c->last.n; i++)
		if (c->last.pid[i] > 0 && c->last.pid[i] != c->stopped &&
		    strcmp(c->last.state[i], "starting") != 0)
			cand[n++] = c->last.pid[i];
	return n == 0 ? 0 : cand[rand() % n];
}

/* Delivers one disruption; 0 when there was no target yet. */
static int
chaos_disrupt(struct chaos *c)
{
	static const char *const fault[] = { "segv", "abort", "hang" };
	int	 k, roll = rand() % 10;
	long	 pid = 0;

	k = roll < 4 ? K_KILL : roll < 7 ? K_STOP : K_SEGV + (roll - 7);
	if (k == K_STOP && c->stopped > 0)
		k = K_KILL;
	if (k == K_KILL || k == K_STOP) {
		chaos_poll(c, &c->last);
		if ((pid = chaos_pick(c)) == 0)
			return 0;
		if (kill((pid_t)pid, k == K_KILL ? SIGKILL : SIGSTOP) == -1)
			return 0;
	}
	if (k == K_KILL) {
		if (c->kill_at == 0)
			c->kill_at = chaos_now_ms();
		if (c->nkilled < (int)(sizeof c->killed / sizeof c->killed[0]))
			c->killed[c->nkilled++] = pid;
	} else if (k == K_STOP) {
		c->stopped = (pid_t)pid;
		c->cont_at = chaos_now_ms() + 1 + (uint64_t)(rand() % 20);
	} else
		chaos_submit(c, "fault", fault[k - K_SEGV],
		    k == K_HANG ? CHAOS_HANG_TIMEOUT_MS : 0, 1, 0);
	c->by_kind[k]++;
	c->fired++;
	return 1;
}

static int
chaos_cmp_u(const void *a, const void *b)
{
	unsigned	x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* Disruption k fires once this many tokens are done: sorted uniform. */
static void
chaos_schedule(struct chaos *c)
{
	unsigned	i, span = c->njobs - c->njobs / 10;

	if ((c->thresholds = calloc(c->ndisrupt + 1, sizeof *c->thresholds))
	    == NULL)
		chaos_fatal(c, "out of memory");
	for (i = 0; i < c->ndisrupt; i++)
		c->thresholds[i] = span == 0 ? 0 :
		    (unsigned)(((unsigned long long)rand() << 16 ^
		    (unsigned)rand()) % span);
	qsort(c->thresholds, c->ndisrupt, sizeof *c->thresholds, chaos_cmp_u);
}

/* The run: tokens, disruptions and stats polls until all are done. */
static void
chaos_run(struct chaos *c)
{
	uint64_t	now, last_result = chaos_now_ms();
	unsigned	before;

	while (c->done < c->njobs || c->fired < c->ndisrupt ||
	    c->faults_inflight > 0 || c->stopped > 0) {
		chaos_submit_tokens(c);
		now = chaos_now_ms();
		if (c->stopped > 0 && now >= c->cont_at) {
			kill(c->stopped, SIGCONT);
			c->stopped = 0;
		}
		if (c->fired < c->ndisrupt &&
		    (c->thresholds[c->fired] <= c->done ||
		    c->done == c->njobs))
			chaos_disrupt(c);
		if (c->kill_at != 0 || now - c->last_poll >= CHAOS_POLL_MS)
			chaos_watch(c);
		before = c->done + c->fault_results;
		chaos_collect(c, 1);
		if (c->done + c->fault_results != before)
			last_result = chaos_now_ms();
		else if (commis_pending(c->cl) > 0 &&
		    chaos_now_ms() - last_result > CHAOS_RESULT_MS)
			chaos_fatal(c, "no result for %d ms (%u of %u done)",
			    CHAOS_RESULT_MS, c->done, c->njobs);
	}
	while (c->kill_at != 0) {
		chaos_watch(c);
		if (c->kill_at != 0 && chaos_now_ms() - c->kill_at >
		    CHAOS_SETTLE_MS)
			chaos_fatal(c, "pool not back after a SIGKILL");
		chaos_sleep_ms(1);
	}
}

/* Reads the log: per-token attempt lines; bad lines are counted. */
static unsigned
chaos_read_log(struct chaos *c)
{
	FILE		*f;
	char		 line[256], *end;
	unsigned long	 t;
	long		 pid;
	unsigned	 bad = 0;

	if ((f = fopen(c->log, "r")) == NULL)
		return c->njobs > 0;
	while (fgets(line, sizeof line, f) != NULL) {
		if (line[0] != 'T' || (t = strtoul(line + 1, &end, 10),
		    *end != ' ') || t >= c->njobs ||
		    sscanf(end, " %ld", &pid) != 1 || pid <= 0) {
			bad++;
			continue;
		}
		if (c->logged[t] < UINT16_MAX)
			c->logged[t]++;
	}
	fclose(f);
	return bad;
}

/* Exactly one result per token, statuses, and the log against them. */
static void
chaos_check_tokens(struct chaos *c, long long deaths)
{
	unsigned	 by_status[COMMIS_ST_LAST + 2], i, missing = 0;
	unsigned	 multi = 0, unlogged = 0, overlogged = 0, bad = 0;
	unsigned	 retried = 0, badlines;

	memset(by_status, 0, sizeof by_status);
	badlines = chaos_read_log(c);
	for (i = 0; i < c->njobs; i++) {
		if (c->nresults[i] == 0) {
			missing++;
			continue;
		}
		multi += c->nresults[i] > 1;
		by_status[c->status[i] <= COMMIS_ST_LAST ? c->status[i] :
		    COMMIS_ST_LAST + 1]++;
		if (c->status[i] == COMMIS_ST_SUCCEEDED && c->logged[i] == 0)
			unlogged++;
		if (c->logged[i] > c->attempts[i])
			overlogged++;
		if (c->logged[i] > 1)
			c->duplicates += c->logged[i] - 1u;
		retried += c->attempts[i] > 1;
		if (c->status[i] != COMMIS_ST_SUCCEEDED &&
		    !((c->status[i] == COMMIS_ST_CRASHED ||
		    c->status[i] == COMMIS_ST_TIMEDOUT) &&
		    c->attempts[i] >= CHAOS_ATTEMPTS))
			bad++;
	}
	printf("chaos: results succeeded=%u failed=%u timedout=%u "
	    "crashed=%u cancelled=%u expired=%u rejected=%u retried=%u\n",
	    by_status[COMMIS_ST_SUCCEEDED], by_status[COMMIS_ST_FAILED],
	    by_status[COMMIS_ST_TIMEDOUT], by_status[COMMIS_ST_CRASHED],
	    by_status[COMMIS_ST_CANCELLED], by_status[COMMIS_ST_EXPIRED],
	    c->rejected, retried);
	c->lost = missing;
	chaos_check(c, missing == 0, "lost: %u tokens without a result",
	    missing);
	chaos_check(c, multi == 0 && c->stray == 0, "%u tokens with more "
	    "than one result, %u stray results", multi, c->stray);
	chaos_check(c, bad == 0 && c->rejected == 0, "%u tokens ended "
	    "neither succeeded nor out of attempts", bad);
	chaos_check(c, badlines == 0, "%u malformed log lines", badlines);
	chaos_check(c, unlogged == 0, "%u succeeded tokens never logged",
	    unlogged);
	chaos_check(c, overlogged == 0, "%u tokens logged more often than "
	    "their attempts", overlogged);
	chaos_check(c, c->duplicates <= (unsigned long long)deaths +
	    c->by_kind[K_KILL], "duplicates %llu > worker deaths %lld + "
	    "SIGKILLs %u", c->duplicates, deaths, c->by_kind[K_KILL]);
	chaos_check(c, c->fault_bad == 0 && c->fault_results ==
	    c->by_kind[K_SEGV] + c->by_kind[K_ABORT] + c->by_kind[K_HANG],
	    "fault jobs: %u of %u results, %u not crashed/timedout",
	    c->fault_results, c->by_kind[K_SEGV] + c->by_kind[K_ABORT] +
	    c->by_kind[K_HANG], c->fault_bad);
}

/* Queue drained, pool full, fds back at baseline (retried to settle). */
static long long
chaos_check_settled(struct chaos *c)
{
	struct chaos_pool	pl;
	uint64_t		deadline = chaos_now_ms() + CHAOS_SETTLE_MS;
	int			sup, wbad, i, ok;

	for (;;) {
		chaos_poll(c, &pl);
		sup = chaos_fd_count(c->pid);
		for (i = 0, wbad = 0; i < pl.n; i++)
			if (chaos_fd_count(pl.pid[i]) != c->fd_base_worker)
				wbad++;
		ok = pl.queued == 0 && pl.jobs == 0 && chaos_pool_full(c, &pl)
		    && sup == c->fd_base_sup && wbad == 0;
		if (ok || chaos_now_ms() >= deadline)
			break;
		chaos_sleep_ms(10);
	}
	chaos_check(c, pl.queued == 0 && pl.jobs == 0, "queue not drained: "
	    "queued=%lld jobs=%lld", pl.queued, pl.jobs);
	chaos_check(c, chaos_pool_full(c, &pl), "pool not back at %d "
	    "workers", CHAOS_WORKERS);
	chaos_check(c, sup == c->fd_base_sup, "commisd has %d fds, %d at "
	    "start", sup, c->fd_base_sup);
	chaos_check(c, wbad == 0, "%d workers not at %d fds", wbad,
	    c->fd_base_worker);
	printf("chaos: fds commisd=%d (baseline %d) worker=%d; restarts=%lld "
	    "worker_pids=%zu\n", sup, c->fd_base_sup, c->fd_base_worker,
	    pl.restarts, c->npids);
	return pl.restarts;
}

/* SIGTERM and reap (SIGKILL past the deadline); *status: exit status. */
static void
chaos_stop_daemon(struct chaos *c, int *status)
{
	uint64_t	deadline = chaos_now_ms() + CHAOS_STOP_MS;
	int		st = 0;

	commis_close(c->cl);
	commis_close(c->ctl);
	c->cl = c->ctl = NULL;
	*status = -1;
	kill(c->pid, SIGTERM);
	while (waitpid(c->pid, &st, WNOHANG) != c->pid) {
		if (chaos_now_ms() >= deadline) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &st, 0);
			c->pid = 0;
			return;
		}
		chaos_sleep_ms(1);
	}
	c->pid = 0;
	*status = st;
}

/* After SIGTERM: commisd exits 0, no worker alive, no child left. */
static void
chaos_check_gone(struct chaos *c)
{
	uint64_t	deadline;
	size_t		i, alive;
	int		st;

	chaos_stop_daemon(c, &st);
	chaos_check(c, st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "commisd did not exit 0 on SIGTERM (status %d)", st);
	deadline = chaos_now_ms() + 3000;
	for (;;) {
		for (i = 0, alive = 0; i < c->npids; i++)
			if (kill((pid_t)c->pids[i].pid, 0) == 0 &&
			    chaos_start_time(c->pids[i].pid) ==
			    c->pids[i].start)
				alive++;
		if (alive == 0 || chaos_now_ms() >= deadline)
			break;
		chaos_sleep_ms(10);
	}
	chaos_check(c, alive == 0, "%zu of %zu worker pids still alive",
	    alive, c->npids);
	errno = 0;
	chaos_check(c, waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD,
	    "a child remains after commisd exited");
}

static void
chaos_usage(void)
{
	fprintf(stderr, "usage: commis-chaos [--quick] [--jobs N] "
	    "[--disruptions D] [--seed S]\n");
	exit(2);
}

static unsigned
chaos_arg(const char *s)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v > 100000000ul)
		chaos_usage();
	return (unsigned)v;
}

static void
chaos_args(struct chaos *c, int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "jobs", required_argument, NULL, 'n' },
		{ "disruptions", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int	ch, jobs = 0, dis = 0;

	c->njobs = CHAOS_JOBS;
	c->ndisrupt = CHAOS_DISRUPT;
	c->seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	while ((ch = getopt_long(argc, argv, "qn:d:s:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			c->njobs = jobs ? c->njobs : CHAOS_QUICK_JOBS;
			c->ndisrupt = dis ? c->ndisrupt : CHAOS_QUICK_DISRUPT;
			break;
		case 'n':
			c->njobs = chaos_arg(optarg);
			jobs = 1;
			break;
		case 'd':
			c->ndisrupt = chaos_arg(optarg);
			dis = 1;
			break;
		case 's':
			c->seed = chaos_arg(optarg);
			break;
		default:
			chaos_usage();
		}
	}
	if (optind != argc)
		chaos_usage();
}

int
main(int argc, char **argv)
{
	static struct chaos	 c;
	uint64_t		 t0;
	long long		 restarts;

	chaos_args(&c, argc, argv);
	srand(c.seed);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	c.status = malloc(c.njobs + 1);
	c.nresults = calloc(c.njobs + 1, 1);
	c.attempts = calloc(c.njobs + 1, 1);
	c.logged = calloc(c.njobs + 1, sizeof *c.logged);
	c.pids = calloc(CHAOS_MAX_PIDS, sizeof *c.pids);
	if (c.status == NULL || c.nresults == NULL || c.attempts == NULL ||
	    c.logged == NULL || c.pids == NULL)
		chaos_fatal(&c, "out of memory");
	memset(c.status, CHAOS_NO_STATUS, c.njobs + 1);
	printf("chaos: seed=%u jobs=%u disruptions=%u\n", c.seed, c.njobs,
	    c.ndisrupt);
	chaos_schedule(&c);
	chaos_start(&c);
	t0 = chaos_now_ms();
	chaos_run(&c);
	printf("chaos: ran %llu ms; sigkill=%u sigstop=%u segv=%u abort=%u "
	    "hang=%u; fault attempts=%u\n",
	    (unsigned long long)(chaos_now_ms() - t0), c.by_kind[K_KILL],
	    c.by_kind[K_STOP], c.by_kind[K_SEGV], c.by_kind[K_ABORT],
	    c.by_kind[K_HANG], c.fault_attempts);
	restarts = chaos_check_settled(&c);
	chaos_check_tokens(&c, restarts);
	chaos_check(&c, c.fired >= c.ndisrupt, "%u of %u disruptions",
	    c.fired, c.ndisrupt);
	chaos_check_gone(&c);
	chaos_cleanup(&c);
	printf("chaos: jobs=%u disruptions=%u lost=%u duplicates=%llu "
	    "max_recovery_ms=%llu\n", c.njobs, c.fired, c.lost,
	    c.duplicates, (unsigned long long)c.max_recovery_ms);
	printf("%u passed, %u failed\n", c.passed, c.failed);
	free(c.status);
	free(c.nresults);
	free(c.attempts);
	free(c.logged);
	free(c.pids);
	free(c.thresholds);
	return c.failed == 0 ? 0 : 1;
}
