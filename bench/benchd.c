/*
 * The commisd of one run: its directory and config, started on a socket
 * bound here and handed over as systemd's LISTEN_FDS, stopped and removed
 * at the end whatever happened; and reading its JSON stats and /proc.
 * Knows nothing of the figures.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

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

/*
 * The pools: bench and nostats (the same but for latency histograms)
 * with prefetch and a queue deep enough for every pipelined figure and
 * the 100000 jobs queued behind the ping figure; crash, whose one worker
 * is killed again and again, with a restart budget those kills cannot
 * exhaust (more than 1000 restarts in 100 ms) and no spawn_rate or
 * backoff delay in the way, so that the figure is the replacement's own
 * start; hold, one worker without prefetch, so that every job submitted
 * behind its busy worker counts as queued.
 */
static int
benchd_write_conf(struct bench *b)
{
	static const char *const pols[] = { "always", "interval", "never" };
	FILE	*f;
	int	 i;

	snprintf(b->conf, sizeof b->conf, "%s/commis.yaml", b->dir);
	if ((f = fopen(b->conf, "w")) == NULL)
		return bench_err(b, "%s: %s", b->conf, strerror(errno));
	/*
	 * Inline both ways up to 256 MiB: max_payload for the inputs, and
	 * segment_threshold as high, so that results stay inline too (a
	 * segment input still comes back as itself from echo).
	 */
	fprintf(f, "socket: %s\nlog_level: error\nmax_payload: %s\n"
	    "segment_threshold: %s\nstate_dir: %s/state\npools:\n", b->sock,
	    BENCH_MAX_PAYLOAD, BENCH_MAX_PAYLOAD, b->dir);
	fprintf(f, "  - name: " BENCH_POOL "\n    workers: %u\n"
	    "    prefetch: %u\n    queue_max: %u\n", b->workers,
	    BENCH_PREFETCH, BENCH_QUEUE_MAX);
	fprintf(f, "  - name: " BENCH_NOSTATS "\n    workers: %u\n"
	    "    prefetch: %u\n    queue_max: %u\n    latency_stats: false\n",
	    b->workers, BENCH_PREFETCH, BENCH_QUEUE_MAX);
	fprintf(f, "  - name: " BENCH_CRASH "\n    workers: 1\n"
	    "    spawn_rate: 10000\n    restart_intensity: 1000\n"
	    "    restart_period_ms: 100\n    restart_delay_ms: 0\n"
	    "    restart_delay_max_ms: 0\n");
	fprintf(f, "  - name: " BENCH_HOLD "\n    workers: 1\n"
	    "    queue_max: %u\n", BENCH_HOLD_QUEUE_MAX);
	/* Durable pools, one per fsync policy (journals in DIR/state). */
	for (i = 0; i < 3; i++)
		fprintf(f, "  - name: dur_%s\n    workers: 1\n"
		    "    prefetch: %u\n    queue_max: %u\n    durable: true\n"
		    "    fsync: %s\n", pols[i], BENCH_PREFETCH,
		    BENCH_QUEUE_MAX, pols[i]);
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
int
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

/* The first "key": number in a JSON text (stats, events). */
int
benchd_json_num(const char *json, const char *key, long long *v)
{
	char		 pat[64];
	const char	*p;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	if ((p = strstr(json, pat)) == NULL)
		return -1;
	*v = strtoll(p + strlen(pat), NULL, 10);
	return 0;
}

/*
 * Where a pool's object starts in the stats (NULL pool: the first one).
 * Every pool object carries every counter, and before its worker_list,
 * so the first match of a key from here is this pool's.
 */
static const char *
benchd_json_pool(const char *json, const char *pool)
{
	char	pat[96];

	if (pool == NULL)
		return strstr(json, "\"pools\":[");
	snprintf(pat, sizeof pat, "{\"name\":\"%s\",", pool);
	return strstr(json, pat);
}

/* Fetches the stats and reads the counters named in keys of one pool. */
int
benchd_stats(struct bench *b, commis_client *cl, const char *pool,
    const char **keys, long long *v, size_t n)
{
	const char	*p;
	char		*json;
	size_t		 i;

	if (commis_stats(cl, COMMIS_STATS_JSON, &json) != COMMIS_OK)
		return bench_err(b, "stats: %s", commis_client_error(cl));
	if ((p = benchd_json_pool(json, pool)) == NULL) {
		bench_err(b, "stats: no pool %s in %s", pool, json);
		free(json);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (benchd_json_num(p, keys[i], &v[i]) == -1) {
			bench_err(b, "stats: no \"%s\" in %s", keys[i], json);
			free(json);
			return -1;
		}
	}
	free(json);
	return 0;
}

/* Polls b->cl's stats until pool's key equals want, for up to ms. */
int
benchd_wait_stat(struct bench *b, const char *pool, const char *key,
    long long want, int ms)
{
	const char	*keys[] = { key };
	struct timespec	 ts = { 0, 1000000 };
	uint64_t	 deadline = bench_now_ns() + (uint64_t)ms * 1000000u;
	long long	 v;

	for (;;) {
		if (benchd_stats(b, b->cl, pool, keys, &v, 1) == -1)
			return -1;
		if (v == want)
			return 0;
		if (bench_now_ns() >= deadline)
			return bench_err(b, "pool %s: %s is %lld, not %lld, "
			    "after %d ms", pool, key, v, want, ms);
		nanosleep(&ts, NULL);
	}
}

/*
 * The pids of pool's idle workers (up to max, *n of them) from one stats
 * reply; returns how many workers the pool lists in any state, or -1.
 * A worker_list entry holds no array, so the first ']' ends the list.
 */
int
benchd_worker_pids(struct bench *b, const char *pool, pid_t *pids,
    size_t max, size_t *n)
{
	const char	*p, *end, *e, *next, *st;
	char		*json;
	long long	 pid;
	int		 listed = 0;

	*n = 0;
	if (commis_stats(b->cl, COMMIS_STATS_JSON, &json) != COMMIS_OK)
		return bench_err(b, "stats: %s", commis_client_error(b->cl));
	if ((p = benchd_json_pool(json, pool)) == NULL ||
	    (p = strstr(p, "\"worker_list\":[")) == NULL ||
	    (end = strchr(p, ']')) == NULL) {
		bench_err(b, "stats: no worker list of pool %s in %s", pool,
		    json);
		free(json);
		return -1;
	}
	for (e = strstr(p, "{\"id\":"); e != NULL && e < end; e = next) {
		next = strstr(e + 1, "{\"id\":");
		listed++;
		if (benchd_json_num(e, "pid", &pid) == -1) {
			bench_err(b, "stats: a worker of %s without a pid",
			    pool);
			free(json);
			return -1;
		}
		st = strstr(e, "\"state\":");
		if (*n < max && st != NULL && (next == NULL || st < next) &&
		    strncmp(st, "\"state\":\"idle\"", 14) == 0)
			pids[(*n)++] = (pid_t)pid;
	}
	free(json);
	return listed;
}

/*
 * A "Field:   N kB" line of /proc/PID/file, in KiB; -1 when the file or
 * the field is missing (the process has gone, say).
 */
long long
benchd_proc_kib(pid_t pid, const char *file, const char *field)
{
	FILE		*f;
	char		 path[64], line[256];
	size_t		 len = strlen(field);
	long long	 v = -1;

	snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, file);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, field, len) == 0 && line[len] == ':') {
			v = strtoll(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
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
	bench_err(b, "commisd exited with %s %d",
	    WIFEXITED(st) ? "status" : "signal",
	    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 1;
}

/*
 * Polls until every job slot of every pool is free, or fails if commisd
 * exits: after the start, and before a figure that wants idle workers.
 */
int
benchd_wait_idle(struct bench *b)
{
	static const char *const pools[] = { BENCH_POOL, BENCH_NOSTATS,
	    BENCH_CRASH, BENCH_HOLD };
	const char	*keys[] = { "available", "size" };
	struct timespec	 ts = { 0, 1000000 };
	uint64_t	 deadline = bench_now_ns() + BENCH_START_MS * 1000000ull;
	long long	 v[2];
	size_t		 i = 0;

	while (i < BENCH_NITEMS(pools)) {
		if (benchd_exited(b, 0))
			return -1;
		if (benchd_stats(b, b->cl, pools[i], keys, v, 2) == -1) {
			benchd_exited(b, 1000);
			return -1;
		}
		if (v[0] == v[1]) {
			i++;
			continue;
		}
		if (bench_now_ns() >= deadline)
			return bench_err(b, "pool %s: %lld of %lld workers "
			    "idle after %d ms", pools[i], v[0], v[1],
			    BENCH_START_MS);
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* SIGTERM, reap (SIGKILL past the deadline), remove the directory. */
int
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

