/**
 * Routing preferences (SPEC §4, OpenRouter's `provider` object) and model fallbacks (`models`), pure: what a
 * request (or its key's defaults) asks of the route, resolved against the catalog snapshot, and applied to the
 * offers rankCandidates left (routing.ts). Admission (admission.ts) plans the route with it; the attempts loop
 * only walks the plan, so a failover can never leave it (an ignored provider, one outside `only`, or, with
 * `allow_fallbacks: false`, one not in `order` is never in the plan at all).
 *
 * Providers are named as startups see them, never by name: the provider's id (what `x-compux-provider`,
 * the request records and `GET /v1/usage?group_by=provider` show) or the startup's own opaque reference of it
 * (`provider_ref` in capacity-booking offers, bookings/bookings.ts).
 */
import { Bookings } from '../bookings/bookings.js';
import { LIMITED_ROUTING_GPU_HOURS, MAX_ATTEMPTS_PER_REQUEST } from '../routing.js';
import type { Offer, RoutingProvider } from '../catalog.js';
import type { Workload } from '../usage.js';

export const ROUTE_SORTS = ['price', 'latency', 'throughput'] as const;
export type RouteSort = (typeof ROUTE_SORTS)[number];
/** Provider references a list (`order`, `only`, `ignore`) may hold. */
export const MAX_PROVIDER_REFS = 16;
/** Fallback models a request (or a key) may give. */
export const MAX_FALLBACK_MODELS = 8;
/** Longest region name (AWS-style names such as `us-east-1` are far shorter). */
export const MAX_REGION_CHARS = 32;
/** Highest `max_price` figure, USD per million tokens: far above any real price, so only typos are refused. */
export const MAX_PRICE_USD_PER_MTOK = 1_000_000;
/**
 * Attempts one request may make over all its models: each model gets at most the gateway's `max_attempts`
 * (3) of its providers, and the whole request twice that, so a long `models` list cannot multiply the time a
 * caller waits. Models without any candidate cost no attempt.
 */
export const MAX_ROUTE_ATTEMPTS = 2 * MAX_ATTEMPTS_PER_REQUEST;

/** USD per million tokens, as OpenRouter takes it; at most 6 decimal places (a micro-dollar). */
export interface MaxPrice {
  prompt?: number;
  completion?: number;
}

/** The `provider` object, as a request or a key's `routing` carries it. */
export interface ProviderPreferences {
  order?: string[];
  only?: string[];
  ignore?: string[];
  allow_fallbacks?: boolean;
  sort?: RouteSort;
  max_price?: MaxPrice;
  region?: string;
}

/** What a request (or a key's default `routing`) asks of its route. */
export interface RoutingPreferences {
  provider?: ProviderPreferences;
  models?: string[];
}

/** Why the provider that answered was chosen: the `x-compux-route-reason` header. */
export type RouteReason = 'order' | `sort:${RouteSort}` | 'region' | 'default' | 'failover' | 'fallback_model';

/** The preferences with provider references resolved to provider ids and prices in micros per million tokens. */
export interface ResolvedPreferences {
  order: string[];
  only: ReadonlySet<string> | null;
  ignore: ReadonlySet<string>;
  allow_fallbacks: boolean;
  sort: RouteSort | null;
  max_prompt_micros_per_mtok: number | null;
  max_completion_micros_per_mtok: number | null;
  region: string | null;
  /** Fallback models after the requested one, de-duplicated, never the requested one itself. */
  models: string[];
}

/** A request's own preferences win over its key's, field by field (`max_price` and `models` as whole fields). */
export function mergePreferences(request: RoutingPreferences | undefined, key: RoutingPreferences | null | undefined): RoutingPreferences {
  const rp = request?.provider ?? {};
  const kp = key?.provider ?? {};
  const provider: ProviderPreferences = {};
  for (const f of ['order', 'only', 'ignore', 'allow_fallbacks', 'sort', 'max_price', 'region'] as const) {
    const v = rp[f] !== undefined ? rp[f] : kp[f];
    if (v !== undefined) (provider as Record<string, unknown>)[f] = v;
  }
  const models = request?.models ?? key?.models;
  return { provider, ...(models !== undefined ? { models } : {}) };
}

