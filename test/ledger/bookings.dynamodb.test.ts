/**
 * Capacity bookings on DynamoDB Local through the core service and the real store, bookings long enough to need
 * several chunk transactions (98 hours each): a chunk refused part-way gives back the chunks before it and the
 * hold; concurrent long bookings under injected TransactionConflict, throttling and lost replies never oversell
 * an hour, leave nothing behind when refused, and the books balance.
 */
import { describe, expect, it } from 'vitest';
import { ACCOUNT_SHARDS } from '../../infra/table.js';
import { DynamoBookings } from '../../packages/core/src/adapters/dynamodb/index.js';
import {
  Bookings, HOUR_MS, HOURS_PER_CHUNK, auditAll, facilityAccount, floorHour, hourKey, nowMs, poolKey, type Catalog, type RoutingProvider,
} from '../../packages/core/src/index.js';
import { injectFaults, world } from './world.js';

const PROVIDER = 'prv_longBlocks01';
const SPOT = 2_000_000;
const POOL = poolKey({ accelerator: 'H100', region: 'us-east-1', availability_zone: 'us-east-1a', capacity_type: 'dedicated', interconnect: 'infiniband' });
const catalog = { load: async (): Promise<Catalog> => ({ providers: [{ id: PROVIDER, status: 'live', sla_tier: 'premium', sla_meeting: true } as RoutingProvider], spot_micros_per_gpu_hour: { H100: SPOT } }) };

async function setup(prefix: string, listed: number, hours: number) {
  const w = await world(prefix);
  const store = new DynamoBookings(w.doc, w.tableName);
  const t0 = floorHour(nowMs()) + 2 * HOUR_MS;
  const at = new Date().toISOString();
  for (let h = 0; h < hours; h += 25) await Promise.all(Array.from({ length: Math.min(25, hours - h) }, (_, k) => store.setListed(PROVIDER, POOL, hourKey(t0 + (h + k) * HOUR_MS), listed, false, at)));
  const service = new Bookings(store, store, catalog, w.credits, nowMs);
  return { w, store, t0, service };
}

const iso = (ms: number) => new Date(ms).toISOString();

async function quoteOnce(service: Bookings, startupId: string, t0: number, gpus: number, hours: number, offsetHours = 0) {
  const q = await service.quote(startupId, { accelerator: 'H100', gpus, hours, earliest_start: iso(t0 + offsetHours * HOUR_MS), latest_start: iso(t0 + offsetHours * HOUR_MS) });
  if (!q.ok || q.quote.offers.length !== 1) throw new Error('no offer');
  return { quote_id: q.quote.id, offer: q.quote.offers[0]!.id };
}

/** Books until the answer is final: contention is retried with the same key. */
async function book(service: Bookings, startupId: string, ask: { quote_id: string; offer: string }, key: string) {
  for (let i = 0; ; i++) {
    const r = await service.book(startupId, ask, { key, request_hash: `h-${key}` });
    if (r.ok || r.code !== 'contention' || i > 20) return r;
  }
}

async function bookOnce(service: Bookings, startupId: string, t0: number, gpus: number, hours: number, key: string, offsetHours = 0) {
  return book(service, startupId, await quoteOnce(service, startupId, t0, gpus, hours, offsetHours), key);
}

async function allHours(store: DynamoBookings, t0: number, hours: number) {
  return store.providerHours(PROVIDER, hourKey(t0), hourKey(t0 + hours * HOUR_MS));
}

