/**
 * BookingStore on the table. Taking a chunk of hours is one transaction: the chunk's marker (create-only, so a
 * retried take cannot take twice), a check that the booking is still placing, and per hour
 * `booked += n, free −= n` conditioned on `free >= n`: no hour is ever sold beyond what is listed, whatever runs
 * at the same time. Releasing is the mirror, conditioned on the marker (deleted in the same transaction).
 */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { chunkHours, type Booking, type BookingStatus, type BookingStore, type Quote, type ReleaseOutcome, type ShortHour, type TakeOutcome } from '../../bookings/booking.js';
import { HOUR_MS, MAX_HORIZON_DAYS, floorHour, hourChanges, hourKey, listedHours, reducesHours, type CapacityBlock, type PoolHour } from '../../bookings/blocks.js';
import type { HourReader } from '../../bookings/bookings.js';
import type { Accelerator } from '../../routing.js';
import { BOOKING_SK_PREFIX, bookingDueShardKey, bookingItem, bookingKey, capacityHourKey, capacityHoursPk, chunkKey, hourSkPrefix, providerBookingsPk, quoteItem, quoteKey, startupBookingsPk } from './entities/booking.js';
import { Table } from './table.js';
import { transact, type TransactItem } from './transact.js';
import { isConditionFailed } from './transact.js';

/** Live providers' windows are read this many at a time; a report's changed hours written this many at a time. */
const READ_CONCURRENCY = 16;
const WRITE_CONCURRENCY = 16;

/** What a provider's new blocks change in its hour items from the current hour on (planBlocks). */
export interface BlockPlan {
  changes: ReturnType<typeof hourChanges>;
  /** Some hour's listed GPUs go down: a reduction, applied at once (SPEC §6). */
  reduces: boolean;
}

export function toPoolHour(i: Record<string, unknown>): PoolHour {
  return {
    provider_id: i.provider_id as string, pool: i.pool as string, hour: i.hour as string,
    listed_gpus: i.listed_gpus as number, booked_gpus: i.booked_gpus as number, free_gpus: i.free_gpus as number,
  };
}

export class DynamoBookings implements BookingStore, HourReader {
  private readonly table: Table;

  constructor(readonly doc: DynamoDBDocumentClient, readonly tableName: string) {
    this.table = new Table(doc, tableName);
  }

