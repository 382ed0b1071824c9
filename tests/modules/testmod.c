/*
 * A handler module for the tests, loaded with dlopen like any user module.
 * It knows only the public ABI (commis/handler.h); nothing of commis's
 * internals. Handlers:
 *
 *	test.upper	the input in upper case (ASCII)
 *	test.state	"init pid N": the string init() built, in process N,
 *			proving init ran in the process that runs the job;
 *			init fails when COMMIS_TESTMOD_FAIL_INIT is set,
 *			and crashes (abort) when COMMIS_TESTMOD_CRASH_INIT is
 *	test.fail	always fails, with the cause "test.fail: as asked"
 *	test.big	input: a decimal byte count; output: that many bytes
 *			of "abcdefghijklmnopqrstuvwxyz" repeated
 *	test.hog	"MIB[,HOLD_MS]": leaks MIB MiB, then holds HOLD_MS
 *	test.mark	"TOKEN[,MS]": appends "TOKEN PID\n" to the file named by
 *			$COMMIS_CHAOS_LOG in one write(2), then spins briefly,
 *			or sleeps MS ms (stopping early if cancelled): the
 *			chaos harness's record of every attempt (tests/chaos)
 *
 * Built with -DTESTMOD_BADABI it declares ABI 999, to test the loader's
 * refusal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commis/handler.h"

#ifdef TESTMOD_BADABI
#define TESTMOD_ABI	999
#else
#define TESTMOD_ABI	COMMIS_HANDLER_ABI
#endif

#define TESTMOD_BIG_MAX	(1024u << 20)
#define TESTMOD_MARK_SPIN_NS	50000L	/* test.mark without MS */

static void	*testmod_leak;

extern const struct commis_module commis_module;

static int
testmod_upper(struct commis_call *call)
{
	char	buf[4096];
	size_t	off, n, i;

	for (off = 0; off < call->input_len; off += n) {
		n = call->input_len - off;
		if (n > sizeof buf)
			n = sizeof buf;
		for (i = 0; i < n; i++) {
			buf[i] = (char)call->input[off + i];
			if (buf[i] >= 'a' && buf[i] <= 'z')
				buf[i] = (char)(buf[i] - 'a' + 'A');
		}
		if (call->write(call, buf, n) == -1) {
			call->error(call, "test.upper: result too large");
			return -1;
		}
	}
	return 0;
}

static int
testmod_state_init(void **state)
{
	char	*s;

	if (getenv("COMMIS_TESTMOD_FAIL_INIT") != NULL)
		return -1;
	if (getenv("COMMIS_TESTMOD_CRASH_INIT") != NULL)
		abort();
	if (asprintf(&s, "init pid %ld", (long)getpid()) == -1)
		return -1;
	*state = s;
	return 0;
}

static int
testmod_state(struct commis_call *call)
{
	if (call->state == NULL) {
		call->error(call, "test.state: init did not run");
		return -1;
	}
	if (call->write(call, call->state, strlen(call->state)) == -1) {
		call->error(call, "test.state: result too large");
		return -1;
	}
	return 0;
}

static void
testmod_state_fini(void *state)
{
	free(state);
}

static int
testmod_fail(struct commis_call *call)
{
	call->error(call, "test.fail: as asked");
	return -1;
}

static int
testmod_big(struct commis_call *call)
{
	static const char	 abc[] = "abcdefghijklmnopqrstuvwxyz";
	char			 buf[26 * 256];
	size_t			 want = 0, n, i;
	uint8_t			 c;

	for (i = 0; i < call->input_len; i++) {
		c = call->input[i];
		if (c == '\n' && i + 1 == call->input_len)
			break;
		if (c < '0' || c > '9')
			goto bad;
		want = want * 10 + (size_t)(c - '0');
		if (want > TESTMOD_BIG_MAX)
			goto bad;
	}
	for (i = 0; i < sizeof buf; i++)
		buf[i] = abc[i % 26];
	/* Chunks are multiples of 26, so the pattern runs on unbroken. */
	for (; want > 0; want -= n) {
		n = want < sizeof buf ? want : sizeof buf;
		if (call->write(call, buf, n) == -1) {
			call->error(call, "test.big: result too large");
			return -1;
		}
	}
	return 0;

bad:
	call->error(call, "test.big: expected a byte count up to %u",
	    TESTMOD_BIG_MAX);
	return -1;
}

