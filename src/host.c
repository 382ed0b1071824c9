/*
 * The host process of an `isolation: thread` pool: the child side of
 * pool_spawn() for thread pools. It starts like a process worker
 * (worker_start(): fds, PDEATHSIG, process group, signals, priority,
 * handlers' init() once, their state shared by every thread), speaks the
 * same protocol on the same channel, and runs jobs with the same code
 * (worker_job_run()), but up to wa->threads of them at once.
 *
 * The main thread only reads the channel: JOB goes on a FIFO queue,
 * REVOKE drops a job still queued, CANCEL sets a job's atomic flag, which
 * its handler sees through cancelled(); job threads never read the
 * socket. Job threads take jobs in order and send STARTED while they hold
 * the queue lock, so that what the supervisor sees (STARTED or REVOKED)
 * is what happened to the queue. Every frame goes out whole under one
 * write lock.
 *
 * A fault in one job kills the whole host, and every other thread's job
 * with it: that is what thread mode costs. Before it dies the faulting
 * thread writes its job id into the page it shares with the supervisor
 * (wa->crash_note), so that only that job is charged an attempt. The host
 * knows nothing of pools, clients or how the supervisor routes results.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "exitcode.h"
#include "frame.h"
#include "handlers.h"
#include "log.h"
#include "wjob.h"
#include "worker.h"

/* Alternate signal stack per job thread, if sysconf says less. */
#define HOST_ALTSTACK	(64u << 10)

struct host {
	struct wjob_env		 env;		/* first: see host_of() */
	struct frame_dec	 dec;		/* the main thread's */
	pthread_mutex_t		 qlock;		/* queue and running */
	pthread_cond_t		 qcond;		/* queue not empty */
	struct wjob_list	 queue;		/* sent, not started */
	struct wjob_list	 running;	/* started, not freed */
	pthread_mutex_t		 wlock;		/* one frame at a time */
};

/*
 * The signal bridge: where a faulting thread notes its job, and that
 * thread's job. Both are read in a signal handler: the note is set once
 * before any thread starts, the job id is the thread's own, and the
 * initial-exec model makes reading it a plain load (no __tls_get_addr).
 */
static volatile uint64_t	*host_note;
static _Thread_local volatile uint64_t host_job
    __attribute__((tls_model("initial-exec")));

static struct host *
host_of(struct wjob_env *env)
{
	return (struct host *)env;
}

/*
 * SA_RESETHAND put the default action back and SA_NODEFER left the
 * signal unblocked, so raising it again ends the process by it: the
 * supervisor sees the real signal. Async-signal-safe: a load, an atomic
 * store and raise().
 */
static void
host_fatal(int sig)
{
	uint64_t	id = host_job;

	if (host_note != NULL && id != 0)
		__atomic_store_n(host_note, id, __ATOMIC_SEQ_CST);
	raise(sig);
}

static void
host_signals(const struct worker_args *wa)
{
	static const int	 sigs[] = {
		SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT
	};
	struct sigaction	 sa;
	size_t			 i;

	host_note = wa->crash_note;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = host_fatal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		if (sigaction(sigs[i], &sa, NULL) == -1)
			_exit(EXIT_WORKER_ERROR);
	}
}

/*
 * So that a job that overflows its stack is still named. Without one (no
 * memory) the thread goes on: it only loses that. The stack lives as long
 * as the thread, which is as long as the process.
 */
static void
host_altstack(void)
{
	stack_t	ss;
	long	min = sysconf(_SC_SIGSTKSZ);

	memset(&ss, 0, sizeof ss);
	ss.ss_size = min > (long)HOST_ALTSTACK ? (size_t)min : HOST_ALTSTACK;
	if ((ss.ss_sp = malloc(ss.ss_size)) == NULL)
		return;
	if (sigaltstack(&ss, NULL) == -1)
		free(ss.ss_sp);
}

static void
host_send(struct wjob_env *env, uint8_t type, uint64_t id, const void *p1,
    size_t n1, const void *p2, size_t n2, int fd)
{
	struct host	*h = host_of(env);
	int		 r;

	pthread_mutex_lock(&h->wlock);
	r = frame_send(WORKER_FD, type, 0, id, p1, n1, p2, n2, fd);
	pthread_mutex_unlock(&h->wlock);
	if (r == -1)
		_exit(EXIT_WORKER_ERROR);
}

/* Set by the main thread when CANCEL comes, queued or running. */
static int
host_cancelled(struct wjob_env *env, struct wjob *j)
{
	return atomic_load(&j->cancel);
}

/*
 * The next job, in order. STARTED goes out before the queue lock is let
 * go: a REVOKE handled after this finds the job gone and sends nothing,
 * one handled before it sent REVOKED and the job is not here to start.
 */
