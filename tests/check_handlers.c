/*
 * The handler registry and the built-in handlers, called directly through
 * an in-test struct commis_call (no worker, no supervisor). Faults run in
 * a child forked by the test, so the test process itself survives them.
 * No test assumes a machine speed: times are only ever lower bounds.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commis/proto.h"
#include "handlers.h"
#include "testlib.h"

struct tcall {
	struct commis_call	 c;
	char			*out;
	size_t			 len;
	size_t			 limit;		/* write fails beyond this */
	char			 err[COMMIS_TEXT_MAX];
	int			 nerr;
	int			 cancel_after;	/* -1: never cancelled */
	int			 ncancel;	/* cancelled() calls */
	int			 npass;		/* pass_input() calls */
};

static int
tcall_write(struct commis_call *c, const void *p, size_t n)
{
	struct tcall	*t = c->priv;
	char		*out;

	if (n > t->limit - t->len)
		return -1;
	if ((out = realloc(t->out, t->len + n + 1)) == NULL)
		return -1;
	t->out = out;
	memcpy(t->out + t->len, p, n);
	t->len += n;
	t->out[t->len] = '\0';
	return 0;
}

static void __attribute__((format(printf, 2, 3)))
tcall_error(struct commis_call *c, const char *fmt, ...)
{
	struct tcall	*t = c->priv;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(t->err, sizeof t->err, fmt, ap);
	va_end(ap);
	t->nerr++;
}

/* The copy a worker makes for inline input. */
static int
tcall_pass_input(struct commis_call *c)
{
	struct tcall	*t = c->priv;

	t->npass++;
	return tcall_write(c, c->input, c->input_len);
}

static int
tcall_cancelled(struct commis_call *c)
{
	struct tcall	*t = c->priv;

	t->ncancel++;
	return t->cancel_after >= 0 && t->ncancel > t->cancel_after;
}

static void
tcall_init(struct tcall *t, const char *input)
{
	memset(t, 0, sizeof *t);
	t->c.input = (const uint8_t *)input;
	t->c.input_len = strlen(input);
	t->c.write = tcall_write;
	t->c.error = tcall_error;
	t->c.cancelled = tcall_cancelled;
	t->c.pass_input = tcall_pass_input;
	t->c.priv = t;
	t->limit = SIZE_MAX;
	t->cancel_after = -1;
}

static void
tcall_free(struct tcall *t)
{
	free(t->out);
	t->out = NULL;
}

/* An in-place call on buf, as a worker makes for an in-place segment. */
static void
tcall_init_rw(struct tcall *t, uint8_t *buf, size_t len)
{
	tcall_init(t, "");
	t->c.input = buf;
	t->c.input_len = len;
	t->c.input_rw = buf;
}

/* Runs a handler of set (the built-ins when set is NULL) on input. */
static int
run(struct handler_set *set, const char *name, struct tcall *t)
{
	struct handler_set	*own = NULL;
	struct handler_ent	*ent;
	int			 rc;

	if (set == NULL)
		set = own = handlers_new();
	ck_assert_ptr_nonnull(set);
	ent = handlers_find(set, name);
	ck_assert_msg(ent != NULL, "no handler %s", name);
	t->c.state = ent->state;
	rc = ent->h->run(&t->c);
	handlers_free(own);
	return rc;
}

static double
cpu_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

START_TEST(test_builtin_set)
{
	static const char *const names[] = {
		"echo", "sha256", "xor", "spin", "sleep", "fault", "aggregate"
	};
	struct handler_set	*set;
	struct handler_ent	*ent;
	size_t			 i;

	set = handlers_new();
	ck_assert_ptr_nonnull(set);
	ck_assert_uint_eq(handlers_count(set), 7);
	for (i = 0; i < 7; i++) {
		ent = handlers_find(set, names[i]);
		ck_assert_ptr_nonnull(ent);
		ck_assert_str_eq(ent->h->name, names[i]);
		ck_assert(ent->h->flags & COMMIS_HANDLER_THREAD_SAFE);
		/* Only xor works in place. */
		ck_assert_int_eq(!!(ent->h->flags & COMMIS_HANDLER_INPLACE),
		    strcmp(names[i], "xor") == 0);
		ck_assert_int_eq(ent->inited, 0);
		ck_assert_ptr_nonnull(handlers_at(set, i));
	}
	ck_assert_ptr_null(handlers_at(set, 7));
	ck_assert_ptr_null(handlers_find(set, "nope"));
	ck_assert_ptr_null(handlers_find(set, ""));
	ck_assert_int_eq(handlers_init(set, NULL), 0);
	handlers_fini(set);
	handlers_free(set);
	handlers_free(NULL);
}
END_TEST

