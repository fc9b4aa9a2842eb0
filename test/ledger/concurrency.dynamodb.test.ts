/**
 * Connected to DynamoDB Local, under injected faults: many concurrent reservations on one startup
 * whose credit covers only some of them, with TransactionConflict, throttling and lost replies
 * injected by SDK middleware, and duplicated idempotency keys. And a freeze raced against them.
 */
import { describe, expect, it } from 'vitest';
import { ACCOUNT_SHARDS } from '../../infra/table.js';
import { auditAll, derivedId, facilityAccount, type ReserveResult } from '../../packages/core/src/index.js';
import { world } from './world.js';

const FAULTS = { conflictBefore: 0.15, throttleBefore: 0.05, lostReplyAfter: 0.1 };

describe('concurrent reservations on one startup', () => {
  it('never overspends, never goes negative, applies each key once, and balances', async () => {
    // Prepare: two facilities, 2.5 M micros of credit; 80 requests of 60 k (4.8 M asked), 64 distinct keys.
    const w = await world('race', { faults: FAULTS, seed: 7 });
    const { startup, facilities } = await w.fundedStartup([{ principal_micros: 1_000_000, term_months: 6 }, { principal_micros: 1_000_000, term_months: 12 }]);
    const credit = facilities.reduce((s, f) => s + f.granted_micros, 0);
    const AMOUNT = 60_000;
    const DISTINCT = 64;
    const keys = Array.from({ length: 80 }, (_, i) => `req-${i % DISTINCT}`);

    // Act: all at once.
    const results = await Promise.all(
      keys.map(async (key) => ({ key, r: await w.credits.reserve({ startup_id: startup.id, amount_micros: AMOUNT, idempotency_key: key, request_hash: `h-${AMOUNT}` }) })),
    );

    // Assess
    const ok = results.filter((x): x is { key: string; r: Extract<ReserveResult, { ok: true }> } => x.r.ok);
    const refused = results.filter((x) => !x.r.ok).map((x) => (x.r as { code: string }).code);
    const distinctHolds = new Set(ok.map((x) => x.r.hold.id));
    // Each key maps to at most one hold, and every request that succeeded with a key got that key's hold.
    for (const x of ok) expect(x.r.hold.id).toBe(w.credits.holdIdFor(startup.id, x.key));
    expect(distinctHolds.size).toBe(new Set(ok.map((x) => x.key)).size);
    // No overspend: what is held never exceeds the credit.
    expect(distinctHolds.size * AMOUNT).toBeLessThanOrEqual(credit);
    // Refusals are only the expected codes (contention is allowed: retries are bounded).
    for (const code of refused) expect(['exceeds_credit', 'contention']).toContain(code);
    // Credit was actually used up: at least as many holds as fit, minus those that gave up on contention.
    const contention = refused.filter((c) => c === 'contention').length;
    expect(distinctHolds.size).toBeGreaterThanOrEqual(Math.min(DISTINCT, Math.floor(credit / AMOUNT)) - contention);

    // Balances: available + reserved = credit; none negative; each equal to the sum of its lines.
    let available = 0;
    let reserved = 0;
    for (const f of facilities) {
      const a = (await w.store.sumLines(facilityAccount(f.id, 'available'))).sum_micros;
      const r = await w.store.sumLines(facilityAccount(f.id, 'reserved'));
      expect(a).toBeGreaterThanOrEqual(0);
      available += a;
      reserved += r.sum_micros;
    }
    expect(reserved).toBe(distinctHolds.size * AMOUNT);
    expect(available + reserved).toBe(credit);

    // No key applied twice: one reserve posting per hold, each balanced; one reserved line per hold and facility drawn.
    let reservedLines = 0;
    for (const f of facilities) reservedLines += (await w.store.listLines(facilityAccount(f.id, 'reserved'), 1_000)).items.length;
    const holds = [...new Map(ok.map((x) => [x.r.hold.id, x.r.hold])).values()];
    expect(reservedLines).toBe(holds.reduce((s, h) => s + h.allocations.length, 0));
    for (const id of distinctHolds) {
      const p = await w.store.getPosting(derivedId('pst', id, 'reserve'));
      expect(p).not.toBeNull();
      expect(p!.lines.reduce((s, l) => s + l.amount_micros, 0)).toBe(0);
    }

    // Settle every hold concurrently (half fully, half to a third), under the same faults.
    const settled = await Promise.all(holds.map((h, i) => w.credits.settle(h.id, i % 2 ? AMOUNT : AMOUNT / 3)));
    const settledOk = settled.filter((s) => s.ok).length;
    expect(settledOk + settled.filter((s) => !s.ok && s.code === 'contention').length).toBe(holds.length);

    // All accounts sum to zero and every cached balance equals its lines.
    const audit = await auditAll(w.store, ACCOUNT_SHARDS);
    expect(audit).toMatchObject({ ok: true, balance_sum_micros: 0, mismatches: [] });
    // The faults really happened (the test would be weaker if the injector were silent).
    expect(w.counts.conflicts).toBeGreaterThan(0);
    expect(w.counts.throttles).toBeGreaterThan(0);
    expect(w.counts.lostReplies).toBeGreaterThan(0);
  });

  it('a freeze wins: no reservation that starts after the freeze call returned succeeds', async () => {
    // Prepare
    const w = await world('freeze-race', { faults: FAULTS, seed: 11 });
    const { startup, facilities, caller } = await w.fundedStartup([{ principal_micros: 100_000_000 }]);
    const f = facilities[0]!;
    let frozenReturnedAt = Number.POSITIVE_INFINITY;
    let stop = false;
    const attempts: { startedAt: number; r: ReserveResult }[] = [];
    let n = 0;
    const reserveOnce = async () => {
      const startedAt = performance.now();
      const r = await w.credits.reserve({ startup_id: startup.id, amount_micros: 1_000, idempotency_key: `k-${n++}`, request_hash: 'h' });
      attempts.push({ startedAt, r });
    };
    const reserveLoop = async () => {
      while (!stop) await reserveOnce();
    };

    // Act: 64 workers keep reserving; once some have succeeded, the freeze lands among them. Then a second
    // wave of 64 starts strictly after the freeze returned, while the workers are still going.
    const workers = Array.from({ length: 64 }, reserveLoop);
    for (let i = 0; i < 200 && attempts.filter((a) => a.r.ok).length < 5; i++) await new Promise((r) => setTimeout(r, 50));
    const frozen = await w.lending.freeze(caller, f.id, 'default');
    frozenReturnedAt = performance.now();
    await Promise.all(Array.from({ length: 64 }, reserveOnce));
    stop = true;
    await Promise.all(workers);

    // Assess
    expect(frozen).toMatchObject({ status: 'frozen' });
    const after = attempts.filter((a) => a.startedAt > frozenReturnedAt);
    const before = attempts.filter((a) => a.startedAt <= frozenReturnedAt);
    expect(after.length).toBeGreaterThanOrEqual(64);
    expect(before.some((a) => a.r.ok)).toBe(true);
    for (const a of after) expect(a.r).toMatchObject({ ok: false });
    for (const a of after) expect(['facility_frozen', 'contention']).toContain((a.r as { code: string }).code);
    // Holds taken before the freeze still settle and release normally.
    const open = before.filter((a) => a.r.ok).map((a) => (a.r as Extract<ReserveResult, { ok: true }>).hold);
    for (const h of open.slice(0, 5)) expect(await w.credits.settle(h.id, 500)).toMatchObject({ ok: true });
    // Unfreeze restores it.
    await w.lending.unfreeze(caller, f.id);
    expect(await w.credits.reserve({ startup_id: startup.id, amount_micros: 1_000, idempotency_key: 'after-unfreeze', request_hash: 'h' })).toMatchObject({ ok: true });
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });
});
