/*
 * The commis command line. This module owns the dispatch (cli_main), the
 * command table (name, arguments, help, handler) from which the usage
 * text and help are generated, the option parser every command uses,
 * finding the socket and connecting, and turning libcommis failures into
 * messages and exit codes (exitcode.h). The commands themselves are
 * elsewhere, each a table entry: the job commands in cli_jobs.c, the
 * operator commands and views in cli_admin.c, the top view in cli_top.c
 * and bench in cli_bench*.c; what they share is cli_int.h. It talks to
 * commisd only through the public client API (commis/client.h) and reads
 * the config file only to learn the socket path.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commis/client.h"
#include "cli.h"
#include "cli_bench.h"
#include "cli_int.h"
#include "config.h"
#include "exitcode.h"
#include "version.h"

#define CLI_SOCKET_DEFAULT	"/run/commis/commis.sock"
#define CLI_CONFIG_DEFAULT	COMMIS_SYSCONFDIR "/commis/commis.yaml"

static int	cli_help(struct cli_ctx *, const struct cli_cmd *, int,
		    char **);

static const struct cli_cmd cli_cmds[] = {
	{ .name = "submit",
	  .args = "HANDLER [--data STR | --file PATH] [--pool NAME] "
	  "[--timeout MS] [--priority N] [--delay MS] [--deadline MS] "
	  "[--segment-above BYTES] [--key KEY] [--no-wait] [--stats]",
	  .help = "Run a job and write its result bytes to stdout. The input "
	  "is STR,\nthe file (- for stdin), or stdin when neither is given. "
	  "--delay: start\nno sooner than MS from now; --deadline: expire "
	  "unless started within MS.\n--no-wait: print the job id instead "
	  "of waiting (see status, wait).\nA file or stdin larger than "
	  "--segment-above (default 64K; K, M, G suffixes)\ngoes to the "
	  "worker as a sealed memfd segment instead of inline.\n--key: an "
	  "idempotency key; the same key again gets the first job.\n"
	  "--stats: "
	  "then print the job's queue wait, run time, CPU time and its\n"
	  "worker's peak RSS on stderr.",
	  .exec = cli_submit },
	{ .name = "status", .args = "ID",
	  .help = "Print where job ID is: queued, delayed, running or done, "
	  "and how it ended.",
	  .exec = cli_status },
	{ .name = "wait", .args = "ID [--timeout MS] [--stats]",
	  .help = "Wait for job ID to end and write its result bytes to "
	  "stdout, like submit.\nWith --timeout, give up after MS (the job "
	  "goes on). --stats: as for submit.",
	  .exec = cli_wait },
	{ .name = "cancel", .args = "ID",
	  .help = "Cancel job ID: a queued or delayed job ends at once, a "
	  "running one is\nasked to stop, then killed.",
	  .exec = cli_cancel },
	{ .name = "reload", .args = "",
	  .help = "Reload commisd's config file; on errors commisd keeps the "
	  "old config and\nevery error is printed.",
	  .exec = cli_admin },
	{ .name = "scale", .args = "POOL N",
	  .help = "Run N workers in POOL (until the next reload).",
	  .exec = cli_admin, .admin = { CLI_ARG_POOL, CLI_ARG_COUNT } },
	{ .name = "reset", .args = "POOL",
	  .help = "Bring a failed pool back: start its workers again.",
	  .exec = cli_admin, .admin = { CLI_ARG_POOL } },
	{ .name = "dead", .args = "[--json]",
	  .help = "List the dead-letter list: jobs that crashed or timed out "
	  "on every attempt.",
	  .exec = cli_dead },
	{ .name = "retry", .args = "ID",
	  .help = "Submit dead-lettered job ID again; prints the new job's "
	  "id as \"job N\".",
	  .exec = cli_admin, .admin = { CLI_ARG_JOB } },
	{ .name = "purge", .args = "",
	  .help = "Empty the dead-letter list.",
	  .exec = cli_admin },
	{ .name = "stats", .args = "[--json] [--watch SECONDS [--count N]]",
	  .help = "Print the supervisor's statistics as a table, or as JSON "
	  "(docs/operations.md).\n--watch: print them again every SECONDS "
	  "(e.g. 2 or 0.5) until interrupted,\nor --count times; on a "
	  "terminal the screen is cleared first, else a line\n\"--- TIME\" "
	  "separates the snapshots.",
	  .exec = cli_stats },
	{ .name = "top", .args = "[--interval MS] [--count N]",
	  .help = "A live view of the workers, like top(1): queue depth, "
	  "throughput, end-to-end\np99 latency and restarts, then one line "
	  "per worker with its pool, pid, state,\njobs done, RSS, CPU time, "
	  "current job and that job's age (as a bar, full at\nthe pool's "
	  "timeout or the oldest job shown). Refreshes every MS (default\n"
	  "1000). Keys: s changes the sort (pid, age, rss, jobs), q quits. "
	  "When stdout is\nnot a terminal, prints the same as plain text at "
	  "each refresh. --count: stop\nafter N refreshes.",
	  .exec = cli_top },
	{ .name = "events", .args = "[--count N]",
	  .help = "Print commisd's events as they happen, one JSON object a "
	  "line: jobs accepted,\nstarted and finished, workers started and "
	  "exited, pools failed, reloads.\nRuns until interrupted, or until "
	  "N events with --count.",
	  .exec = cli_events },
	{ .name = "ping", .args = "[--count N]",
	  .help = "Check that commisd answers, and print the round trip time.",
	  .exec = cli_ping },
	{ .name = "bench", .args = CLI_BENCH_ARGS, .help = CLI_BENCH_HELP,
	  .exec = cli_bench },
	{ .name = "help", .args = "[COMMAND]",
	  .help = "Show this help, or the usage of one command.",
	  .exec = cli_help },
};

#define CLI_NCMDS	(sizeof cli_cmds / sizeof cli_cmds[0])

static void
cli_usage(FILE *f)
{
	size_t	i;

	fprintf(f, "usage: commis [-s SOCKET] COMMAND [ARGS]\n"
	    "       commis --version\n\n"
	    "The socket is -s, else $COMMIS_SOCKET, else the socket of %s\n"
	    "($COMMIS_CONFIG overrides that path), else %s.\n\n"
	    "commands:\n", CLI_CONFIG_DEFAULT, CLI_SOCKET_DEFAULT);
	for (i = 0; i < CLI_NCMDS; i++)
		fprintf(f, "  %s%s%s\n", cli_cmds[i].name,
		    cli_cmds[i].args[0] != '\0' ? " " : "", cli_cmds[i].args);
	fprintf(f, "\nRun \"commis help COMMAND\" for what a command does.\n");
}

static void
cli_cmd_usage(FILE *f, const struct cli_cmd *cmd)
{
	fprintf(f, "usage: commis %s%s%s\n", cmd->name,
	    cmd->args[0] != '\0' ? " " : "", cmd->args);
}

/* Prints "commis: why" and the usage line; returns EXIT_CLI_USAGE. */
int
cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list	ap;

	fputs("commis: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd != NULL)
		cli_cmd_usage(stderr, cmd);
	else
		fputs("usage: commis [-s SOCKET] COMMAND [ARGS]\n", stderr);
	return EXIT_CLI_USAGE;
}

