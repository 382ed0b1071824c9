/*
 * The config suite: every key's defaults, ranges and syntaxes, every kind
 * of error with its exact "file:line:column: message", the limits the
 * loader enforces, conf/commis.yaml, and docs/configuration.md against
 * config_doc().
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_keys.h"
#include "testlib.h"

static struct config *
load(const char *yaml, char **errs)
{
	return config_load_string("t.yaml", yaml, strlen(yaml), errs);
}

/* Loads yaml, which must fail with exactly the report want. */
static void
expect_errors(const char *yaml, const char *want)
{
	struct config	*cfg;
	char		*errs = NULL;

	cfg = load(yaml, &errs);
	ck_assert_ptr_null(cfg);
	ck_assert_ptr_nonnull(errs);
	ck_assert_str_eq(errs, want);
	free(errs);
}

static struct config *
expect_ok(const char *yaml)
{
	struct config	*cfg;
	char		*errs = NULL;

	cfg = load(yaml, &errs);
	if (cfg == NULL)
		ck_abort_msg("load failed: %s", errs ? errs : "(no report)");
	ck_assert_ptr_null(errs);
	return cfg;
}

/* What workers and max_workers default to. */
static unsigned
online_cpus(void)
{
	long	ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	return ncpu < 1 ? 1 : ncpu > 1024 ? 1024 : (unsigned)ncpu;
}

static size_t
count_lines(const char *s)
{
	size_t	n = 1;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* Opens a file of the repository: the cwd under make, else $COMMIS_BUILD/.. */
static FILE *
repo_open(const char *name)
{
	const char	*build = getenv("COMMIS_BUILD");
	char		 path[PATH_MAX];
	FILE		*f;

	if ((f = fopen(name, "re")) != NULL || build == NULL)
		return f;
	snprintf(path, sizeof path, "%s/../%s", build, name);
	return fopen(path, "re");
}

static char *
slurp(FILE *f, size_t *len)
{
	char	*buf = NULL;
	size_t	 cap = 0, n = 0, r;

	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
		if ((r = fread(buf + n, 1, cap - n, f)) == 0)
			break;
		n += r;
	}
	ck_assert(!ferror(f));
	buf[n] = '\0';
	*len = n;
	return buf;
}

