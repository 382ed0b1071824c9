/*
 * The worker process, the child side of pool_spawn(). It owns nothing of
 * the supervisor: right after fork it keeps only its channel (fd 3) and the
 * standard fds, dies with the supervisor (PR_SET_PDEATHSIG), leaves the
 * supervisor's process group, resets every signal disposition libevent
 * set, lowers its CPU priority, and runs the handlers' init(). Then it
 * loops: JOB in, handler, DONE out, with plain blocking I/O; no event loop
 * is needed for one job at a time. A closed channel means the supervisor
 * wants it gone: it exits 0.
 *
 * Segments: a JOB's fd is the job's until it is answered. It is checked
 * (seals, size) and mapped only when the job starts, and a bad one is the
 * job's error, never the worker's death. Whatever happens, the input is
 * unmapped and every fd closed once DONE is sent. The worker knows
 * nothing of pools, clients or how the supervisor routes results.
 *
 * The start-up and the running of one job (wjob.h) are shared with the
 * thread host (host.c): that code reaches the channel and the cancel flag
 * only through a struct wjob_env, and keeps no state of its own, so that
 * several threads may run it at once.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "confine.h"
#include "exec.h"
#include "exitcode.h"
#include "frame.h"
#include "handlers.h"
#include "log.h"
#include "msg.h"
#include "seg.h"
#include "wjob.h"
#include "worker.h"

struct wstate {
	struct wjob_env			 env;		/* first: see below */
	struct rusage			 prev;		/* env.prev */
	struct frame_dec		 dec;
	struct mbuf			 out;		/* frames not written */
	uint64_t			 read_ns;	/* the last look at
							   the channel */
	struct wjob_list		 queue;		/* sent, not started */
	struct wjob			*running;	/* or NULL */
};

struct wcall {
	struct commis_call	 call;
	struct wjob_env		*env;
	struct wjob		*j;
	struct mbuf		 out;
	char			 err[COMMIS_TEXT_MAX];
	size_t			 max;		/* output limit */
	uint8_t			*map;		/* the mapped input segment */
	size_t			 maplen;
	int			 inplace;	/* the segment is the result */
	int			 passed;	/* pass_input() on a segment */
	int			 overflow;
	int			 wrote;		/* write() in an in-place job */
	uint64_t		 cpu_us;	/* the job's thread, this job */
	uint64_t		 maxrss_kb;	/* the process, so far */
};

void
worker_start(const struct worker_args *wa)
{
	struct sched_param	 sp = { 0 };
	sigset_t		 set;
	char			*cause = NULL, why[256];
	int			 sig;

	if (wa->fd != WORKER_FD && dup2(wa->fd, WORKER_FD) == -1)
		_exit(EXIT_WORKER_ERROR);
	/* The control socket, the other workers' channels, libevent's fds. */
	if (close_range(WORKER_FD + 1, ~0U, 0) == -1)
		_exit(EXIT_WORKER_ERROR);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != wa->parent)
		_exit(EXIT_WORKER_ERROR);
	/*
	 * Its own process group: a Ctrl-C or a signal to commisd's group
	 * must reach the supervisor only, which then stops workers in order.
	 */
	if (setpgid(0, 0) == -1)
		_exit(EXIT_WORKER_ERROR);
	for (sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	}
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	if (wa->cfg->nice > 0 && setpriority(PRIO_PROCESS, 0,
	    getpriority(PRIO_PROCESS, 0) + wa->cfg->nice) == -1)
		log_pool(LOG_LVL_WARN, wa->cfg->name, "worker: setpriority: %s",
		    strerror(errno));
	if (wa->cfg->sched_batch &&
	    sched_setscheduler(0, SCHED_BATCH, &sp) == -1)
		log_pool(LOG_LVL_WARN, wa->cfg->name, "worker: SCHED_BATCH: %s",
		    strerror(errno));
	if (confine_worker(wa->cfg, wa->parent, why, sizeof why) == -1) {
		log_pool(LOG_LVL_WARN, wa->cfg->name, "worker start-up: %s",
		    why);
		_exit(EXIT_WORKER_NORESPAWN);
	}
	exec_configure(wa->cfg);
	if (handlers_init(wa->handlers, &cause) == -1) {
		log_pool(LOG_LVL_WARN, wa->cfg->name, "worker start-up: %s",
		    cause);
		_exit(EXIT_WORKER_NORESPAWN);
	}
}