START_TEST(test_echo)
{
	struct tcall	t;

	/* Through pass_input, so that a segment goes back uncopied. */
	tcall_init(&t, "hello\nworld");
	ck_assert_int_eq(run(NULL, "echo", &t), 0);
	ck_assert_int_eq(t.npass, 1);
	ck_assert_uint_eq(t.len, 11);
	ck_assert_str_eq(t.out, "hello\nworld");
	tcall_free(&t);

	tcall_init(&t, "");
	ck_assert_int_eq(run(NULL, "echo", &t), 0);
	ck_assert_uint_eq(t.len, 0);
	ck_assert_int_eq(t.nerr, 0);
	tcall_free(&t);

	/* A result over the limit is the handler's error. */
	tcall_init(&t, "too long");
	t.limit = 4;
	ck_assert_int_ne(run(NULL, "echo", &t), 0);
	ck_assert_int_eq(t.nerr, 1);
	ck_assert_str_eq(t.err, "echo: result too large");
	tcall_free(&t);
}
END_TEST

START_TEST(test_sha256)
{
	struct tcall	t;

	tcall_init(&t, "");
	ck_assert_int_eq(run(NULL, "sha256", &t), 0);
	ck_assert_str_eq(t.out, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	tcall_free(&t);

	tcall_init(&t, "abc");
	ck_assert_int_eq(run(NULL, "sha256", &t), 0);
	ck_assert_uint_eq(t.len, 64);
	ck_assert_str_eq(t.out, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	tcall_free(&t);
}
END_TEST

/* xor of every byte with 0x5a, as output. */
static uint8_t *
xored(const uint8_t *in, size_t len)
{
	uint8_t	*out;
	size_t	 i;

	out = malloc(len + 1);
	ck_assert_ptr_nonnull(out);
	for (i = 0; i < len; i++)
		out[i] = in[i] ^ 0x5a;
	return out;
}

START_TEST(test_xor)
{
	struct tcall	 t, t2;
	uint8_t		*in, *want;
	size_t		 n = 200000, i;	/* several 64 KiB chunks */

	tcall_init(&t, "abc");
	ck_assert_int_eq(run(NULL, "xor", &t), 0);
	ck_assert_uint_eq(t.len, 3);
	ck_assert_mem_eq(t.out, "\x3b\x38\x39", 3);
	tcall_free(&t);

	tcall_init(&t, "");
	ck_assert_int_eq(run(NULL, "xor", &t), 0);
	ck_assert_uint_eq(t.len, 0);
	ck_assert_int_eq(t.nerr, 0);
	tcall_free(&t);

	in = malloc(n);
	ck_assert_ptr_nonnull(in);
	for (i = 0; i < n; i++)
		in[i] = (uint8_t)(i * 31 + i / 256);
	want = xored(in, n);
	tcall_init(&t, "");
	t.c.input = in;
	t.c.input_len = n;
	ck_assert_int_eq(run(NULL, "xor", &t), 0);
	ck_assert_uint_eq(t.len, n);
	ck_assert_mem_eq(t.out, want, n);
	/* Twice gives the input back. */
	tcall_init(&t2, "");
	t2.c.input = (const uint8_t *)t.out;
	t2.c.input_len = t.len;
	ck_assert_int_eq(run(NULL, "xor", &t2), 0);
	ck_assert_uint_eq(t2.len, n);
	ck_assert_mem_eq(t2.out, in, n);
	tcall_free(&t2);
	tcall_free(&t);

	/* A result over the limit is the handler's error. */
	tcall_init(&t, "");
	t.c.input = in;
	t.c.input_len = n;
	t.limit = 70000;
	ck_assert_int_ne(run(NULL, "xor", &t), 0);
	ck_assert_str_eq(t.err, "xor: result too large");
	tcall_free(&t);
	free(want);
	free(in);
}
END_TEST

START_TEST(test_xor_inplace)
{
	struct tcall	 t;
	uint8_t		*buf, *orig, *want;
	size_t		 n = 150001, i;

	buf = malloc(n);
	orig = malloc(n);
	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(orig);
	for (i = 0; i < n; i++)
		orig[i] = buf[i] = (uint8_t)(i ^ (i >> 8));
	want = xored(orig, n);

	tcall_init_rw(&t, buf, n);
	ck_assert_int_eq(run(NULL, "xor", &t), 0);
	ck_assert_int_eq(t.nerr, 0);
	ck_assert_uint_eq(t.len, 0);		/* no output in place */
	ck_assert_ptr_null(t.out);
	ck_assert_mem_eq(buf, want, n);

	tcall_init_rw(&t, buf, n);
	ck_assert_int_eq(run(NULL, "xor", &t), 0);
	ck_assert_uint_eq(t.len, 0);
	ck_assert_mem_eq(buf, orig, n);

	tcall_init_rw(&t, buf, 0);
	ck_assert_int_eq(run(NULL, "xor", &t), 0);
	ck_assert_uint_eq(t.len, 0);
	free(want);
	free(orig);
	free(buf);
}
END_TEST

/*
 * spin burns CPU for wall-clock time: 20 ms of it should cost at least
 * 15 ms of CPU. On a loaded machine the scheduler may give us less than
 * that without any fault of the handler, so the load-independent check is
 * that the thread never blocked (no voluntary context switch) for 20 ms
 * of wall time. The CPU bound is required of the best of a few tries,
 * except when every try was preempted by the scheduler.
 */
START_TEST(test_spin_burns_cpu)
{
	struct rusage	ru0, ru1;
	struct tcall	t;
	double		c0, c1, best = 0;
	uint64_t	t0;
	int		i, preempted = 1;

	for (i = 0; i < 5 && best < 15; i++) {
		tcall_init(&t, " 20\n");
		getrusage(RUSAGE_THREAD, &ru0);
		t0 = test_now_ms();
		c0 = cpu_ms();
		ck_assert_int_eq(run(NULL, "spin", &t), 0);
		c1 = cpu_ms();
		getrusage(RUSAGE_THREAD, &ru1);
		ck_assert_uint_ge(test_now_ms() - t0, 20);
		ck_assert_msg(ru1.ru_nvcsw == ru0.ru_nvcsw,
		    "spin blocked %ld times", ru1.ru_nvcsw - ru0.ru_nvcsw);
		if (c1 - c0 > best)
			best = c1 - c0;
		if (c1 - c0 < 15 && ru1.ru_nivcsw == ru0.ru_nivcsw)
			preempted = 0;
		ck_assert_int_eq(t.nerr, 0);
		ck_assert_uint_eq(t.len, 0);
		ck_assert_int_ge(t.ncancel, 1);
		tcall_free(&t);
	}
	ck_assert_msg(best >= 15 || preempted,
	    "spin 20 used %.1f ms of CPU without being preempted", best);

	tcall_init(&t, "0");
	ck_assert_int_eq(run(NULL, "spin", &t), 0);
	tcall_free(&t);
}
END_TEST

START_TEST(test_sleep)
{
	struct tcall	t;
	uint64_t	t0;

	tcall_init(&t, "20\n");
	t0 = test_now_ms();
	ck_assert_int_eq(run(NULL, "sleep", &t), 0);
	ck_assert_uint_ge(test_now_ms() - t0, 20);
	ck_assert_int_eq(t.nerr, 0);
	ck_assert_uint_eq(t.len, 0);
	ck_assert_int_ge(t.ncancel, 2);		/* slices of <= 10 ms */
	tcall_free(&t);
}
END_TEST

static void
check_bad_ms(const char *name, const char *input, const char *want)
{
	struct tcall	t;

	tcall_init(&t, input);
	ck_assert_int_ne(run(NULL, name, &t), 0);
	ck_assert_int_eq(t.nerr, 1);
	ck_assert_str_eq(t.err, want);
	ck_assert_uint_eq(t.len, 0);
	tcall_free(&t);
}

START_TEST(test_bad_ms)
{
	check_bad_ms("spin", "abc", "spin: expected milliseconds, got 'abc'");
	check_bad_ms("sleep", "abc",
	    "sleep: expected milliseconds, got 'abc'");
	check_bad_ms("spin", "", "spin: expected milliseconds, got ''");
	check_bad_ms("sleep", " \n", "sleep: expected milliseconds, got ''");
	check_bad_ms("spin", "-5", "spin: expected milliseconds, got '-5'");
	check_bad_ms("sleep", "1 2", "sleep: expected milliseconds, got '1 2'");
	check_bad_ms("spin", "3600001",
	    "spin: at most 3600000 ms, got '3600001'");
	check_bad_ms("sleep", "99999999999999999999999",
	    "sleep: at most 3600000 ms, got '99999999999999999999999'");
	check_bad_ms("spin", "1\x01",
	    "spin: expected milliseconds, got '1?'");
	check_bad_ms("sleep",
	    "x0123456789012345678901234567890123456789",
	    "sleep: expected milliseconds, got "
	    "'x0123456789012345678901234567890...'");
}
END_TEST

/*
 * Asked for an hour, cancelled at the fourth check: the handler must stop
 * then with "cancelled". If it ignored cancellation, the tcase timeout
 * would fail the test; no clock is read here.
 */
static void
check_cancel(const char *name)
{
	struct tcall	t;

	tcall_init(&t, "3600000");
	t.cancel_after = 3;
	ck_assert_int_ne(run(NULL, name, &t), 0);
	ck_assert_int_eq(t.ncancel, 4);
	ck_assert_int_eq(t.nerr, 1);
	ck_assert_str_eq(t.err, "cancelled");
	tcall_free(&t);

	tcall_init(&t, "3600000");
	t.cancel_after = 0;
	ck_assert_int_ne(run(NULL, name, &t), 0);
	ck_assert_int_eq(t.ncancel, 1);
	ck_assert_str_eq(t.err, "cancelled");
	tcall_free(&t);
}

START_TEST(test_cancel)
{
	check_cancel("spin");
	check_cancel("sleep");
}
END_TEST

/* Runs fault with input in a forked child; returns its wait status. */
static int
fault_child(const char *input)
{
	struct tcall	t;
	pid_t		pid;
	int		st;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		/* As in a worker (worker_start()): no sanitizer's handler. */
		signal(SIGSEGV, SIG_DFL);
		tcall_init(&t, input);
		run(NULL, "fault", &t);
		_exit(100);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

START_TEST(test_fault_segv)
{
	int	st = fault_child("segv\n");

	ck_assert_msg(WIFSIGNALED(st), "status %#x", st);
	ck_assert_int_eq(WTERMSIG(st), SIGSEGV);
}
END_TEST

START_TEST(test_fault_abort)
{
	int	st = fault_child("abort");

	ck_assert_msg(WIFSIGNALED(st), "status %#x", st);
	ck_assert_int_eq(WTERMSIG(st), SIGABRT);
}
END_TEST

START_TEST(test_fault_exit)
{
	int	st;

	st = fault_child("exit:3");
	ck_assert_msg(WIFEXITED(st), "status %#x", st);
	ck_assert_int_eq(WEXITSTATUS(st), 3);
	st = fault_child("exit:0\n");
	ck_assert_msg(WIFEXITED(st), "status %#x", st);
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	st = fault_child("exit:255");
	ck_assert_msg(WIFEXITED(st), "status %#x", st);
	ck_assert_int_eq(WEXITSTATUS(st), 255);
}
END_TEST

START_TEST(test_fault_oom)
{
	int	st = fault_child("oom");

	ck_assert_msg(WIFSIGNALED(st), "status %#x", st);
	ck_assert_int_eq(WTERMSIG(st), SIGKILL);
}
END_TEST

/* Whether pid ignores sig, from /proc/pid/status's SigIgn mask. */
static int
ignores(pid_t pid, int sig)
{
	char			 path[64], line[256];
	unsigned long long	 mask;
	FILE			*f;
	int			 found = 0;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "SigIgn: %llx", &mask) == 1) {
			found = (mask >> (sig - 1)) & 1;
			break;
		}
	}
	fclose(f);
	return found;
}

