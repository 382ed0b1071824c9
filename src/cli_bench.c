/*
 * commis bench: the command. It parses the options, starts its own
 * commisd in a mkdtemp directory with two pools of the same size, proc
 * (isolation: process) and thr (isolation: thread), on a socket bound
 * here before the fork and handed over as systemd's LISTEN_FDS, waits
 * until both pools are ready (cli_bench_stats.c), lets cli_bench_run.c
 * run the workloads and cli_bench_out.c report them. Whatever happens,
 * commisd is stopped and the directory removed before the command
 * returns; a signal ends the run the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_bench.h"
#include "exitcode.h"

#define BENCH_STOP_MS		20000	/* after SIGTERM */
#define BENCH_NAP_NS		200000	/* between two stats polls */
#define BENCH_ITER_MAX		1000
#define BENCH_LOG_TAIL		1024	/* log quoted on failure */

/* The signal bridge: set by SIGINT, SIGTERM or SIGHUP during a run. */
static volatile sig_atomic_t bench_signalled;

static const char *const bench_pool_names[BENCH_NPOOLS] = { "proc", "thr" };

int
bench_err(struct bench *b, const char *fmt, ...)
{
	va_list	ap;

	/* The first error is the cause; later ones are its consequences. */
	if (b->err[0] != '\0')
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->err, sizeof b->err, fmt, ap);
	va_end(ap);
	return -1;
}

uint64_t
bench_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
bench_nap(void)
{
	struct timespec	ts = { 0, BENCH_NAP_NS };

	nanosleep(&ts, NULL);
}

int
bench_interrupted(struct bench *b)
{
	if (!bench_signalled)
		return 0;
	return bench_err(b, "interrupted") == -1;
}

const char *
bench_pool_name(enum bench_pool p)
{
	return bench_pool_names[p];
}

/* A sample count: the full or the --quick one, times --iterations. */
unsigned
bench_count(const struct bench *b, unsigned full, unsigned quick)
{
	return (b->quick ? quick : full) * b->iterations;
}

static void
bench_on_signal(int sig)
{
	bench_signalled = 1;
}

/* --- the daemon --- */

