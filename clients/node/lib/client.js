'use strict';
/*
 * One connection to commisd's control socket: requests out, replies
 * matched to them by request id (they come back in any order), with
 * backpressure on the write side and no buffering on the read side beyond
 * the frame being decoded. It knows the messages (docs/protocol.md) but
 * not the bytes of a frame: that is frame.js.
 *
 * Every way the connection can end (a malformed frame, a connection-level
 * ERROR, EOF, an I/O error, close()) goes through one place, _fail(),
 * which rejects every outstanding request with the same CommisError;
 * later calls reject with it at once.
 */

const net = require('node:net');
const P = require('./proto');
const { FrameError, Writer, Reader, FrameDecoder } = require('./frame');
const { CommisError, serverError } = require('./errors');

const MAX_ID = Number.MAX_SAFE_INTEGER;
const U32_MAX = 0xffffffff;
const SUBMIT_OPTIONS = new Set(['pool', 'priority', 'timeoutMs', 'delayMs',
  'deadlineMs', 'noWait', 'idempotencyKey']);

/* Which reply types answer each kind of request (besides ERROR). */
const REPLIES = {
  ping: P.MSG.PONG,
  submit: P.MSG.RESULT,
  submitNoWait: P.MSG.ACCEPTED,
  stats: P.MSG.STATS_REPLY,
  status: P.MSG.JOB_INFO,
  wait: P.MSG.RESULT,
  cancel: P.MSG.OK,
  admin: P.MSG.OK,
  events: P.MSG.OK,
};

function inval(msg) {
  return new CommisError('ERR_INVAL', msg);
}

function checkU32(name, v) {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) {
    throw inval(`${name} must be an integer from 0 to ${U32_MAX}`);
  }
  return v;
}

function checkI32(name, v) {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
    throw inval(`${name} must be a 32-bit signed integer`);
  }
  return v;
}

/* A string commisd takes: max bytes at most (UTF-8), no NUL. */
function checkText(name, v, min, max) {
  if (typeof v !== 'string') throw inval(`${name} must be a string`);
  const n = Buffer.byteLength(v, 'utf8');
  if (n < min || n > max) {
    throw inval(`${name} must be ${min} to ${max} bytes, not ${n}`);
  }
  if (v.includes('\0')) throw inval(`${name} must not contain NUL`);
  return v;
}

/* A u64 job id from a bigint, or a Number that is a safe integer. */
function checkJobId(v) {
  if (typeof v === 'number' && Number.isSafeInteger(v)) v = BigInt(v);
  if (typeof v !== 'bigint' || v <= 0n || v > 0xffffffffffffffffn) {
    throw inval('jobId must be a bigint (or safe integer) from 1 to 2^64-1');
  }
  return v;
}

