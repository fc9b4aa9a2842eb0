/**
 * Capacity reports (SPEC §6): the consumer of the capacity-webhooks FIFO queue, and the schedule that
 * applies coalesced reports once their interval has passed.
 *
 * Applying is idempotent by report time: a report not newer than what is applied (or pending) is stale
 * and changes nothing, so a redelivery after a crash mid-batch cannot apply twice; the report itself is
 * then kept once per event id. A record that fails is retried alone (partial batch failure) and, after
 * maxReceiveCount receives, lands in the dead-letter queue: an accepted report is never dropped silently.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { CapacityReport } from '../events/capacity.js';
import { HOUR_MS, MAX_HORIZON_DAYS, decideCapacity, duePending, floorHour, hourChanges, hourKey, listedHours, nowIso, reducesHours, type CapacityBlock, type CapacityReportInput } from '../packages/core/src/index.js';
import { storeCapacityReport } from '../packages/core/src/adapters/dynamodb/index.js';
import { deps } from './lib/deps.js';
import { logger } from './lib/powertools.js';

/** Hour items written at once while applying a report's blocks. */
const BLOCK_WRITE_CONCURRENCY = 16;

/**
 * What a report's blocks change in the provider's hour items from the current hour on, and whether that lowers
 * any hour (a reduction: applied at once, like any other). Null: the report carries no blocks (they stay).
 */
async function blockChanges(providerId: string, blocks: readonly CapacityBlock[] | undefined, at: string) {
  if (!blocks) return null;
  const fromMs = floorHour(Date.parse(at));
  const existing = await deps().bookingStore.providerHours(providerId, hourKey(fromMs), hourKey(fromMs + (MAX_HORIZON_DAYS + 1) * 24 * HOUR_MS));
  const target = listedHours(blocks, fromMs);
  return { changes: hourChanges(existing, target), reduces: reducesHours(existing, target) };
}

/**
 * Writes the changed hours. Before the capacity state moves on, so a crash here is redone by the redelivery.
 * Returns the hours a reduction left short of their bookings (free below zero): interruptions, never dropped.
 */
async function writeBlocks(providerId: string, changes: NonNullable<Awaited<ReturnType<typeof blockChanges>>>['changes'], at: string): Promise<string[]> {
  const short: string[] = [];
  for (let i = 0; i < changes.length; i += BLOCK_WRITE_CONCURRENCY) {
    await Promise.all(changes.slice(i, i + BLOCK_WRITE_CONCURRENCY).map(async (c) => {
      const free = await deps().bookingStore.setListed(providerId, c.pool, c.hour, c.listed_gpus, c.exists, at);
      if (free < 0) short.push(`${c.pool}@${c.hour}`);
    }));
  }
  if (short.length > 0) logger.warn('capacity reduced below booked GPUs: bookings interrupted', { provider_id: providerId, hours: short.slice(0, 50), count: short.length });
  return short;
}

/** Applies one report under the provider's capacity state; returns what was done. */
export async function applyReport(report: CapacityReportInput, nowIso: string): Promise<'apply' | 'coalesce' | 'stale'> {
  const { providers } = deps();
  const found = await providers.get(report.provider_id);
  if (!found) throw new Error(`capacity report for unknown provider ${report.provider_id}`);
  const { value: state, version } = await providers.capacityState(report.provider_id);
  const prev = await providers.routing(report.provider_id);
  const d = decideCapacity(state, prev ?? { capacity: [], maintenance: [] }, report, found.value.capacity_interval_s, nowIso);
  if (d.action === 'stale') return 'stale';
  const blocks = await blockChanges(report.provider_id, report.capacity_blocks, nowIso);
  if (d.action === 'coalesce' && !blocks?.reduces) {
    await providers.saveCapacity(found.value, prev, { ...state, pending: report }, version, null, nowIso);
    return 'coalesce';
  }
  if (blocks) await writeBlocks(report.provider_id, blocks.changes, nowIso);
  await providers.saveCapacity(found.value, prev, { last_applied_reported_at: report.reported_at, last_applied_at: nowIso, pending: null }, version, report, nowIso);
  return 'apply';
}

export const consume = middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  const { doc, table } = deps();
  for (const [i, record] of event.Records.entries()) {
    try {
      const parsed = CapacityReport.safeParse(JSON.parse(record.body));
      if (!parsed.success) throw new Error(`malformed capacity report: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      const now = nowIso();
      const outcome = await applyReport(parsed.data, now);
      await storeCapacityReport(doc, table, { ...parsed.data, outcome }, now);
    } catch (err) {
      logger.warn('capacity record failed', { messageId: record.messageId, error: err as Error });
      // FIFO: once one message of a group fails, later ones of the batch must wait too, or order breaks.
      for (const rest of event.Records.slice(i)) failures.push({ itemIdentifier: rest.messageId });
      break;
    }
  }
  return { batchItemFailures: failures };
}).use(injectLambdaContext(logger));

/** Schedule: applies each provider's pending (coalesced) report once its interval has passed. */
export const flush = middy(async (): Promise<{ applied: number }> => {
  const { catalog, providers } = deps();
  const now = nowIso();
  let applied = 0;
  // The catalog snapshot holds every routing record: it is the `prev` each save needs.
  for (const r of (await catalog.load()).providers) {
    const { value: state, version } = await providers.capacityState(r.id);
    const found = state.pending ? await providers.get(r.id) : null;
    if (!found) continue;
    const due = duePending(state, found.value.capacity_interval_s, now);
    if (!due) continue;
    const blocks = await blockChanges(r.id, due.capacity_blocks, now);
    if (blocks) await writeBlocks(r.id, blocks.changes, now);
    await providers.saveCapacity(found.value, r, { last_applied_reported_at: due.reported_at, last_applied_at: now, pending: null }, version, due, now);
    applied++;
  }
  return { applied };
}).use(injectLambdaContext(logger));