/*
 * hang must survive SIGTERM (only the hard kill ends it). We wait until
 * the child ignores SIGTERM before sending it, instead of sleeping.
 */
START_TEST(test_fault_hang)
{
	struct tcall	t;
	uint64_t	t0;
	pid_t		pid;
	int		st;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		tcall_init(&t, "hang");
		t.cancel_after = 0;		/* ignored by hang */
		run(NULL, "fault", &t);
		_exit(100);
	}
	t0 = test_now_ms();
	while (!ignores(pid, SIGTERM)) {
		ck_assert_int_eq(waitpid(pid, &st, WNOHANG), 0);
		if (test_now_ms() - t0 > 10000) {
			kill(pid, SIGKILL);
			ck_abort_msg("child never ignored SIGTERM");
		}
		usleep(1000);
	}
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	t0 = test_now_ms();
	while (test_now_ms() - t0 < 100) {
		ck_assert_int_eq(waitpid(pid, &st, WNOHANG), 0);
		usleep(5000);
	}
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st));
	ck_assert_int_eq(WTERMSIG(st), SIGKILL);
}
END_TEST

static void
check_bad_fault(const char *input, const char *want)
{
	struct tcall	t;

	tcall_init(&t, input);
	ck_assert_int_ne(run(NULL, "fault", &t), 0);
	ck_assert_int_eq(t.nerr, 1);
	ck_assert_str_eq(t.err, want);
	tcall_free(&t);
}