/* Payloads: Buffer, Uint8Array, ArrayBuffer, string (UTF-8) or nothing. */
function toBuffer(data) {
  if (data === undefined || data === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) {
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  throw inval('payload must be a Buffer, Uint8Array, ArrayBuffer or string');
}

class Client {
  constructor(socket, path, options = {}) {
    this.path = path;
    this._socket = socket;
    this._pending = new Map(); /* request id -> entry */
    this._nextId = 1;
    this._error = null; /* set once the connection is unusable */
    this._corked = false;
    this._waitDrain = false; /* socket.write() said false */
    this._sendq = []; /* frames (chunk lists) held until 'drain' */
    this._sendHead = 0;
    this._drainWaiters = [];
    this._events = null; /* the entry of the EVENTS subscription */
    const maxFrame = options.maxFrame !== undefined ? options.maxFrame :
      P.PAYLOAD_HARD_MAX + P.FRAME_OVERHEAD;
    this._decoder = new FrameDecoder((h, p, owned) => this._frame(h, p, owned),
      maxFrame);
    this.closed = new Promise((resolve) => { this._resolveClosed = resolve; });
    this._closedSocket = new Promise((resolve) => socket.once('close', resolve));

    socket.on('data', (chunk) => {
      try {
        this._decoder.push(chunk);
      } catch (e) {
        this._fail(e instanceof CommisError ? e : new CommisError('ERR_PROTO',
          `protocol error from commisd: ${e.message}`, { cause: e }));
      }
    });
    socket.on('drain', () => this._drained());
    socket.on('error', (e) => {
      this._fail(new CommisError('ERR_IO',
        `connection to commisd failed: ${e.message}`, { cause: e }));
    });
    socket.on('end', () => {
      this._fail(new CommisError('ERR_IO', 'commisd closed the connection'));
    });
    socket.on('close', () => {
      this._fail(new CommisError('ERR_IO', 'connection to commisd closed'));
    });
  }

  /* Requests sent and not answered yet (an events subscription is not
   * counted once commisd has confirmed it). */
  get pending() {
    const ev = this._events !== null && this._events.subscribed ? 1 : 0;
    return this._pending.size - ev;
  }

  /* True while frames wait for the socket to drain: a producer that
   * submits without awaiting can `await c.drain()` when this is set. */
  get needDrain() {
    return this._waitDrain || this._sendHead < this._sendq.length;
  }

  /* The error that ended the connection, or null while it is usable. */
  get error() {
    return this._error;
  }

  /* Resolves when every frame queued so far is in the socket and the
   * socket is below its high-water mark. */
  drain() {
    if (this._error) return Promise.reject(this._error);
    if (!this.needDrain) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this._drainWaiters.push({ resolve, reject });
    });
  }

  ref() {
    this._socket.ref();
    return this;
  }

  unref() {
    this._socket.unref();
    return this;
  }

  /*
   * Closes the connection at once: outstanding requests reject with
   * ERR_CLOSED (a job already submitted goes on in commisd). Resolves
   * when the socket is closed.
   */
  close() {
    this._fail(new CommisError('ERR_CLOSED',
      'connection closed by the client'));
    return this._closedSocket.then(() => undefined);
  }

  ping() {
    return this._request('ping', P.MSG.PING, new Writer(), {
      t0: process.hrtime.bigint(),
    });
  }

  submit(handler, payload, options) {
    let w;
    let noWait;
    try {
      const o = options === undefined ? {} : options;
      if (typeof o !== 'object' || o === null) {
        throw inval('options must be an object');
      }
      for (const k of Object.keys(o)) {
        if (!SUBMIT_OPTIONS.has(k)) throw inval(`unknown option '${k}'`);
      }
      checkText('handler', handler, 1, P.NAME_MAX - 1);
      const pool = o.pool === undefined || o.pool === null ? '' :
        checkText('pool', o.pool, 0, P.NAME_MAX - 1);
      const data = toBuffer(payload);
      if (data.length > U32_MAX - P.FRAME_OVERHEAD) {
        throw inval(`payload of ${data.length} bytes is too large`);
      }
      const key = o.idempotencyKey === undefined || o.idempotencyKey === null ?
        null : checkText('idempotencyKey', o.idempotencyKey, 1, P.KEY_MAX);
      noWait = Boolean(o.noWait);
      const flags = (noWait ? P.SUBMIT_NOWAIT : 0) |
        (key !== null ? P.SUBMIT_KEY : 0);
      w = new Writer()
        .i32(checkI32('priority', o.priority))
        .u32(checkU32('timeoutMs', o.timeoutMs))
        .u32(flags)
        .u32(checkU32('delayMs', o.delayMs))
        .u32(checkU32('deadlineMs', o.deadlineMs))
        .str(pool)
        .str(handler)
        .bytes(data);
      if (key !== null) w.str(key);
    } catch (e) {
      return Promise.reject(e);
    }
    return this._request(noWait ? 'submitNoWait' : 'submit', P.MSG.SUBMIT, w);
  }

  stats() {
    return this._request('stats', P.MSG.STATS, new Writer().u8(P.STATS_JSON),
      { json: true });
  }

  statsText() {
    return this._request('stats', P.MSG.STATS, new Writer().u8(P.STATS_TEXT),
      { json: false });
  }

  status(jobId) {
    return this._jobRequest('status', P.MSG.STATUS, jobId);
  }

  wait(jobId, timeoutMs) {
    let w;
    try {
      w = new Writer().u64(checkJobId(jobId))
        .u32(checkU32('timeoutMs', timeoutMs));
    } catch (e) {
      return Promise.reject(e);
    }
    return this._request('wait', P.MSG.WAIT, w);
  }

  cancel(jobId) {
    return this._jobRequest('cancel', P.MSG.CANCEL_JOB, jobId);
  }

  admin(argv) {
    let w;
    try {
      if (!Array.isArray(argv) || argv.length === 0) {
        throw inval('argv must be a non-empty array of strings');
      }
      w = new Writer().u32(argv.length);
      for (const a of argv) w.str(checkText('argv[i]', a, 0, U32_MAX));
    } catch (e) {
      return Promise.reject(e);
    }
    return this._request('admin', P.MSG.ADMIN, w);
  }

  /*
   * Subscribes to commisd's events: onEvent(object) is called for each
   * (docs/protocol.md, "Events") until the connection closes. Resolves
   * once commisd has confirmed. One subscription per connection.
   */
  events(onEvent) {
    if (typeof onEvent !== 'function') {
      return Promise.reject(inval('onEvent must be a function'));
    }
    if (this._events !== null) {
      return Promise.reject(inval('already subscribed to events'));
    }
    return this._request('events', P.MSG.EVENTS, new Writer(), { onEvent });
  }

  _jobRequest(kind, type, jobId) {
    let w;
    try {
      w = new Writer().u64(checkJobId(jobId));
    } catch (e) {
      return Promise.reject(e);
    }
    return this._request(kind, type, w);
  }

  _request(kind, type, writer, extra) {
    if (this._error) return Promise.reject(this._error);
    const id = this._nextId;
    this._nextId = id === MAX_ID ? 1 : id + 1;
    return new Promise((resolve, reject) => {
      const entry = { kind, resolve, reject, ...extra };
      this._pending.set(id, entry);
      if (kind === 'events') this._events = entry;
      this._send(writer.finish(type, id));
    });
  }

  /* Write side: one cork per tick (one writev for everything sent in
   * it), and nothing more handed to the socket while it is above its
   * high-water mark: frames wait in _sendq, without copies, for 'drain'. */
  _send(chunks) {
    if (this.needDrain) {
      this._sendq.push(chunks);
      return;
    }
    this._write(chunks);
  }

  _write(chunks) {
    const s = this._socket;
    if (!this._corked) {
      this._corked = true;
      s.cork();
      process.nextTick(() => {
        this._corked = false;
        s.uncork();
      });
    }
    let ok = true;
    for (const c of chunks) ok = s.write(c);
    if (!ok) this._waitDrain = true;
  }

  _drained() {
    this._waitDrain = false;
    while (!this._waitDrain && this._sendHead < this._sendq.length) {
      const chunks = this._sendq[this._sendHead];
      this._sendq[this._sendHead++] = undefined;
      this._write(chunks);
    }
    if (this._sendHead === this._sendq.length) {
      this._sendq = [];
      this._sendHead = 0;
    } else if (this._sendHead > 1024 && this._sendHead * 2 > this._sendq.length) {
      this._sendq = this._sendq.slice(this._sendHead);
      this._sendHead = 0;
    }
    if (!this.needDrain) {
      const w = this._drainWaiters;
      this._drainWaiters = [];
      for (const d of w) d.resolve();
    }
  }

  _fail(err) {
    if (this._error) return;
    this._error = err;
    this._decoder.stop();
    this._sendq = [];
    this._sendHead = 0;
    this._socket.destroy();
    const pending = this._pending;
    this._pending = new Map();
    for (const e of pending.values()) e.reject(err);
    const w = this._drainWaiters;
    this._drainWaiters = [];
    for (const d of w) d.reject(err);
    this._resolveClosed(err);
  }

  /* One frame from commisd. A FrameError thrown here ends the connection. */
  _frame(h, payload, owned) {
    if (this._error) return;
    if (h.version !== P.PROTO_VERSION) {
      this._versionError(h, payload);
      return;
    }
    if (h.type === P.MSG.ERROR && h.id === 0) {
      const r = new Reader(payload, 'ERROR');
      const code = r.u32();
      const text = r.str(P.TEXT_MAX, 'message');
      r.end();
      this._fail(serverError(code, text));
      return;
    }
    const entry = this._pending.get(h.id);
    if (entry === undefined) {
      throw new FrameError(`reply (type ${h.type}) to request ${h.id}, ` +
        'which is not outstanding');
    }
    if ((h.flags & P.FLAG_FD) && h.type !== P.MSG.RESULT) {
      throw new FrameError(`fd flag on a frame of type ${h.type}`);
    }
    if (h.type === P.MSG.ERROR) {
      const r = new Reader(payload, 'ERROR');
      const code = r.u32();
      const text = r.str(P.TEXT_MAX, 'message');
      r.end();
      if (entry === this._events) this._events = null;
      this._pending.delete(h.id);
      entry.reject(serverError(code, text));
      return;
    }
    if (entry.kind === 'events' && entry.subscribed && h.type === P.MSG.EVENT) {
      this._event(entry, payload);
      return;
    }
    if (h.type !== REPLIES[entry.kind]) {
      throw new FrameError(`reply of type ${h.type} to a ${entry.kind} ` +
        `request (expected ${REPLIES[entry.kind]})`);
    }
    /* Parsed first: a reply that does not parse leaves its request
     * pending, for _fail() to reject with the others. */
    this._reply(entry, h, payload, owned);
    if (entry.kind !== 'events') this._pending.delete(h.id);
  }

  _reply(entry, h, payload, owned) {
    switch (entry.kind) {
      case 'ping': {
        if (payload.length !== 0) throw new FrameError('PONG with a payload');
        entry.resolve(Number(process.hrtime.bigint() - entry.t0));
        return;
      }
      case 'submit':
      case 'wait': {
        const res = parseResult(payload, owned);
        if (h.flags & P.FLAG_FD) {
          res.output = null;
          entry.reject(new CommisError('ERR_SEGMENT', `job ${res.jobId} ` +
            `ended ${res.status} but its output came as a segment (an fd), ` +
            'which this client cannot receive: set segment_threshold in ' +
            "commisd's config above the largest output", { result: res }));
          return;
        }
        entry.resolve(res);
        return;
      }
      case 'submitNoWait': {
        const r = new Reader(payload, 'ACCEPTED');
        const jobId = r.u64();
        r.end();
        entry.resolve(jobId);
        return;
      }
      case 'stats': {
        const r = new Reader(payload, 'STATS_REPLY');
        const text = r.bytes().toString('utf8');
        r.end();
        if (!entry.json) {
          entry.resolve(text);
          return;
        }
        let v;
        try {
          v = JSON.parse(text);
        } catch (e) {
          entry.reject(new CommisError('ERR_PROTO',
            `commisd's stats are not valid JSON: ${e.message}`, { cause: e }));
          return;
        }
        entry.resolve(v);
        return;
      }
      case 'status':
        entry.resolve(parseJobInfo(payload));
        return;
      case 'cancel':
      case 'admin':
      case 'events': {
        const r = new Reader(payload, 'OK');
        const text = r.bytes().toString('utf8');
        r.end();
        if (entry.kind === 'events') entry.subscribed = true;
        entry.resolve(text);
        return;
      }
      default:
        throw new FrameError(`no handler for a ${entry.kind} reply`);
    }
  }

  _event(entry, payload) {
    const r = new Reader(payload, 'EVENT');
    const text = r.bytes().toString('utf8');
    r.end();
    let ev;
    try {
      ev = JSON.parse(text);
    } catch (e) {
      throw new FrameError(`EVENT is not valid JSON: ${e.message}`);
    }
    try {
      entry.onEvent(ev);
    } catch (e) {
      /* The listener's own error is the caller's, as for any event
       * listener; it must not end our connection. */
      process.nextTick(() => { throw e; });
    }
  }

  /* A frame of another protocol version. commisd answers a mismatch with
   * ERROR COMMIS_E_VERSION and closes; report what it said. */
  _versionError(h, payload) {
    let text = '';
    try {
      const r = new Reader(payload, 'ERROR');
      const code = r.u32();
      text = `: ${P.ERR_TEXT[code] || `error ${code}`}: ` +
        r.str(P.TEXT_MAX, 'message');
    } catch (e) {
      text = '';
    }
    this._fail(new CommisError('E_VERSION', `commisd speaks protocol ` +
      `version ${h.version}, this client ${P.PROTO_VERSION}${text}`,
    { errcode: P.ERR_CODES.E_VERSION }));
  }
}

