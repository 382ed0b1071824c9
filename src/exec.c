/*
 * The `exec` handler (docs/cookbook-exec.md): a pool runs an external
 * program per job, configured by the pool's exec_* keys. No shell is
 * involved: argv is the configured list, in which `{NAME}` is replaced
 * by a per-job value for a NAME declared in exec_params (other braces
 * stay as they are), and only when the value matches the parameter's anchored extended regular
 * expression. Per-job values come in the job's first input line,
 * `NAME=VALUE NAME=VALUE...`, when the pool declares parameters; the
 * rest of the input is the program's stdin (unless exec_stdin is
 * false).
 *
 * The program runs in its own process group. Its stdout is the result;
 * its stderr is kept up to exec_stderr_max and becomes the cause when it
 * fails (non-zero exit or a signal). A cancel or a soft timeout
 * (cancelled()) kills the whole group with SIGKILL, and so does the end
 * of the job in every case, so no grandchild outlives its job.
 *
 * The worker's pool config is set by exec_configure() in the worker,
 * after fork; the handler is registered only in pools with exec_argv.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commis/handler.h"
#include "config.h"
#include "exec.h"

#define EXEC_POLL_MS	20	/* between looks at cancelled() */
#define EXEC_ARGS_MAX	256
#define EXEC_LINE_MAX	4096	/* the parameter line */

static const struct pool_config	*exec_cfg;

void
exec_configure(const struct pool_config *cfg)
{
	exec_cfg = cfg;
}

/* The declared regex of parameter name (n bytes), or NULL. */
static const char *
exec_param_re(const char *name, size_t n)
{
	size_t	i;

	for (i = 0; i < exec_cfg->nexec_params; i++) {
		if (strncmp(exec_cfg->exec_params[i], name, n) == 0 &&
		    exec_cfg->exec_params[i][n] == '=')
			return exec_cfg->exec_params[i] + n + 1;
	}
	return NULL;
}

