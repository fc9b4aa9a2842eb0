/**
 * The routing catalog (SPEC §5, §6): what each provider serves, where, on which accelerator, at which
 * declared speed, with how much capacity, plus the spot price per accelerator (SPEC §7). The request path
 * reads it as one snapshot and turns it into ranked offers; provider onboarding (issue 4) writes it.
 */
import { assert } from './money.js';
import { TtlCache } from './cache.js';
import { checkRates, type DeclaredRates } from './pricing.js';
import type { Accelerator, ProviderOffer } from './routing.js';

export const ACCELERATORS: readonly Accelerator[] = ['H100', 'A100', 'H200'];
export type ModelKind = 'chat' | 'embedding';
export type ProviderStatus = ProviderOffer['status'];
export type SlaTier = 'standard' | 'premium' | 'enterprise';

/** Bounds that keep one provider's routing record well under DynamoDB's 400 KB item limit. */
export const MAX_ENDPOINTS_PER_PROVIDER = 32;
export const MAX_MODELS_PER_PROVIDER = 128;
export const MAX_CAPACITY_ENTRIES = 128;
export const MAX_MAINTENANCE_WINDOWS = 32;
/** Providers the request path will read in one catalog snapshot. */
export const MAX_PROVIDERS = 500;
export const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

export interface CatalogModel extends DeclaredRates {
  model: string;
  /** 'chat' models serve chat and completions; 'embedding' models serve embeddings. */
  kind: ModelKind;
  architecture: string;
  context_length: number;
  accelerator: Accelerator;
}

export interface ProviderEndpoint {
  id: string;
  /** OpenAI-compatible base URL, e.g. https://gpu.example.com/v1 */
  url: string;
  region: string;
  availability_zone: string;
  capacity_type: 'dedicated' | 'shared';
  accelerators: Accelerator[];
}

export interface CapacityEntry {
  accelerator: Accelerator;
  region: string;
  availability_zone: string;
  available_gpu_hours: number;
}

export interface MaintenanceWindow {
  start: string;
  end: string;
}

/** One provider as the router sees it. */
export interface RoutingProvider {
  id: string;
  name: string;
  status: ProviderStatus;
  sla_tier: SlaTier;
  /** Meeting the committed tier over the rolling 30 days (the SLA work keeps it current). */
  sla_meeting: boolean;
  recent_error_ppm: number;
  listed_gpu_hours_month: number;
  endpoints: ProviderEndpoint[];
  models: CatalogModel[];
  capacity: CapacityEntry[];
  maintenance: MaintenanceWindow[];
  updated_at: string;
}

export interface Catalog {
  providers: RoutingProvider[];
  /** Spot price in force, micros per GPU-hour, per accelerator. */
  spot_micros_per_gpu_hour: Partial<Record<Accelerator, number>>;
}

/** Where the request path reads its snapshot from (the DynamoDB adapter: one Query). */
export interface CatalogSource {
  load(): Promise<Catalog>;
}

/**
 * How old (ms of wall time) a catalog snapshot the request path routes on may be. A change written in this
 * process is seen at once (the write bumps the cache's epoch); one written by another instance is seen within
 * this bound. COMPUX_CATALOG_CACHE_TTL_MS sets it (0 turns the cache off), never above MAX_CATALOG_CACHE_TTL_MS.
 */
export const CATALOG_CACHE_TTL_MS = 2_000;
export const MAX_CATALOG_CACHE_TTL_MS = 10_000;

/**
 * The snapshot the request path reads (routing, GET /v1/models), kept for at most `ttlMs`. Shared between
 * requests: callers must not change it. Writers and background work (capacity flush, probes, reviews) read
 * the source itself, so what they write back is never built on a cached copy.
 */
export class CachedCatalog implements CatalogSource {
  private readonly cache: TtlCache<'snapshot', Catalog>;

  constructor(
    private readonly source: CatalogSource,
    opts: { ttlMs?: number; nowMs?: () => number; epoch?: () => number } = {},
  ) {
    const ttlMs = Math.min(Math.max(0, opts.ttlMs ?? CATALOG_CACHE_TTL_MS), MAX_CATALOG_CACHE_TTL_MS);
    // Reloaded in the background from half its TTL on, so routing never waits for the table under traffic.
    this.cache = new TtlCache({ ttlMs, maxEntries: 1, refreshAfterMs: Math.floor(ttlMs / 2), ...(opts.nowMs ? { nowMs: opts.nowMs } : {}), ...(opts.epoch ? { epoch: opts.epoch } : {}) });
  }

  load(): Promise<Catalog> {
    return this.cache.get('snapshot', () => this.source.load());
  }

