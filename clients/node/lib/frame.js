'use strict';
/*
 * The frame codec: the 24-byte header, typed payload fields, and an
 * incremental decoder that copes with any split of the stream into reads.
 * It knows the layout of frames and fields (docs/protocol.md), not what a
 * message means or which requests are outstanding: that is client.js.
 */

const P = require('./proto');

/* A malformed frame or payload from the peer: the connection is unusable. */
class FrameError extends Error {
  constructor(message) {
    super(message);
    this.name = 'FrameError';
  }
}

const EMPTY = Buffer.alloc(0);

/* Data up to this size is copied into the frame's own buffer (one write);
 * larger data is written from the caller's buffer without a copy. */
const COPY_MAX = 16 * 1024;

/*
 * Builds one frame. The header is filled in by finish(), once the length
 * is known; small fields go into one growing buffer, and a large `bytes`
 * field is kept as a reference to the caller's buffer, so the frame is a
 * short list of chunks written back to back.
 */
class Writer {
  constructor() {
    this.chunks = [];
    this.buf = Buffer.allocUnsafe(256);
    this.off = P.HDR_LEN; /* room for the header */
    this.len = 0; /* payload bytes so far */
  }

  _room(n) {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2,
      this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  u8(v) {
    this._room(1);
    this.buf.writeUInt8(v, this.off);
    this.off += 1;
    this.len += 1;
    return this;
  }

  u16(v) {
    this._room(2);
    this.buf.writeUInt16LE(v, this.off);
    this.off += 2;
    this.len += 2;
    return this;
  }

  u32(v) {
    this._room(4);
    this.buf.writeUInt32LE(v, this.off);
    this.off += 4;
    this.len += 4;
    return this;
  }

  i32(v) {
    this._room(4);
    this.buf.writeInt32LE(v, this.off);
    this.off += 4;
    this.len += 4;
    return this;
  }

  u64(v) {
    this._room(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.off);
    this.off += 8;
    this.len += 8;
    return this;
  }

  /* data: a Buffer. */
  bytes(data) {
    this.u32(data.length);
    if (data.length <= COPY_MAX) {
      this._room(data.length);
      data.copy(this.buf, this.off);
      this.off += data.length;
    } else {
      /* The small fields so far, then the caller's buffer as it is. */
      this.chunks.push(this.buf.subarray(0, this.off));
      this.chunks.push(data);
      this.buf = this.buf.subarray(this.off);
      this.off = 0;
    }
    this.len += data.length;
    return this;
  }

  str(s) {
    return this.bytes(Buffer.from(s, 'utf8'));
  }

  /* The frame as chunks to write in order; the first holds the header. */
  finish(type, id, flags = 0) {
    if (this.off > 0) this.chunks.push(this.buf.subarray(0, this.off));
    const h = this.chunks[0];
    h.writeUInt32LE(P.PROTO_MAGIC, 0);
    h.writeUInt8(P.PROTO_VERSION, 4);
    h.writeUInt8(type, 5);
    h.writeUInt16LE(flags, 6);
    h.writeUInt32LE(this.len, 8);
    h.writeUInt32LE(0, 12);
    writeId(h, 16, id);
    return this.chunks;
  }
}

/* Request ids are Numbers below 2^53 (client.js counts them from 1). */
function writeId(buf, off, id) {
  buf.writeUInt32LE(id % 0x100000000, off);
  buf.writeUInt32LE(Math.floor(id / 0x100000000), off + 4);
}

/*
 * Reads typed fields from one payload. Any field that runs past the end,
 * a str with a NUL or over its limit, or bytes left over at end() make
 * the payload malformed: a FrameError is thrown.
 */
class Reader {
  constructor(buf, what) {
    this.buf = buf;
    this.off = 0;
    this.what = what;
  }

  _need(n) {
    if (this.buf.length - this.off < n) {
      throw new FrameError(`malformed ${this.what}: a field runs past ` +
        `the end of the ${this.buf.length}-byte payload`);
    }
  }

  u8() {
    this._need(1);
    return this.buf.readUInt8(this.off++);
  }

  u16() {
    this._need(2);
    const v = this.buf.readUInt16LE(this.off);
    this.off += 2;
    return v;
  }

  u32() {
    this._need(4);
    const v = this.buf.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }

  i32() {
    this._need(4);
    const v = this.buf.readInt32LE(this.off);
    this.off += 4;
    return v;
  }

  /* A u64 as a BigInt (job ids). */
  u64() {
    this._need(8);
    const v = this.buf.readBigUInt64LE(this.off);
    this.off += 8;
    return v;
  }

  /* A u64 as a Number: times and sizes, exact below 2^53 (285 years of
   * microseconds, 8 EiB of kilobytes). */
  u64n() {
    this._need(8);
    const lo = this.buf.readUInt32LE(this.off);
    const hi = this.buf.readUInt32LE(this.off + 4);
    this.off += 8;
    return hi * 0x100000000 + lo;
  }

  /* A view into the payload (no copy). */
  bytes() {
    const n = this.u32();
    this._need(n);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }

