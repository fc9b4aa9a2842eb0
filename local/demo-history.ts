/**
 * History for the demo world, so the dashboards have something to show on a fresh `npm start`: seven weeks
 * of billed traffic (from the first day of last month to yesterday) on the three demo providers, from three
 * startups in three client segments, with a daily rhythm; SLA probe samples over the last 30 days (Basalt
 * has one bad day); and last month settled by the real settlement state machine.
 *
 * Every request goes through the real money path — Credits.reserve, then closeWithUsage with its request
 * record — only dated in the past, so holds, postings, records, usage buckets and the providers' hourly
 * counters are exactly what live traffic would have left. Seeded once per table (a marker item).
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Credits, mapBounded, now as clockNow, parsePeriod, previousPeriod, requestEconomics, settleableAt, type SlaSample, type Workload } from '../packages/core/src/index.js';
import { DynamoCreditStore, DynamoSla } from '../packages/core/src/adapters/dynamodb/index.js';
import { rng } from '../packages/simulator/src/generate.js';
import { DEMO_PROVIDERS, DEMO_SPOT } from './demo.js';
import type { Runtime } from './runtime.js';

const MARKER = { pk: 'SEED#demo-history', sk: 'SEED' };
/** Requests a provider serves on a weekday (half on weekends): enough colour for the heatmap, seconds to seed. */
const REQUESTS_PER_DAY = 4;
const IN_FLIGHT = 6;
/** Busier afternoons and evenings (UTC): weights for each hour of the day. */
const HOUR_WEIGHTS = [1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1];
const SLA_HOURS = [0, 3, 6, 9, 12, 15, 18, 21];
const SLA_SAMPLES_PER_HOUR = 10;
const BAD_DAY_AGO = 9;

type Api = (method: string, path: string, key: string, body?: unknown) => Promise<any>;

function pickHour(r: () => number): number {
  const total = HOUR_WEIGHTS.reduce((a, b) => a + b, 0);
  let x = r() * total;
  for (let h = 0; h < 24; h++) {
    x -= HOUR_WEIGHTS[h]!;
    if (x < 0) return h;
  }
  return 23;
}

