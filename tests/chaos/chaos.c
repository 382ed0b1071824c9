/*
 * commis-chaos: the chaos harness of issue 9 (`make chaos`,
 * docs/reliability.md).
 *
 * Starts its own commisd in a temporary directory (a socket bound before
 * the fork, handed over as systemd's LISTEN_FDS) with one static pool of
 * 2 workers running tests/modules/testmod.so (with --thread: one host
 * process of 2 threads), and drives N test.mark jobs with unique tokens
 * through libcommis, 256 in flight. Each attempt of a test.mark job
 * appends "TOKEN PID" to an append-only log. Meanwhile the main loop,
 * which polls the stats for the workers' pids, delivers D disruptions
 * spaced at random over the run: SIGKILL of a worker, SIGSTOP then
 * SIGCONT a few ms later, fault segv/abort/hang jobs and, with --reload,
 * reloads of a changed config and scale changes between 1 and 3.
 *
 * The checker then verifies: every token got exactly one terminal result;
 * none is lost; a token ran more than once only if a worker died (in a
 * thread pool: with the jobs its host was running); the queue drains;
 * the pool is at its last configured size; commisd's and the workers' fd
 * counts are at the baseline of that size; and after SIGTERM no worker
 * and no child remains. It prints
 *
 *	chaos: jobs=N disruptions=D lost=0 duplicates=K max_recovery_ms=R mode=M
 *	N passed, M failed
 *
 * and exits non-zero when a check fails.
 *
 * This file owns the daemon's life (directory, config, start and the fd
 * baselines, stop), the options and the summary; chaos_run.c drives the
 * run, chaos_check.c checks it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
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

#include "chaos.h"

/*
 * What reload K writes (K % 4; the start-up config is variant 0): valid
 * changes that must not change what a job does. kill_grace_ms only times
 * the hard kill of fault hang; max_jobs recycles workers (replaced before
 * they go); prefetch sends jobs ahead, so that retiring and scaled-down
 * workers have jobs to hand back (REVOKE racing STARTED).
 */
static const struct {
	unsigned	kill_grace_ms, max_jobs, prefetch;
} chaos_variants[] = {
	{ 200, 0, 0 },
	{ 300, 0, 0 },
	{ 200, 250, 0 },
	{ 300, 0, 4 },
};

uint64_t
chaos_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
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
void
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

void
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
int
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
unsigned long long
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
 * One static pool at the configured size, in variant nreloads % 4.
 * Restarts are quick and never put the pool in the failed state: the
 * harness kills idle workers on purpose, and those deaths count against
 * restart_intensity. Written beside the old file and renamed over it, so
 * that a reload never reads half a file.
 */
void
chaos_write_conf(struct chaos *c)
{
	const char	*build = getenv("COMMIS_BUILD");
	char		 tmp[PATH_MAX + 8];
	unsigned	 v = c->nreloads % (sizeof chaos_variants /
			    sizeof chaos_variants[0]);
	FILE		*f;

	snprintf(c->conf, sizeof c->conf, "%s/commis.yaml", c->dir);
	snprintf(tmp, sizeof tmp, "%s.new", c->conf);
	if ((f = fopen(tmp, "w")) == NULL)
		chaos_fatal(c, "%s: %s", tmp, strerror(errno));
	fprintf(f, "socket: %s\nlog_level: error\npools:\n"
	    "  - name: " CHAOS_POOL "\n    workers: %u\n"
	    "    isolation: %s\n    max_attempts: %d\n"
	    "    timeout_ms: 2000\n    kill_grace_ms: %u\n"
	    "    max_jobs: %u\n    prefetch: %u\n"
	    "    spawn_rate: 10000\n    restart_intensity: 100000\n"
	    "    restart_period_ms: 1000\n    modules: [\"%s/testmod.so\"]\n",
	    c->sock, c->size, c->thread ? "thread" : "process",
	    CHAOS_ATTEMPTS, chaos_variants[v].kill_grace_ms,
	    chaos_variants[v].max_jobs, chaos_variants[v].prefetch,
	    build ? build : "build");
	if (fclose(f) == EOF || rename(tmp, c->conf) == -1)
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

/*
 * The fd counts of commisd and of its workers with the pool idle at the
 * configured size, read until two stats polls agree (a worker that just
 * went away may still be closing).
 */
static void
chaos_baseline(struct chaos *c)
{
	struct chaos_pool	pl;
	int			sup = -1, w = -1, prev_sup, prev_w, i, n;

	chaos_wait_shape(c, &pl);
	do {
		prev_sup = sup;
		prev_w = w;
		chaos_sleep_ms(5);
		chaos_wait_shape(c, &pl);
		sup = chaos_fd_count(c->pid);
		w = chaos_fd_count(pl.pid[0]);
		for (i = 1; i < pl.n; i++)
			if ((n = chaos_fd_count(pl.pid[i])) != w)
				chaos_fatal(c, "workers with %d and %d fds at "
				    "size %u", w, n, c->size);
	} while (sup != prev_sup || w != prev_w);
	if (sup <= 0 || w <= 0)
		chaos_fatal(c, "cannot read fd baselines (%d, %d)", sup, w);
	c->fd_base_sup[c->size] = sup;
	c->fd_base_worker[c->size] = w;
}

/*
 * Starts commisd, connects twice, waits for the pool to be idle and
 * reads the fd baselines. With --reload the pool is first scaled through
 * every size the run will use, so that the end can be checked against
 * the baseline of whichever size it ends at.
 */
static void
chaos_start(struct chaos *c)
{
	const char	*base = getenv("TMPDIR");
	unsigned	 n;
	int		 lfd;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&c->dir, "%s/commis-chaos.XXXXXX", base) == -1 ||
	    mkdtemp(c->dir) == NULL)
		chaos_fatal(c, "mkdtemp in %s: %s", base, strerror(errno));
	snprintf(c->sock, sizeof c->sock, "%s/commis.sock", c->dir);
	snprintf(c->log, sizeof c->log, "%s/marks.log", c->dir);
	c->size = c->size_max = CHAOS_WORKERS;
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
	chaos_baseline(c);
	if (!c->reload)
		return;
	for (n = 1; n <= CHAOS_SIZE_MAX; n++) {
		if (n == CHAOS_WORKERS)
			continue;
		chaos_scale(c, n);
		chaos_baseline(c);
	}
	chaos_scale(c, CHAOS_WORKERS);
	chaos_baseline(c);
	c->size_max = CHAOS_WORKERS;
}

