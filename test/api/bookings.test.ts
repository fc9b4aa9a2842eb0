/**
 * Capacity bookings (SPEC §11, issue 16) through the one-machine runtime against DynamoDB Local, on the demo
 * world (three live providers, spot prices, a funded startup). Blocks arrive in signed capacity reports; quotes
 * and bookings go through HTTP. Proves: 64 concurrent bookings over a block that fits only some, under injected
 * TransactionConflict, throttling and lost replies, never oversell an hour nor overspend, and the books
 * balance; cancel and decline give back exactly; replays move nothing; a frozen facility takes no booking;
 * every new route keeps tenants apart (404), roles (403) and keys (401).
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ACCOUNT_SHARDS } from '../../infra/table.js';
import { deps } from '../../functions/lib/deps.js';
import { DEMO_PROVIDERS, DEMO_SPOT, demoBlocks } from '../../local/demo.js';
import { DynamoBookings } from '../../packages/core/src/adapters/dynamodb/index.js';
import { Bookings, HOUR_MS, auditAll, derivedId, floorHour, nowMs, requestHash, type BookingStore } from '../../packages/core/src/index.js';
import { injectFaults } from '../ledger/world.js';
import { Receiver, until as untilMet } from './receiver.js';
import {
  AURORA, BASALT, BLOCK, H100, POOL, T0, ask, balances, bookFinal, bookingWorld, call, fundedStartup, hooks, hours, iso, providerKey, rt, sendBlocks, until,
} from './booking-kit.js';

bookingWorld('bookings');

describe('blocks, quotes and one booking', () => {
  it('lists blocks per hour, quotes them without the provider name, books, replays, accepts and cancels exactly', async () => {
    // Prepare: 8 GPUs for 24 h, a 4-GPU burst over its first 6 h.
    await sendBlocks(AURORA, [{ ...BLOCK, start: iso(T0), end: iso(T0 + 24 * HOUR_MS), gpus: 8 }, { ...BLOCK, start: iso(T0), end: iso(T0 + 6 * HOUR_MS), gpus: 4, burst: true }]);
    const listed = await until(() => hours(AURORA), (h) => h.length === 24);
    const s = await fundedStartup('Quote Co', 1_000_000_000);
    const before = await balances(s.facilityId);

    // Act: quote, then book the first offer.
    const q = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask({ gpus: 10, hours: 4, earliest_start: iso(T0), latest_start: iso(T0 + 10 * HOUR_MS) }) });
    const offer = q.body.offers[0];
    const body = { quote_id: q.body.id, offer: offer.id };
    const b = await call('POST', '/v1/bookings', { key: s.key, body, headers: { 'idempotency-key': 'one' } });
    const replay = await call('POST', '/v1/bookings', { key: s.key, body, headers: { 'idempotency-key': 'one' } });
    const otherBody = await call('POST', '/v1/bookings', { key: s.key, body: { ...body, offer: derivedId('ofr', 'x') }, headers: { 'idempotency-key': 'one' } });
    const held = await balances(s.facilityId);
    const taken = await hours(AURORA);
    const accepted = await call('POST', `/v1/providers/${AURORA}/bookings/${b.body.id}/accept`, { key: providerKey(AURORA), body: { access: { endpoint: 'ssh://gpu-7.aurora.example', instructions: 'key-based login' } } });
    const providerList = await call('GET', `/v1/providers/${AURORA}/bookings`, { key: providerKey(AURORA) });
    const seen = await call('GET', `/v1/bookings/${b.body.id}`, { key: s.key });
    const cancelled = await call('POST', `/v1/bookings/${b.body.id}/cancel`, { key: s.key });
    const again = await call('POST', `/v1/bookings/${b.body.id}/cancel`, { key: s.key });
    const after = await balances(s.facilityId);

    // Assess: the burst counts in the first 6 hours only.
    expect(listed.filter((h) => h.listed_gpus === 12)).toHaveLength(6);
    expect(listed.every((h) => h.pool === POOL && h.booked_gpus === 0 && h.free_gpus === h.listed_gpus)).toBe(true);
    expect(q.status).toBe(201);
    expect(JSON.stringify(q.body)).not.toMatch(/Aurora|prv_demo/);
    // 10 GPUs fit only in the burst's hours: the earliest start that fits.
    expect(offer).toMatchObject({ start: iso(T0), end: iso(T0 + 4 * HOUR_MS), gpus: 10, price_micros_per_gpu_hour: H100, total_micros: H100 * 40, sla_tier: 'standard', ...BLOCK });
    expect(offer.reason).toContain('below the 80 % target');
    expect(b.status).toBe(201);
    expect(b.body).toMatchObject({ status: 'pending', total_micros: H100 * 40, access: null, provider_ref: offer.provider_ref });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.id).toBe(b.body.id);
    expect(otherBody.status).toBe(409);
    expect(held.reserved - before.reserved).toBe(H100 * 40);
    expect(held.available).toBe(before.available - H100 * 40);
    for (const h of taken) expect(h.booked_gpus).toBe(h.hour < iso(T0 + 4 * HOUR_MS).slice(0, 13) ? 10 : 0);
    expect(accepted.status).toBe(200);
    expect(accepted.body.status).toBe('scheduled');
    expect(accepted.body).not.toHaveProperty('access');
    expect(providerList.body.data.map((x: { id: string }) => x.id)).toContain(b.body.id);
    expect(JSON.stringify(providerList.body)).not.toContain('gpu-7.aurora');
    expect(seen.body.access).toEqual({ endpoint: 'ssh://gpu-7.aurora.example', instructions: 'key-based login' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(again.status).toBe(200);
    expect(after).toEqual(before);
    expect((await hours(AURORA)).every((h) => h.booked_gpus === 0 && h.free_gpus === h.listed_gpus)).toBe(true);
  });

  it('refuses what it must: a bad ask, an expired or foreign quote, a frozen facility, more than the credit; a decline releases', async () => {
    // Prepare
    const s = await fundedStartup('Refused Co', 40_000_000);
    const other = await fundedStartup('Other Co', 1_000_000_000);
    const q = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask() });
    const big = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask({ gpus: 8, hours: 20 }) });
    // Act
    const misaligned = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask({ earliest_start: iso(T0 + 60_000) }) });
    const tooWide = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask({ latest_start: iso(T0 + 15 * 24 * HOUR_MS) }) });
    const tooFar = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask({ earliest_start: iso(T0 + 89 * 24 * HOUR_MS), latest_start: iso(T0 + 89 * 24 * HOUR_MS), hours: 100 }) });
    const foreign = await call('POST', '/v1/bookings', { key: other.key, body: { quote_id: q.body.id, offer: q.body.offers[0].id }, headers: { 'idempotency-key': 'f' } });
    const stale = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask() });
    await rt.doc.send(new UpdateCommand({ TableName: rt.tableName, Key: { pk: `QUOTE#${stale.body.id}`, sk: 'QUOTE' }, UpdateExpression: 'SET quote.expires_at = :past', ExpressionAttributeValues: { ':past': iso(nowMs() - 1_000) } }));
    const expired = await call('POST', '/v1/bookings', { key: s.key, body: { quote_id: stale.body.id, offer: stale.body.offers[0].id }, headers: { 'idempotency-key': 'stale' } });
    const overCredit = await call('POST', '/v1/bookings', { key: s.key, body: { quote_id: big.body.id, offer: big.body.offers[0].id }, headers: { 'idempotency-key': 'big' } });
    const frozen = await call('POST', `/v1/facilities/${s.facilityId}/freeze`, { key: s.lenderKey, body: { reason: 'default' } });
    const whileFrozen = await call('POST', '/v1/bookings', { key: s.key, body: { quote_id: q.body.id, offer: q.body.offers[0].id }, headers: { 'idempotency-key': 'frozen' } });
    await call('POST', `/v1/facilities/${s.facilityId}/unfreeze`, { key: s.lenderKey });
    const ok = await call('POST', '/v1/bookings', { key: s.key, body: { quote_id: q.body.id, offer: q.body.offers[0].id }, headers: { 'idempotency-key': 'ok' } });
    const declined = await call('POST', `/v1/providers/${AURORA}/bookings/${ok.body.id}/decline`, { key: providerKey(AURORA) });
    const acceptAfter = await call('POST', `/v1/providers/${AURORA}/bookings/${ok.body.id}/accept`, { key: providerKey(AURORA), body: { access: { endpoint: 'x' } } });
    const after = await balances(s.facilityId);
    // Assess
    for (const r of [misaligned, tooWide, tooFar]) expect([r.status, r.body.error.code]).toEqual([400, 'invalid_ask']);
    expect([foreign.status, foreign.body.error.code]).toEqual([404, 'not_found']);
    expect([expired.status, expired.body.error.code]).toEqual([409, 'quote_expired']);
    expect([overCredit.status, overCredit.body.error.code]).toEqual([402, 'exceeds_credit']);
    expect(frozen.status).toBe(200);
    expect([whileFrozen.status, whileFrozen.body.error.code]).toEqual([403, 'credits_frozen']);
    expect(ok.status).toBe(201);
    expect([declined.status, declined.body.status]).toEqual([200, 'declined']);
    expect([acceptAfter.status, acceptAfter.body.error.code]).toEqual([409, 'not_pending']);
    expect(after).toEqual({ available: s.credit, reserved: 0, spent: 0 });
    expect((await hours(AURORA)).every((h) => h.booked_gpus === 0)).toBe(true);
  });
});

describe('64 concurrent bookings over a block that fits only some', () => {
  it('never oversells an hour, never overspends, gives back every refusal, and the books balance', async () => {
    // Prepare: Basalt lists 8 A100s for 24 hours; each booking asks 2 GPUs for 6–12 hours at a fixed start.
    // The credit (600 USD) covers fewer bookings than were asked for too.
    await sendBlocks(BASALT, [{ ...BLOCK, accelerator: 'A100', region: 'us-west-2', availability_zone: 'us-west-2a', start: iso(T0), end: iso(T0 + 24 * HOUR_MS), gpus: 8 }]);
    await until(() => hours(BASALT), (h) => h.length === 24);
    const s = await fundedStartup('Race Co', 480_000_000);
    const asks = Array.from({ length: 64 }, (_, i) => {
      const len = 6 + (i % 7);
      const start = T0 + ((i * 5) % (24 - len + 1)) * HOUR_MS;
      return { accelerator: 'A100', gpus: 2, hours: len, earliest_start: iso(start), latest_start: iso(start), region: 'us-west-2' };
    });
    const quotes = [];
    for (const a of asks) quotes.push((await call('POST', '/v1/capacity/quotes', { key: s.key, body: a })).body);
    expect(quotes.every((q) => q.offers.length === 1)).toBe(true);
    const faults = injectFaults(deps().doc, { conflictBefore: 0.15, throttleBefore: 0.05, lostReplyAfter: 0.1 }, 16);
    let results;
    try {
      // Act: all at once, each retried on 503 with its own key.
      results = await Promise.all(quotes.map((q, i) => bookFinal(s.key, { quote_id: q.id, offer: q.offers[0].id }, `race-${i}`)));
    } finally {
      deps().doc.middlewareStack.remove('compuxFaultInjector');
    }
    // Assess
    const booked = results.filter((r) => r.status === 201).map((r) => r.body);
    const refused = results.filter((r) => r.status !== 201);
    for (const r of refused) expect(['capacity_unavailable', 'exceeds_credit']).toContain(r.body.error.code);
    expect(booked.length).toBeGreaterThan(0);
    expect(refused.some((r) => r.body.error.code === 'capacity_unavailable')).toBe(true);
    // No hour oversold, and each hour's count is exactly the bookings that cover it.
    const items = await hours(BASALT);
    expect(items).toHaveLength(24);
    for (const h of items) {
      const covering = booked.filter((b) => b.start.slice(0, 13) <= h.hour && h.hour < b.end.slice(0, 13)).reduce((n, b) => n + b.gpus, 0);
      expect(h.booked_gpus).toBe(covering);
      expect(h.booked_gpus).toBeLessThanOrEqual(h.listed_gpus);
      expect(h.free_gpus).toBe(h.listed_gpus - h.booked_gpus);
    }
    // No overspend: what is held is exactly the live bookings' totals, within the credit; refusals kept nothing.
    const total = booked.reduce((n, b) => n + b.total_micros, 0);
    const bal = await balances(s.facilityId);
    expect(bal.reserved).toBe(total);
    expect(bal.available).toBeGreaterThanOrEqual(0);
    expect(bal.available + bal.reserved).toBe(s.credit);
    for (const b of booked) {
      const p = await rt.store.getPosting(derivedId('pst', derivedId('hold', s.id, `booking:${b.id}`), 'reserve'));
      expect(p!.lines.reduce((n, l) => n + l.amount_micros, 0)).toBe(0);
    }
    expect(await auditAll(rt.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0, mismatches: [] });
    expect(faults.conflicts).toBeGreaterThan(0);
    expect(faults.lostReplies).toBeGreaterThan(0);
    // Cancelling every booking gives back every GPU and every micro.
    for (const b of booked) expect((await call('POST', `/v1/bookings/${b.id}/cancel`, { key: s.key })).status).toBe(200);
    expect(await balances(s.facilityId)).toEqual({ available: s.credit, reserved: 0, spent: 0 });
    expect((await hours(BASALT)).every((h) => h.booked_gpus === 0 && h.free_gpus === h.listed_gpus)).toBe(true);
  });
});

describe("npm start's demo blocks", () => {
  it('list two weeks of H200s on Cirrus that a startup can quote and book at once', async () => {
    // Prepare: what seedDemoWorld writes with `blocks` (npm start).
    const cirrus = DEMO_PROVIDERS.find((p) => p.accelerator === 'H200')!;
    const store = new DynamoBookings(rt.doc, rt.tableName);
    const at = new Date(nowMs()).toISOString();
    await store.applyBlocks(cirrus.id, await store.planBlocks(cirrus.id, demoBlocks(cirrus, nowMs()), at), at);
    const again = await store.planBlocks(cirrus.id, demoBlocks(cirrus, nowMs()), at);
    const s = await fundedStartup('Demo Co', 5_000_000_000);
    const next = floorHour(nowMs()) + HOUR_MS;
    // Act
    const q = await call('POST', '/v1/capacity/quotes', { key: s.key, body: { accelerator: 'H200', gpus: 20, hours: 24, earliest_start: iso(next), latest_start: iso(next + 48 * HOUR_MS) } });
    const b = await call('POST', '/v1/bookings', { key: s.key, body: { quote_id: q.body.id, offer: q.body.offers[0].id }, headers: { 'idempotency-key': 'demo' } });
    // Assess: 16 dedicated + 8 burst over the first 48 hours; seeding again changes nothing.
    expect(again.changes).toEqual([]);
    expect((await hours(cirrus.id)).length).toBe(14 * 24);
    expect(q.body.offers[0]).toMatchObject({ start: iso(next), gpus: 20, accelerator: 'H200', region: 'eu-west-1', total_micros: DEMO_SPOT.H200 * 20 * 24 });
    expect(b.status).toBe(201);
    expect((await call('POST', `/v1/bookings/${b.body.id}/cancel`, { key: s.key })).status).toBe(200);
  });
});

describe('the sweep (with the hold sweeper)', () => {
  /** The service on the handlers' store, on a clock `aheadMs` ahead; `crash` makes the step to pending throw. */
  function service(aheadMs: number, crash = false): Bookings {
    const d = deps();
    const store: BookingStore = Object.create(d.bookingStore);
    if (crash) store.transition = async (...args) => (args[2].status === 'pending' ? Promise.reject(new Error('the handler died here')) : d.bookingStore.transition(...args));
    return new Bookings(store, d.bookingStore, d.catalog, d.credits, () => nowMs() + aheadMs);
  }

  it('refuses a booking its handler abandoned while placing, expires a pending one, and gives back everything', async () => {
    // Prepare: one booking whose handler died after taking the hold and the hours; one left pending.
    const s = await fundedStartup('Sweep Co', 1_000_000_000);
    const before = await balances(s.facilityId);
    const q = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask({ gpus: 3, hours: 5 }) });
    const body = { quote_id: q.body.id, offer: q.body.offers[0].id };
    await expect(service(0, true).book(s.id, body, { key: 'crash', request_hash: requestHash({ path: '/v1/bookings', body }) })).rejects.toThrow('the handler died here');
    const stuck = (await call('GET', '/v1/bookings', { key: s.key })).body.data[0];
    const held = await balances(s.facilityId);
    const q2 = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask({ gpus: 1, hours: 2 }) });
    const pending = (await call('POST', '/v1/bookings', { key: s.key, body: { quote_id: q2.body.id, offer: q2.body.offers[0].id }, headers: { 'idempotency-key': 'left-pending' } })).body;
    // Act: a sweep now changes nothing; 11 minutes on it refuses the abandoned one; a day on it expires the pending one.
    const early = await service(0).sweep();
    const later = await service(11 * 60_000).sweep();
    const replay = await call('POST', '/v1/bookings', { key: s.key, body, headers: { 'idempotency-key': 'crash' } });
    const dayLater = await service(25 * HOUR_MS).sweep();
    // Assess
    expect(stuck).toMatchObject({ status: 'placing', total_micros: H100 * 15 });
    expect(held.reserved - before.reserved).toBe(H100 * 15);
    expect(early).toEqual({ abandoned: 0, expired: 0, released: 0 });
    expect(later).toMatchObject({ abandoned: 1, expired: 0 });
    expect([replay.status, replay.body.error.code]).toEqual([409, 'booking_abandoned']);
    expect(dayLater).toMatchObject({ abandoned: 0, expired: 1 });
    expect((await call('GET', `/v1/bookings/${pending.id}`, { key: s.key })).body.status).toBe('expired');
    expect(await balances(s.facilityId)).toEqual(before);
    expect((await hours(AURORA)).every((h) => h.booked_gpus === 0 && h.free_gpus === h.listed_gpus)).toBe(true);
  });
});

