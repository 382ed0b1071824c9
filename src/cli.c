/*
 * The commis command line. This module owns the command table (name,
 * arguments, help, handler) from which the usage text is generated, the
 * parsing of each command's options, finding the socket, and turning
 * libcommis results into output and exit codes (exitcode.h). It talks to
 * commisd only through the public client API (commis/client.h) and reads
 * the config file only to learn the socket path.
 *
 * Bulk input goes as a segment (seg.h): a regular file is copied into a
 * memfd by the kernel (copy_file_range, else sendfile), never through a
 * user-space buffer unless both fail; a pipe is read inline up to the
 * threshold and spills into a memfd past it.
 *
 * The live views: stats --watch and events are loops here; top, with
 * its terminal handling, is cli_top.c, handed a connected client.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commis/client.h"
#include "cli.h"
#include "cli_bench.h"
#include "cli_top.h"
#include "config.h"
#include "exitcode.h"
#include "seg.h"
#include "version.h"

#define CLI_SOCKET_DEFAULT	"/run/commis/commis.sock"
#define CLI_CONFIG_DEFAULT	COMMIS_SYSCONFDIR "/commis/commis.yaml"
#define CLI_PING_MAX		1000000
/* --count of stats --watch, top and events. */
#define CLI_COUNT_MAX		1000000000
/* stats --watch: at most a day, in ms. */
#define CLI_WATCH_MAX_MS	86400000LL
/* Inputs larger than this go as a segment (--segment-above); the same
 * default as commisd's segment_threshold for results. */
#define CLI_SEG_ABOVE_DEFAULT	(64u << 10)
/* Largest segment the CLI builds (commisd's max_segment is lower). */
#define CLI_SEG_MAX		(64ull << 30)
/* Bytes moved per splice/read when stdin spills into a segment. */
#define CLI_SPILL_CHUNK		(1u << 20)

struct cli_ctx {
	const char	*sock_opt;	/* -s SOCKET */
	const char	*path;		/* the socket connected to */
	char		 sock[108];	/* from the config file */
};

/* The positional arguments of an operator command (cli_admin). */
enum cli_arg {
	CLI_ARG_NONE = 0,
	CLI_ARG_POOL,		/* a pool name */
	CLI_ARG_COUNT,		/* a number of workers */
	CLI_ARG_JOB,		/* a job id */
};

struct cli_cmd {
	const char	*name;
	const char	*args;
	const char	*help;
	int		(*exec)(struct cli_ctx *, const struct cli_cmd *, int,
			    char **);
	enum cli_arg	 admin[2];	/* cli_admin: what follows the name */
};

/* A command's option: "--name VALUE" (or "--name=VALUE"), or a flag. */
struct cli_opt {
	const char	*name;
	const char	**arg;		/* NULL for a flag */
	int		*flag;
};

static int	cli_submit(struct cli_ctx *, const struct cli_cmd *, int,
		    char **);
static int	cli_status(struct cli_ctx *, const struct cli_cmd *, int,
		    char **);
static int	cli_wait(struct cli_ctx *, const struct cli_cmd *, int,
		    char **);
static int	cli_cancel(struct cli_ctx *, const struct cli_cmd *, int,
		    char **);
static int	cli_admin(struct cli_ctx *, const struct cli_cmd *, int,
		    char **);
static int	cli_dead(struct cli_ctx *, const struct cli_cmd *, int,
		    char **);
static int	cli_stats(struct cli_ctx *, const struct cli_cmd *, int,
		    char **);
static int	cli_ping(struct cli_ctx *, const struct cli_cmd *, int,
		    char **);
static int	cli_top(struct cli_ctx *, const struct cli_cmd *, int,
		    char **);
static int	cli_events(struct cli_ctx *, const struct cli_cmd *, int,
		    char **);
static int	cli_help(struct cli_ctx *, const struct cli_cmd *, int,
		    char **);

