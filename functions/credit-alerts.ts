/**
 * `credits.low` thresholds (SPEC §12): the startup's routes on its own facilities' alerts. The covenant-check
 * schedule evaluates them (functions/covenants.ts) and tells each fall below a threshold once.
 */
import type { z } from 'zod';
import { CreditAlerts, type CreditAlertSet } from '../packages/core/src/index.js';
import { DynamoCreditAlertStore } from '../packages/core/src/adapters/dynamodb/index.js';
import { apiRoute, startupIdOf } from './lib/api.js';
import { deps } from './lib/deps.js';
import { badRequest, busy, notFound } from './lib/errors.js';
import type { SetCreditAlertsBody } from './lib/covenant-schemas.js';

let cached: CreditAlerts | undefined;
export const creditAlerts = (): CreditAlerts => (cached ??= new CreditAlerts(new DynamoCreditAlertStore(deps().doc, deps().table), deps().lending));

const replyOf = (set: CreditAlertSet | null) => ({
  object: 'credit_alerts' as const,
  alerts: (set?.alerts ?? []).map((a) => {
    const s = set!.states.find((x) => x.facility_id === a.facility_id);
    return { ...a, state: { available_micros: s?.available_micros ?? null, low: s?.low ?? false, low_since: s?.low_since ?? null, evaluated_at: s?.evaluated_at ?? null } };
  }),
  updated_at: set?.updated_at ?? null,
});

export const get = apiRoute('functions/credit-alerts.get', async (req) => ({ status: 200, body: replyOf(await creditAlerts().get(startupIdOf(req))) }));

export const put = apiRoute<z.infer<typeof SetCreditAlertsBody>>('functions/credit-alerts.put', async (req) => {
  const r = await creditAlerts().set(startupIdOf(req), req.body.alerts);
  if (r.ok) return { status: 200, body: replyOf(r.set) };
  if (r.code === 'invalid_alert') throw badRequest(r.message, r.field, r.code);
  if (r.code === 'facility_not_found') throw notFound('facility');
  throw busy();
});
