/**
 * Capacity bookings benchmark (issue 16, point 8): quotes over a large catalog, and bookings on one hot block,
 * through the real Bookings → DynamoBookings → Credits path against an in-memory DynamoDB Local started here.
 *
 *   npm run bench:bookings -- [--providers 1000] [--days 30] [--quotes 40] [--bookings 200] [--concurrency 16]
 *
 * Set-up (not measured): --providers live providers, each listing one H100 pool of 8 GPUs for every hour of the
 * next --days days (written with BatchWriteItem in the shape capacity reports leave, 25 items a call), and one
 * startup with enough credit. Phase Q: --quotes quotes at concurrency 4, each for 4 GPUs × 8 hours somewhere in the
 * 30 days with a 24-hour window: every live provider's hours in the window are read (one Query per provider).
 * Phase B: --bookings bookings of 1 GPU × 2 hours on the same two hours of one provider that lists 64 GPUs there
 * (the only pool in eu-central-1),
 * --concurrency at once, each on its own quote (quoted before the phase: not timed). 32 fit; the rest must be
 * refused with capacity_unavailable. Reported: count, seconds, per second, p50 and p99 latency, result codes; then
 * the hot hours are read back: booked ≤ listed (no hour oversold) or the exit code is 1. Bounded: each phase stops
 * starting operations after 300 s, the whole run after 30 minutes.
 */
import { parseArgs } from 'node:util';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { localClientConfig } from '../local/aws.js';
import { createTable, startDynamoDbLocal, type DynamoDbLocal } from '../local/dynamodb.js';
import { DynamoBookings, DynamoCreditStore, documentClient } from '../packages/core/src/adapters/dynamodb/index.js';
import { capacityHourKey } from '../packages/core/src/adapters/dynamodb/entities/booking.js';
import { Bookings, Credits, HOUR_MS, Lending, Tenants, floorHour, hourKey, nowMs, poolKey, type Catalog, type RoutingProvider } from '../packages/core/src/index.js';
import { boundedInt } from './lib/flags.js';
import { percentile, runPhase, table, type PhaseRun } from './lib/stats.js';

