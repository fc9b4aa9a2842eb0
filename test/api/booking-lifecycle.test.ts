/**
 * A capacity booking's lifecycle (SPEC §11, the booking-lifecycle state machine run by the local interpreter with
 * the same handlers) through the one-machine runtime on the demo world: placed, answered, run hour by hour with
 * its Wait states shortened, declined, interrupted by the provider or by a maintenance window it reports.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../packages/core/src/index.js';
import { AURORA, BLOCK, T0, ask, balances, bookFinal, bookingWorld, call, fundedStartup, hours, iso, providerKey, rt, sendBlocks, until } from './booking-kit.js';

bookingWorld('booking-lifecycle');

beforeAll(async () => {
  // Aurora lists 8 H100s for the 24 hours from T0.
  await sendBlocks(AURORA, [{ ...BLOCK, start: iso(T0), end: iso(T0 + 24 * HOUR_MS), gpus: 8 }]);
  await until(() => hours(AURORA), (h) => h.length === 24);
});

describe('the booking lifecycle (state machine booking-lifecycle, SPEC §11)', () => {
  it('runs an accepted booking through its hours, billed hour by hour, to completed (its Wait states shortened)', async () => {
    // Prepare: 2 GPUs for 3 hours on Aurora; every Wait state of executions started from now (the booking's, at its
    // placing) waits 20 ms: it asks for the provider's answer every 20 ms until it has one.
    const s = await fundedStartup('Lifecycle Co', 1_000_000_000);
    const q = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask({ gpus: 2, hours: 3, earliest_start: iso(T0 + 12 * HOUR_MS), latest_start: iso(T0 + 18 * HOUR_MS) }) });
    process.env.COMPUX_SFN_WAIT_MS = '20';
    try {
      const b = await bookFinal(s.key, { quote_id: q.body.id, offer: q.body.offers[0].id }, 'lifecycle');
      // Act
      const accepted = await call('POST', `/v1/providers/${AURORA}/bookings/${b.body.id}/accept`, { key: providerKey(AURORA), body: { access: { endpoint: 'ssh://gpu-3.aurora.example' } } });
      const done = await until(() => call('GET', `/v1/bookings/${b.body.id}`, { key: s.key }), (r) => r.body.status === 'completed');
      // Assess
      expect(accepted.status).toBe(200);
      expect(done.body).toMatchObject({ status: 'completed', billed_hours: 3 });
      const hourCost = 2 * b.body.price_micros_per_gpu_hour;
      expect(await balances(s.facilityId)).toEqual({ available: s.credit - 3 * hourCost, reserved: 0, spent: 3 * hourCost });
      expect(rt.denials).toEqual([]);
    } finally {
      delete process.env.COMPUX_SFN_WAIT_MS;
    }
  });

  it("a booking's execution starts at its placing and ends when the provider declines it", async () => {
    // Prepare
    const s = await fundedStartup('Declined Run Co', 1_000_000_000);
    const q = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask({ gpus: 1, hours: 2, earliest_start: iso(T0 + 8 * HOUR_MS), latest_start: iso(T0 + 9 * HOUR_MS) }) });
    process.env.COMPUX_SFN_WAIT_MS = '20';
    try {
      const b = await bookFinal(s.key, { quote_id: q.body.id, offer: q.body.offers[0].id }, 'declined-run');
      const arn = rt.stepFunctions.listExecutions(rt.stepFunctions.arnOf('booking-lifecycle')).find((e) => e.name === b.body.id)?.executionArn;
      const waiting = rt.stepFunctions.describeExecution(arn).status;
      // Act
      await call('POST', `/v1/providers/${AURORA}/bookings/${b.body.id}/decline`, { key: providerKey(AURORA) });
      const ended = await until(async () => rt.stepFunctions.describeExecution(arn).status, (st) => st !== 'RUNNING');
      // Assess
      expect(waiting).toBe('RUNNING');
      expect(ended).toBe('SUCCEEDED');
      expect((await call('GET', `/v1/bookings/${b.body.id}`, { key: s.key })).body.status).toBe('declined');
    } finally {
      delete process.env.COMPUX_SFN_WAIT_MS;
    }
  });

  it('the provider interrupts a scheduled booking: nothing billed, everything given back, the startup told why', async () => {
    // Prepare
    const s = await fundedStartup('Interrupted Co', 1_000_000_000);
    const q = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask({ gpus: 1, hours: 2, earliest_start: iso(T0 + 20 * HOUR_MS), latest_start: iso(T0 + 22 * HOUR_MS) }) });
    const b = await bookFinal(s.key, { quote_id: q.body.id, offer: q.body.offers[0].id }, 'interrupted');
    await call('POST', `/v1/providers/${AURORA}/bookings/${b.body.id}/accept`, { key: providerKey(AURORA), body: { access: { endpoint: 'ssh://gpu-4.aurora.example' } } });
    // Act
    const r = await call('POST', `/v1/providers/${AURORA}/bookings/${b.body.id}/interrupt`, { key: providerKey(AURORA), body: { reason: 'rack power maintenance' } });
    const again = await call('POST', `/v1/providers/${AURORA}/bookings/${b.body.id}/interrupt`, { key: providerKey(AURORA), body: { reason: 'rack power maintenance' } });
    const seen = await call('GET', `/v1/bookings/${b.body.id}`, { key: s.key });
    // Assess
    expect(r.status).toBe(200);
    expect(again.status).toBe(200);
    expect(seen.body).toMatchObject({ status: 'interrupted', interruption: 'rack power maintenance' });
    expect(await balances(s.facilityId)).toEqual({ available: s.credit, reserved: 0, spent: 0 });
  });

  // Last in the file: the window stays in Aurora's capacity afterwards.
  it('a maintenance window reported over a scheduled booking interrupts it, released in full, and quotes skip the window', async () => {
    // Prepare: 1 GPU for 2 hours from T0 + 14 h, accepted.
    const s = await fundedStartup('Maintenance Co', 1_000_000_000);
    const at = iso(T0 + 14 * HOUR_MS);
    const q = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask({ gpus: 1, hours: 2, earliest_start: at, latest_start: at }) });
    const b = await bookFinal(s.key, { quote_id: q.body.id, offer: q.body.offers[0].id }, 'maintenance');
    await call('POST', `/v1/providers/${AURORA}/bookings/${b.body.id}/accept`, { key: providerKey(AURORA), body: { access: { endpoint: 'ssh://gpu-5.aurora.example' } } });
    // Act: Aurora reports maintenance over the booking's second hour (its blocks unchanged).
    await sendBlocks(AURORA, undefined, [{ start: iso(T0 + 15 * HOUR_MS), end: iso(T0 + 15 * HOUR_MS + 30 * 60_000) }]);
    const seen = await until(() => call('GET', `/v1/bookings/${b.body.id}`, { key: s.key }), (r) => r.body.status !== 'scheduled');
    const again = await call('POST', '/v1/capacity/quotes', { key: s.key, body: ask({ gpus: 1, hours: 2, earliest_start: at, latest_start: iso(T0 + 16 * HOUR_MS) }) });
    // Assess
    expect(b.status).toBe(201);
    expect(seen.body).toMatchObject({ status: 'interrupted' });
    expect(seen.body.interruption).toMatch(/^maintenance window /);
    expect(await balances(s.facilityId)).toEqual({ available: s.credit, reserved: 0, spent: 0 });
    const aurora = again.body.offers.filter((o: { provider_ref: string }) => o.provider_ref === b.body.provider_ref);
    expect(aurora.map((o: { start: string }) => o.start)).toEqual([iso(T0 + 16 * HOUR_MS)]);
  });
});
