/**
 * Proxy overhead benchmark (issue 3 point 7, issue 13 point 7): the same simulated provider called three
 * ways, side by side —
 *   direct   client → simulator
 *   compux   client → the local runtime, in a process of its own as `npm start` runs it (bench/lib/runtime-child.ts;
 *            auth, rate window, catalog, lease or hold, route, meter, settle) → simulator
 *   portkey  client → Portkey's open-source gateway (@portkey-ai/gateway, custom host; its own process) → simulator
 * The client and the simulated provider share this process for every path.
 * with the simulator's time to first token at 0 ms and at 60 ms, in interleaved rounds after a warm-up
 * (each round runs every path once, in a rotated order, so drift on the machine hits all three alike).
 *
 *   npm run bench:proxy -- [--quick] [--rounds 3] [--c1 60] [--c10 300] [--streams 30] [--streams50 150]
 *                          [--attrib 40] [--warmup 60]
 *
 * --quick: the 0 ms upstream block only, 1 round of fewer requests and a longer warm-up (its single round has
 * no later rounds to dilute a cold DynamoDB Local); about a minute here. Explicit flags still override it.
 *
 * Printed per upstream latency (a block): added latency p50/p99 over direct (non-streamed) at concurrency 1 and 10,
 * requests per second at concurrency 10, added time to first token p50 (streams at concurrency 1) and p90
 * (50 streams in flight), added mean gap between streamed frames, and whether every stream arrived whole
 * and in order (bench/lib/client.ts checks the frames; the content must equal the simulator's text).
 *
 * DynamoDB: a counting HTTP proxy sits in front of DynamoDB Local (bench/lib/ddb-counter.ts), so every call
 * the handlers make is seen, and every item a write writes is tallied per (pk, sk). Calls per CompuX request
 * are split into "before the reply" and "after" by timing, in a phase of --attrib sequential CompuX requests
 * with a quiet gap after each (50 ms without a DynamoDB call, counted from the reply's end at the earliest), every
 * DynamoDB call of that phase held 40 ms plus twice the provider's time at the proxy (a call that arrived
 * after a request's start and was answered before its reply's last byte reached the client is before: the reply
 * waited for it; any other, such as the after-reply flush or a cache's background reload, is after). The most-written shared item
 * (not `LEASE#…`, the holder-owned credit leases, and written more than once) divided by the CompuX requests
 * of the block is `max_shared_item_writes_per_request`.
 *
 * The LAST line printed is one JSON object with the headline figures of the 0 ms upstream block.
 *
 * The engines are local (DynamoDB Local runs one transaction at a time, on this machine's cores), so the
 * CompuX figures are an upper bound of what AWS would show; the comparison is meant to be relative.
 */
import http from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { boundedInt } from './lib/flags.js';
import { startRuntime } from '../local/runtime.js';
import { seedDemoWorld, type DemoWorld } from '../local/demo.js';
import { startDynamoDbLocal } from '../local/dynamodb.js';
import type { Simulator } from '../packages/simulator/src/index.js';
import { percentile, table } from './lib/stats.js';
import { MAX_TOKENS, MODEL, chatBody, request, runMany, startPortkey, startRuntimeChild, type ManyRun, type Target, type Timing } from './lib/client.js';
import { splitByReply, startCountingProxy, waitQuiet, type DdbCounter, type ReplyWindow } from './lib/ddb-counter.js';
import { cpuPerRequest, processCpuMs, selfCpuMs } from './lib/cpu.js';

const LIMITS = {
  rounds: { def: 3, quick: 1, min: 1, max: 20 },
  c1: { def: 60, quick: 40, min: 5, max: 5_000 },
  c10: { def: 300, quick: 150, min: 10, max: 50_000 },
  streams: { def: 30, quick: 20, min: 3, max: 2_000 },
  streams50: { def: 150, quick: 100, min: 50, max: 5_000 },
  attrib: { def: 40, quick: 30, min: 5, max: 2_000 },
  warmup: { def: 60, quick: 150, min: 0, max: 5_000 },
} as const;
type Flag = keyof typeof LIMITS;
/** The whole run is cut after this: a stuck path cannot hang the bench. */
const RUN_BOUND_MS = 20 * 60_000;
const STREAM_TPS = 200;
/** Attribution phase: after each reply, wait until DynamoDB has been idle this long (at most QUIET_BOUND_MS). */
const QUIET_MS = 50;
const QUIET_BOUND_MS = 2_000;
/** Attribution phase: each DynamoDB call is held this long (plus twice the provider's time) at the counting proxy (see splitByReply). */
const ATTRIB_DELAY_MS = 40;