export type Resolved = { ok: true; prefs: ResolvedPreferences } | { ok: false; param: string; ref: string };

/** USD per million tokens → micros per million tokens (the schema allows at most 6 decimal places). */
const microsOf = (usd: number | undefined): number | null => (usd === undefined ? null : Math.round(usd * 1_000_000));

/**
 * Provider references → provider ids. A reference the catalog does not know is refused when the request gave that
 * list itself (`strict` names the fields it gave), and matches nothing when it came from the key's defaults (a
 * provider may have left the marketplace since the key was made).
 */
export function resolvePreferences(
  merged: RoutingPreferences, firstModel: string, providers: readonly Pick<RoutingProvider, 'id'>[], startupId: string, strict: ReadonlySet<string>,
): Resolved {
  const p = merged.provider ?? {};
  const lists = { order: p.order ?? [], only: p.only ?? [], ignore: p.ignore ?? [] };
  const byRef = new Map<string, string>();
  const named = Object.values(lists).some((l) => l.length > 0);
  // Most requests name no provider: nothing to index then. The startup's opaque references cost a hash each:
  // made only when a list names one.
  if (named) for (const pr of providers) byRef.set(pr.id, pr.id);
  if (named && Object.values(lists).some((l) => l.some((r) => r.startsWith('cpr_')))) {
    for (const pr of providers) byRef.set(Bookings.providerRef(startupId, pr.id), pr.id);
  }
  const ids: Record<keyof typeof lists, string[]> = { order: [], only: [], ignore: [] };
  for (const field of ['order', 'only', 'ignore'] as const) {
    for (const [i, ref] of lists[field].entries()) {
      const id = byRef.get(ref);
      if (id !== undefined) ids[field].push(id);
      else if (strict.has(field)) return { ok: false, param: `provider.${field}[${i}]`, ref };
    }
  }
  const models = [...new Set(merged.models ?? [])].filter((m) => m !== firstModel);
  return {
    ok: true,
    prefs: {
      order: [...new Set(ids.order)],
      // An allow-list given, even one whose references all left the catalog, still allows only what it names.
      only: p.only !== undefined ? new Set(ids.only) : null,
      ignore: new Set(ids.ignore),
      allow_fallbacks: p.allow_fallbacks ?? true,
      sort: p.sort ?? null,
      max_prompt_micros_per_mtok: microsOf(p.max_price?.prompt),
      max_completion_micros_per_mtok: microsOf(p.max_price?.completion),
      region: p.region ?? null,
      models,
    },
  };
}

/** Micros per million tokens at `tokensPerGpuSecond`, compared exactly: spot·10⁶ / (3600·rate) ≤ cap. */
function withinCap(spotMicrosPerGpuHour: number, tokensPerGpuSecond: number, capMicrosPerMtok: number | null): boolean {
  if (capMicrosPerMtok === null) return true;
  return BigInt(spotMicrosPerGpuHour) * 1_000_000n <= BigInt(capMicrosPerMtok) * 3_600n * BigInt(tokensPerGpuSecond);
}

/** The offer's list price per million tokens (micros): what `max_price` is compared with. */
export function pricePerMtokMicros(o: Pick<Offer, 'spot_micros_per_gpu_hour'>, tokensPerGpuSecond: number): number {
  return Math.ceil((o.spot_micros_per_gpu_hour * 1_000_000) / (3_600 * tokensPerGpuSecond));
}

export function withinMaxPrice(o: Offer, prefs: ResolvedPreferences, workload: Workload): boolean {
  // An embedding generates nothing: its completion rate is a placeholder, never billed, so no cap applies to it.
  return withinCap(o.spot_micros_per_gpu_hour, o.entry.prompt_tokens_per_gpu_second, prefs.max_prompt_micros_per_mtok)
    && (workload === 'embedding' || withinCap(o.spot_micros_per_gpu_hour, o.entry.completion_tokens_per_gpu_second, prefs.max_completion_micros_per_mtok));
}

