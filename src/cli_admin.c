/*
 * commis's operator commands and views: reload, scale, reset, retry and
 * purge (sent as ADMIN argument vectors), dead, stats (and stats
 * --watch), top, events and ping. This module owns their options and
 * their output; the command table, option parsing and the connection are
 * cli.c's. The live views: stats --watch and events are loops here; top,
 * with its terminal handling, is cli_top.c, handed a connected client.
 * It talks to commisd only through the public client API.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commis/client.h"
#include "cli_int.h"
#include "cli_top.h"
#include "exitcode.h"

#define CLI_PING_MAX		1000000
/* --count of stats --watch, top and events. */
#define CLI_COUNT_MAX		1000000000
/* stats --watch: at most a day, in ms. */
#define CLI_WATCH_MAX_MS	86400000LL

/* Text from commisd, ending with a newline whatever it sent. */
static int
cli_print_text(const char *text)
{
	size_t	n = strlen(text);
	int	rc;

	if ((rc = cli_write(text, n)) == EXIT_CLI_OK && n > 0 &&
	    text[n - 1] != '\n')
		rc = cli_write("\n", 1);
	return rc;
}

/* Sends an operator command and prints commisd's answer. */
static int
cli_admin_run(struct cli_ctx *ctx, int argc, const char *const *argv)
{
	commis_client	*c;
	char		*text;
	int		 rc;

	if ((rc = cli_connect(ctx, &c)) != EXIT_CLI_OK)
		return rc;
	if ((rc = commis_admin(c, argc, argv, &text)) != COMMIS_OK) {
		rc = cli_failure(c, rc);
		commis_close(c);
		return rc;
	}
	commis_close(c);
	rc = cli_print_text(text);
	free(text);
	return rc;
}

/* One positional argument of an operator command, checked locally. */
static int
cli_admin_arg(const struct cli_cmd *cmd, enum cli_arg kind, const char *s)
{
	long long	v;
	uint64_t	id;

	switch (kind) {
	case CLI_ARG_POOL:
		if (s[0] == '\0' || strlen(s) >= COMMIS_NAME_MAX) {
			cli_usage_error(cmd, "POOL: expected a pool name of "
			    "1 to %d bytes", COMMIS_NAME_MAX - 1);
			return -1;
		}
		return 0;
	case CLI_ARG_COUNT:
		return cli_number(cmd, "N", s, 0, UINT32_MAX, &v);
	case CLI_ARG_JOB:
		return cli_job_id(cmd, s, &id);
	case CLI_ARG_NONE:
		break;
	}
	return 0;
}

/* reload, scale, reset, retry, purge: the command line is the argv. */
int
cli_admin(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	const struct cli_opt	 opts[] = { { NULL, NULL, NULL } };
	const char		*av[3];
	char			*pos[2];
	int			 i, n, want = 0;

	while (want < 2 && cmd->admin[want] != CLI_ARG_NONE)
		want++;
	if ((n = cli_getopt(cmd, argc, argv, opts, pos, want)) == -1)
		return EXIT_CLI_USAGE;
	if (n < want)
		return cli_usage_error(cmd, "expected %s", cmd->args);
	av[0] = cmd->name;
	for (i = 0; i < n; i++) {
		if (cli_admin_arg(cmd, cmd->admin[i], pos[i]) == -1)
			return EXIT_CLI_USAGE;
		av[i + 1] = pos[i];
	}
	return cli_admin_run(ctx, n + 1, av);
}

int
cli_dead(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	int			 json = 0;
	const struct cli_opt	 opts[] = {
		{ "--json", NULL, &json },
		{ NULL, NULL, NULL },
	};
	const char *const	 av[] = { "dead", "json" };

	if (cli_getopt(cmd, argc, argv, opts, NULL, 0) != 0)
		return EXIT_CLI_USAGE;
	return cli_admin_run(ctx, json ? 2 : 1, av);
}

/*
 * A duration in seconds for --watch: decimal, at most three decimals,
 * above 0 and at most a day; *ms gets it in milliseconds.
 */
static int
cli_seconds(const struct cli_cmd *cmd, const char *what, const char *s,
    long long *ms)
{
	const char	*p = s;
	long long	 v = 0;
	int		 decimals = -1;

	for (; *p != '\0'; p++) {
		if (*p == '.' && decimals == -1 && p != s) {
			decimals = 0;
			continue;
		}
		if (*p < '0' || *p > '9' || decimals == 3 ||
		    v > CLI_WATCH_MAX_MS)
			goto bad;
		v = v * 10 + (*p - '0');
		if (decimals >= 0)
			decimals++;
	}
	if (decimals == 0)
		goto bad;		/* "2." */
	for (decimals = decimals < 0 ? 0 : decimals; decimals < 3; decimals++)
		v *= 10;
	if (p == s || v <= 0 || v > CLI_WATCH_MAX_MS)
		goto bad;
	*ms = v;
	return 0;
bad:
	cli_usage_error(cmd, "%s: expected seconds above 0 and at most 86400, "
	    "like 2 or 0.5: %s", what, s);
	return -1;
}

/* Sleeps ms; a signal that does not kill us does not cut it short. */
static void
cli_sleep_ms(long long ms)
{
	struct timespec	ts, rem;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &rem) == -1 && errno == EINTR)
		ts = rem;
}

/* stats --watch: what comes before each snapshot. */
static void
cli_watch_mark(int tty, long long i)
{
	char		 when[64];
	struct tm	 tm;
	time_t		 now = time(NULL);

	if (tty)
		fputs("\033[H\033[2J", stdout);
	else if (i == 0)
		return;
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
		snprintf(when, sizeof when, "%lld", (long long)now);
	printf("--- %s\n", when);
}