static char *
doc_text(size_t *len)
{
	char	*buf = NULL;
	FILE	*f;

	f = open_memstream(&buf, len);
	ck_assert_ptr_nonnull(f);
	config_doc(f);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

START_TEST(test_defaults)
{
	struct config			*cfg = expect_ok("{}");
	const struct pool_config	*pc;

	ck_assert_str_eq(cfg->path, "t.yaml");
	ck_assert_str_eq(cfg->socket, "/run/commis/commis.sock");
	ck_assert_uint_eq(cfg->socket_mode, 0660);
	ck_assert_int_eq(cfg->log_level, LOG_LVL_INFO);
	ck_assert_uint_eq(cfg->max_payload, COMMIS_PAYLOAD_DEFAULT);
	ck_assert_uint_eq(cfg->result_ttl_ms, 300000);
	ck_assert_uint_eq(cfg->result_max_bytes, 64 << 20);
	ck_assert_uint_eq(cfg->dead_max, 1000);
	ck_assert_uint_eq(cfg->shutdown_timeout_ms, 30000);
	ck_assert_uint_eq(cfg->npools, 1);
	pc = config_pool(cfg, NULL);
	ck_assert_ptr_eq(pc, &cfg->pools[0]);
	ck_assert_str_eq(pc->name, "default");
	ck_assert_int_eq(pc->mode, POOL_MODE_STATIC);
	ck_assert_uint_eq(pc->workers, online_cpus());
	ck_assert_uint_eq(pc->min_workers, 0);
	ck_assert_uint_eq(pc->max_workers, online_cpus());
	ck_assert_uint_eq(pc->min_spare, 1);
	ck_assert_uint_eq(pc->max_spare, 2);
	ck_assert_uint_eq(pc->idle_timeout_ms, 10000);
	ck_assert_uint_eq(pc->spawn_rate, 32);
	ck_assert_int_eq(pc->isolation, ISOLATION_PROCESS);
	ck_assert_uint_eq(pc->timeout_ms, 0);
	ck_assert_uint_eq(pc->kill_grace_ms, 2000);
	ck_assert_uint_eq(pc->max_attempts, 3);
	ck_assert_uint_eq(pc->queue_max, 100000);
	ck_assert_uint_eq(pc->queue_timeout_ms, 0);
	ck_assert_uint_eq(pc->max_jobs, 0);
	ck_assert_uint_eq(pc->max_jobs_jitter, 0);
	ck_assert_uint_eq(pc->max_rss, 0);
	ck_assert_uint_eq(pc->max_lifetime_ms, 0);
	ck_assert_uint_eq(pc->prefetch, 0);
	ck_assert_int_eq(pc->nice, 5);
	ck_assert_int_eq(pc->sched_batch, 1);
	ck_assert_uint_eq(pc->restart_delay_ms, 100);
	ck_assert_uint_eq(pc->restart_delay_max_ms, 5000);
	ck_assert_uint_eq(pc->restart_intensity, 10);
	ck_assert_uint_eq(pc->restart_period_ms, 60000);
	ck_assert_uint_eq(pc->nmodules, 0);
	config_free(cfg);
}
END_TEST

START_TEST(test_every_key)
{
	struct config			*cfg;
	const struct pool_config	*a, *b;

	cfg = expect_ok(
	    "socket: run/x.sock\n"
	    "socket_mode: 0600\n"
	    "log_level: debug\n"
	    "max_payload: 512K\n"
	    "result_ttl_ms: 0\n"
	    "result_max_bytes: 1G\n"
	    "dead_max: 1000000\n"
	    "shutdown_timeout_ms: 3600000\n"
	    "pools:\n"
	    "  - name: a\n"
	    "    mode: dynamic\n"
	    "    workers: 7\n"
	    "    min_workers: 2\n"
	    "    max_workers: 9\n"
	    "    min_spare: 0\n"
	    "    max_spare: 1024\n"
	    "    idle_timeout_ms: 100\n"
	    "    spawn_rate: 10000\n"
	    "    isolation: process\n"
	    "    timeout_ms: 86400000\n"
	    "    kill_grace_ms: 10\n"
	    "    max_attempts: 100\n"
	    "    queue_max: 10000000\n"
	    "    queue_timeout_ms: 86400000\n"
	    "    max_jobs: 100000000\n"
	    "    max_jobs_jitter: 100000000\n"
	    "    max_rss: 64G\n"
	    "    max_lifetime_ms: 604800000\n"
	    "    prefetch: 64\n"
	    "    nice: 19\n"
	    "    sched_batch: off\n"
	    "    restart_delay_ms: 0\n"
	    "    restart_delay_max_ms: 0\n"
	    "    restart_intensity: 100000\n"
	    "    restart_period_ms: 100\n"
	    "    modules: [/lib/a.so, \"b c.so\"]\n"
	    "  - name: B-2.x_y\n"
	    "    mode: ondemand\n"
	    "    workers: \"1024\"\n"
	    "    max_workers: 1\n"
	    "    idle_timeout_ms: 86400000\n"
	    "    spawn_rate: 1\n"
	    "    restart_intensity: 1\n"
	    "    restart_period_ms: 86400000\n");
	ck_assert_str_eq(cfg->socket, "run/x.sock");
	ck_assert_uint_eq(cfg->socket_mode, 0600);
	ck_assert_int_eq(cfg->log_level, LOG_LVL_DEBUG);
	ck_assert_uint_eq(cfg->max_payload, 512 * 1024);
	ck_assert_uint_eq(cfg->result_ttl_ms, 0);
	ck_assert_uint_eq(cfg->result_max_bytes, 1U << 30);
	ck_assert_uint_eq(cfg->dead_max, 1000000);
	ck_assert_uint_eq(cfg->shutdown_timeout_ms, 3600000);
	ck_assert_uint_eq(cfg->npools, 2);
	a = config_pool(cfg, "a");
	b = config_pool(cfg, "B-2.x_y");
	ck_assert_ptr_eq(a, &cfg->pools[0]);
	ck_assert_ptr_eq(b, &cfg->pools[1]);
	ck_assert_ptr_eq(config_pool(cfg, NULL), a);
	ck_assert_ptr_null(config_pool(cfg, "c"));
	ck_assert_int_eq(a->mode, POOL_MODE_DYNAMIC);
	ck_assert_uint_eq(a->workers, 7);
	ck_assert_uint_eq(a->min_workers, 2);
	ck_assert_uint_eq(a->max_workers, 9);
	ck_assert_uint_eq(a->min_spare, 0);
	ck_assert_uint_eq(a->max_spare, 1024);
	ck_assert_uint_eq(a->idle_timeout_ms, 100);
	ck_assert_uint_eq(a->spawn_rate, 10000);
	ck_assert_uint_eq(a->timeout_ms, 86400000);
	ck_assert_uint_eq(a->kill_grace_ms, 10);
	ck_assert_uint_eq(a->max_attempts, 100);
	ck_assert_uint_eq(a->queue_max, 10000000);
	ck_assert_uint_eq(a->queue_timeout_ms, 86400000);
	ck_assert_uint_eq(a->max_jobs, 100000000);
	ck_assert_uint_eq(a->max_jobs_jitter, 100000000);
	ck_assert(a->max_rss == (uint64_t)64 << 30);
	ck_assert_uint_eq(a->max_lifetime_ms, 604800000);
	ck_assert_uint_eq(a->prefetch, 64);
	ck_assert_int_eq(a->nice, 19);
	ck_assert_int_eq(a->sched_batch, 0);
	ck_assert_uint_eq(a->restart_delay_ms, 0);
	ck_assert_uint_eq(a->restart_delay_max_ms, 0);
	ck_assert_uint_eq(a->restart_intensity, 100000);
	ck_assert_uint_eq(a->restart_period_ms, 100);
	ck_assert_uint_eq(a->nmodules, 2);
	ck_assert_str_eq(a->modules[0], "/lib/a.so");
	ck_assert_str_eq(a->modules[1], "b c.so");
	/* ondemand ignores workers: 1024 over max_workers is no error. */
	ck_assert_int_eq(b->mode, POOL_MODE_ONDEMAND);
	ck_assert_uint_eq(b->workers, 1024);
	ck_assert_uint_eq(b->max_workers, 1);
	ck_assert_uint_eq(b->idle_timeout_ms, 86400000);
	ck_assert_uint_eq(b->spawn_rate, 1);
	ck_assert_uint_eq(b->restart_intensity, 1);
	ck_assert_uint_eq(b->restart_period_ms, 86400000);
	/* Pool keys not given take their defaults in every pool. */
	ck_assert_uint_eq(b->max_attempts, 3);
	ck_assert_uint_eq(b->min_spare, 1);
	ck_assert_uint_eq(b->max_rss, 0);
	ck_assert_uint_eq(b->prefetch, 0);
	ck_assert_int_eq(b->sched_batch, 1);
	ck_assert_uint_eq(b->nmodules, 0);
	config_free(cfg);
}
END_TEST

/* Accepted spellings: yaml, then the value it must give. */
static const struct {
	const char	*yaml;
	long long	 want;
} good_values[] = {
	{ "max_payload: 1024", 1024 },
	{ "max_payload: 4M", 4 << 20 },
	{ "max_payload: 4m", 4 << 20 },
	{ "max_payload: 2k", 2048 },
	{ "max_payload: 256M", 256 << 20 },
	{ "max_payload: \"1M\"", 1 << 20 },
	{ "socket_mode: 0660", 0660 },
	{ "socket_mode: 660", 0660 },
	{ "socket_mode: 0o640", 0640 },
	{ "socket_mode: \"0600\"", 0600 },
	{ "socket_mode: 0", 0 },
	{ "socket_mode: 0777", 0777 },
	{ "log_level: error", LOG_LVL_ERROR },
	{ "log_level: warning", LOG_LVL_WARN },
	{ "log_level: info", LOG_LVL_INFO },
	{ "log_level: debug", LOG_LVL_DEBUG },
	{ "result_ttl_ms: 86400000", 86400000 },
	{ "result_max_bytes: 0", 0 },
	{ "result_max_bytes: 1G", 1 << 30 },
	{ "result_max_bytes: 1024M", 1 << 30 },
	{ "result_max_bytes: 1073741824", 1 << 30 },
	{ "result_max_bytes: 3k", 3072 },
	{ "dead_max: 0", 0 },
	{ "shutdown_timeout_ms: 0", 0 },
	{ "pools: [{name: p, mode: static}]", POOL_MODE_STATIC },
	{ "pools: [{name: p, mode: dynamic}]", POOL_MODE_DYNAMIC },
	{ "pools: [{name: p, mode: \"ondemand\"}]", POOL_MODE_ONDEMAND },
	{ "pools: [{name: p, max_rss: 0}]", 0 },
	{ "pools: [{name: p, max_rss: 64G}]", 64LL << 30 },
	{ "pools: [{name: p, max_rss: 64g}]", 64LL << 30 },
	{ "pools: [{name: p, max_rss: 68719476736}]", 64LL << 30 },
	{ "pools: [{name: p, max_rss: 4294967296}]", 1LL << 32 },
	{ "pools: [{name: p, max_rss: 4294967297}]", (1LL << 32) + 1 },
	{ "pools: [{name: p, max_rss: 1536M}]", 1536LL << 20 },
	{ "pools: [{name: p, max_rss: 512K}]", 512 << 10 },
};

/* The value good_values[i] sets, found by the key it starts with. */
static long long
good_value(const struct config *cfg, const char *yaml)
{
#define IS(k)	(strncmp(yaml, k ":", strlen(k ":")) == 0)
	const struct pool_config	*pc = &cfg->pools[0];

	if (IS("max_payload"))
		return cfg->max_payload;
	if (IS("socket_mode"))
		return cfg->socket_mode;
	if (IS("log_level"))
		return cfg->log_level;
	if (IS("result_ttl_ms"))
		return cfg->result_ttl_ms;
	if (IS("result_max_bytes"))
		return cfg->result_max_bytes;
	if (IS("dead_max"))
		return cfg->dead_max;
	if (IS("shutdown_timeout_ms"))
		return cfg->shutdown_timeout_ms;
	if (strstr(yaml, "mode:") != NULL)
		return pc->mode;
	if (strstr(yaml, "max_rss:") != NULL)
		return (long long)pc->max_rss;
	ck_abort_msg("no getter for %s", yaml);
	return -1;
#undef IS
}

START_TEST(test_good_values)
{
	struct config	*cfg = expect_ok(good_values[_i].yaml);
	long long	 got = good_value(cfg, good_values[_i].yaml);

	ck_assert_msg(got == good_values[_i].want, "%s: got %lld",
	    good_values[_i].yaml, got);
	config_free(cfg);
}
END_TEST

START_TEST(test_booleans)
{
	static const struct {
		const char	*word;
		int		 want;
	} words[] = {
		{ "true", 1 }, { "false", 0 }, { "yes", 1 }, { "no", 0 },
		{ "on", 1 }, { "off", 0 }, { "True", 1 }, { "OFF", 0 },
	};
	struct config	*cfg;
	char		 yaml[128];
	size_t		 i;

	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		snprintf(yaml, sizeof yaml, "pools: [{name: p, sched_batch: %s}]",
		    words[i].word);
		cfg = expect_ok(yaml);
		ck_assert_msg(cfg->pools[0].sched_batch == words[i].want,
		    "%s", words[i].word);
		config_free(cfg);
	}
}
END_TEST