void
worker_ready(struct wjob_env *env)
{
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_u32(&m, (uint32_t)getpid());
	if (m.err)
		_exit(EXIT_WORKER_ERROR);
	env->send(env, COMMIS_MSG_READY, 0, m.data, m.len, NULL, 0, -1);
	mbuf_free(&m);
}

static int
worker_append(struct wcall *wc, const void *p, size_t n)
{
	if (n > wc->max - wc->out.len) {
		wc->overflow = 1;
		return -1;
	}
	mbuf_add(&wc->out, p, n);
	return wc->out.err ? -1 : 0;
}

/*
 * After pass_input() on a segment the result is that segment; a write
 * after it turns the result back into bytes: the input's, then these.
 */
static int
worker_write(struct commis_call *call, const void *p, size_t n)
{
	struct wcall	*wc = call->priv;

	if (wc->inplace) {
		wc->wrote = 1;
		return -1;
	}
	if (wc->passed) {
		wc->passed = 0;
		if (worker_append(wc, call->input, call->input_len) == -1)
			return -1;
	}
	return worker_append(wc, p, n);
}

/* Zero-copy only as the whole result: with output before it, copy. */
static int
worker_pass_input(struct commis_call *call)
{
	struct wcall	*wc = call->priv;

	if (wc->inplace)
		return 0;
	if (wc->j->fd != -1 && !wc->passed && wc->out.len == 0) {
		wc->passed = 1;
		return 0;
	}
	return worker_write(call, call->input, call->input_len);
}

static void
worker_error(struct commis_call *call, const char *fmt, ...)
{
	struct wcall	*wc = call->priv;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(wc->err, sizeof wc->err, fmt, ap);
	va_end(ap);
}

/*
 * Takes the frame's fd. A malformed payload is the supervisor's bug and
 * ends the process; a segment that does not fit the job is the job's error.
 */
struct wjob *
worker_job_new(const struct frame *f)
{
	struct mreader	 r;
	struct wjob	*j;
	const uint8_t	*in;

	if ((j = calloc(1, sizeof *j)) == NULL)
		_exit(EXIT_WORKER_ERROR);
	atomic_init(&j->cancel, 0);
	j->fd = f->fd;
	mr_init(&r, f->payload, f->hdr.len);
	mr_str(&r, j->handler, sizeof j->handler);
	j->flags = mr_u32(&r);
	in = mr_bytes(&r, &j->len);
	if (mr_end(&r) == -1)
		_exit(EXIT_WORKER_ERROR);
	if (j->fd != -1 && j->len > 0) {
		j->bad = "inline input along with a segment";
		j->len = 0;
	} else if (j->fd == -1 && (j->flags & COMMIS_SUBMIT_INPLACE))
		j->bad = "an in-place job without a segment";
	if (j->len > 0) {
		if ((j->input = malloc(j->len)) == NULL)
			_exit(EXIT_WORKER_ERROR);
		memcpy(j->input, in, j->len);
	}
	j->id = f->hdr.id;
	return j;
}

void
worker_job_free(struct wjob *j)
{
	if (j == NULL)
		return;
	if (j->fd != -1)
		close(j->fd);
	free(j->input);
	free(j);
}

struct wjob *
worker_job_find(struct wjob_list *list, uint64_t id)
{
	struct wjob	*j;

	TAILQ_FOREACH(j, list, entry) {
		if (j->id == id)
			return j;
	}
	return NULL;
}

static int
worker_call_cancelled(struct commis_call *call)
{
	struct wcall	*wc = call->priv;

	return wc->env->cancelled(wc->env, wc->j);
}

/* Outputs above this go back as a segment. */
static size_t
worker_threshold(const struct worker_args *wa)
{
	return wa->segment_threshold < wa->max_payload ?
	    wa->segment_threshold : wa->max_payload;
}

static void
worker_call_init(struct wcall *wc, struct wjob_env *env, struct wjob *j)
{
	uint64_t	max = env->wa->max_segment;
	size_t		threshold = worker_threshold(env->wa);

	memset(wc, 0, sizeof *wc);
	mbuf_init(&wc->out);
	wc->env = env;
	wc->j = j;
	/* Up to the threshold inline, above it as a segment. */
	wc->max = max > threshold ? (max > SIZE_MAX ? SIZE_MAX : max) :
	    threshold;
	wc->call.input = j->input;
	wc->call.input_len = j->len;
	wc->call.write = worker_write;
	wc->call.error = worker_error;
	wc->call.cancelled = worker_call_cancelled;
	wc->call.pass_input = worker_pass_input;
	wc->call.priv = wc;
}

