/** Connected to DynamoDB Local: the ledger's operations, table-driven over valid and invalid inputs. */
import { describe, expect, it } from 'vitest';
import { ACCOUNT_SHARDS } from '../../infra/table.js';
import { auditAll, derivedId, facilityAccount, nowIso, transfer, type Posting } from '../../packages/core/src/index.js';
import { world } from './world.js';

const balanceOf = async (w: Awaited<ReturnType<typeof world>>, account: string) => (await w.store.getBalances([account])).get(account)?.balance_micros;

describe('opening facilities', () => {
  it.each([
    [1_000_000, 12_500, 1_250_000],
    [1_000_001, 12_500, 1_250_001],
    [7_777_777, 13_333, 10_370_110], // 10,370,110.07 floored
    [100_000_000_000_000, 15_000, 150_000_000_000_000],
  ])('principal %s at %s bps grants %s, balanced against funding', async (principal, bps, grant) => {
    // Prepare
    const w = await world('open');
    // Act
    const { facilities } = await w.fundedStartup([{ principal_micros: principal, multiplier_bps: bps }]);
    const f = facilities[0]!;
    // Assess
    expect(f.granted_micros).toBe(grant);
    expect(await balanceOf(w, facilityAccount(f.id, 'available'))).toBe(grant);
    expect(await balanceOf(w, facilityAccount(f.id, 'funding'))).toBe(-grant);
    expect((await w.store.sumLines(facilityAccount(f.id, 'available'))).sum_micros).toBe(grant);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0, accounts_checked: 8 }); // funding, available, reserved, leased, spent, recovered; the loan's fees and owed
  });

  it('replays the same idempotency key and refuses the key with another body', async () => {
    // Prepare
    const w = await world('open-idem');
    const { startup, caller } = await w.fundedStartup([]);
    const terms = { startup_id: startup.id, principal_micros: 2_000_000, multiplier_bps: 12_500, term_months: 6, origination_fee_bps: 100, servicing_fee_bps: 50 };
    const idem = (request_hash: string) => ({ scope: 'lender:test', key: 'k-1', request_hash, status_code: 201, replyOf: (f: { id: string }) => ({ id: f.id }) });
    // Act
    const first = await w.lending.open(caller, terms, idem('h1'));
    const replay = await w.lending.open(caller, terms, idem('h1'));
    const other = await w.lending.open(caller, { ...terms, principal_micros: 3_000_000 }, idem('h2'));
    // Assess
    expect(first).toMatchObject({ ok: true, replayed: false });
    expect(replay).toMatchObject({ ok: true, replayed: true, status_code: 201 });
    expect(other).toEqual({ ok: false, code: 'idempotency_conflict' });
    const all = await w.store.listFacilitiesByStartup(startup.id, 8);
    expect(all).toHaveLength(1);
    expect(await balanceOf(w, facilityAccount(all[0]!.id, 'available'))).toBe(2_500_000);
  });
});

