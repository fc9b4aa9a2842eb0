/**
 * The one table the credit store's parts share: its client and name, and the few reads and writes every
 * part builds on (a create-only put, a consistent get, one page of a query).
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { PostingLine } from '../../ledger.js';
import { decodeCursor, encodeCursor, withCursor } from './cursor.js';
import type { Key } from './entities/keys.js';
import type { TransactItem } from './transact.js';

/** Raised when retries are exhausted on a non-money write (money writes return `contention` instead). */
export class ContentionError extends Error {
  override name = 'ContentionError';
}

/** A transaction item with what it is, so a failed condition can be told apart (`line`: the posting line of a balance update). */
export type Tagged = { item: TransactItem; tag: string; line?: PostingLine };

export class Table {
  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly name: string,
  ) {}

  /** A put, create-only unless told otherwise; a refusal returns the item it found. */
  put(item: Record<string, unknown>, createOnly = true): TransactItem {
    return {
      Put: {
        TableName: this.name,
        Item: item,
        ...(createOnly ? { ConditionExpression: 'attribute_not_exists(pk)' } : {}),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  async get(key: Key): Promise<Record<string, unknown> | null> {
    const out = await this.doc.send(new GetCommand({ TableName: this.name, Key: key, ConsistentRead: true }));
    return (out.Item as Record<string, unknown> | undefined) ?? null;
  }

  async queryPage(input: Omit<QueryCommandInput, 'TableName'>): Promise<{ items: Record<string, unknown>[]; cursor: string | null }> {
    const out = await withCursor(input.ExclusiveStartKey !== undefined, () => this.doc.send(new QueryCommand({ TableName: this.name, ...input })));
    return { items: (out.Items ?? []) as Record<string, unknown>[], cursor: encodeCursor(out.LastEvaluatedKey) };
  }

  /** Open holds or leases (one openHoldsByExpiry shard partition) that expired before `beforeIso`, oldest first. */
  async openByExpiry(shardKey: string, beforeIso: string, limit: number): Promise<Record<string, unknown>[]> {
    const page = await this.queryPage({
      IndexName: 'openHoldsByExpiry',
      KeyConditionExpression: 'gsi3pk = :pk AND gsi3sk < :before',
      ExpressionAttributeValues: { ':pk': shardKey, ':before': beforeIso },
      Limit: limit,
    });
    return page.items;
  }

  /** One page of a table partition whose sort keys start with `prefix`; the cursor is tied to that partition. */
  listPartition(pk: string, prefix: string, o: { limit: number; cursor?: string; newestFirst?: boolean; consistent?: boolean }) {
    return this.queryPage({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
      ExpressionAttributeValues: { ':pk': pk, ':p': prefix },
      ...(o.newestFirst ? { ScanIndexForward: false } : {}),
      ...(o.consistent ? { ConsistentRead: true } : {}),
      Limit: o.limit,
      ExclusiveStartKey: decodeCursor(o.cursor, { field: 'pk', value: pk }),
    });
  }

  /** One page of an index partition whose sort keys start with `prefix`; the cursor is tied to that partition. */
  listIndex(index: string, gsi: 'gsi1' | 'gsi2', pk: string, prefix: string, o: { limit: number; cursor?: string; newestFirst?: boolean }) {
    return this.queryPage({
      IndexName: index,
      KeyConditionExpression: `${gsi}pk = :pk AND begins_with(${gsi}sk, :p)`,
      ExpressionAttributeValues: { ':pk': pk, ':p': prefix },
      ScanIndexForward: !o.newestFirst,
      Limit: o.limit,
      ExclusiveStartKey: decodeCursor(o.cursor, { field: `${gsi}pk`, value: pk }),
    });
  }
}
