/** Offline: the ledger's pure rules, table-driven over valid and invalid inputs. No DynamoDB. */
import { describe, expect, it } from 'vitest';
import {
  InvariantError, addMonthsUtc, checkPosting, closePosting, divHalfEven, grantFor, mergeLines, mulDivHalfEven, newFacility, planAllocation,
  rateToBps, recoveryStatement, splitSettlement, transfer, type Facility, type Hold, type Posting,
  budgetOnClose, budgetOnReserve, lineRefusal, sameClose, sameLines, sameReservation, spendOf,
} from '../../packages/core/src/index.js';

const posting = (lines: Posting['lines']): Posting => ({ id: 'p1', kind: 'grant', lines, created_at: '2026-01-01T00:00:00.000Z', refs: {} });

describe('checkPosting (I1: lines sum to zero)', () => {
  it.each([
    ['two balanced lines', [{ account: 'a', amount_micros: -5 }, { account: 'b', amount_micros: 5 }]],
    ['three balanced lines', [{ account: 'a', amount_micros: -7 }, { account: 'b', amount_micros: 3 }, { account: 'c', amount_micros: 4 }]],
  ])('accepts %s', (_name, lines) => {
    // Prepare / Act
    const p = checkPosting(posting(lines));
    // Assess
    expect(p.lines.reduce((s, l) => s + l.amount_micros, 0)).toBe(0);
  });

  it.each([
    ['an unbalanced posting', [{ account: 'a', amount_micros: -5 }, { account: 'b', amount_micros: 4 }], /sum to -1/],
    ['a single line', [{ account: 'a', amount_micros: 0 }], /at least two lines/],
    ['a zero line', [{ account: 'a', amount_micros: 0 }, { account: 'b', amount_micros: 0 }], /zero line/],
    ['the same account twice', [{ account: 'a', amount_micros: -1 }, { account: 'a', amount_micros: 1 }], /appears twice/],
    ['a fractional amount', [{ account: 'a', amount_micros: -1.5 }, { account: 'b', amount_micros: 1.5 }], /safe integer/],
    ['an unsafe amount', [{ account: 'a', amount_micros: -(2 ** 60) }, { account: 'b', amount_micros: 2 ** 60 }], /safe integer/],
    ['too many lines', Array.from({ length: 34 }, (_, i) => ({ account: `a${i}`, amount_micros: i % 2 ? 1 : -1 })), /at most 32 lines/],
  ])('refuses %s', (_name, lines, message) => {
    expect(() => checkPosting(posting(lines))).toThrow(message);
  });

  it('transfer of zero yields no lines; mergeLines nets accounts and drops zeros', () => {
    expect(transfer('a', 'b', 0)).toEqual([]);
    expect(mergeLines([...transfer('a', 'b', 5), ...transfer('b', 'a', 5), ...transfer('a', 'c', 2)])).toEqual([
      { account: 'a', amount_micros: -2 },
      { account: 'c', amount_micros: 2 },
    ]);
  });
});

describe('integer money', () => {
  it.each([
    [5n, 2n, 2n], // 2.5 → 2 (even)
    [7n, 2n, 4n], // 3.5 → 4 (even)
    [9n, 4n, 2n], // 2.25 → 2
    [11n, 4n, 3n], // 2.75 → 3
    [0n, 3n, 0n],
  ])('divHalfEven(%s, %s) = %s', (n, d, q) => expect(divHalfEven(n, d)).toBe(q));

  it.each([
    [1.25, 12_500],
    [1.5, 15_000],
    [1.3333, 13_333],
  ])('rateToBps(%s) = %s', (rate, bps) => expect(rateToBps(rate)).toBe(bps));

  it('refuses a rate with more than 4 decimals rather than rounding it', () => expect(() => rateToBps(1.33333)).toThrow(InvariantError));

  it.each([
    [1_000_000, 12_500, 1_250_000],
    [1_000_001, 12_500, 1_250_001], // floor(1,250,001.25)
    [3, 13_333, 3], // floor(3.9999)
    [100_000_000_000_000, 15_000, 150_000_000_000_000],
  ])('grant floor(%s × %s bps) = %s', (principal, bps, grant) => expect(grantFor(principal, bps)).toBe(grant));

  it.each([12_499, 15_001])('refuses a multiplier of %s bps', (bps) => expect(() => grantFor(1_000_000, bps)).toThrow(/outside/));

  it('mulDivHalfEven rounds exactly at the last step', () => {
    expect(mulDivHalfEven(1, 1, 2)).toBe(0);
    expect(mulDivHalfEven(3, 1, 2)).toBe(2);
    // The product (9,998,999,999,990,001) is past 2^53: only exact integer arithmetic gets the last micro right.
    expect(mulDivHalfEven(999_999_999_999, 9_999, 10_000)).toBe(999_899_999_999);
    expect(mulDivHalfEven(5_000_000_000_001, 5_000, 10_000)).toBe(2_500_000_000_000); // .5 → even
  });
});

