/*
 * The worker process, the child side of pool_spawn(). It owns nothing of
 * the supervisor: right after fork it keeps only its channel (fd 3) and the
 * standard fds, dies with the supervisor (PR_SET_PDEATHSIG), leaves the
 * supervisor's process group, resets every signal disposition libevent
 * set, lowers its CPU priority, and runs the handlers' init(). Then it loops: JOB in, handler, DONE out, with plain
 * blocking I/O; no event loop is needed for one job at a time. A closed
 * channel means the supervisor wants it gone: it exits 0.
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
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "exitcode.h"
#include "frame.h"
#include "handlers.h"
#include "log.h"
#include "msg.h"
#include "worker.h"

#define WORKER_FD	3

struct wcall {
	struct commis_call	 call;
	struct mbuf		 out;
	char			 err[COMMIS_TEXT_MAX];
	size_t			 max;
	uint64_t		 job_id;
	int			 cancel;
	int			 overflow;
	struct frame_dec	*side;	/* bytes read while the job runs */
};

static void
worker_setup(const struct worker_args *wa)
{
	struct sched_param	sp = { 0 };
	sigset_t		set;
	int			sig;

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
		log_warn("worker: setpriority");
	if (wa->cfg->sched_batch &&
	    sched_setscheduler(0, SCHED_BATCH, &sp) == -1)
		log_warn("worker: SCHED_BATCH");
}

static int
worker_write(struct commis_call *call, const void *p, size_t n)
{
	struct wcall	*wc = call->priv;

	if (n > wc->max - wc->out.len) {
		wc->overflow = 1;
		return -1;
	}
	mbuf_add(&wc->out, p, n);
	return wc->out.err ? -1 : 0;
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

/* Frames that arrive while a job runs: only CANCEL is allowed. */
static void
worker_side_frames(struct wcall *wc, struct frame_dec *d)
{
	struct frame	f;
	int		r;

	while ((r = frame_dec_next(d, &f)) == 1) {
		if (f.hdr.type != COMMIS_MSG_CANCEL)
			_exit(EXIT_WORKER_ERROR);
		if (f.hdr.id == wc->job_id)
			wc->cancel = 1;
	}
	if (r == -1)
		_exit(EXIT_WORKER_ERROR);
}

static int
worker_cancelled(struct commis_call *call)
{
	struct wcall	*wc = call->priv;
	struct pollfd	 pfd = { .fd = WORKER_FD, .events = POLLIN };
	ssize_t		 n;

	if (wc->cancel)
		return 1;
	if (poll(&pfd, 1, 0) == 1) {
		n = frame_dec_read(wc->side, WORKER_FD);
		if (n == 0)
			_exit(EXIT_WORKER_OK);	/* supervisor gone */
		if (n > 0)
			worker_side_frames(wc, wc->side);
	}
	return wc->cancel;
}

static void
worker_done(struct wcall *wc, int ok)
{
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_u8(&m, ok ? 0 : 1);
	mbuf_str(&m, ok ? "" : wc->err);
	mbuf_u32(&m, ok ? (uint32_t)wc->out.len : 0);
	if (m.err || frame_send(WORKER_FD, COMMIS_MSG_DONE, 0, wc->job_id,
	    m.data, m.len, ok ? wc->out.data : NULL, ok ? wc->out.len : 0,
	    -1) == -1)
		_exit(EXIT_WORKER_ERROR);
	mbuf_free(&m);
}

/* One JOB frame: run its handler and answer DONE. */
static void
worker_job(const struct worker_args *wa, struct frame_dec *main_dec,
    const struct frame *f)
{
	struct frame_dec	 side;
	struct handler_ent	*he;
	struct wcall		 wc;
	struct mreader		 r;
	char			 name[COMMIS_NAME_MAX];
	int			 ok;

	memset(&wc, 0, sizeof wc);
	mbuf_init(&wc.out);
	frame_dec_init(&side, COMMIS_FRAME_OVERHEAD);
	wc.side = &side;
	wc.job_id = f->hdr.id;
	wc.max = wa->max_payload;
	mr_init(&r, f->payload, f->hdr.len);
	mr_str(&r, name, sizeof name);
	wc.call.input = mr_bytes(&r, &wc.call.input_len);
	if (mr_end(&r) == -1)
		_exit(EXIT_WORKER_ERROR);
	/* A CANCEL may already sit behind the JOB in the main decoder. */
	worker_side_frames(&wc, main_dec);
	wc.call.write = worker_write;
	wc.call.error = worker_error;
	wc.call.cancelled = worker_cancelled;
	wc.call.priv = &wc;
	if ((he = handlers_find(wa->handlers, name)) == NULL) {
		snprintf(wc.err, sizeof wc.err, "no handler '%s'", name);
		ok = 0;
	} else {
		wc.call.state = he->state;
		ok = he->h->run(&wc.call) == 0 && !wc.overflow && !wc.out.err;
		if (wc.overflow)
			snprintf(wc.err, sizeof wc.err, "result larger than "
			    "max_payload (%zu bytes)", wc.max);
		else if (!ok && wc.err[0] == '\0')
			snprintf(wc.err, sizeof wc.err, "handler '%s' failed",
			    name);
	}
	worker_done(&wc, ok);
	/* A partial frame read while the job ran belongs to the stream. */
	if (side.len > side.off && frame_dec_feed(main_dec, side.buf + side.off,
	    side.len - side.off, -1) == -1)
		_exit(EXIT_WORKER_ERROR);
	frame_dec_free(&side);
	mbuf_free(&wc.out);
}

void
worker_main(const struct worker_args *wa)
{
	struct frame_dec	 d;
	struct frame		 f;
	struct mbuf		 m;
	char			*cause = NULL;
	ssize_t			 n;
	int			 r;

	worker_setup(wa);
	if (handlers_init(wa->handlers, &cause) == -1) {
		log_warnx("pool %s: worker start-up: %s", wa->cfg->name, cause);
		_exit(EXIT_WORKER_NORESPAWN);
	}
	mbuf_init(&m);
	mbuf_u32(&m, (uint32_t)getpid());
	if (frame_send(WORKER_FD, COMMIS_MSG_READY, 0, 0, m.data, m.len,
	    NULL, 0, -1) == -1)
		_exit(EXIT_WORKER_ERROR);
	mbuf_free(&m);

	frame_dec_init(&d, wa->max_payload + COMMIS_FRAME_OVERHEAD);
	for (;;) {
		if ((r = frame_dec_next(&d, &f)) == -1)
			_exit(EXIT_WORKER_ERROR);
		if (r == 0) {
			n = frame_dec_read(&d, WORKER_FD);
			if (n == 0)
				break;
			if (n == -1 && errno != EINTR)
				_exit(EXIT_WORKER_ERROR);
			continue;
		}
		if (f.hdr.type == COMMIS_MSG_JOB)
			worker_job(wa, &d, &f);
		else if (f.hdr.type != COMMIS_MSG_CANCEL)	/* stale */
			_exit(EXIT_WORKER_ERROR);
	}
	handlers_fini(wa->handlers);
	_exit(EXIT_WORKER_OK);
}
