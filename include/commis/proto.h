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

#define COMMIS_PROTO_VERSION	1
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
	COMMIS_MSG_SUBMIT	= 3,	/* i32 priority, u32 timeout_ms, str pool,
					   str handler, bytes data */
	COMMIS_MSG_STATS	= 4,	/* u8 format (enum commis_stats_fmt) */
	/* Supervisor -> client. */
	COMMIS_MSG_PONG		= 5,	/* empty */
	COMMIS_MSG_RESULT	= 6,	/* u64 job id, u8 status, u16 attempts,
					   str cause, bytes output */
	COMMIS_MSG_STATS_REPLY	= 7,	/* bytes text */

	/* Worker channel. */
	COMMIS_MSG_READY	= 32,	/* W->S: u32 pid; handlers initialised */
	COMMIS_MSG_JOB		= 33,	/* S->W: str handler, bytes input */
	COMMIS_MSG_DONE		= 34,	/* W->S: u8 ok, str error, bytes output */
	COMMIS_MSG_CANCEL	= 35,	/* S->W: empty; soft cancel of job id */
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
	COMMIS_E_POOL_DOWN	= 9,	/* pool has no worker able to start */
};

/* Terminal states of a job, in COMMIS_MSG_RESULT. */
enum commis_status {
	COMMIS_ST_SUCCEEDED	= 0,
	COMMIS_ST_FAILED	= 1,	/* handler reported an error */
	COMMIS_ST_TIMEDOUT	= 2,	/* hard timeout on the last attempt */
	COMMIS_ST_CRASHED	= 3,	/* worker died on the last attempt */
	COMMIS_ST_CANCELLED	= 4,
	COMMIS_ST_EXPIRED	= 5,
	COMMIS_ST_DEAD		= 6,
};

enum commis_stats_fmt {
	COMMIS_STATS_JSON	= 0,
	COMMIS_STATS_TEXT	= 1,
};

#endif /* COMMIS_PROTO_H */