describe('facilities', () => {
  it.each([
    ['2026-01-31T10:00:00.000Z', 1, '2026-02-28T10:00:00.000Z'],
    ['2028-01-31T10:00:00.000Z', 1, '2028-02-29T10:00:00.000Z'],
    ['2026-11-21T00:00:00.000Z', 12, '2027-11-21T00:00:00.000Z'],
    ['2026-05-31T00:00:00.000Z', 4, '2026-09-30T00:00:00.000Z'],
  ])('term end of %s + %s months is %s', (start, months, end) => expect(addMonthsUtc(start, months)).toBe(end));

  it('opening grants floor(principal × multiplier) from the funding account', () => {
    const { facility, grant } = newFacility('fac_x', { lender_id: 'len_a', startup_id: 'stu_a', principal_micros: 1_000_003, multiplier_bps: 13_333, term_months: 6, origination_fee_bps: 250, servicing_fee_bps: 75 }, '2026-01-01T00:00:00.000Z');
    expect(facility.granted_micros).toBe(1_333_303); // floor(1,333,303.9999)
    expect(facility.origination_fee_micros).toBe(25_000); // 25,000.075 → 25,000
    expect(grant.lines).toEqual([
      { account: 'facility:fac_x:funding', amount_micros: -1_333_303 },
      { account: 'facility:fac_x:available', amount_micros: 1_333_303 },
    ]);
  });

  it('recovery values unspent credit back at principal, half to even', () => {
    const f = { id: 'fac_x', principal_micros: 10_000_000, multiplier_bps: 12_500 } as Facility;
    const s = recoveryStatement(f, 9_500_000, '2026-01-01T00:00:00.000Z');
    expect(s.recovered_principal_micros).toBe(7_600_000);
    expect(s.recovery_ratio_ppm).toBe(760_000);
    expect(recoveryStatement({ ...f, multiplier_bps: 15_000 } as Facility, 5, 'x').recovered_principal_micros).toBe(3); // 3.333 → 3
    expect(recoveryStatement({ ...f, multiplier_bps: 15_000 } as Facility, 3, 'x').recovered_principal_micros).toBe(2); // 2.0
  });
});

describe('planning a hold across facilities (SPEC §3 order)', () => {
  const fac = (id: string, term_end: string, status: Facility['status'] = 'active') => ({ id, term_end, status, created_at: '2026-01-01T00:00:00.000Z' }) as Facility;
  const late = fac('fac_late', '2027-06-01T00:00:00.000Z');
  const early = fac('fac_early', '2026-06-01T00:00:00.000Z');

  it.each([
    ['fits in the earliest', [[late, 100], [early, 100]], 60, { ok: true, allocations: [{ facility_id: 'fac_early', amount_micros: 60 }] }],
    ['spills into the next', [[late, 100], [early, 100]], 150, { ok: true, allocations: [{ facility_id: 'fac_early', amount_micros: 100 }, { facility_id: 'fac_late', amount_micros: 50 }] }],
    ['skips an empty facility', [[late, 100], [early, 0]], 10, { ok: true, allocations: [{ facility_id: 'fac_late', amount_micros: 10 }] }],
    ['short of credit', [[late, 100], [early, 100]], 201, { ok: false, code: 'exceeds_credit' }],
    ['blocked by a freeze', [[late, 100], [fac('fac_f', '2026-01-02T00:00:00.000Z', 'frozen'), 100]], 150, { ok: false, code: 'facility_frozen' }],
    ['frozen credit would not have covered it either', [[late, 10], [fac('fac_f', '2026-01-02T00:00:00.000Z', 'frozen'), 10]], 50, { ok: false, code: 'exceeds_credit' }],
    ['recovered facilities never pay', [[fac('fac_r', '2026-01-02T00:00:00.000Z', 'recovered'), 100]], 1, { ok: false, code: 'exceeds_credit' }],
  ] as const)('%s', (_name, facilities, amount, expected) => {
    const result = planAllocation(facilities.map(([facility, available_micros]) => ({ facility, available_micros })), amount);
    expect(result).toMatchObject(expected);
  });

  it('refuses a non-positive hold', () => expect(() => planAllocation([], 0)).toThrow(InvariantError));
});

