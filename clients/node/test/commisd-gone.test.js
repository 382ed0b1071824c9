'use strict';
/*
 * A real commisd with its default segment_threshold (64 KiB), which
 * returns larger outputs as segments that Node cannot receive, and
 * commisd going away under pending requests: killed, or stopped with
 * SIGTERM. Each test starts its own daemon.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { connect, CommisError } = require('..');
const { startCommisd } = require('../test-support/commisd');

const T = { timeout: 120000 };

test('an output above segment_threshold rejects with ERR_SEGMENT', T,
  async (t) => {
    const d = await startCommisd();
    t.after(() => d.stop());
    const c = await connect(d.sock);
    t.after(() => c.close());
    const small = Buffer.alloc(60 << 10, 3);
    assert.ok((await c.submit('echo', small)).output.equals(small));
    await assert.rejects(c.submit('echo', Buffer.alloc(100 << 10, 4)), (e) => {
      assert.ok(e instanceof CommisError);
      assert.equal(e.code, 'ERR_SEGMENT');
      assert.equal(e.result.status, 'succeeded');
      assert.equal(typeof e.result.jobId, 'bigint');
      assert.equal(e.result.output, null);
      return true;
    });
    /* The fd was dropped by the kernel; the connection goes on. */
    assert.equal((await c.submit('echo', 'after')).output.toString(), 'after');
  });

test('commisd killed mid-flight: every pending request rejects', T,
  async (t) => {
    const d = await startCommisd();
    t.after(() => d.stop());
    const c = await connect(d.sock);
    const id = await c.submit('sleep', '60000', { noWait: true });
    const pending = [
      c.submit('sleep', '60000'),
      c.submit('sleep', '60000'),
      c.submit('sleep', '60000', { pool: 'main', priority: 5 }),
      c.wait(id),
    ].map((p) => p.then(() => assert.fail('resolved'), (e) => e));
    /* Every request is in commisd before it dies. */
    assert.equal((await c.status(id)).jobId, id);
    assert.equal(c.pending, 4);
    await d.kill();
    const errs = await Promise.all(pending);
    for (const e of errs) {
      assert.ok(e instanceof CommisError);
      assert.equal(e.code, 'ERR_IO');
      assert.match(e.message, /commisd closed the connection|connection/);
    }
    assert.equal(await c.closed, errs[0]);
    assert.equal(c.pending, 0);
    await assert.rejects(c.ping(), { code: 'ERR_IO' });
    await assert.rejects(connect(d.sock), { code: 'ERR_CONNECT' });
  });

test('commisd stopped with SIGTERM: every request settles', T, async (t) => {
  const d = await startCommisd();
  t.after(() => d.stop());
  const c = await connect(d.sock);
  t.after(() => c.close());
  const ps = [];
  for (let i = 0; i < 4; i++) ps.push(c.submit('sleep', '60000'));
  /* Answered in order after the submits: they are all in commisd. */
  await c.ping();
  await d.stop('SIGTERM');
  const settled = await Promise.allSettled(ps);
  for (const s of settled) {
    /* A result (the job was stopped) or the connection's end. */
    if (s.status === 'fulfilled') {
      assert.notEqual(s.value.status, 'succeeded');
    } else {
      assert.ok(s.reason instanceof CommisError, String(s.reason));
    }
  }
  await c.closed;
  assert.ok(c.error instanceof CommisError);
});
