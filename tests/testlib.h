/*
 * Helpers shared by the Check suites: temporary directories, deadlines,
 * and a real commisd started on a socket bound before the fork.
 */
#ifndef COMMIS_TESTLIB_H
#define COMMIS_TESTLIB_H

#include <check.h>
#include <stdint.h>
#include <sys/types.h>

Suite	*msg_suite(void);
Suite	*frame_suite(void);
Suite	*seg_suite(void);
Suite	*queue_suite(void);
Suite	*config_suite(void);
Suite	*handlers_suite(void);
Suite	*client_suite(void);
Suite	*worker_suite(void);
Suite	*host_suite(void);
Suite	*sup_suite(void);
Suite	*supervise_suite(void);
Suite	*bulk_suite(void);
Suite	*thread_suite(void);
Suite	*access_suite(void);
Suite	*cli_suite(void);
Suite	*log_suite(void);
Suite	*notify_suite(void);
Suite	*hist_suite(void);
Suite	*metrics_suite(void);
Suite	*hostile_suite(void);
Suite	*batch_suite(void);
Suite	*alloc_suite(void);
Suite	*journal_suite(void);
Suite	*durable_suite(void);
Suite	*thumbnail_suite(void);
Suite	*exec_suite(void);

/* A fresh mkdtemp directory under $TMPDIR; the path is malloc'd. */
char	*test_tmpdir(void);
/* rm -rf of a test directory. */
void	 test_rmdir(const char *);
/* Monotonic milliseconds. */
uint64_t test_now_ms(void);
/* Path of a built artifact ($COMMIS_BUILD/name); static buffer. */
const char *test_build_path(const char *name);

struct testd {
	pid_t	 pid;
	char	*dir;
	char	 sock[108];
	char	 conf[4096];
};

/*
 * Writes dir/commis.yaml with "socket:" plus the given YAML (pools etc.),
 * binds and listens on dir/commis.sock, then forks and execs commisd with
 * the socket handed over as systemd's LISTEN_FDS. Clients can connect as
 * soon as this returns. With $COMMIS_TEST_WRAP set (an argv prefix, e.g.
 * valgrind and its options: make valgrind), commisd runs under it.
 */
void	 testd_start(struct testd *, const char *yaml);
/* The same, but commisd binds the socket itself; the test polls, with a
 * deadline, until something accepts connections on it. */
void	 testd_start_bound(struct testd *, const char *yaml);
/* The same in an existing directory; d->dir is a copy, and testd_stop
 * removes the directory unless d->dir was freed and set to NULL. */
void	 testd_start_bound_in(struct testd *, const char *dir,
	    const char *yaml);
/* SIGTERM and wait (with a deadline); returns the exit status. */
int	 testd_stop(struct testd *);
/* Polls fn(arg) every few ms until it returns non-zero or ms pass. */
int	 test_poll(int (*fn)(void *), void *arg, int ms);


/* Playing the supervisor on a worker's or host's channel. */
#include "frame.h"
#include "msg.h"

/* Blocks for the next frame from sock through d; copies its payload into
 * m and hands its fd (or -1) to *fd. */
struct frame_hdr test_recv_frame(struct frame_dec *d, int sock, struct mbuf *m,
	    int *fd);

/* Integration helpers: a daemon plus a libcommis client. */
#include "commis/client.h"

#define POOL_YAML(extra) \
	"pools:\n  - name: p\n    workers: 2\n" extra

struct ctx {
	struct testd	 d;
	commis_client	*cl;
};

void	 ctx_start(struct ctx *, const char *yaml);
/* Closes the client, SIGTERMs commisd, asserts it exited 0. */
void	 ctx_stop(struct ctx *);
/* commis_submit_wait of a string to handler (pool NULL: the first). */
int	 submit(commis_client *, const char *handler, const char *data,
	    const char *pool, struct commis_result *);

/* Worker pids and states from the JSON stats, in pool order. */
struct wstat {
	long	pid[16];
	char	state[16][16];
	int	running[16];	/* a job has STARTED on it */
	int	n;
	int	available;
};

void	 wstats(commis_client *, struct wstat *);
/* Polls until the (first) pool has n idle workers. */
void	 wait_ready(commis_client *, int n);
/* The first number after "key": in json. */
long long test_json_num(const char *json, const char *key);
/* The same in a fresh JSON stats. */
long long test_stat(commis_client *, const char *key);
/* Polls (20 s deadline) until test_stat(key) >= min. */
void	 test_wait_stat(commis_client *, const char *key, long long min);

#endif
