/*
 * Throughput of 1-byte echo jobs: one client uncorked (one write per
 * job), one client corked at two depths, four clients at once, each in
 * its own process; and the floor they are read against, small frames
 * echoed in batches over a socketpair between two processes with no
 * commisd in the way.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_CORKED_JOBS	200000u	/* per corked depth */
#define BENCH_CLIENTS		4
#define BENCH_CLIENT_DEPTH	4096u
#define BENCH_CLIENT_JOBS	100000u	/* per client */
#define BENCH_CLIENTS_MS	120000	/* the whole multi-client batch */
#define BENCH_PIPE_MSGS		2000000u
#define BENCH_PIPE_MSG		64u	/* bytes per message */
#define BENCH_PIPE_BATCH	1024u	/* messages per write: 64 KiB */
#define BENCH_PIPE_INFLIGHT	16384u
#define BENCH_PIPE_MS		60000

/* Throughput of 1-byte echo jobs with depth of them in flight. */
int
bench_throughput(struct bench *b, unsigned depth, const char *stat,
    const char *key)
{
	unsigned	n = bench_count(b, BENCH_TPUT_JOBS);
	uint64_t	ns;

	if (bench_batch(b, "echo", "x", n, depth, 1, &ns) == -1)
		return -1;
	bench_row(b, "echo throughput", stat, key, (double)n * 1e9 /
	    (double)ns, "jobs/s");
	return 0;
}

/* Takes every result already there without waiting; *done counts them. */
static int
bench_drain(struct bench *b, commis_client *cl, unsigned *done,
    unsigned sent)
{
	struct commis_result	r;
	int			rc;

	while (*done < sent) {
		if ((rc = commis_poll_result(cl, &r)) == 0)
			return 0;
		if (rc < 0) {
			commis_result_free(&r);
			return bench_err(b, "echo: %s",
			    commis_client_error(cl));
		}
		rc = bench_job_ok(b, cl, "echo", COMMIS_OK, &r, 1);
		commis_result_free(&r);
		if (rc == -1)
			return -1;
		(*done)++;
	}
	return 0;
}

/*
 * total 1-byte echo jobs on cl, corked, with at most depth in flight:
 * refill to depth (the submits leave in 64 KiB writes), wait for one
 * result (which flushes the rest), take every other one already there,
 * refill. Taking only one result per refill would send one small write
 * per result, which is the uncorked case again.
 */
static int
bench_pipeline(struct bench *b, commis_client *cl, unsigned total,
    unsigned depth)
{
	struct commis_submit_opts	o = { .pool = BENCH_POOL };
	unsigned			sent = 0, done = 0;

	if (commis_cork(cl) != COMMIS_OK)
		return bench_err(b, "cork: %s", commis_client_error(cl));
	while (done < total) {
		while (sent < total && sent - done < depth) {
			if (commis_submit_async(cl, "echo", "x", 1, &o,
			    NULL) != COMMIS_OK)
				return bench_err(b, "submit echo: %s",
				    commis_client_error(cl));
			sent++;
		}
		if (bench_collect(b, cl, "echo", 1) == -1)
			return -1;
		done++;
		if (bench_drain(b, cl, &done, sent) == -1)
			return -1;
	}
	if (commis_uncork(cl) != COMMIS_OK)
		return bench_err(b, "uncork: %s", commis_client_error(cl));
	return 0;
}

/* One client, corked, depth in flight: jobs per second. */
int
bench_tput_corked(struct bench *b, unsigned depth, const char *stat,
    const char *key)
{
	unsigned	n = bench_count(b, BENCH_CORKED_JOBS);
	uint64_t	t0;

	t0 = bench_now_ns();
	if (bench_pipeline(b, b->cl, n, depth) == -1)
		return -1;
	bench_row(b, "echo throughput", stat, key, (double)n * 1e9 /
	    (double)(bench_now_ns() - t0), "jobs/s");
	return 0;
}

/* What a client process tells the parent, in one atomic pipe write. */
struct bench_report {
	int		 child;
	int		 kind;
#define BENCH_REP_READY	1
#define BENCH_REP_DONE	2
#define BENCH_REP_FAIL	3
	uint64_t	 end_ns;	/* DONE: its last result */
	char		 err[256];	/* FAIL: why */
};

