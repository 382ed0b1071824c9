/*
 * The configuration: an immutable object built from YAML, valid as a whole
 * or not built at all. Keys are defined by one table in config.c that also
 * generates docs/configuration.md (commisd --config-doc).
 */
#ifndef COMMIS_CONFIG_H
#define COMMIS_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "commis/proto.h"
#include "log.h"

enum isolation {
	ISOLATION_PROCESS = 0,
	ISOLATION_THREAD,
};

/* When a durable pool's journal is synced (docs/durability.md). */
enum fsync_policy {
	FSYNC_ALWAYS = 0,	/* before jobs are acknowledged: group commit */
	FSYNC_INTERVAL,		/* every fsync_interval_ms */
	FSYNC_NEVER,		/* the kernel's writeback only */
};

/* How a pool sizes itself (PHP-FPM's pm). */
enum pool_mode {
	POOL_MODE_STATIC = 0,	/* workers, always */
	POOL_MODE_DYNAMIC,	/* min..max_workers, min..max_spare idle */
	POOL_MODE_ONDEMAND,	/* 0..max_workers, idle ones stop */
};

struct pool_config {
	char		 name[COMMIS_NAME_MAX];
	enum pool_mode	 mode;
	unsigned	 workers;		/* resolved; default online CPUs;
						   dynamic: within min..max */
	uint32_t	 min_workers;		/* dynamic */
	uint32_t	 max_workers;		/* dynamic, ondemand; resolved */
	uint32_t	 min_spare;		/* dynamic: idle workers */
	uint32_t	 max_spare;
	uint32_t	 idle_timeout_ms;	/* ondemand: idle worker stops */
	uint32_t	 spawn_rate;		/* forks per second, at most */
	enum isolation	 isolation;
	uint32_t	 timeout_ms;		/* 0: none; soft, then SIGKILL */
	uint32_t	 kill_grace_ms;		/* soft stop -> SIGKILL */
	uint32_t	 max_attempts;
	uint32_t	 queue_max;
	uint32_t	 queue_timeout_ms;	/* 0: none; not started: expires */
	uint32_t	 max_jobs;		/* 0: none; then the worker retires */
	uint32_t	 max_jobs_jitter;	/* + random 0..this per worker */
	uint64_t	 max_rss;		/* bytes; 0: none */
	uint32_t	 max_lifetime_ms;	/* 0: none; replaced when idle */
	uint32_t	 prefetch;		/* jobs sent ahead to a busy worker */
	int		 nice;			/* worker CPU priority */
	int		 sched_batch;		/* SCHED_BATCH for workers */
	uint32_t	 restart_delay_ms;	/* first restart backoff */
	uint32_t	 restart_delay_max_ms;	/* backoff cap */
	uint32_t	 restart_intensity;	/* > this restarts ... */
	uint32_t	 restart_period_ms;	/* ... within this: pool failed */
	char		**modules;		/* handler .so paths */
	size_t		 nmodules;
	/* The exec handler (src/exec.c): no exec_argv, no handler. */
	char		**exec_argv;
	size_t		 nexec_argv;
	char		**exec_params;		/* "NAME=REGEX" */
	size_t		 nexec_params;
	char		**exec_env;		/* "NAME=VALUE": all of it */
	size_t		 nexec_env;
	int		 exec_stdin;		/* the input is its stdin */
	char		 exec_cwd[256];
	uint32_t	 exec_stderr_max;	/* bytes kept for the cause */
	/* Worker confinement: drop to user/group when commisd is root; a
	 * limit of 0 leaves the inherited one. */
	uint32_t	 slow_job_ms;		/* log jobs running longer */
	int		 latency_stats;		/* keep latency histograms */
	int		 durable;		/* journal accepted jobs */
	enum fsync_policy fsync;
	uint32_t	 fsync_interval_ms;
	char		 user[64];
	char		 group[64];
	uint64_t	 rlimit_as;
	uint32_t	 rlimit_cpu;		/* seconds */
	uint32_t	 rlimit_nofile;
	uint32_t	 rlimit_nproc;
	uint64_t	 rlimit_core;
};

/* Roles on the control socket, each allowing what the one before does. */
enum access_role {
	ROLE_NONE = 0,
	ROLE_READ,		/* ping, stats, status */
	ROLE_SUBMIT,		/* + submit; wait and cancel its own jobs */
	ROLE_ADMIN,		/* everything */
};

struct config {
	char			*path;
	char			 socket[108];	/* sun_path */
	mode_t			 socket_mode;
	char			 socket_group[64];	/* "" : commisd's */
	enum log_level		 log_level;
	uint32_t		 max_payload;
	uint32_t		 result_ttl_ms;	/* finished job's result kept */
	uint32_t		 result_max_bytes; /* all kept results */
	uint32_t		 dead_max;	/* dead-letter list length */
	uint32_t		 shutdown_timeout_ms; /* SIGTERM: drain time */
	uint32_t		 segment_threshold; /* results above: segment */
	uint64_t		 max_segment;	/* bytes of one segment */
	uint32_t		 max_conn_segments; /* in flight per client */
	/* Access: "user:NAME", "group:NAME", "uid:N" or "gid:N" per role. */
	char			**access_read;
	size_t			 naccess_read;
	char			**access_submit;
	size_t			 naccess_submit;
	char			**access_admin;
	size_t			 naccess_admin;
	uint32_t		 max_connections;
	uint32_t		 max_conns_per_uid;	/* 0: no limit */
	uint32_t		 jobs_per_uid;		/* 0: no limit */
	uint32_t		 first_frame_timeout_ms;
	char			 metrics_listen[128];	/* "": off; HOST:PORT
						   or an absolute path */
	char			 state_dir[256];	/* durable pools' journals */
	uint64_t		 journal_compact;	/* bytes: rewrite past it */
	uint32_t		 idempotency_ttl_ms;
	uint32_t		 idempotency_max;
	struct pool_config	*pools;
	size_t			 npools;
};

/*
 * Loads and validates path. On failure returns NULL and *errors gets every
 * problem, one "file:line:column: message" per line (caller frees).
 */
struct config	*config_load(const char *path, char **errors);
/* The same from a string; name is used in messages. */
struct config	*config_load_string(const char *name, const char *yaml,
		    size_t len, char **errors);
void		 config_free(struct config *);
/* Checks one access entry ("user:alice", "gid:100"...). 0 or -1. */
int		 config_access_check(const char *, char *err, size_t);
const struct pool_config *config_pool(const struct config *, const char *);
/* Writes the key reference (Markdown) generated from the key table. */
void		 config_doc(FILE *);

#endif
