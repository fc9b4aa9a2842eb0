/** Line entity: one append-only ledger entry on one account. Never updated, never deleted (I5). */
import type { Posting, PostingLine } from '../../../ledger.js';
import type { LedgerLine } from '../../../store.js';
import type { Key } from './keys.js';

export const lineKey = (account: string, createdAt: string, postingId: string): Key => ({
  pk: `ACCT#${account}`,
  sk: `LINE#${createdAt}#${postingId}`,
});
export const LINE_PREFIX = 'LINE#';

export function lineItem(p: Posting, l: PostingLine) {
  return {
    ...lineKey(l.account, p.created_at, p.id),
    type: 'line',
    account: l.account,
    posting_id: p.id,
    kind: p.kind,
    amount_micros: l.amount_micros,
    created_at: p.created_at,
  };
}

export function toLine(item: Record<string, unknown>): LedgerLine {
  return {
    account: item.account as string,
    posting_id: item.posting_id as string,
    kind: item.kind as string,
    amount_micros: item.amount_micros as number,
    created_at: item.created_at as string,
  };
}