/* Checks and maps the input segment, if any. -1 with wc->err set. */
static int
worker_input(struct wcall *wc, const struct handler_ent *he)
{
	struct wjob	*j = wc->j;
	uint64_t	 size;
	char		 why[COMMIS_TEXT_MAX - 32];

	wc->inplace = (j->flags & COMMIS_SUBMIT_INPLACE) != 0;
	if (j->bad != NULL) {
		snprintf(wc->err, sizeof wc->err, "bad segment: %s", j->bad);
		return -1;
	}
	if (wc->inplace && !(he->h->flags & COMMIS_HANDLER_INPLACE)) {
		snprintf(wc->err, sizeof wc->err, "handler '%s' does not "
		    "work in place", j->handler);
		return -1;
	}
	if (j->fd == -1)
		return 0;
	if (seg_check(j->fd, wc->inplace ? SEG_INPLACE : SEG_INPUT,
	    wc->env->wa->max_segment, &size, why, sizeof why) == -1) {
		snprintf(wc->err, sizeof wc->err, "bad segment: %s", why);
		return -1;
	}
	if ((wc->map = seg_map(j->fd, (size_t)size, wc->inplace)) == NULL) {
		snprintf(wc->err, sizeof wc->err, "bad segment: mmap: %s",
		    strerror(errno));
		return -1;
	}
	wc->maplen = (size_t)size;
	wc->call.input = wc->map;
	wc->call.input_len = wc->maplen;
	if (wc->inplace)
		wc->call.input_rw = wc->map;
	return 0;
}

/* The output as a new sealed segment: its fd, or -1 with wc->err set. */
static int
worker_out_segment(struct wcall *wc)
{
	void	*map;
	int	 fd, saved;

	if ((fd = seg_create("commis-result", wc->out.len, &map)) == -1)
		goto fail;
	memcpy(map, wc->out.data, wc->out.len);
	/* No writable mapping may be left when F_SEAL_WRITE goes on. */
	seg_unmap(map, wc->out.len);
	if (seg_seal(fd, SEG_INPUT) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail;
	}
	return fd;

fail:
	snprintf(wc->err, sizeof wc->err, "cannot make the result segment: "
	    "%s", strerror(errno));
	return -1;
}

/*
 * DONE: u8 ok, str error, bytes output, with the output's segment (the
 * passed input, or a new one) as the frame's fd and the bytes then empty.
 * Sending passes a reference: a new segment is closed here, the input's
 * with its job.
 */
static void
worker_done(struct wcall *wc, int ok)
{
	struct wjob_env	*env = wc->env;
	struct mbuf	 m;
	const void	*out = NULL;
	size_t		 outlen = 0;
	int		 fd = -1, own = 0;

	if (ok && wc->passed)
		fd = wc->j->fd;
	else if (ok && wc->out.len > worker_threshold(env->wa)) {
		if ((fd = worker_out_segment(wc)) == -1)
			ok = 0;
		own = fd != -1;
	} else if (ok) {
		out = wc->out.data;
		outlen = wc->out.len;
	}
	mbuf_init(&m);
	mbuf_u8(&m, ok ? 0 : 1);
	mbuf_str(&m, ok ? "" : wc->err);
	mbuf_u64(&m, wc->cpu_us);
	mbuf_u64(&m, wc->maxrss_kb);
	mbuf_u32(&m, (uint32_t)outlen);
	if (m.err)
		_exit(EXIT_WORKER_ERROR);
	env->send(env, COMMIS_MSG_DONE, wc->j->id, m.data, m.len, out, outlen,
	    fd);
	if (own)
		close(fd);
	mbuf_free(&m);
}

/* Names the limit a result ran into. */
static void
worker_overflow(struct wcall *wc)
{
	const struct worker_args	*wa = wc->env->wa;

	if (wc->max == wa->max_payload)
		snprintf(wc->err, sizeof wc->err, "result larger than "
		    "max_payload (%zu bytes)", wc->max);
	else
		snprintf(wc->err, sizeof wc->err, "result larger than "
		    "max_segment (%llu bytes)",
		    (unsigned long long)wa->max_segment);
}

static uint64_t
worker_cpu_us(const struct rusage *a, const struct rusage *b)
{
	return (uint64_t)(((b->ru_utime.tv_sec - a->ru_utime.tv_sec) +
	    (b->ru_stime.tv_sec - a->ru_stime.tv_sec)) * 1000000 +
	    (b->ru_utime.tv_usec - a->ru_utime.tv_usec) +
	    (b->ru_stime.tv_usec - a->ru_stime.tv_usec));
}

