/**
 * Settlement benchmark: settle a month of N usage records through the real route and the real state machine
 * (infra/asl/provider-settlement.asl.json run by the local interpreter with the same handlers), against an
 * in-memory DynamoDB Local started by the local runtime, once per size.
 *
 *   npm run bench:settlement -- [--sizes 100000,1000000] [--providers 8] [--startups 200] [--settle-seconds 3600]
 *
 * Seeding (timed apart, not part of the figures): providers and startups; N billed request records written in
 * batches of 25 with their index attributes, exactly as the request path writes them; and, per provider and
 * accrual shard, one posting of the records' totals (sales −spend, accrual +85 %, margin +rest) so the ledger
 * holds what N request postings would have left (bench:ledger measures the request path itself).
 *
 * Reported per size: seconds from POST /v1/admin/settlements/{period} to the execution's end, records per
 * second, peak RSS and heap of this process above the level before settling (the task handlers run in it),
 * and the peak RSS of the DynamoDB Local JVM. Exit code 1 if the month does not settle or its totals differ
 * from what was seeded, or a run overruns --settle-seconds.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { boundedInt } from './lib/flags.js';
import { spawn } from 'node:child_process';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { startRuntime, type Runtime } from '../local/runtime.js';
import { localClientConfig } from '../local/aws.js';
import { DynamoCreditStore, DynamoProviders, documentClient } from '../packages/core/src/adapters/dynamodb/index.js';
import { usageRecordItem } from '../packages/core/src/adapters/dynamodb/entities/usage.js';
import {
  ACCRUAL_SHARDS, MARKET_SHARDS, accruedAccount, checkPosting, derivedId, marginAccount, newSecretKey, parsePeriod, previousPeriod, requestEconomics,
  salesAccount, shardOf, unlimitedKey, type ProviderRecord, type UsageRecord, type Workload,
} from '../packages/core/src/index.js';
import { table } from './lib/stats.js';
// A seeded PRNG, so two runs seed the same month.
import { rng } from '../packages/simulator/src/generate.js';

const LIMITS = {
  providers: { def: 8, min: 1, max: 64 },
  startups: { def: 200, min: 1, max: 10_000 },
  'settle-seconds': { def: 3_600, min: 10, max: 14_400 },
} as const;
const MAX_SIZE = 2_000_000;
const OPTIONS = { child: { type: 'string' }, sizes: { type: 'string' }, providers: { type: 'string' }, startups: { type: 'string' }, 'settle-seconds': { type: 'string' }, help: { type: 'boolean' } } as const;
const USAGE = `usage: npm run bench:settlement -- [--sizes 100000,1000000] [--providers ${LIMITS.providers.def}] [--startups ${LIMITS.startups.def}] [--settle-seconds ${LIMITS['settle-seconds'].def}]
  --sizes N,N,...      records per month to settle, one fresh DynamoDB Local each (1..${MAX_SIZE} each, at most 4 sizes)
  --providers N        providers the records are spread over (${LIMITS.providers.min}..${LIMITS.providers.max})
  --startups N         startups (client segments rotate) (${LIMITS.startups.min}..${LIMITS.startups.max})
  --settle-seconds S   a settlement still running after S seconds fails the bench`;

function flags() {
  const { values } = parseArgs({ options: OPTIONS, strict: true });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (k: keyof typeof LIMITS) => boundedInt(k, values[k], LIMITS[k]);
  const sizes = (values.sizes ?? '100000,1000000').split(',').map(Number);
  if (sizes.length > 4 || sizes.some((n) => !Number.isSafeInteger(n) || n < 1 || n > MAX_SIZE)) throw new Error(`--sizes: at most 4 integers in [1, ${MAX_SIZE}]`);
  const child = values.child === undefined ? null : Number(values.child);
  if (child !== null && (!Number.isSafeInteger(child) || child < 1 || child > MAX_SIZE)) throw new Error('--child: a size');
  return { sizes, providers: num('providers'), startups: num('startups'), settleSeconds: num('settle-seconds'), child };
}

const ACCELERATORS = ['H100', 'A100', 'H200'] as const;
const SEGMENTS = ['seed', 'series_a', 'series_b', 'growth', 'enterprise'] as const;
const WORKLOADS: readonly Workload[] = ['chat', 'completion', 'embedding'];
const RATES = { prompt_tokens_per_gpu_second: 2_000, completion_tokens_per_gpu_second: 400 };
const SPOT = { H100: 2_490_000, A100: 1_290_000, H200: 3_790_000 };
const WRITES_IN_FLIGHT = 16;

const mb = (bytes: number) => (bytes / 1_048_576).toFixed(0);

/** Peak RSS (VmHWM) of a process, in bytes, from /proc; null where /proc is not there. */
function vmHwm(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The DynamoDB Local JVM listening on the runtime's port (found through /proc, bench only). */
function javaPid(port: number): number | null {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('DynamoDBLocal.jar') && cmd.includes(`-port\u0000${port}\u0000`)) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

interface Seeded {
  period: string;
  records: number;
  billed: number;
  spend_micros: number;
  earnings_micros: number;
  margin_micros: number;
  seconds: number;
}

async function seed(rt: Runtime, size: number, o: { providers: number; startups: number }, period: string): Promise<Seeded> {
  const started = performance.now();
  const doc = documentClient(localClientConfig(rt.endpoints.dynamodb));
  const store = new DynamoCreditStore(doc, rt.tableName);
  const providers = new DynamoProviders(doc, rt.tableName);
  const at = new Date().toISOString();
  const providerIds = Array.from({ length: o.providers }, (_, i) => `prv_bench${String(i).padStart(3, '0')}`);
  for (const [i, id] of providerIds.entries()) {
    const acc = ACCELERATORS[i % ACCELERATORS.length]!;
    const record: ProviderRecord = {
      id, name: `Bench ${i}`, contact_email: `ops@bench${i}.example`, regions: ['us-east-1'], accelerators: [acc], status: 'live', sla_tier: 'standard', capacity_interval_s: 900,
      endpoints: [{ id: `${id}_ep1`, url: 'http://127.0.0.1:9/v1', region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated', accelerators: [acc] }],
      models: [{ model: 'llama-3.1-8b-instruct', kind: 'chat', architecture: 'llama', context_length: 8_192, accelerator: acc, ...RATES }],
      steps: [], created_at: at, updated_at: at,
    };
    await providers.create(record, unlimitedKey('provider', id, record.name, at).record, newSecretKey('whsec'));
  }
  const startupIds = Array.from({ length: o.startups }, (_, i) => `stu_bench${String(i).padStart(5, '0')}`);
  for (const [i, id] of startupIds.entries()) await store.createStartup({ id, name: `Startup ${i}`, segment: SEGMENTS[i % SEGMENTS.length]!, created_at: at });

  const p = parsePeriod(period)!;
  const startMs = Date.parse(p.start);
  const spanMs = Date.parse(p.end) - startMs;
  const random = rng(size);
  // Per provider and accrual shard: Σ spend, Σ provider share, Σ margin (for the ledger postings).
  const sums = new Map<string, { provider: string; shard: number; cost: number; earn: number; margin: number }>();
  // Billed records only: a request too small to cost a micro is not billed, so not settled (as in production).
  const totals = { billed: 0, spend_micros: 0, earnings_micros: 0, margin_micros: 0 };
  let next = 0;
  const batchOf = (): Record<string, unknown>[] => {
    const items: Record<string, unknown>[] = [];
    while (items.length < 25 && next < size) {
      const k = next++;
      const provider = providerIds[k % providerIds.length]!;
      const acc = ACCELERATORS[(k % providerIds.length) % ACCELERATORS.length]!;
      const workload = WORKLOADS[Math.floor(random() * WORKLOADS.length)]!;
      const prompt = 1 + Math.floor(random() * 4_000);
      const completion = workload === 'embedding' ? 0 : 1 + Math.floor(random() * 1_000);
      const econ = requestEconomics(prompt, completion, RATES, SPOT[acc]);
      const requestId = `req_bench_${k}`;
      const startup = startupIds[Math.floor(random() * startupIds.length)]!;
      const r: UsageRecord = {
        request_id: requestId, startup_id: startup, key_id: 'key_bench', hold_id: `hold_bench_${k}`, workload, model: 'llama-3.1-8b-instruct', provider_id: provider,
        endpoint_id: `${provider}_ep1`, accelerator: acc, stream: false, outcome: 'ok', status_code: 200, attempts: 1, prompt_tokens: prompt, completion_tokens: completion,
        estimated: false, ...econ, spot_micros_per_gpu_hour: SPOT[acc], facilities: [{ facility_id: 'fac_bench', amount_micros: econ.cost_micros }], latency_ms: 100, ttft_ms: null,
        created_at: new Date(startMs + Math.floor((k / size) * spanMs)).toISOString(),
      };
      items.push(usageRecordItem(r));
      const shard = shardOf(requestId, ACCRUAL_SHARDS);
      const key = `${provider}#${shard}`;
      const s = sums.get(key) ?? { provider, shard, cost: 0, earn: 0, margin: 0 };
      s.cost += econ.cost_micros;
      s.earn += econ.provider_micros;
      s.margin += econ.margin_micros;
      sums.set(key, s);
      if (econ.cost_micros > 0) totals.billed += 1;
      totals.spend_micros += econ.cost_micros;
      totals.earnings_micros += econ.provider_micros;
      totals.margin_micros += econ.margin_micros;
    }
    return items;
  };
  async function writer() {
    for (let items = batchOf(); items.length > 0; items = batchOf()) {
      let pending: Record<string, unknown>[] | undefined = items.map((Item) => ({ PutRequest: { Item } }));
      for (let round = 0; pending && pending.length > 0; round++) {
        if (round > 20) throw new Error('batch writes kept coming back unprocessed');
        const out = await doc.send(new BatchWriteCommand({ RequestItems: { [rt.tableName]: pending as never } }));
        pending = out.UnprocessedItems?.[rt.tableName] as Record<string, unknown>[] | undefined;
      }
    }
  }
  let lastReport = performance.now();
  const progress = setInterval(() => {
    if (performance.now() - lastReport > 30_000) {
      lastReport = performance.now();
      console.error(`  seeding: ${next.toLocaleString('en-US')} / ${size.toLocaleString('en-US')} records`);
    }
  }, 5_000);
  try {
    await Promise.all(Array.from({ length: WRITES_IN_FLIGHT }, writer));
  } finally {
    clearInterval(progress);
  }
  const postedAt = new Date(Date.parse(p.end) - 1_000).toISOString();
  for (const s of sums.values()) {
    const market = s.shard % MARKET_SHARDS;
    const lines = [
      { account: salesAccount(period, market), amount_micros: -s.cost },
      { account: accruedAccount(s.provider, period, s.shard), amount_micros: s.earn },
      { account: marginAccount(period, market), amount_micros: s.margin },
    ].filter((l) => l.amount_micros !== 0);
    const r = await store.post(checkPosting({ id: derivedId('pst', 'bench', s.provider, String(s.shard)), kind: 'settle', lines, created_at: postedAt, refs: { bench: 'settlement' } }));
    if (!r.ok) throw new Error(`seed posting: ${r.code}`);
  }
  return { period, records: size, ...totals, seconds: (performance.now() - started) / 1000 };
}

interface Result {
  size: number;
  seed_s: number;
  settle_s: number;
  records_per_s: number;
  rss_peak_mb: string;
  heap_peak_mb: string;
  jvm_peak_mb: string;
  ok: boolean;
  detail: string;
}

async function settleOnce(size: number, o: ReturnType<typeof flags>): Promise<Result> {
  const rt = await startRuntime({ port: 0, inMemory: true, scheduler: false });
  try {
    // The month before last: over, and past its grace, whatever today is.
    const period = previousPeriod(new Date(Date.parse(`${previousPeriod(new Date())}-01T00:00:00.000Z`)));
    const seeded = await seed(rt, size, o, period);
    console.error(`  ${size.toLocaleString('en-US')} records seeded in ${seeded.seconds.toFixed(1)} s; settling ${period}`);
    global.gc?.();
    const base = process.memoryUsage();
    let rssPeak = base.rss;
    let heapPeak = base.heapUsed;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      rssPeak = Math.max(rssPeak, m.rss);
      heapPeak = Math.max(heapPeak, m.heapUsed);
    }, 50);
    const t0 = performance.now();
    const res = await fetch(`${rt.baseUrl}/v1/admin/settlements/${period}`, { method: 'POST', headers: { authorization: `Bearer ${rt.adminKey}` } });
    const started = (await res.json()) as { execution_id?: string };
    if (res.status !== 202 || !started.execution_id) throw new Error(`start: ${res.status} ${JSON.stringify(started)}`);
    const sfn = new SFNClient(localClientConfig(rt.endpoints.sfn));
    let status = 'RUNNING';
    let error = '';
    while (status === 'RUNNING') {
      if (performance.now() - t0 > o.settleSeconds * 1000) throw new Error(`settlement still running after ${o.settleSeconds} s`);
      await new Promise((r) => setTimeout(r, 200));
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: started.execution_id }));
      status = d.status ?? 'UNKNOWN';
      error = `${d.error ?? ''} ${d.cause ?? ''}`.trim();
    }
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const run = (await (await fetch(`${rt.baseUrl}/v1/admin/settlements/${period}`, { headers: { authorization: `Bearer ${rt.adminKey}` } })).json()) as {
      status: string; totals: { requests: number; startup_spend_micros: number; provider_earnings_micros: number; margin_micros: number } | null;
    };
    const t = run.totals;
    const ok = status === 'SUCCEEDED' && run.status === 'settled' && !!t && t.requests === seeded.billed && t.startup_spend_micros === seeded.spend_micros
      && t.provider_earnings_micros === seeded.earnings_micros && t.margin_micros === seeded.margin_micros;
    const jvm = javaPid(Number(new URL(rt.endpoints.dynamodb).port));
    const jvmPeak = jvm === null ? null : vmHwm(jvm);
    return {
      size, seed_s: seeded.seconds, settle_s: seconds, records_per_s: size / seconds, rss_peak_mb: mb(rssPeak - base.rss), heap_peak_mb: mb(heapPeak - base.heapUsed),
      jvm_peak_mb: jvmPeak === null ? 'n/a' : mb(jvmPeak), ok,
      detail: ok ? `settled ${t!.requests} billed: spend ${t!.startup_spend_micros} = earnings ${t!.provider_earnings_micros} + margin ${t!.margin_micros} µUSD` : `NOT settled: ${status} ${run.status} ${error} ${JSON.stringify(t)}`,
    };
  } finally {
    await rt.stop();
  }
}

