// A no-op round trip to a Node.js worker_threads worker, the figure
// docs/isolation.md sets beside commis bench's dispatch latency: the main
// thread posts 1 byte, the worker posts it back. Also the time from
// new Worker() to its first reply (a worker start), and the growth of the
// process's resident set per idle worker, 8 workers started.
// Usage: node bench/worker_threads_rtt.js [round trips, default 20000]
'use strict';
const { Worker } = require('node:worker_threads');

const n = Number(process.argv[2] || 20000);
const warm = Math.max(1, Math.floor(n / 10));
const src = "require('node:worker_threads').parentPort" +
    ".on('message', (m) => require('node:worker_threads').parentPort" +
    ".postMessage(m));";

function pct(v, q) {
	const s = Float64Array.from(v).sort();
	return s[Math.min(s.length, Math.max(1, Math.ceil(q * s.length))) - 1];
}

function roundTrip(w) {
	return new Promise((resolve) => {
		const t0 = process.hrtime.bigint();
		w.once('message', () =>
		    resolve(Number(process.hrtime.bigint() - t0) / 1e3));
		w.postMessage('x');
	});
}

async function main() {
	const starts = [];
	for (let i = 0; i < 10; i++) {
		const t0 = process.hrtime.bigint();
		const w = new Worker(src, { eval: true });
		await roundTrip(w);
		starts.push(Number(process.hrtime.bigint() - t0) / 1e6);
		await w.terminate();
	}
	const w = new Worker(src, { eval: true });
	const v = [];
	for (let i = 0; i < warm + n; i++) {
		const us = await roundTrip(w);
		if (i >= warm)
			v.push(us);
	}
	await w.terminate();
	const rss0 = process.memoryUsage().rss, idle = [];
	for (let i = 0; i < 8; i++) {
		idle.push(new Worker(src, { eval: true }));
		await roundTrip(idle[i]);
	}
	const rss = (process.memoryUsage().rss - rss0) / 8 / 1024;
	await Promise.all(idle.map((x) => x.terminate()));
	console.log(`node ${process.version}: worker_threads round trip, ` +
	    `1 B, ${n} samples: p50 ${pct(v, 0.5).toFixed(1)} us, ` +
	    `p99 ${pct(v, 0.99).toFixed(1)} us; worker start to first ` +
	    `reply, 10 starts: p50 ${pct(starts, 0.5).toFixed(1)} ms; RSS per ` +
	    `idle worker: ${rss.toFixed(0)} KiB`);
}

main();