function flags(): Record<Flag, number> & { quick: boolean } {
  const options = Object.fromEntries(Object.keys(LIMITS).map((k) => [k, { type: 'string' }])) as Record<Flag, { type: 'string' }>;
  const { values } = parseArgs({ options: { ...options, quick: { type: 'boolean' } }, strict: true });
  const quick = values.quick === true;
  const out = { quick } as Record<Flag, number> & { quick: boolean };
  for (const [k, lim] of Object.entries(LIMITS) as [Flag, (typeof LIMITS)[Flag]][]) out[k] = boundedInt(k, values[k], lim, quick ? lim.quick : lim.def);
  return out;
}

// ---------- one block: every path at one upstream latency ----------

interface Samples {
  c1: number[];
  c10: number[];
  c10Seconds: number;
  c10Count: number;
  ttft: number[];
  ttft50: number[];
  gaps: number[];
  failures: number;
  streamsChecked: number;
  streamsBad: number;
  streamProblems: Map<string, number>;
  /** CPU ms spent per c10 request, summed over rounds (divide by rounds), by process. */
  cpuC10: { gateway: number[]; dynamodb: number[]; bench: number[] };
}

interface BlockFigures {
  compuxAddedP50C1: number | null;
  portkeyAddedP50C1: number | null;
  compuxRps: number | null;
  portkeyRps: number | null;
  ddbBefore: number | null;
  ddbAll: number | null;
  ttftAddedP50C1: number | null;
  ttftAddedP90At50: number | null;
  maxSharedPerRequest: number | null;
  notes: string[];
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
/** An added figure: +1.2, −0.3 (rounds to zero as +0.0), – when there is none. */
const signed = (n: number) => (!Number.isFinite(n) ? '–' : n.toFixed(1) === '-0.0' || n >= 0 ? `+${Math.abs(n).toFixed(1)}` : n.toFixed(1));
const p = (xs: number[], q: number) => percentile(Float64Array.from(xs), q);
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
const finite = (n: number): number | null => (Number.isFinite(n) ? Math.round(n * 100) / 100 : null);
const perReq = (m: Map<string, number>, n: number) => [...m].map(([op, c]) => `${op} ${(c / n).toFixed(2)}`).join(', ') || 'none';
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** The simulator's reply to chatBody(), taken directly: what every stream's content must equal. */
interface Reference {
  content: string;
  tokens: number;
}

function checkStreams(s: Samples, run: ManyRun, ref: Reference): void {
  for (const x of run.timings) {
    const c = x.stream;
    if (!c) continue;
    s.streamsChecked++;
    const problems = [...c.problems];
    if (c.content !== ref.content) problems.push('content differs from the simulator text');
    if (c.contentFrames !== ref.tokens) problems.push(`${c.contentFrames} content frames, expected ${ref.tokens}`);
    if (problems.length) s.streamsBad++;
    for (const pr of problems) s.streamProblems.set(pr, (s.streamProblems.get(pr) ?? 0) + 1);
  }
}

/** The processes whose CPU a path's requests use: its gateway (null for direct), DynamoDB Local and this one. */
interface Pids {
  gateway: Partial<Record<Target['name'], number>>;
  dynamodb: number | null;
}

async function runBlock(ttftMs: number, f: ReturnType<typeof flags>, targets: Target[], sim: Simulator, counter: DdbCounter, agent: http.Agent, pids: Pids): Promise<BlockFigures> {
  const notes: string[] = [];
  sim.setOptions({ ttftMs, tokensPerSecond: Infinity, completionTokens: MAX_TOKENS });
  for (const t of targets) await runMany(agent, t, f.warmup, 4, false);
  const direct = targets.find((t) => t.name === 'direct')!;
  const refReply = await request(agent, direct, chatBody(false), false);
  if (refReply.status !== 200 || refReply.content === null || refReply.completionTokens === null) throw new Error(`direct reference request failed (${refReply.status})`);
  const ref: Reference = { content: refReply.content, tokens: refReply.completionTokens };

  const samples = new Map<Target['name'], Samples>(
    targets.map((t) => [t.name, { c1: [], c10: [], c10Seconds: 0, c10Count: 0, ttft: [], ttft50: [], gaps: [], failures: 0, streamsChecked: 0, streamsBad: 0, streamProblems: new Map(), cpuC10: { gateway: [], dynamodb: [], bench: [] } }]),
  );
  let compuxRequests = 0;
  const before = new Map(counter.counts);
  const msBefore = new Map(counter.ms);
  await waitQuiet(counter, QUIET_MS, QUIET_BOUND_MS); // the warm-up's last SLA samples are not the block's
  counter.writes.reset();
  counter.writes.enabled = true;
  for (let round = 0; round < f.rounds; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    for (const t of order) {
      const s = samples.get(t.name)!;
      sim.setOptions({ tokensPerSecond: Infinity });
      const c1 = await runMany(agent, t, f.c1, 1, false);
      const gatewayPid = pids.gateway[t.name];
      const cpu = cpuPerRequest({
        gateway: () => (gatewayPid === undefined ? 0 : processCpuMs(gatewayPid)),
        dynamodb: () => (pids.dynamodb === null ? null : processCpuMs(pids.dynamodb)),
        bench: selfCpuMs,
      });
      const c10 = await runMany(agent, t, f.c10, 10, false);
      const used = cpu(c10.timings.length);
      for (const k of ['gateway', 'dynamodb', 'bench'] as const) {
        const v = used[k];
        if (v !== null && v !== undefined) s.cpuC10[k].push(v);
      }
      sim.setOptions({ tokensPerSecond: STREAM_TPS });
      const st = await runMany(agent, t, f.streams, 1, true);
      const st50 = await runMany(agent, t, f.streams50, 50, true);
      s.c1.push(...c1.timings.map((x) => x.totalMs));
      s.c10.push(...c10.timings.map((x) => x.totalMs));
      s.c10Seconds += c10.seconds;
      s.c10Count += c10.timings.length;
      s.ttft.push(...st.timings.flatMap((x) => (x.ttftMs === null ? [] : [x.ttftMs])));
      s.ttft50.push(...st50.timings.flatMap((x) => (x.ttftMs === null ? [] : [x.ttftMs])));
      for (const x of st.timings) for (let i = 1; i < x.frameTimes.length; i++) s.gaps.push(x.frameTimes[i]! - x.frameTimes[i - 1]!);
      checkStreams(s, st, ref);
      checkStreams(s, st50, ref);
      s.failures += c1.failures + c10.failures + st.failures + st50.failures;
      if (t.name === 'compux') for (const r of [c1, c10, st, st50]) compuxRequests += r.timings.length + r.failures;
    }
  }

  // Attribution: sequential CompuX requests, DynamoDB quiet between them, so each call falls in one request's window.
  sim.setOptions({ tokensPerSecond: Infinity });
  const compux = targets.find((t) => t.name === 'compux')!;
  const windows: ReplyWindow[] = [];
  let attribFailures = 0;
  const firstCall = counter.calls.length;
  await waitQuiet(counter, QUIET_MS, QUIET_BOUND_MS);
  // Every call of this phase is held at the proxy for longer than a request takes (ATTRIB_DELAY_MS plus twice the
  // provider's time): what the reply waits for delays it, and is answered before it ends; what runs beside or after
  // the reply (the flush, a cache's background reload) is answered after it.
  counter.setDelayMs(ATTRIB_DELAY_MS + 2 * ttftMs);
  for (let i = 0; i < f.attrib; i++) {
    let r: Timing | null = null;
    try {
      r = await request(agent, compux, chatBody(false), false);
    } catch {
      r = null;
    }
    if (r) windows.push({ startMs: r.startMs, endMs: r.endMs });
    if (!r || r.status !== 200) attribFailures++;
    if (!(await waitQuiet(counter, QUIET_MS, QUIET_BOUND_MS, r?.endMs ?? 0))) notes.push('DynamoDB was not quiet within 2 s after an attribution request');
  }
  counter.setDelayMs(0);
  const attribEnd = performance.now();
  compuxRequests += f.attrib;
  counter.writes.enabled = false;
  if (counter.callsTruncated()) notes.push('the DynamoDB call log hit its bound: the before/after split is partial');
  const split = splitByReply(counter.calls.slice(firstCall), windows, attribEnd);
  if (attribFailures) notes.push(`${attribFailures} of ${f.attrib} attribution requests failed`);

  // ---------- report ----------
  const d = samples.get('direct')!;
  const rows = targets.map((t) => {
    const s = samples.get(t.name)!;
    const add = (a: number, b: number) => (t.name === 'direct' ? fmt(a) : signed(a - b));
    return [
      t.name,
      add(p(s.c1, 50), p(d.c1, 50)), add(p(s.c1, 99), p(d.c1, 99)),
      add(p(s.c10, 50), p(d.c10, 50)), add(p(s.c10, 99), p(d.c10, 99)),
      fmt(s.c10Count / s.c10Seconds),
      add(p(s.ttft, 50), p(d.ttft, 50)), add(p(s.ttft50, 90), p(d.ttft50, 90)), add(mean(s.gaps), mean(d.gaps)),
      `${s.streamsChecked - s.streamsBad}/${s.streamsChecked}`,
      String(s.failures),
    ];
  });
  console.log(`\nupstream time to first token ${ttftMs} ms (direct: absolute ms; others: added over direct)`);
  if (samples.get('portkey')!.ttft.length === 0) console.log('  (Portkey streams fail here: its Node build answers 500 "TypeError: immutable" on streamed replies, Portkey-AI/gateway#1389/#1550; its streamed figures are left out)');
  console.log(table(['path', 'c1 p50', 'c1 p99', 'c10 p50', 'c10 p99', 'req/s c10', 'ttft p50', 'ttft p90 @50', 'frame gap', 'streams whole', 'failed'], rows, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])));
  const cpuCell = (xs: number[]) => (xs.length ? mean(xs).toFixed(2) : '–');
  console.log('CPU per request at c10, ms, by process (every process shares this machine\'s cores, so throughput follows the sum):');
  for (const t of targets) {
    const c = samples.get(t.name)!.cpuC10;
    const total = c.gateway.length && c.dynamodb.length && c.bench.length ? (mean(c.gateway) + mean(c.dynamodb) + mean(c.bench)).toFixed(2) : '–';
    console.log(`  ${t.name.padEnd(8)} gateway ${cpuCell(c.gateway)}  DynamoDB Local ${cpuCell(c.dynamodb)}  bench process (client, simulator, counting proxy) ${cpuCell(c.bench)}  = ${total}`);
  }
  console.log(`streams: each checked frame by frame (JSON frames, role → content → finish per choice, one [DONE] last) and its content against the simulator's text (${ref.tokens} content frames)`);
  for (const t of targets) {
    const s = samples.get(t.name)!;
    if (s.streamProblems.size) console.log(`  ${t.name}: ${s.streamsBad} of ${s.streamsChecked} streams broken: ${[...s.streamProblems].map(([pr, n]) => `${pr} ×${n}`).join('; ')}`);
  }

  const calls = [...counter.counts].map(([op, n]) => [op, n - (before.get(op) ?? 0)] as const).filter(([, n]) => n > 0);
  const total = calls.reduce((a, [, n]) => a + n, 0);
  const nb = sum(split.before);
  const na = sum(split.after);
  const attribOk = f.attrib - attribFailures;
  console.log(`DynamoDB calls per CompuX request, by timing over ${f.attrib} sequential requests: before the reply ${(nb / f.attrib).toFixed(2)} (${perReq(split.before, f.attrib)}); after it ${(na / f.attrib).toFixed(2)} (${perReq(split.after, f.attrib)}); all ${((nb + na) / f.attrib).toFixed(2)}`);
  console.log(`DynamoDB calls per CompuX request over the block (${compuxRequests} requests, every phase): ${fmt(total / compuxRequests)} = ${calls.map(([op, n]) => `${op} ${(n / compuxRequests).toFixed(2)}`).join(', ')}`);
  console.log(`  mean DynamoDB Local time per call: ${calls.map(([op, n]) => `${op} ${fmt(((counter.ms.get(op) ?? 0) - (msBefore.get(op) ?? 0)) / n)} ms`).join(', ')}`);
  const w = counter.writes.summary(5);
  console.log(`item writes over the block: ${w.writes} to ${w.items} items${w.truncated ? ' (tally bound hit: lower bounds)' : ''}; the 5 most written (owned = LEASE#… or written once):`);
  for (const x of w.top) console.log(`  ${String(x.writes).padStart(7)}  ${(x.writes / compuxRequests).toFixed(3).padStart(7)}/req  ${x.owned ? 'owned ' : 'shared'}  ${x.item}`);
  const maxShared = w.maxShared / compuxRequests;
  console.log(`max shared item writes per request: ${w.maxShared} / ${compuxRequests} = ${maxShared.toFixed(3)}${w.maxSharedItem ? ` (${w.maxSharedItem})` : ''}`);
  for (const n of notes) console.log(`  note: ${n}`);

  const cx = samples.get('compux')!;
  const pk = samples.get('portkey')!;
  return {
    compuxAddedP50C1: finite(p(cx.c1, 50) - p(d.c1, 50)),
    portkeyAddedP50C1: finite(p(pk.c1, 50) - p(d.c1, 50)),
    compuxRps: cx.c10Count ? finite(cx.c10Count / cx.c10Seconds) : null,
    portkeyRps: pk.c10Count ? finite(pk.c10Count / pk.c10Seconds) : null,
    ddbBefore: attribOk > 0 ? finite(nb / f.attrib) : null,
    ddbAll: attribOk > 0 ? finite((nb + na) / f.attrib) : null,
    ttftAddedP50C1: finite(p(cx.ttft, 50) - p(d.ttft, 50)),
    ttftAddedP90At50: finite(p(cx.ttft50, 90) - p(d.ttft50, 90)),
    maxSharedPerRequest: cx.c1.length ? Math.round(maxShared * 1000) / 1000 : null,
    notes,
  };
}

