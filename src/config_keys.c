/*
 * The configuration keys: one table per level (top level, pool), each
 * entry with its type, range, default and help text. The same tables parse
 * scalar values, apply defaults and generate docs/configuration.md, so the
 * documentation cannot drift from the parser. This file knows nothing of
 * YAML: the loader (config.c) hands it scalars and error buffers.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "config_keys.h"

#define POOL_WORKERS_MAX	1024

static int
config_user_check(const char *s, char *err, size_t errlen)
{
	if (getpwnam(s) != NULL)
		return 0;
	snprintf(err, errlen, "no user '%s'", s);
	return -1;
}

static int
config_group_check(const char *s, char *err, size_t errlen)
{
	if (getgrnam(s) != NULL)
		return 0;
	snprintf(err, errlen, "no group '%s'", s);
	return -1;
}

/*
 * metrics_listen: empty (off), an absolute path that fits sun_path, or
 * HOST:PORT with a numeric port; an IPv6 host goes in brackets. The host
 * is resolved only when commisd binds it.
 */
static int
config_listen_check(const char *s, char *err, size_t errlen)
{
	const char	*colon;
	char		*end;
	size_t		 hlen;
	long		 port;

	if (*s == '\0')
		return 0;
	if (*s == '/') {
		if (strlen(s) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(err, errlen, "path longer than %zu bytes",
			    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return -1;
		}
		return 0;
	}
	if ((colon = strrchr(s, ':')) == NULL || colon == s) {
		snprintf(err, errlen, "expected HOST:PORT or an absolute path");
		return -1;
	}
	hlen = (size_t)(colon - s);
	if (s[0] == '[' ? hlen < 3 || s[hlen - 1] != ']' ||
	    memchr(s + 1, ']', hlen - 2) != NULL :
	    memchr(s, ':', hlen) != NULL || memchr(s, ']', hlen) != NULL) {
		snprintf(err, errlen, "bad host; an IPv6 address goes in "
		    "brackets: [::1]:9187");
		return -1;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end != '\0' || errno != 0 ||
	    port < 1 || port > 65535) {
		snprintf(err, errlen, "port must be a number 1..65535");
		return -1;
	}
	return 0;
}

#define TOP(m)	.off = offsetof(struct config, m),			\
		.size = sizeof(((struct config *)0)->m)
#define POOL(m)	.off = offsetof(struct pool_config, m),			\
		.size = sizeof(((struct pool_config *)0)->m)

const struct config_key config_top_keys[] = {
	{ .name = "socket", .type = CT_STRING, TOP(socket),
	  .def = "/run/commis/commis.sock",
	  .help = "Path of the control socket. A relative path is relative "
	  "to commisd's working directory. It must fit in sun_path." },
	{ .name = "socket_mode", .type = CT_MODE, TOP(socket_mode),
	  .min = 0, .max = 0777, .def = "0660",
	  .help = "Permissions of the control socket, always read as octal "
	  "like chmod: `0660`, `660` and `0o660` are the same." },
	{ .name = "socket_group", .type = CT_STRING, TOP(socket_group),
	  .def_doc = "commisd's group", .check = config_group_check,
	  .help = "Group the control socket is given (chown) before its mode; "
	  "with `socket_mode` 0660 its members may connect. The socket's "
	  "directory must not be world-writable." },
	{ .name = "log_level", .type = CT_LEVEL, TOP(log_level),
	  .def = "info",
	  .help = "Least severe messages written to stderr." },
	{ .name = "max_payload", .type = CT_SIZE, TOP(max_payload),
	  .min = 1024, .max = COMMIS_PAYLOAD_HARD_MAX, .def = "4M",
	  .help = "Largest inline payload in bytes that a client may submit "
	  "or a handler may return. A plain integer, or with a suffix "
	  "`K`, `M` or `G` (powers of 1024): `512K`, `4M`." },
	{ .name = "result_ttl_ms", .type = CT_U32, TOP(result_ttl_ms),
	  .min = 0, .max = 86400000, .def = "300000",
	  .help = "Milliseconds a finished job's result (status, output and "
	  "cause) is kept for `commis status` and `commis wait`; 0 keeps "
	  "none. A result already received by the client that submitted "
	  "the job and waited for it is not kept." },
	{ .name = "result_max_bytes", .type = CT_SIZE, TOP(result_max_bytes),
	  .min = 0, .max = 1LL << 30, .def = "64M",
	  .help = "Total bytes of kept results: output and cause, plus about "
	  "350 bytes of bookkeeping each; beyond it the oldest results are "
	  "dropped first, before their `result_ttl_ms`." },
	{ .name = "state_dir", .type = CT_STRING, TOP(state_dir),
	  .def = "/var/lib/commis",
	  .help = "Directory of the journals of durable pools "
	  "(`POOL.journal`), created if missing; relative to commisd's "
	  "working directory unless absolute. Only used when a pool sets "
	  "`durable`." },
	{ .name = "journal_compact", .type = CT_SIZE, TOP(journal_compact),
	  .min = 4096, .max = 1LL << 40, .def = "16M",
	  .help = "A durable pool's journal is rewritten with only its live "
	  "jobs, kept results and idempotency keys once it has grown past "
	  "this and either past twice what the last rewrite left or most of "
	  "the jobs that rewrite kept have ended. A plain integer, or with a "
	  "suffix `K`, `M` or `G`." },
	{ .name = "idempotency_ttl_ms", .type = CT_U32,
	  TOP(idempotency_ttl_ms), .min = 0, .max = 604800000,
	  .def = "86400000",
	  .help = "Milliseconds an idempotency key is remembered: a second "
	  "submit with the same key (and uid) within it gets the first "
	  "job's id instead of a new job. 0 remembers none." },
	{ .name = "idempotency_max", .type = CT_U32, TOP(idempotency_max),
	  .min = 0, .max = 10000000, .def = "100000",
	  .help = "Idempotency keys remembered at most; beyond it the "
	  "oldest are forgotten first, before `idempotency_ttl_ms`." },
	{ .name = "dead_max", .type = CT_U32, TOP(dead_max),
	  .min = 0, .max = 1000000, .def = "1000",
	  .help = "Jobs kept in the dead-letter list (jobs that ended "
	  "`crashed` or `timedout`, see `commis dead`); beyond it the "
	  "oldest are dropped." },
	{ .name = "shutdown_timeout_ms", .type = CT_U32,
	  TOP(shutdown_timeout_ms), .min = 0, .max = 3600000, .def = "30000",
	  .help = "On SIGTERM, milliseconds that queued and running jobs may "
	  "take to finish before the workers are killed." },
	{ .name = "segment_threshold", .type = CT_SIZE,
	  TOP(segment_threshold), .min = 0, .max = COMMIS_PAYLOAD_HARD_MAX,
	  .def = "64K",
	  .help = "A handler's result larger than this many bytes goes back "
	  "as a sealed memfd segment instead of inline (see the README's "
	  "\"Bulk data\" and docs/benchmarks.md for the measured crossover). "
	  "Above `max_payload` it acts as `max_payload`." },
	{ .name = "max_segment", .type = CT_SIZE, TOP(max_segment),
	  .min = 1, .max = 64LL << 30, .def = "1G",
	  .help = "Largest segment in bytes that a client may submit or a "
	  "handler may return." },
	{ .name = "max_conn_segments", .type = CT_U32,
	  TOP(max_conn_segments), .min = 1, .max = 4096, .def = "64",
	  .help = "Segments one client connection may have in flight (jobs "
	  "submitted with a segment and not yet ended); beyond it a "
	  "submission is refused." },
	{ .name = "access_read", .type = CT_STRLIST, TOP(access_read),
	  .off_n = offsetof(struct config, naccess_read), .def_doc = "`[]`",
	  .check = config_access_check,
	  .help = "Peers allowed the `read` role (ping, stats, status): "
	  "entries `user:NAME`, `group:NAME`, `uid:N` or `gid:N`, matched "
	  "against the peer's SO_PEERCRED uid, gid and supplementary groups. "
	  "When all three access lists are empty, every peer that can open "
	  "the socket (see `socket_mode`) has the `submit` role. Root and "
	  "commisd's own uid are always `admin`." },
	{ .name = "access_submit", .type = CT_STRLIST, TOP(access_submit),
	  .off_n = offsetof(struct config, naccess_submit), .def_doc = "`[]`",
	  .check = config_access_check,
	  .help = "Peers allowed the `submit` role: `read`, plus submit, and "
	  "wait for and cancel their own jobs." },
	{ .name = "access_admin", .type = CT_STRLIST, TOP(access_admin),
	  .off_n = offsetof(struct config, naccess_admin), .def_doc = "`[]`",
	  .check = config_access_check,
	  .help = "Peers allowed the `admin` role: everything (reload, "
	  "scale, reset, dead-letter operations, any job)." },
	{ .name = "max_connections", .type = CT_U32, TOP(max_connections),
	  .min = 1, .max = 1000000, .def = "1024",
	  .help = "Client connections at once; beyond it new ones are "
	  "refused with an error." },
	{ .name = "max_conns_per_uid", .type = CT_U32,
	  TOP(max_conns_per_uid), .min = 0, .max = 1000000, .def = "0",
	  .help = "Client connections at once per peer uid; 0 means no "
	  "limit but `max_connections`." },
	{ .name = "jobs_per_uid", .type = CT_U32, TOP(jobs_per_uid),
	  .min = 0, .max = 100000000, .def = "0",
	  .help = "Jobs one peer uid may have accepted and not ended, across "
	  "pools; beyond it its submissions get `queue full` while other "
	  "users' still go in. 0 means no limit." },
	{ .name = "first_frame_timeout_ms", .type = CT_U32,
	  TOP(first_frame_timeout_ms), .min = 100, .max = 3600000,
	  .def = "10000",
	  .help = "A new connection that has not sent one complete frame "
	  "within this is closed (slow-loris clients)." },
	{ .name = "metrics_listen", .type = CT_STRING, TOP(metrics_listen),
	  .def = "", .check = config_listen_check,
	  .help = "Where to serve Prometheus metrics over HTTP (`GET "
	  "/metrics`, and `GET /healthz` for liveness probes): `HOST:PORT` "
	  "for TCP, e.g. `127.0.0.1:9187` or `[::1]:9187`, or an absolute "
	  "path for a Unix socket, which gets `socket_mode` and "
	  "`socket_group` like the control socket. Empty: no listener. "
	  "The endpoint has no access control: bind it to a trusted "
	  "address. Changes only on a restart." },
	{ .name = "pools", .type = CT_POOLS,
	  .def_doc = "one pool `default`",
	  .help = "The worker pools, a list of mappings with the pool keys "
	  "below. Without this key there is one pool named `default` with "
	  "every default; an empty list is an error." },
};
const size_t config_ntop_keys =
    sizeof config_top_keys / sizeof config_top_keys[0];

/* One exec_params item: NAME=REGEX, the regex an extended one. */
static int
exec_param_check(const char *s, char *msg, size_t len)
{
	const char	*eq = strchr(s, '=');
	regex_t		 re;
	size_t		 i;
	int		 rc;

	if (eq == NULL || eq == s) {
		snprintf(msg, len, "\"%s\" is not NAME=REGEX", s);
		return -1;
	}
	for (i = 0; s + i < eq; i++) {
		if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' &&
		    s[i] <= '9'))) {
			snprintf(msg, len, "parameter name \"%.*s\" has a "
			    "character other than letters, digits and _",
			    (int)(eq - s), s);
			return -1;
		}
	}
	if ((rc = regcomp(&re, eq + 1, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(rc, &re, msg, len);
		return -1;
	}
	regfree(&re);
	return 0;
}

const struct config_key config_pool_keys[] = {
	{ .name = "name", .type = CT_NAME, POOL(name), .required = 1,
	  .help = "Name of the pool, as in `commis submit --pool NAME`. "
	  "Unique across pools." },
	{ .name = "mode", .type = CT_POOLMODE, POOL(mode), .def = "static",
	  .help = "How the pool sizes itself, like PHP-FPM's `pm`. "
	  "`static`: `workers` processes, always. `dynamic`: between "
	  "`min_workers` and `max_workers`, forking or stopping workers to "
	  "keep between `min_spare` and `max_spare` of them idle; it starts "
	  "with `workers`. `ondemand`: no worker until jobs arrive, then up "
	  "to `max_workers`; a worker idle for `idle_timeout_ms` stops." },
	{ .name = "workers", .type = CT_UNSIGNED, POOL(workers),
	  .min = 1, .max = POOL_WORKERS_MAX, .def_doc = "online CPUs",
	  .help = "Number of workers in `static` mode. In `dynamic` mode the "
	  "number started with, which must be within `min_workers` and "
	  "`max_workers`; when omitted, online CPUs brought into that range. "
	  "Ignored in `ondemand` mode." },
	{ .name = "min_workers", .type = CT_U32, POOL(min_workers),
	  .min = 0, .max = POOL_WORKERS_MAX, .def = "0",
	  .help = "`dynamic` mode: workers kept even when idle. At most "
	  "`max_workers`. Ignored in `static` and `ondemand` modes." },
	{ .name = "max_workers", .type = CT_U32, POOL(max_workers),
	  .min = 1, .max = POOL_WORKERS_MAX, .def_doc = "online CPUs",
	  .help = "`dynamic` and `ondemand` modes: most workers at once. "
	  "Ignored in `static` mode." },
	{ .name = "min_spare", .type = CT_U32, POOL(min_spare),
	  .min = 0, .max = POOL_WORKERS_MAX, .def = "1",
	  .help = "`dynamic` mode: fewest idle workers; with fewer, workers "
	  "are forked, up to `max_workers`. At most `max_spare`. Ignored in "
	  "`static` and `ondemand` modes." },
	{ .name = "max_spare", .type = CT_U32, POOL(max_spare),
	  .min = 0, .max = POOL_WORKERS_MAX, .def = "2",
	  .help = "`dynamic` mode: most idle workers; with more, idle workers "
	  "are stopped, down to `min_workers`. Ignored in `static` and "
	  "`ondemand` modes." },
	{ .name = "idle_timeout_ms", .type = CT_U32, POOL(idle_timeout_ms),
	  .min = 100, .max = 86400000, .def = "10000",
	  .help = "`ondemand` mode: milliseconds after which an idle worker "
	  "stops. Ignored in `static` and `dynamic` modes." },
	{ .name = "spawn_rate", .type = CT_U32, POOL(spawn_rate),
	  .min = 1, .max = 10000, .def = "32",
	  .help = "Forks per second at most in this pool: when a `dynamic` "
	  "or `ondemand` pool grows, and when workers are restarted in any "
	  "mode." },
	{ .name = "isolation", .type = CT_ISOLATION, POOL(isolation),
	  .def = "process",
	  .help = "`process`: each worker is a forked process. `thread`: "
	  "one forked host process runs `workers` threads (mode must be "
	  "`static`); handlers must be flagged thread-safe. A crash or a "
	  "hard timeout in one thread costs the whole host and requeues the "
	  "other threads' jobs: see docs/isolation.md." },
	{ .name = "timeout_ms", .type = CT_U32, POOL(timeout_ms),
	  .min = 0, .max = 86400000, .def = "0",
	  .help = "Timeout of one attempt of a job, in milliseconds. At "
	  "timeout_ms the handler is asked to stop (cancelled() returns "
	  "non-zero); a worker still running the job kill_grace_ms later is "
	  "killed with SIGKILL. 0 means no timeout." },
	{ .name = "kill_grace_ms", .type = CT_U32, POOL(kill_grace_ms),
	  .min = 10, .max = 600000, .def = "2000",
	  .help = "Milliseconds between the soft timeout or cancel request "
	  "and SIGKILL." },
	{ .name = "max_attempts", .type = CT_U32, POOL(max_attempts),
	  .min = 1, .max = 100, .def = "3",
	  .help = "Attempts a job gets when its worker crashes or times out; "
	  "after the last one the job ends as `crashed` or `timedout`. A "
	  "handler error is final at once." },
	{ .name = "queue_max", .type = CT_U32, POOL(queue_max),
	  .min = 1, .max = 10000000, .def = "100000",
	  .help = "Jobs waiting in the pool's queue before new submissions "
	  "are refused." },
	{ .name = "queue_timeout_ms", .type = CT_U32, POOL(queue_timeout_ms),
	  .min = 0, .max = 86400000, .def = "0",
	  .help = "A job not started within this many milliseconds of its "
	  "submission ends as `expired`; 0 means never. A deadline given "
	  "with the job overrides it." },
	{ .name = "max_jobs", .type = CT_U32, POOL(max_jobs),
	  .min = 0, .max = 100000000, .def = "0",
	  .help = "Jobs after which a worker retires and is replaced; 0 means "
	  "no limit." },
	{ .name = "max_jobs_jitter", .type = CT_U32, POOL(max_jobs_jitter),
	  .min = 0, .max = 100000000, .def = "0",
	  .help = "Each worker's limit is `max_jobs` plus a random number of "
	  "jobs up to this, so that workers do not all retire together (like "
	  "gunicorn's `max_requests_jitter`). Ignored when `max_jobs` is 0." },
	{ .name = "max_rss", .type = CT_SIZE, POOL(max_rss),
	  .min = 0, .max = 64LL << 30, .def = "0",
	  .help = "Resident memory limit of a worker in bytes; 0 means no "
	  "limit. A worker above it after a job is replaced; a worker above "
	  "it while running a job is killed, and that counts as one of the "
	  "job's attempts." },
	{ .name = "max_lifetime_ms", .type = CT_U32, POOL(max_lifetime_ms),
	  .min = 0, .max = 604800000, .def = "0",
	  .help = "Milliseconds after which a worker is replaced, once idle; "
	  "0 means no limit." },
	{ .name = "prefetch", .type = CT_U32, POOL(prefetch),
	  .min = 0, .max = 1024, .def = "0",
	  .help = "Jobs sent ahead to a busy worker, so that short jobs do not "
	  "each wait for a round trip. A prefetched job not yet started is "
	  "taken back when its worker dies, stalls while other workers are "
	  "idle, or is stopped as the pool shrinks." },
	{ .name = "nice", .type = CT_INT, POOL(nice),
	  .min = 0, .max = 19, .def = "5",
	  .help = "Nice level of the workers, relative to the supervisor." },
	{ .name = "sched_batch", .type = CT_BOOL, POOL(sched_batch),
	  .def = "true",
	  .help = "Run the workers under the SCHED_BATCH scheduling "
	  "policy." },
	{ .name = "restart_delay_ms", .type = CT_U32, POOL(restart_delay_ms),
	  .min = 0, .max = 60000, .def = "100",
	  .help = "Delay before restarting a crashed worker; it grows "
	  "exponentially while crashes continue." },
	{ .name = "restart_delay_max_ms", .type = CT_U32,
	  POOL(restart_delay_max_ms), .min = 0, .max = 600000, .def = "5000",
	  .help = "Cap of the restart delay; at least restart_delay_ms." },
	{ .name = "restart_intensity", .type = CT_U32,
	  POOL(restart_intensity), .min = 1, .max = 100000, .def = "10",
	  .help = "More than this many worker restarts within "
	  "`restart_period_ms` put the pool in the `failed` state, as "
	  "Erlang/OTP's supervisor intensity: no more forks and its jobs "
	  "refused until `commis reset POOL`. Workers that died running a "
	  "job do not count: they count against the job's attempts." },
	{ .name = "restart_period_ms", .type = CT_U32,
	  POOL(restart_period_ms), .min = 100, .max = 86400000,
	  .def = "60000",
	  .help = "The window of `restart_intensity`, in milliseconds." },
	{ .name = "durable", .type = CT_BOOL, POOL(durable), .def = "false",
	  .help = "Write every accepted job to the pool's journal in "
	  "`state_dir` before the client is told it was accepted, and "
	  "recover the journal when commisd starts: queued and running jobs "
	  "are queued again (attempts kept), kept results come back. Inline "
	  "payloads only: a segment submit is refused (docs/durability.md)." },
	{ .name = "fsync", .type = CT_FSYNC, POOL(fsync), .def = "always",
	  .help = "Durable pools: `always` syncs the journal before jobs are "
	  "acknowledged, one fdatasync for all the jobs accepted in the same "
	  "loop iteration; `interval` writes at once and syncs every "
	  "`fsync_interval_ms` (a crash of the machine may lose what was "
	  "accepted within that window); `never` leaves syncing to the "
	  "kernel (a crash of commisd loses nothing, one of the machine "
	  "may)." },
	{ .name = "fsync_interval_ms", .type = CT_U32,
	  POOL(fsync_interval_ms), .min = 1, .max = 60000, .def = "50",
	  .help = "The sync period of `fsync: interval`." },
	{ .name = "latency_stats", .type = CT_BOOL, POOL(latency_stats),
	  .def = "true",
	  .help = "Keep the pool's latency histograms (queue wait, run and "
	  "end-to-end time in stats and /metrics). Their cost is measured "
	  "in docs/benchmarks.md." },
	{ .name = "slow_job_ms", .type = CT_U32, POOL(slow_job_ms),
	  .min = 0, .max = 86400000, .def = "0",
	  .help = "A job whose run takes at least this many milliseconds is "
	  "logged (job id, handler, pool, worker pid, queue, run and CPU "
	  "time); 0 logs none." },
	{ .name = "user", .type = CT_STRING, POOL(user), .def_doc = "none",
	  .check = config_user_check,
	  .help = "User the workers run as when commisd starts as root "
	  "(with its primary group and supplementary groups, unless `group` "
	  "is set). Ignored, with a warning, when commisd is not root." },
	{ .name = "group", .type = CT_STRING, POOL(group), .def_doc = "none",
	  .check = config_group_check,
	  .help = "Group the workers run as when commisd starts as root." },
	{ .name = "rlimit_as", .type = CT_SIZE, POOL(rlimit_as),
	  .min = 0, .max = 1LL << 46, .def = "0",
	  .help = "RLIMIT_AS of each worker (address space), e.g. `2G`; 0 "
	  "leaves the inherited limit." },
	{ .name = "rlimit_cpu", .type = CT_U32, POOL(rlimit_cpu),
	  .min = 0, .max = 100000000, .def = "0",
	  .help = "RLIMIT_CPU of each worker in seconds of CPU over its whole "
	  "life; 0 leaves the inherited limit." },
	{ .name = "rlimit_nofile", .type = CT_U32, POOL(rlimit_nofile),
	  .min = 0, .max = 1048576, .def = "0",
	  .help = "RLIMIT_NOFILE of each worker; 0 leaves the inherited "
	  "limit." },
	{ .name = "rlimit_nproc", .type = CT_U32, POOL(rlimit_nproc),
	  .min = 0, .max = 4194304, .def = "0",
	  .help = "RLIMIT_NPROC of each worker (per user: counts every "
	  "process of the worker's uid); 0 leaves the inherited limit." },
	{ .name = "rlimit_core", .type = CT_SIZE, POOL(rlimit_core),
	  .min = 0, .max = 1LL << 46, .def = "0",
	  .help = "RLIMIT_CORE of each worker; 0 leaves the inherited limit "
	  "(set it to 1 to get no core dumps beyond one byte)." },
	{ .name = "exec_argv", .type = CT_STRLIST, POOL(exec_argv),
	  .off_n = offsetof(struct pool_config, nexec_argv),
	  .def_doc = "`[]`",
	  .help = "The `exec` handler: the program and its arguments, run "
	  "without a shell for each `exec` job (docs/cookbook-exec.md). "
	  "`{NAME}` in an argument is replaced by the job's value for a "
	  "parameter declared in `exec_params`. Empty: the pool has no "
	  "`exec` handler." },
	{ .name = "exec_params", .type = CT_STRLIST, POOL(exec_params),
	  .off_n = offsetof(struct pool_config, nexec_params),
	  .def_doc = "`[]`", .check = exec_param_check,
	  .help = "Per-job parameters of `exec`, each `NAME=REGEX` (a POSIX "
	  "extended regular expression the whole value must match). When "
	  "there are any, a job's input starts with a line `NAME=VALUE "
	  "...` and the rest is the program's input." },
	{ .name = "exec_env", .type = CT_STRLIST, POOL(exec_env),
	  .off_n = offsetof(struct pool_config, nexec_env),
	  .def_doc = "`[]`",
	  .help = "The whole environment of the `exec` program, each "
	  "`NAME=VALUE` (the program is looked up in the worker's `PATH`)." },
	{ .name = "exec_stdin", .type = CT_BOOL, POOL(exec_stdin),
	  .def = "true",
	  .help = "The job's input (after the parameter line) is the `exec` "
	  "program's standard input; `false`: `/dev/null`." },
	{ .name = "exec_cwd", .type = CT_STRING, POOL(exec_cwd), .def = "/",
	  .help = "The working directory of the `exec` program." },
	{ .name = "exec_stderr_max", .type = CT_SIZE, POOL(exec_stderr_max),
	  .min = 0, .max = 65536, .def = "4K",
	  .help = "Bytes of the `exec` program's standard error kept for the "
	  "cause when it fails." },
	{ .name = "modules", .type = CT_STRLIST, POOL(modules),
	  .off_n = offsetof(struct pool_config, nmodules), .def_doc = "`[]`",
	  .help = "Paths of handler modules (`.so`) loaded before the "
	  "workers fork, in addition to the built-in handlers." },
};
const size_t config_npool_keys =
    sizeof config_pool_keys / sizeof config_pool_keys[0];

/* The example at the end of the documentation; a test loads it. */
static const char config_example[] =
    "socket: /run/commis/commis.sock\n"
    "socket_mode: 0660\n"
    "log_level: info\n"
    "max_payload: 4M\n"
    "result_ttl_ms: 300000\n"
    "result_max_bytes: 64M\n"
    "dead_max: 1000\n"
    "shutdown_timeout_ms: 30000\n"
    "pools:\n"
    "  - name: default\n"
    "    mode: static\n"
    "    workers: 4\n"
    "    isolation: process\n"
    "    timeout_ms: 60000\n"
    "    kill_grace_ms: 2000\n"
    "    max_attempts: 3\n"
    "    queue_max: 100000\n"
    "    nice: 5\n"
    "    sched_batch: true\n"
    "    restart_delay_ms: 100\n"
    "    restart_delay_max_ms: 5000\n"
    "    restart_intensity: 10\n"
    "    restart_period_ms: 60000\n"
    "  - name: images\n"
    "    mode: dynamic\n"
    "    workers: 2\n"
    "    min_workers: 1\n"
    "    max_workers: 8\n"
    "    min_spare: 1\n"
    "    max_spare: 2\n"
    "    timeout_ms: 300000\n"
    "    max_jobs: 1000\n"
    "    max_jobs_jitter: 100\n"
    "    max_rss: 1G\n"
    "    nice: 10\n"
    "    modules:\n"
    "      - /usr/local/lib/commis/resize.so\n";

const struct config_key *
config_key_find(const struct config_key *keys, size_t n, const char *name,
    size_t *idx)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(keys[i].name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return &keys[i];
		}
	}
	return NULL;
}