static void
bench_report(int fd, int child, int kind, uint64_t end_ns, const char *err)
{
	struct bench_report	rep;

	memset(&rep, 0, sizeof rep);
	rep.child = child;
	rep.kind = kind;
	rep.end_ns = end_ns;
	if (err != NULL)
		snprintf(rep.err, sizeof rep.err, "%s", err);
	/* Under PIPE_BUF: whole or not at all, never mixed with another. */
	if (write(fd, &rep, sizeof rep) != (ssize_t)sizeof rep)
		_exit(1);
}

/*
 * A client process: connect, say ready, wait for the barrier (EOF on go),
 * run its share, report. The parent's own connection stays untouched:
 * _exit, so nothing is flushed or closed on its behalf.
 */
static void __attribute__((noreturn))
bench_client_main(struct bench *b, int child, int go, int rep)
{
	commis_client	*cl = NULL;
	char		 c;
	ssize_t		 n;

	if (commis_connect(b->sock, &cl) != COMMIS_OK) {
		bench_err(b, "connect %s: %s", b->sock, strerror(errno));
		bench_report(rep, child, BENCH_REP_FAIL, 0, b->err);
		_exit(1);
	}
	bench_report(rep, child, BENCH_REP_READY, 0, NULL);
	while ((n = read(go, &c, 1)) == -1 && errno == EINTR)
		;
	if (bench_pipeline(b, cl, bench_count(b, BENCH_CLIENT_JOBS),
	    BENCH_CLIENT_DEPTH) == -1) {
		bench_report(rep, child, BENCH_REP_FAIL, 0, b->err);
		_exit(1);
	}
	bench_report(rep, child, BENCH_REP_DONE, bench_now_ns(), NULL);
	commis_close(cl);
	_exit(0);
}

/*
 * Reads the reports there are; *ready and *done count them, *end is the
 * latest end. A failure report fails the run with the child's reason.
 */
static int
bench_client_reports(struct bench *b, int fd, int *ready, int *done,
    uint64_t *end)
{
	struct bench_report	rep;
	ssize_t			n;

	for (;;) {
		n = read(fd, &rep, sizeof rep);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n == 0)
			return 0;
		if (n != (ssize_t)sizeof rep)
			return bench_err(b, "client report: %s", n == -1 ?
			    strerror(errno) : "short read");
		if (rep.kind == BENCH_REP_FAIL)
			return bench_err(b, "client %d: %.256s", rep.child,
			    rep.err);
		if (rep.kind == BENCH_REP_READY)
			(*ready)++;
		else {
			(*done)++;
			if (rep.end_ns > *end)
				*end = rep.end_ns;
		}
	}
}

/*
 * Reaps the clients that have exited. One that exited without a DONE
 * report (reports are read first, and written before the exit) or with
 * a non-zero status fails the run.
 */
static int
bench_client_reap(struct bench *b, pid_t *pids, int *reported, int fd,
    int *ready, int *done, uint64_t *end)
{
	int	i, st;

	for (i = 0; i < BENCH_CLIENTS; i++) {
		if (pids[i] <= 0 || waitpid(pids[i], &st, WNOHANG) != pids[i])
			continue;
		pids[i] = 0;
		if (bench_client_reports(b, fd, ready, done, end) == -1)
			return -1;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return bench_err(b, "client %d ended with %s %d", i,
			    WIFEXITED(st) ? "status" : "signal",
			    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		(*reported)++;
	}
	if (*reported > *done)
		return bench_err(b, "a client exited without its result");
	return 0;
}

static void
bench_client_kill(pid_t *pids)
{
	int	i;

	for (i = 0; i < BENCH_CLIENTS; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
	}
}

/*
 * Waits until want_ready clients have said they are connected and
 * want_done have finished, polling the report pipe in 10 ms slices so
 * that a client that dies without a word is seen too.
 */
static int
bench_client_wait(struct bench *b, pid_t *pids, int fd, int want_ready,
    int want_done, int *ready, int *done, uint64_t *end, uint64_t deadline)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	int		reaped = 0;

	while (*ready < want_ready || *done < want_done) {
		if (bench_now_ns() >= deadline)
			return bench_err(b, "clients: %d of %d ready, %d of %d "
			    "done after %d ms", *ready, want_ready, *done,
			    want_done, BENCH_CLIENTS_MS);
		if (poll(&pfd, 1, 10) == -1 && errno != EINTR)
			return bench_err(b, "poll: %s", strerror(errno));
		if (bench_client_reports(b, fd, ready, done, end) == -1 ||
		    bench_client_reap(b, pids, &reaped, fd, ready, done,
		    end) == -1)
			return -1;
	}
	return 0;
}

