/** Dashboard reads: a provider's delivered GPU time per hour, and a facility's spend per hour. Bounded range queries. */
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ProviderHour } from '../../dashboard.js';
import type { Accelerator } from '../../routing.js';
import { PROVIDER_HOUR_SHARDS, providerHourPk } from './entities/usage.js';
import { SPEND_PREFIX } from './entities/spend-bucket.js';

/** 31 days × 24 hours is 744 items of ~100 bytes a shard: one page; the bound is a guard. */
const MAX_PAGES = 20;

export class DynamoDashboard {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private async range(pk: string, from: string, to: string): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await this.doc.send(
        new QueryCommand({ TableName: this.tableName, KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to', ExpressionAttributeValues: { ':pk': pk, ':from': from, ':to': to }, ExclusiveStartKey: start }),
      );
      out.push(...((res.Items ?? []) as Record<string, unknown>[]));
      start = res.LastEvaluatedKey;
      if (!start) return out;
    }
    throw new RangeError(`more than ${MAX_PAGES} pages in ${pk}`);
  }

  /** Delivered GPU time per hour in [fromHour, toHour] (YYYY-MM-DDTHH), shards merged. */
  async providerHours(providerId: string, fromHour: string, toHour: string): Promise<ProviderHour[]> {
    const byHour = new Map<string, ProviderHour>();
    const shards = await Promise.all(Array.from({ length: PROVIDER_HOUR_SHARDS }, (_, s) => this.range(providerHourPk(providerId, s), `H#${fromHour}`, `H#${toHour}`)));
    for (const i of shards.flat()) {
      const hour = i.hour as string;
      const h = byHour.get(hour) ?? { hour, requests: 0, gpu_us: {}, earnings_micros: 0 };
      h.requests += Number(i.requests ?? 0);
      h.earnings_micros += Number(i.earnings_micros ?? 0);
      for (const [k, v] of Object.entries(i)) {
        if (!k.startsWith('gpu_us_')) continue;
        const acc = k.slice('gpu_us_'.length) as Accelerator;
        h.gpu_us[acc] = (h.gpu_us[acc] ?? 0) + Number(v);
      }
      byHour.set(hour, h);
    }
    return [...byHour.values()].sort((a, b) => a.hour.localeCompare(b.hour));
  }

  /** A facility's spend per UTC day in [fromDay, toDay] (YYYY-MM-DD), from its hourly spend buckets. */
  async facilityDailySpend(facilityId: string, fromDay: string, toDay: string): Promise<{ day: string; spent_micros: number }[]> {
    const byDay = new Map<string, number>();
    for (const i of await this.range(SPEND_PREFIX(facilityId), `H#${fromDay}T00`, `H#${toDay}T23`)) {
      const day = String(i.sk).slice(2, 12);
      byDay.set(day, (byDay.get(day) ?? 0) + Number(i.spent_micros ?? 0));
    }
    return [...byDay.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([day, spent_micros]) => ({ day, spent_micros }));
  }

  /** A facility's spend in [fromDay, toDay] by provider and by model (most spent first), from its daily provider-model buckets. */
  async facilitySpendBreakdown(facilityId: string, fromDay: string, toDay: string) {
    const byProvider = new Map<string, { provider_id: string; spent_micros: number }>();
    const byModel = new Map<string, { model: string; spent_micros: number }>();
    // '~' sorts after every character of ids and model names: the whole last day is in.
    for (const i of await this.range(SPEND_PREFIX(facilityId), `M#${fromDay}#`, `M#${toDay}#~`)) {
      const s = Number(i.spent_micros ?? 0);
      const p = byProvider.get(i.provider_id as string) ?? { provider_id: i.provider_id as string, spent_micros: 0 };
      const m = byModel.get(i.model as string) ?? { model: i.model as string, spent_micros: 0 };
      p.spent_micros += s;
      m.spent_micros += s;
      byProvider.set(p.provider_id, p);
      byModel.set(m.model, m);
    }
    const bySpend = (a: { spent_micros: number }, b: { spent_micros: number }) => b.spent_micros - a.spent_micros;
    return { by_provider: [...byProvider.values()].sort(bySpend), by_model: [...byModel.values()].sort(bySpend) };
  }
}
