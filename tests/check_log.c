/*
 * Logging: the journal's "<N>" format for each level, the human format,
 * JOURNAL_STREAM detection, and the key=value context of pool, worker
 * and job records. Each case logs in a forked child whose stderr is a
 * pipe, so that the global log state and fd 2 of the test stay as they
 * were.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "testlib.h"

/*
 * Runs fn in a child with stderr on a pipe; what it wrote (malloc'd).
 * The child exits with code (fatalx: 1); a check that fails in the child
 * shows as another code.
 */
static char *
capture(void (*fn)(void), int code, pid_t *childp)
{
	char	*out;
	size_t	 len = 0, cap = 65536;
	ssize_t	 n;
	pid_t	 pid;
	int	 p[2], status;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(p[0]);
		if (dup2(p[1], STDERR_FILENO) == -1)
			_exit(120);
		close(p[1]);
		fn();
		_exit(0);
	}
	close(p[1]);
	out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	while (len < cap - 1 && (n = read(p[0], out + len, cap - 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		ck_assert_int_gt(n, 0);
		len += (size_t)n;
	}
	out[len] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == code,
	    "child status %#x; it wrote: %s", status, out);
	if (childp != NULL)
		*childp = pid;
	return out;
}

/* Every level and a multi-line record; fatalx last, as it exits. */
static void
log_all_levels(void)
{
	log_set_level(LOG_LVL_DEBUG);
	log_warnx("warn %d", 1);
	log_info("info");
	log_debug("debug");
	errno = ENOENT;
	log_warn("open %s", "x");
	log_info("two\nlines");
	log_errorx("error");
	fatalx("bye");
}

static void
journal_forced(void)
{
	unsetenv("JOURNAL_STREAM");
	log_init("commisd", LOG_LVL_INFO);
	log_set_format(LOG_FMT_JOURNAL);
	log_all_levels();
}

START_TEST(test_journal_levels)
{
	char	*out = capture(journal_forced, 1, NULL);

	ck_assert_str_eq(out,
	    "<4>warn 1\n"
	    "<6>info\n"
	    "<7>debug\n"
	    "<4>open x: No such file or directory\n"
	    "<6>two\n<6>lines\n"
	    "<3>error\n"
	    "<3>bye\n");
	free(out);
}
END_TEST

static void
human(void)
{
	unsetenv("JOURNAL_STREAM");
	log_init("commisd", LOG_LVL_INFO);
	if (log_get_format() != LOG_FMT_HUMAN)
		_exit(122);
	log_all_levels();
}

START_TEST(test_human_format)
{
	char	 expect[1024], *out;
	pid_t	 pid;

	out = capture(human, 1, &pid);
	snprintf(expect, sizeof expect,
	    "commisd[%1$ld]: warning: warn 1\n"
	    "commisd[%1$ld]: info: info\n"
	    "commisd[%1$ld]: debug: debug\n"
	    "commisd[%1$ld]: warning: open x: No such file or directory\n"
	    "commisd[%1$ld]: info: two\nlines\n"
	    "commisd[%1$ld]: error: error\n"
	    "commisd[%1$ld]: error: bye\n", (long)pid);
	ck_assert_str_eq(out, expect);
	free(out);
}
END_TEST

/* JOURNAL_STREAM set to fd 2's device:inode, plus delta on the inode. */
static void
set_journal_stream(unsigned long long delta)
{
	struct stat	st;
	char		v[64];

	if (fstat(STDERR_FILENO, &st) == -1)
		_exit(121);
	snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino + delta);
	setenv("JOURNAL_STREAM", v, 1);
}

static void
stream_matches(void)
{
	set_journal_stream(0);
	log_init("commisd", LOG_LVL_INFO);
	log_info("hello");
	log_debug("filtered");
	log_warnx("careful");
}

static void
stream_other(void)
{
	set_journal_stream(1);		/* stderr is not that stream */
	log_init("commisd", LOG_LVL_INFO);
	log_info("hello");
	setenv("JOURNAL_STREAM", "garbage", 1);
	log_init("commisd", LOG_LVL_INFO);
	log_info("again");
}

