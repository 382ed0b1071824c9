'use strict';
/*
 * A small HTTP service that makes thumbnails without ever resizing an
 * image on its own event loop: each POST /thumbnail is handed to commisd
 * (the `thumbnail` handler, modules/thumbnail) over one pipelined
 * connection, so GET /health answers at once however many large images
 * are being processed.
 *
 *   POST /thumbnail?width=200&height=200&fit=cover&format=webp&quality=80
 *        body: the image (JPEG, PNG, WebP, GIF, PPM...)
 *        200: the thumbnail; 4xx/5xx: {"error": ...}
 *   GET  /health   200 {"ok":true}
 *
 * Usage: COMMIS_SOCKET=/run/commis/commis.sock node server.js [PORT]
 * (PORT may also be a Unix socket path). The commisd pool must load the
 * thumbnail module and allow payloads as large as the images
 * (max_payload); see README.md here.
 */

const http = require('node:http');
const { connect } = require('../../clients/node');

const OPTIONS = ['width', 'height', 'fit', 'format', 'quality'];
const TYPES = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };
const MAX_BODY = 64 * 1024 * 1024;

async function createService({ socket, pool } = {}) {
  const commis = await connect(socket);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
      return;
    }
    if (req.method !== 'POST' || url.pathname !== '/thumbnail') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
      return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end('{"error":"image too large"}');
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', async () => {
      if (res.writableEnded) return;
      const opts = OPTIONS.filter((k) => url.searchParams.has(k))
        .map((k) => `${k}=${url.searchParams.get(k)}`).join(' ');
      const payload = Buffer.concat([Buffer.from(`${opts}\n`),
        ...chunks]);
      try {
        const r = await commis.submit('thumbnail', payload,
          pool ? { pool } : undefined);
        if (r.status !== 'succeeded') {
          res.writeHead(422, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: r.cause, status: r.status }));
          return;
        }
        const format = url.searchParams.get('format') || 'jpeg';
        res.writeHead(200, { 'content-type': TYPES[format] ||
          'application/octet-stream' });
        res.end(r.output);
      } catch (e) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: e.message, code: e.code }));
      }
    });
  });
  server.on('close', () => commis.close());
  return server;
}

module.exports = { createService };

if (require.main === module) {
  const where = process.argv[2] || 8080;
  createService().then((server) => {
    server.listen(where, () => console.log(`listening on ${where}`));
  }).catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