/* value matches the whole of re. */
static int
exec_match(const char *re, const char *value)
{
	char	 anchored[1024];
	regex_t	 r;
	int	 ok;

	snprintf(anchored, sizeof anchored, "^(%s)$", re);
	if (regcomp(&r, anchored, REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	ok = regexec(&r, value, 0, NULL, 0) == 0;
	regfree(&r);
	return ok;
}

struct exec_vals {
	char	 line[EXEC_LINE_MAX];
	char	*name[EXEC_ARGS_MAX];
	char	*value[EXEC_ARGS_MAX];
	size_t	 n;
};

/*
 * Splits the first input line into NAME=VALUE pairs and checks each
 * against its declaration; *rest gets the input after the line.
 */
static int
exec_parse_vals(struct commis_call *call, struct exec_vals *v,
    const uint8_t **rest, size_t *restlen)
{
	const uint8_t	*nl;
	const char	*re;
	char		*tok, *save = NULL, *eq;
	size_t		 len;

	*rest = call->input;
	*restlen = call->input_len;
	v->n = 0;
	if (exec_cfg->nexec_params == 0)
		return 0;
	if ((nl = memchr(call->input, '\n', call->input_len)) == NULL ||
	    (len = (size_t)(nl - call->input)) >= sizeof v->line) {
		call->error(call, "the input must start with a line of "
		    "parameters (NAME=VALUE ...), at most %d bytes",
		    EXEC_LINE_MAX - 1);
		return -1;
	}
	memcpy(v->line, call->input, len);
	v->line[len] = '\0';
	*rest = nl + 1;
	*restlen = call->input_len - len - 1;
	for (tok = strtok_r(v->line, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		if ((eq = strchr(tok, '=')) == NULL || v->n == EXEC_ARGS_MAX) {
			call->error(call, "bad parameter \"%s\": NAME=VALUE "
			    "expected", tok);
			return -1;
		}
		*eq = '\0';
		if ((re = exec_param_re(tok, strlen(tok))) == NULL) {
			call->error(call, "parameter \"%s\" is not declared in "
			    "exec_params", tok);
			return -1;
		}
		if (!exec_match(re, eq + 1)) {
			call->error(call, "parameter %s=\"%s\" does not match "
			    "/%s/", tok, eq + 1, re);
			return -1;
		}
		v->name[v->n] = tok;
		v->value[v->n++] = eq + 1;
	}
	return 0;
}

/* One argv item with its {NAME}s replaced; NULL and an error if one has
 * no value. */
static char *
exec_subst(struct commis_call *call, const char *arg,
    const struct exec_vals *v)
{
	char		 out[4096], *close;
	const char	*p = arg;
	size_t		 o = 0, i, n;

	while (*p != '\0') {
		/* {NAME} of a declared parameter; other braces are text. */
		if (*p == '{' && (close = strchr(p, '}')) != NULL &&
		    exec_param_re(p + 1, (size_t)(close - p - 1)) != NULL) {
			n = (size_t)(close - p - 1);
			for (i = 0; i < v->n; i++) {
				if (strlen(v->name[i]) == n &&
				    strncmp(v->name[i], p + 1, n) == 0)
					break;
			}
			if (i == v->n) {
				call->error(call, "no value for {%.*s} in "
				    "argument \"%s\"", (int)n, p + 1, arg);
				return NULL;
			}
			n = strlen(v->value[i]);
			if (o + n >= sizeof out)
				goto long_arg;
			memcpy(out + o, v->value[i], n);
			o += n;
			p = close + 1;
			continue;
		}
		if (o + 1 >= sizeof out)
			goto long_arg;
		out[o++] = *p++;
	}
	out[o] = '\0';
	return strdup(out);
long_arg:
	call->error(call, "argument \"%s\" too long once filled in", arg);
	return NULL;
}

/* In the child: never returns. envp: NULL-terminated. */
static void __attribute__((noreturn))
exec_child(char **argv, char **envp, int in, int out, int err)
{
	setpgid(0, 0);
	/* A worker killed outright takes its program along. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1)
		_exit(126);
	close_range(3, ~0U, 0);
	if (chdir(exec_cfg->exec_cwd) == -1) {
		dprintf(2, "chdir %s: %s\n", exec_cfg->exec_cwd,
		    strerror(errno));
		_exit(126);
	}
	signal(SIGPIPE, SIG_DFL);
	execvpe(argv[0], argv, envp);
	dprintf(2, "%s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

struct exec_run {
	pid_t		 pid;
	int		 in, out, err;
	const uint8_t	*data;
	size_t		 len, off;
	char		 errbuf[65536];
	size_t		 errlen, errmax;
	int		 overflow, cancelled;
};

/* Pumps stdin, stdout and stderr until the program closes its outputs. */
static void
exec_pump(struct commis_call *call, struct exec_run *r)
{
	struct pollfd	pfd[3];
	uint8_t		buf[65536];
	ssize_t		n;
	int		nfds, i;

	while (r->out != -1 || r->err != -1) {
		nfds = 0;
		if (r->in != -1) {
			pfd[nfds].fd = r->in;
			pfd[nfds++].events = POLLOUT;
		}
		if (r->out != -1) {
			pfd[nfds].fd = r->out;
			pfd[nfds++].events = POLLIN;
		}
		if (r->err != -1) {
			pfd[nfds].fd = r->err;
			pfd[nfds++].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)nfds, EXEC_POLL_MS) == -1 &&
		    errno != EINTR)
			break;
		if (call->cancelled(call)) {
			r->cancelled = 1;
			kill(-r->pid, SIGKILL);
		}
		for (i = 0; i < nfds; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == r->in) {
				n = write(r->in, r->data + r->off,
				    r->len - r->off);
				if (n > 0)
					r->off += (size_t)n;
				if ((n == -1 && errno != EAGAIN &&
				    errno != EINTR) || r->off == r->len) {
					close(r->in);
					r->in = -1;
				}
				continue;
			}
			n = read(pfd[i].fd, buf, sizeof buf);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0) {
				close(pfd[i].fd);
				if (pfd[i].fd == r->out)
					r->out = -1;
				else
					r->err = -1;
				continue;
			}
			if (pfd[i].fd == r->out) {
				if (!r->overflow &&
				    call->write(call, buf, (size_t)n) == -1) {
					r->overflow = 1;
					kill(-r->pid, SIGKILL);
				}
			} else if (r->errlen < r->errmax) {
				if ((size_t)n > r->errmax - r->errlen)
					n = (ssize_t)(r->errmax - r->errlen);
				memcpy(r->errbuf + r->errlen, buf, (size_t)n);
				r->errlen += (size_t)n;
			}
		}
	}
	if (r->in != -1) {
		close(r->in);
		r->in = -1;
	}
}