  invalidate(): void {
    this.cache.invalidate('snapshot');
  }
}

/** One way to serve a request: a provider's model on one of its endpoints. */
export interface Offer extends ProviderOffer {
  provider_name: string;
  endpoint: ProviderEndpoint;
  entry: CatalogModel;
  spot_micros_per_gpu_hour: number;
}

export function checkProvider(p: RoutingProvider): void {
  assert(p.endpoints.length <= MAX_ENDPOINTS_PER_PROVIDER, `at most ${MAX_ENDPOINTS_PER_PROVIDER} endpoints a provider`);
  assert(p.models.length <= MAX_MODELS_PER_PROVIDER, `at most ${MAX_MODELS_PER_PROVIDER} models a provider`);
  assert(p.capacity.length <= MAX_CAPACITY_ENTRIES, `at most ${MAX_CAPACITY_ENTRIES} capacity entries a provider`);
  assert(p.maintenance.length <= MAX_MAINTENANCE_WINDOWS, `at most ${MAX_MAINTENANCE_WINDOWS} maintenance windows a provider`);
  for (const m of p.models) {
    assert(MODEL_ID.test(m.model), `model id ${m.model} is not valid`);
    assert(Number.isSafeInteger(m.context_length) && m.context_length >= 1 && m.context_length <= 10_000_000, 'context length out of range');
    checkRates(m);
  }
  for (const c of p.capacity) assert(Number.isFinite(c.available_gpu_hours) && c.available_gpu_hours >= 0, 'capacity must be a non-negative number of GPU-hours');
}

/** GPU-hours available to an endpoint for an accelerator: the capacity reported for its region and zone. */
function capacityFor(p: RoutingProvider, e: ProviderEndpoint, acc: Accelerator): number {
  let hours = 0;
  for (const c of p.capacity) if (c.accelerator === acc && c.region === e.region && c.availability_zone === e.availability_zone) hours += c.available_gpu_hours;
  return hours;
}

/**
 * Every offer of `model` for a route of `kind`: each provider's catalog entries for the model, on each of
 * its endpoints that carries the entry's accelerator. Offers without a spot price are left out (nothing
 * could be charged for them). Filtering by status, maintenance, capacity and circuit is rankCandidates' job.
 */
export function offersFor(catalog: Catalog, model: string, kind: ModelKind): Offer[] {
  const out: Offer[] = [];
  for (const p of catalog.providers) {
    for (const entry of p.models) {
      if (entry.model !== model || entry.kind !== kind) continue;
      const spot = catalog.spot_micros_per_gpu_hour[entry.accelerator];
      if (spot === undefined) continue;
      for (const endpoint of p.endpoints) {
        if (!endpoint.accelerators.includes(entry.accelerator)) continue;
        out.push({
          provider_id: p.id,
          provider_name: p.name,
          endpoint_id: endpoint.id,
          status: p.status,
          models: [entry.model],
          accelerator: entry.accelerator,
          region: endpoint.region,
          available_gpu_hours: capacityFor(p, endpoint, entry.accelerator),
          listed_gpu_hours_month: p.listed_gpu_hours_month,
          maintenance: p.maintenance,
          sla_meeting: p.sla_meeting,
          recent_error_ppm: p.recent_error_ppm,
          price_micros: 0,
          endpoint,
          entry,
          spot_micros_per_gpu_hour: spot,
        });
      }
    }
  }
  return out;
}

export interface ListedModel {
  id: string;
  kind: ModelKind;
  context_length: number;
  accelerators: Accelerator[];
  providers: number;
}

/** Models served by at least one live provider (GET /v1/models), sorted by id. */
export function listedModels(catalog: Catalog): ListedModel[] {
  const byId = new Map<string, ListedModel & { owners: Set<string> }>();
  for (const p of catalog.providers) {
    if (p.status !== 'live') continue;
    for (const m of p.models) {
      if (catalog.spot_micros_per_gpu_hour[m.accelerator] === undefined) continue;
      const cur = byId.get(m.model) ?? { id: m.model, kind: m.kind, context_length: m.context_length, accelerators: [], providers: 0, owners: new Set<string>() };
      // The smallest context any provider offers is the one a caller can count on.
      cur.context_length = Math.min(cur.context_length, m.context_length);
      if (!cur.accelerators.includes(m.accelerator)) cur.accelerators.push(m.accelerator);
      cur.owners.add(p.id);
      cur.providers = cur.owners.size;
      byId.set(m.model, cur);
    }
  }
  return [...byId.values()].map(({ owners: _o, ...m }) => ({ ...m, accelerators: [...m.accelerators].sort() })).sort((a, b) => a.id.localeCompare(b.id));
}