static const struct cli_cmd *
cli_find(const char *name)
{
	size_t	i;

	for (i = 0; i < CLI_NCMDS; i++) {
		if (strcmp(cli_cmds[i].name, name) == 0)
			return &cli_cmds[i];
	}
	return NULL;
}

/* The option of opts that arg names, with *val set for "--name=value". */
static const struct cli_opt *
cli_opt_find(const struct cli_opt *opts, const char *arg, const char **val)
{
	const struct cli_opt	*o;
	size_t			 n;

	*val = NULL;
	for (o = opts; o->name != NULL; o++) {
		n = strlen(o->name);
		if (strncmp(arg, o->name, n) != 0)
			continue;
		if (arg[n] == '\0')
			return o;
		if (arg[n] == '=' && o->arg != NULL) {
			*val = arg + n + 1;
			return o;
		}
	}
	return NULL;
}

/*
 * Options may come before, between or after the arguments; "--" ends
 * them. Returns the number of arguments put in pos (at most npos), or -1
 * after printing the usage error.
 */
int
cli_getopt(const struct cli_cmd *cmd, int argc, char **argv,
    const struct cli_opt *opts, char **pos, int npos)
{
	const struct cli_opt	*o;
	const char		*val;
	int			 i, n = 0, only_args = 0;

	for (i = 0; i < argc; i++) {
		if (only_args || argv[i][0] != '-' || strcmp(argv[i], "-") == 0) {
			if (n == npos) {
				cli_usage_error(cmd, "unexpected argument: %s",
				    argv[i]);
				return -1;
			}
			pos[n++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--") == 0) {
			only_args = 1;
			continue;
		}
		if ((o = cli_opt_find(opts, argv[i], &val)) == NULL) {
			cli_usage_error(cmd, "unknown option: %s", argv[i]);
			return -1;
		}
		if (o->arg == NULL) {
			*o->flag = 1;
			continue;
		}
		if (val == NULL) {
			if (i + 1 == argc) {
				cli_usage_error(cmd, "%s needs a value",
				    o->name);
				return -1;
			}
			val = argv[++i];
		}
		*o->arg = val;
	}
	return n;
}

/* Strict decimal: the whole string, no blanks, within [min, max]. */
int
cli_number(const struct cli_cmd *cmd, const char *what, const char *s,
    long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	errno = 0;
	if (s[0] == '\0' || s[0] == ' ' || s[0] == '\t')
		goto bad;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	cli_usage_error(cmd, "%s: expected an integer from %lld to %lld: %s",
	    what, min, max, s);
	return -1;
}

/* A job id: plain decimal, 1 or more. */
int
cli_job_id(const struct cli_cmd *cmd, const char *s, uint64_t *id)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	if (s[0] < '0' || s[0] > '9' ||
	    (v = strtoull(s, &end, 10)) == 0 || errno != 0 || *end != '\0') {
		cli_usage_error(cmd, "ID: expected a job id (an integer from "
		    "1): %s", s);
		return -1;
	}
	*id = v;
	return 0;
}

