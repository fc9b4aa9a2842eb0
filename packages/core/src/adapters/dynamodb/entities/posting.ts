/** Posting entity: the whole double-entry transaction, keyed by its (idempotency-derived) id. */
import type { Posting } from '../../../ledger.js';
import type { Key } from './keys.js';

export const postingKey = (id: string): Key => ({ pk: `POSTING#${id}`, sk: 'POSTING' });

export function postingItem(p: Posting) {
  return { ...postingKey(p.id), type: 'posting', id: p.id, kind: p.kind, lines: p.lines, refs: p.refs, created_at: p.created_at };
}

export function toPosting(item: Record<string, unknown>): Posting {
  return {
    id: item.id as string,
    kind: item.kind as Posting['kind'],
    lines: item.lines as Posting['lines'],
    refs: (item.refs ?? {}) as Record<string, string>,
    created_at: item.created_at as string,
  };
}
