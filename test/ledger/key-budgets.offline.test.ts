/** Key budgets that reset (SPEC §12, key-budgets.ts): the period a take falls in, its slot, and the terms a key may have. */
import { describe, expect, it } from 'vitest';
import { budgetSlot, checkBudgetTerms, isLow, parseBudgetSlot, periodOfId, periodWindow } from '../../packages/core/src/index.js';

const SHA = 'ab'.repeat(32);

describe('budget periods', () => {
  it('a day runs from UTC midnight to the next', () => {
    // Act
    const w = periodWindow('daily', new Date('2027-12-31T23:59:59.999Z'));
    // Assess
    expect(w).toEqual({ id: 'D2027-12-31', starts_at: '2027-12-31T00:00:00.000Z', resets_at: '2028-01-01T00:00:00.000Z' });
  });

  it('a week starts on Monday, also across a year end', () => {
    // Act: a Sunday, and the Monday after it
    const sunday = periodWindow('weekly', new Date('2028-01-02T12:00:00Z'));
    const monday = periodWindow('weekly', new Date('2028-01-03T00:00:00Z'));
    // Assess
    expect(sunday).toEqual({ id: 'W2027-12-27', starts_at: '2027-12-27T00:00:00.000Z', resets_at: '2028-01-03T00:00:00.000Z' });
    expect(monday.id).toBe('W2028-01-03');
  });

  it('a month resets on the 1st, February included', () => {
    // Act
    const feb = periodWindow('monthly', new Date('2028-02-29T23:00:00Z'));
    // Assess
    expect(feb).toEqual({ id: 'M2028-02', starts_at: '2028-02-01T00:00:00.000Z', resets_at: '2028-03-01T00:00:00.000Z' });
    expect(periodOfId(feb.id)).toBe('monthly');
  });
});

describe('budget slots', () => {
  it('a lifetime budget counts on the key; a period budget on the period, with its whole budget', () => {
    // Act
    const lifetime = budgetSlot({ key_sha256: SHA, budget_micros: 5_000, budget_period: null }, new Date('2027-06-01T00:00:00Z'));
    const daily = budgetSlot({ key_sha256: SHA, budget_micros: 5_000, budget_period: 'daily' }, new Date('2027-06-01T00:00:00Z'))!;
    const none = budgetSlot({ key_sha256: SHA, budget_micros: null, budget_period: null }, new Date());
    // Assess
    expect(lifetime).toBe(SHA);
    expect(parseBudgetSlot(daily)).toEqual({ key_sha256: SHA, period_id: 'D2027-06-01', budget_micros: 5_000 });
    expect(none).toBeNull();
  });

  it('a take a millisecond before midnight and one at midnight count in different slots', () => {
    // Act
    const k = { key_sha256: SHA, budget_micros: 5_000, budget_period: 'daily' as const };
    // Assess
    expect(budgetSlot(k, new Date('2027-06-01T23:59:59.999Z'))).not.toBe(budgetSlot(k, new Date('2027-06-02T00:00:00.000Z')));
  });

  it('refuses a string that is not a slot', () => {
    // Assess
    expect(() => parseBudgetSlot(`${SHA}:X2027:5`)).toThrow(/not a budget slot/);
  });
});

describe('budget terms', () => {
  it('a period or a soft threshold needs a budget, and the threshold lies below it', () => {
    // Act
    const noBudget = checkBudgetTerms({ budget_period: 'daily' });
    const softAlone = checkBudgetTerms({ budget_soft_micros: 10 });
    const softAtBudget = checkBudgetTerms({ budget_micros: 10, budget_soft_micros: 10 });
    const fine = checkBudgetTerms({ budget_micros: 10, budget_period: 'weekly', budget_soft_micros: 9 });
    // Assess
    expect(noBudget).toMatchObject({ ok: false, field: 'budget_period' });
    expect(softAlone).toMatchObject({ ok: false, field: 'budget_soft_micros' });
    expect(softAtBudget).toMatchObject({ ok: false, field: 'budget_soft_micros' });
    expect(fine).toEqual({ ok: true });
  });

  it('a slot is low once what was taken in it reaches the soft threshold', () => {
    // Assess
    const use = { period_id: 'D2027-06-01', budget_micros: 100, budget_left_micros: 40, resets_at: null, low_told_at: null };
    expect(isLow(use, 60)).toBe(true);
    expect(isLow(use, 61)).toBe(false);
  });
});
