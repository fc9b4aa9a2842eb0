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
import { decideCapacity, duePending, nowIso, type CapacityReportInput } from '../packages/core/src/index.js';
import { storeCapacityReport, type BlockPlan } from '../packages/core/src/adapters/dynamodb/index.js';
import { deps } from './lib/deps.js';
import { logger } from './lib/powertools.js';
import { emitBookingEvent } from './lib/webhooks.js';

/**
 * Writes a report's blocks as hour items, before the capacity state moves on, so a crash here is redone by the
 * redelivery. Hours a reduction left short of their bookings interrupt those bookings (newest first, until the
 * hour is no longer short: lifecycle.ts), each told to its startup (booking.interrupted): never dropped.
 */
async function writeBlocks(providerId: string, plan: BlockPlan, at: string): Promise<void> {
  const short = await deps().bookingStore.applyBlocks(providerId, plan, at);
  if (short.length === 0) return;
  const interrupted = await deps().lifecycle.interruptShortfall(providerId, short);
  for (const b of interrupted) await emitBookingEvent('booking.interrupted', b);
  logger.warn('capacity reduced below booked GPUs: bookings interrupted', { provider_id: providerId, hours: short.slice(0, 50).map((h) => `${h.pool}@${h.hour}`), count: short.length, bookings: interrupted.map((b) => b.id) });
}

/**
 * Maintenance windows the applied report lists over booked hours interrupt those bookings (lifecycle.ts), each told
 * to its startup. After the report is saved: a redelivery finds it stale, so a crash between is finished by the
 * next report that lists the window again (providers report every interval) — never a booking silently undelivered.
 */
async function interruptForMaintenance(providerId: string, windows: CapacityReportInput['maintenance_windows']): Promise<void> {
  const interrupted = await deps().lifecycle.interruptMaintenance(providerId, windows ?? []);
  for (const b of interrupted) await emitBookingEvent('booking.interrupted', b);
  if (interrupted.length > 0) logger.warn('maintenance over booked hours: bookings interrupted', { provider_id: providerId, bookings: interrupted.map((b) => b.id) });
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
  // Blocks absent: those applied before stay. A plan that lowers some hour is a reduction: it applies at once.
  const blocks = report.capacity_blocks ? await deps().bookingStore.planBlocks(report.provider_id, report.capacity_blocks, nowIso) : null;
  if (d.action === 'coalesce' && !blocks?.reduces) {
    // The latest pending wins, but a report without blocks leaves the pending blocks as they were (absent: unchanged).
    const pending = report.capacity_blocks || !state.pending?.capacity_blocks ? report : { ...report, capacity_blocks: state.pending.capacity_blocks };
    await providers.saveCapacity(found.value, prev, { ...state, pending }, version, null, nowIso);
    return 'coalesce';
  }
  if (blocks) await writeBlocks(report.provider_id, blocks, nowIso);
  await providers.saveCapacity(found.value, prev, { last_applied_reported_at: report.reported_at, last_applied_at: nowIso, pending: null }, version, report, nowIso);
  await interruptForMaintenance(report.provider_id, report.maintenance_windows);
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
    if (due.capacity_blocks) await writeBlocks(r.id, await deps().bookingStore.planBlocks(r.id, due.capacity_blocks, now), now);
    await providers.saveCapacity(found.value, r, { last_applied_reported_at: due.reported_at, last_applied_at: now, pending: null }, version, due, now);
    applied++;
  }
  return { applied };
}).use(injectLambdaContext(logger));
