'use strict';
/*
 * The client against a real commisd ($COMMIS_BUILD/commisd), started by
 * this file on a socket in a temporary directory: one pool "main" of 2
 * process workers, results up to 4 MiB inline (segment_threshold), since
 * Node cannot receive segments. No test depends on how fast anything
 * runs: jobs that must stay unfinished sleep for a minute and are
 * cancelled, and waits poll with deadlines.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { connect, CommisError } = require('..');
const { startCommisd, pollUntil } = require('../test-support/commisd');

const T = { timeout: 120000 };
let d;
let c;

before(async () => {
  d = await startCommisd({ extra: 'segment_threshold: 4M' });
  c = await connect(d.sock);
});

after(async () => {
  if (c) await c.close();
  if (d) await d.stop();
});

function sha256hex(b) {
  return crypto.createHash('sha256').update(b).digest('hex');
}

test('echo round trip', T, async () => {
  const r = await c.submit('echo', 'hello, commis');
  assert.equal(r.status, 'succeeded');
  assert.equal(r.statusCode, 0);
  assert.equal(r.attempts, 1);
  assert.equal(r.cause, '');
  assert.equal(r.output.toString(), 'hello, commis');
  assert.equal(typeof r.jobId, 'bigint');
  assert.ok(r.jobId > 0n);
  for (const k of ['queueUs', 'runUs', 'cpuUs', 'maxrssKb']) {
    assert.ok(Number.isInteger(r[k]) && r[k] >= 0, k);
  }
  const bin = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) bin[i] = i;
  assert.deepEqual((await c.submit('echo', bin, { pool: 'main' })).output, bin);
  assert.equal((await c.submit('echo')).output.length, 0);
  const u8 = new Uint8Array([1, 2, 3]);
  assert.deepEqual([...(await c.submit('xor', u8)).output], [1 ^ 0x5a,
    2 ^ 0x5a, 3 ^ 0x5a]);
});

test('2000 submits in flight on one connection, each matched', T, async () => {
  const N = 2000;
  const ps = [];
  for (let i = 0; i < N; i++) {
    ps.push(i % 2 === 0 ? c.submit('echo', `job ${i}`) :
      c.submit('sha256', `job ${i}`, { priority: i % 7 }));
  }
  assert.ok(c.pending >= N);
  const rs = await Promise.all(ps);
  const ids = new Set();
  rs.forEach((r, i) => {
    assert.equal(r.status, 'succeeded');
    const want = i % 2 === 0 ? `job ${i}` : sha256hex(`job ${i}`);
    assert.equal(r.output.toString(), want);
    ids.add(r.jobId);
  });
  assert.equal(ids.size, N);
  assert.equal(c.pending, 0);
});

test('replies come back out of order', T, async () => {
  const id = await c.submit('sleep', '60000', { noWait: true });
  let waited = null;
  const w = c.wait(id).then((r) => { waited = r; });
  /* Submitted after, answered first: the other worker is free. */
  assert.equal((await c.submit('echo', 'overtakes')).output.toString(),
    'overtakes');
  assert.equal(waited, null);
  assert.match(await c.cancel(id), /./);
  await w;
  assert.equal(waited.jobId, id);
  assert.equal(waited.status, 'cancelled');
});

test('a handler error and a crashing worker are result statuses', T,
  async () => {
    const r = await c.submit('fault', 'no-such-fault');
    assert.equal(r.status, 'failed');
    assert.equal(r.statusCode, 1);
    assert.match(r.cause, /unknown fault/);
    assert.equal(r.attempts, 1);
    const s = await c.submit('sleep', 'soon');
    assert.equal(s.status, 'failed');
    assert.match(s.cause, /expected milliseconds/);
    const x = await c.submit('fault', 'exit:3');
    assert.equal(x.status, 'crashed');
    assert.equal(x.statusCode, 3);
    assert.match(x.cause, /exit code 3/);
  });

