/**
 * Request records and usage aggregation (SPEC §4): each request that got a hold records who served it,
 * what it used and what it cost; the record is written in the same transaction that settles (or releases)
 * its hold, so a request is billed exactly when it is recorded. GET /v1/usage reads daily aggregates.
 */
import { assert } from './money.js';
import type { Allocation } from './holds.js';
import type { Accelerator } from './routing.js';
import type { ModelKind } from './catalog.js';

export type Workload = 'chat' | 'completion' | 'embedding';
/** What a request record bills: a request's workload, or `reserved`: a booked hour of GPUs (SPEC §11). */
export type RecordWorkload = Workload | 'reserved';
export const WORKLOAD_KIND: Record<Workload, ModelKind> = { chat: 'chat', completion: 'chat', embedding: 'embedding' };

/**
 * ok                  served in full
 * failed_mid_stream   the provider failed after the first byte: the stream ended with an error event, billed for what was produced
 * client_disconnected the client went away mid-stream: billed for what the provider produced until then
 * upstream_error      every attempt failed before the first byte: nothing billed
 * rejected_upstream   the provider refused the request as invalid (a 4xx passed through): nothing billed
 */
export type Outcome = 'ok' | 'failed_mid_stream' | 'client_disconnected' | 'upstream_error' | 'rejected_upstream';

export interface UsageRecord {
  request_id: string;
  startup_id: string;
  key_id: string;
  hold_id: string;
  /** The credit lease that paid (leases/), whose accrual shard the record is indexed under; absent for a hold. */
  lease_id?: string;
  workload: RecordWorkload;
  model: string;
  /** '-' when no provider answered. */
  provider_id: string;
  endpoint_id: string;
  accelerator: Accelerator | '-';
  stream: boolean;
  outcome: Outcome;
  status_code: number;
  attempts: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** Tokens counted from content (no usage report from the provider). */
  estimated: boolean;
  gpu_microseconds: number;
  cost_micros: number;
  provider_micros: number;
  margin_micros: number;
  spot_micros_per_gpu_hour: number;
  /** Which facilities paid, in draw order. */
  facilities: Allocation[];
  latency_ms: number;
  /** Time to first token (first content frame) for streams; null when nothing came. */
  ttft_ms: number | null;
  created_at: string;
}

export const GROUP_BY = ['model', 'provider', 'day', 'key'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

/** The figures usage adds up. */
export interface UsageFigures {
  requests: number;
  errors: number;
  estimated: number;
  prompt_tokens: number;
  completion_tokens: number;
  gpu_microseconds: number;
  cost_micros: number;
}
const FIGURES = ['requests', 'errors', 'estimated', 'prompt_tokens', 'completion_tokens', 'gpu_microseconds', 'cost_micros'] as const;

/** One day's usage of one key on one provider and model: the unit GET /v1/usage aggregates from. */
export interface UsageBucket extends UsageFigures {
  day: string;
  key_id: string;
  provider_id: string;
  model: string;
}

export interface UsageGroup extends UsageFigures {
  group: string;
}

/** Longest range one usage query may cover: it bounds the buckets read. */
export const MAX_USAGE_RANGE_DAYS = 93;

/**
 * A request that was billed: a provider answered and it cost at least a micro. Only these post the
 * provider's accrual and margin, count in the provider's hourly counter and are settled (one test, so the
 * ledger, the counter and the settlement index can never disagree on which requests count).
 */
export function isBilled(r: Pick<UsageRecord, 'provider_id' | 'accelerator' | 'cost_micros'>): boolean {
  return r.provider_id !== '-' && r.accelerator !== '-' && r.cost_micros > 0;
}

export function checkUsageRecord(r: UsageRecord): void {
  assert(r.cost_micros === r.provider_micros + r.margin_micros, 'cost = provider + margin');
  assert(r.cost_micros >= 0 && r.prompt_tokens >= 0 && r.completion_tokens >= 0, 'usage figures are non-negative');
  const paid = r.facilities.reduce((s, a) => s + a.amount_micros, 0);
  assert(paid === r.cost_micros, `facilities paid ${paid}, the request cost ${r.cost_micros}`);
}

export function groupUsage(buckets: readonly UsageBucket[], by: GroupBy): { groups: UsageGroup[]; total: UsageFigures } {
  const keyOf = (b: UsageBucket) => (by === 'model' ? b.model : by === 'provider' ? b.provider_id : by === 'day' ? b.day : b.key_id);
  const zero = (): UsageFigures => ({ requests: 0, errors: 0, estimated: 0, prompt_tokens: 0, completion_tokens: 0, gpu_microseconds: 0, cost_micros: 0 });
  const groups = new Map<string, UsageGroup>();
  const total = zero();
  for (const b of buckets) {
    const g = groups.get(keyOf(b)) ?? { group: keyOf(b), ...zero() };
    for (const f of FIGURES) {
      g[f] += b[f];
      total[f] += b[f];
    }
    groups.set(g.group, g);
  }
  return { groups: [...groups.values()].sort((a, b) => (by === 'day' ? a.group.localeCompare(b.group) : b.cost_micros - a.cost_micros || a.group.localeCompare(b.group))), total };
}
