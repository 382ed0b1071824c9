'use strict';
/* The frame codec alone: header and fields against the worked example of
 * docs/protocol.md, the decoder against every split of a stream, and the
 * checks that make a frame or payload malformed. */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const P = require('../lib/proto');
const { Writer, Reader, FrameDecoder, FrameError } = require('../lib/frame');

function hex(s) {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/* A header-and-payload frame built by hand. */
function frame(type, id, payload = Buffer.alloc(0), { flags = 0,
  version = P.PROTO_VERSION, magic = P.PROTO_MAGIC, reserved = 0 } = {}) {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(magic, 0);
  h.writeUInt8(version, 4);
  h.writeUInt8(type, 5);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(payload.length, 8);
  h.writeUInt32LE(reserved, 12);
  h.writeBigUInt64LE(BigInt(id), 16);
  return Buffer.concat([h, payload]);
}

/* The payload a Writer built (without its header). */
function payloadOf(w) {
  return Buffer.concat(w.finish(0, 0)).subarray(24);
}

function decodeAll(chunks, maxLen = 1 << 20) {
  const out = [];
  const d = new FrameDecoder((h, p, owned) => {
    out.push({ type: h.type, id: h.id, flags: h.flags, payload: Buffer.from(p),
      owned });
  }, maxLen);
  for (const c of chunks) d.push(c);
  return { out, d };
}

test('PING with id 7 is the worked example', () => {
  const b = Buffer.concat(new Writer().finish(P.MSG.PING, 7));
  assert.deepEqual(b, hex('43 4d 49 53 04 02 00 00 00 00 00 00 00 00 00 00' +
    '07 00 00 00 00 00 00 00'));
});

test('SUBMIT of echo "hi" with id 8 is the worked example', () => {
  const b = Buffer.concat(new Writer().i32(0).u32(0).u32(0).u32(0).u32(0)
    .str('').str('echo').bytes(Buffer.from('hi')).finish(P.MSG.SUBMIT, 8));
  assert.deepEqual(b, hex(`
    43 4d 49 53 04 03 00 00  26 00 00 00 00 00 00 00
    08 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00
    04 00 00 00 65 63 68 6f  02 00 00 00 68 69`));
});

test('ADMIN scale batch 4 with id 9 is the worked example', () => {
  const b = Buffer.concat(new Writer().u32(3).str('scale').str('batch')
    .str('4').finish(P.MSG.ADMIN, 9));
  assert.deepEqual(b, hex(`
    43 4d 49 53 04 0d 00 00 1b 00 00 00 00 00 00 00
    09 00 00 00 00 00 00 00 03 00 00 00
    05 00 00 00 73 63 61 6c 65 05 00 00 00 62 61 74 63 68
    01 00 00 00 34`));
});

test('a large bytes field is referenced, not copied', () => {
  const data = Buffer.alloc(100000, 7);
  const chunks = new Writer().u32(1).bytes(data).u32(2).finish(P.MSG.SUBMIT, 1);
  assert.equal(chunks.length, 3);
  assert.equal(chunks[1], data);
  const b = Buffer.concat(chunks);
  assert.equal(b.readUInt32LE(8), 4 + 4 + 100000 + 4);
  assert.equal(b.length, 24 + 4 + 4 + 100000 + 4);
  assert.equal(b.readUInt32LE(b.length - 4), 2);
});

test('request ids above 2^32 are written little-endian in full', () => {
  const id = 2 ** 40 + 5;
  const b = Buffer.concat(new Writer().finish(P.MSG.PING, id));
  assert.equal(b.readBigUInt64LE(16), BigInt(id));
  const { out } = decodeAll([frame(P.MSG.PONG, id)]);
  assert.equal(out[0].id, id);
});

test('decoder: every split of a stream gives the same frames', () => {
  const frames = [
    frame(P.MSG.PONG, 1),
    frame(P.MSG.OK, 2, payloadOf(new Writer().bytes(Buffer.from('scaled')))),
    frame(P.MSG.ACCEPTED, 3, Buffer.alloc(8, 1)),
    frame(P.MSG.STATS_REPLY, 4, Buffer.alloc(3000, 0x41)),
    frame(P.MSG.PONG, 5),
  ];
  const stream = Buffer.concat(frames);
  const want = decodeAll([stream]).out.map((f) => [f.type, f.id, f.payload]);
  assert.equal(want.length, 5);
  /* One byte per read. */
  const bytes = [];
  for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
  assert.deepEqual(decodeAll(bytes).out.map((f) => [f.type, f.id, f.payload]),
    want);
  /* Every two-way and a sample of three-way splits. */
  for (let i = 0; i <= stream.length; i++) {
    const got = decodeAll([stream.subarray(0, i), stream.subarray(i)]).out;
    assert.deepEqual(got.map((f) => [f.type, f.id, f.payload]), want, `split ${i}`);
    const j = Math.min(stream.length, i + 17);
    const got3 = decodeAll([stream.subarray(0, i), stream.subarray(i, j),
      stream.subarray(j)]).out;
    assert.deepEqual(got3.map((f) => [f.type, f.id, f.payload]), want);
  }
});

test('decoder: a whole frame in a read is a view, a split one is owned', () => {
  const f = frame(P.MSG.STATS_REPLY, 1, Buffer.alloc(100, 1));
  assert.equal(decodeAll([f]).out[0].owned, false);
  const { out, d } = decodeAll([f.subarray(0, 50), f.subarray(50)]);
  assert.equal(out[0].owned, true);
  assert.equal(d.buffered, 0);
});

test('decoder: holds no more than the frame in progress', () => {
  const f = frame(P.MSG.STATS_REPLY, 1, Buffer.alloc(1000, 1));
  const { out, d } = decodeAll([f.subarray(0, 10)]);
  assert.equal(out.length, 0);
  assert.equal(d.buffered, 10);
  d.push(f.subarray(10, 500));
  assert.equal(d.buffered, 500);
});

test('decoder: bad magic, flags, reserved and oversize are errors', () => {
  const bad = [
    [frame(P.MSG.PONG, 1, undefined, { magic: 0x12345678 }), /bad magic/],
    [frame(P.MSG.PONG, 1, undefined, { flags: 0x8000 }), /unknown frame flags/],
    [frame(P.MSG.PONG, 1, undefined, { reserved: 1 }), /reserved/],
    [frame(P.MSG.PONG, 1, undefined, { version: 3 }), /version 3, expected 4/],
  ];
  for (const [f, re] of bad) {
    assert.throws(() => decodeAll([f]), (e) => e instanceof FrameError &&
      re.test(e.message));
  }
  /* A declared length of 0xffffffff fails on the header alone. */
  const h = frame(P.MSG.STATS_REPLY, 1).subarray(0, 24);
  h.writeUInt32LE(0xffffffff, 8);
  assert.throws(() => decodeAll([h], 4096), /above the limit of 4096/);
  /* After an error the decoder takes nothing more. */
  const seen = [];
  const d = new FrameDecoder((hd) => seen.push(hd.id), 4096);
  assert.throws(() => d.push(Buffer.concat([frame(P.MSG.PONG, 1),
    frame(P.MSG.PONG, 2, undefined, { magic: 0 }), frame(P.MSG.PONG, 3)])));
  d.push(frame(P.MSG.PONG, 4));
  assert.deepEqual(seen, [1]);
});

test('decoder: an ERROR of another version is handed on', () => {
  const payload = payloadOf(new Writer().u32(2)
    .str('protocol version 9, expected 4'));
  const { out } = decodeAll([frame(P.MSG.ERROR, 0, payload, { version: 9 })]);
  assert.equal(out.length, 1);
  assert.equal(out[0].type, P.MSG.ERROR);
});

test('reader: fields, leftovers, overruns, NUL and long strings', () => {
  const p = payloadOf(new Writer().u8(1).u16(2).u32(3).i32(-4)
    .u64(2n ** 63n + 1n).str('pool').bytes(Buffer.from([0, 1])));
  const r = new Reader(p, 'TEST');
  assert.equal(r.u8(), 1);
  assert.equal(r.u16(), 2);
  assert.equal(r.u32(), 3);
  assert.equal(r.i32(), -4);
  assert.equal(r.u64(), 2n ** 63n + 1n);
  assert.equal(r.str(64, 'name'), 'pool');
  assert.deepEqual([...r.bytes()], [0, 1]);
  r.end();

  const left = new Reader(Buffer.alloc(5), 'TEST');
  left.u32();
  assert.throws(() => left.end(), /1 bytes left over/);
  assert.throws(() => new Reader(Buffer.alloc(3), 'TEST').u32(),
    /runs past the end/);
  const nul = payloadOf(new Writer().bytes(Buffer.from('a\0b')));
  assert.throws(() => new Reader(nul, 'TEST').str(64, 'pool'), /NUL in pool/);
  const long = payloadOf(new Writer().str('x'.repeat(64)));
  assert.throws(() => new Reader(long, 'TEST').str(64, 'pool'),
    /64 bytes \(at most 63\)/);
  const huge = Buffer.alloc(4);
  huge.writeUInt32LE(0xffffffff, 0);
  assert.throws(() => new Reader(huge, 'TEST').bytes(), /runs past the end/);
});
