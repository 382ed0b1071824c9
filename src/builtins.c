/*
 * The built-in handlers: echo, sha256, xor, spin, sleep and fault. They use
 * only the public handler ABI (include/commis/handler.h), exactly as a
 * loaded module would, and know nothing of workers, pools or frames.
 * fault exists to hurt the process that runs it, so that a deployment can
 * test its own resilience; it never returns from the faults it knows.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "handlers.h"

#define BUILTIN_MS_MAX		3600000u	/* one hour */
#define BUILTIN_ARG_MAX		64		/* longest argument we parse */
#define BUILTIN_SHOW_MAX	32		/* input quoted in an error */
#define BUILTIN_XOR_KEY		0x5a
#define BUILTIN_XOR_CHUNK	65536		/* xor's stack buffer */
#define BUILTIN_OOM_CHUNK	(1u << 20)
#define BUILTIN_OOM_HEADROOM	(256u << 20)
/* Stop at twice the headroom even if the limit did not take. */
#define BUILTIN_OOM_MAXCHUNKS	(2 * (BUILTIN_OOM_HEADROOM / BUILTIN_OOM_CHUNK))

struct builtin_arg {
	char	s[BUILTIN_ARG_MAX];	/* trimmed, NUL-terminated */
	char	show[BUILTIN_SHOW_MAX + 4];	/* printable, for errors */
	int	ok;			/* fitted and had no NUL */
};

static void	builtin_arg(struct commis_call *, struct builtin_arg *);
static int	builtin_parse_ms(struct commis_call *, const char *,
		    uint64_t *);
static uint64_t	builtin_now_ns(void);
static int	builtin_echo(struct commis_call *);
static int	builtin_sha256(struct commis_call *);
static int	builtin_xor(struct commis_call *);
static int	builtin_spin(struct commis_call *);
static int	builtin_sleep(struct commis_call *);
static int	builtin_fault(struct commis_call *);
static int	builtin_fault_exit(struct commis_call *, const char *);
static int	builtin_fault_segv(struct commis_call *);
static void	builtin_fault_hang(void) __attribute__((noreturn));
static int	builtin_fault_oom(struct commis_call *);

/*
 * The input as a short string with surrounding whitespace removed, plus a
 * printable excerpt to quote in an error (input is arbitrary bytes).
 */
static void
builtin_arg(struct commis_call *call, struct builtin_arg *a)
{
	const uint8_t	*p = call->input;
	size_t		 len = call->input_len, i, n;

	while (len > 0 && isspace(p[0])) {
		p++;
		len--;
	}
	while (len > 0 && isspace(p[len - 1]))
		len--;

	n = len < BUILTIN_SHOW_MAX ? len : BUILTIN_SHOW_MAX;
	for (i = 0; i < n; i++)
		a->show[i] = isprint(p[i]) ? (char)p[i] : '?';
	if (n < len)
		memcpy(a->show + n, "...", 4);
	else
		a->show[n] = '\0';

	a->ok = len < sizeof a->s && (len == 0 || memchr(p, '\0', len) == NULL);
	if (!a->ok)
		len = 0;
	if (len != 0)
		memcpy(a->s, p, len);
	a->s[len] = '\0';
}

/* spin and sleep: a decimal number of milliseconds, at most an hour. */
static int
builtin_parse_ms(struct commis_call *call, const char *who, uint64_t *ms)
{
	struct builtin_arg	 a;
	const char		*p;
	uint64_t		 v = 0;

	builtin_arg(call, &a);
	if (!a.ok || a.s[0] == '\0')
		goto bad;
	for (p = a.s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > BUILTIN_MS_MAX) {
			call->error(call, "%s: at most %u ms, got '%s'", who,
			    BUILTIN_MS_MAX, a.show);
			return -1;
		}
	}
	*ms = v;
	return 0;

bad:
	call->error(call, "%s: expected milliseconds, got '%s'", who, a.show);
	return -1;
}

static uint64_t
builtin_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* pass_input: a segment goes back as it came, without a copy. */
static int
builtin_echo(struct commis_call *call)
{
	if (call->pass_input(call) == -1) {
		call->error(call, "echo: result too large");
		return -1;
	}
	return 0;
}

