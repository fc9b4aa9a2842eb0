/**
 * Idempotency on the table: a claim is written in the same transaction as what it guards, create-only, so
 * the first request wins and a replay finds the stored reply. Shared by every part that creates.
 */
import type { IdempotencyClaim, IdempotencyStore, Idempotent } from '../../store.js';
import { InvariantError } from '../../money.js';
import { nowIso } from '../../clock.js';
import { idempotencyItem, idempotencyKey } from './entities/idempotency.js';
import { ContentionError, type Table, type Tagged } from './table.js';
import { transact } from './transact.js';

export class DynamoIdempotency implements IdempotencyStore {
  constructor(private readonly table: Table) {}

  /** The claim's record, to put first in a transaction (index 0, so its refusal reads as a replay). */
  claimItem(claim: IdempotencyClaim, at: string): Tagged {
    return { item: this.table.put(idempotencyItem(claim, at)), tag: 'idempotency' };
  }

  async findReplay(claim: Omit<IdempotencyClaim, 'status_code' | 'reply'>): Promise<Idempotent<never> | null> {
    const rec = await this.table.get(idempotencyKey(claim.scope, claim.key));
    if (!rec) return null;
    if (rec.request_hash !== claim.request_hash) return { ok: false, code: 'idempotency_conflict' };
    return { ok: true, replayed: true, status_code: rec.status_code as number, reply: JSON.parse(rec.reply as string) };
  }

  async claim(claim: IdempotencyClaim): Promise<Idempotent<true>> {
    const out = await transact(this.table.doc, [this.claimItem(claim, nowIso()).item]);
    if (out.ok) return { ok: true, replayed: false, value: true };
    if (out.reason === 'contention') throw new ContentionError('the store is busy; retry');
    return this.replayOf(claim);
  }

  /** The replay of a claim whose record refused a write: it exists, so not finding it is a broken invariant. */
  async replayOf(claim: IdempotencyClaim): Promise<Idempotent<never>> {
    const found = await this.findReplay(claim);
    if (!found) throw new InvariantError(`idempotency record ${claim.scope}/${claim.key} vanished`);
    return found;
  }

  /** A create guarded by an optional idempotency claim: first wins, replays get the stored reply. */
  async create<T>(value: T, tagged: Tagged[], idem: IdempotencyClaim | undefined, at: string): Promise<Idempotent<T>> {
    const all = idem ? [this.claimItem(idem, at), ...tagged] : tagged;
    const out = await transact(this.table.doc, all.map((t) => t.item));
    if (out.ok) return { ok: true, replayed: false, value };
    if (out.reason === 'contention') throw new ContentionError('the store is busy; retry');
    if (idem && out.failed.has(0)) return this.replayOf(idem);
    throw new InvariantError(`create failed on ${[...out.failed.keys()].map((i) => all[i]?.tag).join(', ')}`);
  }
}