  /* Text shorter than max bytes with no NUL, as the C receivers hold it
   * in a buffer of max bytes with a terminating NUL. */
  str(max, field) {
    const v = this.bytes();
    if (v.length >= max) {
      throw new FrameError(`malformed ${this.what}: ${field} of ` +
        `${v.length} bytes (at most ${max - 1})`);
    }
    if (v.includes(0)) {
      throw new FrameError(`malformed ${this.what}: NUL in ${field}`);
    }
    return v.toString('utf8');
  }

  end() {
    if (this.off !== this.buf.length) {
      throw new FrameError(`malformed ${this.what}: ` +
        `${this.buf.length - this.off} bytes left over`);
    }
  }
}

/*
 * Parses and checks a header at buf[off..off+24): magic first, then the
 * version (a mismatched ERROR is still handed on, so that the client can
 * say what commisd said), then flags, reserved and length, the length
 * before any of the payload is buffered.
 */
function parseHeader(buf, off, maxLen) {
  const magic = buf.readUInt32LE(off);
  if (magic !== P.PROTO_MAGIC) {
    throw new FrameError(`bad magic 0x${magic.toString(16)}: ` +
      'the peer does not speak the commis protocol');
  }
  const h = {
    version: buf.readUInt8(off + 4),
    type: buf.readUInt8(off + 5),
    flags: buf.readUInt16LE(off + 6),
    length: buf.readUInt32LE(off + 8),
    reserved: buf.readUInt32LE(off + 12),
    id: buf.readUInt32LE(off + 20) * 0x100000000 + buf.readUInt32LE(off + 16),
  };
  if (h.version !== P.PROTO_VERSION) {
    /* Only an ERROR of a sane size is worth reading in another
     * version: it carries commisd's reason (COMMIS_E_VERSION). */
    if (h.type !== P.MSG.ERROR || h.length > 8 + P.TEXT_MAX) {
      throw new FrameError(`protocol version ${h.version}, expected ` +
        `${P.PROTO_VERSION}`);
    }
    return h;
  }
  if (h.flags & ~P.FLAGS_KNOWN) {
    throw new FrameError(`unknown frame flags 0x${h.flags.toString(16)}`);
  }
  if (h.reserved !== 0) {
    throw new FrameError('non-zero reserved header field');
  }
  if (h.length > maxLen) {
    throw new FrameError(`frame of ${h.length} bytes is above the ` +
      `limit of ${maxLen}`);
  }
  return h;
}

/*
 * Incremental decoder. push() takes each chunk as it is read and calls
 * onFrame(header, payload, owned) for every complete frame, in order.
 * It holds at most one header and one payload: a frame that arrives whole
 * in a chunk is handed on as a view of it (owned = false: copy what you
 * keep), and a split one is assembled in a buffer of exactly its length,
 * allocated once its header has been checked (owned = true).
 * A FrameError thrown by push() (bad header) or by onFrame leaves the
 * decoder stopped: the stream cannot be resynchronised.
 */
class FrameDecoder {
  constructor(onFrame, maxLen) {
    this.onFrame = onFrame;
    this.maxLen = maxLen;
    this.hbuf = Buffer.allocUnsafe(P.HDR_LEN);
    this.hfill = 0;
    this.hdr = null; /* header of the payload being assembled */
    this.payload = null;
    this.pfill = 0;
    this.stopped = false;
  }

  /* Bytes of the incomplete frame received so far. */
  get buffered() {
    return this.payload !== null ? P.HDR_LEN + this.pfill : this.hfill;
  }

  stop() {
    this.stopped = true;
    this.payload = null;
  }

  push(chunk) {
    try {
      this._push(chunk);
    } catch (e) {
      this.stop();
      throw e;
    }
  }

  _push(chunk) {
    let off = 0;
    while (off < chunk.length && !this.stopped) {
      if (this.payload !== null) {
        const n = Math.min(this.hdr.length - this.pfill, chunk.length - off);
        chunk.copy(this.payload, this.pfill, off, off + n);
        this.pfill += n;
        off += n;
        if (this.pfill === this.hdr.length) {
          const h = this.hdr;
          const p = this.payload;
          this.hdr = null;
          this.payload = null;
          this.onFrame(h, p, true);
        }
        continue;
      }
      let h;
      if (this.hfill === 0 && chunk.length - off >= P.HDR_LEN) {
        h = parseHeader(chunk, off, this.maxLen);
        off += P.HDR_LEN;
      } else {
        const n = Math.min(P.HDR_LEN - this.hfill, chunk.length - off);
        chunk.copy(this.hbuf, this.hfill, off, off + n);
        this.hfill += n;
        off += n;
        if (this.hfill < P.HDR_LEN) return;
        this.hfill = 0;
        h = parseHeader(this.hbuf, 0, this.maxLen);
      }
      if (h.length === 0) {
        this.onFrame(h, EMPTY, true);
      } else if (chunk.length - off >= h.length) {
        const p = chunk.subarray(off, off + h.length);
        off += h.length;
        this.onFrame(h, p, false);
      } else {
        this.hdr = h;
        this.payload = Buffer.allocUnsafe(h.length);
        this.pfill = 0;
      }
    }
  }
}

module.exports = { FrameError, Writer, Reader, FrameDecoder, parseHeader };
