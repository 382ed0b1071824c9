'use strict';
/*
 * The client against a scripted server on a Unix socket: what commisd
 * would only do when something is wrong (malformed frames, another
 * protocol version, a connection-level ERROR, replies to nobody), replies
 * out of order and split across reads, and a peer that stops reading
 * (write backpressure), all deterministic.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const P = require('../lib/proto');
const { Writer, Reader, FrameDecoder } = require('../lib/frame');
const { connect, CommisError } = require('..');
const { pollUntil } = require('../test-support/commisd');

function payloadOf(w) {
  return Buffer.concat(w.finish(0, 0)).subarray(24);
}

function frame(type, id, payload = Buffer.alloc(0), { flags = 0,
  version = P.PROTO_VERSION, magic = P.PROTO_MAGIC } = {}) {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(magic, 0);
  h.writeUInt8(version, 4);
  h.writeUInt8(type, 5);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(payload.length, 8);
  h.writeBigUInt64LE(BigInt(id), 16);
  return Buffer.concat([h, payload]);
}

function resultPayload(jobId, status, output, { cause = '' } = {}) {
  return payloadOf(new Writer().u64(jobId).u8(status).u16(1).str(cause)
    .u64(10).u64(20).u64(30).u64(40).bytes(Buffer.from(output)));
}

/*
 * A server whose onConn(peer) gets each connection as { sock, frames,
 * raw }: frames are the decoded requests so far ({ type, id, payload }),
 * raw every byte received. Resolves with { path, close }.
 */