static int
exec_run(struct commis_call *call)
{
	struct exec_vals	 v;
	struct exec_run		 r;
	char			*argv[EXEC_ARGS_MAX + 1], **envp = NULL;
	const uint8_t		*rest;
	size_t			 restlen, i, n;
	int			 pin[2] = { -1, -1 }, pout[2] = { -1, -1 };
	int			 perr[2] = { -1, -1 }, status, rc = -1;

	if (exec_cfg == NULL || exec_cfg->nexec_argv == 0) {
		call->error(call, "this pool has no exec_argv");
		return -1;
	}
	if (exec_parse_vals(call, &v, &rest, &restlen) == -1)
		return -1;
	n = exec_cfg->nexec_argv < EXEC_ARGS_MAX ? exec_cfg->nexec_argv :
	    EXEC_ARGS_MAX;
	memset(argv, 0, sizeof argv);
	for (i = 0; i < n; i++) {
		if ((argv[i] = exec_subst(call, exec_cfg->exec_argv[i],
		    &v)) == NULL)
			goto out;
	}
	/* The config's list has a count, not a NULL at its end. */
	if ((envp = calloc(exec_cfg->nexec_env + 1, sizeof *envp)) == NULL) {
		call->error(call, "out of memory");
		goto out;
	}
	for (i = 0; i < exec_cfg->nexec_env; i++)
		envp[i] = exec_cfg->exec_env[i];
	memset(&r, 0, sizeof r);
	r.errmax = exec_cfg->exec_stderr_max < sizeof r.errbuf ?
	    exec_cfg->exec_stderr_max : sizeof r.errbuf;
	if (pipe2(pin, O_CLOEXEC) == -1 || pipe2(pout, O_CLOEXEC) == -1 ||
	    pipe2(perr, O_CLOEXEC) == -1) {
		call->error(call, "pipe: %s", strerror(errno));
		goto out;
	}
	if ((r.pid = fork()) == -1) {
		call->error(call, "fork: %s", strerror(errno));
		goto out;
	}
	if (r.pid == 0)
		exec_child(argv, envp, exec_cfg->exec_stdin ? pin[0] :
		    open("/dev/null", O_RDONLY), pout[1], perr[1]);
	/* Both sides: its own group before anything can be signalled. */
	setpgid(r.pid, r.pid);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	pin[0] = pout[1] = perr[1] = -1;
	r.in = exec_cfg->exec_stdin ? pin[1] : -1;
	if (r.in == -1)
		close(pin[1]);
	pin[1] = -1;
	r.out = pout[0];
	r.err = perr[0];
	pout[0] = perr[0] = -1;
	fcntl(r.in, F_SETFL, O_NONBLOCK);
	r.data = rest;
	r.len = restlen;
	if (r.in != -1 && r.len == 0) {
		close(r.in);
		r.in = -1;
	}
	exec_pump(call, &r);
	while (waitpid(r.pid, &status, 0) == -1 && errno == EINTR)
		;
	/* Whatever it left behind in its group goes with the job. */
	kill(-r.pid, SIGKILL);
	while (r.errlen > 0 && (r.errbuf[r.errlen - 1] == '\n' ||
	    r.errbuf[r.errlen - 1] == '\r'))
		r.errlen--;
	if (r.cancelled)
		call->error(call, "cancelled; %s killed", argv[0]);
	else if (r.overflow)
		call->error(call, "%s: output larger than the result limit",
		    argv[0]);
	else if (WIFSIGNALED(status))
		call->error(call, "%s killed by signal %d (%s)%s%.*s", argv[0],
		    WTERMSIG(status), strsignal(WTERMSIG(status)),
		    r.errlen ? ": " : "", (int)r.errlen, r.errbuf);
	else if (WEXITSTATUS(status) != 0)
		call->error(call, "%s: exit status %d%s%.*s", argv[0],
		    WEXITSTATUS(status), r.errlen ? ": " : "", (int)r.errlen,
		    r.errbuf);
	else
		rc = 0;
out:
	for (i = 0; i < 2; i++) {
		if (pin[i] != -1)
			close(pin[i]);
		if (pout[i] != -1)
			close(pout[i]);
		if (perr[i] != -1)
			close(perr[i]);
	}
	for (i = 0; i < EXEC_ARGS_MAX && argv[i] != NULL; i++)
		free(argv[i]);
	free(envp);
	return rc;
}

static const struct commis_handler exec_handlers[] = {
	{ "exec", 0, NULL, exec_run, NULL },
};

const struct commis_module exec_module = {
	COMMIS_HANDLER_ABI,
	sizeof exec_handlers / sizeof exec_handlers[0],
	exec_handlers,
};