int
cli_stats(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	const char		*watch = NULL, *count = NULL;
	int			 json = 0, tty, rc;
	const struct cli_opt	 opts[] = {
		{ "--json", NULL, &json },
		{ "--watch", &watch, NULL },
		{ "--count", &count, NULL },
		{ NULL, NULL, NULL },
	};
	commis_client		*c;
	char			*text;
	long long		 every = 0, n = 0, i;

	if (cli_getopt(cmd, argc, argv, opts, NULL, 0) != 0)
		return EXIT_CLI_USAGE;
	if (watch != NULL && cli_seconds(cmd, "--watch", watch, &every) == -1)
		return EXIT_CLI_USAGE;
	if (count != NULL && watch == NULL)
		return cli_usage_error(cmd, "--count goes with --watch");
	if (count != NULL &&
	    cli_number(cmd, "--count", count, 1, CLI_COUNT_MAX, &n) == -1)
		return EXIT_CLI_USAGE;
	if ((rc = cli_connect(ctx, &c)) != EXIT_CLI_OK)
		return rc;
	tty = watch != NULL && isatty(STDOUT_FILENO);
	for (i = 0;; i++) {
		rc = commis_stats(c, json ? COMMIS_STATS_JSON :
		    COMMIS_STATS_TEXT, &text);
		if (rc != COMMIS_OK) {
			rc = cli_failure(c, rc);
			break;
		}
		if (watch != NULL)
			cli_watch_mark(tty, i);
		rc = cli_print_text(text);
		free(text);
		if (rc != EXIT_CLI_OK || watch == NULL ||
		    (n > 0 && i + 1 >= n))
			break;
		cli_sleep_ms(every);
	}
	commis_close(c);
	return rc;
}

/* --count N of top and events (0 when not given). */
static int
cli_count(const struct cli_cmd *cmd, const char *s, long long *n)
{
	*n = 0;
	return s == NULL ? 0 :
	    cli_number(cmd, "--count", s, 1, CLI_COUNT_MAX, n);
}

int
cli_top(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	const char		*interval = NULL, *count = NULL;
	const struct cli_opt	 opts[] = {
		{ "--interval", &interval, NULL },
		{ "--count", &count, NULL },
		{ NULL, NULL, NULL },
	};
	struct top_opts		 o;
	commis_client		*c;
	long long		 v = TOP_INTERVAL_DEFAULT;
	int			 rc;

	if (cli_getopt(cmd, argc, argv, opts, NULL, 0) != 0 ||
	    (interval != NULL && cli_number(cmd, "--interval", interval,
	    TOP_INTERVAL_MIN, TOP_INTERVAL_MAX, &v) == -1) ||
	    cli_count(cmd, count, &o.count) == -1)
		return EXIT_CLI_USAGE;
	o.interval_ms = (int)v;
	if ((rc = cli_connect(ctx, &c)) != EXIT_CLI_OK)
		return rc;
	/* top_run has put the terminal back before anything is said. */
	if ((rc = top_run(c, &o)) < 0)
		rc = cli_failure(c, rc);
	commis_close(c);
	return rc;
}

int
cli_events(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	const char		*count = NULL;
	const struct cli_opt	 opts[] = {
		{ "--count", &count, NULL },
		{ NULL, NULL, NULL },
	};
	commis_client		*c;
	char			*json;
	long long		 n, i;
	int			 rc;

	if (cli_getopt(cmd, argc, argv, opts, NULL, 0) != 0 ||
	    cli_count(cmd, count, &n) == -1)
		return EXIT_CLI_USAGE;
	if ((rc = cli_connect(ctx, &c)) != EXIT_CLI_OK)
		return rc;
	if ((rc = commis_events(c)) != COMMIS_OK) {
		rc = cli_failure(c, rc);
		commis_close(c);
		return rc;
	}
	/* One line each, flushed: a reader sees every event as it comes. */
	for (i = 0; n == 0 || i < n; i++) {
		if ((rc = commis_next_event(c, -1, &json)) != COMMIS_OK) {
			rc = cli_failure(c, rc);
			break;
		}
		if (json == NULL)
			continue;
		rc = cli_print_text(json);
		free(json);
		if (rc != EXIT_CLI_OK)
			break;
	}
	commis_close(c);
	return rc;
}

int
cli_ping(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	const char		*count = NULL;
	const struct cli_opt	 opts[] = {
		{ "--count", &count, NULL },
		{ NULL, NULL, NULL },
	};
	commis_client		*c;
	uint64_t		 rtt;
	long long		 i, n = 1;
	int			 rc = EXIT_CLI_OK;

	if (cli_getopt(cmd, argc, argv, opts, NULL, 0) != 0)
		return EXIT_CLI_USAGE;
	if (count != NULL &&
	    cli_number(cmd, "--count", count, 1, CLI_PING_MAX, &n) == -1)
		return EXIT_CLI_USAGE;
	if ((rc = cli_connect(ctx, &c)) != EXIT_CLI_OK)
		return rc;
	for (i = 0; i < n && rc == EXIT_CLI_OK; i++) {
		if ((rc = commis_ping(c, &rtt)) != COMMIS_OK) {
			rc = cli_failure(c, rc);
			break;
		}
		printf("pong from %s: time=%.3f ms\n", ctx->path,
		    (double)rtt / 1e6);
		rc = cli_write(NULL, 0);
	}
	commis_close(c);
	return rc;
}
