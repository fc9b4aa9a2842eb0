/**
 * One conditional TransactWriteItems with bounded retries.
 *
 * Retried: TransactionConflict (another transaction touched an item), throttling and transient
 * server errors — with capped, jittered exponential backoff, at most MAX_ATTEMPTS times.
 * Not retried: ConditionalCheckFailed — that is an answer (exceeds_credit, replay, …), returned
 * with the old item of every failed condition so the caller can tell which.
 *
 * A retry after a lost response is safe because every money-moving write is guarded by a
 * create-only condition on an id derived from its idempotency key.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { PutCommand, TransactWriteCommand, type DynamoDBDocumentClient, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** DynamoDB's own limit on one transaction. */
export const MAX_TRANSACT_ITEMS = 100;
export const MAX_ATTEMPTS = 10;
const BASE_BACKOFF_MS = 5;
const MAX_BACKOFF_MS = 250;

const RETRYABLE_ERRORS = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TransactionInProgressException',
  'InternalServerError',
  'ServiceUnavailable',
]);

export type TransactOutcome =
  | { ok: true; attempts: number }
  | { ok: false; reason: 'condition_failed'; failed: Map<number, Record<string, unknown> | null>; attempts: number }
  | { ok: false; reason: 'contention'; attempts: number };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function transact(doc: DynamoDBDocumentClient, items: TransactItem[]): Promise<TransactOutcome> {
  if (items.length === 0 || items.length > MAX_TRANSACT_ITEMS) throw new Error(`a transaction holds 1..${MAX_TRANSACT_ITEMS} items, got ${items.length}`);
  for (let attempt = 1; ; attempt++) {
    try {
      await doc.send(new TransactWriteCommand({ TransactItems: items }));
      return { ok: true, attempts: attempt };
    } catch (err) {
      const name = (err as { name?: string }).name ?? '';
      if (err instanceof TransactionCanceledException || name === 'TransactionCanceledException') {
        const reasons = (err as TransactionCanceledException).CancellationReasons ?? [];
        const failed = new Map<number, Record<string, unknown> | null>();
        let conflict = false;
        reasons.forEach((r, i) => {
          if (r.Code === 'ConditionalCheckFailed') failed.set(i, r.Item ? unmarshall(r.Item as never) : null);
          else if (r.Code === 'TransactionConflict' || r.Code === 'ThrottlingError' || r.Code === 'ProvisionedThroughputExceeded') conflict = true;
        });
        // A condition failure is final even if another item also conflicted: the answer would not change.
        if (failed.size > 0) return { ok: false, reason: 'condition_failed', failed, attempts: attempt };
        if (!conflict && reasons.length > 0) throw err;
      } else if (!RETRYABLE_ERRORS.has(name) && !(err as { $retryable?: unknown }).$retryable) {
        throw err;
      }
      if (attempt >= MAX_ATTEMPTS) return { ok: false, reason: 'contention', attempts: attempt };
      await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** attempt));
    }
  }
}

/**
 * Writes `item` as its `version`, provided the stored item is at `version − 1` (or absent, for version 1): false
 * when another writer got there first. For items one writer edits and a schedule updates.
 */
export async function putVersion(doc: DynamoDBDocumentClient, tableName: string, item: Record<string, unknown> & { version: number }): Promise<boolean> {
  const first = item.version === 1;
  const put = await unlessConditionFailed(doc.send(new PutCommand({
    TableName: tableName,
    Item: item,
    ConditionExpression: first ? 'attribute_not_exists(pk)' : 'version = :prev',
    ...(first ? {} : { ExpressionAttributeValues: { ':prev': item.version - 1 } }),
  })));
  return put !== null;
}

/** A single-item write refused by its condition: an answer (already stored, superseded, …), not a fault. */
export const isConditionFailed = (err: unknown): boolean => (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';

/**
 * One conditional single-item write: its reply, or null when its condition did not hold. Every other
 * error is thrown (the SDK has already retried throttling and transient faults).
 */
export async function unlessConditionFailed<T>(write: Promise<T>): Promise<T | null> {
  try {
    return await write;
  } catch (err) {
    if (isConditionFailed(err)) return null;
    throw err;
  }
}
