/**
 * SPEC §2: "Hot items take at most one write per ten requests." A facility's `available` and `leased`
 * balances are written once when a lease is taken and once when it closes, so one lease has to carry about
 * ten requests or more.
 *
 * Found by the crash trials (test/local/crash.test.ts): LeaseHolder.usable() once admitted a request only
 * while `groups.size + 5 × (inflight + 1) ≤ 16`, so a lease carried at most 3 requests in flight and the 4th
 * took a new lease (a ledger write on the request path) or fell back to a hold. It now bounds the accrual
 * groups (the close posting's lines) and the requests in flight (64), and chunks the close's buckets.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_HOLDER_CONFIG, LeaseHolder } from '../../packages/core/src/index.js';
import { world } from './world.js';

describe('lease pace (SPEC §2: at most one hot write per ten requests)', () => {
  it('ten concurrent requests are paid from one lease', async () => {
    // Prepare
    const w = await world('lease-pace');
    const { startup } = await w.fundedStartup([{ principal_micros: 1_000_000_000 }]);
    const holder = new LeaseHolder(w.store, { ...DEFAULT_HOLDER_CONFIG, timing: { reserve_s: 20, spend_s: 300 } });
    // Act: ten requests reserve at once, as ten concurrent requests of one process do.
    const ask = { startup_id: startup.id, budget_key: null, budget_left_micros: null, amount_micros: 10_000 };
    const reserved = await Promise.all(Array.from({ length: 10 }, () => holder.reserve(ask)));
    // Assess
    expect(reserved.map((r) => (r.ok ? 'leased' : r.why))).toEqual(Array(10).fill('leased'));
    expect(holder.report.leases_taken).toBe(1);
  });
});