describe('bookings of several chunks', () => {
  it('a chunk refused part-way gives back every chunk before it and the hold', async () => {
    // Prepare: 4 GPUs for 300 hours; a short booking takes 2 of them at hour 250, in the third chunk of a long one.
    const { w, store, t0, service } = await setup('bk-chunks', 4, 300);
    const { startup, facilities } = await w.fundedStartup([{ principal_micros: 10_000_000_000 }]);
    const f = facilities[0]!;
    const long = await quoteOnce(service, startup.id, t0, 3, 280);
    const blocker = await bookOnce(service, startup.id, t0, 2, 10, 'blocker', 245);
    // Act: 3 GPUs for 280 hours (chunks of 98, 98 and 84 hours), quoted before the blocker, cannot have hours 245–254.
    const refused = await book(service, startup.id, long, 'long');
    const fits = await bookOnce(service, startup.id, t0, 2, 280, 'fits');
    // Assess
    expect(blocker).toMatchObject({ ok: true });
    expect(refused).toMatchObject({ ok: false, code: 'capacity_unavailable' });
    expect(fits).toMatchObject({ ok: true, booking: { total_micros: SPOT * 2 * 280, status: 'pending' } });
    expect(280).toBeGreaterThan(2 * HOURS_PER_CHUNK);
    for (const h of await allHours(store, t0, 300)) {
      const i = (Date.parse(`${h.hour}:00:00Z`) - t0) / HOUR_MS;
      const want = (i >= 245 && i < 255 ? 2 : 0) + (i < 280 ? 2 : 0);
      expect([h.hour, h.booked_gpus, h.free_gpus]).toEqual([h.hour, want, 4 - want]);
    }
    const reserved = (await w.store.sumLines(facilityAccount(f.id, 'reserved'))).sum_micros;
    expect(reserved).toBe(SPOT * 2 * 10 + SPOT * 2 * 280);
    // Cancelling both gives back every GPU-hour and every micro.
    for (const r of [blocker, fits]) expect(await service.cancel(startup.id, (r as { booking: { id: string } }).booking.id)).toMatchObject({ ok: true });
    expect((await allHours(store, t0, 300)).every((h) => h.booked_gpus === 0 && h.free_gpus === 4)).toBe(true);
    expect((await w.store.sumLines(facilityAccount(f.id, 'available'))).sum_micros).toBe(f.granted_micros);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0, mismatches: [] });
  });

  it('concurrent long bookings under injected faults never oversell, keep nothing when refused, and balance', async () => {
    // Prepare: 8 GPUs for 240 hours; 24 bookings of 3 GPUs for 120–200 hours at staggered starts, all at once.
    const { w, store, t0, service } = await setup('bk-race', 8, 240);
    const { startup, facilities } = await w.fundedStartup([{ principal_micros: 20_000_000_000 }]);
    const f = facilities[0]!;
    const asks = [];
    for (let i = 0; i < 24; i++) {
      const len = 120 + (i % 5) * 20;
      asks.push(await quoteOnce(service, startup.id, t0, 3, len, (i * 7) % (240 - len + 1)));
    }
    const counts = injectFaults(w.doc, { conflictBefore: 0.15, throttleBefore: 0.05, lostReplyAfter: 0.1 }, 5);
    // Act
    const results = await Promise.all(asks.map((a, i) => book(service, startup.id, a, `race-${i}`)));
    w.doc.middlewareStack.remove('compuxFaultInjector');
    // Assess
    const booked = results.filter((r) => r?.ok).map((r) => (r as { booking: { start: string; end: string; gpus: number; total_micros: number } }).booking);
    for (const r of results) if (r && !r.ok) expect(['capacity_unavailable', 'contention']).toContain(r.code);
    expect(booked.length).toBeGreaterThan(0);
    for (const h of await allHours(store, t0, 240)) {
      const covering = booked.filter((b) => b.start.slice(0, 13) <= h.hour && h.hour < b.end.slice(0, 13)).reduce((n, b) => n + b.gpus, 0);
      expect(h.booked_gpus).toBe(covering);
      expect(h.booked_gpus).toBeLessThanOrEqual(8);
      expect(h.free_gpus).toBe(8 - h.booked_gpus);
    }
    const reserved = (await w.store.sumLines(facilityAccount(f.id, 'reserved'))).sum_micros;
    const available = (await w.store.sumLines(facilityAccount(f.id, 'available'))).sum_micros;
    expect(reserved).toBe(booked.reduce((n, b) => n + b.total_micros, 0));
    expect(available + reserved).toBe(f.granted_micros);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0, mismatches: [] });
    expect(counts.conflicts).toBeGreaterThan(0);
    expect(counts.lostReplies).toBeGreaterThan(0);
  });
});