/* -s, else $COMMIS_SOCKET, else the config file's socket, else default. */
static const char *
cli_socket(struct cli_ctx *ctx)
{
	struct config	*conf;
	const char	*s, *path;
	char		*errors = NULL;

	if (ctx->sock_opt != NULL)
		return ctx->sock_opt;
	if ((s = getenv("COMMIS_SOCKET")) != NULL && *s != '\0')
		return s;
	if ((path = getenv("COMMIS_CONFIG")) == NULL || *path == '\0')
		path = CLI_CONFIG_DEFAULT;
	if (access(path, F_OK) != 0)
		return CLI_SOCKET_DEFAULT;
	if ((conf = config_load(path, &errors)) == NULL) {
		fprintf(stderr, "commis: warning: %s did not load, trying %s\n",
		    path, CLI_SOCKET_DEFAULT);
		if (errors != NULL)
			fprintf(stderr, "%s%s", errors,
			    errors[0] != '\0' &&
			    errors[strlen(errors) - 1] != '\n' ? "\n" : "");
		free(errors);
		return CLI_SOCKET_DEFAULT;
	}
	free(errors);
	snprintf(ctx->sock, sizeof ctx->sock, "%s", conf->socket);
	config_free(conf);
	return ctx->sock[0] != '\0' ? ctx->sock : CLI_SOCKET_DEFAULT;
}

int
cli_connect(struct cli_ctx *ctx, commis_client **c)
{
	int	rc;

	ctx->path = cli_socket(ctx);
	if ((rc = commis_connect(ctx->path, c)) == COMMIS_OK)
		return EXIT_CLI_OK;
	fprintf(stderr, "commis: cannot connect to %s: %s\n", ctx->path,
	    rc == COMMIS_ERR_CONNECT || rc == COMMIS_ERR_INVAL ?
	    strerror(errno) : commis_strerror(rc));
	return EXIT_CLI_CONNECT;
}

/* The exit code for a libcommis failure, after saying why. */
int
cli_failure(commis_client *c, int rc)
{
	const char	*msg = commis_client_error(c);
	size_t		 n = strlen(msg);

	/* A reload's config errors come as lines: print them whole. */
	fprintf(stderr, "commis: %s%s", msg,
	    n > 0 && msg[n - 1] == '\n' ? "" : "\n");
	switch (rc) {
	case COMMIS_ERR_INVAL:
		return EXIT_CLI_USAGE;
	case COMMIS_ERR_CONNECT:
		return EXIT_CLI_CONNECT;
	case COMMIS_ERR_REJECTED:
		return EXIT_CLI_REJECTED;
	}
	return EXIT_CLI_PROTO;
}

int
cli_write(const void *p, size_t n)
{
	if ((n > 0 && fwrite(p, 1, n, stdout) != n) || fflush(stdout) == EOF) {
		fprintf(stderr, "commis: stdout: %s\n", strerror(errno));
		return EXIT_CLI_PROTO;
	}
	return EXIT_CLI_OK;
}

static int
cli_help(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	const struct cli_opt	 opts[] = { { NULL, NULL, NULL } };
	const struct cli_cmd	*which;
	char			*name = NULL;

	if (cli_getopt(cmd, argc, argv, opts, &name, 1) == -1)
		return EXIT_CLI_USAGE;
	if (name == NULL) {
		cli_usage(stdout);
		return EXIT_CLI_OK;
	}
	if ((which = cli_find(name)) == NULL)
		return cli_usage_error(cmd, "unknown command: %s", name);
	cli_cmd_usage(stdout, which);
	printf("%s\n", which->help);
	return EXIT_CLI_OK;
}

int
cli_main(int argc, char **argv)
{
	struct cli_ctx		 ctx;
	const struct cli_cmd	*cmd;
	const char		*a;
	int			 i;

	memset(&ctx, 0, sizeof ctx);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--version") == 0) {
			printf("commis %s\n", COMMIS_VERSION);
			return cli_write(NULL, 0);
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			cli_usage(stdout);
			return cli_write(NULL, 0);
		}
		if (strncmp(a, "-s", 2) != 0)
			return cli_usage_error(NULL, "unknown option: %s", a);
		if (a[2] != '\0')
			ctx.sock_opt = a + 2;
		else if (i + 1 < argc)
			ctx.sock_opt = argv[++i];
		if (ctx.sock_opt == NULL || *ctx.sock_opt == '\0')
			return cli_usage_error(NULL, "-s needs a SOCKET");
	}
	if (i == argc) {
		cli_usage(stderr);
		return EXIT_CLI_USAGE;
	}
	if ((cmd = cli_find(argv[i])) == NULL)
		return cli_usage_error(NULL, "unknown command: %s", argv[i]);
	return cmd->exec(&ctx, cmd, argc - i - 1, argv + i + 1);
}