/* Rejected values, each with the one exact line it must produce. */
static const struct {
	const char	*yaml;
	const char	*want;
} bad_values[] = {
	{ "pools: [{name: p, workers: 0}]",
	  "t.yaml:1:28: workers: 0 is out of range 1..1024" },
	{ "pools: [{name: p, workers: 1025}]",
	  "t.yaml:1:28: workers: 1025 is out of range 1..1024" },
	{ "pools: [{name: p, workers: -1}]",
	  "t.yaml:1:28: workers: -1 is out of range 1..1024" },
	{ "pools: [{name: p, workers: 12abc}]",
	  "t.yaml:1:28: workers: expected an integer, got \"12abc\"" },
	{ "pools: [{name: p, workers: 1.5}]",
	  "t.yaml:1:28: workers: expected an integer, got \"1.5\"" },
	{ "pools: [{name: p, workers: 99999999999999999999}]",
	  "t.yaml:1:28: workers: 99999999999999999999 is out of range "
	  "1..1024" },
	{ "pools: [{name: p, workers: 0x10}]",
	  "t.yaml:1:28: workers: expected an integer, got \"0x10\"" },
	{ "pools: [{name: p, workers: }]",
	  "t.yaml:1:28: workers: missing value" },
	{ "pools: [{name: p, nice: 20}]",
	  "t.yaml:1:25: nice: 20 is out of range 0..19" },
	{ "pools: [{name: p, timeout_ms: 86400001}]",
	  "t.yaml:1:31: timeout_ms: 86400001 is out of range 0..86400000" },
	{ "pools: [{name: p, kill_grace_ms: 9}]",
	  "t.yaml:1:34: kill_grace_ms: 9 is out of range 10..600000" },
	{ "pools: [{name: p, max_attempts: 0}]",
	  "t.yaml:1:33: max_attempts: 0 is out of range 1..100" },
	{ "pools: [{name: p, queue_max: 10000001}]",
	  "t.yaml:1:30: queue_max: 10000001 is out of range 1..10000000" },
	{ "pools: [{name: p, restart_delay_ms: 60001}]",
	  "t.yaml:1:37: restart_delay_ms: 60001 is out of range 0..60000" },
	{ "pools: [{name: p, restart_delay_max_ms: 600001}]",
	  "t.yaml:1:41: restart_delay_max_ms: 600001 is out of range "
	  "0..600000" },
	{ "pools: [{name: p, mode: fixed}]",
	  "t.yaml:1:25: mode: expected static, dynamic, ondemand, got "
	  "\"fixed\"" },
	{ "pools: [{name: p, mode: Static}]",
	  "t.yaml:1:25: mode: expected static, dynamic, ondemand, got "
	  "\"Static\"" },
	{ "pools: [{name: p, min_workers: 1025}]",
	  "t.yaml:1:32: min_workers: 1025 is out of range 0..1024" },
	{ "pools: [{name: p, min_workers: -1}]",
	  "t.yaml:1:32: min_workers: -1 is out of range 0..1024" },
	{ "pools: [{name: p, max_workers: 0}]",
	  "t.yaml:1:32: max_workers: 0 is out of range 1..1024" },
	{ "pools: [{name: p, max_workers: 1025}]",
	  "t.yaml:1:32: max_workers: 1025 is out of range 1..1024" },
	{ "pools: [{name: p, min_spare: 1025}]",
	  "t.yaml:1:30: min_spare: 1025 is out of range 0..1024" },
	{ "pools: [{name: p, max_spare: 1025}]",
	  "t.yaml:1:30: max_spare: 1025 is out of range 0..1024" },
	{ "pools: [{name: p, idle_timeout_ms: 99}]",
	  "t.yaml:1:36: idle_timeout_ms: 99 is out of range 100..86400000" },
	{ "pools: [{name: p, idle_timeout_ms: 86400001}]",
	  "t.yaml:1:36: idle_timeout_ms: 86400001 is out of range "
	  "100..86400000" },
	{ "pools: [{name: p, spawn_rate: 0}]",
	  "t.yaml:1:31: spawn_rate: 0 is out of range 1..10000" },
	{ "pools: [{name: p, spawn_rate: 10001}]",
	  "t.yaml:1:31: spawn_rate: 10001 is out of range 1..10000" },
	{ "pools: [{name: p, queue_timeout_ms: 86400001}]",
	  "t.yaml:1:37: queue_timeout_ms: 86400001 is out of range "
	  "0..86400000" },
	{ "pools: [{name: p, max_jobs: 100000001}]",
	  "t.yaml:1:29: max_jobs: 100000001 is out of range 0..100000000" },
	{ "pools: [{name: p, max_jobs_jitter: 100000001}]",
	  "t.yaml:1:36: max_jobs_jitter: 100000001 is out of range "
	  "0..100000000" },
	{ "pools: [{name: p, max_rss: 65G}]",
	  "t.yaml:1:28: max_rss: 65G is out of range 0..64G" },
	{ "pools: [{name: p, max_rss: 68719476737}]",
	  "t.yaml:1:28: max_rss: 68719476737 is out of range 0..64G" },
	{ "pools: [{name: p, max_rss: -1}]",
	  "t.yaml:1:28: max_rss: -1 is out of range 0..64G" },
	{ "pools: [{name: p, max_rss: 1T}]",
	  "t.yaml:1:28: max_rss: expected a size like 4M, got \"1T\"" },
	{ "pools: [{name: p, max_lifetime_ms: 604800001}]",
	  "t.yaml:1:36: max_lifetime_ms: 604800001 is out of range "
	  "0..604800000" },
	{ "pools: [{name: p, prefetch: 1025}]",
	  "t.yaml:1:29: prefetch: 1025 is out of range 0..1024" },
	{ "pools: [{name: p, restart_intensity: 0}]",
	  "t.yaml:1:38: restart_intensity: 0 is out of range 1..100000" },
	{ "pools: [{name: p, restart_intensity: 100001}]",
	  "t.yaml:1:38: restart_intensity: 100001 is out of range 1..100000" },
	{ "pools: [{name: p, restart_period_ms: 99}]",
	  "t.yaml:1:38: restart_period_ms: 99 is out of range 100..86400000" },
	{ "pools: [{name: p, restart_period_ms: 86400001}]",
	  "t.yaml:1:38: restart_period_ms: 86400001 is out of range "
	  "100..86400000" },
	{ "result_ttl_ms: 86400001",
	  "t.yaml:1:16: result_ttl_ms: 86400001 is out of range 0..86400000" },
	{ "result_ttl_ms: -1",
	  "t.yaml:1:16: result_ttl_ms: -1 is out of range 0..86400000" },
	{ "result_max_bytes: 1025M",
	  "t.yaml:1:19: result_max_bytes: 1025M is out of range 0..1G" },
	{ "result_max_bytes: 1073741825",
	  "t.yaml:1:19: result_max_bytes: 1073741825 is out of range 0..1G" },
	{ "result_max_bytes: 4G",
	  "t.yaml:1:19: result_max_bytes: 4G is out of range 0..1G" },
	{ "dead_max: 1000001",
	  "t.yaml:1:11: dead_max: 1000001 is out of range 0..1000000" },
	{ "shutdown_timeout_ms: 3600001",
	  "t.yaml:1:22: shutdown_timeout_ms: 3600001 is out of range "
	  "0..3600000" },
	{ "shutdown_timeout_ms: 30s",
	  "t.yaml:1:22: shutdown_timeout_ms: expected an integer, got "
	  "\"30s\"" },
	{ "pools: [{name: p, sched_batch: maybe}]",
	  "t.yaml:1:32: sched_batch: expected true/false, yes/no, on/off, "
	  "got \"maybe\"" },
	{ "pools: [{name: p, isolation: thread, mode: dynamic}]",
	  "t.yaml:1:44: mode: dynamic pools must be static with isolation: "
	  "thread (one host process of `workers` threads)" },
	{ "pools: [{name: p, isolation: fiber}]",
	  "t.yaml:1:30: isolation: expected process, thread, "
	  "got \"fiber\"" },
	{ "pools: [{name: \"a b\"}]",
	  "t.yaml:1:16: name: \"a b\" may only contain A-Z a-z 0-9 _ . -" },
	{ "pools: [{name: \"\"}]",
	  "t.yaml:1:16: name: must not be empty" },
	{ "pools: [{name: "
	  "a234567890123456789012345678901234567890123456789012345678901234}]",
	  "t.yaml:1:16: name: \"a23456789012345678901234567890123456789012"
	  "345678901234567890...\" is longer than 63 bytes" },
	{ "pools: [{name: p, modules: x.so}]",
	  "t.yaml:1:28: modules: expected a list of strings, got a scalar" },
	{ "pools: [{name: p, modules: [a.so, [b.so]]}]",
	  "t.yaml:1:35: modules: expected a string, got a list" },
	{ "pools: [{name: p, modules: [\"\"]}]",
	  "t.yaml:1:29: modules: expected a non-empty string without NUL "
	  "bytes" },
	{ "pools: [{name: p, restart_delay_ms: 500, restart_delay_max_ms: "
	  "400}]",
	  "t.yaml:1:64: restart_delay_max_ms: 400 is less than "
	  "restart_delay_ms 500" },
	{ "pools: [{name: p, restart_delay_ms: 6000}]",
	  "t.yaml:1:37: restart_delay_max_ms: 5000 is less than "
	  "restart_delay_ms 6000" },
	{ "pools: [{name: p, min_workers: 5, max_workers: 4}]",
	  "t.yaml:1:48: max_workers: 4 is less than min_workers 5" },
	{ "pools: [{name: p, max_workers: 4, min_workers: 5}]",
	  "t.yaml:1:32: max_workers: 4 is less than min_workers 5" },
	{ "pools: [{name: p, mode: static, min_workers: 5, max_workers: 4}]",
	  "t.yaml:1:62: max_workers: 4 is less than min_workers 5" },
	{ "pools: [{name: p, mode: ondemand, min_workers: 5, max_workers: 4}]",
	  "t.yaml:1:64: max_workers: 4 is less than min_workers 5" },
	{ "pools: [{name: p, min_spare: 3, max_spare: 2}]",
	  "t.yaml:1:44: max_spare: 2 is less than min_spare 3" },
	{ "pools: [{name: p, min_spare: 3}]",
	  "t.yaml:1:30: min_spare: 3 is more than max_spare 2" },
	{ "pools: [{name: p, max_spare: 0}]",
	  "t.yaml:1:30: max_spare: 0 is less than min_spare 1" },
	{ "pools: [{name: p, mode: dynamic, workers: 9, "
	  "min_workers: 2, max_workers: 8}]",
	  "t.yaml:1:43: workers: 9 is not within min_workers 2 and "
	  "max_workers 8" },
	{ "pools: [{name: p, max_workers: 8, workers: 1, "
	  "min_workers: 2, mode: dynamic}]",
	  "t.yaml:1:44: workers: 1 is not within min_workers 2 and "
	  "max_workers 8" },
	{ "pools: [{name: p, mode: dynamic, workers: 9, max_workers: x}]",
	  "t.yaml:1:59: max_workers: expected an integer, got \"x\"" },
	{ "pools: [{name: p, mode: dynamic, workers: 0, max_workers: 4}]",
	  "t.yaml:1:43: workers: 0 is out of range 1..1024" },
	{ "pools: [{name: p, mode: elastic, workers: 9, max_workers: 4}]",
	  "t.yaml:1:25: mode: expected static, dynamic, ondemand, got "
	  "\"elastic\"" },
	{ "pools: [{name: p, min_workers: 2000, max_workers: 4}]",
	  "t.yaml:1:32: min_workers: 2000 is out of range 0..1024" },
	{ "pools: [{name: p, min_spare: 5, max_spare: [1]}]",
	  "t.yaml:1:44: max_spare: expected a scalar, got a list" },
	{ "pools: [{workers: 2}]",
	  "t.yaml:1:9: missing required key \"name\"" },
	{ "pools: [{name: p, wokers: 2}]",
	  "t.yaml:1:19: unknown key \"wokers\" (did you mean \"workers\"?)" },
	{ "pools: [{name: p, zzz: 2}]",
	  "t.yaml:1:19: unknown key \"zzz\"" },
	{ "pools: []",
	  "t.yaml:1:8: pools: the list is empty; omit the key for one pool "
	  "named \"default\"" },
	{ "pools: {name: p}",
	  "t.yaml:1:8: pools: expected a list of pools, got a mapping" },
	{ "pools: [p]",
	  "t.yaml:1:9: pools: expected a mapping of pool keys, got a scalar" },
	{ "max_payload: 1023",
	  "t.yaml:1:14: max_payload: 1023 is out of range 1K..256M" },
	{ "max_payload: 1G",
	  "t.yaml:1:14: max_payload: 1G is out of range 1K..256M" },
	{ "max_payload: 4X",
	  "t.yaml:1:14: max_payload: expected a size like 4M, got \"4X\"" },
	{ "max_payload: 4MB",
	  "t.yaml:1:14: max_payload: expected a size like 4M, got \"4MB\"" },
	{ "max_payload: 99999999999999999G",
	  "t.yaml:1:14: max_payload: 99999999999999999G is out of range "
	  "1K..256M" },
	{ "socket_mode: 0999",
	  "t.yaml:1:14: socket_mode: expected an octal mode like 0660, "
	  "got \"0999\"" },
	{ "socket_mode: 01000",
	  "t.yaml:1:14: socket_mode: 01000 is out of range 0..0777" },
	{ "socket_mode: rw",
	  "t.yaml:1:14: socket_mode: expected an octal mode like 0660, "
	  "got \"rw\"" },
	{ "log_level: loud",
	  "t.yaml:1:12: log_level: expected error, warning, info, debug, "
	  "got \"loud\"" },
	{ "log_level: [info]",
	  "t.yaml:1:12: log_level: expected a scalar, got a list" },
	{ "socket:",
	  "t.yaml:1:8: socket: missing value" },
	{ "socket: ~",
	  "t.yaml:1:9: socket: missing value" },
	{ "socket: \"\"",
	  "t.yaml:1:9: socket: must not be empty" },
	{ "socket: {a: b}",
	  "t.yaml:1:9: socket: expected a scalar, got a mapping" },
	{ "socket: \"a\\0b\"",
	  "t.yaml:1:9: socket: value contains a NUL byte" },
	{ "socket: \"a\\tb\"\nsocket: x",
	  "t.yaml:2:1: duplicate key \"socket\" (first at line 1)" },
	{ "[a]: b",
	  "t.yaml:1:1: a key must be a scalar, not a list" },
	{ "- a\n- b",
	  "t.yaml:1:1: expected a mapping of configuration keys, got a list" },
	{ "hello",
	  "t.yaml:1:1: expected a mapping of configuration keys, got a "
	  "scalar" },
	{ "",
	  "t.yaml:1:1: empty document: expected a mapping of configuration "
	  "keys" },
	{ "# only a comment\n",
	  "t.yaml:1:1: empty document: expected a mapping of configuration "
	  "keys" },
	{ "a: 1\n---\nb: 2\n",
	  "t.yaml:2:1: only one YAML document is allowed" },
	{ "x: &a 1\nsocket: *a\n",
	  "t.yaml:1:1: unknown key \"x\"\n"
	  "t.yaml:2:9: aliases are not supported" },
	{ "socket: [1, 2\nlog_level: info\n",
	  "t.yaml:2:10: did not find expected ',' or ']' (while parsing a "
	  "flow sequence at line 1, column 9)" },
	{ "socket: a\n  log_level: info\n",
	  "t.yaml:2:12: mapping values are not allowed in this context" },
	{ "socket: \"abc\n",
	  "t.yaml:2:1: found unexpected end of stream (while scanning a "
	  "quoted scalar at line 1, column 9)" },
	{ "socket: \xff\n",
	  "t.yaml:1:9: invalid leading UTF-8 octet" },
};

