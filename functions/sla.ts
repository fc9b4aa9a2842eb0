/**
 * SLA (SPEC §6): the probe schedule and the standing it keeps on each routing record, and the provider's
 * view of its standing and alerts.
 *
 * Each minute: every live provider's endpoints get one probe (a streamed one-token completion carrying
 * a relay token); the samples join real traffic's in the hourly counters; then every live provider's
 * standing over the rolling 30 days is computed and written to its routing record — sla_meeting (a
 * breach lowers its rank, meeting the tier again raises it) and recent_error_ppm — with an alert on each
 * change of standing.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { z } from 'zod';
import {
  MAX_ENDPOINTS_PER_PROVIDER, mapBounded, probeModelFor, standing, slaDaily, type RoutingProvider, type SlaAlert, type SlaSample,
} from '../packages/core/src/index.js';
import { nowIso } from '../packages/core/src/clock.js';
import { apiRoute, providerIdOf } from './lib/api.js';
import { deps } from './lib/deps.js';
import { probeEndpoint } from './lib/probe.js';
import { emitSlaAlert } from './lib/webhooks.js';
import { notFound } from './lib/errors.js';
import { logger } from './lib/powertools.js';
import type { SlaQuery } from './lib/provider-schemas.js';

/** A probe slower than this counts as a failure (ten times the loosest tier's p95 bound). */
export const PROBE_TIMEOUT_MS = 5_000;
const PROBE_CONCURRENCY = 32;
const EVALUATE_CONCURRENCY = 8;
/** Probes one run may send: with 32 in flight and 5 s each at worst, a run ends within the minute. */
export const MAX_PROBES_PER_RUN = 320;

/** Recomputes one provider's standing and writes it to its routing record; returns the alert raised, if any. */
export async function evaluate(r: RoutingProvider, nowIso: string): Promise<SlaAlert | null> {
  const { sla } = deps();
  const s = standing(r.sla_tier, await sla.buckets(r.id, nowIso), nowIso);
  const alert = await sla.applyStanding(r.id, s, r.sla_meeting, r.recent_error_ppm, nowIso);
  if (alert) {
    logger.warn(`SLA ${alert.kind}`, { ...alert });
    // The standing is written; telling the provider cannot undo it or fail the run (emitSlaAlert logs, never throws).
    await emitSlaAlert(alert);
  }
  return alert;
}

export const probeAll = middy(async (): Promise<{ probes: number; failed: number; alerts: number }> => {
  const { catalog, sla } = deps();
  const live = (await catalog.load()).providers.filter((p) => p.status === 'live');
  const targets = live
    .flatMap((p) => p.endpoints.slice(0, MAX_ENDPOINTS_PER_PROVIDER).map((e) => ({ p, e, model: probeModelFor(p.models, e) })))
    .filter((t) => t.model !== null);
  if (targets.length > MAX_PROBES_PER_RUN) logger.warn('more live endpoints than one probe run covers; probing the first ones', { endpoints: targets.length, probed: MAX_PROBES_PER_RUN });
  const samples = await mapBounded(targets.slice(0, MAX_PROBES_PER_RUN), PROBE_CONCURRENCY, async ({ p, e, model }): Promise<SlaSample> => {
    const r = await probeEndpoint(p.id, e, model!, { max_tokens: 1, timeout_ms: PROBE_TIMEOUT_MS });
    return { provider_id: p.id, endpoint_id: e.id, source: 'probe', ok: r.ok, latency_ms: r.ok ? r.ttft_ms : null, at: nowIso() };
  });
  // record() takes a bounded number of provider-hours per call: one call per provider, a few at a time.
  const byProvider = new Map<string, SlaSample[]>();
  for (const s of samples) {
    const list = byProvider.get(s.provider_id) ?? [];
    list.push(s);
    byProvider.set(s.provider_id, list);
  }
  await mapBounded([...byProvider.values()], EVALUATE_CONCURRENCY, (ss) => sla.record(ss));
  const now = nowIso();
  const alerts = await mapBounded(live, EVALUATE_CONCURRENCY, (p) => evaluate(p, now));
  return { probes: samples.length, failed: samples.filter((s) => !s.ok).length, alerts: alerts.filter(Boolean).length };
}).use(injectLambdaContext(logger));

export const get = apiRoute<unknown, z.infer<typeof SlaQuery>>('functions/sla.get', async (req) => {
  const id = providerIdOf(req);
  const { providers, sla } = deps();
  const [found, routing] = await Promise.all([providers.get(id), providers.routing(id)]);
  if (!found || !routing) throw notFound('provider');
  const now = nowIso();
  const tier = found.value.sla_tier ?? 'standard';
  const buckets = await sla.buckets(id, now);
  const s = standing(tier, buckets, now);
  const page = await sla.alerts(id, req.query.limit, req.query.cursor);
  return { status: 200, body: { provider_id: id, ...s, daily: slaDaily(tier, buckets), routing_meeting: routing.sla_meeting, alerts: page.alerts, next_cursor: page.next_cursor } };
});