START_TEST(test_fault_unknown)
{
	check_bad_fault("boom",
	    "fault: unknown fault 'boom' (segv, abort, exit:N, hang, oom)");
	check_bad_fault("",
	    "fault: unknown fault '' (segv, abort, exit:N, hang, oom)");
	check_bad_fault("SEGV",
	    "fault: unknown fault 'SEGV' (segv, abort, exit:N, hang, oom)");
	check_bad_fault("exit:256",
	    "fault: exit code must be 0-255, got '256'");
	check_bad_fault("exit:",
	    "fault: exit code must be 0-255, got ''");
	check_bad_fault("exit:-1",
	    "fault: exit code must be 0-255, got '-1'");
}
END_TEST

static struct handler_set *
load_testmod(void)
{
	struct handler_set	*set;
	char			*cause = NULL;

	set = handlers_new();
	ck_assert_ptr_nonnull(set);
	ck_assert_msg(handlers_load(set, test_build_path("testmod.so"),
	    &cause) == 0, "load: %s", cause);
	ck_assert_ptr_null(cause);
	return set;
}

START_TEST(test_load)
{
	struct handler_set	*set;
	struct handler_ent	*ent;
	struct tcall		 t;
	char			*cause = NULL, want[64];

	set = load_testmod();
	ck_assert_uint_eq(handlers_count(set), 13);
	ck_assert_ptr_nonnull(handlers_find(set, "echo"));
	ent = handlers_find(set, "test.state");
	ck_assert_ptr_nonnull(ent);
	ck_assert_int_eq(ent->inited, 0);

	/* Before init, test.state has no state. */
	tcall_init(&t, "");
	ck_assert_int_ne(run(set, "test.state", &t), 0);
	ck_assert_str_eq(t.err, "test.state: init did not run");
	tcall_free(&t);

	ck_assert_msg(handlers_init(set, &cause) == 0, "init: %s", cause);
	ck_assert_int_eq(ent->inited, 1);
	ck_assert_ptr_nonnull(ent->state);

	tcall_init(&t, "Hello, world 42");
	ck_assert_int_eq(run(set, "test.upper", &t), 0);
	ck_assert_str_eq(t.out, "HELLO, WORLD 42");
	tcall_free(&t);

	tcall_init(&t, "");
	ck_assert_int_eq(run(set, "test.state", &t), 0);
	snprintf(want, sizeof want, "init pid %ld", (long)getpid());
	ck_assert_str_eq(t.out, want);
	tcall_free(&t);

	tcall_init(&t, "x");
	ck_assert_int_ne(run(set, "test.fail", &t), 0);
	ck_assert_str_eq(t.err, "test.fail: as asked");
	tcall_free(&t);

	tcall_init(&t, "30\n");
	ck_assert_int_eq(run(set, "test.big", &t), 0);
	ck_assert_str_eq(t.out, "abcdefghijklmnopqrstuvwxyzabcd");
	tcall_free(&t);

	handlers_fini(set);
	ck_assert_int_eq(ent->inited, 0);
	ck_assert_ptr_null(ent->state);
	handlers_free(set);
}
END_TEST