START_TEST(test_bad_values)
{
	expect_errors(bad_values[_i].yaml, bad_values[_i].want);
}
END_TEST

START_TEST(test_socket_length)
{
	struct config	*cfg;
	char		 yaml[300], path[200];

	memset(path, 'a', 107);
	path[107] = '\0';
	snprintf(yaml, sizeof yaml, "socket: %s", path);
	cfg = expect_ok(yaml);
	ck_assert_str_eq(cfg->socket, path);
	config_free(cfg);
	snprintf(yaml, sizeof yaml, "socket: %sb", path);
	expect_errors(yaml, "t.yaml:1:9: socket: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" is longer than 107 bytes");
}
END_TEST

/* One file, three unrelated errors: all three, in order, with positions. */
START_TEST(test_three_errors)
{
	const char	*yaml =
	    "socket: run/s.sock\n"
	    "log_level: chatty\n"
	    "pools:\n"
	    "  - name: a\n"
	    "    workers: 0\n"
	    "    colour: blue\n";
	struct config	*cfg;
	char		*errs = NULL;

	cfg = load(yaml, &errs);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(count_lines(errs), 3);
	ck_assert_str_eq(errs,
	    "t.yaml:2:12: log_level: expected error, warning, info, debug, "
	    "got \"chatty\"\n"
	    "t.yaml:5:14: workers: 0 is out of range 1..1024\n"
	    "t.yaml:6:5: unknown key \"colour\"");
	free(errs);
}
END_TEST

START_TEST(test_duplicate_pools)
{
	expect_errors(
	    "pools:\n"
	    "  - name: a\n"
	    "  - name: b\n"
	    "  - name: a\n"
	    "    nice: 99\n"
	    "  - name: a\n"
	    "  - {}\n",
	    "t.yaml:4:11: name: duplicate pool name \"a\" (first at line 2)\n"
	    "t.yaml:5:11: nice: 99 is out of range 0..19\n"
	    "t.yaml:6:11: name: duplicate pool name \"a\" (first at line 2)\n"
	    "t.yaml:7:5: missing required key \"name\"");
}
END_TEST

/* Dynamic mode brings the default workers into min..max_workers. */
START_TEST(test_pool_sizes)
{
	static const struct {
		const char	*yaml;
		unsigned	 workers;	/* 0: online CPUs */
		unsigned	 min_workers;	/* the floor, if above */
		unsigned	 max_workers;	/* 0: online CPUs */
	} t[] = {
		{ "{name: p, mode: dynamic}", 0, 0, 0 },
		{ "{name: p, mode: dynamic, min_workers: 1000, "
		  "max_workers: 1024}", 0, 1000, 1024 },
		{ "{name: p, mode: dynamic, max_workers: 1}", 1, 0, 1 },
		{ "{name: p, mode: dynamic, min_workers: 3, max_workers: 3, "
		  "min_spare: 2, max_spare: 2}", 3, 0, 3 },
		{ "{name: p, mode: dynamic, workers: 3, min_workers: 3, "
		  "max_workers: 3}", 3, 0, 3 },
		/* Static and ondemand ignore the range: no clamp, no error. */
		{ "{name: p, min_workers: 1000, max_workers: 1024}", 0, 0,
		  1024 },
		{ "{name: p, workers: 7, max_workers: 2, min_spare: 0, "
		  "max_spare: 0}", 7, 0, 2 },
		{ "{name: p, mode: ondemand, workers: 7, max_workers: 2}", 7, 0,
		  2 },
		{ "{name: p, mode: ondemand}", 0, 0, 0 },
	};
	struct config	*cfg;
	char		 yaml[256];
	unsigned	 want;
	size_t		 i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		snprintf(yaml, sizeof yaml, "pools: [%s]", t[i].yaml);
		cfg = expect_ok(yaml);
		want = t[i].workers ? t[i].workers : online_cpus();
		if (want < t[i].min_workers)
			want = t[i].min_workers;
		ck_assert_msg(cfg->pools[0].workers == want, "%s: workers %u, "
		    "want %u", yaml, cfg->pools[0].workers, want);
		want = t[i].max_workers ? t[i].max_workers : online_cpus();
		ck_assert_msg(cfg->pools[0].max_workers == want, "%s: "
		    "max_workers %u, want %u", yaml, cfg->pools[0].max_workers,
		    want);
		config_free(cfg);
	}
}
END_TEST