static int
builtin_sha256(struct commis_call *call)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	char			 out[2 * EVP_MAX_MD_SIZE];
	unsigned int		 mdlen, i;
	const void		*in;

	in = call->input_len != 0 ? (const void *)call->input : "";
	if (EVP_Digest(in, call->input_len, md, &mdlen, EVP_sha256(),
	    NULL) != 1) {
		call->error(call, "sha256: digest failed");
		return -1;
	}
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	if (call->write(call, out, 2 * (size_t)mdlen) == -1) {
		call->error(call, "sha256: result too large");
		return -1;
	}
	return 0;
}

/*
 * Every byte XORed with 0x5a, so that applying it twice gives the input
 * back. In place when the job is (input_rw), else as output, through a
 * stack buffer: the input may be a mapped segment far larger than any
 * allocation we would want to make.
 */
static int
builtin_xor(struct commis_call *call)
{
	uint8_t	buf[BUILTIN_XOR_CHUNK];
	size_t	off, n, i;

	if (call->input_rw != NULL) {
		for (i = 0; i < call->input_len; i++)
			call->input_rw[i] ^= BUILTIN_XOR_KEY;
		return 0;
	}
	for (off = 0; off < call->input_len; off += n) {
		n = call->input_len - off;
		if (n > sizeof buf)
			n = sizeof buf;
		for (i = 0; i < n; i++)
			buf[i] = call->input[off + i] ^ BUILTIN_XOR_KEY;
		if (call->write(call, buf, n) == -1) {
			call->error(call, "xor: result too large");
			return -1;
		}
	}
	return 0;
}

/*
 * Burns CPU until the wall clock says ms have passed: on a busy machine
 * the job takes as long as asked, not as long as some CPU budget. The
 * xorshift state is folded into a volatile so the loop cannot be removed.
 */