test('an unknown pool or handler is a CommisError with its code', T,
  async () => {
    await assert.rejects(c.submit('echo', 'x', { pool: 'nope' }), (e) => {
      assert.ok(e instanceof CommisError);
      assert.equal(e.code, 'E_NO_POOL');
      assert.equal(e.errcode, 5);
      assert.equal(e.rejected, true);
      assert.match(e.message, /^no such pool: .*nope/);
      return true;
    });
    await assert.rejects(c.submit('no_such_handler', 'x'),
      { code: 'E_NO_HANDLER', errcode: 6 });
    /* The connection goes on. */
    assert.equal((await c.submit('echo', 'still here')).status, 'succeeded');
  });

test('noWait, status and wait', T, async () => {
  const id = await c.submit('sha256', 'abc', { noWait: true });
  assert.equal(typeof id, 'bigint');
  const r = await c.wait(id, 60000);
  assert.equal(r.jobId, id);
  assert.equal(r.status, 'succeeded');
  assert.equal(r.output.toString(), sha256hex('abc'));
  const info = await c.status(id);
  assert.deepEqual(info, { jobId: id, state: 'done', stateCode: 3,
    status: 'succeeded', statusCode: 0, attempts: 1, pool: 'main',
    handler: 'sha256', cause: '' });
  /* A Number id works as well as a bigint. */
  assert.equal((await c.status(Number(id))).jobId, id);
  await assert.rejects(c.status(2n ** 62n), { code: 'E_NO_JOB' });
  await assert.rejects(c.wait(2n ** 62n), { code: 'E_NO_JOB' });
});

test('wait runs out; cancel; cancel again', T, async () => {
  const id = await c.submit('sleep', '60000', { noWait: true });
  await assert.rejects(c.wait(id, 50), { code: 'E_TIMEOUT', errcode: 11 });
  const info = await c.status(id);
  assert.ok(['queued', 'running'].includes(info.state), info.state);
  assert.equal(info.status, null);
  await c.cancel(id);
  const r = await c.wait(id);
  assert.equal(r.status, 'cancelled');
  await assert.rejects(c.cancel(id), { code: 'E_STATE' });
  await assert.rejects(c.cancel(2n ** 62n), { code: 'E_NO_JOB' });
});

test('an idempotency key twice gives the same job', T, async () => {
  const key = `node-${process.pid}-${Date.now()}`;
  const a = await c.submit('echo', 'once', { idempotencyKey: key,
    noWait: true });
  const b = await c.submit('echo', 'twice', { idempotencyKey: key,
    noWait: true });
  assert.equal(b, a);
  /* Waiting for it: the first job's result, not a new job. */
  const r = await c.submit('echo', 'thrice', { idempotencyKey: key });
  assert.equal(r.jobId, a);
  assert.equal(r.output.toString(), 'once');
  const other = await c.submit('echo', 'x', { idempotencyKey: `${key}-2`,
    noWait: true });
  assert.notEqual(other, a);
});

test('stats() is parsed JSON; statsText() a table', T, async () => {
  const s = await c.stats();
  assert.equal(typeof s, 'object');
  assert.ok(Array.isArray(s.pools));
  assert.ok(s.pools.some((p) => p.name === 'main'), JSON.stringify(s.pools));
  assert.equal(typeof s.pid, 'number');
  assert.equal(typeof await c.statsText(), 'string');
});

test('ping() gives the round trip in nanoseconds', T, async () => {
  const ns = await c.ping();
  assert.ok(Number.isInteger(ns) && ns > 0, String(ns));
});

test('a 1 MiB payload comes back intact', T, async () => {
  const big = crypto.randomBytes(1 << 20);
  const r = await c.submit('echo', big);
  assert.equal(r.status, 'succeeded');
  assert.ok(r.output.equals(big));
  const x = await c.submit('sha256', big);
  assert.equal(x.output.toString(), sha256hex(big));
});