describe('tenant isolation of every booking route', () => {
  it('another startup or provider gets 404, a wrong role 403, no key 401', async () => {
    // Prepare: a booking of startup A on Aurora.
    const a = await fundedStartup('Tenant A', 1_000_000_000);
    const b = await fundedStartup('Tenant B', 1_000_000_000);
    const q = await call('POST', '/v1/capacity/quotes', { key: a.key, body: ask({ gpus: 1, hours: 2 }) });
    const booking = (await call('POST', '/v1/bookings', { key: a.key, body: { quote_id: q.body.id, offer: q.body.offers[0].id }, headers: { 'idempotency-key': 'iso' } })).body;
    const basalt = providerKey(BASALT);
    const lenderKey = a.lenderKey;
    const startupRoutes: [string, string, unknown?][] = [
      ['POST', '/v1/capacity/quotes', ask()], ['POST', '/v1/bookings', { quote_id: q.body.id, offer: q.body.offers[0].id }], ['GET', '/v1/bookings'],
      ['GET', `/v1/bookings/${booking.id}`], ['POST', `/v1/bookings/${booking.id}/cancel`],
    ];
    const providerRoutes: [string, string, unknown?][] = [
      ['GET', `/v1/providers/${AURORA}/bookings`], ['POST', `/v1/providers/${AURORA}/bookings/${booking.id}/accept`, { access: { endpoint: 'x' } }],
      ['POST', `/v1/providers/${AURORA}/bookings/${booking.id}/decline`], ['POST', `/v1/providers/${AURORA}/bookings/${booking.id}/interrupt`, { reason: 'x' }],
    ];
    // Act and assess: no key, then a wrong role.
    for (const [m, p, body] of [...startupRoutes, ...providerRoutes]) expect((await call(m, p, { body })).status, `${m} ${p}`).toBe(401);
    for (const [m, p, body] of startupRoutes) expect((await call(m, p, { key: lenderKey, body })).status, `${m} ${p}`).toBe(403);
    for (const [m, p, body] of providerRoutes) expect((await call(m, p, { key: a.key, body })).status, `${m} ${p}`).toBe(403);
    // Another startup: the booking does not exist for it, and its list does not show it.
    expect((await call('GET', `/v1/bookings/${booking.id}`, { key: b.key })).status).toBe(404);
    expect((await call('POST', `/v1/bookings/${booking.id}/cancel`, { key: b.key })).status).toBe(404);
    expect((await call('GET', '/v1/bookings', { key: b.key })).body.data).toEqual([]);
    // Another provider: under its own id the booking is not there; under Aurora's id it is refused as unknown.
    for (const base of [`/v1/providers/${BASALT}/bookings/${booking.id}`, `/v1/providers/${AURORA}/bookings/${booking.id}`]) {
      expect((await call('POST', `${base}/accept`, { key: basalt, body: { access: { endpoint: 'x' } } })).status).toBe(404);
      expect((await call('POST', `${base}/decline`, { key: basalt })).status).toBe(404);
      expect((await call('POST', `${base}/interrupt`, { key: basalt, body: { reason: 'x' } })).status).toBe(404);
    }
    expect((await call('GET', `/v1/providers/${AURORA}/bookings`, { key: basalt })).status).toBe(404);
    expect((await call('GET', `/v1/providers/${BASALT}/bookings`, { key: basalt })).body.data.map((x: { id: string }) => x.id)).not.toContain(booking.id);
    // Untouched by all of that.
    const still = await call('GET', `/v1/bookings/${booking.id}`, { key: a.key });
    expect(still.body.status).toBe('pending');
    expect(rt.denials).toEqual([]);
  });
});