/* Levenshtein distance of a to b, b shorter than CONFIG_KEYS_MAX bytes. */
static size_t
key_distance(const char *a, const char *b)
{
	size_t	row[64], prev, tmp, i, j, nb = strlen(b);

	if (nb >= sizeof row / sizeof row[0])
		return SIZE_MAX;
	for (j = 0; j <= nb; j++)
		row[j] = j;
	for (i = 1; a[i - 1] != '\0'; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= nb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[nb];
}

/* The key closest to a misspelt name, or NULL if none is close. */
const char *
config_key_suggest(const struct config_key *keys, size_t n, const char *name)
{
	const char	*best = NULL;
	size_t		 i, d, bestd = 3;

	if (strlen(name) > 64)
		return NULL;
	for (i = 0; i < n; i++) {
		d = key_distance(name, keys[i].name);
		if (d < bestd && d < strlen(keys[i].name) / 2) {
			bestd = d;
			best = keys[i].name;
		}
	}
	return best;
}

int
config_scalar_null(const struct config_scalar *v)
{
	return v->plain && (v->len == 0 || strcmp(v->s, "~") == 0 ||
	    strcmp(v->s, "null") == 0 || strcmp(v->s, "Null") == 0 ||
	    strcmp(v->s, "NULL") == 0);
}

/* A short printable copy of a value for messages. */
const char *
config_quote(const char *s, char *buf, size_t sz)
{
	unsigned char	c;
	size_t		i;

	for (i = 0; s[i] != '\0' && i + 4 < sz; i++) {
		c = (unsigned char)s[i];
		buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (s[i] != '\0')
		buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

static void
fmt_size(long long v, char *buf, size_t sz)
{
	if (v != 0 && v % (1 << 30) == 0)
		snprintf(buf, sz, "%lldG", v >> 30);
	else if (v != 0 && v % (1 << 20) == 0)
		snprintf(buf, sz, "%lldM", v >> 20);
	else if (v != 0 && v % (1 << 10) == 0)
		snprintf(buf, sz, "%lldK", v >> 10);
	else
		snprintf(buf, sz, "%lld", v);
}

/* The accepted values of a key, for the documentation and for errors. */
static const char *
range_str(const struct config_key *k, char *buf, size_t sz)
{
	char	a[32], b[32];

	switch (k->type) {
	case CT_STRING:
		snprintf(buf, sz, "%d..%zu bytes",
		    k->def != NULL && k->def[0] == '\0' ? 0 : 1, k->size - 1);
		break;
	case CT_NAME:
		snprintf(buf, sz, "1..%zu chars: A-Z a-z 0-9 _ . -", k->size - 1);
		break;
	case CT_SIZE:
		fmt_size(k->min, a, sizeof a);
		fmt_size(k->max, b, sizeof b);
		snprintf(buf, sz, "%s..%s", a, b);
		break;
	case CT_MODE:
		snprintf(buf, sz, "%s%llo..0%llo", k->min ? "0" : "",
		    (unsigned long long)k->min, (unsigned long long)k->max);
		break;
	case CT_BOOL:
		snprintf(buf, sz, "true/false, yes/no, on/off");
		break;
	case CT_LEVEL:
		snprintf(buf, sz, "error, warning, info, debug");
		break;
	case CT_ISOLATION:
		snprintf(buf, sz, "process, thread");
		break;
	case CT_POOLMODE:
		snprintf(buf, sz, "static, dynamic, ondemand");
		break;
	case CT_FSYNC:
		snprintf(buf, sz, "always, interval, never");
		break;
	case CT_STRLIST:
		snprintf(buf, sz, "any number");
		break;
	case CT_POOLS:
		snprintf(buf, sz, "at least 1");
		break;
	default:
		snprintf(buf, sz, "%lld..%lld", k->min, k->max);
		break;
	}
	return buf;
}

/*
 * Parses a number of the key's syntax. Returns 0, -1 if the text is not a
 * number of that syntax, -2 if it does not fit.
 */
static int
parse_number(enum config_type type, const char *s, long long *n)
{
	const char	*p = s;
	char		*end;
	int		 shift = 0, base = 10;

	if (type == CT_MODE) {
		base = 8;
		if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
			p += 2;
		if (*p == '\0' || strspn(p, "01234567") != strlen(p))
			return -1;
	} else if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	*n = strtoll(p, &end, base);
	if (errno == ERANGE)
		return -2;
	if (p != s && *s == '-')
		*n = -*n;
	if (type == CT_SIZE && end[0] != '\0' && end[1] == '\0') {
		switch (*end++) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: return -1;
		}
	}
	if (*end != '\0')
		return -1;
	if (*n > (LLONG_MAX >> shift) || *n < (LLONG_MIN >> shift))
		return -2;
	*n *= 1LL << shift;
	return 0;
}

static int
set_number(const struct config_key *k, const char *s, char *field,
    char *err, size_t errlen)
{
	static const char *const what[] = {
		[CT_U32] = "an integer", [CT_UNSIGNED] = "an integer",
		[CT_INT] = "an integer", [CT_SIZE] = "a size like 4M",
		[CT_MODE] = "an octal mode like 0660",
	};
	long long	n;
	char		q[64], r[64];
	int		rv;

	if ((rv = parse_number(k->type, s, &n)) == -1) {
		snprintf(err, errlen, "%s: expected %s, got \"%s\"", k->name,
		    what[k->type], config_quote(s, q, sizeof q));
		return -1;
	}
	if (rv == -2 || n < k->min || n > k->max) {
		snprintf(err, errlen, "%s: %s is out of range %s", k->name,
		    config_quote(s, q, sizeof q), range_str(k, r, sizeof r));
		return -1;
	}
	switch (k->type) {
	case CT_SIZE:
		if (k->size == sizeof(uint64_t))
			*(uint64_t *)field = (uint64_t)n;
		else
			*(uint32_t *)field = (uint32_t)n;
		break;
	case CT_U32:
		*(uint32_t *)field = (uint32_t)n;
		break;
	case CT_UNSIGNED:
		*(unsigned *)field = (unsigned)n;
		break;
	case CT_INT:
		*(int *)field = (int)n;
		break;
	default:
		*(mode_t *)field = (mode_t)n;
		break;
	}
	return 0;
}

static int
set_string(const struct config_key *k, const struct config_scalar *v,
    char *field, char *err, size_t errlen)
{
	char	q[64];

	/* A key whose default is empty ("off") may be set empty. */
	if (v->len == 0 && !(k->def != NULL && k->def[0] == '\0')) {
		snprintf(err, errlen, "%s: must not be empty", k->name);
		return -1;
	}
	if (v->len >= k->size) {
		snprintf(err, errlen, "%s: \"%s\" is longer than %zu bytes",
		    k->name, config_quote(v->s, q, sizeof q), k->size - 1);
		return -1;
	}
	if (k->type == CT_NAME && strspn(v->s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.-") != v->len) {
		snprintf(err, errlen, "%s: \"%s\" may only contain "
		    "A-Z a-z 0-9 _ . -", k->name, config_quote(v->s, q, sizeof q));
		return -1;
	}
	memcpy(field, v->s, v->len + 1);
	return 0;
}

static int
set_word(const struct config_key *k, const char *s, char *field,
    char *err, size_t errlen)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	static const char *const modes[] = {
		[POOL_MODE_STATIC] = "static",
		[POOL_MODE_DYNAMIC] = "dynamic",
		[POOL_MODE_ONDEMAND] = "ondemand",
	};
	static const char *const fsyncs[] = {
		[FSYNC_ALWAYS] = "always",
		[FSYNC_INTERVAL] = "interval",
		[FSYNC_NEVER] = "never",
	};
	enum log_level	lvl;
	char		q[64], r[64];
	size_t		i;

	switch (k->type) {
	case CT_BOOL:
		for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
			if (strcasecmp(s, yes[i]) == 0 ||
			    strcasecmp(s, no[i]) == 0) {
				*(int *)field = strcasecmp(s, yes[i]) == 0;
				return 0;
			}
		}
		break;
	case CT_LEVEL:
		if (log_level_parse(s, &lvl) == 0) {
			*(enum log_level *)field = lvl;
			return 0;
		}
		break;
	case CT_POOLMODE:
		for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
			if (strcmp(s, modes[i]) == 0) {
				*(enum pool_mode *)field = (enum pool_mode)i;
				return 0;
			}
		}
		break;
	case CT_FSYNC:
		for (i = 0; i < sizeof fsyncs / sizeof fsyncs[0]; i++) {
			if (strcmp(s, fsyncs[i]) == 0) {
				*(enum fsync_policy *)field =
				    (enum fsync_policy)i;
				return 0;
			}
		}
		break;
	case CT_ISOLATION:
		if (strcmp(s, "process") == 0) {
			*(enum isolation *)field = ISOLATION_PROCESS;
			return 0;
		}
		if (strcmp(s, "thread") == 0) {
			*(enum isolation *)field = ISOLATION_THREAD;
			return 0;
		}
		break;
	default:
		break;
	}
	snprintf(err, errlen, "%s: expected %s, got \"%s\"", k->name,
	    range_str(k, r, sizeof r), config_quote(s, q, sizeof q));
	return -1;
}