static void
bench_machine(struct bench *b)
{
	struct utsname	 u;
	FILE		*f;
	char		 line[512], *p;
	size_t		 n;

	b->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(b->kernel, sizeof b->kernel, "%s", uname(&u) == 0 ?
	    u.release : "unknown");
	snprintf(b->model, sizeof b->model, "unknown");
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

/* A YAML double-quoted scalar. */
static void
bench_yaml_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void
bench_conf_pool(FILE *f, const struct bench *b, enum bench_pool pool)
{
	unsigned	i;

	/*
	 * max_attempts 1: a fault job is charged once and ends, so one
	 * crash is one event. The restart budget and the fork rate are
	 * raised so that the kills of the start-up figure neither fail the
	 * pool nor wait for a token: they measure a start, not the limits.
	 */
	fprintf(f, "  - name: %s\n    isolation: %s\n    mode: static\n"
	    "    workers: %u\n    max_attempts: 1\n    kill_grace_ms: 100\n"
	    "    spawn_rate: 10000\n    restart_intensity: 100000\n",
	    bench_pool_name(pool), pool == BENCH_PROC ? "process" : "thread",
	    b->workers);
	if (b->nmodules == 0)
		return;
	fprintf(f, "    modules:\n");
	for (i = 0; i < b->nmodules; i++) {
		fprintf(f, "      - ");
		bench_yaml_str(f, b->modules[i]);
		fputc('\n', f);
	}
}

static int
bench_write_conf(struct bench *b)
{
	FILE	*f;

	snprintf(b->conf, sizeof b->conf, "%s/commis.yaml", b->dir);
	if ((f = fopen(b->conf, "we")) == NULL)
		return bench_err(b, "%s: %s", b->conf, strerror(errno));
	/* Crashes are on purpose here: log errors only. */
	fprintf(f, "socket: ");
	bench_yaml_str(f, b->sock);
	fprintf(f, "\nlog_level: error\nmax_payload: 64M\npools:\n");
	bench_conf_pool(f, b, BENCH_PROC);
	if (!b->no_thread)
		bench_conf_pool(f, b, BENCH_THR);
	if (fclose(f) == EOF)
		return bench_err(b, "%s: %s", b->conf, strerror(errno));
	return 0;
}

static int
bench_listen(struct bench *b)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(b->sock) >= sizeof sun.sun_path)
		return bench_err(b, "socket path too long: %s", b->sock);
	strcpy(sun.sun_path, b->sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return bench_err(b, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    listen(fd, 512) == -1) {
		bench_err(b, "%s: %s", b->sock, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* --commisd, else the commisd beside this commis, else $PATH. */
static const char *
bench_commisd_path(const struct bench *b, char *buf, size_t size)
{
	char	 self[PATH_MAX], *slash;
	ssize_t	 n;

	if (b->commisd != NULL)
		return b->commisd;
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			n = snprintf(buf, size, "%s/commisd", self);
			if (n < (ssize_t)size && access(buf, X_OK) == 0)
				return buf;
		}
	}
	return "commisd";
}

/*
 * In the child: the listener becomes fd 3 as systemd would pass it, the
 * log goes to a file, and commisd gets its own process group (a Ctrl-C
 * reaches us, and we stop it in order) and dies with us.
 */
static void __attribute__((noreturn))
bench_exec(struct bench *b, int lfd, const char *path)
{
	char	pid[32];
	int	fd;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if ((fd = open(b->log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
		_exit(127);
	if (lfd == 3 ? fcntl(3, F_SETFD, 0) == -1 : dup2(lfd, 3) == -1)
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	execlp(path, "commisd", "-c", b->conf, (char *)NULL);
	fprintf(stderr, "commis bench: %s: %s\n", path, strerror(errno));
	_exit(127);
}

/* The end of commisd's log, to say why it did not start. */
static void
bench_log_tail(const struct bench *b, char *buf, size_t size)
{
	FILE	*f;
	long	 len;
	size_t	 n = 0;

	buf[0] = '\0';
	if ((f = fopen(b->log, "re")) == NULL)
		return;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0)
		fseek(f, len > (long)size - 1 ? len - (long)size + 1 : 0,
		    SEEK_SET);
	else
		rewind(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	fclose(f);
}

/* Whether commisd has exited; if so, why, replacing any earlier error. */
static int
bench_exited(struct bench *b)
{
	char	tail[BENCH_LOG_TAIL];
	int	st;

	if (b->pid <= 0 || waitpid(b->pid, &st, WNOHANG) != b->pid)
		return 0;
	b->pid = 0;
	bench_log_tail(b, tail, sizeof tail);
	b->err[0] = '\0';
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && tail[0] == '\0')
		snprintf(tail, sizeof tail, "cannot run it");
	bench_err(b, "commisd exited with %s %d%s%s",
	    WIFEXITED(st) ? "status" : "signal",
	    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
	    tail[0] != '\0' ? ":\n" : "", tail);
	return 1;
}

/* After a failure: if commisd is exiting, its log says why. */
static void
bench_exit_wait(struct bench *b)
{
	uint64_t	deadline = bench_now_ns() + 1000000000ull;

	while (!bench_exited(b) && bench_now_ns() < deadline)
		bench_nap();
}

static int
bench_mkdir(struct bench *b)
{
	const char	*base = getenv("TMPDIR");

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
	snprintf(b->log, sizeof b->log, "%s/commisd.log", b->dir);
	return 0;
}

/*
 * Starts commisd on a socket bound here, so that our connections are
 * accepted as soon as it runs, then polls (with a deadline, no sleeps of
 * a guessed length) until both pools have all their job slots.
 */
static int
bench_start(struct bench *b)
{
	char		 buf[PATH_MAX];
	const char	*path = bench_commisd_path(b, buf, sizeof buf);
	int		 lfd, i, n = b->no_thread ? 1 : BENCH_NPOOLS;

	if (bench_mkdir(b) == -1 || bench_write_conf(b) == -1 ||
	    (lfd = bench_listen(b)) == -1)
		return -1;
	if ((b->pid = fork()) == -1) {
		b->pid = 0;
		close(lfd);
		return bench_err(b, "fork: %s", strerror(errno));
	}
	if (b->pid == 0)
		bench_exec(b, lfd, path);
	close(lfd);
	if (commis_connect(b->sock, &b->cl) != COMMIS_OK ||
	    commis_connect(b->sock, &b->bg) != COMMIS_OK)
		return bench_err(b, "connect %s: %s", b->sock,
		    strerror(errno));
	for (i = 0; i < n; i++) {
		if (bench_wait_ready(b, (enum bench_pool)i, NULL, NULL) == -1) {
			bench_exit_wait(b);
			return -1;
		}
	}
	return 0;
}

static int
bench_rm_one(const char *path, const struct stat *sb, int flag,
    struct FTW *f)
{
	return remove(path);
}

/* SIGTERM, reap (SIGKILL past the deadline), remove the directory. */
static int
bench_stop(struct bench *b)
{
	uint64_t	deadline = bench_now_ns() + BENCH_STOP_MS * 1000000ull;
	int		st = 0, rc = 0;

	commis_close(b->cl);
	commis_close(b->bg);
	b->cl = b->bg = NULL;
	if (b->pid > 0 && !bench_exited(b)) {
		kill(b->pid, SIGTERM);
		while (waitpid(b->pid, &st, WNOHANG) != b->pid) {
			if (bench_now_ns() >= deadline) {
				kill(b->pid, SIGKILL);
				waitpid(b->pid, &st, 0);
				rc = bench_err(b, "commisd did not exit within "
				    "%d ms of SIGTERM", BENCH_STOP_MS);
				break;
			}
			bench_nap();
		}
		if (rc == 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
			rc = bench_err(b, "commisd ended with %s %d",
			    WIFEXITED(st) ? "status" : "signal",
			    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		b->pid = 0;
	} else if (b->err[0] != '\0')
		rc = -1;
	if (b->dir != NULL) {
		nftw(b->dir, bench_rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(b->dir);
		b->dir = NULL;
	}
	return rc;
}

/* --- the command --- */

/* Strict decimal within [min, max]. */
static int
bench_number(const char *name, const char *s, unsigned min, unsigned max,
    unsigned *out)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	if (s[0] >= '0' && s[0] <= '9') {
		v = strtoul(s, &end, 10);
		if (errno == 0 && *end == '\0' && v >= min && v <= max) {
			*out = (unsigned)v;
			return 0;
		}
	}
	fprintf(stderr, "commis: %s: expected an integer from %u to %u: %s\n",
	    name, min, max, s);
	return -1;
}

static int
bench_usage(const char *fmt, const char *arg)
{
	fputs("commis: ", stderr);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: commis bench %s\n", CLI_BENCH_ARGS);
	return -1;
}

static int
bench_add_module(struct bench *b, const char *path)
{
	if (b->nmodules == BENCH_MODMAX)
		return bench_usage("at most 8 --module, got %s", path);
	if ((b->modules[b->nmodules] = realpath(path, NULL)) == NULL) {
		fprintf(stderr, "commis: --module %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	b->nmodules++;
	return 0;
}

/* The command line as given, for the JSON. */
static int
bench_cmdline(struct bench *b, int argc, char **argv)
{
	size_t	len = sizeof "commis bench", i;
	int	k;
	char	*p;

	for (k = 0; k < argc; k++)
		len += strlen(argv[k]) * 4 + 3;
	if ((b->cmdline = p = malloc(len)) == NULL)
		return -1;
	p += sprintf(p, "commis bench");
	for (k = 0; k < argc; k++) {
		if (argv[k][strcspn(argv[k], " \t'\"\\$`*?;&|<>()")] == '\0') {
			p += sprintf(p, " %s", argv[k]);
			continue;
		}
		p += sprintf(p, " '");
		for (i = 0; argv[k][i] != '\0'; i++)
			p += argv[k][i] == '\'' ? sprintf(p, "'\\''") :
			    sprintf(p, "%c", argv[k][i]);
		*p++ = '\'';
		*p = '\0';
	}
	return 0;
}

static int
bench_options(struct bench *b, int argc, char **argv)
{
	const char	*workers = NULL, *iters = NULL, *module = NULL, *val;
	const struct {
		const char	 *name;
		const char	**val;
		int		 *flag;
	} opts[] = {
		{ "--workers", &workers, NULL },
		{ "--iterations", &iters, NULL },
		{ "--quick", NULL, &b->quick },
		{ "--no-thread", NULL, &b->no_thread },
		{ "--cpu-handler", &b->cpu_handler, NULL },
		{ "--cpu-data", &b->cpu_data, NULL },
		{ "--module", &module, NULL },
		{ "--json", &b->json, NULL },
		{ "--svg", &b->svg, NULL },
		{ "--commisd", &b->commisd, NULL },
	};
	size_t		 o, n;
	int		 i;

	for (i = 0; i < argc; i++) {
		for (o = 0; o < sizeof opts / sizeof opts[0]; o++) {
			n = strlen(opts[o].name);
			if (strncmp(argv[i], opts[o].name, n) == 0 &&
			    (argv[i][n] == '\0' || (argv[i][n] == '=' &&
			    opts[o].val != NULL)))
				break;
		}
		if (o == sizeof opts / sizeof opts[0])
			return bench_usage(argv[i][0] == '-' ?
			    "unknown option: %s" : "unexpected argument: %s",
			    argv[i]);
		if (opts[o].flag != NULL) {
			*opts[o].flag = 1;
			continue;
		}
		if ((val = strchr(argv[i], '=')) != NULL)
			val++;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return bench_usage("%s needs a value", opts[o].name);
		*opts[o].val = val;
		if (opts[o].val == &module && bench_add_module(b, val) == -1)
			return -1;
	}
	if (workers != NULL && bench_number("--workers", workers, 1,
	    BENCH_WMAX, &b->workers) == -1)
		return -1;
	if (iters != NULL && bench_number("--iterations", iters, 1,
	    BENCH_ITER_MAX, &b->iterations) == -1)
		return -1;
	if (b->cpu_handler != NULL && b->cpu_handler[0] == '\0')
		return bench_usage("--cpu-handler needs a name%s", "");
	return 0;
}

void
bench_progress(const struct bench *b, const char *what)
{
	if (isatty(2))
		fprintf(stderr, "commis bench: %s\n", what);
}

static int
bench_main(struct bench *b)
{
	int	rc, i, f;

	bench_machine(b);
	if (b->workers == 0)
		b->workers = b->cpus > 0 && b->cpus <= BENCH_WMAX ?
		    (unsigned)b->cpus : b->cpus > BENCH_WMAX ? BENCH_WMAX : 1;
	if (b->iterations == 0)
		b->iterations = 1;
	if (b->cpu_handler == NULL)
		b->cpu_handler = "spin";
	if (b->cpu_data == NULL)
		b->cpu_data = strcmp(b->cpu_handler, "spin") == 0 ? "1" : "";
	for (i = 0; i < BENCH_NPOOLS; i++) {
		for (f = 0; f < BENCH_NFIGS; f++)
			b->fig[i][f] = NAN;
	}
	bench_progress(b, "starting commisd");
	rc = bench_start(b);
	if (rc == 0)
		rc = bench_workloads(b);
	/* Stop commisd even after a failure; the first error is the one. */
	if (bench_stop(b) == -1)
		rc = -1;
	if (rc == 0) {
		bench_print(b);
		if (b->json != NULL)
			rc = bench_write_json(b);
		if (rc == 0 && b->svg != NULL)
			rc = bench_write_svg(b);
	}
	return rc;
}

int
cli_bench(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	struct sigaction	 sa, old[4];
	const int		 sigs[4] = { SIGINT, SIGTERM, SIGHUP,
				    SIGPIPE };
	struct bench		*b;
	unsigned		 i;
	int			 rc;

	if ((b = calloc(1, sizeof *b)) == NULL) {
		fprintf(stderr, "commis: out of memory\n");
		return EXIT_CLI_PROTO;
	}
	if (bench_options(b, argc, argv) == -1 ||
	    bench_cmdline(b, argc, argv) == -1) {
		rc = EXIT_CLI_USAGE;
		goto out;
	}
	/* No SA_RESTART: a signal ends a wait, and the run then stops. */
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	bench_signalled = 0;
	for (i = 0; i < 4; i++) {
		sa.sa_handler = sigs[i] == SIGPIPE ? SIG_IGN : bench_on_signal;
		sigaction(sigs[i], &sa, &old[i]);
	}
	rc = bench_main(b) == 0 ? EXIT_CLI_OK : EXIT_CLI_FAILED;
	for (i = 0; i < 4; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (rc != EXIT_CLI_OK)
		fprintf(stderr, "commis bench: %s\n", b->err);
out:
	for (i = 0; i < b->nmodules; i++)
		free(b->modules[i]);
	free(b->cmdline);
	free(b);
	return rc;
}
