/*
 * commis-bench: one run of the benchmark harness (`make bench`).
 *
 * Measures the floors first (a socketpair ping-pong and a batched
 * socketpair echo between two processes, memcpy bandwidth), then starts
 * its own commisd (benchd.c), waits until every worker of its pools is
 * idle, and drives it through libcommis: echo latency, throughput from
 * one client (uncorked and corked) and from four, the memory of an idle
 * worker and of the supervisor, the cost of latency statistics, large
 * inline payloads, bulk data inline against segments, crash to
 * replacement ready, the supervisor's bytes per queued job, CPU
 * efficiency of short spin jobs, and ping latency while the pool is
 * saturated. Prints a table and optionally writes the same figures as
 * JSON. Any failure ends the run with a message and a non-zero exit;
 * commisd is always stopped and the directory removed.
 *
 * This file holds the run's bookkeeping (rows, percentiles, errors), the
 * order of the figures, and the output; the figures live in bench_*.c.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* Records why the run fails, unless it already does; returns -1. */
int
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

uint64_t
bench_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A sample count, cut to a tenth by -q. */
unsigned
bench_count(const struct bench *b, unsigned n)
{
	if (!b->quick)
		return n;
	return n / 10 > 0 ? n / 10 : 1;
}

void
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

int
bench_cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values. */
uint64_t
bench_pct(const uint64_t *v, size_t n, double q)
{
	size_t	rank = (size_t)(q * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

double
bench_pct_us(const uint64_t *v, size_t n, double q)
{
	return (double)bench_pct(v, n, q) / 1e3;
}

int
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

/*
 * A job must have come back succeeded with len bytes of output; rc is
 * what the call on cl returned.
 */
int
bench_job_ok(struct bench *b, commis_client *cl, const char *what, int rc,
    struct commis_result *r, size_t len)
{
	if (rc != COMMIS_OK && rc != COMMIS_ERR_REJECTED)
		return bench_err(b, "%s: %s", what, commis_client_error(cl));
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

/* Collects one result on cl and checks it; len as in bench_job_ok. */
int
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
	rc = bench_job_ok(b, cl, what, rc, &r, len);
	commis_result_free(&r);
	return rc;
}

/*
 * Everything that needs commisd, in order. Crash recovery and the memory
 * of queued jobs come first (see there); the memory of idle workers is
 * read after the throughput runs have warmed them and before any large
 * payload has grown them.
 */
static int
bench_daemon(struct bench *b)
{
	if (benchd_start(b) == -1 || benchd_wait_idle(b) == -1)
		return -1;
	/* First, while commisd is small: a fork copies its page tables,
	 * and RSS growth is only seen on a heap not grown before. */
	if (bench_crash(b) == -1 || bench_hold(b) == -1)
		return -1;
	if (bench_echo(b) == -1 ||
	    bench_throughput(b, 64, "64 in flight", "tput_64_jobs_s") == -1 ||
	    bench_tput_corked(b, 1024, "1024 corked",
	    "tput_c1024_jobs_s") == -1 ||
	    bench_tput_corked(b, 16384, "16384 corked",
	    "tput_c16384_jobs_s") == -1 ||
	    bench_tput_clients(b) == -1 ||
	    bench_pss(b) == -1 ||
	    bench_stats_cost(b) == -1)
		return -1;
	if (bench_large(b, 1u << 20, "echo round trip, 1 MiB",
	    "echo_1m_p50_ms") == -1 ||
	    bench_large(b, 4u << 20, "echo round trip, 4 MiB",
	    "echo_4m_p50_ms") == -1)
		return -1;
	if (bench_bulk(b) == -1 || bench_durable(b) == -1)
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
	    "  -w workers  workers in the bench and nostats pools (default:\n"
	    "              online CPUs)\n"
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
		rc = bench_floor_pipe(&b, 0);
	if (rc == 0)
		rc = bench_floor_pipe(&b, 1);
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