/*
 * Parses v into the field of obj (a struct config or pool_config) that k
 * describes. On error returns -1 with the message, prefixed by the key's
 * name, in err.
 */
int
config_key_set(const struct config_key *k, const struct config_scalar *v,
    void *obj, char *err, size_t errlen)
{
	char	*field = (char *)obj + k->off, msg[128];

	if (config_scalar_null(v)) {
		snprintf(err, errlen, "%s: missing value", k->name);
		return -1;
	}
	if (strlen(v->s) != v->len) {
		snprintf(err, errlen, "%s: value contains a NUL byte", k->name);
		return -1;
	}
	switch (k->type) {
	case CT_STRING:
	case CT_NAME:
		if (set_string(k, v, field, err, errlen) == -1)
			return -1;
		if (k->check != NULL && k->check(field, msg, sizeof msg) == -1) {
			snprintf(err, errlen, "%s: %s", k->name, msg);
			return -1;
		}
		return 0;
	case CT_BOOL:
	case CT_LEVEL:
	case CT_ISOLATION:
	case CT_POOLMODE:
	case CT_FSYNC:
		return set_word(k, v->s, field, err, errlen);
	case CT_U32:
	case CT_UNSIGNED:
	case CT_INT:
	case CT_SIZE:
	case CT_MODE:
		return set_number(k, v->s, field, err, errlen);
	default:
		snprintf(err, errlen, "%s: expected a list", k->name);
		return -1;
	}
}

