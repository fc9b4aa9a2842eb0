/**
 * Usage on the table: the items a request's close writes with it (its record, its startup's daily bucket,
 * its provider's hourly GPU time when billed), and the daily buckets read back.
 */
import { checkUsageRecord, isBilled, type UsageBucket, type UsageRecord } from '../../usage.js';
import { decodeCursor } from './cursor.js';
import { hourOf, shardOf } from './entities/keys.js';
import { PROVIDER_HOUR_SHARDS, providerHourPk, providerHourSk, toUsageBucket, usageDayPk, usageDaySk, usageRecordItem } from './entities/usage.js';
import type { Table, Tagged } from './table.js';

/** 1,000 daily buckets a page: a usage query reads at most 20,000 (say 93 days × 215 key/provider/model triples). */
const MAX_USAGE_PAGES = 20;

/** A usage query that would read more than MAX_USAGE_PAGES pages: the caller should narrow the range. */
export class UsageTooLargeError extends Error {
  override name = 'UsageTooLargeError';
}

/** A billed request's GPU time and earnings, added to its provider's hour (one of PROVIDER_HOUR_SHARDS by request id). */
function providerHourItem(table: Table, r: UsageRecord, hour: string): Tagged {
  return {
    tag: 'provider_hour',
    item: {
      Update: {
        TableName: table.name,
        Key: { pk: providerHourPk(r.provider_id, shardOf(r.request_id, PROVIDER_HOUR_SHARDS)), sk: providerHourSk(hour) },
        UpdateExpression: 'ADD requests :one, #acc :g, earnings_micros :p SET #t = :t, #h = :h',
        ExpressionAttributeNames: { '#acc': `gpu_us_${r.accelerator}`, '#t': 'type', '#h': 'hour' },
        ExpressionAttributeValues: { ':one': 1, ':g': r.gpu_microseconds, ':p': r.provider_micros, ':t': 'provider_hour', ':h': hour },
      },
    },
  };
}

/** The request record and its daily aggregate (and its provider's hour when billed), in that transaction order. */
export function usageItems(table: Table, r: UsageRecord): Tagged[] {
  checkUsageRecord(r);
  const day = r.created_at.slice(0, 10);
  const providerHour: Tagged[] = isBilled(r) ? [providerHourItem(table, r, hourOf(r.created_at))] : [];
  return [
    ...providerHour,
    { tag: 'usage', item: table.put(usageRecordItem(r)) },
    {
      tag: 'usage_day',
      item: {
        Update: {
          TableName: table.name,
          Key: { pk: usageDayPk(r.startup_id), sk: usageDaySk(day, r.key_id, r.provider_id, r.model) },
          UpdateExpression:
            'ADD requests :one, errors :err, estimated :est, prompt_tokens :p, completion_tokens :c, gpu_microseconds :g, cost_micros :cost SET #t = :t, #d = :day, key_id = :k, provider_id = :pv, model = :m',
          ExpressionAttributeNames: { '#t': 'type', '#d': 'day' },
          ExpressionAttributeValues: {
            ':one': 1, ':err': r.outcome === 'ok' ? 0 : 1, ':est': r.estimated ? 1 : 0, ':p': r.prompt_tokens, ':c': r.completion_tokens,
            ':g': r.gpu_microseconds, ':cost': r.cost_micros, ':t': 'usage_day', ':day': day, ':k': r.key_id, ':pv': r.provider_id, ':m': r.model,
          },
        },
      },
    },
  ];
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
