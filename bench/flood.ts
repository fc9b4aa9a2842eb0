/**
 * Flood benchmark (issue 14 point 4): what one key opening `--streams` concurrent streams (default 500) does to
 * other tenants' management routes. The runtime runs in a process of its own as `npm start` runs it (as in
 * bench:proxy); the demo world's simulators stream slowly (`--ttft` ms to the first token, 20 tokens a second), so
 * the admitted streams (400 tokens each: 20 s) stay open through the measurement.
 *
 *   npm run bench:flood -- [--streams 500] [--probes 200] [--ttft 2000]
 *
 * Phases: `--probes` sequential pairs of `GET /v1/me` and `GET /v1/facilities` by the demo lender's key, another
 * tenant (the baseline); then the flood starts (all its streams at once, from the demo startup's key, default `max_in_flight`
 * 64) and the same probes run while it is open. Printed: the probes' p50/p99 before and during, and the flood's
 * outcome (admitted, refused 429 `concurrency_limit_key`, other). The LAST line is one JSON object.
 * The stated bound (docs/api.md, Failure and abuse) is read off these figures; no test times it.
 */
import http from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { boundedInt } from './lib/flags.js';
import { startRuntime } from '../local/runtime.js';
import { seedDemoWorld, type DemoWorld } from '../local/demo.js';
import { startDynamoDbLocal } from '../local/dynamodb.js';
import { percentile, table } from './lib/stats.js';
import { MODEL, startRuntimeChild } from './lib/client.js';

const RUN_BOUND_MS = 10 * 60_000;

function get(agent: http.Agent, url: string, key: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { authorization: `Bearer ${key}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('probe timed out')));
  });
}

/** Opens one stream and resolves with its status once the reply's headers arrive; the body drains until `stop`. */
function openStream(url: string, key: string, stop: AbortSignal): Promise<number> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'flood' }], max_tokens: 400, stream: true });
    const req = http.request(`${url}/v1/chat/completions`, { method: 'POST', agent: false, signal: stop, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      res.on('error', () => {});
    });
    req.on('error', () => resolve(-1));
    req.end(body);
  });
}

async function probes(agent: http.Agent, base: string, n: number, keys: { lender: string }): Promise<{ p50: number; p99: number; errors: number }> {
  const ms = new Float64Array(n * 2);
  let errors = 0;
  for (let i = 0; i < n; i++) {
    const a = await get(agent, `${base}/v1/me`, keys.lender);
    const b = await get(agent, `${base}/v1/facilities`, keys.lender);
    ms[2 * i] = a.ms;
    ms[2 * i + 1] = b.ms;
    if (a.status !== 200 || b.status !== 200) errors++;
  }
  ms.sort();
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), errors };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { streams: { type: 'string' }, probes: { type: 'string' }, ttft: { type: 'string' } } });
  const f = {
    streams: boundedInt('--streams', values.streams, { def: 500, min: 10, max: 2_000 }),
    probes: boundedInt('--probes', values.probes, { def: 200, min: 10, max: 5_000 }),
    ttft: boundedInt('--ttft', values.ttft, { def: 2_000, min: 0, max: 20_000 }),
  };
  const bound = setTimeout(() => {
    console.error(`bench:flood did not finish in ${RUN_BOUND_MS / 60_000} minutes`);
    process.exit(1);
  }, RUN_BOUND_MS);
  bound.unref();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const ddb = await startDynamoDbLocal({ inMemory: true });
  let child: { url: string; proc: ChildProcess } | undefined;
  let world: DemoWorld | undefined;
  const stop = new AbortController();
  try {
    const seeder = await startRuntime({ port: 0, dynamodbEndpoint: ddb.endpoint, scheduler: false, seed: async (r) => { world = await seedDemoWorld(r, { simulator: { verifyToken: null, ttftMs: f.ttft, tokensPerSecond: 20 } }); } });
    await seeder.stop();
    child = await startRuntimeChild(ddb.endpoint, seeder.tableName, seeder.adminKey);
    const base = child.url;
    if (!world!.lenderKey) throw new Error('the demo world has no lender key (a fresh table gives one)');
    const keys = { lender: world!.lenderKey };
    console.log(`bench:flood  ${f.streams} streams at once from one key (max_in_flight 64), ${f.probes} × 2 probes before and during; simulator ttft ${f.ttft} ms, 20 tokens/s`);
    await probes(agent, base, 20, keys); // warm-up
    const before = await probes(agent, base, f.probes, keys);
    const opened = Array.from({ length: f.streams }, () => openStream(base, world!.startupKey, stop.signal));
    const statuses = await Promise.all(opened);
    const during = await probes(agent, base, f.probes, keys);
    const admitted = statuses.filter((s) => s === 200).length;
    const refused = statuses.filter((s) => s === 429).length;
    console.log(table(['phase', 'probes', 'p50 ms', 'p99 ms', 'errors'], [
      ['before the flood', String(f.probes * 2), before.p50.toFixed(1), before.p99.toFixed(1), String(before.errors)],
      ['during the flood', String(f.probes * 2), during.p50.toFixed(1), during.p99.toFixed(1), String(during.errors)],
    ], new Set([1, 2, 3, 4])));
    console.log(`flood: ${admitted} admitted, ${refused} refused 429, ${f.streams - admitted - refused} other`);
    console.log(JSON.stringify({
      streams: f.streams, admitted, refused_429: refused, other: f.streams - admitted - refused,
      probe_p50_ms_before: round(before.p50), probe_p99_ms_before: round(before.p99), probe_p50_ms_during: round(during.p50), probe_p99_ms_during: round(during.p99),
      probe_p99_added_ms: round(during.p99 - before.p99), probe_errors: before.errors + during.errors,
    }));
  } finally {
    stop.abort();
    child?.proc.kill('SIGTERM');
    await world?.stop();
    await ddb.stop();
    agent.destroy();
    clearTimeout(bound);
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