/*
 * "MIB[,HOLD_MS]": allocates and touches MIB MiB that it never frees (the
 * worker's resident set stays that much larger: a leak, for max_rss), then
 * holds on for HOLD_MS, stopping early if cancelled.
 */
static int
testmod_hog(struct commis_call *call)
{
	char			 arg[64];
	unsigned long		 mib = 0, hold = 0;
	struct timespec		 ts = { 0, 10 * 1000 * 1000 };
	unsigned long		 waited;
	char			*p;

	if (call->input_len == 0 || call->input_len >= sizeof arg)
		goto bad;
	memcpy(arg, call->input, call->input_len);
	arg[call->input_len] = '\0';
	if (sscanf(arg, "%lu,%lu", &mib, &hold) < 1 || mib > 4096)
		goto bad;
	if (mib > 0) {
		if ((p = malloc(mib << 20)) == NULL) {
			call->error(call, "test.hog: out of memory");
			return -1;
		}
		memset(p, 1, mib << 20);
		testmod_leak = p;	/* kept on purpose */
	}
	for (waited = 0; waited < hold; waited += 10) {
		if (call->cancelled(call)) {
			call->error(call, "cancelled");
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	return 0;
bad:
	call->error(call, "test.hog: expected MIB[,HOLD_MS]");
	return -1;
}

/*
 * "TOKEN[,MS]": one line "TOKEN PID\n" appended with a single write(2), so
 * that lines from concurrent workers never interleave; the file is opened
 * and closed on each call, so the worker's fd count does not change.
 */
static int
testmod_mark(struct commis_call *call)
{
	char			 arg[128], line[160];
	const char		*path = getenv("COMMIS_CHAOS_LOG");
	struct timespec		 ts = { 0, 1000 * 1000 }, t0, t;
	unsigned long		 ms = 0, waited;
	char			*comma;
	int			 fd, n;
	ssize_t			 w;

	if (call->input_len == 0 || call->input_len >= sizeof arg)
		goto bad;
	memcpy(arg, call->input, call->input_len);
	arg[call->input_len] = '\0';
	if ((comma = strchr(arg, ',')) != NULL) {
		*comma = '\0';
		if (sscanf(comma + 1, "%lu", &ms) != 1 || ms > 600000)
			goto bad;
	}
	if (arg[0] == '\0' || strpbrk(arg, " \n") != NULL)
		goto bad;
	if (path == NULL) {
		call->error(call, "test.mark: COMMIS_CHAOS_LOG is not set");
		return -1;
	}
	n = snprintf(line, sizeof line, "%s %ld\n", arg, (long)getpid());
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) == -1) {
		call->error(call, "test.mark: %s: %s", path, strerror(errno));
		return -1;
	}
	do
		w = write(fd, line, (size_t)n);
	while (w == -1 && errno == EINTR);
	close(fd);
	if (w != n) {
		call->error(call, "test.mark: short write to %s", path);
		return -1;
	}
	if (ms == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do
			clock_gettime(CLOCK_MONOTONIC, &t);
		while ((t.tv_sec - t0.tv_sec) * 1000000000L +
		    (t.tv_nsec - t0.tv_nsec) < TESTMOD_MARK_SPIN_NS);
	}
	for (waited = 0; waited < ms; waited++) {
		if (call->cancelled(call)) {
			call->error(call, "cancelled");
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	return 0;
bad:
	call->error(call, "test.mark: expected TOKEN[,MS]");
	return -1;
}

static const struct commis_handler testmod_handlers[] = {
	{ "test.upper", COMMIS_HANDLER_THREAD_SAFE, NULL, testmod_upper,
	    NULL },
	{ "test.state", COMMIS_HANDLER_THREAD_SAFE, testmod_state_init,
	    testmod_state, testmod_state_fini },
	{ "test.fail", COMMIS_HANDLER_THREAD_SAFE, NULL, testmod_fail, NULL },
	{ "test.big", COMMIS_HANDLER_THREAD_SAFE, NULL, testmod_big, NULL },
	{ "test.hog", 0, NULL, testmod_hog, NULL },
	{ "test.mark", COMMIS_HANDLER_THREAD_SAFE, NULL, testmod_mark, NULL },
};

const struct commis_module commis_module = {
	TESTMOD_ABI,
	sizeof testmod_handlers / sizeof testmod_handlers[0],
	testmod_handlers,
};