static void
apply_defaults(const struct config_key *keys, size_t n, void *obj)
{
	struct config_scalar	v;
	char			err[256];
	size_t			i;

	for (i = 0; i < n; i++) {
		if (keys[i].def == NULL)
			continue;
		v.s = keys[i].def;
		v.len = strlen(v.s);
		v.plain = v.len > 0;	/* "" is an empty string, not null */
		if (config_key_set(&keys[i], &v, obj, err, sizeof err) != 0)
			fatalx("config: bad default: %s", err);
	}
}

/* Sets every top-level default except pools, which the loader makes. */
void
config_top_init(struct config *cfg)
{
	apply_defaults(config_top_keys, config_ntop_keys, cfg);
}

void
config_pool_init(struct pool_config *pc)
{
	long	ncpu;

	apply_defaults(config_pool_keys, config_npool_keys, pc);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > POOL_WORKERS_MAX)
		ncpu = POOL_WORKERS_MAX;
	/* The loader clamps workers into min..max_workers in dynamic mode. */
	pc->workers = (unsigned)ncpu;
	pc->max_workers = (uint32_t)ncpu;
}

static const char *const config_type_names[] = {
	[CT_STRING] = "string", [CT_NAME] = "string",
	[CT_U32] = "integer", [CT_UNSIGNED] = "integer",
	[CT_INT] = "integer", [CT_SIZE] = "size", [CT_MODE] = "octal mode",
	[CT_BOOL] = "boolean", [CT_LEVEL] = "enum", [CT_ISOLATION] = "enum",
	[CT_POOLMODE] = "enum", [CT_FSYNC] = "enum",
	[CT_STRLIST] = "list of strings", [CT_POOLS] = "list of mappings",
};