describe('holds: reserve → settle → release', () => {
  type Step = { op: 'reserve'; key: string; amount: number; hash?: string } | { op: 'settle'; key: string; amount: number } | { op: 'release'; key: string };
  const cases: { name: string; steps: Step[]; results: unknown[]; available: number; reserved: number; spent: number }[] = [
    { name: 'reserve then settle part', steps: [{ op: 'reserve', key: 'a', amount: 400 }, { op: 'settle', key: 'a', amount: 150 }], results: [{ ok: true }, { ok: true }], available: 850, reserved: 0, spent: 150 },
    { name: 'reserve then settle all', steps: [{ op: 'reserve', key: 'a', amount: 400 }, { op: 'settle', key: 'a', amount: 400 }], results: [{ ok: true }, { ok: true }], available: 600, reserved: 0, spent: 400 },
    { name: 'reserve then release', steps: [{ op: 'reserve', key: 'a', amount: 400 }, { op: 'release', key: 'a' }], results: [{ ok: true }, { ok: true }], available: 1000, reserved: 0, spent: 0 },
    { name: 'an open hold counts as reserved', steps: [{ op: 'reserve', key: 'a', amount: 999 }], results: [{ ok: true }], available: 1, reserved: 999, spent: 0 },
    { name: 'the whole credit', steps: [{ op: 'reserve', key: 'a', amount: 1000 }], results: [{ ok: true }], available: 0, reserved: 1000, spent: 0 },
    { name: 'more than the credit', steps: [{ op: 'reserve', key: 'a', amount: 1001 }], results: [{ ok: false, code: 'exceeds_credit' }], available: 1000, reserved: 0, spent: 0 },
    { name: 'second hold over what is left', steps: [{ op: 'reserve', key: 'a', amount: 700 }, { op: 'reserve', key: 'b', amount: 301 }], results: [{ ok: true }, { ok: false, code: 'exceeds_credit' }], available: 300, reserved: 700, spent: 0 },
    { name: 'settle above the hold', steps: [{ op: 'reserve', key: 'a', amount: 400 }, { op: 'settle', key: 'a', amount: 401 }], results: [{ ok: true }, { ok: false, code: 'exceeds_hold' }], available: 600, reserved: 400, spent: 0 },
    { name: 'settle twice with the same amount replays', steps: [{ op: 'reserve', key: 'a', amount: 400 }, { op: 'settle', key: 'a', amount: 100 }, { op: 'settle', key: 'a', amount: 100 }], results: [{ ok: true }, { ok: true, replayed: false }, { ok: true, replayed: true }], available: 900, reserved: 0, spent: 100 },
    { name: 'settle again with another amount', steps: [{ op: 'reserve', key: 'a', amount: 400 }, { op: 'settle', key: 'a', amount: 100 }, { op: 'settle', key: 'a', amount: 200 }], results: [{ ok: true }, { ok: true }, { ok: false, code: 'hold_closed' }], available: 900, reserved: 0, spent: 100 },
    { name: 'release after settle', steps: [{ op: 'reserve', key: 'a', amount: 400 }, { op: 'settle', key: 'a', amount: 100 }, { op: 'release', key: 'a' }], results: [{ ok: true }, { ok: true }, { ok: false, code: 'hold_closed' }], available: 900, reserved: 0, spent: 100 },
    { name: 'settle an unknown hold', steps: [{ op: 'settle', key: 'nope', amount: 1 }], results: [{ ok: false, code: 'hold_not_found' }], available: 1000, reserved: 0, spent: 0 },
    { name: 'replayed key returns the first hold', steps: [{ op: 'reserve', key: 'a', amount: 400 }, { op: 'reserve', key: 'a', amount: 400 }], results: [{ ok: true, replayed: false }, { ok: true, replayed: true }], available: 600, reserved: 400, spent: 0 },
    { name: 'replayed key after credit ran out still replays', steps: [{ op: 'reserve', key: 'a', amount: 1000 }, { op: 'reserve', key: 'a', amount: 1000 }], results: [{ ok: true }, { ok: true, replayed: true }], available: 0, reserved: 1000, spent: 0 },
    { name: 'same key, another body', steps: [{ op: 'reserve', key: 'a', amount: 400 }, { op: 'reserve', key: 'a', amount: 500, hash: 'other' }], results: [{ ok: true }, { ok: false, code: 'idempotency_conflict' }], available: 600, reserved: 400, spent: 0 },
  ];

  it.each(cases)('$name', async ({ steps, results, available, reserved, spent }) => {
    // Prepare: 800 principal × 1.25 = 1000 micros of credit (amounts are tiny on purpose: exactness shows).
    const w = await world('holds');
    const { startup, facilities } = await w.fundedStartup([{ principal_micros: 1_000_000 }]);
    const f = facilities[0]!;
    // Take the facility down to 1000 available with a settled hold, so the cases read in small numbers.
    const pre = await w.credits.reserve({ startup_id: startup.id, amount_micros: 1_249_000, idempotency_key: 'pre', request_hash: 'pre' });
    if (!pre.ok) throw new Error('pre failed');
    await w.credits.settle(pre.hold.id, 1_249_000);
    const base = { available: 1000, spent: 1_249_000 };
    // Act
    const got: unknown[] = [];
    for (const s of steps) {
      const holdId = w.credits.holdIdFor(startup.id, s.key);
      if (s.op === 'reserve') got.push(await w.credits.reserve({ startup_id: startup.id, amount_micros: s.amount, idempotency_key: s.key, request_hash: s.hash ?? `h-${s.amount}` }));
      else if (s.op === 'settle') got.push(await w.credits.settle(holdId, s.amount));
      else got.push(await w.credits.release(holdId));
    }
    // Assess
    results.forEach((r, i) => expect(got[i]).toMatchObject(r as object));
    expect(await balanceOf(w, facilityAccount(f.id, 'available'))).toBe(available);
    expect(await balanceOf(w, facilityAccount(f.id, 'reserved'))).toBe(reserved);
    expect(await balanceOf(w, facilityAccount(f.id, 'spent'))).toBe(base.spent + spent);
    expect(available + reserved + spent).toBeLessThanOrEqual(base.available);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });

  it('draws facilities earliest term end first and records which paid', async () => {
    // Prepare
    const w = await world('order');
    const { startup, facilities } = await w.fundedStartup([{ principal_micros: 1_000_000, term_months: 24 }, { principal_micros: 1_000_000, term_months: 3 }]);
    const [late, early] = facilities as [typeof facilities[0], typeof facilities[0]];
    // Act
    const r = await w.credits.reserve({ startup_id: startup.id, amount_micros: 1_500_000, idempotency_key: 'k', request_hash: 'h' });
    if (!r.ok) throw new Error(r.code);
    await w.credits.settle(r.hold.id, 1_300_000);
    // Assess
    expect(r.hold.allocations).toEqual([{ facility_id: early.id, amount_micros: 1_250_000 }, { facility_id: late.id, amount_micros: 250_000 }]);
    expect(await balanceOf(w, facilityAccount(early.id, 'spent'))).toBe(1_250_000);
    expect(await balanceOf(w, facilityAccount(late.id, 'spent'))).toBe(50_000);
    expect(await balanceOf(w, facilityAccount(late.id, 'available'))).toBe(1_200_000);
  });

  it('the sweeper releases expired holds and only those', async () => {
    // Prepare: a clock we move by hand.
    let now = new Date('2026-11-01T00:00:00.000Z');
    const w = await world('sweep', { clock: () => now });
    const { startup, facilities } = await w.fundedStartup([{ principal_micros: 1_000_000 }]);
    const f = facilities[0]!;
    const short = await w.credits.reserve({ startup_id: startup.id, amount_micros: 100_000, idempotency_key: 's', request_hash: 'h', ttl_s: 60 });
    const long = await w.credits.reserve({ startup_id: startup.id, amount_micros: 200_000, idempotency_key: 'l', request_hash: 'h', ttl_s: 3_600 });
    const settled = await w.credits.reserve({ startup_id: startup.id, amount_micros: 300_000, idempotency_key: 'x', request_hash: 'h', ttl_s: 60 });
    if (!short.ok || !long.ok || !settled.ok) throw new Error('reserve failed');
    await w.credits.settle(settled.hold.id, 300_000);
    // Act
    now = new Date('2026-11-01T00:05:00.000Z');
    const first = await w.credits.sweepExpired();
    const again = await w.credits.sweepExpired();
    // Assess
    expect(first.expired).toBe(1);
    expect(again.expired).toBe(0);
    expect((await w.store.getHold(short.hold.id))?.status).toBe('expired');
    expect((await w.store.getHold(long.hold.id))?.status).toBe('open');
    expect(await balanceOf(w, facilityAccount(f.id, 'reserved'))).toBe(200_000);
    expect(await balanceOf(w, facilityAccount(f.id, 'available'))).toBe(1_250_000 - 200_000 - 300_000);
    // A settle that arrives after the sweeper released the hold is refused, not double-counted.
    expect(await w.credits.settle(short.hold.id, 50_000)).toMatchObject({ ok: false, code: 'hold_closed' });
  });

  it.each([
    ['zero', 0],
    ['negative', -5],
    ['fractional', 1.5],
    ['unsafe', 2 ** 60],
  ])('refuses a %s reservation before touching the table', async (_n, amount) => {
    const w = await world('bad');
    const { startup } = await w.fundedStartup([{ principal_micros: 1_000_000 }]);
    await expect(w.credits.reserve({ startup_id: startup.id, amount_micros: amount, idempotency_key: 'k', request_hash: 'h' })).rejects.toThrow();
  });
});