/* A second load of the same module clashes; the set is left as it was. */
START_TEST(test_load_duplicate)
{
	struct handler_set	*set;
	struct tcall		 t;
	char			*cause = NULL, want[4200];

	set = load_testmod();
	ck_assert_int_eq(handlers_load(set, test_build_path("testmod.so"),
	    &cause), -1);
	ck_assert_ptr_nonnull(cause);
	snprintf(want, sizeof want, "%s: handler 'test.upper' already defined",
	    test_build_path("testmod.so"));
	ck_assert_str_eq(cause, want);
	free(cause);
	ck_assert_uint_eq(handlers_count(set), 13);

	/* The failed load's dlclose must not have unmapped the first one. */
	tcall_init(&t, "abc");
	ck_assert_int_eq(run(set, "test.upper", &t), 0);
	ck_assert_str_eq(t.out, "ABC");
	tcall_free(&t);
	handlers_free(set);
}
END_TEST

static void
check_load_fails(const char *path, const char *want)
{
	struct handler_set	*set;
	char			*cause = NULL;

	set = handlers_new();
	ck_assert_ptr_nonnull(set);
	ck_assert_int_eq(handlers_load(set, path, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strncmp(cause, path, strlen(path)) == 0 &&
	    strstr(cause, want) != NULL, "cause '%s', want '%s'", cause, want);
	ck_assert_uint_eq(handlers_count(set), 7);
	free(cause);
	handlers_free(set);
}

START_TEST(test_load_errors)
{
	check_load_fails(test_build_path("no-such-module.so"),
	    "No such file");
	check_load_fails(test_build_path("testmod_badabi.so"),
	    ": ABI 999, expected 2");
	/* A real shared object without the symbol: libcrypto, linked in. */
	check_load_fails("libcrypto.so.3", ": missing symbol commis_module");
}
END_TEST

/* A failing init() is named, and nothing is left initialised. */
START_TEST(test_init_fails)
{
	struct handler_set	*set;
	size_t			 i;
	char			*cause = NULL;

	set = load_testmod();
	ck_assert_int_eq(setenv("COMMIS_TESTMOD_FAIL_INIT", "1", 1), 0);
	ck_assert_int_eq(handlers_init(set, &cause), -1);
	unsetenv("COMMIS_TESTMOD_FAIL_INIT");
	ck_assert_ptr_nonnull(cause);
	ck_assert_str_eq(cause, "handler test.state: init failed");
	free(cause);
	for (i = 0; i < handlers_count(set); i++)
		ck_assert_int_eq(handlers_at(set, i)->inited, 0);

	/* It can be retried, and then succeeds. */
	ck_assert_int_eq(handlers_init(set, NULL), 0);
	handlers_fini(set);
	handlers_free(set);
}
END_TEST

Suite *
handlers_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("handlers");

	tc = tcase_create("builtins");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_builtin_set);
	tcase_add_test(tc, test_echo);
	tcase_add_test(tc, test_sha256);
	tcase_add_test(tc, test_xor);
	tcase_add_test(tc, test_xor_inplace);
	tcase_add_test(tc, test_spin_burns_cpu);
	tcase_add_test(tc, test_sleep);
	tcase_add_test(tc, test_bad_ms);
	tcase_add_test(tc, test_cancel);
	suite_add_tcase(s, tc);

	tc = tcase_create("fault");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_fault_segv);
	tcase_add_test(tc, test_fault_abort);
	tcase_add_test(tc, test_fault_exit);
	tcase_add_test(tc, test_fault_oom);
	tcase_add_test(tc, test_fault_hang);
	tcase_add_test(tc, test_fault_unknown);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_load);
	tcase_add_test(tc, test_load_duplicate);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_init_fails);
	suite_add_tcase(s, tc);

	return s;
}