/* The rules against max_workers' default say it is online CPUs. */
START_TEST(test_pool_rules_default_max)
{
	unsigned	ncpu = online_cpus();
	char		want[256];

	if (ncpu >= 1024)
		return;
	snprintf(want, sizeof want, "t.yaml:1:32: min_workers: 1024 is more "
	    "than max_workers %u (the default: online CPUs)", ncpu);
	expect_errors("pools: [{name: p, min_workers: 1024}]", want);
	snprintf(want, sizeof want, "t.yaml:1:43: workers: 1024 is not within "
	    "min_workers 0 and max_workers %u (the default: online CPUs)",
	    ncpu);
	expect_errors("pools: [{name: p, mode: dynamic, workers: 1024}]",
	    want);
}
END_TEST

/* Every broken rule of a pool is reported, at its key, in order. */
START_TEST(test_pool_rules_together)
{
	expect_errors(
	    "pools:\n"
	    "  - name: p\n"
	    "    mode: dynamic\n"
	    "    workers: 9\n"
	    "    min_workers: 5\n"
	    "    max_workers: 4\n"
	    "    min_spare: 3\n"
	    "    max_spare: 2\n"
	    "    restart_delay_ms: 600\n"
	    "    restart_delay_max_ms: 500\n"
	    "  - name: q\n"
	    "    mode: dynamic\n"
	    "    min_workers: 2\n"
	    "    max_workers: 4\n"
	    "    workers: 5\n"
	    "    prefetch: 1025\n",
	    "t.yaml:6:18: max_workers: 4 is less than min_workers 5\n"
	    "t.yaml:8:16: max_spare: 2 is less than min_spare 3\n"
	    "t.yaml:10:27: restart_delay_max_ms: 500 is less than "
	    "restart_delay_ms 600\n"
	    "t.yaml:15:14: workers: 5 is not within min_workers 2 and "
	    "max_workers 4\n"
	    "t.yaml:16:15: prefetch: 1025 is out of range 0..1024");
}
END_TEST

