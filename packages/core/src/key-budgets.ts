/**
 * Key budgets that reset (SPEC §12): a startup key's spend budget counts over its whole life (no period), or
 * per UTC day, week (from Monday) or month. A reset is nothing but a new period: each period's budget is
 * counted on an item of its own, created by the first take in it, so nothing has to run at the boundary and
 * two racing takes in a new period both see the whole budget, once.
 *
 * Where a take is counted is its **budget slot**, fixed when the money is taken and carried by the hold or
 * lease that took it (refs.budget_key, lease.budget_key): the key's sha256 alone for a lifetime budget, or
 * `<sha256>:<period id>:<budget micros>` for a period. The refund of what a hold or lease did not spend goes
 * back to the same slot, so spend taken just before midnight is counted in the day it was taken, and the
 * new day's budget is never topped up by yesterday's refunds.
 *
 * The soft threshold: once a period's spend (taken, so reserved included) reaches `budget_soft_micros`, the
 * key's startup is told `key.budget_low`, once per period (once for a lifetime budget). The covenant-check
 * schedule evaluates the keys that have one (KeyBudgetAlerts).
 */
import { assert } from './money.js';

export type BudgetPeriod = 'daily' | 'weekly' | 'monthly';
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['daily', 'weekly', 'monthly'];

export interface PeriodWindow {
  /** `D2026-12-07`, `W2026-12-07` (the Monday it starts), `M2026-12`. */
  id: string;
  starts_at: string;
  resets_at: string;
}

const DAY_MS = 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The UTC period `at` falls in. */
export function periodWindow(kind: BudgetPeriod, at: Date): PeriodWindow {
  const midnight = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
  if (kind === 'daily') return { id: `D${day(midnight)}`, starts_at: new Date(midnight).toISOString(), resets_at: new Date(midnight + DAY_MS).toISOString() };
  if (kind === 'weekly') {
    const monday = midnight - ((at.getUTCDay() + 6) % 7) * DAY_MS;
    return { id: `W${day(monday)}`, starts_at: new Date(monday).toISOString(), resets_at: new Date(monday + 7 * DAY_MS).toISOString() };
  }
  const first = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1);
  return { id: `M${day(first).slice(0, 7)}`, starts_at: new Date(first).toISOString(), resets_at: new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1)).toISOString() };
}

/** The kind of period a period id names (its first letter). */
export function periodOfId(id: string): BudgetPeriod {
  const kind = ({ D: 'daily', W: 'weekly', M: 'monthly' } as const)[id[0] as 'D' | 'W' | 'M'];
  assert(kind !== undefined, `not a period id: ${id}`);
  return kind;
}

/** What a key's budget is: the fields of the key record that decide its slot. */
export interface KeyBudgetTerms {
  key_sha256: string;
  budget_micros: number | null;
  budget_period: BudgetPeriod | null;
}

export interface BudgetSlot {
  key_sha256: string;
  /** Null: the lifetime budget, counted on the key's own item. */
  period_id: string | null;
  /** The period's whole budget (the first take in a period starts from it); null for a lifetime slot. */
  budget_micros: number | null;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const PERIODIC_SLOT = /^([0-9a-f]{64}):([DWM]\d{4}-\d{2}(?:-\d{2})?):(\d{1,16})$/;

/** The slot a take at `at` is counted in; null when the key has no budget. */
export function budgetSlot(k: KeyBudgetTerms, at: Date): string | null {
  if (k.budget_micros === null) return null;
  if (k.budget_period === null) return k.key_sha256;
  return `${k.key_sha256}:${periodWindow(k.budget_period, at).id}:${k.budget_micros}`;
}

export function parseBudgetSlot(slot: string): BudgetSlot {
  if (SHA256_HEX.test(slot)) return { key_sha256: slot, period_id: null, budget_micros: null };
  const m = PERIODIC_SLOT.exec(slot);
  assert(m !== null, `not a budget slot: ${slot.slice(0, 100)}`);
  const budget = Number(m[3]);
  assert(Number.isSafeInteger(budget) && budget >= 0, `budget slot ${slot}: budget out of range`);
  return { key_sha256: m[1]!, period_id: m[2]!, budget_micros: budget };
}

export type BudgetTermsResult = { ok: true } | { ok: false; field: string; message: string };

/** A period and a soft threshold each need a budget; the threshold lies inside it (a threshold at the budget is never "low" before it is out). */
export function checkBudgetTerms(t: { budget_micros?: number | null; budget_period?: BudgetPeriod | null; budget_soft_micros?: number | null }): BudgetTermsResult {
  const budget = t.budget_micros ?? null;
  if (t.budget_period != null && budget === null) return { ok: false, field: 'budget_period', message: 'A budget period needs budget_micros.' };
  const soft = t.budget_soft_micros ?? null;
  if (soft === null) return { ok: true };
  if (budget === null) return { ok: false, field: 'budget_soft_micros', message: 'A soft threshold needs budget_micros.' };
  if (soft < 1 || soft >= budget) return { ok: false, field: 'budget_soft_micros', message: `The soft threshold must be at least 1 and below budget_micros (${budget}).` };
  return { ok: true };
}

/** What one slot shows: the budget, what is left of it (taken spend is gone at once), when it resets. */
export interface BudgetUse {
  period_id: string | null;
  budget_micros: number;
  budget_left_micros: number;
  resets_at: string | null;
  /** When key.budget_low was told for this slot; null until then. */
  low_told_at: string | null;
}

/** Spend (taken, so reserved included) in the slot has reached the soft threshold. */
export function isLow(use: BudgetUse, softMicros: number): boolean {
  return use.budget_micros - use.budget_left_micros >= softMicros;
}
