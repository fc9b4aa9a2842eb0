/** BatchGetItem over any number of keys: 100 a call, unprocessed keys asked again a bounded number of times. */
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ContentionError } from './table.js';

const MAX_BATCH_GET_ROUNDS = 10;
const KEYS_PER_CALL = 100;

export async function batchGet(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Record<string, unknown>[],
  opts: { consistent?: boolean; projection?: string; names?: Record<string, string> } = {},
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < keys.length; i += KEYS_PER_CALL) {
    let pending: Record<string, unknown>[] | undefined = keys.slice(i, i + KEYS_PER_CALL);
    for (let round = 0; pending && pending.length > 0; round++) {
      if (round >= MAX_BATCH_GET_ROUNDS) throw new ContentionError('batch read kept returning unprocessed keys');
      const res = await doc.send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: {
              Keys: pending,
              ...(opts.consistent ? { ConsistentRead: true } : {}),
              ...(opts.projection ? { ProjectionExpression: opts.projection } : {}),
              ...(opts.names ? { ExpressionAttributeNames: opts.names } : {}),
            },
          },
        }),
      );
      out.push(...((res.Responses?.[tableName] ?? []) as Record<string, unknown>[]));
      pending = res.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  return out;
}