export async function seedDemoHistory(rt: Runtime, doc: DynamoDBDocumentClient, api: Api, demo: { startupId: string; lenderId: string }, now = clockNow()): Promise<{ requests: number; settled: string | null } | null> {
  if ((await doc.send(new GetCommand({ TableName: rt.tableName, Key: MARKER, ConsistentRead: true }))).Item) return null;
  const startups: { id: string; segment: string }[] = [{ id: demo.startupId, segment: 'series_a' }];
  for (const s of [{ name: 'Seedling Labs', segment: 'seed' }, { name: 'Growthly', segment: 'growth' }]) {
    const id = (await api('POST', '/v1/admin/startups', rt.adminKey, s)).id as string;
    await api('POST', '/v1/facilities', rt.adminKey, { lender_id: demo.lenderId, startup_id: id, principal_micros: 8_000_000_000, multiplier: 1.5, term_months: 6, origination_fee_bps: 150, servicing_fee_bps: 50 });
    startups.push({ id, segment: s.segment });
  }

  // The requests: from the 1st of last month to yesterday, a few a day per provider.
  const random = rng(20_261_101);
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const first = Date.parse(`${previousPeriod(now)}-01T00:00:00.000Z`);
  const planned: { at: string; provider: (typeof DEMO_PROVIDERS)[number]; startup: string; workload: Workload; model: string; prompt: number; completion: number }[] = [];
  for (let day = first; day < today; day += 86_400_000) {
    const weekend = [0, 6].includes(new Date(day).getUTCDay());
    for (const p of DEMO_PROVIDERS) {
      for (let i = 0; i < (weekend ? REQUESTS_PER_DAY / 2 : REQUESTS_PER_DAY); i++) {
        const at = new Date(day + pickHour(random) * 3_600_000 + Math.floor(random() * 3_600_000)).toISOString();
        const embedding = p.models.find((m) => m.kind === 'embedding');
        const chat = p.models.filter((m) => m.kind === 'chat');
        const roll = random();
        const startup = startups[Math.floor(random() * startups.length)]!.id;
        if (embedding && roll < 0.15) planned.push({ at, provider: p, startup, workload: 'embedding', model: embedding.model, prompt: 200_000 + Math.floor(random() * 800_000), completion: 0 });
        else {
          const m = chat[Math.floor(random() * chat.length)]!;
          planned.push({ at, provider: p, startup, workload: roll < 0.35 ? 'completion' : 'chat', model: m.model, prompt: 2_000 + Math.floor(random() * 30_000), completion: 20_000 + Math.floor(random() * 180_000) });
        }
      }
    }
  }
  const store = new DynamoCreditStore(doc, rt.tableName);
  await mapBounded(planned, IN_FLIGHT, async (q, i) => {
    const rates = q.provider.models.find((m) => m.model === q.model)!;
    const spot = DEMO_SPOT[q.provider.accelerator];
    const econ = requestEconomics(q.prompt, q.completion, rates, spot);
    const credits = new Credits(store, () => new Date(q.at));
    const requestId = `req_hist_${i + 1}_${q.at}`;
    const held = await credits.reserve({ startup_id: q.startup, amount_micros: econ.cost_micros, idempotency_key: requestId, request_hash: requestId });
    if (!held.ok) throw new Error(`demo history: reserve ${held.code}`);
    const closed = await credits.closeWithUsage(held.hold, econ.cost_micros, {
      request_id: requestId, startup_id: q.startup, key_id: 'key_demo_history', hold_id: held.hold.id, workload: q.workload, model: q.model, provider_id: q.provider.id,
      endpoint_id: `${q.provider.id}_ep1`, accelerator: q.provider.accelerator, stream: q.workload === 'chat', outcome: 'ok', status_code: 200, attempts: 1,
      prompt_tokens: q.prompt, completion_tokens: q.completion, estimated: false, ...econ, spot_micros_per_gpu_hour: spot, latency_ms: 2_000, ttft_ms: q.workload === 'chat' ? 180 : null, created_at: q.at,
    });
    if (!closed.ok) throw new Error(`demo history: close ${closed.code}`);
  });

  // SLA probes over the last 30 days; Basalt errs on one day.
  const sla = new DynamoSla(doc, rt.tableName);
  for (let d = 30; d >= 1; d--) {
    for (const p of DEMO_PROVIDERS) {
      const samples: SlaSample[] = [];
      for (const h of SLA_HOURS) {
        for (let i = 0; i < SLA_SAMPLES_PER_HOUR; i++) {
          const bad = p.id === 'prv_demoBasalt01' && d === BAD_DAY_AGO && h >= 9 && h <= 15 && i < 6;
          samples.push({ provider_id: p.id, endpoint_id: `${p.id}_ep1`, source: 'probe', ok: !bad, latency_ms: bad ? null : 90 + Math.floor(random() * 140), at: new Date(today - d * 86_400_000 + h * 3_600_000 + i * 60_000).toISOString() });
        }
      }
      await sla.record(samples);
    }
  }

  // Last month, settled by the state machine (once it may be: an hour after it ends).
  const period = parsePeriod(previousPeriod(now))!;
  let settled: string | null = null;
  if (now.toISOString() >= settleableAt(period)) {
    await api('POST', `/v1/admin/settlements/${period.period}`, rt.adminKey);
    for (let i = 0; i < 600; i++) {
      const run = await api('GET', `/v1/admin/settlements/${period.period}`, rt.adminKey).catch(() => null);
      if (run && run.status !== 'running') {
        if (run.status !== 'settled') throw new Error(`demo history: settling ${period.period} ended ${run.status}: ${JSON.stringify(run.failures)}`);
        settled = period.period;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await doc.send(new PutCommand({ TableName: rt.tableName, Item: { ...MARKER, type: 'seed_marker', requests: planned.length, settled, created_at: now.toISOString() } }));
  return { requests: planned.length, settled };
}
