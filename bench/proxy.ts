/**
 * Proxy overhead benchmark (issue 3, point 7): the same simulated provider called three ways, side by side —
 *   direct   client → simulator
 *   compux   client → the local runtime (auth, rate window, catalog, hold, route, meter, settle) → simulator
 *   portkey  client → Portkey's open-source gateway (@portkey-ai/gateway, custom host) → simulator
 * with the simulator's time to first token at 0 ms and at 60 ms, in interleaved rounds after a warm-up
 * (each round runs every path once, in a rotated order, so drift on the machine hits all three alike).
 *
 *   npm run bench:proxy -- [--rounds 3] [--c1 60] [--c10 300] [--streams 30] [--warmup 60]
 *
 * Printed per upstream latency: added latency p50/p99 over direct (non-streamed) at concurrency 1 and 10,
 * requests per second at concurrency 10, added time to first token and added mean gap between streamed
 * frames (streams at concurrency 1), and DynamoDB calls per CompuX request by operation — counted by a
 * small HTTP proxy in front of DynamoDB Local, so every call the handlers make is seen. CompuX's calls are
 * made within the invocation: all but one sit before the reply ends (settlement included); the SLA
 * sample's UpdateItem follows the reply.
 *
 * The engines are local (DynamoDB Local runs one transaction at a time, on this machine's cores), so the
 * CompuX figures are an upper bound of what AWS would show; the comparison is meant to be relative.
 */
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { createRequire } from 'node:module';
import { startRuntime, type Runtime } from '../local/runtime.js';
import { seedDemoWorld, type DemoWorld } from '../local/demo.js';
import { startDynamoDbLocal } from '../local/dynamodb.js';
import { freePort } from '../local/aws.js';
import { percentile, table } from './lib/stats.js';

const LIMITS = {
  rounds: { def: 3, min: 1, max: 20 },
  c1: { def: 60, min: 5, max: 5_000 },
  c10: { def: 300, min: 10, max: 50_000 },
  streams: { def: 30, min: 3, max: 2_000 },
  warmup: { def: 60, min: 0, max: 5_000 },
} as const;
type Flag = keyof typeof LIMITS;
/** The whole run is cut after this: a stuck path cannot hang the bench. */
const RUN_BOUND_MS = 20 * 60_000;
const REQUEST_TIMEOUT_MS = 30_000;
const MODEL = 'llama-3.1-70b-instruct';
const PORTKEY_READY_MS = 30_000;

function flags(): Record<Flag, number> {
  const { values } = parseArgs({ options: Object.fromEntries(Object.keys(LIMITS).map((k) => [k, { type: 'string' }])) as Record<Flag, { type: 'string' }>, strict: true });
  const out = {} as Record<Flag, number>;
  for (const [k, lim] of Object.entries(LIMITS) as [Flag, (typeof LIMITS)[Flag]][]) {
    const raw = values[k];
    const n = raw === undefined ? lim.def : Number(raw);
    if (!Number.isInteger(n) || n < lim.min || n > lim.max) throw new Error(`--${k} must be an integer in [${lim.min}, ${lim.max}]`);
    out[k] = n;
  }
  return out;
}

// ---------- a counting proxy in front of DynamoDB Local ----------

function startCountingProxy(target: string): Promise<{ url: string; counts: Map<string, number>; ms: Map<string, number>; close: () => Promise<void> }> {
  const t = new URL(target);
  const counts = new Map<string, number>();
  const ms = new Map<string, number>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const server = http.createServer((req, res) => {
    const op = String(req.headers['x-amz-target'] ?? 'other').split('.').pop()!;
    counts.set(op, (counts.get(op) ?? 0) + 1);
    const start = performance.now();
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
      r.on('end', () => ms.set(op, (ms.get(op) ?? 0) + performance.now() - start));
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        counts,
        ms,
        close: () => new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
          agent.destroy();
        }),
      });
    }),
  );
}

// ---------- Portkey ----------