/*
 * The job's CPU time and the peak RSS. A process worker: the process's,
 * since the last job ended (env->prev), which includes any threads the
 * handler started and the worker's own microseconds between jobs, in one
 * getrusage. A thread: its own, since ru0.
 */
static void
worker_usage(struct wcall *wc, const struct rusage *ru0)
{
	struct wjob_env	*env = wc->env;
	struct rusage	 ru, self;

	if (env->prev != NULL) {
		if (getrusage(RUSAGE_SELF, &self) == 0) {
			wc->cpu_us = worker_cpu_us(env->prev, &self);
			wc->maxrss_kb = (uint64_t)self.ru_maxrss;
			*env->prev = self;
		}
		return;
	}
	if (getrusage(RUSAGE_THREAD, &ru) == 0)
		wc->cpu_us = worker_cpu_us(ru0, &ru);
	if (getrusage(RUSAGE_SELF, &self) == 0)
		wc->maxrss_kb = (uint64_t)self.ru_maxrss;
}

void
worker_job_run(struct wjob_env *env, struct wjob *j)
{
	struct handler_ent	*he;
	struct wcall		 wc;
	struct rusage		 ru0;
	int			 ok = 0;

	worker_call_init(&wc, env, j);
	if (env->prev == NULL)
		getrusage(RUSAGE_THREAD, &ru0);
	if ((he = handlers_find(env->wa->handlers, j->handler)) == NULL)
		snprintf(wc.err, sizeof wc.err, "no handler '%s'", j->handler);
	else if (env->thread_safe_only &&
	    !(he->h->flags & COMMIS_HANDLER_THREAD_SAFE))
		snprintf(wc.err, sizeof wc.err, "handler '%s' is not "
		    "thread-safe", j->handler);
	else if (worker_input(&wc, he) == 0) {
		wc.call.state = he->state;
		ok = he->h->run(&wc.call) == 0 && !wc.overflow &&
		    !wc.out.err && !wc.wrote;
		if (wc.overflow)
			worker_overflow(&wc);
		else if (wc.wrote)
			snprintf(wc.err, sizeof wc.err, "handler '%s' wrote "
			    "output in an in-place job", j->handler);
		else if (!ok && wc.err[0] == '\0')
			snprintf(wc.err, sizeof wc.err, "handler '%s' failed",
			    j->handler);
	}
	worker_usage(&wc, &ru0);
	worker_done(&wc, ok);
	seg_unmap(wc.map, wc.maplen);
	mbuf_free(&wc.out);
}

/*
 * The process worker from here on: one job at a time, with the channel
 * read between jobs and, through cancelled(), while one runs.
 *
 * Replies are batched: frames without an fd collect in ws->out, which is
 * written before a job starts (so its STARTED is out before its handler
 * runs, and the DONE of the job before rides in the same write), before
 * the worker blocks for input, and before any frame with an fd. So a
 * stream of prefetched short jobs costs one write each, not two, and a
 * reply never waits behind a running handler.
 */
#define WORKER_READ_NS	50000	/* between two looks at the channel while
				   prefetched jobs wait */
#define WORKER_BATCH_MAX 65536	/* a larger payload is sent on its own */

static uint64_t
worker_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
worker_flush(struct wstate *ws)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < ws->out.len) {
		n = send(WORKER_FD, ws->out.data + off, ws->out.len - off,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(EXIT_WORKER_ERROR);
		off += (size_t)n;
	}
	mbuf_reset(&ws->out);
}

static void
worker_send(struct wjob_env *env, uint8_t type, uint64_t id, const void *p1,
    size_t n1, const void *p2, size_t n2, int fd)
{
	/* env is the first member of the worker's state. */
	struct wstate	*ws = (struct wstate *)env;
	uint8_t		 hdr[COMMIS_FRAME_HDR_LEN];

	if (fd != -1 || n1 + n2 > WORKER_BATCH_MAX) {
		worker_flush(ws);
		if (frame_send(WORKER_FD, type, 0, id, p1, n1, p2, n2, fd) ==
		    -1)
			_exit(EXIT_WORKER_ERROR);
		return;
	}
	frame_hdr_encode(hdr, type, 0, (uint32_t)(n1 + n2), id);
	mbuf_add(&ws->out, hdr, sizeof hdr);
	mbuf_add(&ws->out, p1, n1);
	mbuf_add(&ws->out, p2, n2);
	if (ws->out.err)
		_exit(EXIT_WORKER_ERROR);
}

