/**
 * Routes the dashboards read (SPEC §8) beyond the management routes every client has: who a key is, a
 * provider's utilization, a facility's daily burn, the operator's review queue and settlement runs.
 */
import type { z } from 'zod';
import { FORECAST_DAYS, MAX_PROVIDERS, now as clockNow, nowMs, previousPeriod, utilization } from '../packages/core/src/index.js';
import { apiRoute, providerIdOf } from './lib/api.js';
import { deps } from './lib/deps.js';
import { notFound } from './lib/errors.js';
import type { DaysQuery, ReviewQuery, RunsQuery } from './lib/dashboard-schemas.js';
import { visibleFacility } from './facilities.js';

const hourOf = (ms: number) => new Date(ms).toISOString().slice(0, 13);
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export const me = apiRoute('functions/dashboard.me', async (req) => {
  const p = req.principal!;
  return { status: 200, body: { role: p.role, tenant_id: p.tenant_id, key_id: p.key_id, key_name: p.key?.name ?? null } };
});

export const providerUtilization = apiRoute<unknown, z.infer<typeof DaysQuery>>('functions/dashboard.providerUtilization', async (req) => {
  const id = providerIdOf(req);
  const { providers, dashboard } = deps();
  const routing = await providers.routing(id);
  if (!routing) throw notFound('provider');
  const now = nowMs();
  const from = hourOf(now - req.query.days * 86_400_000);
  // The capacity blocks' hour items (SPEC §11) from the window's start to the forecast's end: booked and listed.
  const [hours, blocks] = await Promise.all([
    dashboard.providerHours(id, from, hourOf(now)),
    deps().bookingStore.providerHours(id, from, hourOf(now + (FORECAST_DAYS + 2) * 86_400_000)),
  ]);
  return { status: 200, body: { provider_id: id, ...utilization(hours, routing, new Date(now).toISOString(), req.query.days, blocks) } };
});

export const facilityBurn = apiRoute<unknown, z.infer<typeof DaysQuery>>('functions/dashboard.facilityBurn', async (req) => {
  const f = await visibleFacility(req);
  const now = nowMs();
  const [from, to] = [dayOf(now - (req.query.days - 1) * 86_400_000), dayOf(now)];
  const [daily, breakdown] = await Promise.all([deps().dashboard.facilityDailySpend(f.id, from, to), deps().dashboard.facilitySpendBreakdown(f.id, from, to)]);
  return { status: 200, body: { facility_id: f.id, days: req.query.days, daily, ...breakdown } };
});

/** The providers in one onboarding state, oldest application first (the review queue is pending_review). */
export const providerQueue = apiRoute<unknown, z.infer<typeof ReviewQuery>>('functions/dashboard.providerQueue', async (req) => {
  const { catalog, providers } = deps();
  const routing = (await catalog.load()).providers.filter((p) => p.status === req.query.status).slice(0, MAX_PROVIDERS);
  const profiles = await Promise.all(routing.map((r) => providers.get(r.id)));
  const data = routing.map((r, i) => {
    const p = profiles[i]?.value;
    return { id: r.id, name: r.name, status: r.status, contact_email: p?.contact_email ?? null, regions: p?.regions ?? [], accelerators: p?.accelerators ?? [], created_at: p?.created_at ?? null };
  });
  data.sort((a, b) => (a.created_at ?? '').localeCompare(b.created_at ?? ''));
  return { status: 200, body: { data } };
});

/** The last `months` months' settlement runs, newest first (months never started say so). */
export const settlementRuns = apiRoute<unknown, z.infer<typeof RunsQuery>>('functions/dashboard.settlementRuns', async (req) => {
  const periods: string[] = [];
  let at = clockNow();
  for (let i = 0; i < req.query.months; i++) {
    const p = previousPeriod(at);
    periods.push(p);
    at = new Date(`${p}-01T00:00:00.000Z`);
  }
  const runs = await Promise.all(periods.map((p) => deps().settlement.getRun(p)));
  const data = periods.map((period, i) => runs[i] ?? { period, status: 'not_started' as const, started_at: null, finished_at: null, totals: null, failures: [] });
  return { status: 200, body: { data } };
});
