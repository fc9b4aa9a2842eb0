/**
 * `key.budget_low` (SPEC §12): the covenant-check schedule walks the keys that have a soft threshold (each
 * watched from its creation until it is revoked) and tells the key's startup once per period when the
 * period's spend reaches it. Told once as credits.low is, but with the mark on the budget slot itself: the
 * event's id is the key and the period, so a tell repeated after a failed mark is the same event.
 */
import { now } from './clock.js';
import type { Clock } from './credits.js';
import { budgetSlot, isLow, type BudgetPeriod, type BudgetUse } from './key-budgets.js';
import { forEachInPartitions } from './partitions.js';

export const KEY_WATCH_SHARDS = 16;
const WATCH_PAGE = 100;
const MAX_PAGES_PER_SHARD = 100;

/** A key with a soft threshold, as it was created (its budget terms never change). */
export interface KeyBudgetWatch {
  key_id: string;
  key_sha256: string;
  startup_id: string;
  budget_micros: number;
  budget_soft_micros: number;
  budget_period: BudgetPeriod | null;
}

export interface KeyBudgetAlertStore {
  listKeyBudgetWatches(shard: number, limit: number, cursor?: string): Promise<{ items: KeyBudgetWatch[]; cursor: string | null }>;
  /** The slot's budget and what is left (a period no take has reached yet: all of it). */
  getBudgetUse(slot: string, at: Date): Promise<BudgetUse>;
  /** Marks the slot told; false when it already was. */
  markBudgetLowTold(slot: string, at: string): Promise<boolean>;
}

/** Tells the startup its key's budget is low; throws to be retried next run. */
export type BudgetLowTeller = (w: KeyBudgetWatch, use: BudgetUse) => Promise<void>;

export class KeyBudgetAlerts {
  constructor(
    private readonly store: KeyBudgetAlertStore,
    private readonly clock: Clock = now,
  ) {}

  /** One run over every watched key (bounded by the shards' pages); how many were told, how many failed. */
  async checkAll(tell: BudgetLowTeller): Promise<{ keys: number; told: number; failures: number }> {
    const report = { keys: 0, told: 0, failures: 0 };
    await forEachInPartitions(KEY_WATCH_SHARDS, MAX_PAGES_PER_SHARD, (shard, cursor) => this.store.listKeyBudgetWatches(shard, WATCH_PAGE, cursor), async (w) => {
      report.keys++;
      const at = this.clock();
      const slot = budgetSlot(w, at)!;
      try {
        const use = await this.store.getBudgetUse(slot, at);
        if (use.low_told_at !== null || !isLow(use, w.budget_soft_micros)) return;
        await tell(w, use);
        report.told++;
        await this.store.markBudgetLowTold(slot, at.toISOString());
      } catch {
        report.failures++;
      }
    });
    return report;
  }
}