async function fakeServer(t, onConn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'commis-fake-'));
  const sockPath = path.join(dir, 'fake.sock');
  const peers = [];
  const server = net.createServer((sock) => {
    const peer = { sock, frames: [], raw: [] };
    peers.push(peer);
    const dec = new FrameDecoder((h, p) => {
      peer.frames.push({ type: h.type, id: h.id, payload: Buffer.from(p) });
    }, 1 << 30);
    sock.on('data', (c) => {
      peer.raw.push(c);
      dec.push(c);
    });
    sock.on('error', () => {});
    onConn(peer);
  });
  await new Promise((resolve) => server.listen(sockPath, resolve));
  t.after(async () => {
    for (const p of peers) p.sock.destroy();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { path: sockPath, peers };
}

test('SUBMIT goes out as in the worked example; its RESULT comes back',
  async (t) => {
    const srv = await fakeServer(t, (peer) => {
      peer.sock.on('data', () => {
        if (peer.frames.length === 1) {
          peer.sock.write(frame(P.MSG.RESULT, peer.frames[0].id,
            resultPayload(42n, 0, 'hi')));
        }
      });
    });
    const c = await connect(srv.path, { handshake: false });
    t.after(() => c.close());
    const r = await c.submit('echo', 'hi');
    const raw = Buffer.concat(srv.peers[0].raw);
    /* docs/protocol.md's bytes, with request id 1 in place of 8. */
    assert.deepEqual(raw, Buffer.from(
      '434d4953040300002600000000000000' + '0100000000000000' +
      '00000000000000000000000000000000' + '0000000000000000' +
      '040000006563686f' + '020000006869', 'hex'));
    assert.deepEqual(r, { jobId: 42n, status: 'succeeded', statusCode: 0,
      attempts: 1, cause: '', output: Buffer.from('hi'), queueUs: 10,
      runUs: 20, cpuUs: 30, maxrssKb: 40 });
  });

test('replies in reverse order, split and joined across reads', async (t) => {
  const srv = await fakeServer(t, (peer) => {
    peer.sock.on('data', async () => {
      if (peer.frames.length !== 5) return;
      const replies = peer.frames.map((f) => {
        switch (f.type) {
          case P.MSG.PING:
            return frame(P.MSG.PONG, f.id);
          case P.MSG.STATS:
            return frame(P.MSG.STATS_REPLY, f.id,
              payloadOf(new Writer().bytes(Buffer.from('{"pools":[]}'))));
          case P.MSG.SUBMIT:
            return frame(P.MSG.RESULT, f.id, resultPayload(BigInt(f.id), 1,
              Buffer.alloc(5000, f.id), { cause: `cause ${f.id}` }));
          default:
            throw new Error(`unexpected type ${f.type}`);
        }
      }).reverse();
      const all = Buffer.concat(replies);
      /* Two and a half frames at once, then 7 bytes per write. */
      const first = replies[0].length + replies[1].length + 30;
      peer.sock.write(all.subarray(0, first));
      for (let off = first; off < all.length; off += 7) {
        peer.sock.write(all.subarray(off, off + 7));
        if (off % 700 === first % 700) await new Promise(setImmediate);
      }
    });
  });
  const c = await connect(srv.path, { handshake: false });
  t.after(() => c.close());
  const got = await Promise.all([
    c.ping(),
    c.submit('a', 'x'),
    c.stats(),
    c.submit('b', 'y'),
    c.ping(),
  ]);
  assert.equal(typeof got[0], 'number');
  assert.equal(got[1].jobId, 2n);
  assert.equal(got[1].status, 'failed');
  assert.equal(got[1].cause, 'cause 2');
  assert.deepEqual(got[1].output, Buffer.alloc(5000, 2));
  assert.deepEqual(got[2], { pools: [] });
  assert.equal(got[3].jobId, 4n);
  assert.deepEqual(got[3].output, Buffer.alloc(5000, 4));
  assert.equal(c.pending, 0);
});

test('a malformed frame rejects every pending request and closes',
  async (t) => {
    const srv = await fakeServer(t, (peer) => {
      peer.sock.on('data', () => {
        if (peer.frames.length === 3) {
          peer.sock.write(frame(P.MSG.PONG, peer.frames[0].id, undefined,
            { magic: 0x50545448 })); /* "HTTP" */
        }
      });
    });
    const c = await connect(srv.path, { handshake: false });
    const ps = [c.ping(), c.submit('echo', 'a'), c.stats()];
    const errs = await Promise.all(ps.map((p) => p.then(
      () => assert.fail('resolved'), (e) => e)));
    for (const e of errs) {
      assert.ok(e instanceof CommisError);
      assert.equal(e.code, 'ERR_PROTO');
      assert.match(e.message, /bad magic/);
    }
    assert.equal(await c.closed, errs[0]);
    assert.equal(c.error, errs[0]);
    await assert.rejects(c.ping(), (e) => e === errs[0]);
    assert.equal(c.pending, 0);
  });

test('a payload that does not parse is a protocol error', async (t) => {
  const srv = await fakeServer(t, (peer) => {
    peer.sock.on('data', () => {
      if (peer.frames.length === 2) {
        /* ACCEPTED with 9 bytes: one left over. */
        peer.sock.write(frame(P.MSG.ACCEPTED, peer.frames[0].id,
          Buffer.alloc(9)));
      }
    });
  });
  const c = await connect(srv.path, { handshake: false });
  await Promise.all([
    assert.rejects(c.submit('echo', 'a', { noWait: true }),
      { code: 'ERR_PROTO', message: /1 bytes left over/ }),
    assert.rejects(c.ping(), { code: 'ERR_PROTO' }),
  ]);
  assert.equal(c.pending, 0);
});

test('another protocol version: connect() says what commisd said',
  async (t) => {
    const srv = await fakeServer(t, (peer) => {
      peer.sock.on('data', () => {
        if (peer.frames.length !== 1) return;
        peer.sock.end(frame(P.MSG.ERROR, 0, payloadOf(new Writer().u32(2)
          .str('protocol version 4, expected 5')), { version: 5 }));
      });
    });
    await assert.rejects(connect(srv.path), (e) => {
      assert.ok(e instanceof CommisError);
      assert.equal(e.code, 'E_VERSION');
      assert.equal(e.errcode, 2);
      assert.match(e.message, /version 5, this client 4.*expected 5/);
      return true;
    });
  });

test('a connection-level ERROR (id 0) rejects everything with its code',
  async (t) => {
    const srv = await fakeServer(t, (peer) => {
      peer.sock.on('data', () => {
        if (peer.frames.length === 2) {
          peer.sock.write(frame(P.MSG.ERROR, 0, payloadOf(new Writer()
            .u32(P.ERR_CODES.E_SHUTDOWN).str('supervisor is stopping'))));
        }
      });
    });
    const c = await connect(srv.path, { handshake: false });
    await Promise.all([c.submit('sleep', '1000'), c.wait(5n)].map((p) =>
      assert.rejects(p, (e) => e.code === 'E_SHUTDOWN' &&
        e.errcode === 7 && e.rejected &&
        /shutting down: supervisor is stopping/.test(e.message))));
  });

test('a reply to a request that is not outstanding is a protocol error',
  async (t) => {
    const srv = await fakeServer(t, (peer) => {
      peer.sock.on('data', () => {
        if (peer.frames.length === 1) peer.sock.write(frame(P.MSG.PONG, 999));
      });
    });
    const c = await connect(srv.path, { handshake: false });
    await assert.rejects(c.ping(), { code: 'ERR_PROTO',
      message: /request 999, which is not outstanding/ });
  });

test('a reply of the wrong type is a protocol error', async (t) => {
  const srv = await fakeServer(t, (peer) => {
    peer.sock.on('data', () => {
      if (peer.frames.length === 1) {
        peer.sock.write(frame(P.MSG.PONG, peer.frames[0].id));
      }
    });
  });
  const c = await connect(srv.path, { handshake: false });
  await assert.rejects(c.stats(), { code: 'ERR_PROTO',
    message: /reply of type 5 to a stats request/ });
});

test('the server closing the connection rejects pending requests',
  async (t) => {
    const srv = await fakeServer(t, (peer) => {
      peer.sock.on('data', () => {
        if (peer.frames.length === 3) peer.sock.end();
      });
    });
    const c = await connect(srv.path, { handshake: false });
    await Promise.all([c.submit('a'), c.submit('b'), c.ping()].map((p) =>
      assert.rejects(p, { code: 'ERR_IO',
        message: /commisd closed the connection/ })));
    assert.equal((await c.closed).code, 'ERR_IO');
  });

test('an ERROR for one request leaves the others and the connection',
  async (t) => {
    const srv = await fakeServer(t, (peer) => {
      peer.sock.on('data', () => {
        if (peer.frames.length !== 2) return;
        peer.sock.write(frame(P.MSG.ERROR, peer.frames[0].id,
          payloadOf(new Writer().u32(5).str("no pool 'x'"))));
        peer.sock.write(frame(P.MSG.PONG, peer.frames[1].id));
      });
    });
    const c = await connect(srv.path, { handshake: false });
    const a = c.submit('echo', '', { pool: 'x' });
    const b = c.ping();
    await assert.rejects(a, { code: 'E_NO_POOL', errcode: 5,
      message: "no such pool: no pool 'x'" });
    assert.equal(typeof await b, 'number');
    assert.equal(c.error, null);
  });

test('a RESULT whose output is a segment rejects with ERR_SEGMENT',
  async (t) => {
    const srv = await fakeServer(t, (peer) => {
      peer.sock.on('data', () => {
        const f = peer.frames[peer.frames.length - 1];
        if (f.type === P.MSG.SUBMIT) {
          peer.sock.write(frame(P.MSG.RESULT, f.id, resultPayload(7n, 0, ''),
            { flags: P.FLAG_FD }));
        } else if (f.type === P.MSG.PING) {
          peer.sock.write(frame(P.MSG.PONG, f.id));
        }
      });
    });
    const c = await connect(srv.path);
    t.after(() => c.close());
    await assert.rejects(c.submit('echo', 'big'), (e) => {
      assert.equal(e.code, 'ERR_SEGMENT');
      assert.equal(e.result.jobId, 7n);
      assert.equal(e.result.status, 'succeeded');
      assert.equal(e.result.output, null);
      assert.match(e.message, /segment_threshold/);
      return true;
    });
    assert.equal(typeof await c.ping(), 'number');
  });

test('backpressure: a peer that stops reading holds the client back',
  async (t) => {
    const N = 64;
    const data = Buffer.alloc(1 << 20);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i >> 12) & 0xff;
    let verified = 0;
    const srv = await fakeServer(t, (peer) => {
      peer.sock.pause();
      peer.sock.on('data', () => {
        /* Check and drop each frame as it is complete. */
        for (const f of peer.frames) {
          const r = new Reader(f.payload, 'SUBMIT');
          r.i32(); r.u32(); r.u32(); r.u32(); r.u32(); r.bytes(); r.bytes();
          assert.ok(r.bytes().equals(data));
          verified++;
          peer.sock.write(frame(P.MSG.ACCEPTED, f.id,
            payloadOf(new Writer().u64(f.id))));
        }
        peer.frames.length = 0;
        peer.raw.length = 0;
      });
    });
    const c = await connect(srv.path, { handshake: false });
    t.after(() => c.close());
    const sock = c._socket;
    const limit = sock.writableHighWaterMark + data.length + 4096;
    let peak = 0;
    let sawDrainWait = false;
    const sample = () => {
      peak = Math.max(peak, sock.writableLength);
      sawDrainWait = sawDrainWait || c.needDrain;
    };
    const ps = [];
    for (let i = 0; i < N; i++) {
      ps.push(c.submit('echo', data, { noWait: true }));
      sample();
    }
    /* The peer reads nothing yet: the client must be waiting for it. */
    assert.ok(c.needDrain);
    const drained = c.drain();
    const timer = setInterval(sample, 1);
    await pollUntil(() => { sample(); return sock.writableLength > 0; },
      10000, 'bytes in the socket buffer');
    sample();
    srv.peers[0].sock.resume();
    const ids = await Promise.all(ps);
    await drained;
    clearInterval(timer);
    assert.equal(verified, N);
    assert.deepEqual(ids, Array.from({ length: N }, (_, i) => BigInt(i + 1)));
    assert.ok(sawDrainWait);
    assert.ok(peak <= limit, `socket buffered ${peak} bytes, limit ${limit}`);
    assert.equal(c.needDrain, false);
  });

