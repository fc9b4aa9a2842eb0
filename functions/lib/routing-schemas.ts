/**
 * The routing preferences a request or a key carries (SPEC §4; packages/core/src/gateway/preferences.ts):
 * OpenRouter's `provider` object and `models` fallbacks. Strict: a field it does not know is refused (a typo in
 * `ignore` must not silently route to the provider it meant to avoid). Which references exist is checked against
 * the catalog by the gateway (request) or the key route (key defaults), not here.
 */
import { z } from 'zod';
import { MAX_FALLBACK_MODELS, MAX_PRICE_USD_PER_MTOK, MAX_PROVIDER_REFS, MAX_REGION_CHARS, MODEL_ID, ROUTE_SORTS } from '../../packages/core/src/index.js';

/** A provider as startups see it: its id (`x-compux-provider`) or the startup's `provider_ref` of it. */
const ProviderRef = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a provider reference is a provider id (as x-compux-provider shows it) or a provider_ref');
const Refs = z.array(ProviderRef).max(MAX_PROVIDER_REFS);
const DECIMAL = /^\d{1,7}(\.\d{1,6})?$/;

/** USD per million tokens, a number or a decimal string (OpenRouter takes both), at most 6 decimal places. */
const UsdPerMtok = z
  .union([z.number(), z.string().regex(DECIMAL, 'a price is a decimal number of USD per million tokens')])
  .transform((v) => (typeof v === 'string' ? Number(v) : v))
  .pipe(
    z.number().min(0).max(MAX_PRICE_USD_PER_MTOK)
      .refine((v) => Math.abs(v * 1_000_000 - Math.round(v * 1_000_000)) < 1e-6, { message: 'a price has at most 6 decimal places (a micro-dollar)', params: { code: 'invalid_value' } }),
  );

export const ProviderPreferencesSchema = z.strictObject({
  /** Providers tried first, in this order. */
  order: Refs.optional(),
  /** Only these providers. */
  only: Refs.optional(),
  /** Never these providers. */
  ignore: Refs.optional(),
  /** false: only the providers in `order` (without `order`, only the best-ranked one); default true. */
  allow_fallbacks: z.boolean().optional(),
  sort: z.enum(ROUTE_SORTS).optional(),
  /** USD per million tokens, as OpenRouter takes it. */
  max_price: z.strictObject({ prompt: UsdPerMtok.optional(), completion: UsdPerMtok.optional() }).optional(),
  /** Providers with an endpoint in this region first (not a filter: `only` is). */
  region: z.string().regex(new RegExp(`^[a-z0-9-]{1,${MAX_REGION_CHARS}}$`), 'a region is a name such as "us-east-1"').optional(),
});

/** Fallback models, tried in order after `model` when it has no provider or all of them fail before the first byte. */
export const FallbackModels = z.array(z.string().regex(MODEL_ID, 'a fallback model must be a model id')).max(MAX_FALLBACK_MODELS);

/** The two fields every inference body takes (chat, completions, embeddings; and any route on the same gateway). */
export const RoutingFields = {
  provider: ProviderPreferencesSchema.nullable().optional(),
  models: FallbackModels.nullable().optional(),
};

/** A key's defaults (`routing` on key creation): the same two fields. */
export const KeyRoutingSchema = z.strictObject({ provider: ProviderPreferencesSchema.optional(), models: FallbackModels.optional() });

/** The request's own preferences from its validated body (nulls were dropped: absent is "not set"). */
export function requestRouting(body: Record<string, unknown>): { provider?: z.infer<typeof ProviderPreferencesSchema>; models?: string[] } | undefined {
  const provider = body.provider as z.infer<typeof ProviderPreferencesSchema> | undefined;
  const models = body.models as string[] | undefined;
  if (provider === undefined && models === undefined) return undefined;
  return { ...(provider !== undefined ? { provider } : {}), ...(models !== undefined ? { models } : {}) };
}