/* Handles every complete frame in the decoder. */
static void
worker_frames(struct wstate *ws)
{
	struct frame	 f;
	struct wjob	*j;
	int		 r;

	while ((r = frame_dec_next(&ws->dec, &f)) == 1) {
		switch (f.hdr.type) {
		case COMMIS_MSG_JOB:
			j = worker_job_new(&f);
			TAILQ_INSERT_TAIL(&ws->queue, j, entry);
			break;
		case COMMIS_MSG_REVOKE:
			/* Not started: give it back. Started: too late. */
			j = worker_job_find(&ws->queue, f.hdr.id);
			if (j != NULL) {
				TAILQ_REMOVE(&ws->queue, j, entry);
				worker_job_free(j);
				worker_send(&ws->env, COMMIS_MSG_REVOKED,
				    f.hdr.id, NULL, 0, NULL, 0, -1);
			}
			break;
		case COMMIS_MSG_CANCEL:
			/* Not started yet: it starts cancelled. A stale
			 * one (the job is done) is harmless. */
			if (ws->running != NULL && ws->running->id == f.hdr.id)
				j = ws->running;
			else
				j = worker_job_find(&ws->queue, f.hdr.id);
			if (j != NULL)
				atomic_store(&j->cancel, 1);
			break;
		default:
			_exit(EXIT_WORKER_ERROR);
		}
	}
	if (r == -1)
		_exit(EXIT_WORKER_ERROR);
}

/* Reads once; with block == 0 only if bytes are waiting. */
static void
worker_read(struct wstate *ws, int block)
{
	ssize_t	n;

	if (block)
		worker_flush(ws);
	n = frame_dec_recv(&ws->dec, WORKER_FD, block ? 0 : MSG_DONTWAIT);
	ws->read_ns = worker_now_ns();
	if (n == 0) {
		/* The supervisor let go of us. */
		if (ws->running == NULL)
			handlers_fini(ws->env.wa->handlers);
		_exit(EXIT_WORKER_OK);
	}
	if (n == -1 && errno != EINTR && errno != EAGAIN)
		_exit(EXIT_WORKER_ERROR);
	worker_frames(ws);
	/* A REVOKED answered while a handler runs must not wait for it. */
	if (ws->running != NULL)
		worker_flush(ws);
}

/* One job at a time: a CANCEL can only arrive by reading now. */
static int
worker_cancelled(struct wjob_env *env, struct wjob *j)
{
	/* env is the first member of the worker's state. */
	struct wstate	*ws = (struct wstate *)env;

	if (!atomic_load(&j->cancel))
		worker_read(ws, 0);
	return atomic_load(&j->cancel);
}

void
worker_main(const struct worker_args *wa)
{
	struct wstate	 ws;
	struct wjob	*j;

	worker_start(wa);
	memset(&ws, 0, sizeof ws);
	ws.env.wa = wa;
	ws.env.send = worker_send;
	ws.env.cancelled = worker_cancelled;
	TAILQ_INIT(&ws.queue);
	mbuf_init(&ws.out);
	frame_dec_init(&ws.dec, wa->max_payload + COMMIS_FRAME_OVERHEAD);
	worker_ready(&ws.env);
	if (getrusage(RUSAGE_SELF, &ws.prev) == 0)
		ws.env.prev = &ws.prev;
	for (;;) {
		/*
		 * Take in what is waiting first: a REVOKE must win over
		 * starting the job it names. While a batch of prefetched
		 * jobs runs fast, one look per WORKER_READ_NS is enough: a
		 * REVOKE that loses the race is harmless (docs/protocol.md).
		 */
		if (TAILQ_EMPTY(&ws.queue))
			worker_read(&ws, 1);
		else if (worker_now_ns() - ws.read_ns >= WORKER_READ_NS)
			worker_read(&ws, 0);
		if ((j = TAILQ_FIRST(&ws.queue)) == NULL)
			continue;
		TAILQ_REMOVE(&ws.queue, j, entry);
		ws.running = j;
		worker_send(&ws.env, COMMIS_MSG_STARTED, j->id, NULL, 0, NULL,
		    0, -1);
		worker_flush(&ws);
		worker_job_run(&ws.env, j);
		ws.running = NULL;
		worker_job_free(j);
	}
}
