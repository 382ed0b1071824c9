/// <reference types="node" />
/*
 * Types of commis-client: a Node.js client for commisd's control socket
 * (docs/protocol.md, protocol version 4). The package is CommonJS; these
 * declarations serve `require` and `import` alike.
 */

/** The protocol version this client speaks (4). */
export const PROTO_VERSION: number;

/** Job status names, indexed by their wire code (enum commis_status). */
export const STATUS: readonly StatusName[];

/** commisd's error codes (enum commis_err) by name, e.g. `E_NO_POOL: 5`. */
export const ERRORS: Readonly<Record<ServerErrorCode, number>>;

export type StatusName =
  | 'succeeded'
  | 'failed'
  | 'timedout'
  | 'crashed'
  | 'cancelled'
  | 'expired';

export type JobState = 'queued' | 'delayed' | 'running' | 'done';

/** Codes of errors commisd sent (an ERROR frame): enum commis_err. */
export type ServerErrorCode =
  | 'E_PROTO'
  | 'E_VERSION'
  | 'E_TOOBIG'
  | 'E_QUEUE_FULL'
  | 'E_NO_POOL'
  | 'E_NO_HANDLER'
  | 'E_SHUTDOWN'
  | 'E_UNSUPPORTED'
  | 'E_POOL_DOWN'
  | 'E_NO_JOB'
  | 'E_TIMEOUT'
  | 'E_BAD_ARGS'
  | 'E_CONFIG'
  | 'E_STATE'
  | 'E_SEGMENT'
  | 'E_DENIED'
  | 'E_JOURNAL';

/** Codes of errors raised by the client itself. */
export type ClientErrorCode =
  /** cannot reach the socket */
  | 'ERR_CONNECT'
  /** the connection failed or commisd closed it */
  | 'ERR_IO'
  /** commisd sent something malformed; the connection is closed */
  | 'ERR_PROTO'
  /** close() was called */
  | 'ERR_CLOSED'
  /** a bad argument; nothing was sent */
  | 'ERR_INVAL'
  /** the job ended but its output came as a segment (an fd) */
  | 'ERR_SEGMENT';

export type ErrorCode = ServerErrorCode | ClientErrorCode | 'E_UNKNOWN';

/** Every rejection of this package. */
export class CommisError extends Error {
  readonly name: 'CommisError';
  readonly code: ErrorCode;
  /** enum commis_err when commisd refused the request, else 0. */
  readonly errcode: number;
  /** true when commisd refused the request (errcode !== 0). */
  readonly rejected: boolean;
  /** With ERR_SEGMENT: the job's result, with output null. */
  readonly result?: Result;
  /** The underlying system error, for ERR_CONNECT and ERR_IO. */
  readonly cause?: unknown;
}

/** A payload: bytes, or a string sent as UTF-8. */
export type Payload = Buffer | Uint8Array | ArrayBuffer | string;

export interface SubmitOptions {
  /** Pool name; default: the first pool in commisd's config. */
  pool?: string;
  /** Higher runs first; default 0 (a signed 32-bit integer). */
  priority?: number;
  /** Timeout of one attempt in ms; 0 or absent: the pool's timeout_ms. */
  timeoutMs?: number;
  /** The job may not start before this many ms from now. */
  delayMs?: number;
  /** The job expires unless started within this many ms; 0 or absent:
   * the pool's queue_timeout_ms. */
  deadlineMs?: number;
  /** Resolve with the job id as soon as commisd has queued the job. */
  noWait?: boolean;
  /** 1 to 128 bytes: a second submit with the same key (same uid, within
   * idempotency_ttl_ms) gets the first job's id or result, not a new job. */
  idempotencyKey?: string;
}

/** A job's terminal state (a RESULT frame). */
export interface Result {
  /** commisd's job id (a u64, hence a bigint). */
  jobId: bigint;
  status: StatusName;
  /** enum commis_status: 0 succeeded ... 5 expired. */
  statusCode: number;
  attempts: number;
  /** Why, when the job did not succeed; else ''. */
  cause: string;
  /** The handler's output (null only on ERR_SEGMENT's result). */
  output: Buffer | null;
  /** Of the last attempt; 0 when the job never ran. */
  queueUs: number;
  runUs: number;
  cpuUs: number;
  maxrssKb: number;
}

/** Where a job is (a JOB_INFO frame). */
export interface JobInfo {
  jobId: bigint;
  state: JobState;
  stateCode: number;
  /** The terminal status once state is 'done', else null. */
  status: StatusName | null;
  statusCode: number | null;
  attempts: number;
  pool: string;
  handler: string;
  cause: string;
}

/** One of commisd's events (docs/protocol.md, "Events"). */
export interface CommisEvent {
  type: string;
  [field: string]: unknown;
}

export interface ConnectOptions {
  /** Exchange a PING before connect() resolves (default true), so that a
   * refused peer or another protocol version fails connect(). */
  handshake?: boolean;
  /** Largest frame accepted from commisd, in bytes; default
   * 256 MiB + 4096 (COMMIS_PAYLOAD_HARD_MAX + COMMIS_FRAME_OVERHEAD). */
  maxFrame?: number;
}

export type JobId = bigint | number;

export class Client {
  /** Made by connect(). */
  private constructor();
  /** The socket path. */
  readonly path: string;
  /** Requests sent and not answered yet. */
  readonly pending: number;
  /** True while frames wait for the socket to drain. */
  readonly needDrain: boolean;
  /** The error that ended the connection, or null while it is usable. */
  readonly error: CommisError | null;
  /** Resolves (never rejects) with the error that ended the connection. */
  readonly closed: Promise<CommisError>;

  /** Resolves with the result when the job ends, whatever its status;
   * rejects with a CommisError when commisd refuses the job. */
  submit(handler: string, payload?: Payload | null,
    options?: SubmitOptions & { noWait?: false }): Promise<Result>;
  /** With noWait: resolves with the job id once commisd has queued it. */
  submit(handler: string, payload: Payload | null | undefined,
    options: SubmitOptions & { noWait: true }): Promise<bigint>;
  submit(handler: string, payload?: Payload | null,
    options?: SubmitOptions): Promise<Result | bigint>;

  /** Where a job is; E_NO_JOB if commisd does not know or keep it. */
  status(jobId: JobId): Promise<JobInfo>;
  /** Waits for any job's end, up to timeoutMs on commisd's side (0 or
   * absent: no limit); E_TIMEOUT when that runs out first. */
  wait(jobId: JobId, timeoutMs?: number): Promise<Result>;
  /** Cancels a queued, delayed or running job; resolves with commisd's
   * text. E_NO_JOB, or E_STATE when the job has already ended. */
  cancel(jobId: JobId): Promise<string>;
  /** commisd's statistics, parsed from JSON. */
  stats(): Promise<Record<string, any>>;
  /** commisd's statistics as a text table. */
  statsText(): Promise<string>;
  /** Round trip of a PING, in nanoseconds. */
  ping(): Promise<number>;
  /** An operator command (reload, scale, reset, dead, retry, purge). */
  admin(argv: string[]): Promise<string>;
  /** Subscribes this connection to commisd's events. */
  events(onEvent: (event: CommisEvent) => void): Promise<string>;
  /** Resolves when queued frames are in the socket and it is below its
   * high-water mark. */
  drain(): Promise<void>;
  /** Closes at once; pending requests reject with ERR_CLOSED. */
  close(): Promise<void>;
  ref(): this;
  unref(): this;
}

/** Connects to commisd at path (default: $COMMIS_SOCKET). */
export function connect(path?: string | null,
  options?: ConnectOptions): Promise<Client>;