/*
 * Four client processes, each with its own connection, corked, 4096 in
 * flight: all connect first, then start together when the go pipe closes;
 * the time runs from that release to the last client's last result.
 */
int
bench_tput_clients(struct bench *b)
{
	pid_t		pids[BENCH_CLIENTS] = { 0 };
	int		go[2] = { -1, -1 }, rep[2] = { -1, -1 };
	int		i, st, ready = 0, done = 0, rc = -1;
	uint64_t	t0, end = 0, deadline;
	unsigned	per = bench_count(b, BENCH_CLIENT_JOBS);

	deadline = bench_now_ns() + BENCH_CLIENTS_MS * 1000000ull;
	if (pipe2(go, O_CLOEXEC) == -1 || pipe2(rep, O_CLOEXEC) == -1) {
		bench_err(b, "pipe: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < BENCH_CLIENTS; i++) {
		if ((pids[i] = fork()) == -1) {
			pids[i] = 0;
			bench_err(b, "fork: %s", strerror(errno));
			goto out;
		}
		if (pids[i] == 0) {
			close(go[1]);
			close(rep[0]);
			bench_client_main(b, i, go[0], rep[1]);
		}
	}
	close(go[0]);
	close(rep[1]);
	go[0] = rep[1] = -1;
	if (fcntl(rep[0], F_SETFL, O_NONBLOCK) == -1) {
		bench_err(b, "fcntl: %s", strerror(errno));
		goto out;
	}
	if (bench_client_wait(b, pids, rep[0], BENCH_CLIENTS, 0, &ready,
	    &done, &end, deadline) == -1)
		goto out;
	t0 = bench_now_ns();
	close(go[1]);
	go[1] = -1;
	if (bench_client_wait(b, pids, rep[0], BENCH_CLIENTS, BENCH_CLIENTS,
	    &ready, &done, &end, deadline) == -1)
		goto out;
	for (i = 0; i < BENCH_CLIENTS; i++) {
		if (pids[i] > 0 && waitpid(pids[i], &st, 0) == pids[i]) {
			pids[i] = 0;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				bench_err(b, "client %d ended with %s %d", i,
				    WIFEXITED(st) ? "status" : "signal",
				    WIFEXITED(st) ? WEXITSTATUS(st) :
				    WTERMSIG(st));
				goto out;
			}
		}
	}
	bench_row(b, "echo throughput", "4 x 4096 corked",
	    "tput_4clients_jobs_s", (double)per * BENCH_CLIENTS * 1e9 /
	    (double)(end - t0), "jobs/s");
	rc = 0;
out:
	bench_client_kill(pids);
	for (i = 0; i < 2; i++) {
		if (go[i] != -1)
			close(go[i]);
		if (rep[i] != -1)
			close(rep[i]);
	}
	return rc;
}

/* The echo side of the pipe floor: whatever arrives goes straight back. */
/*
 * The echo side: what it read goes back in one write, or (each) in one
 * write per message, as a process worker answers each job with a write
 * of its own.
 */
