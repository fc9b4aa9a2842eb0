/**
 * Closing leases: by their holder when done with them, or by the sweeper when a holder vanished (SPEC §2).
 * Either way the close reads the lease and its flushes, builds the posting, the record pages and the shared
 * buckets (lease.ts) and writes them in one transaction that also takes the next flush's place, so a close
 * and a late flush cannot both land: whichever is second is refused, and a refused flush's requests stay
 * unbilled (never billed twice).
 */
import { derivedId } from '../ids.js';
import { now as clockNow } from '../clock.js';
import type { LeaseStore } from '../store.js';
import { closeOf, LEASE_SWEEP_GRACE_S, spentOf, type Lease } from './lease.js';
import { OPEN_HOLD_SHARDS as LEASE_SHARDS_COUNT } from '../../../../infra/table.js';

/** A close re-reads and retries this often when flushes or contention get in its way. */
const MAX_CLOSE_ATTEMPTS = 5;
export const MAX_LEASE_SWEEP_PER_SHARD = 100;

export type LeaseCloseOutcome =
  | { ok: true; replayed: boolean; lease: Lease; spent_micros: number; returned_micros: number }
  | { ok: false; code: 'lease_not_found' | 'contention' };

export interface SweepReport {
  /** Leases the sweeper closed (their holders vanished or stopped without closing). */
  closed: number;
  skipped: number;
  /** Credit those leases gave back to available, and what their journals billed. */
  returned_micros: number;
  billed_micros: number;
}

export class LeaseCloser {
  constructor(
    private readonly store: LeaseStore,
    private readonly clock: () => Date = clockNow,
    /** How long after a lease's expiry the sweeper closes it: room for its holder's last flush. */
    private readonly graceS: number = LEASE_SWEEP_GRACE_S,
  ) {}

  async close(leaseId: string): Promise<LeaseCloseOutcome> {
    let rebookTo: string | null = null;
    for (let attempt = 0; attempt < MAX_CLOSE_ATTEMPTS; attempt++) {
      const found = await this.store.getLease(leaseId);
      if (!found) return { ok: false, code: 'lease_not_found' };
      const { lease, journal, records } = found;
      const spentSoFar = spentOf(journal);
      if (lease.status === 'closed') {
        // A close whose buckets did not all fit in its transaction (or were cut short) is finished here.
        if (found.buckets_pending) await this.store.finishClose(leaseId);
        return { ok: true, replayed: true, lease, spent_micros: spentSoFar, returned_micros: lease.amount_micros - spentSoFar };
      }
      const at = this.clock().toISOString();
      const target = rebookTo;
      // A month already settled takes no more accruals: what is late is posted in the month the lease closes.
      const c = closeOf(lease, journal, records, at, derivedId('pst', lease.id, 'close'), target ? (p) => (p < target ? target : p) : undefined);
      const r = await this.store.closeLease(lease, lease.flush_seq, c, at);
      if (r.ok) return { ok: true, replayed: r.replayed, lease: { ...lease, status: 'closed' }, spent_micros: c.spent_micros, returned_micros: lease.amount_micros - c.spent_micros };
      if (r.code === 'period_closed') rebookTo = at.slice(0, 7);
    }
    return { ok: false, code: 'contention' };
  }

  /** Closes every open lease past its sweep time (its holder is gone or stopped). Bounded per run. */
  async sweep(limitPerShard = MAX_LEASE_SWEEP_PER_SHARD): Promise<SweepReport> {
    const before = new Date(this.clock().getTime() - this.graceS * 1000).toISOString();
    const report: SweepReport = { closed: 0, skipped: 0, returned_micros: 0, billed_micros: 0 };
    for (let shard = 0; shard < LEASE_SHARDS_COUNT; shard++) {
      for (const lease of await this.store.listLeasesToSweep(shard, before, limitPerShard)) {
        const r = await this.close(lease.id);
        if (r.ok && !r.replayed) {
          report.closed++;
          report.returned_micros += r.returned_micros;
          report.billed_micros += r.spent_micros;
        } else report.skipped++;
      }
    }
    return report;
  }
}