describe('general postings', () => {
  it('a reversal undoes a posting; an unbalanced or overdrawing posting changes nothing', async () => {
    // Prepare
    const w = await world('post');
    const { facilities } = await w.fundedStartup([{ principal_micros: 1_000_000 }]);
    const f = facilities[0]!;
    const mk = (id: string, lines: Posting['lines']): Posting => ({ id, kind: 'reversal', lines, created_at: nowIso(), refs: {} });
    // Act
    const move = await w.store.post(mk(derivedId('pst', 'm'), transfer(facilityAccount(f.id, 'available'), facilityAccount(f.id, 'spent'), 1_000)));
    const back = await w.store.post(mk(derivedId('pst', 'r'), transfer(facilityAccount(f.id, 'spent'), facilityAccount(f.id, 'available'), 1_000)));
    const overdraw = await w.store.post(mk(derivedId('pst', 'o'), transfer(facilityAccount(f.id, 'spent'), facilityAccount(f.id, 'available'), 1)));
    const replay = await w.store.post(mk(derivedId('pst', 'm'), transfer(facilityAccount(f.id, 'available'), facilityAccount(f.id, 'spent'), 1_000)));
    // Assess
    expect(move).toEqual({ ok: true, replayed: false });
    expect(back).toEqual({ ok: true, replayed: false });
    expect(overdraw).toEqual({ ok: false, code: 'exceeds_credit' });
    expect(replay).toEqual({ ok: true, replayed: true });
    expect(await balanceOf(w, facilityAccount(f.id, 'spent'))).toBe(0);
    expect((await w.store.listLines(facilityAccount(f.id, 'spent'), 100)).items.map((l) => l.amount_micros)).toEqual([1_000, -1_000]);
    expect(await auditAll(w.store, ACCOUNT_SHARDS)).toMatchObject({ ok: true, balance_sum_micros: 0 });
  });
});
