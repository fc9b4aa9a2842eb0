/**
 * Usage on the table: the items a request's close writes with it (its record, its startup's daily bucket,
 * its provider's hourly GPU time when billed), and the daily buckets read back.
 */
import { checkUsageRecord, isBilled, type UsageBucket, type UsageRecord } from '../../usage.js';
import { decodeCursor } from './cursor.js';
import { hourOf, shardOf } from './entities/keys.js';
import { PROVIDER_HOUR_SHARDS, providerHourPk, providerHourSk, toUsageBucket, usageDayPk, usageDaySk, usageRecordItem } from './entities/usage.js';
import type { Table, Tagged } from './table.js';
import { facilityModelUpdate } from './entities/spend-bucket.js';
import { hasRequestItem, requestItem, requestKey, toRequestRecord } from './entities/request.js';
import type { ProviderHourChange, UsageDayChange } from '../../leases/lease.js';

/** 1,000 daily buckets a page: a usage query reads at most 20,000 (say 93 days × 215 key/provider/model triples). */
const MAX_USAGE_PAGES = 20;

/** A usage query that would read more than MAX_USAGE_PAGES pages: the caller should narrow the range. */
export class UsageTooLargeError extends Error {
  override name = 'UsageTooLargeError';
}

/** Adds to a provider's hourly counter (one of PROVIDER_HOUR_SHARDS): requests, GPU time per accelerator, earnings. */
export function providerHourUpdate(table: Table, c: ProviderHourChange, shard: number): Tagged {
  const names: Record<string, string> = { '#t': 'type', '#h': 'hour' };
  const values: Record<string, unknown> = { ':t': 'provider_hour', ':h': c.hour };
  const adds = Object.entries(c.figures).map(([field, v], i) => {
    names[`#f${i}`] = field;
    values[`:f${i}`] = v;
    return `#f${i} :f${i}`;
  });
  return {
    tag: 'provider_hour',
    item: {
      Update: {
        TableName: table.name,
        Key: { pk: providerHourPk(c.provider_id, shard), sk: providerHourSk(c.hour) },
        UpdateExpression: `ADD ${adds.join(', ')} SET #t = :t, #h = :h`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    },
  };
}

/** Adds to a startup's daily bucket of one key, provider and model. */
export function usageDayUpdate(table: Table, startupId: string, c: UsageDayChange): Tagged {
  const f = c.figures;
  return {
    tag: 'usage_day',
    item: {
      Update: {
        TableName: table.name,
        Key: { pk: usageDayPk(startupId), sk: usageDaySk(c.day, c.key_id, c.provider_id, c.model) },
        UpdateExpression:
          'ADD requests :one, errors :err, estimated :est, prompt_tokens :p, completion_tokens :c, gpu_microseconds :g, cost_micros :cost SET #t = :t, #d = :day, key_id = :k, provider_id = :pv, model = :m',
        ExpressionAttributeNames: { '#t': 'type', '#d': 'day' },
        ExpressionAttributeValues: {
          ':one': f.requests, ':err': f.errors, ':est': f.estimated, ':p': f.prompt_tokens, ':c': f.completion_tokens,
          ':g': f.gpu_microseconds, ':cost': f.cost_micros, ':t': 'usage_day', ':day': c.day, ':k': c.key_id, ':pv': c.provider_id, ':m': c.model,
        },
      },
    },
  };
}

/**
 * The request record, its item by id (requests, not booked hours) and its daily aggregate (and its provider's hour
 * when billed), in that transaction order. The item by id is an overwrite, not create-only: a retried close writes
 * the same record.
 */
export function usageItems(table: Table, r: UsageRecord): Tagged[] {
  checkUsageRecord(r);
  const day = r.created_at.slice(0, 10);
  const hour = hourOf(r.created_at);
  const providerHour: Tagged[] = isBilled(r)
    ? [providerHourUpdate(table, { provider_id: r.provider_id, hour, figures: { requests: 1, [`gpu_us_${r.accelerator}`]: r.gpu_microseconds, earnings_micros: r.provider_micros } }, shardOf(r.request_id, PROVIDER_HOUR_SHARDS))]
    : [];
  const figures = {
    requests: 1, errors: r.outcome === 'ok' ? 0 : 1, estimated: r.estimated ? 1 : 0, prompt_tokens: r.prompt_tokens,
    completion_tokens: r.completion_tokens, gpu_microseconds: r.gpu_microseconds, cost_micros: r.cost_micros,
  };
  // What each paying facility spent on this provider and model today (the lender's spend by provider and model).
  const facilityModels: Tagged[] = isBilled(r)
    ? r.facilities.filter((a) => a.amount_micros > 0).map((a) => ({ tag: 'spend', item: facilityModelUpdate(table.name, { facility_id: a.facility_id, day, provider_id: r.provider_id, model: r.model, spent_micros: a.amount_micros }) }))
    : [];
  return [
    ...providerHour,
    ...facilityModels,
    { tag: 'usage', item: table.put(usageRecordItem(r)) },
    ...(hasRequestItem(r) ? [{ tag: 'request', item: table.put(requestItem(r), false) }] : []),
    usageDayUpdate(table, r.startup_id, { day, key_id: r.key_id, provider_id: r.provider_id, model: r.model, figures }),
  ];
}

/** One request's record, for the startup that made it; null for an unknown id or another startup's request. */
export async function getRequest(table: Table, startupId: string, requestId: string): Promise<UsageRecord | null> {
  const item = await table.get(requestKey(startupId, requestId));
  return item ? toRequestRecord(item) : null;
}

/** A startup's daily buckets for days in [fromDay, toDay], every page of them (bounded). */
export async function listUsage(table: Table, startupId: string, fromDay: string, toDay: string): Promise<UsageBucket[]> {
  const out: UsageBucket[] = [];
  let cursor: string | undefined;
  const pk = usageDayPk(startupId);
  for (let page = 0; ; page++) {
    if (page >= MAX_USAGE_PAGES) throw new UsageTooLargeError(`more than ${MAX_USAGE_PAGES} pages of usage in this range; ask for a shorter one`);
    const res = await table.queryPage({
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      // '~' sorts after every character used in ids and model names, so the whole last day is included.
      ExpressionAttributeValues: { ':pk': pk, ':from': `D#${fromDay}#`, ':to': `D#${toDay}#~` },
      Limit: 1_000,
      ExclusiveStartKey: decodeCursor(cursor, { field: 'pk', value: pk }),
    });
    out.push(...res.items.map(toUsageBucket));
    if (!res.cursor) return out;
    cursor = res.cursor;
  }
}