function parseResult(payload, owned) {
  const r = new Reader(payload, 'RESULT');
  const jobId = r.u64();
  const statusCode = r.u8();
  const attempts = r.u16();
  const cause = r.str(P.TEXT_MAX, 'cause');
  const queueUs = r.u64n();
  const runUs = r.u64n();
  const cpuUs = r.u64n();
  const maxrssKb = r.u64n();
  const out = r.bytes();
  r.end();
  if (statusCode > P.STATUS_LAST) {
    throw new FrameError(`RESULT with unknown status ${statusCode}`);
  }
  return {
    jobId,
    status: P.STATUS_NAMES[statusCode],
    statusCode,
    attempts,
    cause,
    /* A view of a buffer made for this frame alone, else a copy: a
     * small result must not pin a whole socket read. */
    output: owned ? out : Buffer.from(out),
    queueUs,
    runUs,
    cpuUs,
    maxrssKb,
  };
}

function parseJobInfo(payload) {
  const r = new Reader(payload, 'JOB_INFO');
  const jobId = r.u64();
  const stateCode = r.u8();
  const statusCode = r.u8();
  const attempts = r.u16();
  const pool = r.str(P.NAME_MAX, 'pool');
  const handler = r.str(P.NAME_MAX, 'handler');
  const cause = r.str(P.TEXT_MAX, 'cause');
  r.end();
  if (stateCode >= P.STATE_NAMES.length) {
    throw new FrameError(`JOB_INFO with unknown state ${stateCode}`);
  }
  const done = P.STATE_NAMES[stateCode] === 'done';
  if (done && statusCode > P.STATUS_LAST) {
    throw new FrameError(`JOB_INFO with unknown status ${statusCode}`);
  }
  return {
    jobId,
    state: P.STATE_NAMES[stateCode],
    stateCode,
    status: done ? P.STATUS_NAMES[statusCode] : null,
    statusCode: done ? statusCode : null,
    attempts,
    pool,
    handler,
    cause,
  };
}