static char *
nested(int depth)
{
	char	*s;
	int	 i;

	s = malloc(2 * depth + 16);
	ck_assert_ptr_nonnull(s);
	strcpy(s, "x: ");
	for (i = 1; i < depth; i++)
		strcat(s, "[");
	for (i = 1; i < depth; i++)
		strcat(s, "]");
	return s;
}

START_TEST(test_depth)
{
	char	*s;

	/* The root mapping counts as one level. */
	s = nested(CONFIG_DEPTH_MAX);
	expect_errors(s, "t.yaml:1:1: unknown key \"x\"");
	free(s);
	s = nested(CONFIG_DEPTH_MAX + 1);
	expect_errors(s, "t.yaml:1:19: nested deeper than 16 levels");
	free(s);
	/* Far deeper than any stack would like: still one clean error. */
	s = nested(100000);
	expect_errors(s, "t.yaml:1:19: nested deeper than 16 levels");
	free(s);
}
END_TEST

START_TEST(test_size_limits)
{
	char	*s;
	size_t	 n = CONFIG_SIZE_MAX + 1;

	s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, '#', n);
	s[n] = '\0';
	expect_errors(s, "t.yaml:1:1: document is larger than 1048576 bytes");
	/* A long scalar is reported, and the rest is still checked. */
	memcpy(s, "socket: ", 8);
	memset(s + 8, 'a', CONFIG_SCALAR_MAX + 1);
	strcpy(s + 8 + CONFIG_SCALAR_MAX + 1, "\nnope: 1\n");
	expect_errors(s, "t.yaml:1:9: scalar longer than 4096 bytes\n"
	    "t.yaml:2:1: unknown key \"nope\"");
	free(s);
}
END_TEST