async function startPortkey(nodeBin: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const require = createRequire(import.meta.url);
  const entry = path.join(path.dirname(require.resolve('@portkey-ai/gateway/package.json')), 'build', 'start-server.js');
  const proc = spawn(nodeBin, [entry, `--port=${port}`, '--headless'], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.resume();
  proc.stderr?.resume();
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + PORTKEY_READY_MS;
  while (Date.now() < until) {
    try {
      await fetch(`${url}/`);
      return { url, proc };
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  proc.kill('SIGKILL');
  throw new Error('Portkey gateway did not start');
}

// ---------- the client: node:http with keep-alive, the same for every path ----------

interface Target {
  name: 'direct' | 'compux' | 'portkey';
  url: string;
  headers: Record<string, string>;
}

const clientAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

interface Timing {
  status: number;
  totalMs: number;
  ttftMs: number | null;
  frameTimes: number[];
}

function request(t: Target, body: string, stream: boolean): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const u = new URL(`${t.url}/chat/completions`);
    const start = performance.now();
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: clientAgent, headers: { ...t.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const frameTimes: number[] = [];
        let ttft: number | null = null;
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (!stream) return;
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (frame.includes('"content":"') && !frame.includes('"content":""')) {
              const now = performance.now() - start;
              ttft ??= now;
              frameTimes.push(now);
            }
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, totalMs: performance.now() - start, ttftMs: ttft, frameTimes }));
        res.on('error', reject);
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

async function runMany(t: Target, n: number, concurrency: number, stream: boolean): Promise<{ timings: Timing[]; seconds: number; failures: number }> {
  const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say something short about GPUs.' }], max_tokens: 16, ...(stream ? { stream: true } : {}) });
  const timings: Timing[] = [];
  let failures = 0;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        try {
          const r = await request(t, body, stream);
          if (r.status === 200) timings.push(r);
          else failures++;
        } catch {
          failures++;
        }
      }
    }),
  );
  return { timings, seconds: (performance.now() - start) / 1000, failures };
}

// ---------- the run ----------