describe('closing a hold', () => {
  const hold: Hold = {
    id: 'hold_1', startup_id: 'stu_1', amount_micros: 150, status: 'open', created_at: 'x', expires_at: 'y', request_hash: 'h', settled_micros: null, closed_at: null, refs: {}, captured_micros: 0,
    allocations: [{ facility_id: 'A', amount_micros: 100 }, { facility_id: 'B', amount_micros: 50 }],
  };

  it.each([
    [0, [0, 0]],
    [70, [70, 0]],
    [100, [100, 0]],
    [120, [100, 20]],
    [150, [100, 50]],
  ])('settling %s splits %j in draw order', (settled, split) => {
    expect(splitSettlement(hold.allocations, settled).map((a) => a.amount_micros)).toEqual(split);
    const p = closePosting(hold, settled, 'settle', 'pst_1', '2026-01-01T00:00:00.000Z');
    const by = Object.fromEntries(p.lines.map((l) => [l.account, l.amount_micros]));
    expect(by['facility:A:reserved']).toBe(-100);
    expect(by['facility:B:reserved']).toBe(-50);
    expect((by['facility:A:spent'] ?? 0) + (by['facility:B:spent'] ?? 0)).toBe(settled);
    expect((by['facility:A:available'] ?? 0) + (by['facility:B:available'] ?? 0)).toBe(150 - settled);
  });

  it.each([-1, 151])('refuses to settle %s on a hold of 150', (settled) => expect(() => splitSettlement(hold.allocations, settled)).toThrow(InvariantError));
});

describe('what core decides for the store (the adapter only turns it into conditioned items)', () => {
  const hold = (refs: Record<string, string>): Hold => ({
    id: 'h1', startup_id: 's1', amount_micros: 100, allocations: [{ facility_id: 'f1', amount_micros: 100 }], status: 'open',
    created_at: '2026-01-01T00:00:00.000Z', expires_at: '2026-01-01T00:10:00.000Z', request_hash: 'x', settled_micros: null, closed_at: null, refs, captured_micros: 0,
  });

  it.each([
    ['a frozen account under a reservation line', { account: 'a', amount_micros: -5, requires_unfrozen: true }, { balance_micros: 10, frozen: true }, 'facility_frozen'],
    ['a frozen account under a line that does not need it unfrozen', { account: 'a', amount_micros: -5 }, { balance_micros: 10, frozen: true }, 'balance_changed'],
    ['a debit larger than the balance', { account: 'a', amount_micros: -11 }, { balance_micros: 10, frozen: false }, 'exceeds_credit'],
    ['a balance that moved from the pinned one', { account: 'a', amount_micros: -5 }, { balance_micros: 10, frozen: false }, 'balance_changed'],
  ] as const)('lineRefusal: %s', (_name, line, account, code) => {
    expect(lineRefusal(line, account)).toBe(code);
  });

  it('spendOf: credits of facility spent accounts, in line order; debits and other accounts are not spend', () => {
    const p = posting([
      { account: 'facility:f2:spent', amount_micros: 30 },
      { account: 'facility:f1:reserved', amount_micros: -100 },
      { account: 'facility:f1:spent', amount_micros: 70 },
      { account: 'facility:f3:spent', amount_micros: -1 },
      { account: 'facility:f1:available', amount_micros: 1 },
    ]);
    expect(spendOf(p)).toEqual([{ facility_id: 'f2', amount_micros: 30 }, { facility_id: 'f1', amount_micros: 70 }]);
  });

  it('a hold under a key budget takes its amount on reserve and returns the unspent part on close; without one, nothing', () => {
    expect(budgetOnReserve(hold({ budget_key: 'k' }))).toEqual({ slot: 'k', take: 100 });
    expect(budgetOnClose(hold({ budget_key: 'k' }), 60)).toEqual({ slot: 'k', refund: 40, spent: 60 });
    expect(budgetOnReserve(hold({}))).toBeNull();
    expect(budgetOnClose(hold({}), 60)).toBeNull();
  });

  it('replays: same body, same close, same lines; anything else is a conflict', () => {
    const h = hold({});
    expect(sameReservation(h, { request_hash: 'x' })).toBe(true);
    expect(sameReservation(h, { request_hash: 'y' })).toBe(false);
    const closed: Hold = { ...h, status: 'settled', settled_micros: 60 };
    expect(sameClose(closed, 'settled', 60)).toBe(true);
    expect(sameClose(closed, 'settled', 61)).toBe(false);
    expect(sameClose(closed, 'released', 60)).toBe(false);
    const a = posting(transfer('a', 'b', 5));
    expect(sameLines(a, posting(transfer('a', 'b', 5)))).toBe(true);
    expect(sameLines(a, posting(transfer('a', 'b', 6)))).toBe(false);
  });
});
