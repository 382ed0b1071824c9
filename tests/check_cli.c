/*
 * The commis command (src/cli.c), run as the built binary with pipes on
 * its stdin, stdout and stderr: usage errors and socket lookup on their
 * own, then every command against a real commisd (testd_start binds its
 * socket before forking, so the CLI can connect at once). Each run gets a
 * clean environment for the socket lookup: no $COMMIS_SOCKET, and
 * $COMMIS_CONFIG naming a file that does not exist, unless a test says
 * otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cli_top.h"
#include "exitcode.h"
#include "testlib.h"
#include "version.h"

#define CLI_POOL_YAML							\
	"pools:\n"							\
	"  - name: clipool\n"						\
	"    workers: 2\n"						\
	"    max_attempts: 1\n"

#define SHA256_ABC							\
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

struct cli_buf {
	char	*p;		/* NUL-terminated */
	size_t	 len;
};

/* Appends what fd has; returns 0 at EOF. */
static int
buf_read(int fd, struct cli_buf *b)
{
	char	chunk[65536];
	ssize_t	n;

	n = read(fd, chunk, sizeof chunk);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 1;
	ck_assert_int_ge(n, 0);
	if (n == 0)
		return 0;
	b->p = realloc(b->p, b->len + (size_t)n + 1);
	ck_assert_ptr_nonnull(b->p);
	memcpy(b->p + b->len, chunk, (size_t)n);
	b->len += (size_t)n;
	b->p[b->len] = '\0';
	return 1;
}

static void
run_child(const char *const *argv, char *const *env, int in, int out,
    int err)
{
	const char	*args[64];
	size_t		 i;

	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1)
		_exit(127);
	unsetenv("COMMIS_SOCKET");
	setenv("COMMIS_CONFIG", "/nonexistent/commis-test.yaml", 1);
	for (i = 0; env != NULL && env[i] != NULL; i++)
		putenv(env[i]);
	args[0] = "commis";
	for (i = 0; argv[i] != NULL && i + 2 < sizeof args / sizeof args[0];
	    i++)
		args[i + 1] = argv[i];
	args[i + 1] = NULL;
	execv(test_build_path("commis"), (char *const *)args);
	_exit(127);
}

/*
 * Runs the built commis with argv (without argv[0]), the "NAME=value"
 * entries of env added to its environment, and stdin_data on its stdin
 * (NULL: empty). Returns the exit code, or 128 + the signal; out and err
 * get everything it wrote.
 */