interface Samples {
  c1: number[];
  c10: number[];
  c10Seconds: number;
  c10Count: number;
  ttft: number[];
  gaps: number[];
  failures: number;
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');

async function main(): Promise<void> {
  const f = flags();
  const bound = setTimeout(() => {
    console.error(`bench:proxy overran ${RUN_BOUND_MS / 60_000} min; exiting`);
    process.exit(1);
  }, RUN_BOUND_MS);
  bound.unref();

  const ddb = await startDynamoDbLocal({ inMemory: true });
  const counter = await startCountingProxy(ddb.endpoint);
  let rt: Runtime | undefined;
  let world: DemoWorld | undefined;
  let portkey: { url: string; proc: ChildProcess } | undefined;
  try {
    // The simulators check no relay token here: direct and Portkey calls carry none, and a provider's own
    // token check is not CompuX's overhead (CompuX still mints one per request).
    rt = await startRuntime({ port: 0, dynamodbEndpoint: counter.url, scheduler: false, seed: async (r) => (world = await seedDemoWorld(r, { simulator: { verifyToken: null } })) });
    // Every request goes to the top-ranked provider for the model (Cirrus, H200); direct and Portkey call that same simulator.
    const sim = world!.simulators.get('prv_demoCirrus01')!;
    portkey = await startPortkey(process.execPath);
    const targets: Target[] = [
      { name: 'direct', url: `${sim.url}/v1`, headers: { authorization: 'Bearer sim' } },
      { name: 'compux', url: `${rt.baseUrl}/v1`, headers: { authorization: `Bearer ${world!.startupKey}` } },
      { name: 'portkey', url: `${portkey.url}/v1`, headers: { authorization: 'Bearer sim', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${sim.url}/v1` } },
    ];
    console.log(`bench:proxy  rounds ${f.rounds} × (c1 ${f.c1}, c10 ${f.c10}, streams ${f.streams}) per path, warm-up ${f.warmup}; model ${MODEL}, max_tokens 16, simulator 200 tokens/s when streaming`);

    for (const ttftMs of [0, 60]) {
      sim.setOptions({ ttftMs, tokensPerSecond: Infinity, completionTokens: 16 });
      for (const t of targets) await runMany(t, f.warmup, 4, false);
      const samples = new Map<Target['name'], Samples>(targets.map((t) => [t.name, { c1: [], c10: [], c10Seconds: 0, c10Count: 0, ttft: [], gaps: [], failures: 0 }]));
      let compuxRequests = 0;
      const before = new Map(counter.counts);
      const msBefore = new Map(counter.ms);
      for (let round = 0; round < f.rounds; round++) {
        const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
        for (const t of order) {
          const s = samples.get(t.name)!;
          sim.setOptions({ tokensPerSecond: Infinity });
          const c1 = await runMany(t, f.c1, 1, false);
          const c10 = await runMany(t, f.c10, 10, false);
          sim.setOptions({ tokensPerSecond: 200 });
          const st = await runMany(t, f.streams, 1, true);
          s.c1.push(...c1.timings.map((x) => x.totalMs));
          s.c10.push(...c10.timings.map((x) => x.totalMs));
          s.c10Seconds += c10.seconds;
          s.c10Count += c10.timings.length;
          s.ttft.push(...st.timings.flatMap((x) => (x.ttftMs === null ? [] : [x.ttftMs])));
          for (const x of st.timings) for (let i = 1; i < x.frameTimes.length; i++) s.gaps.push(x.frameTimes[i]! - x.frameTimes[i - 1]!);
          s.failures += c1.failures + c10.failures + st.failures;
          if (t.name === 'compux') compuxRequests += f.c1 + f.c10 + f.streams;
        }
      }
      const d = samples.get('direct')!;
      const p = (xs: number[], q: number) => percentile(Float64Array.from(xs), q);
      const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
      const rows = targets.map((t) => {
        const s = samples.get(t.name)!;
        const add = (a: number, b: number) => (t.name === 'direct' ? fmt(a) : `+${fmt(a - b)}`);
        return [
          t.name,
          add(p(s.c1, 50), p(d.c1, 50)), add(p(s.c1, 99), p(d.c1, 99)),
          add(p(s.c10, 50), p(d.c10, 50)), add(p(s.c10, 99), p(d.c10, 99)),
          fmt(s.c10Count / s.c10Seconds),
          add(p(s.ttft, 50), p(d.ttft, 50)), add(mean(s.gaps), mean(d.gaps)),
          String(s.failures),
        ];
      });
      console.log(`\nupstream time to first token ${ttftMs} ms (direct: absolute ms; others: added over direct)`);
      if (samples.get('portkey')!.ttft.length === 0) console.log('  (Portkey streams fail here: its Node build answers 500 "TypeError: immutable" on streamed replies, Portkey-AI/gateway#1389/#1550; its streamed figures are left out)');
      console.log(table(['path', 'c1 p50', 'c1 p99', 'c10 p50', 'c10 p99', 'req/s c10', 'ttft p50', 'frame gap', 'failed'], rows, new Set([1, 2, 3, 4, 5, 6, 7, 8])));
      const calls = [...counter.counts].map(([op, n]) => [op, n - (before.get(op) ?? 0)] as const).filter(([, n]) => n > 0);
      const total = calls.reduce((s, [, n]) => s + n, 0);
      console.log(`DynamoDB calls per CompuX request (UpdateItem = the SLA sample, after the reply): ${fmt(total / compuxRequests)} = ${calls.map(([op, n]) => `${op} ${(n / compuxRequests).toFixed(2)}`).join(', ')}`);
      console.log(`  mean DynamoDB Local time per call: ${calls.map(([op, n]) => `${op} ${fmt(((counter.ms.get(op) ?? 0) - (msBefore.get(op) ?? 0)) / n)} ms`).join(', ')}`);
    }
  } finally {
    portkey?.proc.kill('SIGTERM');
    await rt?.stop();
    await counter.close();
    await ddb.stop();
    clientAgent.destroy();
    clearTimeout(bound);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