/**
 * Each size runs in a child process of its own (its own runtime, DynamoDB Local and handler modules: the
 * handlers cache their clients per process, as a Lambda container does), which prints one JSON line.
 */
function runChild(size: number, o: ReturnType<typeof flags>): Promise<Result> {
  const args = [...process.execArgv, process.argv[1]!, '--child', String(size), '--providers', String(o.providers), '--startups', String(o.startups), '--settle-seconds', String(o.settleSeconds)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').reverse().find((l) => l.startsWith('{"size"'));
      if (!line) reject(new Error(`size ${size}: the child exited ${code} without a result`));
      else resolve(JSON.parse(line) as Result);
    });
  });
}

async function main() {
  let o: ReturnType<typeof flags>;
  try {
    o = flags();
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (o.child !== null) {
    console.log(JSON.stringify(await settleOnce(o.child, o)));
    process.exit(0);
  }
  console.log(`bench:settlement — ${o.providers} providers, ${o.startups} startups, sizes ${o.sizes.join(', ')}; node ${process.version}`);
  const results: Result[] = [];
  for (const size of o.sizes) results.push(await runChild(size, o));
  console.log(
    table(
      ['records', 'seed s', 'settle s', 'records/s', 'node RSS +MB (peak)', 'node heap +MB (peak)', 'DynamoDB Local RSS MB (peak)', 'result'],
      results.map((r) => [r.size.toLocaleString('en-US'), r.seed_s.toFixed(1), r.settle_s.toFixed(1), r.records_per_s.toFixed(0), r.rss_peak_mb, r.heap_peak_mb, r.jvm_peak_mb, r.detail]),
      new Set([0, 1, 2, 3, 4, 5, 6]),
    ),
  );
  if (results.length > 1) {
    const [a, b] = [results[0]!, results[results.length - 1]!];
    console.log(`growth: ${(b.size / a.size).toFixed(1)}× the records took ${(b.settle_s / a.settle_s).toFixed(2)}× the time (records/s ${a.records_per_s.toFixed(0)} → ${b.records_per_s.toFixed(0)})`);
  }
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

await main();
