/**
 * RateLimiter on the table: one item per key and window, counted with one conditional UpdateItem, so
 * concurrent requests of one key cannot together pass a limit. Window items expire through the table's TTL.
 */
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RATE_WINDOW_S, retryAfterS, windowStartS, type RateDecision, type RateLimiter, type RateLimits } from '../../ratelimit.js';
import { isConditionFailed } from './transact.js';

export class DynamoRateLimiter implements RateLimiter {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async admit(keyId: string, limits: RateLimits, tokens: number, now: Date): Promise<RateDecision> {
    if (limits.rpm === null && limits.tpm === null) return { ok: true };
    // A request bigger than the whole TPM limit can never pass: say so rather than make it wait forever.
    if (limits.tpm !== null && tokens > limits.tpm) return { ok: false, limit: 'tpm', retry_after_s: retryAfterS(now), too_large: true };
    const start = windowStartS(now);
    const conds: string[] = [];
    const values: Record<string, unknown> = { ':one': 1, ':t': tokens, ':ttl': start + 2 * RATE_WINDOW_S + 3600 };
    if (limits.rpm !== null) {
      conds.push('(attribute_not_exists(requests) OR requests < :rpm)');
      values[':rpm'] = limits.rpm;
    }
    if (limits.tpm !== null) {
      conds.push('(attribute_not_exists(tokens) OR tokens <= :tpmLeft)');
      values[':tpmLeft'] = limits.tpm - tokens;
    }
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `RATE#${keyId}`, sk: `W#${start}` },
          UpdateExpression: 'ADD requests :one, tokens :t SET #ttl = :ttl',
          ConditionExpression: conds.join(' AND '),
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { ok: true };
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      // The SDK's error carries the old item still marshalled (so this catch is not unlessConditionFailed).
      const raw = (err as { Item?: Record<string, never> }).Item;
      const old = (raw ? unmarshall(raw) : {}) as { requests?: number };
      const limit = limits.rpm !== null && (old.requests ?? 0) >= limits.rpm ? 'rpm' : 'tpm';
      return { ok: false, limit, retry_after_s: retryAfterS(now) };
    }
  }
}