static struct wjob *
host_take(struct host *h)
{
	struct wjob	*j;

	pthread_mutex_lock(&h->qlock);
	while ((j = TAILQ_FIRST(&h->queue)) == NULL)
		pthread_cond_wait(&h->qcond, &h->qlock);
	TAILQ_REMOVE(&h->queue, j, entry);
	TAILQ_INSERT_TAIL(&h->running, j, entry);
	host_job = j->id;
	host_send(&h->env, COMMIS_MSG_STARTED, j->id, NULL, 0, NULL, 0, -1);
	pthread_mutex_unlock(&h->qlock);
	return j;
}

static void *
host_thread(void *arg)
{
	struct host	*h = arg;
	struct wjob	*j;

	host_altstack();
	for (;;) {
		j = host_take(h);
		worker_job_run(&h->env, j);
		host_job = 0;
		pthread_mutex_lock(&h->qlock);
		TAILQ_REMOVE(&h->running, j, entry);
		pthread_mutex_unlock(&h->qlock);
		worker_job_free(j);
	}
	return NULL;
}

static void
host_revoke(struct host *h, uint64_t id)
{
	struct wjob	*j;

	/* Not started: give it back. Started: too late, say nothing. */
	pthread_mutex_lock(&h->qlock);
	if ((j = worker_job_find(&h->queue, id)) != NULL)
		TAILQ_REMOVE(&h->queue, j, entry);
	pthread_mutex_unlock(&h->qlock);
	if (j != NULL) {
		worker_job_free(j);
		host_send(&h->env, COMMIS_MSG_REVOKED, id, NULL, 0, NULL, 0,
		    -1);
	}
}

/* Queued or running; a stale one (the job is done) is harmless. */
static void
host_cancel(struct host *h, uint64_t id)
{
	struct wjob	*j;

	pthread_mutex_lock(&h->qlock);
	if ((j = worker_job_find(&h->queue, id)) == NULL)
		j = worker_job_find(&h->running, id);
	if (j != NULL)
		atomic_store(&j->cancel, 1);
	pthread_mutex_unlock(&h->qlock);
}

/* Handles every complete frame in the decoder. */
static void
host_frames(struct host *h)
{
	struct frame	 f;
	struct wjob	*j;
	int		 r;

	while ((r = frame_dec_next(&h->dec, &f)) == 1) {
		switch (f.hdr.type) {
		case COMMIS_MSG_JOB:
			j = worker_job_new(&f);
			pthread_mutex_lock(&h->qlock);
			TAILQ_INSERT_TAIL(&h->queue, j, entry);
			pthread_cond_signal(&h->qcond);
			pthread_mutex_unlock(&h->qlock);
			break;
		case COMMIS_MSG_REVOKE:
			host_revoke(h, f.hdr.id);
			break;
		case COMMIS_MSG_CANCEL:
			host_cancel(h, f.hdr.id);
			break;
		default:
			_exit(EXIT_WORKER_ERROR);
		}
	}
	if (r == -1)
		_exit(EXIT_WORKER_ERROR);
}

/*
 * The supervisor let go of us. The handlers' fini() runs only if no job
 * is running, and with the queue lock held so that none starts; queued
 * jobs are dropped, as a process worker drops them.
 */
static void __attribute__((noreturn))
host_exit(struct host *h)
{
	pthread_mutex_lock(&h->qlock);
	if (TAILQ_EMPTY(&h->running))
		handlers_fini(h->env.wa->handlers);
	_exit(EXIT_WORKER_OK);
}

static void
host_threads(struct host *h, unsigned n)
{
	pthread_t	t;
	unsigned	i;
	int		error;

	for (i = 0; i < n; i++) {
		if ((error = pthread_create(&t, NULL, host_thread, h)) != 0) {
			errno = error;
			log_pool(LOG_LVL_WARN, h->env.wa->cfg->name,
			    "host: pthread_create: %s", strerror(errno));
			_exit(EXIT_WORKER_ERROR);
		}
		pthread_detach(t);
	}
}

void
host_main(const struct worker_args *wa)
{
	struct host	h;
	ssize_t		n;

	worker_start(wa);
	host_signals(wa);
	memset(&h, 0, sizeof h);
	h.env.wa = wa;
	h.env.thread_safe_only = 1;
	h.env.send = host_send;
	h.env.cancelled = host_cancelled;
	pthread_mutex_init(&h.qlock, NULL);
	pthread_cond_init(&h.qcond, NULL);
	pthread_mutex_init(&h.wlock, NULL);
	TAILQ_INIT(&h.queue);
	TAILQ_INIT(&h.running);
	frame_dec_init(&h.dec, wa->max_payload + COMMIS_FRAME_OVERHEAD);
	/* h lives on this stack frame, which never returns. */
	host_threads(&h, wa->threads > 0 ? wa->threads : 1);
	worker_ready(&h.env);
	for (;;) {
		n = frame_dec_read(&h.dec, WORKER_FD);
		if (n == 0)
			host_exit(&h);
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			_exit(EXIT_WORKER_ERROR);
		host_frames(&h);
	}
}
