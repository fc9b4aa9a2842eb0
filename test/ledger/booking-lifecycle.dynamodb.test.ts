/**
 * A booking's life from its placing (SPEC §11, packages/core/src/bookings/lifecycle.ts) on DynamoDB Local with an
 * injected clock: billed hour by hour against its hold (one capture per hour, once however often asked), the
 * provider accruing 85 % of spot on each hour, a `reserved` request record per hour; cancelled during an hour,
 * billed to that hour; interrupted, only the hours delivered in full. The books balance after each.
 */
import { describe, expect, it } from 'vitest';
import { ACCOUNT_SHARDS } from '../../infra/table.js';
import { DynamoBookings } from '../../packages/core/src/adapters/dynamodb/index.js';
import {
  ACCRUAL_SHARDS, BookingLifecycle, Bookings, HOUR_MS, accruedAccount, auditAll, facilityAccount, floorHour, hourKey, poolKey, type Catalog, type RoutingProvider,
} from '../../packages/core/src/index.js';
import { requestRecords } from '../setup/records.js';
import { world } from './world.js';

const PROVIDER = 'prv_lifecycle01';
const SPOT = 2_000_000;
const GPUS = 2;
const HOUR_COST = GPUS * SPOT;
const POOL = poolKey({ accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated', interconnect: 'infiniband' });
const catalog = { load: async (): Promise<Catalog> => ({ providers: [{ id: PROVIDER, status: 'live', sla_tier: 'premium', sla_meeting: true } as RoutingProvider], spot_micros_per_gpu_hour: { H100: SPOT } }) };

/** A 4-hour booking of 2 GPUs starting 2 hours from now, accepted; the clock is the test's. */
async function accepted(prefix: string, accept = true) {
  let t = Date.now();
  const nowMs = () => t;
  const w = await world(prefix, { clock: () => new Date(t) });
  const store = new DynamoBookings(w.doc, w.tableName);
  const t0 = floorHour(t) + 2 * HOUR_MS;
  await Promise.all(Array.from({ length: 6 }, (_, k) => store.setListed(PROVIDER, POOL, hourKey(t0 + k * HOUR_MS), 4, false, new Date(t).toISOString())));
  const bookings = new Bookings(store, store, catalog, w.credits, nowMs);
  const life = new BookingLifecycle(store, bookings, w.credits, nowMs);
  const { startup, facilities } = await w.fundedStartup([{ principal_micros: 1_000_000_000 }]);
  const iso = new Date(t0).toISOString();
  const q = await bookings.quote(startup.id, { accelerator: 'H100', gpus: GPUS, hours: 4, earliest_start: iso, latest_start: iso });
  if (!q.ok) throw new Error('quote');
  const b = await bookings.book(startup.id, { quote_id: q.quote.id, offer: q.quote.offers[0]!.id }, { key: 'run', request_hash: 'h' });
  if (!b.ok) throw new Error(`book: ${b.code}`);
  if (accept) await bookings.accept(PROVIDER, b.booking.id, { endpoint: 'ssh://gpu.example' });
  const balance = async (a: string) => (await w.store.getBalances([a])).get(a)?.balance_micros ?? 0;
  const accrued = async () => {
    const ids = Array.from({ length: ACCRUAL_SHARDS }, (_, s) => accruedAccount(PROVIDER, iso.slice(0, 7), s));
    return [...(await w.store.getBalances(ids)).values()].reduce((s, x) => s + x.balance_micros, 0);
  };
  return { w, store, life, bookings, id: b.booking.id, startup, f: facilities[0]!, t0, at: (ms: number) => void (t = ms), balance, accrued };
}

describe("a booking's acceptance window (the state machine's AwaitAnswer)", () => {
  it('pending until accept_by, then expired: its hold and hours given back in full, asked again the same', async () => {
    // Prepare: placed, never answered (accept_by: its start, 2 hours on)
    const { w, store, life, id, f, t0, at, balance } = await accepted('life-expire', false);
    // Act
    const before = await life.awaitAnswer(id);
    at(t0);
    const expired = await life.awaitAnswer(id);
    const again = await life.awaitAnswer(id);
    // Assess
    expect(before).toMatchObject({ ok: true, answer: 'pending', booking: { status: 'pending' } });
    expect(expired).toMatchObject({ ok: true, answer: 'expired', booking: { status: 'expired' } });
    expect(again).toMatchObject({ ok: true, answer: 'expired' });
    expect(await balance(facilityAccount(f.id, 'reserved'))).toBe(0);
    expect(await balance(facilityAccount(f.id, 'spent'))).toBe(0);
    expect((await store.getHour(PROVIDER, POOL, hourKey(t0)))).toMatchObject({ booked_gpus: 0, free_gpus: 4 });
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });

  it('accepted within the window: on to its start, and the window passing changes nothing', async () => {
    // Prepare
    const { life, id, t0, at } = await accepted('life-answered');
    // Act
    at(t0 + 30 * 60_000);
    const r = await life.awaitAnswer(id);
    // Assess
    expect(r).toMatchObject({ ok: true, answer: 'accepted', booking: { status: 'scheduled' } });
  });
});

describe('a booking billed hour by hour', () => {
  it('runs from its start, bills each hour once against its hold, and completes; the provider accrues 85 % of spot', async () => {
    // Prepare
    const { w, life, id, startup, f, t0, at, balance, accrued } = await accepted('life-full');
    // Act: the state machine's steps, hour 1 billed twice (a retried task)
    at(t0);
    const begun = await life.begin(id);
    const steps = [];
    for (const n of [0, 1, 1, 2, 3]) {
      at(t0 + (n + 1) * HOUR_MS);
      steps.push(await life.billHour(id, n));
    }
    // Assess
    expect(begun).toMatchObject({ ok: true, done: false, booking: { status: 'running' } });
    expect(steps.map((s) => s.ok && s.done)).toEqual([false, false, false, false, true]);
    expect(steps[4]).toMatchObject({ booking: { status: 'completed', billed_hours: 4 } });
    expect(await balance(facilityAccount(f.id, 'spent'))).toBe(4 * HOUR_COST);
    expect(await balance(facilityAccount(f.id, 'reserved'))).toBe(0);
    expect(await accrued()).toBe(4 * (HOUR_COST * 85) / 100);
    const records = (await requestRecords(w.doc, w.tableName, startup.id)).filter((r) => r.workload === 'reserved');
    expect(records.map((r) => r.cost_micros)).toEqual([HOUR_COST, HOUR_COST, HOUR_COST, HOUR_COST]);
    expect(records.every((r) => r.provider_micros + r.margin_micros === r.cost_micros && r.gpu_microseconds === GPUS * 3_600_000_000)).toBe(true);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });

  it('cancelled during its second hour: billed to that hour, the rest of the hold and the later hours given back', async () => {
    // Prepare
    const { w, store, life, id, startup, f, t0, at, balance } = await accepted('life-cancel');
    at(t0);
    await life.begin(id);
    at(t0 + HOUR_MS);
    await life.billHour(id, 0);
    // Act: 1 h 30 min in
    at(t0 + 1.5 * HOUR_MS);
    const cancelled = await life.cancel(startup.id, id);
    const after = await life.billHour(id, 1);
    // Assess
    expect(cancelled).toMatchObject({ ok: true, booking: { status: 'cancelled', billed_hours: 2 } });
    expect(after).toMatchObject({ ok: true, done: true });
    expect(await balance(facilityAccount(f.id, 'spent'))).toBe(2 * HOUR_COST);
    expect(await balance(facilityAccount(f.id, 'reserved'))).toBe(0);
    expect(await balance(facilityAccount(f.id, 'available'))).toBe(f.granted_micros - 2 * HOUR_COST);
    const hours = await store.providerHours(PROVIDER, hourKey(t0), hourKey(t0 + 4 * HOUR_MS));
    expect(hours.every((h) => h.booked_gpus === 0)).toBe(true);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });

  it('cancelled after its start before the state machine began it: it runs from its start, billed to the hour in course', async () => {
    // Prepare: accepted, never begun
    const { w, life, id, startup, f, t0, at, balance } = await accepted('life-late');
    // Act: 30 minutes in
    at(t0 + 30 * 60_000);
    const cancelled = await life.cancel(startup.id, id);
    // Assess
    expect(cancelled).toMatchObject({ ok: true, booking: { status: 'cancelled', billed_hours: 1 } });
    expect(await balance(facilityAccount(f.id, 'spent'))).toBe(HOUR_COST);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });

  it('interrupted by the provider in its third hour: only the two hours delivered in full are billed', async () => {
    // Prepare
    const { w, life, id, f, t0, at, balance } = await accepted('life-interrupt');
    at(t0);
    await life.begin(id);
    // Act: the state machine fell behind (no hour billed yet); the interruption comes 2 h 40 min in
    at(t0 + 2 * HOUR_MS + 40 * 60_000);
    const r = await life.interrupt(PROVIDER, id, 'power maintenance');
    // Assess
    expect(r).toMatchObject({ ok: true, booking: { status: 'interrupted', billed_hours: 2, interruption: 'power maintenance' } });
    expect(await balance(facilityAccount(f.id, 'spent'))).toBe(2 * HOUR_COST);
    expect(await balance(facilityAccount(f.id, 'reserved'))).toBe(0);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });

  it('a capacity report that lowers a booked hour below its bookings interrupts the newest booking covering it, not the others', async () => {
    // Prepare: a second, newer booking of 2 GPUs on the same hours (4 of 4 listed GPUs booked)
    const { store, life, bookings, id, startup, t0, at } = await accepted('life-short');
    at(t0 - HOUR_MS); // booked later than the first
    const iso = new Date(t0).toISOString();
    const q = await bookings.quote(startup.id, { accelerator: 'H100', gpus: GPUS, hours: 4, earliest_start: iso, latest_start: iso });
    if (!q.ok) throw new Error('quote');
    const newer = await bookings.book(startup.id, { quote_id: q.quote.id, offer: q.quote.offers[0]!.id }, { key: 'newer', request_hash: 'h2' });
    if (!newer.ok) throw new Error('book');
    await bookings.accept(PROVIDER, newer.booking.id, { endpoint: 'ssh://gpu2.example' });
    // Act: the provider now lists 2 GPUs at hour 3 (maintenance): 2 short
    const hour = hourKey(t0 + 3 * HOUR_MS);
    const free = await store.setListed(PROVIDER, POOL, hour, 2, true, new Date().toISOString());
    const interrupted = await life.interruptShortfall(PROVIDER, [{ pool: POOL, hour }]);
    // Assess
    expect(free).toBe(-2);
    expect(interrupted.map((b) => [b.id, b.status])).toEqual([[newer.booking.id, 'interrupted']]);
    expect((await store.getBooking(id))!.status).toBe('scheduled');
    expect((await store.getHour(PROVIDER, POOL, hour))!.free_gpus).toBe(0);
  });

  it('another provider cannot interrupt it, and a booking not yet running is interrupted unbilled', async () => {
    // Prepare
    const { life, id, f, balance } = await accepted('life-other');
    // Act
    const foreign = await life.interrupt('prv_someoneElse1', id, 'no');
    const early = await life.interrupt(PROVIDER, id, 'hardware fault before start');
    // Assess
    expect(foreign).toMatchObject({ ok: false, code: 'not_found' });
    expect(early).toMatchObject({ ok: true, booking: { status: 'interrupted' } });
    expect(await balance(facilityAccount(f.id, 'spent'))).toBe(0);
    expect(await balance(facilityAccount(f.id, 'available'))).toBe(f.granted_micros);
  });
});
