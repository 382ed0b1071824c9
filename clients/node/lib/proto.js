'use strict';
/*
 * The numbers of the commis wire protocol, version 4: a copy of
 * include/commis/proto.h for JavaScript. docs/protocol.md is the prose
 * specification; when proto.h changes (and COMMIS_PROTO_VERSION with it),
 * this file changes too. Nothing here does I/O.
 */

const PROTO_VERSION = 4;
const PROTO_MAGIC = 0x53494d43; /* "CMIS" little-endian */
const HDR_LEN = 24;

/* Limits (proto.h). A client never accepts a frame above the hard maximum
 * plus the room for the typed fields, whatever commisd's max_payload. */
const PAYLOAD_DEFAULT = 4 * 1024 * 1024;
const PAYLOAD_HARD_MAX = 256 * 1024 * 1024;
const FRAME_OVERHEAD = 4096;
const NAME_MAX = 64; /* pool and handler names: < NAME_MAX bytes */
const TEXT_MAX = 1024; /* cause and error texts: < TEXT_MAX bytes */
const KEY_MAX = 128; /* idempotency keys: 1..KEY_MAX bytes */

const FLAG_FD = 0x0001;
const FLAGS_KNOWN = 0x0001;

const MSG = Object.freeze({
  ERROR: 1,
  PING: 2,
  SUBMIT: 3,
  STATS: 4,
  PONG: 5,
  RESULT: 6,
  STATS_REPLY: 7,
  ACCEPTED: 8,
  STATUS: 9,
  JOB_INFO: 10,
  WAIT: 11,
  CANCEL_JOB: 12,
  ADMIN: 13,
  OK: 14,
  EVENTS: 15,
  EVENT: 16,
});

const SUBMIT_NOWAIT = 0x0001;
const SUBMIT_INPLACE = 0x0002;
const SUBMIT_KEY = 0x0004;

const STATS_JSON = 0;
const STATS_TEXT = 1;

/* enum commis_err: index = code. Names without the COMMIS_ prefix. */
const ERR_CODES = Object.freeze({
  E_PROTO: 1,
  E_VERSION: 2,
  E_TOOBIG: 3,
  E_QUEUE_FULL: 4,
  E_NO_POOL: 5,
  E_NO_HANDLER: 6,
  E_SHUTDOWN: 7,
  E_UNSUPPORTED: 8,
  E_POOL_DOWN: 9,
  E_NO_JOB: 10,
  E_TIMEOUT: 11,
  E_BAD_ARGS: 12,
  E_CONFIG: 13,
  E_STATE: 14,
  E_SEGMENT: 15,
  E_DENIED: 16,
  E_JOURNAL: 17,
});

/* The texts libcommis gives them (commis_err_name). */
const ERR_TEXT = Object.freeze({
  1: 'protocol error',
  2: 'version mismatch',
  3: 'payload too large',
  4: 'queue full',
  5: 'no such pool',
  6: 'no such handler',
  7: 'shutting down',
  8: 'unsupported',
  9: 'pool down',
  10: 'no such job',
  11: 'wait timed out',
  12: 'bad arguments',
  13: 'configuration rejected',
  14: 'not possible in this state',
  15: 'segment refused',
  16: 'permission denied',
  17: 'journal write failed',
});

/* enum commis_status, as libcommis names them (commis_status_name). */
const STATUS_NAMES = Object.freeze([
  'succeeded',
  'failed',
  'timedout',
  'crashed',
  'cancelled',
  'expired',
]);
const STATUS_LAST = STATUS_NAMES.length - 1;

/* enum commis_job_state. */
const STATE_NAMES = Object.freeze(['queued', 'delayed', 'running', 'done']);

function errName(code) {
  for (const [name, v] of Object.entries(ERR_CODES)) {
    if (v === code) return name;
  }
  return 'E_UNKNOWN';
}

module.exports = {
  PROTO_VERSION,
  PROTO_MAGIC,
  HDR_LEN,
  PAYLOAD_DEFAULT,
  PAYLOAD_HARD_MAX,
  FRAME_OVERHEAD,
  NAME_MAX,
  TEXT_MAX,
  KEY_MAX,
  FLAG_FD,
  FLAGS_KNOWN,
  MSG,
  SUBMIT_NOWAIT,
  SUBMIT_INPLACE,
  SUBMIT_KEY,
  STATS_JSON,
  STATS_TEXT,
  ERR_CODES,
  ERR_TEXT,
  STATUS_NAMES,
  STATUS_LAST,
  STATE_NAMES,
  errName,
};
