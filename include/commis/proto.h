/*
 * commis wire protocol: one frame format for the control socket (clients)
 * and the worker channels (supervisor <-> worker).
 *
 * Anything changed in this file changes the protocol: bump
 * COMMIS_PROTO_VERSION and update docs/protocol.md in the same commit.
 */
#ifndef COMMIS_PROTO_H
#define COMMIS_PROTO_H

#include <stdint.h>

#define COMMIS_PROTO_VERSION	4
/* "CMIS" as the first four bytes on the wire (little-endian u32). */
#define COMMIS_PROTO_MAGIC	0x53494d43u

/*
 * Header, 24 bytes, all integers little-endian:
 *   0  u32 magic      COMMIS_PROTO_MAGIC
 *   4  u8  version    COMMIS_PROTO_VERSION
 *   5  u8  type       enum commis_msg
 *   6  u16 flags      COMMIS_FLAG_*
 *   8  u32 length     payload bytes that follow the header
 *  12  u32 reserved   must be 0
 *  16  u64 id         request id (control socket) or job id (worker channel)
 */
#define COMMIS_FRAME_HDR_LEN	24

/* Default inline payload limit (config key max_payload). */
#define COMMIS_PAYLOAD_DEFAULT	(4u << 20)
/* Largest max_payload a config may set. */
#define COMMIS_PAYLOAD_HARD_MAX	(256u << 20)
/* Frame bytes allowed beyond the data bytes, for the typed fields. */
#define COMMIS_FRAME_OVERHEAD	4096u
/* Longest pool or handler name, and longest cause/error text. */
#define COMMIS_NAME_MAX		64
#define COMMIS_TEXT_MAX		1024

/* Frame flags. */
#define COMMIS_FLAG_FD		0x0001	/* one fd travels with this frame */
#define COMMIS_FLAGS_KNOWN	0x0001

enum commis_msg {
	/* Either direction on the control socket. */
	COMMIS_MSG_ERROR	= 1,	/* u32 code, str message */
	/* Client -> supervisor. */
	COMMIS_MSG_PING		= 2,	/* empty */
	COMMIS_MSG_SUBMIT	= 3,	/* i32 priority, u32 timeout_ms, u32 flags
					   (COMMIS_SUBMIT_*), u32 delay_ms,
					   u32 deadline_ms, str pool,
					   str handler, bytes data */
	COMMIS_MSG_STATS	= 4,	/* u8 format (enum commis_stats_fmt) */
	/* Supervisor -> client. */
	COMMIS_MSG_PONG		= 5,	/* empty */
	COMMIS_MSG_RESULT	= 6,	/* u64 job id, u8 status, u16 attempts,
					   str cause, u64 queue_us, u64 run_us,
					   u64 cpu_us, u64 maxrss_kb (of the
					   last attempt; 0 when it never ran),
					   bytes output */
	COMMIS_MSG_STATS_REPLY	= 7,	/* bytes text */
	COMMIS_MSG_ACCEPTED	= 8,	/* u64 job id */
	/* Client -> supervisor: jobs by id. */
	COMMIS_MSG_STATUS	= 9,	/* u64 job id */
	COMMIS_MSG_JOB_INFO	= 10,	/* S->C: u64 job id, u8 state
					   (enum commis_job_state), u8 status,
					   u16 attempts, str pool, str handler,
					   str cause */
	COMMIS_MSG_WAIT		= 11,	/* u64 job id, u32 timeout_ms (0: none);
					   answered by RESULT or ERROR */
	COMMIS_MSG_CANCEL_JOB	= 12,	/* u64 job id; answered by OK */
	/* Operator commands as an argument vector (see docs/protocol.md). */
	COMMIS_MSG_ADMIN	= 13,	/* u32 argc, argc x str */
	COMMIS_MSG_OK		= 14,	/* S->C: bytes text */
	COMMIS_MSG_EVENTS	= 15,	/* C->S: empty; subscribe: OK, then
					   EVENT frames with this request id
					   until the connection closes */
	COMMIS_MSG_EVENT	= 16,	/* S->C: bytes json (one JSON object,
					   no newline) */

	/* Worker channel. */
	COMMIS_MSG_READY	= 32,	/* W->S: u32 pid; handlers initialised */
	COMMIS_MSG_JOB		= 33,	/* S->W: str handler, u32 flags
					   (COMMIS_SUBMIT_INPLACE), bytes input */
	COMMIS_MSG_DONE		= 34,	/* W->S: u8 ok, str error, u64 cpu_us
					   (the job's thread), u64 maxrss_kb
					   (the process), bytes output */
	COMMIS_MSG_CANCEL	= 35,	/* S->W: empty; soft cancel of job id */
	COMMIS_MSG_STARTED	= 36,	/* W->S: empty; job id began running */
	COMMIS_MSG_REVOKE	= 37,	/* S->W: empty; give job id back if it
					   has not started */
	COMMIS_MSG_REVOKED	= 38,	/* W->S: empty; job id was not started
					   and is dropped */
};

