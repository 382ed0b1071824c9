'use strict';
/*
 * The service's /health keeps answering while a burst of images is
 * turned into thumbnails by commis (skipped when the thumbnail module
 * was not built, i.e. libvips is not installed). Asserts what must hold
 * on any machine: every health check and every thumbnail succeeded, and
 * health checks were answered while the burst was in flight. The
 * latencies are printed, not asserted (they are a benchmark's business).
 */
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const { run, MODULE } = require('../burst');

test('health answers during a thumbnail burst',
  { skip: !fs.existsSync(MODULE) && `${MODULE} not built (no libvips)` },
  async () => {
    const r = await run({ images: 8, width: 2000, height: 1500 });
    assert.strictEqual(r.thumbnails.length, 8);
    for (const t of r.thumbnails) {
      assert.strictEqual(t.status, 200, t.body.toString());
      assert.strictEqual(t.body.slice(0, 4).toString(), 'RIFF');
      assert.strictEqual(t.body.slice(8, 12).toString(), 'WEBP');
    }
    assert.ok(r.health.length >= 1, 'no health check went through');
    assert.ok(r.health.every((h) => h.status === 200));
    console.log(`health during the burst: ${r.health.length} checks, ` +
      `p50 ${r.healthP50.toFixed(2)} ms, max ${r.healthMax.toFixed(2)} ms`);
  });