START_TEST(test_node_limit)
{
	size_t	 i, n = CONFIG_NODES_MAX + 10;
	char	*s, *p;

	s = malloc(2 * n + 16);
	ck_assert_ptr_nonnull(s);
	p = s + sprintf(s, "x: [");
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s1", i ? "," : "");
	strcpy(p, "]");
	ck_assert_uint_lt(strlen(s), CONFIG_SIZE_MAX);
	expect_errors(s, "t.yaml:1:131071: more than 65536 nodes");
	free(s);
}
END_TEST

START_TEST(test_many_errors)
{
	struct config	*cfg;
	char		*yaml, *errs = NULL, *last;
	size_t		 i;

	yaml = malloc(200 * 16);
	ck_assert_ptr_nonnull(yaml);
	yaml[0] = '\0';
	for (i = 0; i < 200; i++)
		sprintf(yaml + strlen(yaml), "k%zu: 1\n", i);
	cfg = load(yaml, &errs);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(count_lines(errs), CONFIG_ERRORS_MAX + 1);
	ck_assert(strncmp(errs, "t.yaml:1:1: unknown key \"k0\"\n", 29) == 0);
	last = strrchr(errs, '\n') + 1;
	ck_assert_str_eq(last, "t.yaml: 150 more errors not shown");
	free(errs);
	/* A caller may not want the report. */
	ck_assert_ptr_null(load(yaml, NULL));
	free(yaml);
}
END_TEST