// ---------- the run ----------

async function main(): Promise<void> {
  const f = flags();
  const t0 = performance.now();
  const bound = setTimeout(() => {
    console.error(`bench:proxy overran ${RUN_BOUND_MS / 60_000} min; exiting`);
    process.exit(1);
  }, RUN_BOUND_MS);
  bound.unref();

  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const ddb = await startDynamoDbLocal({ inMemory: true });
  const counter = await startCountingProxy(ddb.endpoint);
  let child: { url: string; proc: ChildProcess } | undefined;
  let world: DemoWorld | undefined;
  let portkey: { url: string; proc: ChildProcess } | undefined;
  const blocks: BlockFigures[] = [];
  try {
    // The simulators check no relay token here: direct and Portkey calls carry none, and a provider's own
    // token check is not CompuX's overhead (CompuX still mints one per request).
    // Seeded by a runtime in this process (the simulators stay here, beside the client, for every path), then
    // served by one in a process of its own on the same table, as Portkey's gateway runs in its own.
    const seeder = await startRuntime({ port: 0, dynamodbEndpoint: counter.url, scheduler: false, seed: async (r) => { world = await seedDemoWorld(r, { simulator: { verifyToken: null } }); } });
    await seeder.stop();
    child = await startRuntimeChild(counter.url, seeder.tableName, seeder.adminKey);
    const rt = { baseUrl: child.url };
    // Every request goes to the top-ranked provider for the model (Cirrus, H200); direct and Portkey call that same simulator.
    const sim = world!.simulators.get('prv_demoCirrus01')!;
    portkey = await startPortkey(process.execPath);
    const targets: Target[] = [
      { name: 'direct', url: `${sim.url}/v1`, headers: { authorization: 'Bearer sim' } },
      { name: 'compux', url: `${rt.baseUrl}/v1`, headers: { authorization: `Bearer ${world!.startupKey}` } },
      { name: 'portkey', url: `${portkey.url}/v1`, headers: { authorization: 'Bearer sim', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${sim.url}/v1` } },
    ];
    console.log(
      `bench:proxy${f.quick ? ' --quick' : ''}  rounds ${f.rounds} × (c1 ${f.c1}, c10 ${f.c10}, streams ${f.streams} at c1 and ${f.streams50} at c50) per path, ` +
        `then ${f.attrib} sequential CompuX requests for the DynamoDB split; warm-up ${f.warmup}; model ${MODEL}, max_tokens ${MAX_TOKENS}, simulator ${STREAM_TPS} tokens/s when streaming`,
    );
    for (const ttftMs of f.quick ? [0] : [0, 60]) blocks.push(await runBlock(ttftMs, f, targets, sim, counter, agent, { gateway: { compux: child.proc.pid!, portkey: portkey.proc.pid! }, dynamodb: ddb.process.pid ?? null }));
  } finally {
    portkey?.proc.kill('SIGTERM');
    child?.proc.kill('SIGTERM');
    await world?.stop();
    await counter.close();
    await ddb.stop();
    agent.destroy();
    clearTimeout(bound);
  }

  const b = blocks[0]!;
  const line = {
    compux_added_p50_ms_c1: b.compuxAddedP50C1,
    portkey_added_p50_ms_c1: b.portkeyAddedP50C1,
    compux_rps_c10: b.compuxRps,
    portkey_rps_c10: b.portkeyRps,
    dynamodb_calls_before_reply_per_request: b.ddbBefore,
    dynamodb_calls_per_request: b.ddbAll,
    ttft_added_p50_ms_c1: b.ttftAddedP50C1,
    ttft_added_p90_ms_50_streams: b.ttftAddedP90At50,
    max_shared_item_writes_per_request: b.maxSharedPerRequest,
  };
  const nulls = Object.entries(line).filter(([, v]) => v === null).map(([k]) => k);
  console.log(`\nwall time ${((performance.now() - t0) / 1000).toFixed(1)} s; the JSON below is the 0 ms upstream block`);
  if (nulls.length) console.log(`NULL (a path failed in the 0 ms block): ${nulls.join(', ')}`);
  console.log(JSON.stringify(line));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