describe('booking events (webhooks, SPEC §12)', () => {
  it('tell the provider of a new booking and of its cancellation, and the startup of the acceptance, never the access details', async () => {
    // Prepare: Aurora's 24 hours of H100s (the first test's); a startup and the provider each listen for booking.*.
    const s = await fundedStartup('Hooked Co', 1_000_000_000);
    const listen = async (key: string) => {
      const h = new Receiver();
      hooks.push(h);
      const made = await call('POST', '/v1/webhook-endpoints', { key, body: { url: await h.start(), events: ['booking.*'] } });
      expect(made.status).toBe(201);
      h.secret = made.body.secret;
      return h;
    };
    const toProvider = await listen(providerKey(AURORA));
    const toStartup = await listen(s.key);
    // Act
    const q = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask({ gpus: 2, hours: 2, earliest_start: iso(T0 + 8 * HOUR_MS), latest_start: iso(T0 + 16 * HOUR_MS) }) });
    const b = await call('POST', '/v1/bookings', { key: s.key, body: { quote_id: q.body.id, offer: q.body.offers[0].id }, headers: { 'idempotency-key': 'hooked' } });
    await call('POST', `/v1/providers/${AURORA}/bookings/${b.body.id}/accept`, { key: providerKey(AURORA), body: { access: { endpoint: 'ssh://gpu-9.aurora.example' } } });
    const cancelled = await call('POST', `/v1/bookings/${b.body.id}/cancel`, { key: s.key });
    await untilMet('the provider told twice', () => toProvider.deliveries.length, (n) => n >= 2);
    await untilMet('the startup told once', () => toStartup.deliveries.length, (n) => n >= 1);
    // Assess
    expect(b.status).toBe(201);
    expect(cancelled.status).toBe(200);
    // Deliveries are not ordered (docs/api.md): the events are, by created_at.
    const byCreated = [...toProvider.deliveries].sort((x, y) => x.event!.created_at.localeCompare(y.event!.created_at));
    expect(byCreated.map((d) => d.event?.type)).toEqual(['booking.pending', 'booking.cancelled']);
    expect(byCreated[0]!.event!.created_at < byCreated[1]!.event!.created_at).toBe(true);
    expect(toStartup.deliveries.map((d) => d.event?.type)).toEqual(['booking.accepted']);
    expect([...toProvider.deliveries, ...toStartup.deliveries].every((d) => d.verified && d.event!.data.id === b.body.id)).toBe(true);
    expect(toStartup.deliveries[0]!.event!.data).toMatchObject({ object: 'booking', status: 'scheduled', total_micros: b.body.total_micros });
    expect(JSON.stringify(toStartup.deliveries)).not.toContain('gpu-9');
    expect(toProvider.deliveries[0]!.event!.data).not.toHaveProperty('provider_ref');
  });
});