START_TEST(test_files)
{
	struct config	*cfg;
	char		*dir, path[PATH_MAX], *errs;
	char		 want[PATH_MAX + 128];
	FILE		*f;

	dir = test_tmpdir();
	snprintf(path, sizeof path, "%s/missing.yaml", dir);
	ck_assert_ptr_null(config_load(path, &errs));
	snprintf(want, sizeof want, "%s: %s", path, strerror(ENOENT));
	ck_assert_str_eq(errs, want);
	free(errs);

	ck_assert_ptr_null(config_load(dir, &errs));
	snprintf(want, sizeof want, "%s: %s", dir, strerror(EISDIR));
	ck_assert_str_eq(errs, want);
	free(errs);

	snprintf(path, sizeof path, "%s/c.yaml", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "we"));
	fputs("socket: s.sock\npools:\n  - name: p\n    nice: x\n", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_null(config_load(path, &errs));
	snprintf(want, sizeof want, "%s:4:11: nice: expected an integer, "
	    "got \"x\"", path);
	ck_assert_str_eq(errs, want);
	free(errs);

	ck_assert_ptr_nonnull(f = fopen(path, "we"));
	fputs("socket: s.sock\npools:\n  - name: p\n    nice: 0\n", f);
	ck_assert_int_eq(fclose(f), 0);
	errs = NULL;
	cfg = config_load(path, &errs);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_ptr_null(errs);
	ck_assert_str_eq(cfg->path, path);
	ck_assert_str_eq(cfg->socket, "s.sock");
	ck_assert_int_eq(cfg->pools[0].nice, 0);
	config_free(cfg);

	/* Over the size limit on disk too. */
	ck_assert_ptr_nonnull(f = fopen(path, "we"));
	ck_assert_int_eq(fseek(f, CONFIG_SIZE_MAX, SEEK_SET), 0);
	fputc('\n', f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_null(config_load(path, &errs));
	snprintf(want, sizeof want, "%s:1:1: document is larger than "
	    "1048576 bytes", path);
	ck_assert_str_eq(errs, want);
	free(errs);

	test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_default_conf)
{
	struct config			*cfg;
	const struct pool_config	*pc;
	char				*text, *errs = NULL;
	size_t				 len;
	FILE				*f;

	f = repo_open("conf/commis.yaml");
	ck_assert_msg(f != NULL, "conf/commis.yaml: %s", strerror(errno));
	text = slurp(f, &len);
	fclose(f);
	cfg = config_load_string("conf/commis.yaml", text, len, &errs);
	if (cfg == NULL)
		ck_abort_msg("%s", errs);
	ck_assert_str_eq(cfg->socket, "run/commis.sock");
	ck_assert_uint_eq(cfg->socket_mode, 0660);
	ck_assert_int_eq(cfg->log_level, LOG_LVL_INFO);
	ck_assert_uint_eq(cfg->npools, 1);
	pc = config_pool(cfg, "default");
	ck_assert_ptr_nonnull(pc);
	ck_assert_uint_ge(pc->workers, 1);
	ck_assert_uint_eq(pc->timeout_ms, 60000);
	ck_assert_uint_eq(pc->max_attempts, 3);
	ck_assert_uint_eq(pc->queue_max, 100000);
	config_free(cfg);
	free(text);
}
END_TEST

/* docs/configuration.md is config_doc()'s output, byte for byte. */
START_TEST(test_doc_current)
{
	char	*file, *doc;
	size_t	 flen, dlen;
	FILE	*f;

	f = repo_open("docs/configuration.md");
	ck_assert_msg(f != NULL, "docs/configuration.md: %s", strerror(errno));
	file = slurp(f, &flen);
	fclose(f);
	doc = doc_text(&dlen);
	ck_assert_msg(flen == dlen && memcmp(file, doc, dlen) == 0,
	    "docs/configuration.md is stale: run make config-doc");
	free(file);
	free(doc);
}
END_TEST

/* Every key appears in the doc, and the doc's example loads. */
START_TEST(test_doc_example)
{
	struct config	*cfg;
	char		*doc, *start, *end, row[64];
	size_t		 len, i;

	doc = doc_text(&len);
	for (i = 0; i < config_ntop_keys; i++) {
		snprintf(row, sizeof row, "\n| `%s` |", config_top_keys[i].name);
		ck_assert_msg(strstr(doc, row) != NULL, "%s", row);
	}
	for (i = 0; i < config_npool_keys; i++) {
		snprintf(row, sizeof row, "\n| `%s` |", config_pool_keys[i].name);
		ck_assert_msg(strstr(doc, row) != NULL, "%s", row);
	}
	start = strstr(doc, "```yaml\n");
	ck_assert_ptr_nonnull(start);
	start += 8;
	end = strstr(start, "```\n");
	ck_assert_ptr_nonnull(end);
	cfg = config_load_string("example", start, end - start, NULL);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(cfg->npools, 2);
	ck_assert_uint_eq(config_pool(cfg, "images")->nmodules, 1);
	ck_assert_int_eq(config_pool(cfg, "images")->mode, POOL_MODE_DYNAMIC);
	ck_assert(config_pool(cfg, "images")->max_rss == (uint64_t)1 << 30);
	config_free(cfg);
	free(doc);
}
END_TEST

START_TEST(test_key_tables)
{
	const struct config_key	*t[] = { config_top_keys, config_pool_keys };
	size_t			 n[] = { config_ntop_keys, config_npool_keys };
	size_t			 i, j;

	for (i = 0; i < 2; i++) {
		ck_assert_uint_le(n[i], CONFIG_KEYS_MAX);
		for (j = 0; j < n[i]; j++) {
			ck_assert_ptr_nonnull(t[i][j].help);
			ck_assert_msg(t[i][j].def != NULL ||
			    t[i][j].def_doc != NULL || t[i][j].required,
			    "%s has no documented default", t[i][j].name);
			ck_assert_ptr_null(strchr(t[i][j].help, '|'));
		}
	}
	config_free(NULL);
}
END_TEST

Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

	tc = tcase_create("values");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_loop_test(tc, test_good_values, 0,
	    sizeof good_values / sizeof good_values[0]);
	tcase_add_test(tc, test_booleans);
	tcase_add_test(tc, test_socket_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_bad_values, 0,
	    sizeof bad_values / sizeof bad_values[0]);
	tcase_add_test(tc, test_three_errors);
	tcase_add_test(tc, test_duplicate_pools);
	tcase_add_test(tc, test_pool_sizes);
	tcase_add_test(tc, test_pool_rules_default_max);
	tcase_add_test(tc, test_pool_rules_together);
	tcase_add_test(tc, test_many_errors);
	tcase_add_test(tc, test_files);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_size_limits);
	tcase_add_test(tc, test_node_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_default_conf);
	tcase_add_test(tc, test_doc_current);
	tcase_add_test(tc, test_doc_example);
	tcase_add_test(tc, test_key_tables);
	suite_add_tcase(s, tc);
	return s;
}