  async putQuote(q: Quote): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: quoteItem(q), ConditionExpression: 'attribute_not_exists(pk)' }));
  }

  async getQuote(id: string): Promise<Quote | null> {
    return ((await this.table.get(quoteKey(id)))?.quote as Quote | undefined) ?? null;
  }

  async createBooking(b: Booking): Promise<{ created: true } | { created: false; existing: Booking }> {
    try {
      await this.doc.send(new PutCommand({ TableName: this.tableName, Item: bookingItem(b), ConditionExpression: 'attribute_not_exists(pk)' }));
      return { created: true };
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      const existing = await this.getBooking(b.id);
      if (!existing) throw err;
      return { created: false, existing };
    }
  }

  async getBooking(id: string): Promise<Booking | null> {
    return ((await this.table.get(bookingKey(id)))?.booking as Booking | undefined) ?? null;
  }

  async transition(b: Booking, from: readonly BookingStatus[], patch: Partial<Booking> & { status: BookingStatus }, at: string, startsAfter?: string): Promise<Booking | null> {
    const next: Booking = { ...b, ...patch, updated_at: at };
    const values: Record<string, unknown> = Object.fromEntries(from.map((s, i) => [`:f${i}`, s]));
    let cond = `#s IN (${from.map((_, i) => `:f${i}`).join(', ')})`;
    if (startsAfter) {
      cond += ' AND booking.#start > :after';
      values[':after'] = startsAfter;
    }
    try {
      await this.doc.send(new PutCommand({
        TableName: this.tableName, Item: bookingItem(next), ConditionExpression: cond,
        ExpressionAttributeNames: { '#s': 'status', ...(startsAfter ? { '#start': 'start' } : {}) }, ExpressionAttributeValues: values,
      }));
      return next;
    } catch (err) {
      if (isConditionFailed(err)) return null;
      throw err;
    }
  }

  private hourUpdate(b: Booking, hour: string, sign: 1 | -1): TransactItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: capacityHourKey(b.provider_id, hour, b.pool),
        UpdateExpression: 'ADD booked_gpus :b, free_gpus :f',
        // Taking needs the GPUs free; giving back needs nothing (it only returns what its marker says was taken).
        ...(sign === 1 ? { ConditionExpression: 'free_gpus >= :n' } : { ConditionExpression: 'attribute_exists(pk)' }),
        ExpressionAttributeValues: { ':b': sign * b.gpus, ':f': -sign * b.gpus, ...(sign === 1 ? { ':n': b.gpus } : {}) },
      },
    };
  }

  /** The chunk's marker turned to `taken` (from absent or not taken) or back: each take and each release happens once. */
  private marker(b: Booking, i: number, taken: boolean): TransactItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: chunkKey(b.id, i),
        UpdateExpression: 'SET #t = :to, #type = :type, booking_id = :b, gpus = :n',
        ConditionExpression: taken ? 'attribute_not_exists(#t) OR #t = :from' : '#t = :from',
        ExpressionAttributeNames: { '#t': 'taken', '#type': 'type' },
        ExpressionAttributeValues: { ':to': taken, ':from': !taken, ':type': 'booking_chunk', ':b': b.id, ':n': b.gpus },
      },
    };
  }

  async takeChunk(b: Booking, i: number): Promise<TakeOutcome> {
    const items: TransactItem[] = [
      this.marker(b, i, true),
      { ConditionCheck: { TableName: this.tableName, Key: bookingKey(b.id), ConditionExpression: '#s = :placing', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':placing': 'placing' } } },
      ...chunkHours(b, i).map((h) => this.hourUpdate(b, h, 1)),
    ];
    const out = await transact(this.doc, items);
    if (out.ok) return 'taken';
    if (out.reason === 'contention') return 'contention';
    if (out.failed.has(0)) return 'already_taken';
    if (out.failed.has(1)) return 'not_placing';
    return 'sold_out';
  }

  async releaseChunk(b: Booking, i: number): Promise<ReleaseOutcome> {
    const items: TransactItem[] = [
      this.marker(b, i, false),
      ...chunkHours(b, i).map((h) => this.hourUpdate(b, h, -1)),
    ];
    const out = await transact(this.doc, items);
    if (out.ok) return 'released';
    if (out.reason === 'contention') return 'contention';
    if (out.failed.has(0)) return 'not_taken';
    throw new Error(`booking ${b.id} chunk ${i}: an hour item it took is missing`);
  }

  private async list(index: 'byStartup' | 'byLender', gsi: 'gsi1' | 'gsi2', pk: string, limit: number, cursor?: string) {
    const page = await this.table.listIndex(index, gsi, pk, BOOKING_SK_PREFIX, { limit, ...(cursor ? { cursor } : {}), newestFirst: true });
    return { items: page.items.map((i) => i.booking as Booking), cursor: page.cursor };
  }

  listByStartup(startupId: string, limit: number, cursor?: string) {
    return this.list('byStartup', 'gsi2', startupBookingsPk(startupId), limit, cursor);
  }

  async listByProvider(providerId: string, limit: number, cursor?: string) {
    const page = await this.list('byLender', 'gsi1', providerBookingsPk(providerId), limit, cursor);
    // Placing and refused bookings are the startup's business only.
    return { items: page.items.filter((b) => b.status !== 'placing' && b.status !== 'refused'), cursor: page.cursor };
  }

  async listDue(shard: number, nowIso: string, limit: number): Promise<Booking[]> {
    return (await this.table.openByExpiry(bookingDueShardKey(shard), nowIso, limit)).map((i) => i.booking as Booking);
  }

  /** One provider's hour items of an accelerator in [fromHour, toHour), every page. */
  async providerHours(providerId: string, fromHour: string, toHour: string, accelerator?: Accelerator): Promise<PoolHour[]> {
    const out: PoolHour[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ...(accelerator ? { FilterExpression: 'accelerator = :a' } : {}),
        ExpressionAttributeValues: { ':pk': capacityHoursPk(providerId), ':from': hourSkPrefix(fromHour), ':to': hourSkPrefix(toHour), ...(accelerator ? { ':a': accelerator } : {}) },
        ExclusiveStartKey: start,
        ConsistentRead: true,
      }));
      for (const i of page.Items ?? []) if ((i.hour as string) < toHour) out.push(toPoolHour(i));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async poolHours(providerIds: readonly string[], accelerator: Accelerator, fromHour: string, toHour: string): Promise<PoolHour[]> {
    const out: PoolHour[] = [];
    for (let i = 0; i < providerIds.length; i += READ_CONCURRENCY) {
      const pages = await Promise.all(providerIds.slice(i, i + READ_CONCURRENCY).map((id) => this.providerHours(id, fromHour, toHour, accelerator)));
      for (const p of pages) out.push(...p);
    }
    return out;
  }

  /**
   * Sets one hour's listed GPUs from a report: free follows (listed − booked; below zero when the provider now
   * lists fewer than are booked, a shortfall the booking's interruption handles). Returns the free GPUs after.
   */
  async setListed(providerId: string, pool: string, hour: string, listed: number, exists: boolean, at: string): Promise<number> {
    const key = capacityHourKey(providerId, hour, pool);
    if (!exists) {
      try {
        await this.doc.send(new PutCommand({
          TableName: this.tableName, ConditionExpression: 'attribute_not_exists(pk)',
          Item: { ...key, type: 'capacity_hour', provider_id: providerId, pool, hour, accelerator: pool.split('|')[0], listed_gpus: listed, booked_gpus: 0, free_gpus: listed, updated_at: at },
        }));
        return listed;
      } catch (err) {
        if (!isConditionFailed(err)) throw err;
      }
    }
    const out = await this.doc.send(new UpdateCommand({
      TableName: this.tableName, Key: key, ConditionExpression: 'attribute_exists(pk)',
      UpdateExpression: 'SET listed_gpus = :l, free_gpus = :l - booked_gpus, updated_at = :at',
      ExpressionAttributeValues: { ':l': listed, ':at': at }, ReturnValues: 'UPDATED_NEW',
    }));
    return out.Attributes?.free_gpus as number;
  }

  /** Reads the provider's hour items from the current hour on and compares them with the blocks: what applying them changes. */
  async planBlocks(providerId: string, blocks: readonly CapacityBlock[], at: string): Promise<BlockPlan> {
    const fromMs = floorHour(Date.parse(at));
    const existing = await this.providerHours(providerId, hourKey(fromMs), hourKey(fromMs + (MAX_HORIZON_DAYS + 1) * 24 * HOUR_MS));
    const target = listedHours(blocks, fromMs);
    return { changes: hourChanges(existing, target), reduces: reducesHours(existing, target) };
  }

  /** Writes a plan's changed hours; returns those a reduction left short of their bookings (free below zero). */
  async applyBlocks(providerId: string, plan: BlockPlan, at: string): Promise<ShortHour[]> {
    const short: ShortHour[] = [];
    for (let i = 0; i < plan.changes.length; i += WRITE_CONCURRENCY) {
      await Promise.all(plan.changes.slice(i, i + WRITE_CONCURRENCY).map(async (c) => {
        if ((await this.setListed(providerId, c.pool, c.hour, c.listed_gpus, c.exists, at)) < 0) short.push({ pool: c.pool, hour: c.hour });
      }));
    }
    return short;
  }

  async getHour(providerId: string, pool: string, hour: string): Promise<PoolHour | null> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: capacityHourKey(providerId, hour, pool), ConsistentRead: true }));
    return out.Item ? toPoolHour(out.Item) : null;
  }
}
