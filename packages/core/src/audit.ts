/**
 * Ledger audit (run nightly by the ledger-audit state machine, and by the tests): for every account,
 * the cached balance equals the sum of its lines (I2); over all accounts, balances sum to zero (I3).
 */
import type { AuditStore, LedgerStore } from './store.js';

/** The audit walks accounts and their lines, and reads cached balances consistently. */
export type AuditReads = AuditStore & Pick<LedgerStore, 'getBalances'>;

export interface ShardAudit {
  shard: number;
  cursor?: string;
  accounts_checked: number;
  balance_sum_micros: number;
  mismatches: { account: string; cached_micros: number; lines_sum_micros: number }[];
}

/** Mismatches kept per shard: enough to act on, bounded so a broken ledger cannot blow up the state. */
export const MAX_MISMATCHES_KEPT = 50;
export const AUDIT_PAGE = 200;

export async function auditPage(store: AuditReads, state: ShardAudit): Promise<ShardAudit> {
  const page = await store.listAccounts(state.shard, AUDIT_PAGE, state.cursor);
  const next: ShardAudit = { shard: state.shard, accounts_checked: state.accounts_checked, balance_sum_micros: state.balance_sum_micros, mismatches: [...state.mismatches] };
  // Read the cached balances consistently, one batch a page: the index copy may lag the table.
  const balances = await store.getBalances(page.items.map((a) => a.account));
  for (const acct of page.items) {
    const cached = balances.get(acct.account)?.balance_micros ?? 0;
    const { sum_micros } = await store.sumLines(acct.account);
    next.accounts_checked++;
    next.balance_sum_micros += cached;
    if (cached !== sum_micros && next.mismatches.length < MAX_MISMATCHES_KEPT) next.mismatches.push({ account: acct.account, cached_micros: cached, lines_sum_micros: sum_micros });
  }
  if (page.cursor) next.cursor = page.cursor;
  return next;
}

export function summarize(shards: readonly ShardAudit[]) {
  const accounts = shards.reduce((s, x) => s + x.accounts_checked, 0);
  const total = shards.reduce((s, x) => s + x.balance_sum_micros, 0);
  const mismatches = shards.flatMap((x) => x.mismatches);
  return { ok: total === 0 && mismatches.length === 0, accounts_checked: accounts, balance_sum_micros: total, mismatches };
}

export async function auditAll(store: AuditReads, shards: number): Promise<ReturnType<typeof summarize>> {
  const results: ShardAudit[] = [];
  for (let shard = 0; shard < shards; shard++) {
    let state: ShardAudit = { shard, accounts_checked: 0, balance_sum_micros: 0, mismatches: [] };
    do state = await auditPage(store, state);
    while (state.cursor);
    results.push(state);
  }
  return summarize(results);
}