/** What a sort compares; smaller first. `latencyMs` is the endpoint's expected time to first byte. */
export interface SortInputs {
  workload: Workload;
  latencyMs: (o: Offer) => number;
}

function sortValue(o: Offer, sort: RouteSort, inputs: SortInputs): number {
  if (sort === 'price') return o.price_micros;
  if (sort === 'latency') return inputs.latencyMs(o);
  // Throughput: the declared generation speed (embeddings: their prompt speed), fastest first.
  return -(inputs.workload === 'embedding' ? o.entry.prompt_tokens_per_gpu_second : o.entry.completion_tokens_per_gpu_second);
}

/** Why the offers of one model were cut down to none; null when some are left. */
export type EmptyCause = 'no_candidate' | 'providers' | 'max_price' | null;

export interface Preferred<T extends Offer> {
  /** The offers to try, best first (before the per-model attempt bound). */
  offers: T[];
  /** The preferences left out an offer that could otherwise have served: failover is restricted. */
  restricted: boolean;
  cause: EmptyCause;
}

/**
 * The preferences applied to one model's ranked offers (rankCandidates' order): `only`/`ignore` filter, then
 * `max_price`; then a stable re-sort — providers named in `order` first (in its order), limited providers after
 * the others, then with `region` the providers in it, then the `sort` — so ties keep the default ranking; and
 * with `allow_fallbacks: false` only the providers in `order` (without `order`, only the best one) are kept.
 */
export function applyPreferences<T extends Offer>(ranked: readonly T[], prefs: ResolvedPreferences, inputs: SortInputs): Preferred<T> {
  if (ranked.length === 0) return { offers: [], restricted: false, cause: 'no_candidate' };
  const allowed = ranked.filter((o) => (prefs.only === null || prefs.only.has(o.provider_id)) && !prefs.ignore.has(o.provider_id));
  if (allowed.length === 0) return { offers: [], restricted: true, cause: 'providers' };
  const priced = allowed.filter((o) => withinMaxPrice(o, prefs, inputs.workload));
  if (priced.length === 0) return { offers: [], restricted: true, cause: 'max_price' };
  const orderIdx = (o: Offer) => {
    const i = prefs.order.indexOf(o.provider_id);
    return i === -1 ? prefs.order.length : i;
  };
  const key = (o: T, rank: number) => [
    orderIdx(o),
    o.listed_gpu_hours_month < LIMITED_ROUTING_GPU_HOURS ? 1 : 0,
    prefs.region !== null && o.region !== prefs.region ? 1 : 0,
    prefs.sort !== null ? sortValue(o, prefs.sort, inputs) : 0,
    rank,
  ];
  const keyed = priced.map((o, rank) => ({ o, k: key(o, rank) }));
  keyed.sort((a, b) => {
    for (let i = 0; i < a.k.length; i++) if (a.k[i] !== b.k[i]) return a.k[i]! - b.k[i]!;
    return 0;
  });
  let offers = keyed.map((x) => x.o);
  if (!prefs.allow_fallbacks) {
    const first = offers[0]!.provider_id;
    offers = prefs.order.length > 0 ? offers.filter((o) => prefs.order.includes(o.provider_id)) : offers.filter((o) => o.provider_id === first);
    if (offers.length === 0) return { offers: [], restricted: true, cause: 'providers' };
  }
  return { offers, restricted: offers.length < ranked.length, cause: null };
}

/** Why an offer of the plan would serve, before any attempt (failover is known only as attempts fail). */
export function planReason(o: Offer, firstModel: string, prefs: ResolvedPreferences): RouteReason {
  if (o.entry.model !== firstModel) return 'fallback_model';
  if (prefs.order.includes(o.provider_id)) return 'order';
  if (prefs.sort !== null) return `sort:${prefs.sort}`;
  if (prefs.region !== null && o.region === prefs.region) return 'region';
  return 'default';
}
