/**
 * Covenants (SPEC §12): the lender's routes on its facility's covenants, and the covenant-check schedule that
 * evaluates every set every 5 minutes and tells each new breach (facility.covenant_breached, and with `freeze`
 * the facility frozen with the covenant as reason, facility.frozen). Only the facility's lender (or an operator)
 * sees them; anyone else gets 404, as for the facility.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { z } from 'zod';
import { Covenants, KeyBudgetAlerts, type BudgetUse, type KeyBudgetWatch, type Covenant, type CovenantSet, type CovenantState, type CreditAlert, type CreditAlertState, type Facility } from '../packages/core/src/index.js';
import { creditAlerts } from './credit-alerts.js';
import { DynamoCovenantStore, DynamoKeyBudgetStore } from '../packages/core/src/adapters/dynamodb/index.js';
import { apiRoute } from './lib/api.js';
import { deps } from './lib/deps.js';
import { badRequest, busy, conflict, notFound } from './lib/errors.js';
import { callerOf } from './facilities.js';
import { logger } from './lib/powertools.js';
import { emitFacilityEvent, webhooks } from './lib/webhooks.js';
import type { SetCovenantsBody } from './lib/covenant-schemas.js';

let cached: Covenants | undefined;
const covenants = (): Covenants => (cached ??= new Covenants(new DynamoCovenantStore(deps().doc, deps().table), deps().lending));

function replyOf(facilityId: string, set: CovenantSet | null) {
  return {
    object: 'covenant_set' as const,
    facility_id: facilityId,
    covenants: (set?.covenants ?? []).map((c) => {
      const s = set!.states.find((x) => x.kind === c.kind);
      return { ...c, state: { value: s?.value ?? null, breached: s?.breached ?? false, breached_since: s?.breached_since ?? null, evaluated_at: s?.evaluated_at ?? null } };
    }),
    updated_at: set?.updated_at ?? null,
  };
}

export const get = apiRoute('functions/covenants.get', async (req) => {
  const found = await covenants().get(callerOf(req.principal), req.params.id!);
  if (!found) throw notFound('facility');
  return { status: 200, body: replyOf(found.facility.id, found.set) };
});

export const put = apiRoute<z.infer<typeof SetCovenantsBody>>('functions/covenants.put', async (req) => {
  const r = await covenants().set(callerOf(req.principal), req.params.id!, req.body.covenants);
  if (r.ok) return { status: 200, body: replyOf(r.set.facility_id, r.set) };
  switch (r.code) {
    case 'invalid_covenant':
      throw badRequest(r.message, r.field, r.code);
    case 'not_found':
      throw notFound('facility');
    case 'facility_recovered':
      throw conflict('This facility was recovered; it takes no covenants.', r.code);
    case 'contention':
      throw busy();
  }
});

/** Tells a breach to the lender (the covenant and its figures) and the startup (which covenant, and the action). */
async function tell(f: Facility, c: Covenant, s: CovenantState, frozen: Facility | null): Promise<void> {
  const facts = [f.id, c.kind, s.breached_since!];
  const common = { facility_id: f.id, lender_id: f.lender_id, startup_id: f.startup_id, covenant: c.kind, action: c.action, breached_since: s.breached_since };
  const w = webhooks();
  const told = await Promise.all([
    w.emit('facility.covenant_breached', { role: 'lender', id: f.lender_id }, facts, { ...common, threshold: c.threshold, value: s.value }),
    w.emit('facility.covenant_breached', { role: 'startup', id: f.startup_id }, facts, common),
  ]);
  for (const r of told) if (!r.ok) logger.error('webhook event refused', { type: 'facility.covenant_breached', facility_id: f.id, code: r.code });
  if (frozen) await emitFacilityEvent('facility.frozen', frozen, [`frozen:${frozen.frozen_at}`]);
}

/** Tells the startup its facility's available credit fell below its threshold (credits.low). */
async function tellLow(f: Facility, a: CreditAlert, s: CreditAlertState): Promise<void> {
  const r = await webhooks().emit('credits.low', { role: 'startup', id: f.startup_id }, [f.id, 'low', s.low_since!], {
    facility_id: f.id, startup_id: f.startup_id, threshold_micros: a.threshold_micros, available_micros: s.available_micros, low_since: s.low_since,
  });
  if (!r.ok) logger.error('webhook event refused', { type: 'credits.low', facility_id: f.id, code: r.code });
}

/** Tells the startup a key's spend this period reached its soft threshold (key.budget_low), once a period. */
async function tellBudgetLow(w: KeyBudgetWatch, use: BudgetUse): Promise<void> {
  const r = await webhooks().emit('key.budget_low', { role: 'startup', id: w.startup_id }, [w.key_id, use.period_id ?? 'lifetime'], {
    key_id: w.key_id, startup_id: w.startup_id, budget_period: w.budget_period, period_id: use.period_id, budget_micros: use.budget_micros,
    budget_soft_micros: w.budget_soft_micros, budget_left_micros: use.budget_left_micros, budget_resets_at: use.resets_at,
  });
  if (!r.ok) throw new Error(`key.budget_low refused: ${r.code}`);
}

let keyAlerts: KeyBudgetAlerts | undefined;

export const check = middy(async () => {
  const report = await covenants().checkAll(tell);
  const low = await creditAlerts().checkAll(tellLow);
  const keys = await (keyAlerts ??= new KeyBudgetAlerts(new DynamoKeyBudgetStore(deps().doc, deps().table))).checkAll(tellBudgetLow);
  if (report.failures + low.failures + keys.failures > 0) logger.error('breaches or falls could not be told; the next run retries them', { ...report, credits_low: low, key_budget_low: keys });
  return { ...report, credits_low: low, key_budget_low: keys };
}).use(injectLambdaContext(logger));