const LIMITS = {
  providers: { def: 1_000, min: 1, max: 5_000 },
  days: { def: 30, min: 2, max: 60 },
  quotes: { def: 40, min: 1, max: 10_000 },
  bookings: { def: 200, min: 1, max: 10_000 },
  concurrency: { def: 16, min: 1, max: 256 },
} as const;
type Flag = keyof typeof LIMITS;
const PHASE_MS = 300_000;
const RUN_MS = 30 * 60_000;
const TABLE = 'bench-bookings';
const SPOT = 2_000_000;
const POOL = poolKey({ accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated', interconnect: 'infiniband' });
/** The hot provider's pool: the only one in its region, so the hot asks find it among 1,000. */
const HOT_POOL = poolKey({ accelerator: 'H100', region: 'eu-central-1', availability_zone: 'eu-central-1a', capacity_type: 'dedicated', interconnect: 'infiniband' });
const HOT_GPUS = 64;

function flags(): Record<Flag, number> {
  const options = Object.fromEntries(Object.keys(LIMITS).map((k) => [k, { type: 'string' as const }]));
  const { values } = parseArgs({ options, strict: true });
  const raw = values as Record<string, string | undefined>;
  return Object.fromEntries((Object.keys(LIMITS) as Flag[]).map((k) => [k, boundedInt(k, raw[k], LIMITS[k])])) as Record<Flag, number>;
}

const providerId = (i: number) => `prv_bench${String(i).padStart(7, '0')}`;

/** Every provider's hours, 25 items a BatchWriteItem, 8 calls in flight; unprocessed items are written again. */
async function seedHours(doc: ReturnType<typeof documentClient>, providers: number, t0: number, hours: number): Promise<number> {
  const at = new Date().toISOString();
  const items = function* () {
    for (let p = 0; p < providers; p++) {
      for (let h = 0; h < hours; h++) {
        const hour = hourKey(t0 + h * HOUR_MS);
        const listed = p === 0 ? HOT_GPUS : 8;
        const pool = p === 0 ? HOT_POOL : POOL;
        yield { ...capacityHourKey(providerId(p), hour, pool), type: 'capacity_hour', provider_id: providerId(p), pool, hour, accelerator: 'H100', listed_gpus: listed, booked_gpus: 0, free_gpus: listed, updated_at: at };
      }
    }
  };
  const it = items();
  let written = 0;
  const worker = async () => {
    for (;;) {
      const batch: Record<string, unknown>[] = [];
      for (let n = 0; n < 25; n++) {
        const next = it.next();
        if (next.done) break;
        batch.push(next.value);
      }
      if (batch.length === 0) return;
      let pending = batch.map((Item) => ({ PutRequest: { Item } }));
      for (let round = 0; pending.length > 0; round++) {
        if (round > 20) throw new Error('BatchWriteItem kept returning unprocessed items');
        const out = await doc.send(new BatchWriteCommand({ RequestItems: { [TABLE]: pending } }));
        pending = (out.UnprocessedItems?.[TABLE] ?? []) as typeof pending;
      }
      written += batch.length;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return written;
}

function row(name: string, r: PhaseRun): string[] {
  const codes = [...r.codes].map(([k, v]) => `${k} ${v}`).join(', ');
  return [name, String(r.done), r.seconds.toFixed(1), (r.done / r.seconds).toFixed(1), percentile(r.latenciesMs, 50).toFixed(1), percentile(r.latenciesMs, 99).toFixed(1), codes + (r.timedOut ? ' (cut at 300 s)' : '')];
}

async function main(): Promise<number> {
  const f = flags();
  const watchdog = setTimeout(() => { console.error('bench:bookings overran its 30 minutes'); process.exit(1); }, RUN_MS);
  let ddb: DynamoDbLocal | undefined;
  try {
    ddb = await startDynamoDbLocal({ inMemory: true });
    await createTable(ddb.client, TABLE);
    const doc = documentClient({ ...localClientConfig(ddb.endpoint), requestHandler: { httpAgent: { keepAlive: true, maxSockets: 64 }, requestTimeout: 60_000 } });
    const store = new DynamoCreditStore(doc, TABLE);
    const credits = new Credits(store);
    const bookingStore = new DynamoBookings(doc, TABLE);
    const live = Array.from({ length: f.providers }, (_, i) => ({ id: providerId(i), status: 'live', sla_tier: i % 2 ? 'standard' : 'premium', sla_meeting: i % 3 !== 0 }) as RoutingProvider);
    const catalog = { load: async (): Promise<Catalog> => ({ providers: live, spot_micros_per_gpu_hour: { H100: SPOT } }) };
    const bookings = new Bookings(bookingStore, bookingStore, catalog, credits, nowMs);

    const t0 = floorHour(nowMs()) + 2 * HOUR_MS;
    const seedStart = performance.now();
    const items = await seedHours(doc, f.providers, t0, f.days * 24);
    const seedS = (performance.now() - seedStart) / 1000;
    const tenants = new Tenants(store, undefined);
    const s = await tenants.createStartup({ name: 'bench', segment: 'seed' });
    const l = await tenants.createLender({ name: 'bench lender' });
    if (!s.ok || s.replayed || !l.ok || l.replayed) throw new Error('set-up failed');
    await new Lending(store).open({ role: 'lender', lender_id: l.value.id }, { startup_id: s.value.id, principal_micros: 100_000_000_000_000, multiplier_bps: 12_500, term_months: 12, origination_fee_bps: 100, servicing_fee_bps: 50 });
    const startup = s.value.id;
    const iso = (ms: number) => new Date(ms).toISOString();

    const quotes = await runPhase(f.quotes, 4, PHASE_MS, async (i) => {
      const start = t0 + ((i * 37) % (f.days * 24 - 48)) * HOUR_MS;
      const q = await bookings.quote(startup, { accelerator: 'H100', gpus: 4, hours: 8, earliest_start: iso(start), latest_start: iso(start + 24 * HOUR_MS) });
      return q.ok ? `offers ${q.quote.offers.length}` : q.code;
    });

    const hot = iso(t0 + 24 * HOUR_MS);
    const asks: { quote_id: string; offer: string }[] = [];
    for (let i = 0; i < f.bookings; i++) {
      const q = await bookings.quote(startup, { accelerator: 'H100', gpus: 1, hours: 2, earliest_start: hot, latest_start: hot, region: 'eu-central-1' });
      const offer = q.ok ? q.quote.offers.find((o) => o.provider_id === providerId(0)) : undefined;
      if (!q.ok || !offer) throw new Error('the hot block was not quoted');
      asks.push({ quote_id: q.quote.id, offer: offer.id });
    }
    const booked = await runPhase(f.bookings, f.concurrency, PHASE_MS, async (i) => {
      for (let attempt = 0; ; attempt++) {
        const r = await bookings.book(startup, asks[i]!, { key: `hot-${i}`, request_hash: `h-${i}` });
        if (r.ok) return 'booked';
        if (r.code !== 'contention' || attempt >= 20) return r.code;
      }
    });
    const hotHours = await bookingStore.providerHours(providerId(0), hourKey(Date.parse(hot)), hourKey(Date.parse(hot) + 2 * HOUR_MS));
    const oversold = hotHours.filter((h) => h.booked_gpus > h.listed_gpus);

    console.log(`catalog: ${f.providers} providers × ${f.days} days of hourly blocks = ${items} hour items, written in ${seedS.toFixed(0)} s`);
    console.log(table(['phase', 'ops', 's', 'per s', 'p50 ms', 'p99 ms', 'results'], [row('quote (4 GPUs × 8 h, 24 h window)', quotes), row('book one hot block (1 GPU × 2 h)', booked)], new Set([1, 2, 3, 4, 5])));
    console.log(`hot hours: ${hotHours.map((h) => `${h.hour} booked ${h.booked_gpus}/${h.listed_gpus}`).join(', ')}${oversold.length ? ' — OVERSOLD' : ' (none oversold)'}`);
    console.log(JSON.stringify({
      providers: f.providers, days: f.days, quotes_per_s: +(quotes.done / quotes.seconds).toFixed(2), quote_p50_ms: +percentile(quotes.latenciesMs, 50).toFixed(1), quote_p99_ms: +percentile(quotes.latenciesMs, 99).toFixed(1),
      bookings_per_s: +(booked.done / booked.seconds).toFixed(2), book_p50_ms: +percentile(booked.latenciesMs, 50).toFixed(1), book_p99_ms: +percentile(booked.latenciesMs, 99).toFixed(1),
      booked: booked.codes.get('booked') ?? 0, oversold_hours: oversold.length,
    }));
    return oversold.length > 0 || quotes.firstError || booked.firstError ? 1 : 0;
  } finally {
    clearTimeout(watchdog);
    await ddb?.stop();
  }
}

main().then((code) => process.exit(code), (err: unknown) => { console.error(err); process.exit(1); });
