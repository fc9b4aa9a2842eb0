/** Pricing routes (SPEC §7): the operator's spot index with its history, and the providers' revenue calculator. */
import type { z } from 'zod';
import { estimateRevenue, nowIso, type Accelerator } from '../packages/core/src/index.js';
import { apiRoute } from './lib/api.js';
import { deps } from './lib/deps.js';
import { limitPerAddress, perMinuteFromEnv } from './lib/address-limit.js';
import { badRequest, conflict, notFound } from './lib/errors.js';
import type { RevenueBody, SpotBody, SpotHistoryQuery } from './lib/pricing-schemas.js';
import { Accelerator as AcceleratorSchema } from '../events/capacity.js';

function accelerator(raw: string | undefined): Accelerator {
  const a = AcceleratorSchema.safeParse(raw);
  if (!a.success) throw notFound('accelerator');
  return a.data;
}

/** Sets the price in force from now; requests admitted from now on are priced with it. */
export const setSpot = apiRoute<z.infer<typeof SpotBody>>('functions/pricing.setSpot', async (req) => {
  const acc = accelerator(req.params.accelerator);
  const { catalog } = deps();
  const previous = (await catalog.spotPrices()).find((p) => p.accelerator === acc) ?? null;
  const at = nowIso();
  const r = await catalog.setSpotPrice(acc, req.body.usd_per_gpu_hour_micros, at);
  if (!r.in_force) throw conflict('A later price change landed first; this one is kept in the history only.', 'superseded');
  return { status: 200, body: { accelerator: acc, usd_per_gpu_hour_micros: req.body.usd_per_gpu_hour_micros, effective_at: at, previous_usd_per_gpu_hour_micros: previous?.usd_per_gpu_hour_micros ?? null } };
});

export const listSpot = apiRoute('functions/pricing.listSpot', async () => ({ status: 200, body: { data: await deps().catalog.spotPrices() } }));

export const spotHistory = apiRoute<unknown, z.infer<typeof SpotHistoryQuery>>('functions/pricing.spotHistory', async (req) => ({
  status: 200,
  body: await deps().catalog.spotHistory(accelerator(req.params.accelerator), req.query.limit, req.query.cursor),
}));

/** Estimates one address may ask for a minute: the public calculator's limit (COMPUX_ESTIMATES_PER_MINUTE, 1–1000). */
const ESTIMATES_PER_MINUTE = perMinuteFromEnv('COMPUX_ESTIMATES_PER_MINUTE', 30);

/** The revenue calculator: public (no key), rate limited per source address like the provider application. */
export const revenueEstimate = apiRoute<z.infer<typeof RevenueBody>>('functions/pricing.revenueEstimate', async (req) => {
  await limitPerAddress(req, 'revenue-estimate', ESTIMATES_PER_MINUTE, 'estimates');
  const spot = Object.fromEntries((await deps().catalog.spotPrices()).map((p) => [p.accelerator, p.usd_per_gpu_hour_micros]));
  const r = estimateRevenue(req.body.lines, spot, req.body.custom_premium_bps ?? null);
  if ('error' in r) throw badRequest(`No spot price is set for ${r.accelerator} yet.`, 'lines', 'no_spot_price');
  return { status: 200, body: r };
});
