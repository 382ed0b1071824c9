/*
 * commis's job commands: submit, status, wait and cancel. This module
 * owns their options, the job's input, and how a terminal result (or a
 * failure to get one) becomes output and an exit code (exitcode.h). It
 * talks to commisd only through the public client API (commis/client.h);
 * the command table, option parsing and the connection are cli.c's.
 *
 * Bulk input goes as a segment (seg.h): a regular file is copied into a
 * memfd by the kernel (copy_file_range, else sendfile), never through a
 * user-space buffer unless both fail; a pipe is read inline up to the
 * threshold and spills into a memfd past it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commis/client.h"
#include "cli_int.h"
#include "exitcode.h"
#include "seg.h"

/* Inputs larger than this go as a segment (--segment-above); the same
 * default as commisd's segment_threshold for results. */
#define CLI_SEG_ABOVE_DEFAULT	(64u << 10)
/* Largest segment the CLI builds (commisd's max_segment is lower). */
#define CLI_SEG_MAX		(64ull << 30)
/* Bytes moved per splice/read when stdin spills into a segment. */
#define CLI_SPILL_CHUNK		(1u << 20)

static const char *const cli_state_names[] = {
	[COMMIS_JOB_QUEUED] = "queued",
	[COMMIS_JOB_DELAYED] = "delayed",
	[COMMIS_JOB_RUNNING] = "running",
	[COMMIS_JOB_DONE] = "done",
};

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

int
cli_submit(struct cli_ctx *ctx, const struct cli_cmd *cmd, int argc,
    char **argv)
{
	const char			*data = NULL, *file = NULL, *pool = NULL;
	const char			*timeout = NULL, *prio = NULL;
	const char			*delay = NULL, *deadline = NULL;
	const char			*above_opt = NULL, *key = NULL;
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
		{ "--key", &key, NULL },
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
	so.idempotency_key = key;
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

int
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

int
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

int
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