static void __attribute__((noreturn))
bench_floor_pipe_child(int fd, int each)
{
	static uint8_t	buf[256 << 10];
	size_t		off, left = 0;
	ssize_t		n;

	for (;;) {
		n = read(fd, buf + left, sizeof buf - left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			_exit(0);
		if (n == -1)
			_exit(1);
		if (!each) {
			if (bench_io(fd, buf, (size_t)n, 1) == -1)
				_exit(1);
			continue;
		}
		left += (size_t)n;
		for (off = 0; left - off >= BENCH_PIPE_MSG;
		    off += BENCH_PIPE_MSG) {
			if (bench_io(fd, buf + off, BENCH_PIPE_MSG, 1) == -1)
				_exit(1);
		}
		memmove(buf, buf + off, left - off);
		left -= off;
	}
}

/*
 * The sender of the pipe floor, on a non-blocking fd: one 64 KiB batch at
 * a time while at most 16384 messages are out, replies read as they come.
 * Polling both directions keeps it from blocking in a write while the
 * echo side blocks writing back to it.
 */
static int
bench_floor_pipe_send(struct bench *b, int fd, unsigned total)
{
	static uint8_t	out[BENCH_PIPE_BATCH * BENCH_PIPE_MSG];
	static uint8_t	in[256 << 10];
	struct pollfd	pfd = { .fd = fd };
	uint64_t	deadline = bench_now_ns() + BENCH_PIPE_MS * 1000000ull;
	uint64_t	want = (uint64_t)total * BENCH_PIPE_MSG, got = 0;
	unsigned	queued = 0, batch = 0;	/* messages */
	size_t		off = 0, len = 0;	/* in the batch being written */
	ssize_t		n;

	memset(out, 0xa5, sizeof out);
	while (got < want) {
		if (batch == 0 && queued < total &&
		    queued - got / BENCH_PIPE_MSG + BENCH_PIPE_BATCH <=
		    BENCH_PIPE_INFLIGHT) {
			batch = total - queued < BENCH_PIPE_BATCH ?
			    total - queued : BENCH_PIPE_BATCH;
			queued += batch;
			off = 0;
			len = (size_t)batch * BENCH_PIPE_MSG;
		}
		pfd.events = POLLIN | (batch > 0 ? POLLOUT : 0);
		if (bench_now_ns() >= deadline)
			return bench_err(b, "pipe floor: %llu of %llu bytes "
			    "back after %d ms", (unsigned long long)got,
			    (unsigned long long)want, BENCH_PIPE_MS);
		if (poll(&pfd, 1, 100) == -1 && errno != EINTR)
			return bench_err(b, "poll: %s", strerror(errno));
		if (pfd.revents & POLLOUT) {
			n = write(fd, out + off, len - off);
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				return bench_err(b, "pipe floor: write: %s",
				    strerror(errno));
			if (n > 0 && (off += (size_t)n) == len)
				batch = 0;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(fd, in, sizeof in);
			if (n == 0)
				return bench_err(b, "pipe floor: the echo side "
				    "closed");
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				return bench_err(b, "pipe floor: read: %s",
				    strerror(errno));
			if (n > 0)
				got += (uint64_t)n;
		}
	}
	if (got != want)
		return bench_err(b, "pipe floor: %llu bytes back, sent %llu",
		    (unsigned long long)got, (unsigned long long)want);
	return 0;
}

/*
 * The transport's ceiling for batched small frames: 64-byte messages
 * written 1024 at a time over a socketpair to a process that echoes them,
 * at most 16384 out; round trips per second, after a tenth as many
 * untimed. A job through commisd costs at least two such frames each way,
 * so job throughput can be read as a fraction of this. With each, the
 * echo side writes every message back with a write of its own: the
 * ceiling of a process worker, which writes once per job (its STARTED
 * must be out before the handler runs), with nothing else to do.
 */
int
bench_floor_pipe(struct bench *b, int each)
{
	unsigned	n = bench_count(b, each ? BENCH_PIPE_MSGS / 4 :
			    BENCH_PIPE_MSGS);
	uint64_t	t0, ns = 1;
	int		sv[2], st, rc;
	pid_t		pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return bench_err(b, "socketpair: %s", strerror(errno));
	if ((pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return bench_err(b, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(sv[0]);
		bench_floor_pipe_child(sv[1], each);
	}
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1)
		rc = bench_err(b, "fcntl: %s", strerror(errno));
	else	/* a tenth as warm-up: the echo side is running after it */
		rc = bench_floor_pipe_send(b, sv[0], n / 10 > 0 ? n / 10 : 1);
	if (rc == 0) {
		t0 = bench_now_ns();
		rc = bench_floor_pipe_send(b, sv[0], n);
		ns = bench_now_ns() - t0;
	}
	close(sv[0]);
	if (rc == -1)
		kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		rc = bench_err(b, "pipe floor: echo child failed");
	if (rc == 0 && !each)
		bench_row(b, "socketpair echo, 64 B", "1024 per write",
		    "floor_pipe_msgs_s", (double)n * 1e9 / (double)ns,
		    "msgs/s");
	else if (rc == 0)
		bench_row(b, "", "1 per write back",
		    "floor_pipe1_msgs_s", (double)n * 1e9 / (double)ns,
		    "msgs/s");
	return rc;
}