static const struct cli_cmd cli_cmds[] = {
	{ .name = "submit",
	  .args = "HANDLER [--data STR | --file PATH] [--pool NAME] "
	  "[--timeout MS] [--priority N] [--delay MS] [--deadline MS] "
	  "[--segment-above BYTES] [--no-wait] [--stats]",
	  .help = "Run a job and write its result bytes to stdout. The input "
	  "is STR,\nthe file (- for stdin), or stdin when neither is given. "
	  "--delay: start\nno sooner than MS from now; --deadline: expire "
	  "unless started within MS.\n--no-wait: print the job id instead "
	  "of waiting (see status, wait).\nA file or stdin larger than "
	  "--segment-above (default 64K; K, M, G suffixes)\ngoes to the "
	  "worker as a sealed memfd segment instead of inline.\n--stats: "
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

static const char *const cli_state_names[] = {
	[COMMIS_JOB_QUEUED] = "queued",
	[COMMIS_JOB_DELAYED] = "delayed",
	[COMMIS_JOB_RUNNING] = "running",
	[COMMIS_JOB_DONE] = "done",
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

static int
cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "commis: why" and the usage line; returns EXIT_CLI_USAGE. */
static int
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
static int
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
static int
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
static int
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

/* Exactly one positional argument, a job id, and the options of opts. */
static int
cli_job_args(const struct cli_cmd *cmd, int argc, char **argv,
    const struct cli_opt *opts, uint64_t *id)
{
	char	*arg;
	int	 n;

	if ((n = cli_getopt(cmd, argc, argv, opts, &arg, 1)) != 1) {
		if (n == 0)
			cli_usage_error(cmd, "no job id given");
		return -1;
	}
	return cli_job_id(cmd, arg, id);
}

/* A job's input: inline bytes, or a sealed segment when fd != -1. */
struct cli_input {
	uint8_t	*buf;
	size_t	 len;
	int	 fd;
	size_t	 size;
};

static void
cli_input_free(struct cli_input *in)
{
	free(in->buf);
	in->buf = NULL;
	if (in->fd != -1)
		close(in->fd);
	in->fd = -1;
}

static int
cli_input_error(const char *name, const char *what, int saved)
{
	fprintf(stderr, "commis: %s: %s%s%s\n", name, what,
	    saved != 0 ? ": " : "", saved != 0 ? strerror(saved) : "");
	return saved == ENOMEM ? EXIT_CLI_PROTO : EXIT_CLI_USAGE;
}

static int
cli_write_fd(int fd, const uint8_t *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Seals a filled segment and makes it the input. */
static int
cli_input_seal(struct cli_input *in, const char *name, int fd)
{
	struct stat	st;
	int		saved;

	if (seg_seal(fd, SEG_INPUT) == -1 || fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		return cli_input_error(name, "cannot seal the segment", saved);
	}
	if ((uint64_t)st.st_size > CLI_SEG_MAX) {
		close(fd);
		return cli_input_error(name, "input larger than 64 GiB", 0);
	}
	in->fd = fd;
	in->size = (size_t)st.st_size;
	return EXIT_CLI_OK;
}

/*
 * Past the threshold, what was read so far and the rest of fd go into a
 * segment: splice when fd is a pipe (no copy through user space), else
 * read and write.
 */
static int
cli_spill(int fd, const char *name, struct cli_input *in)
{
	uint8_t		*chunk = NULL;
	void		*map;
	uint64_t	 total = in->len;
	ssize_t		 n;
	int		 sfd, saved, use_splice = 1;

	if ((sfd = seg_create("commis-stdin", 0, &map)) == -1)
		return cli_input_error(name, "cannot create a segment", errno);
	if (cli_write_fd(sfd, in->buf, in->len) == -1)
		goto fail;
	free(in->buf);
	in->buf = NULL;
	in->len = 0;
	for (;;) {
		if (use_splice) {
			n = splice(fd, NULL, sfd, NULL, CLI_SPILL_CHUNK, 0);
			if (n == -1 && errno == EINVAL) {
				use_splice = 0;
				continue;
			}
		} else {
			if (chunk == NULL &&
			    (chunk = malloc(CLI_SPILL_CHUNK)) == NULL)
				goto fail;
			if ((n = read(fd, chunk, CLI_SPILL_CHUNK)) > 0 &&
			    cli_write_fd(sfd, chunk, (size_t)n) == -1)
				goto fail;
		}
		if (n == 0)
			break;
		if (n == -1 && errno != EINTR)
			goto fail;
		if (n > 0 && (total += (uint64_t)n) > CLI_SEG_MAX) {
			errno = EFBIG;
			goto fail;
		}
	}
	free(chunk);
	return cli_input_seal(in, name, sfd);
fail:
	saved = errno;
	free(chunk);
	close(sfd);
	return cli_input_error(name, "cannot read into a segment", saved);
}

/*
 * Reads fd to its end: inline up to above bytes (at most what libcommis
 * accepts inline), past that into a segment, unless above is SIZE_MAX
 * (inline only).
 */
static int
cli_read_input(int fd, const char *name, size_t above, struct cli_input *in)
{
	size_t	 limit = above < COMMIS_PAYLOAD_HARD_MAX ? above :
	    COMMIS_PAYLOAD_HARD_MAX;
	size_t	 cap = 0;
	uint8_t	*p;
	ssize_t	 n;

	for (;;) {
		if (in->len > limit) {
			if (above == SIZE_MAX) {
				fprintf(stderr, "commis: %s: input larger "
				    "than %u bytes\n", name,
				    COMMIS_PAYLOAD_HARD_MAX);
				return EXIT_CLI_USAGE;
			}
			return cli_spill(fd, name, in);
		}
		if (in->len == cap) {
			/* One byte past the limit is enough to decide. */
			cap = cap ? cap * 2 : 65536;
			if (cap > limit + 1)
				cap = limit + 1;
			if ((p = realloc(in->buf, cap)) == NULL) {
				fprintf(stderr, "commis: out of memory\n");
				return EXIT_CLI_PROTO;
			}
			in->buf = p;
		}
		if ((n = read(fd, in->buf + in->len, cap - in->len)) == 0)
			return EXIT_CLI_OK;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return cli_input_error(name, "read", errno);
		}
		in->len += (size_t)n;
	}
}

/*
 * Copies size bytes from fd's offset into the segment at sfd (mapped at
 * map): in the kernel with copy_file_range, else sendfile (either may
 * refuse a pair of filesystems), else through a read-only map of the
 * file. The file must not shrink meanwhile: EIO if it visibly did.
 */
static int
cli_copy_file(int fd, int sfd, uint8_t *map, size_t size)
{
	size_t	 done = 0;
	off_t	 start;
	ssize_t	 n = 0;
	uint8_t	*src;
	int	 how;

	if ((start = lseek(fd, 0, SEEK_CUR)) == -1)
		return -1;
	for (how = 0; how < 2 && done < size; how++) {
		do {
			n = how == 0 ?
			    copy_file_range(fd, NULL, sfd, NULL, size - done, 0) :
			    sendfile(sfd, fd, NULL, size - done);
			if (n > 0)
				done += (size_t)n;
		} while (done < size && (n > 0 || (n == -1 && errno == EINTR)));
		if (n == -1 && errno != EXDEV && errno != EINVAL &&
		    errno != ENOSYS && errno != EOPNOTSUPP)
			return -1;
	}
	if (done == size)
		return 0;
	if (n == 0) {
		errno = EIO;	/* both saw the end of the file early */
		return -1;
	}
	src = mmap(NULL, (size_t)start + size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (src == MAP_FAILED)
		return -1;
	memcpy(map + done, src + start + done, size - done);
	munmap(src, (size_t)start + size);
	return 0;
}

/* A regular file larger than the threshold, as a segment. */
static int
cli_file_segment(int fd, const char *name, size_t size,
    struct cli_input *in)
{
	void	*map = NULL;
	int	 sfd, saved;

	if ((uint64_t)size > CLI_SEG_MAX)
		return cli_input_error(name, "input larger than 64 GiB", 0);
	if ((sfd = seg_create("commis-file", size, &map)) == -1)
		return cli_input_error(name, "cannot create a segment", errno);
	if (cli_copy_file(fd, sfd, map, size) == -1) {
		saved = errno;
		seg_unmap(map, size);
		close(sfd);
		return cli_input_error(name, "cannot copy into a segment",
		    saved);
	}
	/* No writable mapping may remain when F_SEAL_WRITE goes on. */
	seg_unmap(map, size);
	return cli_input_seal(in, name, sfd);
}

/*
 * The job's input: --data, --file (- is stdin), else stdin unless a tty.
 * A file or stdin of more than above bytes becomes a segment.
 */
static int
cli_input(const char *data, const char *file, size_t above,
    struct cli_input *in)
{
	struct stat	 st;
	const char	*name = "stdin";
	off_t		 off;
	int		 fd = STDIN_FILENO, rc;

	memset(in, 0, sizeof *in);
	in->fd = -1;
	if (data != NULL) {
		in->len = strlen(data);
		if ((in->buf = malloc(in->len + 1)) == NULL) {
			fprintf(stderr, "commis: out of memory\n");
			return EXIT_CLI_PROTO;
		}
		memcpy(in->buf, data, in->len + 1);
		return EXIT_CLI_OK;
	}
	if (file == NULL && isatty(STDIN_FILENO))
		return EXIT_CLI_OK;
	if (file != NULL && strcmp(file, "-") != 0) {
		name = file;
		if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
			return cli_input_error(name, "open", errno);
	}
	if (above != SIZE_MAX && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (off = lseek(fd, 0, SEEK_CUR)) != -1 && st.st_size > off &&
	    (uint64_t)(st.st_size - off) > above)
		rc = cli_file_segment(fd, name, (size_t)(st.st_size - off),
		    in);
	else
		rc = cli_read_input(fd, name, above, in);
	if (fd != STDIN_FILENO)
		close(fd);
	return rc;
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

static int
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
static int
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

static int
cli_write(const void *p, size_t n)
{
	if ((n > 0 && fwrite(p, 1, n, stdout) != n) || fflush(stdout) == EOF) {
		fprintf(stderr, "commis: stdout: %s\n", strerror(errno));
		return EXIT_CLI_PROTO;
	}
	return EXIT_CLI_OK;
}

/* Output and exit code of a job that reached its terminal state. */
static int
cli_job_report(const struct commis_result *r)
{
	static const int	 codes[] = {
		[COMMIS_ST_SUCCEEDED] = EXIT_CLI_OK,
		[COMMIS_ST_FAILED] = EXIT_CLI_FAILED,
		[COMMIS_ST_TIMEDOUT] = EXIT_CLI_TIMEDOUT,
		[COMMIS_ST_CRASHED] = EXIT_CLI_CRASHED,
		[COMMIS_ST_CANCELLED] = EXIT_CLI_CANCELLED,
		[COMMIS_ST_EXPIRED] = EXIT_CLI_CANCELLED,
	};
	int			 rc;

	/* A failed handler may have written something worth keeping. */
	if ((rc = cli_write(r->output, r->output_len)) != EXIT_CLI_OK)
		return rc;
	if (r->status == COMMIS_ST_SUCCEEDED)
		return EXIT_CLI_OK;
	fprintf(stderr, "commis: job %llu %s%s%s (after %u attempt%s)\n",
	    (unsigned long long)r->job_id, commis_status_name(r->status),
	    r->cause[0] != '\0' ? ": " : "", r->cause, r->attempts,
	    r->attempts == 1 ? "" : "s");
	if (r->status < 0 || (size_t)r->status >= sizeof codes / sizeof codes[0])
		return EXIT_CLI_PROTO;
	return codes[r->status];
}

/* A number of milliseconds, if the option was given. */
static int
cli_ms(const struct cli_cmd *cmd, const char *name, const char *s,
    uint32_t *ms)
{
	long long	v;

	if (s == NULL)
		return 0;
	if (cli_number(cmd, name, s, 0, UINT32_MAX, &v) == -1)
		return -1;
	*ms = (uint32_t)v;
	return 0;
}

/*
 * What a terminal RESULT, or a failure to get one, means for commis.
 * With stats (--stats), a RESULT is followed on stderr by where the
 * job's time went (all 0 for a job that never ran).
 */
static int
cli_outcome(commis_client *c, int rc, const struct commis_result *r,
    int stats)
{
	if (rc != COMMIS_OK)
		return cli_failure(c, rc);
	rc = cli_job_report(r);
	if (stats)
		fprintf(stderr, "queue %.1f ms, run %.1f ms, cpu %.1f ms, "
		    "maxrss %llu KiB\n", (double)r->queue_us / 1000,
		    (double)r->run_us / 1000, (double)r->cpu_us / 1000,
		    (unsigned long long)r->maxrss_kb);
	return rc;
}

/* A size: decimal bytes, or with a K, M or G suffix (powers of 1024). */
static int
cli_size(const struct cli_cmd *cmd, const char *what, const char *s,
    size_t max, size_t *out)
{
	char			*end;
	unsigned long long	 v;
	unsigned		 shift = 0;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (end[0] != '\0' && end[1] == '\0') {
		switch (end[0]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: goto bad;
		}
		end++;
	}
	if (errno != 0 || *end != '\0' || v > (unsigned long long)max >> shift)
		goto bad;
	*out = (size_t)(v << shift);
	return 0;
bad:
	cli_usage_error(cmd, "%s: expected a size from 0 to %zu bytes (K, M "
	    "or G allowed): %s", what, max, s);
	return -1;
}

/*
 * Runs a job on a segment input. A commisd that takes no segments
 * answers COMMIS_E_UNSUPPORTED: then the same bytes go inline, if they
 * may.
 */
static int
cli_submit_segment(commis_client *c, const char *handler,
    const struct cli_input *in, const struct commis_submit_opts *so,
    struct commis_result *res)
{
	void	*p;
	int	 rc;

	rc = commis_submit_fd(c, handler, in->fd, so, res);
	if (rc != COMMIS_ERR_REJECTED || res->error != COMMIS_E_UNSUPPORTED ||
	    in->size > COMMIS_PAYLOAD_HARD_MAX)
		return rc;
	if ((p = seg_map(in->fd, in->size, 0)) == NULL)
		return rc;
	commis_result_free(res);
	rc = commis_submit_wait(c, handler, p, in->size, so, res);
	seg_unmap(p, in->size);
	return rc;
}

static int
cli_submit(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	const char			*data = NULL, *file = NULL, *pool = NULL;
	const char			*timeout = NULL, *prio = NULL;
	const char			*delay = NULL, *deadline = NULL;
	const char			*above_opt = NULL;
	int				 nowait = 0, stats = 0, rc;
	const struct cli_opt		 opts[] = {
		{ "--data", &data, NULL },
		{ "--file", &file, NULL },
		{ "--pool", &pool, NULL },
		{ "--timeout", &timeout, NULL },
		{ "--priority", &prio, NULL },
		{ "--delay", &delay, NULL },
		{ "--deadline", &deadline, NULL },
		{ "--segment-above", &above_opt, NULL },
		{ "--no-wait", NULL, &nowait },
		{ "--stats", NULL, &stats },
		{ NULL, NULL, NULL },
	};
	struct commis_submit_opts	 so;
	struct commis_result		 res;
	struct cli_input		 in;
	commis_client			*c;
	char				*handler;
	size_t				 above = CLI_SEG_ABOVE_DEFAULT;
	uint64_t			 job;
	long long			 v;

	if ((rc = cli_getopt(cmd, argc, argv, opts, &handler, 1)) != 1)
		return rc == 0 ? cli_usage_error(cmd, "no handler given") :
		    EXIT_CLI_USAGE;
	if (data != NULL && file != NULL)
		return cli_usage_error(cmd, "--data and --file exclude each "
		    "other");
	if (nowait && stats)
		return cli_usage_error(cmd, "--stats needs the result: not "
		    "with --no-wait");
	memset(&so, 0, sizeof so);
	so.pool = pool;
	if (cli_ms(cmd, "--timeout", timeout, &so.timeout_ms) == -1 ||
	    cli_ms(cmd, "--delay", delay, &so.delay_ms) == -1 ||
	    cli_ms(cmd, "--deadline", deadline, &so.deadline_ms) == -1)
		return EXIT_CLI_USAGE;
	if (prio != NULL) {
		if (cli_number(cmd, "--priority", prio, INT32_MIN, INT32_MAX,
		    &v) == -1)
			return EXIT_CLI_USAGE;
		so.priority = (int32_t)v;
	}
	if (above_opt != NULL && cli_size(cmd, "--segment-above", above_opt,
	    COMMIS_PAYLOAD_HARD_MAX, &above) == -1)
		return EXIT_CLI_USAGE;
	/* libcommis has no no-wait submit of a segment: inline only. */
	if (nowait)
		above = SIZE_MAX;
	if ((rc = cli_input(data, file, above, &in)) != EXIT_CLI_OK)
		goto out;
	if ((rc = cli_connect(ctx, &c)) != EXIT_CLI_OK)
		goto out;

	if (nowait) {
		rc = commis_submit_nowait(c, handler, in.buf, in.len, &so,
		    &job);
		if (rc == COMMIS_OK) {
			printf("%llu\n", (unsigned long long)job);
			rc = cli_write(NULL, 0);
		} else
			rc = cli_failure(c, rc);
	} else {
		if (in.fd != -1)
			rc = cli_submit_segment(c, handler, &in, &so, &res);
		else
			rc = commis_submit_wait(c, handler, in.buf, in.len,
			    &so, &res);
		rc = cli_outcome(c, rc, &res, stats);
		commis_result_free(&res);
	}
	commis_close(c);
out:
	cli_input_free(&in);
	return rc;
}

static int
cli_status(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	const struct cli_opt	 opts[] = { { NULL, NULL, NULL } };
	struct commis_job_info	 info;
	commis_client		*c;
	const char		*state = "unknown";
	uint64_t		 id;
	int			 rc;

	if (cli_job_args(cmd, argc, argv, opts, &id) == -1)
		return EXIT_CLI_USAGE;
	if ((rc = cli_connect(ctx, &c)) != EXIT_CLI_OK)
		return rc;
	if ((rc = commis_status(c, id, &info)) != COMMIS_OK) {
		rc = cli_failure(c, rc);
		commis_close(c);
		return rc;
	}
	commis_close(c);
	if ((size_t)info.state < sizeof cli_state_names /
	    sizeof cli_state_names[0])
		state = cli_state_names[info.state];
	printf("job %llu: %s", (unsigned long long)info.job_id, state);
	if (info.state == COMMIS_JOB_DONE)
		printf(" (%s) after", commis_status_name(info.status));
	else
		printf(",");
	printf(" %u attempt%s%s, pool %s, handler %s\n", info.attempts,
	    info.attempts == 1 ? "" : "s",
	    info.state == COMMIS_JOB_DONE ? "" : " so far", info.pool,
	    info.handler);
	if (info.cause[0] != '\0')
		printf("cause: %s\n", info.cause);
	return cli_write(NULL, 0);
}

static int
cli_wait(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	const char		*timeout = NULL;
	int			 stats = 0, rc;
	const struct cli_opt	 opts[] = {
		{ "--timeout", &timeout, NULL },
		{ "--stats", NULL, &stats },
		{ NULL, NULL, NULL },
	};
	struct commis_result	 res;
	commis_client		*c;
	uint64_t		 id;
	uint32_t		 ms = 0;

	if (cli_job_args(cmd, argc, argv, opts, &id) == -1 ||
	    cli_ms(cmd, "--timeout", timeout, &ms) == -1)
		return EXIT_CLI_USAGE;
	if ((rc = cli_connect(ctx, &c)) != EXIT_CLI_OK)
		return rc;
	rc = commis_wait(c, id, ms, &res);
	if (rc == COMMIS_ERR_REJECTED && res.error == COMMIS_E_TIMEOUT) {
		/* Not the job's timeout: that one is a RESULT (timedout). */
		fprintf(stderr, "commis: wait timed out after %u ms; job %llu "
		    "has not finished\n", ms, (unsigned long long)id);
		rc = EXIT_CLI_TIMEDOUT;
	} else
		rc = cli_outcome(c, rc, &res, stats);
	commis_result_free(&res);
	commis_close(c);
	return rc;
}

static int
cli_cancel(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	const struct cli_opt	 opts[] = { { NULL, NULL, NULL } };
	commis_client		*c;
	uint64_t		 id;
	int			 rc;

	if (cli_job_args(cmd, argc, argv, opts, &id) == -1)
		return EXIT_CLI_USAGE;
	if ((rc = cli_connect(ctx, &c)) != EXIT_CLI_OK)
		return rc;
	if ((rc = commis_cancel(c, id)) != COMMIS_OK) {
		rc = cli_failure(c, rc);
		commis_close(c);
		return rc;
	}
	commis_close(c);
	/* commis_cancel() does not return commisd's OK text. */
	printf("job %llu: cancel requested\n", (unsigned long long)id);
	return cli_write(NULL, 0);
}

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
static int
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

static int
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

static int
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

static int
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

static int
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

static int
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