static void
doc_table(FILE *f, const struct config_key *keys, size_t n)
{
	char	r[128];
	size_t	i;

	fputs("| key | type | default | range | description |\n", f);
	fputs("|-----|------|---------|-------|-------------|\n", f);
	for (i = 0; i < n; i++) {
		fprintf(f, "| `%s` | %s | ", keys[i].name,
		    config_type_names[keys[i].type]);
		if (keys[i].required)
			fputs("required", f);
		else if (keys[i].def != NULL && keys[i].def[0] == '\0')
			fputs("empty", f);
		else if (keys[i].def != NULL)
			fprintf(f, "`%s`", keys[i].def);
		else
			fputs(keys[i].def_doc, f);
		fprintf(f, " | %s | %s |\n", range_str(&keys[i], r, sizeof r),
		    keys[i].help);
	}
}

/* Writes docs/configuration.md: everything comes from the tables above. */
void
config_doc(FILE *f)
{
	fputs("# Configuration\n\n"
	    "<!-- Generated by config_doc() from the key tables in "
	    "src/config_keys.c\n"
	    "     (`make config-doc`). Edit the tables, not this file. -->\n\n"
	    "commisd reads one YAML file: `commisd -c FILE` runs with it and\n"
	    "`commisd -t -c FILE` only checks it; commisd does not start\n"
	    "with a file that has any error. On SIGHUP or `commis reload`\n"
	    "the file is read again; a file with any error is rejected as a\n"
	    "whole and the running configuration stays (every error is\n"
	    "reported to the caller and the log).\n\n"
	    "Every problem is reported, one per line, as\n"
	    "`file:line:column: message`: unknown or duplicate keys, values "
	    "of the\nwrong type or out of range, missing or duplicate pool "
	    "names, and YAML\nsyntax errors.\n\n"
	    "## Values\n\n"
	    "- The document is a mapping of the top-level keys below; keys "
	    "are\n  case-sensitive. Omit a key to get its default; a key "
	    "with no value\n  (`key:`) is an error.\n"
	    "- Integers are decimal; trailing text is an error. Quoting does "
	    "not\n  change a value's type: `workers: \"4\"` is 4.\n"
	    "- Sizes are integers in bytes with an optional suffix `K`, `M` "
	    "or `G`\n  (powers of 1024, either case): `4M` is 4194304.\n"
	    "- Modes are octal like chmod, with or without a leading zero:\n"
	    "  `0660`, `660` and `0o660` are the same.\n"
	    "- Booleans are `true`/`false`, `yes`/`no` or `on`/`off`.\n", f);
	fprintf(f, "- Limits: a file of at most %d bytes, one document, "
	    "collections nested\n  at most %d deep, scalars of at most %d "
	    "bytes. Aliases (`*name`) are\n  rejected.\n",
	    CONFIG_SIZE_MAX, CONFIG_DEPTH_MAX, CONFIG_SCALAR_MAX);
	fputs("\n## Top-level keys\n\n", f);
	doc_table(f, config_top_keys, config_ntop_keys);
	fputs("\n## Pool keys\n\nEach item of `pools` is a mapping of these "
	    "keys.\n\n", f);
	doc_table(f, config_pool_keys, config_npool_keys);
	fputs("\n## Example\n\n```yaml\n", f);
	fputs(config_example, f);
	fputs("```\n", f);
}
