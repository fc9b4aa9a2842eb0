/**
 * Usage entities. A request record per request, under its startup in time order; and a daily bucket per
 * (day, key, provider, model) that the settle transaction adds to, so GET /v1/usage reads at most
 * days × keys × providers × models items instead of every request.
 */
import type { UsageBucket, UsageRecord } from '../../../usage.js';
import type { Key } from './keys.js';

export const usageRecordKey = (r: Pick<UsageRecord, 'startup_id' | 'created_at' | 'request_id'>): Key => ({ pk: `USAGE#${r.startup_id}`, sk: `R#${r.created_at}#${r.request_id}` });
export const usageDayPk = (startupId: string) => `USAGEDAY#${startupId}`;
export const usageDaySk = (day: string, keyId: string, providerId: string, model: string) => `D#${day}#${keyId}#${providerId}#${model}`;

export function usageRecordItem(r: UsageRecord) {
  return { ...usageRecordKey(r), type: 'usage_record', ...r };
}

export function toUsageBucket(i: Record<string, unknown>): UsageBucket {
  const n = (k: string) => (i[k] as number | undefined) ?? 0;
  return {
    day: i.day as string, key_id: i.key_id as string, provider_id: i.provider_id as string, model: i.model as string,
    requests: n('requests'), errors: n('errors'), estimated: n('estimated'), prompt_tokens: n('prompt_tokens'),
    completion_tokens: n('completion_tokens'), gpu_microseconds: n('gpu_microseconds'), cost_micros: n('cost_micros'),
  };
}