test('above max_payload: E_TOOBIG, and the connection stays', T, async () => {
  await assert.rejects(c.submit('echo', Buffer.alloc(5 << 20)),
    { code: 'E_TOOBIG', errcode: 3 });
  assert.equal((await c.submit('echo', 'after')).output.toString(), 'after');
});

test('backpressure: 200 MiB of submits without awaiting', T, async () => {
  const N = 200;
  const data = crypto.randomBytes(1 << 20);
  const want = sha256hex(data);
  const sock = c._socket;
  const limit = sock.writableHighWaterMark + data.length + 4096;
  let peak = 0;
  let held = false;
  let done = 0;
  const ab0 = process.memoryUsage().arrayBuffers;
  let abPeak = ab0;
  const sample = () => {
    peak = Math.max(peak, sock.writableLength);
    held = held || c.needDrain;
    abPeak = Math.max(abPeak, process.memoryUsage().arrayBuffers);
  };
  const timer = setInterval(sample, 1);
  /* The same buffer every time: the client sends it without copies. */
  const ps = [];
  for (let i = 0; i < N; i++) {
    ps.push(c.submit('sha256', data).then((r) => {
      assert.equal(r.output.toString(), want);
      done++;
    }));
    sample();
  }
  assert.ok(c.needDrain);
  await Promise.all(ps);
  clearInterval(timer);
  assert.equal(done, N);
  assert.ok(held);
  assert.ok(peak <= limit, `socket buffered ${peak} bytes, limit ${limit}`);
  /* Buffers in this process stay far below what was sent (a copy per
   * frame would be 200 MiB): about 1 MiB when measured. */
  assert.ok(abPeak - ab0 < 64 << 20, `buffers grew by ${abPeak - ab0} bytes`);
  await c.drain();
  assert.equal(c.needDrain, false);
});

test('a producer that awaits drain() keeps the socket bounded', T,
  async () => {
    const data = Buffer.alloc(256 << 10, 1);
    const ids = [];
    for (let i = 0; i < 64; i++) {
      ids.push(c.submit('echo', data, { noWait: true }));
      if (c.needDrain) await c.drain();
      assert.ok(c._socket.writableLength <=
        c._socket.writableHighWaterMark + data.length + 4096);
    }
    const got = await Promise.all(ids);
    assert.equal(new Set(got).size, 64);
    for (const id of got) assert.equal((await c.wait(id)).output.length,
      data.length);
  });

test('events: accepted and finished for a job', T, async () => {
  const e = await connect(d.sock);
  try {
    const seen = [];
    await e.events((ev) => seen.push(ev));
    const id = await c.submit('echo', 'ev', { noWait: true });
    const n = Number(id);
    await pollUntil(() => seen.some((ev) => ev.type === 'finished' &&
      ev.job === n), 30000, 'the finished event');
    assert.ok(seen.some((ev) => ev.type === 'accepted' && ev.job === n));
    assert.equal(e.pending, 0);
    /* Requests still work on a subscribed connection. */
    assert.equal(typeof await e.ping(), 'number');
  } finally {
    await e.close();
  }
});

test('admin commands', T, async () => {
  assert.match(await c.admin(['scale', 'main', '2']), /2/);
  await assert.rejects(c.admin(['scale', 'nope', '2']), { code: 'E_NO_POOL' });
  await assert.rejects(c.admin(['frobnicate']), { code: 'E_BAD_ARGS' });
});

test('$COMMIS_SOCKET is the default path; many connections', T, async () => {
  const saved = process.env.COMMIS_SOCKET;
  process.env.COMMIS_SOCKET = d.sock;
  try {
    const cs = await Promise.all(Array.from({ length: 8 }, () => connect()));
    const rs = await Promise.all(cs.map((x, i) => x.submit('echo', `c${i}`)));
    rs.forEach((r, i) => assert.equal(r.output.toString(), `c${i}`));
    await Promise.all(cs.map((x) => x.close()));
  } finally {
    if (saved === undefined) delete process.env.COMMIS_SOCKET;
    else process.env.COMMIS_SOCKET = saved;
  }
});