START_TEST(test_journal_stream_detection)
{
	char	 expect[256], *out;
	pid_t	 pid;

	out = capture(stream_matches, 0, NULL);
	ck_assert_str_eq(out, "<6>hello\n<4>careful\n");
	free(out);

	out = capture(stream_other, 0, &pid);
	snprintf(expect, sizeof expect, "commisd[%1$ld]: info: hello\n"
	    "commisd[%1$ld]: info: again\n", (long)pid);
	ck_assert_str_eq(out, expect);
	free(out);
}
END_TEST

static void
context(void)
{
	unsetenv("JOURNAL_STREAM");
	log_init("commisd", LOG_LVL_INFO);
	log_set_format(LOG_FMT_JOURNAL);
	log_pool(LOG_LVL_INFO, "p", "scaled from %u to %u workers", 2, 4);
	log_worker(LOG_LVL_WARN, "p", 3, 977L, "exited: %s", "signal 11");
	log_worker(LOG_LVL_WARN, "p", 3, 977L, "job=%llu timed out", 42ULL);
	log_job(LOG_LVL_INFO, "p", 18446744073709551615ULL, "succeeded");
	log_job(LOG_LVL_DEBUG, "p", 1, "filtered by the level");
	log_pool(LOG_LVL_INFO, "a b\"c", "quoted");
	log_pool(LOG_LVL_INFO, NULL, "no pool");
	log_pool(LOG_LVL_ERROR, "x=y", "%s", "");
}

START_TEST(test_context_prefix)
{
	char	*out = capture(context, 0, NULL);

	ck_assert_str_eq(out,
	    "<6>pool=p scaled from 2 to 4 workers\n"
	    "<4>pool=p worker=3 pid=977 exited: signal 11\n"
	    "<4>pool=p worker=3 pid=977 job=42 timed out\n"
	    "<6>pool=p job=18446744073709551615 succeeded\n"
	    "<6>pool=\"a b\\\"c\" quoted\n"
	    "<6>pool=- no pool\n"
	    "<3>pool=\"x=y\" \n");
	free(out);
}
END_TEST

static void
context_human(void)
{
	unsetenv("JOURNAL_STREAM");
	log_init("commisd", LOG_LVL_INFO);
	log_worker(LOG_LVL_WARN, "p", 0, 977L, "exited: signal 11 (SIGSEGV)");
}

START_TEST(test_context_human)
{
	char	 expect[256], *out;
	pid_t	 pid;

	out = capture(context_human, 0, &pid);
	snprintf(expect, sizeof expect, "commisd[%ld]: warning: pool=p "
	    "worker=0 pid=977 exited: signal 11 (SIGSEGV)\n", (long)pid);
	ck_assert_str_eq(out, expect);
	free(out);
}
END_TEST

/* --syslog: nothing goes to stderr (syslog(3) has no LOG_PERROR). */
static void
to_syslog(void)
{
	unsetenv("JOURNAL_STREAM");
	log_init("commisd-test", LOG_LVL_INFO);
	log_open_syslog();
	log_debug("filtered");
	log_info("commis log test: to syslog, not stderr");
}

START_TEST(test_syslog_not_stderr)
{
	char	*out = capture(to_syslog, 0, NULL);

	ck_assert_str_eq(out, "");
	free(out);
}
END_TEST

START_TEST(test_format_parse)
{
	enum log_format	f = LOG_FMT_HUMAN;

	ck_assert_int_eq(log_format_parse("journal", &f), 0);
	ck_assert_int_eq(f, LOG_FMT_JOURNAL);
	ck_assert_int_eq(log_format_parse("human", &f), 0);
	ck_assert_int_eq(f, LOG_FMT_HUMAN);
	ck_assert_int_eq(log_format_parse("json", &f), -1);
	ck_assert_int_eq(log_format_parse("", &f), -1);
}
END_TEST

Suite *
log_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("format");

	tcase_add_test(tc, test_journal_levels);
	tcase_add_test(tc, test_human_format);
	tcase_add_test(tc, test_journal_stream_detection);
	tcase_add_test(tc, test_context_prefix);
	tcase_add_test(tc, test_context_human);
	tcase_add_test(tc, test_syslog_not_stderr);
	tcase_add_test(tc, test_format_parse);
	suite_add_tcase(s, tc);
	return s;
}