test('bad arguments reject with ERR_INVAL and send nothing', async (t) => {
  const srv = await fakeServer(t, () => {});
  const c = await connect(srv.path, { handshake: false });
  t.after(() => c.close());
  const bad = [
    c.submit('echo', 'x', { timeout: 5 }),
    c.submit('', 'x'),
    c.submit('h'.repeat(64), 'x'),
    c.submit('echo', 'x', { pool: 'p'.repeat(64) }),
    c.submit('echo', 'x', { priority: 2 ** 31 }),
    c.submit('echo', 'x', { timeoutMs: -1 }),
    c.submit('echo', 'x', { idempotencyKey: '' }),
    c.submit('echo', 'x', { idempotencyKey: 'k'.repeat(129) }),
    c.submit('echo', 42),
    c.status(0n),
    c.wait(-1),
    c.cancel('7'),
    c.admin([]),
    c.events(),
  ];
  await Promise.all(bad.map((p) => assert.rejects(p, { code: 'ERR_INVAL' })));
  await new Promise(setImmediate);
  assert.equal(srv.peers[0].raw.length, 0);
  assert.equal(c.pending, 0);
});

test('close() rejects pending requests with ERR_CLOSED', async (t) => {
  const srv = await fakeServer(t, () => {});
  const c = await connect(srv.path, { handshake: false });
  const p = assert.rejects(c.submit('sleep', '100000'),
    { code: 'ERR_CLOSED' });
  await c.close();
  await p;
  await assert.rejects(c.ping(), { code: 'ERR_CLOSED' });
});

test('connect() to nothing rejects with ERR_CONNECT', async () => {
  await assert.rejects(connect('/nonexistent/commis.sock'),
    { code: 'ERR_CONNECT', message: /ENOENT/ });
  const saved = process.env.COMMIS_SOCKET;
  delete process.env.COMMIS_SOCKET;
  try {
    await assert.rejects(connect(), { code: 'ERR_INVAL' });
  } finally {
    if (saved !== undefined) process.env.COMMIS_SOCKET = saved;
  }
});
