'use strict';
/*
 * Starts a private commisd for a test, like tests/testlib.c does for the C
 * suites: a config in a fresh mkdtemp directory, the socket beside it,
 * `$COMMIS_BUILD/commisd -c CONFIG` (COMMIS_BUILD defaults to ../../build
 * from this package), then polls until the socket accepts, with a
 * deadline and no fixed sleeps. stop() sends SIGTERM and waits (SIGKILL
 * after a deadline); kill() is SIGKILL, for "the server went away".
 * Lives outside test/ so that `node --test` does not run it as a test.
 */

const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');

const BUILD = path.resolve(process.env.COMMIS_BUILD ||
  path.join(__dirname, '..', '..', '..', 'build'));
const COMMISD = path.join(BUILD, 'commisd');

/* Every daemon this process started, killed if the test process exits
 * without stopping them (a failed assertion, an uncaught error). */
const live = new Set();
process.on('exit', () => {
  for (const d of live) {
    try {
      d.proc.kill('SIGKILL');
    } catch (e) {
      /* already gone */
    }
  }
});

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function tryConnect(sock) {
  return new Promise((resolve) => {
    const s = net.createConnection({ path: sock });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/* A config with one pool "main" of 2 process workers unless `pools` is
 * given (YAML text of the pools list); `extra` is more top-level YAML. */
function config(sock, { pools, extra } = {}) {
  return [
    `socket: ${sock}`,
    `log_level: ${process.env.COMMIS_TEST_DEBUG ? 'debug' : 'error'}`,
    'shutdown_timeout_ms: 2000',
    extra || '',
    'pools:',
    pools || '  - name: main\n    workers: 2\n    timeout_ms: 60000',
    '',
  ].join('\n');
}

/*
 * Starts commisd and resolves once its socket accepts connections (within
 * timeoutMs). Rejects with commisd's stderr if it exits first.
 */
async function startCommisd(opts = {}) {
  if (!fs.existsSync(COMMISD)) {
    throw new Error(`${COMMISD} not found: build commis first (make) or ` +
      'set COMMIS_BUILD to the build directory');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'commis-node-'));
  const sock = path.join(dir, 'commis.sock');
  const conf = path.join(dir, 'commis.yaml');
  fs.writeFileSync(conf, config(sock, opts));
  const proc = spawn(COMMISD, ['-c', conf], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (s) => {
    if (stderr.length < 65536) stderr += s;
    if (process.env.COMMIS_TEST_DEBUG) process.stderr.write(s);
  });
  let exited = null;
  const exit = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
    proc.once('error', (e) => {
      exited = { error: e };
      resolve(exited);
    });
  });
  const d = { dir, sock, conf, proc, exit, stderr: () => stderr };
  live.add(d);

  d.stop = async (signal = 'SIGTERM', deadlineMs = 30000) => {
    if (exited === null) {
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), deadlineMs);
      await exit;
      clearTimeout(t);
    }
    live.delete(d);
    fs.rmSync(dir, { recursive: true, force: true });
    return exited;
  };
  d.kill = () => d.stop('SIGKILL');

  const deadline = Date.now() + (opts.startMs || 20000);
  for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
    if (exited !== null) {
      await d.stop();
      throw new Error(`commisd exited during start-up ` +
        `(${JSON.stringify(exited)}): ${stderr}`);
    }
    if (await tryConnect(sock)) return d;
    if (Date.now() > deadline) {
      await d.stop('SIGKILL');
      throw new Error(`commisd did not listen on ${sock} in time: ${stderr}`);
    }
    await sleep(wait);
  }
}

/* Polls fn() until it returns a truthy value or the deadline passes. */
async function pollUntil(fn, timeoutMs = 20000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await sleep(wait);
  }
}

module.exports = { startCommisd, pollUntil, BUILD, COMMISD };