/*
 * Connects to commisd at path (default $COMMIS_SOCKET) and, unless
 * options.handshake is false, exchanges a PING, so that a wrong protocol
 * version or a refused peer fails here rather than at the first request.
 */
async function connect(path, options = {}) {
  if (path === undefined || path === null) path = process.env.COMMIS_SOCKET;
  if (typeof path !== 'string' || path === '') {
    throw inval('no socket path given and COMMIS_SOCKET is not set');
  }
  if (typeof options !== 'object' || options === null) {
    throw inval('options must be an object');
  }
  if (options.maxFrame !== undefined && (!Number.isSafeInteger(options.maxFrame)
    || options.maxFrame < P.HDR_LEN)) {
    throw inval('maxFrame must be an integer number of bytes');
  }
  const socket = await new Promise((resolve, reject) => {
    const s = net.createConnection({ path });
    const onError = (e) => {
      s.destroy();
      reject(new CommisError('ERR_CONNECT',
        `cannot connect to commisd at ${path}: ${e.message}`, { cause: e }));
    };
    s.once('error', onError);
    s.once('connect', () => {
      s.removeListener('error', onError);
      resolve(s);
    });
  });
  const c = new Client(socket, path, options);
  if (options.handshake !== false) {
    try {
      await c.ping();
    } catch (e) {
      await c.close();
      throw e;
    }
  }
  return c;
}

module.exports = { Client, connect, parseResult, parseJobInfo };