/* SUBMIT flags. */
#define COMMIS_SUBMIT_NOWAIT	0x0001	/* answer ACCEPTED, keep the result
					   for STATUS/WAIT */
#define COMMIS_SUBMIT_INPLACE	0x0002	/* the fd is an in-place segment */
#define COMMIS_SUBMIT_KEY	0x0004	/* an idempotency key (str) follows
					   the data */
#define COMMIS_SUBMIT_KNOWN	0x0007

/*
 * Segments: bulk data as a memfd that travels with its frame (FLAG_FD),
 * in place of the frame's `bytes` field, which is then empty.
 *   SUBMIT + fd: the input. Sealed COMMIS_SEALS_INPUT, or, with
 *     COMMIS_SUBMIT_INPLACE, at least COMMIS_SEALS_INPLACE (size fixed,
 *     contents writable: the handler transforms it in place and the
 *     RESULT carries no output: the client reads its own segment).
 *   JOB + fd: the same segment, passed on by the supervisor unmapped.
 *   DONE + fd, RESULT + fd: the output, sealed COMMIS_SEALS_INPUT.
 * Every receiver checks the seals and the fstat size (against its
 * limit) before it maps a segment.
 */
#define COMMIS_SEALS_INPLACE	0x0006	/* F_SEAL_SHRINK | F_SEAL_GROW */
#define COMMIS_SEALS_INPUT	0x000f	/* ... | F_SEAL_WRITE | F_SEAL_SEAL */

/* Where a job is, in JOB_INFO. */
enum commis_job_state {
	COMMIS_JOB_QUEUED	= 0,
	COMMIS_JOB_DELAYED	= 1,	/* waiting for its delay */
	COMMIS_JOB_RUNNING	= 2,
	COMMIS_JOB_DONE		= 3,	/* terminal; status says which */
};

/*
 * Message types that may carry an fd (COMMIS_FLAG_FD). Reserved for sealed
 * memfd payloads; a receiver that does not take segments yet answers with
 * COMMIS_E_UNSUPPORTED and closes the fd.
 */
#define COMMIS_MSG_FD_OK(t)						\
	((t) == COMMIS_MSG_SUBMIT || (t) == COMMIS_MSG_RESULT ||	\
	 (t) == COMMIS_MSG_JOB || (t) == COMMIS_MSG_DONE)

/* Error codes in COMMIS_MSG_ERROR. */
enum commis_err {
	COMMIS_E_PROTO		= 1,	/* malformed frame or payload */
	COMMIS_E_VERSION	= 2,	/* protocol version mismatch */
	COMMIS_E_TOOBIG		= 3,	/* payload above max_payload */
	COMMIS_E_QUEUE_FULL	= 4,	/* pool queue at queue_max */
	COMMIS_E_NO_POOL	= 5,	/* unknown pool */
	COMMIS_E_NO_HANDLER	= 6,	/* handler not loaded in that pool */
	COMMIS_E_SHUTDOWN	= 7,	/* supervisor is stopping */
	COMMIS_E_UNSUPPORTED	= 8,	/* message or feature not supported */
	COMMIS_E_POOL_DOWN	= 9,	/* pool failed or cannot start workers */
	COMMIS_E_NO_JOB		= 10,	/* unknown job id (or result expired) */
	COMMIS_E_TIMEOUT	= 11,	/* WAIT ran out before the job ended */
	COMMIS_E_BAD_ARGS	= 12,	/* ADMIN command or arguments wrong */
	COMMIS_E_CONFIG		= 13,	/* reload refused: config errors */
	COMMIS_E_STATE		= 14,	/* not possible in the job's state */
	COMMIS_E_SEGMENT	= 15,	/* segment unsealed, too large, or too
					   many in flight on the connection */
	COMMIS_E_DENIED		= 16,	/* the peer's role does not allow it,
					   or the connection is refused */
	COMMIS_E_JOURNAL	= 17,	/* a durable pool could not write its
					   journal: the job was not accepted */
};

/* Terminal states of a job, in COMMIS_MSG_RESULT. */
enum commis_status {
	COMMIS_ST_SUCCEEDED	= 0,
	COMMIS_ST_FAILED	= 1,	/* handler reported an error */
	COMMIS_ST_TIMEDOUT	= 2,	/* timed out on the last attempt;
					   dead-lettered */
	COMMIS_ST_CRASHED	= 3,	/* worker died on the last attempt;
					   dead-lettered */
	COMMIS_ST_CANCELLED	= 4,
	COMMIS_ST_EXPIRED	= 5,	/* not started before its deadline */
};
#define COMMIS_ST_LAST		COMMIS_ST_EXPIRED

enum commis_stats_fmt {
	COMMIS_STATS_JSON	= 0,
	COMMIS_STATS_TEXT	= 1,
};

#endif /* COMMIS_PROTO_H */