/* SIGTERM and reap (SIGKILL past the deadline); *status: exit status. */
void
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

static void
chaos_usage(void)
{
	fprintf(stderr, "usage: commis-chaos [--quick] [--reload] [--thread] "
	    "[--jobs N] [--disruptions D] [--seed S]\n");
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
		{ "reload", no_argument, NULL, 'r' },
		{ "thread", no_argument, NULL, 't' },
		{ "jobs", required_argument, NULL, 'n' },
		{ "disruptions", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int	ch, jobs = 0, dis = 0;

	c->njobs = CHAOS_JOBS;
	c->ndisrupt = CHAOS_DISRUPT;
	c->seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	while ((ch = getopt_long(argc, argv, "qrtn:d:s:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'q':
			c->njobs = jobs ? c->njobs : CHAOS_QUICK_JOBS;
			c->ndisrupt = dis ? c->ndisrupt : CHAOS_QUICK_DISRUPT;
			break;
		case 'r':
			c->reload = 1;
			break;
		case 't':
			c->thread = 1;
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

static const char *
chaos_mode(const struct chaos *c)
{
	if (c->thread)
		return c->reload ? "thread+reload" : "thread";
	return c->reload ? "process+reload" : "process";
}

int
main(int argc, char **argv)
{
	static struct chaos	 c;
	struct chaos_pool	 pl;
	uint64_t		 t0;

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
	printf("chaos: seed=%u jobs=%u disruptions=%u mode=%s\n", c.seed,
	    c.njobs, c.ndisrupt, chaos_mode(&c));
	chaos_schedule(&c);
	chaos_start(&c);
	t0 = chaos_now_ms();
	chaos_run(&c);
	printf("chaos: ran %llu ms; sigkill=%u sigstop=%u segv=%u abort=%u "
	    "hang=%u reload=%u scale=%u; fault attempts=%u\n",
	    (unsigned long long)(chaos_now_ms() - t0), c.by_kind[K_KILL],
	    c.by_kind[K_STOP], c.by_kind[K_SEGV], c.by_kind[K_ABORT],
	    c.by_kind[K_HANG], c.by_kind[K_RELOAD], c.by_kind[K_SCALE],
	    c.fault_attempts);
	chaos_check_settled(&c, &pl);
	chaos_check_tokens(&c, &pl);
	chaos_check(&c, c.fired >= c.ndisrupt, "%u of %u disruptions",
	    c.fired, c.ndisrupt);
	chaos_check_gone(&c);
	chaos_cleanup(&c);
	printf("chaos: jobs=%u disruptions=%u lost=%u duplicates=%llu "
	    "max_recovery_ms=%llu mode=%s\n", c.njobs, c.fired, c.lost,
	    c.duplicates, (unsigned long long)c.max_recovery_ms,
	    chaos_mode(&c));
	printf("%u passed, %u failed\n", c.passed, c.failed);
	free(c.status);
	free(c.nresults);
	free(c.attempts);
	free(c.logged);
	free(c.pids);
	free(c.thresholds);
	return c.failed == 0 ? 0 : 1;
}
