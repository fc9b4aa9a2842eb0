/**
 * Usage entities. A request record per request, under its startup in time order; and a daily bucket per
 * (day, key, provider, model) that the settle transaction adds to, so GET /v1/usage reads at most
 * days × keys × providers × models items instead of every request.
 */
import { isBilled, type UsageBucket, type UsageRecord } from '../../../usage.js';
import { shardOf, type Key } from './keys.js';
import { ACCRUAL_SHARDS } from '../../../ledger.js';
import { periodOf } from '../../../holds.js';

export const usageRecordKey = (r: Pick<UsageRecord, 'startup_id' | 'created_at' | 'request_id'>): Key => ({ pk: `USAGE#${r.startup_id}`, sk: `R#${r.created_at}#${r.request_id}` });
export const usageDayPk = (startupId: string) => `USAGEDAY#${startupId}`;
export const usageDaySk = (day: string, keyId: string, providerId: string, model: string) => `D#${day}#${keyId}#${providerId}#${model}`;

/**
 * A provider's delivered GPU time per UTC hour (for its dashboard), added to in the transaction that bills
 * each request, so it is exact. The shard (from the request id) is in the partition key: a busy provider's
 * writes spread over 8 partitions, so this counter cannot throttle the money transaction it rides in.
 * 30 days are 8 range queries of 720 small items.
 */
export const PROVIDER_HOUR_SHARDS = 8;
export const providerHourPk = (providerId: string, shard: number) => `PUSAGEHOUR#${providerId}#${shard}`;
export const providerHourSk = (hour: string) => `H#${hour}`;

/** The usageByProviderMonth partition of a provider's month and accrual shard. */
export const providerMonthPk = (providerId: string, period: string, shard: number) => `PUSAGE#${providerId}#${period}#${shard}`;

export function usageRecordItem(r: UsageRecord) {
  const billed = isBilled(r);
  return {
    ...usageRecordKey(r),
    type: 'usage_record',
    ...r,
    // index: usageByProviderMonth (billed records only; the shard is the one its accrual was posted to)
    ...(billed ? { gsi5pk: providerMonthPk(r.provider_id, periodOf(r.created_at), shardOf(r.lease_id ?? r.request_id, ACCRUAL_SHARDS)), gsi5sk: `${r.created_at}#${r.request_id}` } : {}),
  };
}

export function toUsageBucket(i: Record<string, unknown>): UsageBucket {
  const n = (k: string) => (i[k] as number | undefined) ?? 0;
  return {
    day: i.day as string, key_id: i.key_id as string, provider_id: i.provider_id as string, model: i.model as string,
    requests: n('requests'), errors: n('errors'), estimated: n('estimated'), prompt_tokens: n('prompt_tokens'),
    completion_tokens: n('completion_tokens'), gpu_microseconds: n('gpu_microseconds'), cost_micros: n('cost_micros'),
  };
}