static int
run_cli_env(const char *const *argv, char *const *env,
    const char *stdin_data, struct cli_buf *out, struct cli_buf *err)
{
	struct pollfd	 pfd[3];
	int		 pin[2], pout[2], perr[2], st, open_fds;
	size_t		 left = stdin_data ? strlen(stdin_data) : 0;
	const char	*p = stdin_data;
	ssize_t		 n;
	pid_t		 pid;

	memset(out, 0, sizeof *out);
	memset(err, 0, sizeof *err);
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe2(pin, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(pout, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(perr, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		run_child(argv, env, pin[0], pout[1], perr[1]);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	fcntl(pin[1], F_SETFL, O_NONBLOCK);

	if (left == 0) {
		close(pin[1]);
		pin[1] = -1;
	}
	open_fds = 2;
	pfd[0].fd = pout[0];
	pfd[1].fd = perr[0];
	pfd[2].fd = pin[1];
	pfd[0].events = pfd[1].events = POLLIN;
	pfd[2].events = POLLOUT;
	while (open_fds > 0 || pfd[2].fd != -1) {
		ck_assert_int_ge(poll(pfd, 3, -1), 0);
		if (pfd[0].revents && !buf_read(pfd[0].fd, out)) {
			pfd[0].fd = -1;
			open_fds--;
		}
		if (pfd[1].revents && !buf_read(pfd[1].fd, err)) {
			pfd[1].fd = -1;
			open_fds--;
		}
		if (pfd[2].fd != -1 && pfd[2].revents) {
			n = write(pfd[2].fd, p, left);
			if (n > 0) {
				p += n;
				left -= (size_t)n;
			}
			if (left == 0 || (n == -1 && errno != EAGAIN)) {
				close(pfd[2].fd);
				pfd[2].fd = -1;
			}
		}
	}
	close(pout[0]);
	close(perr[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	if (out->p == NULL)
		out->p = strdup("");
	if (err->p == NULL)
		err->p = strdup("");
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	ck_assert_msg(WEXITSTATUS(st) != 127, "cannot run %s",
	    test_build_path("commis"));
	return WEXITSTATUS(st);
}

static int
run_cli(const char *const *argv, const char *stdin_data, struct cli_buf *out,
    struct cli_buf *err)
{
	return run_cli_env(argv, NULL, stdin_data, out, err);
}

static void
buf_free(struct cli_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

#define ck_assert_has(b, s)						\
	ck_assert_msg(strstr((b).p, (s)) != NULL,			\
	    "expected \"%s\" in \"%s\"", (s), (b).p)

/* --- without a supervisor --- */

START_TEST(test_usage_errors)
{
	static const char *const bad[][8] = {
		{ NULL },
		{ "frobnicate", NULL },
		{ "--frobnicate", "ping", NULL },
		{ "-s", NULL },
		{ "-s", "", "ping", NULL },
		{ "submit", NULL },
		{ "submit", "echo", "extra", NULL },
		{ "submit", "echo", "--data", NULL },
		{ "submit", "echo", "--data", "x", "--file", "/etc/hosts",
		  NULL },
		{ "submit", "echo", "--timeout", "abc", NULL },
		{ "submit", "echo", "--timeout", "-1", NULL },
		{ "submit", "echo", "--timeout", "4294967296", NULL },
		{ "submit", "echo", "--timeout", " 5", NULL },
		{ "submit", "echo", "--timeout", "", NULL },
		{ "submit", "echo", "--priority", "2147483648", NULL },
		{ "submit", "echo", "--priority", "1x", NULL },
		{ "submit", "echo", "--bogus", NULL },
		{ "submit", "echo", "--file", "/nonexistent/input", NULL },
		{ "stats", "--bogus", NULL },
		{ "stats", "extra", NULL },
		{ "ping", "--count", "0", NULL },
		{ "ping", "--count", "many", NULL },
		{ "help", "frobnicate", NULL },
		{ "submit", "echo", "--delay", "abc", NULL },
		{ "submit", "echo", "--delay", "-1", NULL },
		{ "submit", "echo", "--deadline", "4294967296", NULL },
		{ "submit", "echo", "--deadline", "", NULL },
		{ "submit", "echo", "--no-wait=yes", NULL },
		{ "submit", "echo", "--segment-above", NULL },
		{ "submit", "echo", "--segment-above", "", NULL },
		{ "submit", "echo", "--segment-above", "abc", NULL },
		{ "submit", "echo", "--segment-above", "-1", NULL },
		{ "submit", "echo", "--segment-above", " 1", NULL },
		{ "submit", "echo", "--segment-above", "64KB", NULL },
		{ "submit", "echo", "--segment-above", "1T", NULL },
		{ "submit", "echo", "--segment-above", "257M", NULL },
		{ "submit", "echo", "--segment-above",
		  "99999999999999999999", NULL },
		{ "status", NULL },
		{ "status", "abc", NULL },
		{ "status", "0", NULL },
		{ "status", "-3", NULL },
		{ "status", "12x", NULL },
		{ "status", "18446744073709551616", NULL },
		{ "status", "1", "2", NULL },
		{ "status", "1", "--json", NULL },
		{ "wait", NULL },
		{ "wait", "x", NULL },
		{ "wait", "1", "--timeout", "abc", NULL },
		{ "wait", "1", "--timeout", "-5", NULL },
		{ "wait", "1", "--timeout", NULL },
		{ "wait", "--timeout", "5", NULL },
		{ "cancel", NULL },
		{ "cancel", "one", NULL },
		{ "cancel", "1", "2", NULL },
		{ "reload", "now", NULL },
		{ "reload", "--force", NULL },
		{ "scale", NULL },
		{ "scale", "clipool", NULL },
		{ "scale", "clipool", "abc", NULL },
		{ "scale", "clipool", "3x", NULL },
		{ "scale", "clipool", "-1", NULL },
		{ "scale", "clipool", "4294967296", NULL },
		{ "scale", "clipool", "2", "3", NULL },
		{ "scale", "", "2", NULL },
		{ "reset", NULL },
		{ "reset", "", NULL },
		{ "reset", "a", "b", NULL },
		{ "dead", "extra", NULL },
		{ "dead", "--text", NULL },
		{ "retry", NULL },
		{ "retry", "0", NULL },
		{ "retry", "x1", NULL },
		{ "retry", "1", "2", NULL },
		{ "purge", "all", NULL },
		{ "stats", "--watch", NULL },
		{ "stats", "--watch", "0", NULL },
		{ "stats", "--watch", "0.000", NULL },
		{ "stats", "--watch", "-1", NULL },
		{ "stats", "--watch", "abc", NULL },
		{ "stats", "--watch", "1s", NULL },
		{ "stats", "--watch", "1.2345", NULL },
		{ "stats", "--watch", "2.", NULL },
		{ "stats", "--watch", ".5", NULL },
		{ "stats", "--watch", "86401", NULL },
		{ "stats", "--watch", "99999999999999999999", NULL },
		{ "stats", "--count", "2", NULL },
		{ "stats", "--watch", "1", "--count", "0", NULL },
		{ "stats", "--watch", "1", "--count", "x", NULL },
		{ "top", "extra", NULL },
		{ "top", "--interval", "5", NULL },
		{ "top", "--interval", "3600001", NULL },
		{ "top", "--interval", "1s", NULL },
		{ "top", "--interval", NULL },
		{ "top", "--count", "0", NULL },
		{ "top", "--json", NULL },
		{ "events", "extra", NULL },
		{ "events", "--count", "0", NULL },
		{ "events", "--count", "-1", NULL },
		{ "events", "--count", NULL },
		{ "submit", "echo", "--stats", "--no-wait", NULL },
		{ "submit", "echo", "--stats=yes", NULL },
		{ "wait", "1", "--stats=1", NULL },
	};
	struct cli_buf	out, err;
	size_t		i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(run_cli(bad[i], NULL, &out, &err) ==
		    EXIT_CLI_USAGE, "case %zu (%s %s): wrong exit code", i,
		    bad[i][0] ? bad[i][0] : "", bad[i][0] && bad[i][1] ?
		    bad[i][1] : "");
		ck_assert_msg(err.len > 0, "case %zu: nothing on stderr", i);
		ck_assert_uint_eq(out.len, 0);
		buf_free(&out);
		buf_free(&err);
	}
}
END_TEST

START_TEST(test_version_help)
{
	const char *const	 version[] = { "--version", NULL };
	const char *const	 help[] = { "help", NULL };
	const char *const	 help_submit[] = { "help", "submit", NULL };
	const char *const	 help_reload[] = { "help", "reload", NULL };
	const char *const	 help_top[] = { "help", "top", NULL };
	const char *const	 help_events[] = { "help", "events", NULL };
	const char *const	 help_stats[] = { "help", "stats", NULL };
	struct cli_buf		 out, err;

	ck_assert_int_eq(run_cli(version, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_str_eq(out.p, "commis " COMMIS_VERSION "\n");
	buf_free(&out);
	buf_free(&err);

	/* The usage is generated from the command table: every command. */
	ck_assert_int_eq(run_cli(help, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_has(out, "usage: commis [-s SOCKET]");
	ck_assert_has(out, "submit HANDLER");
	ck_assert_has(out, "stats [--json]");
	ck_assert_has(out, "ping [--count N]");
	ck_assert_has(out, "status ID\n");
	ck_assert_has(out, "cancel ID\n");
	ck_assert_has(out, "  reload\n");
	ck_assert_has(out, "scale POOL N\n");
	ck_assert_has(out, "reset POOL\n");
	ck_assert_has(out, "dead [--json]\n");
	ck_assert_has(out, "retry ID\n");
	ck_assert_has(out, "  purge\n");
	ck_assert_has(out, "stats [--json] [--watch SECONDS [--count N]]\n");
	ck_assert_has(out, "top [--interval MS] [--count N]\n");
	ck_assert_has(out, "events [--count N]\n");
	ck_assert_has(out, "[--no-wait] [--stats]\n");
	ck_assert_has(out, "wait ID [--timeout MS] [--stats]\n");
	ck_assert_str_eq(err.p, "");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_cli(help_submit, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_has(out, "--priority N");
	ck_assert_has(out, "--delay MS");
	ck_assert_has(out, "--deadline MS");
	ck_assert_has(out, "--no-wait");
	ck_assert_has(out, "--segment-above BYTES");
	ck_assert_has(out, "64K");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_cli(help_reload, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_has(out, "usage: commis reload\n");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_cli(help_top, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_has(out, "usage: commis top [--interval MS] [--count N]\n");
	ck_assert_has(out, "q quits");
	ck_assert_has(out, "not a terminal");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_cli(help_events, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_has(out, "JSON");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_cli(help_stats, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_has(out, "--watch");
	ck_assert_has(out, "--- TIME");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_missing_socket)
{
	const char *const	 ping[] = { "-s", "/nonexistent/c.sock", "ping",
	    NULL };
	const char *const	 submit[] = { "-s", "/nonexistent/c.sock",
	    "submit", "echo", "--data", "x", NULL };
	const char *const	 env_ping[] = { "ping", NULL };
	char			*env[] = { "COMMIS_SOCKET=/nonexistent/e.sock",
	    NULL };
	static const char *const good[][7] = {
		{ "submit", "echo", "--no-wait", "--delay", "10",
		  "--deadline=0", NULL },
		{ "submit", "echo", "--segment-above", "0", NULL },
		{ "submit", "echo", "--segment-above=256M", "--data", "x",
		  NULL },
		{ "submit", "echo", "--segment-above", "64k", "--file", "-",
		  NULL },
		{ "status", "18446744073709551615", NULL },
		{ "wait", "--timeout", "0", "7", NULL },
		{ "cancel", "7", NULL },
		{ "reload", NULL },
		{ "scale", "clipool", "0", NULL },
		{ "reset", "clipool", NULL },
		{ "dead", "--json", NULL },
		{ "retry", "7", NULL },
		{ "purge", NULL },
		{ "stats", "--watch", "0.5", "--count", "3", NULL },
		{ "stats", "--json", "--watch=2", NULL },
		{ "stats", "--watch", "86400", NULL },
		{ "top", NULL },
		{ "top", "--interval", "200", "--count", "2", NULL },
		{ "events", NULL },
		{ "events", "--count=5", NULL },
		{ "submit", "echo", "--stats", NULL },
		{ "wait", "7", "--stats", NULL },
	};
	struct cli_buf		 out, err;
	size_t			 i;

	ck_assert_int_eq(run_cli(ping, NULL, &out, &err), EXIT_CLI_CONNECT);
	ck_assert_has(err, "/nonexistent/c.sock");
	ck_assert_has(err, strerror(ENOENT));
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_cli(submit, NULL, &out, &err), EXIT_CLI_CONNECT);
	ck_assert_str_eq(out.p, "");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_cli_env(env_ping, env, NULL, &out, &err),
	    EXIT_CLI_CONNECT);
	ck_assert_has(err, "/nonexistent/e.sock");
	buf_free(&out);
	buf_free(&err);

	/* Valid arguments: every command gets as far as connecting. */
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		ck_assert_msg(run_cli_env(good[i], env, NULL, &out, &err) ==
		    EXIT_CLI_CONNECT, "case %zu (%s): wrong exit code", i,
		    good[i][0]);
		ck_assert_str_eq(out.p, "");
		buf_free(&out);
		buf_free(&err);
	}
}
END_TEST

/* No -s and no $COMMIS_SOCKET: the socket of $COMMIS_CONFIG. */
START_TEST(test_socket_from_config)
{
	const char *const	 ping[] = { "ping", NULL };
	struct cli_buf		 out, err;
	char			*dir, *conf, *env[2];
	FILE			*f;

	dir = test_tmpdir();
	ck_assert_int_ne(asprintf(&conf, "%s/commis.yaml", dir), -1);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "socket: %s/from-config.sock\n%s", dir, CLI_POOL_YAML);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_ne(asprintf(&env[0], "COMMIS_CONFIG=%s", conf), -1);
	env[1] = NULL;

	ck_assert_int_eq(run_cli_env(ping, env, NULL, &out, &err),
	    EXIT_CLI_CONNECT);
	ck_assert_has(err, "from-config.sock");
	buf_free(&out);
	buf_free(&err);

	/* A config that does not load: say so, then try the default. */
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "socket: [unclosed\n");
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(run_cli_env(ping, env, NULL, &out, &err),
	    EXIT_CLI_CONNECT);
	ck_assert_has(err, "did not load");
	ck_assert_has(err, "/run/commis/commis.sock");
	buf_free(&out);
	buf_free(&err);

	free(env[0]);
	free(conf);
	test_rmdir(dir);
	free(dir);
}
END_TEST

/* --- against a real commisd --- */

static struct testd	 cli_d;

static void
cli_setup(void)
{
	testd_start(&cli_d, CLI_POOL_YAML);
}

static void
cli_teardown(void)
{
	testd_stop(&cli_d);
}

/* "commis -s SOCK args..." against cli_d. */
static int
run_d(const char *const *args, const char *stdin_data, struct cli_buf *out,
    struct cli_buf *err)
{
	const char	*argv[32];
	size_t		 i;

	argv[0] = "-s";
	argv[1] = cli_d.sock;
	for (i = 0; args[i] != NULL && i + 3 < sizeof argv / sizeof argv[0];
	    i++)
		argv[i + 2] = args[i];
	argv[i + 2] = NULL;
	return run_cli(argv, stdin_data, out, err);
}

START_TEST(test_submit_echo)
{
	const char *const	 data[] = { "submit", "echo", "--data", "hello",
	    NULL };
	const char *const	 opts[] = { "submit", "--pool", "clipool",
	    "--priority", "-5", "--timeout=10000", "echo", "--data=x y",
	    NULL };
	struct cli_buf		 out, err;

	ck_assert_int_eq(run_d(data, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_str_eq(out.p, "hello");
	ck_assert_str_eq(err.p, "");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_d(opts, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_str_eq(out.p, "x y");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_submit_stdin)
{
	const char *const	 plain[] = { "submit", "echo", NULL };
	const char *const	 dash[] = { "submit", "echo", "--file", "-",
	    NULL };
	const char *const	 empty[] = { "submit", "sha256", NULL };
	struct cli_buf		 out, err;

	ck_assert_int_eq(run_d(plain, "line one\nline two\n", &out, &err),
	    EXIT_CLI_OK);
	ck_assert_str_eq(out.p, "line one\nline two\n");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_d(dash, "dash", &out, &err), EXIT_CLI_OK);
	ck_assert_str_eq(out.p, "dash");
	buf_free(&out);
	buf_free(&err);

	/* Empty stdin is an empty input, not an error. */
	ck_assert_int_eq(run_d(empty, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_str_eq(out.p,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_submit_file)
{
	const char	*argv[] = { "submit", "echo", "--file", NULL, NULL };
	struct cli_buf	 out, err;
	unsigned char	 bytes[70000];
	char		*path;
	size_t		 i;
	FILE		*f;

	/* Binary, with NULs, over one read chunk: written back exactly. */
	for (i = 0; i < sizeof bytes; i++)
		bytes[i] = (unsigned char)(i * 13 + (i >> 9));
	ck_assert_int_ne(asprintf(&path, "%s/input.bin", cli_d.dir), -1);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(bytes, 1, sizeof bytes, f), sizeof bytes);
	ck_assert_int_eq(fclose(f), 0);
	argv[3] = path;

	ck_assert_int_eq(run_d(argv, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_uint_eq(out.len, sizeof bytes);
	ck_assert_int_eq(memcmp(out.p, bytes, sizeof bytes), 0);
	buf_free(&out);
	buf_free(&err);
	free(path);
}
END_TEST

START_TEST(test_submit_sha256)
{
	const char *const	 argv[] = { "submit", "sha256", "--data", "abc",
	    NULL };
	struct cli_buf		 out, err;

	ck_assert_int_eq(run_d(argv, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_str_eq(out.p, SHA256_ABC);
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_submit_failed)
{
	const char *const	 argv[] = { "submit", "fault", "--data",
	    "no-such-fault", NULL };
	struct cli_buf		 out, err;

	ck_assert_int_eq(run_d(argv, NULL, &out, &err), EXIT_CLI_FAILED);
	ck_assert_has(err, "commis: job ");
	ck_assert_has(err, " failed: ");
	ck_assert_has(err, "unknown fault");
	ck_assert_has(err, "(after 1 attempt)");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_submit_crash_exit)
{
	const char *const	 argv[] = { "submit", "fault", "--data",
	    "exit:3", NULL };
	struct cli_buf		 out, err;

	ck_assert_int_eq(run_d(argv, NULL, &out, &err), EXIT_CLI_CRASHED);
	ck_assert_has(err, "crashed");
	ck_assert_has(err, "exit code 3");
	ck_assert_str_eq(out.p, "");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_submit_crash_segv)
{
	const char *const	 argv[] = { "submit", "fault", "--data", "segv",
	    NULL };
	struct cli_buf		 out, err;

	ck_assert_int_eq(run_d(argv, NULL, &out, &err), EXIT_CLI_CRASHED);
	ck_assert_has(err, "SIGSEGV");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_submit_timeout)
{
	const char *const	 argv[] = { "submit", "sleep", "--data", "5000",
	    "--timeout", "200", NULL };
	struct cli_buf		 out, err;
	uint64_t		 t0 = test_now_ms();

	ck_assert_int_eq(run_d(argv, NULL, &out, &err), EXIT_CLI_TIMEDOUT);
	ck_assert_uint_lt(test_now_ms() - t0, 4500);
	ck_assert_has(err, "timedout");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_submit_rejected)
{
	const char *const	 handler[] = { "submit", "no_such_handler",
	    "--data", "x", NULL };
	const char *const	 pool[] = { "submit", "echo", "--pool",
	    "no_such_pool", "--data", "x", NULL };
	struct cli_buf		 out, err;

	ck_assert_int_eq(run_d(handler, NULL, &out, &err), EXIT_CLI_REJECTED);
	ck_assert_has(err, "commis: rejected: no such handler");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_d(pool, NULL, &out, &err), EXIT_CLI_REJECTED);
	ck_assert_has(err, "commis: rejected: no such pool");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_stats)
{
	const char *const	 text[] = { "stats", NULL };
	const char *const	 json[] = { "stats", "--json", NULL };
	struct cli_buf		 out, err;

	ck_assert_int_eq(run_d(text, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_has(out, "clipool");
	ck_assert_uint_gt(out.len, 0);
	ck_assert_int_eq(out.p[out.len - 1], '\n');
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_d(json, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_has(out, "\"clipool\"");
	ck_assert_has(out, "{");
	ck_assert_int_eq(out.p[out.len - 1], '\n');
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_ping)
{
	const char *const	 one[] = { "ping", NULL };
	const char *const	 three[] = { "ping", "--count", "3", NULL };
	struct cli_buf		 out, err;
	char			*want;
	const char		*p;
	int			 n = 0;

	ck_assert_int_ne(asprintf(&want, "pong from %s: time=", cli_d.sock),
	    -1);
	ck_assert_int_eq(run_d(one, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_has(out, want);
	ck_assert_has(out, " ms\n");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_d(three, NULL, &out, &err), EXIT_CLI_OK);
	for (p = out.p; (p = strstr(p, "pong")) != NULL; p++)
		n++;
	ck_assert_int_eq(n, 3);
	buf_free(&out);
	buf_free(&err);
	free(want);
}
END_TEST

/* Without -s: $COMMIS_SOCKET, then the socket of $COMMIS_CONFIG. */
START_TEST(test_socket_lookup)
{
	const char *const	 ping[] = { "ping", NULL };
	struct cli_buf		 out, err;
	char			*env[2];

	ck_assert_int_ne(asprintf(&env[0], "COMMIS_SOCKET=%s", cli_d.sock),
	    -1);
	env[1] = NULL;
	ck_assert_int_eq(run_cli_env(ping, env, NULL, &out, &err),
	    EXIT_CLI_OK);
	ck_assert_has(out, cli_d.sock);
	buf_free(&out);
	buf_free(&err);
	free(env[0]);

	ck_assert_int_ne(asprintf(&env[0], "COMMIS_CONFIG=%s", cli_d.conf),
	    -1);
	ck_assert_int_eq(run_cli_env(ping, env, NULL, &out, &err),
	    EXIT_CLI_OK);
	ck_assert_has(out, cli_d.sock);
	buf_free(&out);
	buf_free(&err);
	free(env[0]);
}
END_TEST

/*
 * --- protocol v2 against a real commisd: jobs by id, operator commands ---
 *
 * Written against docs/protocol.md (version 2) before commisd implemented
 * it. Time checks are lower bounds only: a slow machine must not fail them.
 */

/* The job id that "submit --no-wait" printed: digits and a newline. */
static uint64_t
job_id_of(const struct cli_buf *out)
{
	char			*end;
	unsigned long long	 v;

	ck_assert_msg(out->len > 1 && out->p[0] >= '1' && out->p[0] <= '9',
	    "expected a job id, got \"%s\"", out->p);
	v = strtoull(out->p, &end, 10);
	ck_assert_msg(strcmp(end, "\n") == 0, "expected a job id, got \"%s\"",
	    out->p);
	return v;
}

/* commis ends commisd's text with a newline, unless there was none. */
static void
check_text_end(const struct cli_buf *out)
{
	if (out->len > 0)
		ck_assert_msg(out->p[out->len - 1] == '\n',
		    "no newline at the end of \"%s\"", out->p);
}

/* n appears in text as a number of its own (not inside a longer one). */
static int
has_number(const char *text, uint64_t n)
{
	const char		*p = text;
	char			*end;
	unsigned long long	 v;

	while (*p != '\0') {
		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		v = strtoull(p, &end, 10);
		if (v == n)
			return 1;
		p = end;
	}
	return 0;
}

/* "commis -s SOCK submit --no-wait HANDLER --data DATA [extra]": the id. */
static uint64_t
submit_nowait(const char *handler, const char *data, const char *extra,
    const char *extra_val)
{
	const char	*argv[] = { "submit", "--no-wait", handler, "--data",
	    data, extra, extra_val, NULL };
	struct cli_buf	 out, err;
	uint64_t	 id;

	ck_assert_msg(run_d(argv, NULL, &out, &err) == EXIT_CLI_OK,
	    "submit --no-wait %s: %s", handler, err.p);
	ck_assert_str_eq(err.p, "");
	id = job_id_of(&out);
	buf_free(&out);
	buf_free(&err);
	return id;
}

/* Runs "commis -s SOCK cmd ID [more]" and returns the exit code. */
static int
run_id(const char *cmd, uint64_t id, const char *more, const char *val,
    struct cli_buf *out, struct cli_buf *err)
{
	char		 ids[32];
	const char	*argv[] = { cmd, ids, more, val, NULL };

	snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
	return run_d(argv, NULL, out, err);
}

START_TEST(test_v2_nowait_then_wait)
{
	struct cli_buf	out, err;
	uint64_t	id, id2;

	id = submit_nowait("echo", "hello", NULL, NULL);
	ck_assert_int_eq(run_id("wait", id, NULL, NULL, &out, &err),
	    EXIT_CLI_OK);
	ck_assert_str_eq(out.p, "hello");
	ck_assert_str_eq(err.p, "");
	buf_free(&out);
	buf_free(&err);

	/* Ids are the supervisor's: each job gets a new one. */
	id2 = submit_nowait("sha256", "abc", NULL, NULL);
	ck_assert_uint_ne(id2, id);
	ck_assert_int_eq(run_id("wait", id2, "--timeout", "20000", &out,
	    &err), EXIT_CLI_OK);
	ck_assert_str_eq(out.p, SHA256_ABC);
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_v2_status)
{
	struct cli_buf	out, err;
	uint64_t	id;
	char		want[128];

	id = submit_nowait("echo", "x", NULL, NULL);
	ck_assert_int_eq(run_id("wait", id, NULL, NULL, &out, &err),
	    EXIT_CLI_OK);
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_id("status", id, NULL, NULL, &out, &err),
	    EXIT_CLI_OK);
	snprintf(want, sizeof want, "job %llu: done (succeeded) after 1 "
	    "attempt, pool clipool, handler echo\n", (unsigned long long)id);
	ck_assert_str_eq(out.p, want);
	ck_assert_str_eq(err.p, "");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_id("status", 987654321, NULL, NULL, &out, &err),
	    EXIT_CLI_REJECTED);
	ck_assert_has(err, "commis: rejected: no such job");
	ck_assert_str_eq(out.p, "");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_id("wait", 987654321, NULL, NULL, &out, &err),
	    EXIT_CLI_REJECTED);
	ck_assert_has(err, "no such job");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_v2_cancel)
{
	struct cli_buf	out, err;
	uint64_t	id;

	id = submit_nowait("sleep", "10000", NULL, NULL);
	/* A wait that runs out says so; the job goes on. */
	ck_assert_int_eq(run_id("wait", id, "--timeout", "200", &out, &err),
	    EXIT_CLI_TIMEDOUT);
	ck_assert_has(err, "wait timed out");
	ck_assert_str_eq(out.p, "");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_id("cancel", id, NULL, NULL, &out, &err),
	    EXIT_CLI_OK);
	ck_assert_uint_gt(out.len, 0);
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_id("wait", id, NULL, NULL, &out, &err),
	    EXIT_CLI_CANCELLED);
	ck_assert_has(err, "cancelled");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_id("status", id, NULL, NULL, &out, &err),
	    EXIT_CLI_OK);
	ck_assert_has(out, "done (cancelled)");
	buf_free(&out);
	buf_free(&err);

	/* Already terminal. */
	ck_assert_int_eq(run_id("cancel", id, NULL, NULL, &out, &err),
	    EXIT_CLI_REJECTED);
	ck_assert_has(err, "commis: rejected: not possible in this state");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_id("cancel", 987654321, NULL, NULL, &out, &err),
	    EXIT_CLI_REJECTED);
	ck_assert_has(err, "no such job");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_v2_delay)
{
	const char *const	 argv[] = { "submit", "--delay", "300", "echo",
	    "--data", "later", NULL };
	struct cli_buf		 out, err;
	uint64_t		 t0, id;

	t0 = test_now_ms();
	ck_assert_int_eq(run_d(argv, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_uint_ge(test_now_ms() - t0, 300);
	ck_assert_str_eq(out.p, "later");
	buf_free(&out);
	buf_free(&err);

	/* A job still in its delay is "delayed", and can be cancelled. */
	id = submit_nowait("echo", "never", "--delay", "60000");
	ck_assert_int_eq(run_id("status", id, NULL, NULL, &out, &err),
	    EXIT_CLI_OK);
	ck_assert_has(out, ": delayed");
	buf_free(&out);
	buf_free(&err);
	ck_assert_int_eq(run_id("cancel", id, NULL, NULL, &out, &err),
	    EXIT_CLI_OK);
	buf_free(&out);
	buf_free(&err);
	ck_assert_int_eq(run_id("wait", id, NULL, NULL, &out, &err),
	    EXIT_CLI_CANCELLED);
	ck_assert_str_eq(out.p, "");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_v2_dead_letters)
{
	const char *const	 dead[] = { "dead", NULL };
	const char *const	 dead_json[] = { "dead", "--json", NULL };
	const char *const	 purge[] = { "purge", NULL };
	struct cli_buf		 out, err;
	unsigned long long	 n;
	uint64_t		 id, again;
	char			 tail;

	/* max_attempts 1: the first crash is final and dead-letters it. */
	id = submit_nowait("fault", "segv", NULL, NULL);
	ck_assert_int_eq(run_id("wait", id, NULL, NULL, &out, &err),
	    EXIT_CLI_CRASHED);
	ck_assert_has(err, "crashed");
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_d(dead, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_msg(has_number(out.p, id), "job %llu not in \"%s\"",
	    (unsigned long long)id, out.p);
	check_text_end(&out);
	buf_free(&out);
	buf_free(&err);
	ck_assert_int_eq(run_d(dead_json, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_msg(has_number(out.p, id), "job %llu not in \"%s\"",
	    (unsigned long long)id, out.p);
	ck_assert_msg(out.p[0] == '[' || out.p[0] == '{', "not JSON: %s",
	    out.p);
	buf_free(&out);
	buf_free(&err);

	/* retry: "job N", a new job, which crashes and is dead-lettered. */
	ck_assert_int_eq(run_id("retry", id, NULL, NULL, &out, &err),
	    EXIT_CLI_OK);
	ck_assert_msg(sscanf(out.p, "job %llu%c", &n, &tail) == 2 &&
	    tail == '\n', "retry printed \"%s\"", out.p);
	again = n;
	ck_assert_uint_ne(again, id);
	buf_free(&out);
	buf_free(&err);
	ck_assert_int_eq(run_id("wait", again, NULL, NULL, &out, &err),
	    EXIT_CLI_CRASHED);
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_d(purge, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_uint_gt(out.len, 0);		/* how many it purged */
	check_text_end(&out);
	buf_free(&out);
	buf_free(&err);
	ck_assert_int_eq(run_d(dead, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_msg(!has_number(out.p, id) && !has_number(out.p, again),
	    "dead after purge: \"%s\"", out.p);
	buf_free(&out);
	buf_free(&err);
	ck_assert_int_eq(run_d(dead_json, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_msg(!has_number(out.p, id) && !has_number(out.p, again),
	    "dead --json after purge: \"%s\"", out.p);
	buf_free(&out);
	buf_free(&err);

	ck_assert_int_eq(run_id("retry", id, NULL, NULL, &out, &err),
	    EXIT_CLI_REJECTED);
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_v2_scale)
{
	const char *const	 scale[] = { "scale", "clipool", "3", NULL };
	const char *const	 nopool[] = { "scale", "no_such_pool", "3",
	    NULL };
	const char *const	 echo[] = { "submit", "echo", "--data", "ok",
	    NULL };
	struct cli_buf		 out, err;

	ck_assert_int_eq(run_d(scale, NULL, &out, &err), EXIT_CLI_OK);
	check_text_end(&out);
	buf_free(&out);
	buf_free(&err);
	ck_assert_int_eq(run_d(nopool, NULL, &out, &err), EXIT_CLI_REJECTED);
	ck_assert_has(err, "commis: rejected: no such pool");
	buf_free(&out);
	buf_free(&err);
	ck_assert_int_eq(run_d(echo, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_str_eq(out.p, "ok");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

static void
write_conf(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_v2_reload)
{
	const char *const	 reload[] = { "reload", NULL };
	const char *const	 ping[] = { "ping", NULL };
	const char *const	 echo[] = { "submit", "echo", "--data", "ok",
	    NULL };
	struct cli_buf		 out, err;
	char			*text, *want;

	/*
	 * testd_start returns before commisd has read its config: a PONG
	 * shows it has, so that the file can be broken now.
	 */
	ck_assert_int_eq(run_d(ping, NULL, &out, &err), EXIT_CLI_OK);
	buf_free(&out);
	buf_free(&err);

	/* Two errors, on lines 5 and 6: both are printed, file:line:col. */
	ck_assert_int_ne(asprintf(&text, "socket: %s\nlog_level: error\n"
	    "pools:\n"
	    "  - name: clipool\n"
	    "    workers: lots\n"
	    "    max_attempts: 0\n", cli_d.sock), -1);
	write_conf(cli_d.conf, text);
	free(text);
	ck_assert_int_eq(run_d(reload, NULL, &out, &err), EXIT_CLI_REJECTED);
	ck_assert_str_eq(out.p, "");
	ck_assert_has(err, "commis: rejected: configuration rejected");
	ck_assert_int_ne(asprintf(&want, "%s:5:", cli_d.conf), -1);
	ck_assert_has(err, want);
	free(want);
	ck_assert_int_ne(asprintf(&want, "%s:6:", cli_d.conf), -1);
	ck_assert_has(err, want);
	free(want);
	ck_assert_has(err, "workers");
	ck_assert_has(err, "max_attempts");
	buf_free(&out);
	buf_free(&err);

	/* The old config still runs. */
	ck_assert_int_eq(run_d(ping, NULL, &out, &err), EXIT_CLI_OK);
	buf_free(&out);
	buf_free(&err);
	ck_assert_int_eq(run_d(echo, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_str_eq(out.p, "ok");
	buf_free(&out);
	buf_free(&err);

	/* A good config reloads. */
	ck_assert_int_ne(asprintf(&text, "socket: %s\nlog_level: error\n%s",
	    cli_d.sock, CLI_POOL_YAML), -1);
	write_conf(cli_d.conf, text);
	free(text);
	ck_assert_int_eq(run_d(reload, NULL, &out, &err), EXIT_CLI_OK);
	check_text_end(&out);
	buf_free(&out);
	buf_free(&err);
	ck_assert_int_eq(run_d(ping, NULL, &out, &err), EXIT_CLI_OK);
	buf_free(&out);
	buf_free(&err);
}
END_TEST

/*
 * --- protocol v3 against a real commisd: inputs and results as segments ---
 *
 * commisd runs with max_payload 64K here, so that 1 MiB can only go, and
 * come back, as a segment: an inline fallback would be refused.
 */

#define SEG_BIG		(1u << 20)
#define SHA256_BIG							\
	"40e53cdda550a3477eefdc0064a81ae0c1093a7a054db79a787d6468996f08ca"
#define SHA256_BIG_TEXT							\
	"0ee0adee91a7b0398d37f5a02f9e4830b1d4f52d2c5819c68f126af03635bed2"

static void
cli_seg_setup(void)
{
	testd_start(&cli_d, "max_payload: 64K\n" CLI_POOL_YAML);
}

/* len bytes of a known binary pattern, with NULs, in cli_d's directory. */
static char *
seg_file(const char *name, size_t len, unsigned char **bytes)
{
	unsigned char	*b;
	char		*path;
	size_t		 i;
	FILE		*f;

	b = malloc(len);
	ck_assert_ptr_nonnull(b);
	for (i = 0; i < len; i++)
		b[i] = (unsigned char)(i * 13 + (i >> 9));
	ck_assert_int_ne(asprintf(&path, "%s/%s", cli_d.dir, name), -1);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(b, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	*bytes = b;
	return path;
}

START_TEST(test_v3_file_sha256)
{
	const char	*argv[] = { "submit", "sha256", "--file", NULL, NULL };
	struct cli_buf	 out, err;
	unsigned char	*bytes;
	char		*path = seg_file("big.bin", SEG_BIG, &bytes);

	argv[3] = path;
	ck_assert_msg(run_d(argv, NULL, &out, &err) == EXIT_CLI_OK, "%s",
	    err.p);
	ck_assert_str_eq(out.p, SHA256_BIG);
	ck_assert_str_eq(err.p, "");
	buf_free(&out);
	buf_free(&err);
	free(bytes);
	free(path);
}
END_TEST

START_TEST(test_v3_file_echo)
{
	const char	*argv[] = { "submit", "echo", "--file", NULL, NULL };
	struct cli_buf	 out, err;
	unsigned char	*bytes;
	char		*path = seg_file("big.bin", SEG_BIG, &bytes);

	/* In as a segment, back as one (echo passes its input on). */
	argv[3] = path;
	ck_assert_msg(run_d(argv, NULL, &out, &err) == EXIT_CLI_OK, "%s",
	    err.p);
	ck_assert_uint_eq(out.len, SEG_BIG);
	ck_assert_int_eq(memcmp(out.p, bytes, SEG_BIG), 0);
	buf_free(&out);
	buf_free(&err);
	free(bytes);
	free(path);
}
END_TEST

START_TEST(test_v3_stdin)
{
	const char *const	 sha[] = { "submit", "sha256", NULL };
	const char *const	 echo[] = { "submit", "echo", "--file", "-",
	    NULL };
	struct cli_buf		 out, err;
	char			*text;
	size_t			 i;

	/* A pipe: read inline up to 64K, then spilled into a segment. */
	text = malloc(SEG_BIG + 1);
	ck_assert_ptr_nonnull(text);
	for (i = 0; i < SEG_BIG; i++)
		text[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
	text[SEG_BIG] = '\0';
	ck_assert_msg(run_d(sha, text, &out, &err) == EXIT_CLI_OK, "%s",
	    err.p);
	ck_assert_str_eq(out.p, SHA256_BIG_TEXT);
	buf_free(&out);
	buf_free(&err);
	ck_assert_msg(run_d(echo, text, &out, &err) == EXIT_CLI_OK, "%s",
	    err.p);
	ck_assert_uint_eq(out.len, SEG_BIG);
	ck_assert_int_eq(memcmp(out.p, text, SEG_BIG), 0);
	buf_free(&out);
	buf_free(&err);
	free(text);
}
END_TEST

START_TEST(test_v3_segment_above)
{
	const char	*argv[] = { "submit", "echo", "--file", NULL, NULL,
	    NULL, NULL };
	struct cli_buf	 out, err;
	unsigned char	*bytes;
	char		*path = seg_file("mid.bin", 100000, &bytes);

	/* Above the default threshold: a segment, past max_payload. */
	argv[3] = path;
	ck_assert_msg(run_d(argv, NULL, &out, &err) == EXIT_CLI_OK, "%s",
	    err.p);
	ck_assert_uint_eq(out.len, 100000);
	ck_assert_int_eq(memcmp(out.p, bytes, 100000), 0);
	buf_free(&out);
	buf_free(&err);

	/* Threshold raised: inline, and 100000 bytes is above max_payload. */
	argv[4] = "--segment-above";
	argv[5] = "1M";
	ck_assert_int_eq(run_d(argv, NULL, &out, &err), EXIT_CLI_REJECTED);
	ck_assert_has(err, "payload too large");
	ck_assert_str_eq(out.p, "");
	buf_free(&out);
	buf_free(&err);
	free(bytes);
	free(path);

	/* Threshold 0: even a few bytes go as a segment. */
	path = seg_file("small.bin", 1000, &bytes);
	argv[3] = path;
	argv[5] = "0";
	ck_assert_msg(run_d(argv, NULL, &out, &err) == EXIT_CLI_OK, "%s",
	    err.p);
	ck_assert_uint_eq(out.len, 1000);
	ck_assert_int_eq(memcmp(out.p, bytes, 1000), 0);
	buf_free(&out);
	buf_free(&err);
	free(bytes);
	free(path);
}
END_TEST

/* --- commis bench --- */

/* A whole file, NUL-terminated (malloc'd). */
static char *
bench_slurp(const char *path)
{
	struct cli_buf	 b;
	int		 fd;

	memset(&b, 0, sizeof b);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd != -1, "%s: %s", path, strerror(errno));
	while (buf_read(fd, &b))
		;
	close(fd);
	return b.p != NULL ? b.p : strdup("");
}

/*
 * Enough of a JSON check without a parser: one object, braces and
 * brackets balanced and properly nested outside strings, strings closed,
 * nothing after the end.
 */
static void
bench_json_ok(const char *j)
{
	char		 stack[64];
	const char	*p = j + strspn(j, " \t\n");
	int		 depth = 0, in_str = 0;

	ck_assert_msg(*p == '{', "JSON does not start with {: %.40s", p);
	for (; *p != '\0'; p++) {
		if (in_str) {
			ck_assert_msg((unsigned char)*p >= 0x20,
			    "control character in a JSON string");
			if (*p == '\\')
				ck_assert(*++p != '\0');
			else if (*p == '"')
				in_str = 0;
			continue;
		}
		if (*p == '"')
			in_str = 1;
		else if (*p == '{' || *p == '[') {
			ck_assert_int_lt(depth, (int)sizeof stack);
			stack[depth++] = *p == '{' ? '}' : ']';
		} else if (*p == '}' || *p == ']') {
			ck_assert_msg(depth > 0 && stack[depth - 1] == *p,
			    "unbalanced %c in the JSON", *p);
			if (--depth == 0)
				break;
		}
	}
	ck_assert_msg(!in_str && depth == 0 && *p != '\0',
	    "the JSON does not end");
	p++;
	ck_assert_msg(p[strspn(p, " \t\n")] == '\0', "text after the JSON");
}

static size_t
bench_count_str(const char *s, const char *what)
{
	size_t	n = 0;

	while ((s = strstr(s, what)) != NULL) {
		n++;
		s += strlen(what);
	}
	return n;
}

/* No commis-bench.* directory left behind in dir. */
static void
bench_no_leftovers(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*e;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		ck_assert_msg(strncmp(e->d_name, "commis-bench.", 13) != 0,
		    "%s/%s left behind", dir, e->d_name);
	closedir(d);
}

START_TEST(test_bench_usage)
{
	static const char *const bad[][4] = {
		{ "bench", "--workers", "0", NULL },
		{ "bench", "--workers", "x", NULL },
		{ "bench", "--iterations", NULL },
		{ "bench", "--frobnicate", NULL },
		{ "bench", "extra", NULL },
		{ "bench", "--module", "/nonexistent/m.so", NULL },
	};
	const char *const	 help[] = { "help", "bench", NULL };
	struct cli_buf		 out, err;
	size_t			 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(run_cli(bad[i], NULL, &out, &err) ==
		    EXIT_CLI_USAGE, "%s %s: %s", bad[i][1],
		    bad[i][2] ? bad[i][2] : "", err.p);
		ck_assert_has(err, "commis: ");
		ck_assert_str_eq(out.p, "");
		buf_free(&out);
		buf_free(&err);
	}
	ck_assert_int_eq(run_cli(help, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_has(out, "usage: commis bench");
	ck_assert_has(out, "docs/isolation.md");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

/* A commisd that cannot start: a clear error, and nothing left behind. */
START_TEST(test_bench_no_commisd)
{
	char		*dir = test_tmpdir(), *env[2], tmp[4200];
	const char	*argv[] = { "bench", "--quick", "--commisd",
	    "/nonexistent/commisd", NULL };
	struct cli_buf	 out, err;

	snprintf(tmp, sizeof tmp, "TMPDIR=%s", dir);
	env[0] = tmp;
	env[1] = NULL;
	ck_assert_int_eq(run_cli_env(argv, env, NULL, &out, &err),
	    EXIT_CLI_FAILED);
	ck_assert_has(err, "commis bench: commisd exited");
	ck_assert_has(err, "/nonexistent/commisd");
	bench_no_leftovers(dir);
	buf_free(&out);
	buf_free(&err);
	test_rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_bench_quick)
{
	static const char *const keys[] = { "\"version\"", "\"command\"",
	    "\"machine\"", "\"nproc\"", "\"cpu_model\"", "\"workers\"",
	    "\"pools\"", "\"process\"", "\"thread\"", "\"figures\"",
	    "\"dispatch_p50_us\"", "\"noop_jobs_s\"", "\"cpu_jobs_s\"",
	    "\"start_ms\"", "\"pss_kib\"", "\"bulk_64m_p50_us\"",
	    "\"crash_requeued\"", "\"hang_timedout_ms\"" };
	char		*dir = test_tmpdir(), *env[2], *j, *g;
	char		 tmp[4200], json[4200], svg[4200], commisd[4096];
	const char	*argv[] = { "bench", "--quick", "--workers", "2",
	    "--json", json, "--svg", svg, "--commisd", commisd, NULL };
	struct cli_buf	 out, err;
	uint64_t	 t0 = test_now_ms();
	size_t		 i, n;

	snprintf(tmp, sizeof tmp, "TMPDIR=%s", dir);
	snprintf(json, sizeof json, "%s/bench.json", dir);
	snprintf(svg, sizeof svg, "%s/bench.svg", dir);
	snprintf(commisd, sizeof commisd, "%s", test_build_path("commisd"));
	env[0] = tmp;
	env[1] = NULL;
	ck_assert_msg(run_cli_env(argv, env, NULL, &out, &err) == EXIT_CLI_OK,
	    "%s", err.p);
	ck_assert_has(out, "process");
	ck_assert_has(out, "thread");
	ck_assert_has(out, "no-op dispatch");
	ck_assert_has(out, "hard timeout");
	bench_no_leftovers(dir);

	j = bench_slurp(json);
	bench_json_ok(j);
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		ck_assert_msg(strstr(j, keys[i]) != NULL, "no %s in %s",
		    keys[i], j);
	g = bench_slurp(svg);
	ck_assert_msg(strncmp(g, "<svg", 4) == 0, "%.40s", g);
	n = strlen(g);
	while (n > 0 && (g[n - 1] == '\n' || g[n - 1] == ' '))
		g[--n] = '\0';
	ck_assert_msg(n > 6 && strcmp(g + n - 6, "</svg>") == 0,
	    "the SVG does not end with </svg>");
	ck_assert_uint_eq(bench_count_str(g, "<text"),
	    bench_count_str(g, "</text>"));
	ck_assert_uint_gt(bench_count_str(g, "<rect"), 2);
	ck_assert_msg(test_now_ms() - t0 < 60000, "--quick took %llu ms",
	    (unsigned long long)(test_now_ms() - t0));
	free(j);
	free(g);
	buf_free(&out);
	buf_free(&err);
	test_rmdir(dir);
	free(dir);
}
END_TEST

/* --- commis top: the stats reader and the screen, without a daemon --- */

/* Two pools; the second has what a newer commisd adds (RSS, CPU time,
 * histograms), the first only what an older one gave. */
static const char top_json[] =
    "{\"version\":\"0.1.0\",\"pid\":412,\"uptime_ms\":5310,"
    "\"connections\":1,\"stopping\":false,\"note\":\"caf\\u00e9 \\ud83d\\ude00"
    " \\\"q\\\" \\\\ \\/\",\"pools\":["
    "{\"name\":\"old\",\"state\":\"running\",\"queued\":3,"
    " \"jobs\":{\"submitted\":13,\"succeeded\":11},\"restarts\":2,"
    " \"worker_list\":[{\"id\":1,\"pid\":977,\"state\":\"idle\","
    "  \"jobs_done\":5,\"job\":null,\"job_age_ms\":null}]},"
    "{\"name\":\"new\",\"state\":\"running\",\"queued\":4,\"timeout_ms\":"
    " 10000,\"jobs\":{\"submitted\":30,\"succeeded\":20},\"restarts\":1,"
    " \"restarts_by_cause\":{\"crash\":1,\"exit\":0},"
    " \"latency\":{\"queue\":{\"p50\":10,\"p90\":20,\"p99\":30,\"max\":40,"
    "  \"count\":20},\"e2e\":{\"p50\":100,\"p90\":900,\"p99\":2500,"
    "  \"max\":3000,\"count\":20}},"
    " \"latency_1m\":{\"e2e\":{\"p50\":0,\"p90\":0,\"p99\":0,\"max\":0,"
    "  \"count\":0}},"
    " \"worker_list\":[{\"id\":2,\"pid\":1001,\"state\":\"busy\","
    "  \"jobs_done\":7,\"rss_kb\":20480,\"cpu_ms\":1500,\"job\":42,"
    "  \"job_age_ms\":5000,\"extra\":[1,2.5e3,-0.5,true,{}]},"
    "  {\"id\":3,\"pid\":1002,\"state\":\"idle\",\"jobs_done\":9,"
    "  \"rss_kb\":4096,\"cpu_ms\":20,\"job\":null,\"job_age_ms\":null}]}]}";

static const struct top_worker *
top_find(const struct top_snap *s, long long pid)
{
	size_t	i;

	for (i = 0; i < s->nw; i++) {
		if (s->w[i].pid == pid)
			return &s->w[i];
	}
	ck_abort_msg("no worker %lld", pid);
	return NULL;
}

START_TEST(test_top_parse)
{
	struct top_snap			*s;
	const struct top_worker		*w;
	char				 err[256];

	s = top_snap_parse(top_json, err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_str_eq(s->version, "0.1.0");
	ck_assert_int_eq(s->pid, 412);
	ck_assert_int_eq(s->uptime_ms, 5310);
	ck_assert_uint_eq(s->npools, 2);
	ck_assert_int_eq(s->queued, 7);
	ck_assert_int_eq(s->succeeded, 31);
	ck_assert_int_eq(s->restarts, 3);
	/* The last minute is empty: the whole run's p99, in us. */
	ck_assert(s->e2e_p99_us == 2500);
	ck_assert_int_eq(s->e2e_recent, 0);
	ck_assert(s->throughput < 0);
	ck_assert_uint_eq(s->nw, 3);

	w = top_find(s, 977);
	ck_assert_str_eq(w->pool, "old");
	ck_assert_str_eq(w->state, "idle");
	ck_assert_int_eq(w->jobs_done, 5);
	ck_assert_int_eq(w->job, -1);
	ck_assert_int_eq(w->job_age_ms, -1);
	ck_assert_int_eq(w->rss_kb, -1);	/* absent */
	ck_assert_int_eq(w->cpu_ms, -1);
	ck_assert_int_eq(w->timeout_ms, -1);
	w = top_find(s, 1001);
	ck_assert_str_eq(w->pool, "new");
	ck_assert_str_eq(w->state, "busy");
	ck_assert_int_eq(w->job, 42);
	ck_assert_int_eq(w->job_age_ms, 5000);
	ck_assert_int_eq(w->rss_kb, 20480);
	ck_assert_int_eq(w->cpu_ms, 1500);
	ck_assert_int_eq(w->timeout_ms, 10000);

	top_sort(s, TOP_SORT_RSS);
	ck_assert_int_eq(s->w[0].pid, 1001);
	ck_assert_int_eq(s->w[2].pid, 977);	/* no RSS: last */
	top_sort(s, TOP_SORT_JOBS);
	ck_assert_int_eq(s->w[0].pid, 1002);
	top_sort(s, TOP_SORT_AGE);
	ck_assert_int_eq(s->w[0].pid, 1001);
	top_sort(s, TOP_SORT_PID);
	ck_assert_int_eq(s->w[0].pid, 977);
	ck_assert_int_eq(s->w[2].pid, 1002);
	ck_assert_str_eq(top_sort_name(TOP_SORT_AGE), "age");
	top_snap_free(s);
	top_snap_free(NULL);
}
END_TEST

START_TEST(test_top_parse_bad)
{
	static const char *const bad[] = {
		"", " ", "{", "}", "[1,2]", "{\"pools\":{}}", "{\"pools\":[}",
		"{\"pools\":[],}", "{\"pools\":[] x}", "{\"pools\":[]}}",
		"{pools:[]}", "{\"pools\" []}", "{\"a\":01,\"pools\":[]}",
		"{\"a\":1.,\"pools\":[]}", "{\"a\":-,\"pools\":[]}",
		"{\"a\":1e,\"pools\":[]}", "{\"a\":tru,\"pools\":[]}",
		"{\"a\":\"\\x\",\"pools\":[]}", "{\"a\":\"\\u12\",\"pools\":[]}",
		"{\"a\":\"\\ud800\",\"pools\":[]}", "{\"a\":\"\\u0000\"}",
		"{\"a\":\"tab\there\",\"pools\":[]}", "{\"a\":\"open",
		"{\"a\":\"\\",
	};
	struct top_snap	*s;
	char		 err[256], deep[400];
	size_t		 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		s = top_snap_parse(bad[i], err, sizeof err);
		ck_assert_msg(s == NULL, "case %zu parsed: %s", i, bad[i]);
		ck_assert_msg(err[0] != '\0', "case %zu: no reason", i);
	}
	/* Nesting is bounded: no stack to overflow. */
	memset(deep, '[', sizeof deep - 1);
	deep[sizeof deep - 1] = '\0';
	ck_assert_ptr_null(top_snap_parse(deep, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "deep"));
	/* The least that is the stats. */
	s = top_snap_parse(" {\"pools\":[]}\n", err, sizeof err);
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_uint_eq(s->nw, 0);
	ck_assert_int_eq(s->pid, -1);
	top_snap_free(s);
}
END_TEST

static char *
top_screen(const struct top_snap *s, const struct top_view *v)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	top_render(f, s, v);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

START_TEST(test_top_render)
{
	struct top_snap	*a, *b;
	struct top_view	 v = { TOP_SORT_PID, 0, 0, 0 };
	char		 err[256], *txt, *line;
	const char	*p;
	size_t		 n;

	a = top_snap_parse(top_json, err, sizeof err);
	b = top_snap_parse(top_json, err, sizeof err);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	/* 2 s later, 20 more jobs succeeded: 10 a second. */
	a->at_ms = 1000;
	b->at_ms = 3000;
	b->succeeded += 20;
	top_snap_rate(b, a);
	ck_assert(b->throughput > 9.999 && b->throughput < 10.001);
	top_snap_rate(a, b);		/* backwards in time: none */
	ck_assert(a->throughput < 0);

	/* Plain: no escape codes, no bars; "-" for what is missing. */
	txt = top_screen(b, &v);
	ck_assert_msg(strchr(txt, '\033') == NULL, "escape in: %s", txt);
	ck_assert_msg(strstr(txt, "\u2588") == NULL, "bar in: %s", txt);
	ck_assert_ptr_nonnull(strstr(txt, "pid 412"));
	ck_assert_ptr_nonnull(strstr(txt, "queue 7"));
	ck_assert_ptr_nonnull(strstr(txt, "throughput 10.0/s"));
	ck_assert_ptr_nonnull(strstr(txt, "e2e p99 2.5 ms"));
	ck_assert_ptr_nonnull(strstr(txt, "restarts 3"));
	ck_assert_ptr_nonnull(strstr(txt, "POOL"));
	ck_assert_ptr_nonnull((line = strstr(txt, "old ")));
	ck_assert_ptr_nonnull(strstr(line, "977"));
	ck_assert_ptr_nonnull(strstr(txt, "20.0M"));
	ck_assert_ptr_nonnull(strstr(txt, "5.0s"));
	for (n = 0, p = txt; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	ck_assert_uint_eq(n, 5);	/* header, titles, 3 workers */
	free(txt);

	/* A terminal: the keys, reverse titles, a bar for the busy one
	 * (half of the pool's 10 s timeout: 10 of 20 cells). */
	v.tty = 1;
	v.cols = 68 + 1 + 20;
	v.rows = 40;
	txt = top_screen(b, &v);
	ck_assert_ptr_nonnull(strstr(txt, "sort: pid"));
	ck_assert_ptr_nonnull(strstr(txt, "\033[7m"));
	ck_assert_ptr_nonnull(strstr(txt, "\033[K"));
	ck_assert_ptr_nonnull((p = strstr(txt, " \u2588")));
	ck_assert_ptr_nonnull(strstr(p, "\u2588\u2588\u2588\u2588\u2588"
	    "\u2588\u2588\u2588\u2588\u2588\033[K"));
	ck_assert_ptr_null(strstr(p, "\u2588\u2588\u2588\u2588\u2588"
	    "\u2588\u2588\u2588\u2588\u2588\u2588"));
	free(txt);

	/* A small screen: the workers that fit, and how many do not. */
	v.rows = 6;
	v.sort = TOP_SORT_AGE;
	txt = top_screen(b, &v);
	ck_assert_ptr_nonnull(strstr(txt, "sort: age"));
	ck_assert_ptr_nonnull(strstr(txt, "... 1 more"));
	free(txt);
	top_snap_free(a);
	top_snap_free(b);
}
END_TEST

/*
 * --- observing a real commisd: stats --watch, top, events, --stats ---
 *
 * Written against the issue 8 spec (protocol v4 and the stats schema of
 * docs/operations.md) while commisd's side was being written.
 */

START_TEST(test_observe_stats_watch)
{
	const char *const	 text[] = { "stats", "--watch", "1", "--count",
	    "2", NULL };
	const char *const	 json[] = { "stats", "--json", "--watch", "0.2",
	    "--count", "3", NULL };
	struct top_snap		*snap;
	struct cli_buf		 out, err;
	uint64_t		 t0 = test_now_ms();
	char			*sep, *p, *next, why[256];
	size_t			 n = 0;

	ck_assert_int_eq(run_d(text, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_uint_ge(test_now_ms() - t0, 900);
	ck_assert_msg(strchr(out.p, '\033') == NULL, "escape codes in a pipe");
	/* Two snapshots, one "--- TIME" line between them. */
	ck_assert_msg(strncmp(out.p, "--- ", 4) != 0, "%s", out.p);
	ck_assert_uint_eq(bench_count_str(out.p, "\n--- "), 1);
	sep = strstr(out.p, "\n--- ");
	*sep = '\0';
	ck_assert_has(out, "clipool");
	ck_assert_ptr_nonnull(strstr(sep + 1, "clipool"));
	ck_assert_ptr_nonnull(strchr(sep + 1, 'T'));	/* ISO 8601 */
	buf_free(&out);
	buf_free(&err);

	/* JSON: each snapshot the whole schema, one object a snapshot. */
	ck_assert_int_eq(run_d(json, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_uint_eq(bench_count_str(out.p, "\n--- "), 2);
	for (p = out.p; p != NULL; p = next) {
		if ((next = strstr(p, "\n--- ")) != NULL) {
			next[1] = '\0';
			next = strchr(next + 2, '\n');
			ck_assert_ptr_nonnull(next);
			next++;
		}
		snap = top_snap_parse(p, why, sizeof why);
		ck_assert_msg(snap != NULL, "%s: %s", why, p);
		ck_assert_uint_eq(snap->npools, 1);
		top_snap_free(snap);
		n++;
	}
	ck_assert_uint_eq(n, 3);
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_observe_top_plain)
{
	const char *const	 argv[] = { "top", "--count", "2", "--interval",
	    "200", NULL };
	struct cli_buf		 out, err;
	commis_client		*cl;
	struct wstat		 ws;
	char			 pid[32];
	int			 i;

	ck_assert_int_eq(commis_connect(cli_d.sock, &cl), COMMIS_OK);
	wait_ready(cl, 2);
	wstats(cl, &ws);
	commis_close(cl);
	ck_assert_int_eq(ws.n, 2);

	ck_assert_msg(run_d(argv, NULL, &out, &err) == EXIT_CLI_OK, "%s",
	    err.p);
	ck_assert_msg(strchr(out.p, '\033') == NULL, "escape codes: %s",
	    out.p);
	ck_assert_has(out, "clipool");
	ck_assert_has(out, "POOL");
	ck_assert_has(out, "queue ");
	ck_assert_has(out, "throughput ");
	ck_assert_has(out, "e2e p99 ");
	ck_assert_has(out, "restarts ");
	for (i = 0; i < ws.n; i++) {
		snprintf(pid, sizeof pid, " %ld ", ws.pid[i]);
		ck_assert_has(out, pid);
	}
	ck_assert_uint_eq(bench_count_str(out.p, "commisd "), 2);	/* refreshes */
	ck_assert_str_eq(err.p, "");
	buf_free(&out);
	buf_free(&err);
}
END_TEST

/* An event line: one JSON object with a "type" of the documented ones. */
static void
check_event(const char *line)
{
	static const char *const types[] = { "accepted", "started",
	    "finished", "worker_started", "worker_exited", "pool_failed",
	    "reload" };
	char	 want[64];
	size_t	 i;

	bench_json_ok(line);
	for (i = 0; i < sizeof types / sizeof types[0]; i++) {
		snprintf(want, sizeof want, "\"type\":\"%s\"", types[i]);
		if (strstr(line, want) != NULL)
			return;
	}
	ck_abort_msg("no known \"type\" in %s", line);
}

START_TEST(test_observe_events)
{
	struct cli_buf		 out, err;
	struct pollfd		 pfd[2];
	struct commis_result	 r;
	commis_client		*cl;
	const char		*argv[] = { "-s", cli_d.sock, "events",
	    "--count", "2", NULL };
	uint64_t		 deadline = test_now_ms() + 20000;
	int			 pout[2], perr[2], st, open_fds = 2, nul;
	char			*line, *save;
	size_t			 n = 0;
	pid_t			 pid;

	memset(&out, 0, sizeof out);
	memset(&err, 0, sizeof err);
	ck_assert_int_eq(commis_connect(cli_d.sock, &cl), COMMIS_OK);
	ck_assert_int_eq(pipe2(pout, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(perr, O_CLOEXEC), 0);
	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(nul, 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		run_child(argv, NULL, nul, pout[1], perr[1]);
	close(nul);
	close(pout[1]);
	close(perr[1]);
	pfd[0].fd = pout[0];
	pfd[1].fd = perr[0];
	pfd[0].events = pfd[1].events = POLLIN;
	/* Jobs until the subscriber has seen two events (it may subscribe
	 * after the first ones). */
	while (open_fds > 0) {
		ck_assert_msg(test_now_ms() < deadline, "events: only \"%s\"",
		    out.p ? out.p : "");
		if (pfd[0].fd != -1) {
			ck_assert_int_eq(submit(cl, "echo", "ev", NULL, &r),
			    COMMIS_OK);
			commis_result_free(&r);
		}
		if (poll(pfd, 2, 100) <= 0)
			continue;
		if (pfd[0].revents && !buf_read(pfd[0].fd, &out)) {
			pfd[0].fd = -1;
			open_fds--;
		}
		if (pfd[1].revents && !buf_read(pfd[1].fd, &err)) {
			pfd[1].fd = -1;
			open_fds--;
		}
	}
	close(pout[0]);
	close(perr[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == EXIT_CLI_OK,
	    "status %#x: %s", st, err.p ? err.p : "");
	ck_assert_ptr_nonnull(out.p);
	ck_assert_int_eq(out.p[out.len - 1], '\n');
	for (line = strtok_r(out.p, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		check_event(line);
		n++;
	}
	ck_assert_uint_eq(n, 2);
	commis_close(cl);
	buf_free(&out);
	buf_free(&err);
}
END_TEST

START_TEST(test_observe_submit_stats)
{
	const char *const	 ok[] = { "submit", "echo", "--data", "x",
	    "--stats", NULL };
	const char *const	 plain[] = { "submit", "echo", "--data", "x",
	    NULL };
	const char *const	 failed[] = { "submit", "fault", "--data",
	    "no-such-fault", "--stats", NULL };
	struct cli_buf		 out, err;

	ck_assert_int_eq(run_d(ok, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_str_eq(out.p, "x");
	ck_assert_has(err, "queue ");
	ck_assert_has(err, "run ");
	ck_assert_has(err, "cpu ");
	ck_assert_has(err, " ms, ");
	ck_assert_has(err, "maxrss ");
	ck_assert_has(err, " KiB\n");
	buf_free(&out);
	buf_free(&err);

	/* Without --stats a job that succeeded says nothing more. */
	ck_assert_int_eq(run_d(plain, NULL, &out, &err), EXIT_CLI_OK);
	ck_assert_str_eq(err.p, "");
	buf_free(&out);
	buf_free(&err);

	/* After the failure's own line. */
	ck_assert_int_eq(run_d(failed, NULL, &out, &err), EXIT_CLI_FAILED);
	ck_assert_has(err, "failed");
	ck_assert_ptr_nonnull(strstr(strstr(err.p, "failed"), "queue "));
	buf_free(&out);
	buf_free(&err);
}
END_TEST

/* A terminal: commis top on a pty, driven by keys and signals. */
struct pty_run {
	int		 master;
	int		 slave;		/* ours: the pty outlives commis */
	pid_t		 pid;
	struct cli_buf	 out;
};

static void
pty_start(struct pty_run *t, const char *const *args)
{
	struct winsize	 ws = { .ws_row = 30, .ws_col = 100 };
	const char	*argv[16];
	char		*name;
	int		 fd;
	size_t		 i;

	memset(t, 0, sizeof t[0]);
	t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(t->master, 0);
	ck_assert_int_eq(grantpt(t->master), 0);
	ck_assert_int_eq(unlockpt(t->master), 0);
	ck_assert_ptr_nonnull((name = ptsname(t->master)));
	t->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(t->slave, 0);
	ck_assert_int_eq(ioctl(t->master, TIOCSWINSZ, &ws), 0);
	argv[0] = "-s";
	argv[1] = cli_d.sock;
	for (i = 0; args[i] != NULL && i + 3 < 16; i++)
		argv[i + 2] = args[i];
	argv[i + 2] = NULL;
	t->pid = fork();
	ck_assert_int_ne(t->pid, -1);
	if (t->pid == 0) {
		/* A session of its own, with the pty as its terminal. */
		if (setsid() == -1 || (fd = open(name, O_RDWR)) == -1)
			_exit(127);
		run_child(argv, NULL, fd, fd, fd);
	}
}

/* Reads what commis drew until want shows up (NULL: until it exits);
 * returns its exit status then, else 0. */
static int
pty_until(struct pty_run *t, const char *want)
{
	struct pollfd	pfd = { .fd = t->master, .events = POLLIN };
	uint64_t	deadline = test_now_ms() + 10000;
	int		st;
	size_t		from = t->out.len;

	for (;;) {
		if (want != NULL && t->out.p != NULL &&
		    strstr(t->out.p + from, want) != NULL)
			return 0;
		ck_assert_msg(test_now_ms() < deadline, "no \"%s\" in \"%s\"",
		    want ? want : "exit", t->out.p ? t->out.p : "");
		if (poll(&pfd, 1, 50) > 0)
			buf_read(t->master, &t->out);
		else if (want == NULL &&
		    waitpid(t->pid, &st, WNOHANG) == t->pid)
			return st;
	}
}

static void
pty_finish(struct pty_run *t, int st)
{
	struct termios	tio;

	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == EXIT_CLI_OK,
	    "status %#x: %s", st, t->out.p);
	/* The terminal is as it was: cooked, echoing, main screen. */
	ck_assert_int_eq(tcgetattr(t->slave, &tio), 0);
	ck_assert(tio.c_lflag & ICANON);
	ck_assert(tio.c_lflag & ECHO);
	ck_assert_has(t->out, "\033[?1049h");
	ck_assert_has(t->out, "\033[?25h\033[?1049l");
	close(t->master);
	close(t->slave);
	buf_free(&t->out);
}

START_TEST(test_observe_top_tty)
{
	const char *const	 top[] = { "top", "--interval", "100", NULL };
	struct pty_run		 t;
	struct termios		 tio;

	/* s cycles the sort, q quits. */
	pty_start(&t, top);
	pty_until(&t, "sort: pid");
	ck_assert_has(t.out, "clipool");
	ck_assert_has(t.out, "\033[H");
	ck_assert_int_eq(tcgetattr(t.slave, &tio), 0);
	ck_assert(!(tio.c_lflag & (ICANON | ECHO)));	/* raw meanwhile */
	ck_assert_int_eq(write(t.master, "s", 1), 1);
	pty_until(&t, "sort: age");
	ck_assert_int_eq(write(t.master, "s", 1), 1);
	pty_until(&t, "sort: rss");
	ck_assert_int_eq(write(t.master, "q", 1), 1);
	pty_finish(&t, pty_until(&t, NULL));

	/* Ctrl-C, from the terminal. */
	pty_start(&t, top);
	pty_until(&t, "sort: pid");
	ck_assert_int_eq(write(t.master, "\003", 1), 1);
	pty_finish(&t, pty_until(&t, NULL));

	/* SIGTERM. */
	pty_start(&t, top);
	pty_until(&t, "sort: pid");
	ck_assert_int_eq(kill(t.pid, SIGTERM), 0);
	pty_finish(&t, pty_until(&t, NULL));
}
END_TEST

Suite *
cli_suite(void)
{
	Suite	*s = suite_create("cli");
	TCase	*tc;

	tc = tcase_create("local");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_usage_errors);
	tcase_add_test(tc, test_version_help);
	tcase_add_test(tc, test_missing_socket);
	tcase_add_test(tc, test_socket_from_config);
	suite_add_tcase(s, tc);

	tc = tcase_create("commisd");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, cli_setup, cli_teardown);
	tcase_add_test(tc, test_submit_echo);
	tcase_add_test(tc, test_submit_stdin);
	tcase_add_test(tc, test_submit_file);
	tcase_add_test(tc, test_submit_sha256);
	tcase_add_test(tc, test_submit_failed);
	tcase_add_test(tc, test_submit_crash_exit);
	tcase_add_test(tc, test_submit_crash_segv);
	tcase_add_test(tc, test_submit_timeout);
	tcase_add_test(tc, test_submit_rejected);
	tcase_add_test(tc, test_stats);
	tcase_add_test(tc, test_ping);
	tcase_add_test(tc, test_socket_lookup);
	suite_add_tcase(s, tc);

	tc = tcase_create("v2");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, cli_setup, cli_teardown);
	tcase_add_test(tc, test_v2_nowait_then_wait);
	tcase_add_test(tc, test_v2_status);
	tcase_add_test(tc, test_v2_cancel);
	tcase_add_test(tc, test_v2_delay);
	tcase_add_test(tc, test_v2_dead_letters);
	tcase_add_test(tc, test_v2_scale);
	tcase_add_test(tc, test_v2_reload);
	suite_add_tcase(s, tc);

	tc = tcase_create("v3-segments");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, cli_seg_setup, cli_teardown);
	tcase_add_test(tc, test_v3_file_sha256);
	tcase_add_test(tc, test_v3_file_echo);
	tcase_add_test(tc, test_v3_stdin);
	tcase_add_test(tc, test_v3_segment_above);
	suite_add_tcase(s, tc);

	tc = tcase_create("top-local");
	tcase_add_test(tc, test_top_parse);
	tcase_add_test(tc, test_top_parse_bad);
	tcase_add_test(tc, test_top_render);
	suite_add_tcase(s, tc);

	tc = tcase_create("observe");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, cli_setup, cli_teardown);
	tcase_add_test(tc, test_observe_stats_watch);
	tcase_add_test(tc, test_observe_top_plain);
	tcase_add_test(tc, test_observe_events);
	tcase_add_test(tc, test_observe_submit_stats);
	tcase_add_test(tc, test_observe_top_tty);
	suite_add_tcase(s, tc);

	tc = tcase_create("bench");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_bench_usage);
	tcase_add_test(tc, test_bench_no_commisd);
	tcase_add_test(tc, test_bench_quick);
	suite_add_tcase(s, tc);
	return s;
}
