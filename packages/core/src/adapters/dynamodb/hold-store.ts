/**
 * HoldStore on the table. Reserving is one transaction: the hold (create-only, its id from the idempotency
 * key), the reserve posting, and the key budget's take. Closing is one: the hold's open → closed, the
 * close posting, the burn buckets, the budget's refund and, for a request, its usage items. Core decides
 * every amount (holds.ts); this turns them into conditioned items and reads back why one was refused.
 *
 * A capture (a booking's delivered hour) is one too: the hold's captured total, conditioned on the one it was
 * read with, the capture posting, the burn buckets and the hour's usage items. Leases have their own store.
 */
import { budgetOnClose, budgetOnReserve, sameClose, sameReservation, type Hold } from '../../holds.js';
import { spendOf, type Posting } from '../../ledger.js';
import { InvariantError } from '../../money.js';
import type { CaptureResult, CloseResult, HoldStore, ReserveResult } from '../../store.js';
import type { UsageRecord } from '../../usage.js';
import { budgetItem } from './budget-writes.js';
import { holdItem, holdKey, openHoldShardKey, toHold } from './entities/hold.js';
import { postingKey } from './entities/posting.js';
import { spendBucketUpdate } from './entities/spend-bucket.js';
import { closedAccountRefused, postingItems, takeRefusal } from './posting-writes.js';
import type { Table, Tagged } from './table.js';
import { transact } from './transact.js';
import { getRequest, listUsage, usageItems } from './usage-store.js';

export class DynamoHoldStore implements HoldStore {
  constructor(private readonly table: Table) {}

  /** One hourly burn bucket per facility the posting adds spend to. */
  private spendItems(posting: Posting, at: string): Tagged[] {
    return spendOf(posting).map((s) => ({ tag: 'spend', item: spendBucketUpdate(this.table.name, s.facility_id, at, s.amount_micros, at) }));
  }

  async reserve(hold: Hold, posting: Posting): Promise<ReserveResult> {
    const tagged: Tagged[] = [{ item: this.table.put(holdItem(hold)), tag: 'hold' }, ...postingItems(this.table, posting), ...budgetItem(this.table, budgetOnReserve(hold))];
    const out = await transact(this.table.doc, tagged.map((t) => t.item));
    if (out.ok) return { ok: true, hold, replayed: false };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    if (out.failed.has(0) || out.failed.has(1)) {
      // The hold id derives from the idempotency key: the first request with this key got here before.
      const first = await this.getHold(hold.id);
      if (!first) throw new InvariantError(`hold ${hold.id} reported as existing but not found`);
      return sameReservation(first, hold) ? { ok: true, hold: first, replayed: true } : { ok: false, code: 'idempotency_conflict' };
    }
    return { ok: false, code: await takeRefusal(this.table, tagged, out.failed) };
  }

  /** The hold's open → closed, conditioned on it still being open (the sweeper and a settle may race). */
  private closeItem(hold: Hold, status: 'settled' | 'released' | 'expired', settledMicros: number, at: string): Tagged {
    return {
      tag: 'hold',
      item: {
        Update: {
          TableName: this.table.name,
          Key: holdKey(hold.id),
          UpdateExpression: 'SET #s = :s, settled_micros = :settled, closed_at = :at REMOVE gsi3pk, gsi3sk',
          ConditionExpression: '#s = :open',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':s': status, ':settled': settledMicros, ':at': at, ':open': 'open' },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    };
  }

  async closeHold(hold: Hold, posting: Posting | null, status: 'settled' | 'released' | 'expired', settledMicros: number, at: string, usage?: UsageRecord): Promise<CloseResult> {
    const tagged: Tagged[] = [
      this.closeItem(hold, status, settledMicros, at),
      ...(posting ? [...postingItems(this.table, posting), ...this.spendItems(posting, at)] : []),
      ...budgetItem(this.table, budgetOnClose(hold, settledMicros)),
      ...(usage ? usageItems(this.table, usage) : []),
    ];
    const out = await transact(this.table.doc, tagged.map((t) => t.item));
    const closed: Hold = { ...hold, status, settled_micros: settledMicros, closed_at: at };
    if (out.ok) return { ok: true, hold: closed, replayed: false };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    if (out.failed.has(0) || (posting !== null && out.failed.has(1))) {
      const now = await this.getHold(hold.id);
      if (!now) return { ok: false, code: 'hold_not_found' };
      // Same close asked again (a retry after a lost reply): the first result stands.
      if (sameClose(now, status, settledMicros)) return { ok: true, hold: now, replayed: true };
      return { ok: false, code: 'hold_closed' };
    }
    if (closedAccountRefused(tagged, out.failed)) return { ok: false, code: 'period_closed' };
    throw new InvariantError(`closing hold ${hold.id} failed on ${[...out.failed.keys()].map((i) => tagged[i]?.tag).join(', ')}`);
  }

  async captureHold(hold: Hold, posting: Posting, amountMicros: number, usage: UsageRecord): Promise<CaptureResult> {
    const tagged: Tagged[] = [
      {
        tag: 'hold',
        item: {
          Update: {
            TableName: this.table.name,
            Key: holdKey(hold.id),
            UpdateExpression: 'SET captured_micros = :after',
            // Sequential: conditioned on the captures the hold was read with (none: the attribute is absent or 0).
            ConditionExpression: hold.captured_micros === 0 ? '#s = :open AND (attribute_not_exists(captured_micros) OR captured_micros = :before)' : '#s = :open AND captured_micros = :before',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':open': 'open', ':before': hold.captured_micros, ':after': hold.captured_micros + amountMicros },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      },
      ...postingItems(this.table, posting),
      ...this.spendItems(posting, posting.created_at),
      ...usageItems(this.table, usage),
    ];
    const out = await transact(this.table.doc, tagged.map((t) => t.item));
    if (out.ok) return { ok: true, hold: { ...hold, captured_micros: hold.captured_micros + amountMicros }, replayed: false };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    if (out.failed.has(0) || out.failed.has(1)) {
      const now = await this.getHold(hold.id);
      if (!now) return { ok: false, code: 'hold_not_found' };
      // This capture landed before (a retry after a lost reply): its posting exists.
      if (out.failed.has(1) || (await this.table.get(postingKey(posting.id)))) return { ok: true, hold: now, replayed: true };
      return { ok: false, code: now.status === 'open' ? 'hold_changed' : 'hold_closed' };
    }
    if (closedAccountRefused(tagged, out.failed)) return { ok: false, code: 'period_closed' };
    throw new InvariantError(`capturing on hold ${hold.id} failed on ${[...out.failed.keys()].map((i) => tagged[i]?.tag).join(', ')}`);
  }

  async getHold(id: string) {
    const i = await this.table.get(holdKey(id));
    return i ? toHold(i) : null;
  }

  async listExpiredHolds(shard: number, nowIso: string, limit: number): Promise<Hold[]> {
    return (await this.table.openByExpiry(openHoldShardKey(shard), nowIso, limit)).map(toHold);
  }

  listUsage(startupId: string, fromDay: string, toDay: string) {
    return listUsage(this.table, startupId, fromDay, toDay);
  }

  getRequest(startupId: string, requestId: string) {
    return getRequest(this.table, startupId, requestId);
  }
}
