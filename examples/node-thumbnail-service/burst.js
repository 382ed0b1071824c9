'use strict';
/*
 * The problem commis exists to solve, shown working: while the service
 * here (server.js) turns a burst of large images into thumbnails, its
 * /health keeps answering at once, because no image is resized on its
 * event loop.
 *
 * Starts a private commisd with the thumbnail module, the service on a
 * Unix socket, then posts IMAGES copies of a generated WIDTHxHEIGHT image
 * at once while GET /health is polled back to back; prints the health
 * latencies during the burst and the thumbnails' own run times (what
 * /health would have waited for, each, had they run on the event loop).
 *
 *   COMMIS_BUILD=$PWD/build node examples/node-thumbnail-service/burst.js
 *       [IMAGES] [WIDTH] [HEIGHT]
 */

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { startCommisd } = require('../../clients/node/test-support/commisd');
const { createService } = require('./server');

const BUILD = path.resolve(process.env.COMMIS_BUILD ||
  path.join(__dirname, '..', '..', 'build'));
const MODULE = path.join(BUILD, 'commis-thumbnail.so');

/* A binary PPM of w x h with a gradient: libvips reads it as is. */
function ppm(w, h) {
  const head = Buffer.from(`P6\n${w} ${h}\n255\n`);
  const px = Buffer.allocUnsafe(w * h * 3);
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      px[i++] = (x * 255 / w) | 0;
      px[i++] = (y * 255 / h) | 0;
      px[i++] = ((x + y) & 0xff);
    }
  }
  return Buffer.concat([head, px]);
}

function request(sock, method, url, body) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ socketPath: sock, method, path: url,
      agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode,
        type: res.headers['content-type'], body: Buffer.concat(chunks),
        ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function pct(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1,
    Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

async function run({ images = 16, width = 3000, height = 2000 } = {}) {
  const d = await startCommisd({
    /* Results inline up to 16M: node:net cannot take a segment's fd. */
    extra: 'max_payload: 64M\nsegment_threshold: 16M',
    pools: `  - name: thumbs\n    workers: 2\n    timeout_ms: 120000\n` +
      `    modules: [${MODULE}]`,
  });
  const sock = path.join(d.dir, 'http.sock');
  let server;
  try {
    server = await createService({ socket: d.sock });
    await new Promise((resolve) => server.listen(sock, resolve));
    const img = ppm(width, height);
    const health = [];
    let burstDone = false;
    const poller = (async () => {
      while (!burstDone) {
        const r = await request(sock, 'GET', '/health');
        health.push({ status: r.status, ms: r.ms });
      }
    })();
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: images }, () =>
      request(sock, 'POST', '/thumbnail?width=320&format=webp', img)));
    const wall = Date.now() - t0;
    burstDone = true;
    await poller;
    const lat = health.map((h) => h.ms).sort((a, b) => a - b);
    return {
      images, width, height, imageBytes: img.length, wall,
      thumbnails: results,
      health,
      healthP50: pct(lat, 0.5), healthP99: pct(lat, 0.99),
      healthMax: lat[lat.length - 1],
    };
  } finally {
    if (server) await new Promise((resolve) => server.close(resolve));
    await d.stop();
  }
}

module.exports = { run, ppm, MODULE };

if (require.main === module) {
  if (!fs.existsSync(MODULE)) {
    console.error(`${MODULE} not built: install libvips-dev ` +
      '(scripts/deps.sh thumbnail) and run make');
    process.exit(2);
  }
  const [images, width, height] = process.argv.slice(2).map(Number);
  run({ images: images || 16, width: width || 3000, height: height || 2000 })
    .then((r) => {
      const ok = r.thumbnails.filter((t) => t.status === 200 &&
        t.body.slice(8, 12).toString() === 'WEBP').length;
      console.log(`${r.images} images of ${r.width}x${r.height} ` +
        `(${(r.imageBytes / 1048576).toFixed(1)} MiB each): ${ok} ` +
        `thumbnails in ${r.wall} ms (${(r.images * 1000 / r.wall).toFixed(1)}` +
        '/s)');
      console.log(`/health during the burst: ${r.health.length} requests, ` +
        `all 200: ${r.health.every((h) => h.status === 200)}; ` +
        `p50 ${r.healthP50.toFixed(2)} ms, p99 ${r.healthP99.toFixed(2)} ` +
        `ms, max ${r.healthMax.toFixed(2)} ms`);
      process.exit(ok === r.images ? 0 : 1);
    })
    .catch((e) => {
      console.error(e.stack || e.message);
      process.exit(1);
    });
}