static int
builtin_spin(struct commis_call *call)
{
	volatile uint64_t	 sink;
	uint64_t		 ms, x, now, end, next_check;
	unsigned		 i;

	if (builtin_parse_ms(call, "spin", &ms) == -1)
		return -1;
	now = builtin_now_ns();
	end = now + ms * 1000000u;
	next_check = now;
	x = now | 1;
	while (now < end) {
		if (now >= next_check) {
			if (call->cancelled(call)) {
				call->error(call, "cancelled");
				return -1;
			}
			next_check = now + 1000000u;
		}
		for (i = 0; i < 4096; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		sink = x;
		now = builtin_now_ns();
	}
	(void)sink;
	return 0;
}

/* Sleeps in slices of at most 10 ms so a cancel is seen quickly. */
static int
builtin_sleep(struct commis_call *call)
{
	struct timespec	ts;
	uint64_t	ms, now, end, wake;

	if (builtin_parse_ms(call, "sleep", &ms) == -1)
		return -1;
	now = builtin_now_ns();
	end = now + ms * 1000000u;
	while (now < end) {
		if (call->cancelled(call)) {
			call->error(call, "cancelled");
			return -1;
		}
		wake = end - now > 10000000u ? now + 10000000u : end;
		ts.tv_sec = (time_t)(wake / 1000000000u);
		ts.tv_nsec = (long)(wake % 1000000000u);
		/* EINTR: the loop recomputes and sleeps again. */
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		now = builtin_now_ns();
	}
	return 0;
}

static int
builtin_fault_exit(struct commis_call *call, const char *arg)
{
	const char	*p;
	int		 n = 0;

	if (*arg == '\0')
		goto bad;
	for (p = arg; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		n = n * 10 + (*p - '0');
		if (n > 255)
			goto bad;
	}
	_exit(n);

bad:
	call->error(call, "fault: exit code must be 0-255, got '%s'", arg);
	return -1;
}

/*
 * A real SIGSEGV, even if the signal is blocked on this thread. A handler
 * the process installed sees it first (a thread host notes which job
 * crashed, then dies by it); if that handler returns, or the signal is
 * ignored, the default action follows.
 */
static int
builtin_fault_segv(struct commis_call *call)
{
	sigset_t	set;

	sigemptyset(&set);
	sigaddset(&set, SIGSEGV);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(SIGSEGV);
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
	call->error(call, "fault: segv: still alive");
	return -1;
}

/*
 * Ignores SIGTERM so that only the supervisor's hard kill (SIGKILL after
 * the grace period) ends this process, and never looks at cancellation.
 */
static void
builtin_fault_hang(void)
{
	signal(SIGTERM, SIG_IGN);
	for (;;)
		pause();
}

/*
 * Runs out of memory without endangering a shared host: the address
 * space is capped at what the process already has plus 256 MiB
 * (RLIMIT_AS), then 1 MiB chunks are mapped and touched until the
 * mapping fails, and the process SIGKILLs itself the way the kernel's
 * OOM killer would. Anonymous mmap is what malloc does for chunks this
 * size; calling it directly keeps allocator policies (a sanitizer's
 * "abort on failure") from turning the ending into something else. The
 * chunk count is capped too, in case the limit did not take.
 */
static int
builtin_fault_oom(struct commis_call *call)
{
	struct rlimit	 rl;
	FILE		*f;
	unsigned long	 pages;
	rlim_t		 want;
	void		*p;
	size_t		 i;

	f = fopen("/proc/self/statm", "re");
	if (f == NULL || fscanf(f, "%lu", &pages) != 1) {
		if (f != NULL)
			fclose(f);
		call->error(call, "fault: oom: cannot read memory usage");
		return -1;
	}
	fclose(f);
	if (getrlimit(RLIMIT_AS, &rl) == -1) {
		call->error(call, "fault: oom: getrlimit: %s",
		    strerror(errno));
		return -1;
	}
	want = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) +
	    BUILTIN_OOM_HEADROOM;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > want)
		rl.rlim_cur = want;
	if (setrlimit(RLIMIT_AS, &rl) == -1) {
		call->error(call, "fault: oom: setrlimit: %s",
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < BUILTIN_OOM_MAXCHUNKS; i++) {
		p = mmap(NULL, BUILTIN_OOM_CHUNK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			break;
		memset(p, 0xa5, BUILTIN_OOM_CHUNK);
	}
	raise(SIGKILL);
	for (;;)
		pause();
}

static int
builtin_fault(struct commis_call *call)
{
	struct builtin_arg	a;

	builtin_arg(call, &a);
	if (a.ok && strcmp(a.s, "segv") == 0)
		return builtin_fault_segv(call);
	else if (a.ok && strcmp(a.s, "abort") == 0)
		abort();
	else if (a.ok && strncmp(a.s, "exit:", 5) == 0)
		return builtin_fault_exit(call, a.s + 5);
	else if (a.ok && strcmp(a.s, "hang") == 0)
		builtin_fault_hang();
	else if (a.ok && strcmp(a.s, "oom") == 0)
		return builtin_fault_oom(call);
	call->error(call, "fault: unknown fault '%s' (segv, abort, exit:N, "
	    "hang, oom)", a.show);
	return -1;
}

/*
 * fault is marked thread safe too: it shares no memory between calls, and
 * what it does to the whole process (a signal, an exit, a lowered
 * RLIMIT_AS) is exactly what a thread pool is there to show.
 */
static const struct commis_handler builtin_handlers[] = {
	{ "echo", COMMIS_HANDLER_THREAD_SAFE, NULL, builtin_echo, NULL },
	{ "sha256", COMMIS_HANDLER_THREAD_SAFE, NULL, builtin_sha256, NULL },
	{ "xor", COMMIS_HANDLER_THREAD_SAFE | COMMIS_HANDLER_INPLACE, NULL,
	    builtin_xor, NULL },
	{ "spin", COMMIS_HANDLER_THREAD_SAFE, NULL, builtin_spin, NULL },
	{ "sleep", COMMIS_HANDLER_THREAD_SAFE, NULL, builtin_sleep, NULL },
	{ "fault", COMMIS_HANDLER_THREAD_SAFE, NULL, builtin_fault, NULL },
};

const struct commis_module builtin_module = {
	COMMIS_HANDLER_ABI,
	sizeof builtin_handlers / sizeof builtin_handlers[0],
	builtin_handlers,
};
