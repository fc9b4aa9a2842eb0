/**
 * The demo world `npm start` seeds (issue 3): three simulated GPU providers (H100, A100, H200) live in the
 * routing catalog with capacity, spot prices for each accelerator, one lender, one startup with a facility,
 * and a startup key printed so that `curl` or the `openai` client works at once.
 *
 * Tenants, the facility and the key are made through the public API with the operator key (the same
 * routes anyone uses). The providers are written as live provider records (with a provider key, a
 * webhook secret and an applied capacity report) directly, skipping the probes of onboarding, so the
 * demo starts at once; a provider onboarded through validation ends with the same records. With `blocks`
 * (npm start) each provider also lists capacity blocks for the coming two weeks, to quote and book.
 *
 * With a kept data directory the world is reused: the marker item names the startup, and each start
 * only refreshes the providers (their simulators listen on new ports) and makes a fresh startup key.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { RelayVerifier } from '../packages/provider-kit/src/index.js';
import { startSimulator, type SimModel, type Simulator, type SimulatorOptions } from '../packages/simulator/src/index.js';
import { HOUR_MS, MIN_CAPACITY_INTERVAL_S, floorHour, newSecretKey, nowIso, nowS, routingOf, unlimitedKey, type Accelerator, type CapacityBlock, type CatalogModel, type ProviderRecord, type RoutingProvider } from '../packages/core/src/index.js';
import { DynamoBookings, DynamoCatalog, DynamoProviders, documentClient } from '../packages/core/src/adapters/dynamodb/index.js';
import type { Runtime } from './runtime.js';
import { seedDemoHistory } from './demo-history.js';

export interface DemoProvider {
  id: string;
  name: string;
  accelerator: Accelerator;
  region: string;
  models: Omit<CatalogModel, 'accelerator'>[];
}

/** Spot index of the demo, micros per GPU-hour. */
export const DEMO_SPOT: Record<Accelerator, number> = { H100: 2_490_000, A100: 1_290_000, H200: 3_590_000 };

const LLAMA_70B = 'llama-3.1-70b-instruct';
export const DEMO_PROVIDERS: DemoProvider[] = [
  {
    id: 'prv_demoAurora01', name: 'Aurora GPU (simulated)', accelerator: 'H100', region: 'us-east-1',
    models: [
      { model: LLAMA_70B, kind: 'chat', architecture: 'llama', context_length: 131_072, prompt_tokens_per_gpu_second: 4_000, completion_tokens_per_gpu_second: 60 },
      { model: 'text-embedding-3-small', kind: 'embedding', architecture: 'bert', context_length: 8_191, prompt_tokens_per_gpu_second: 50_000, completion_tokens_per_gpu_second: 1 },
    ],
  },
  {
    id: 'prv_demoBasalt01', name: 'Basalt Compute (simulated)', accelerator: 'A100', region: 'us-west-2',
    models: [
      { model: LLAMA_70B, kind: 'chat', architecture: 'llama', context_length: 131_072, prompt_tokens_per_gpu_second: 1_800, completion_tokens_per_gpu_second: 25 },
      { model: 'llama-3.1-8b-instruct', kind: 'chat', architecture: 'llama', context_length: 131_072, prompt_tokens_per_gpu_second: 12_000, completion_tokens_per_gpu_second: 180 },
    ],
  },
  {
    id: 'prv_demoCirrus01', name: 'Cirrus Cloud (simulated)', accelerator: 'H200', region: 'eu-west-1',
    models: [
      { model: LLAMA_70B, kind: 'chat', architecture: 'llama', context_length: 131_072, prompt_tokens_per_gpu_second: 6_000, completion_tokens_per_gpu_second: 90 },
      { model: 'llama-3.1-405b-instruct', kind: 'chat', architecture: 'llama', context_length: 131_072, prompt_tokens_per_gpu_second: 900, completion_tokens_per_gpu_second: 12 },
    ],
  },
];

export interface DemoWorld {
  simulators: Map<string, Simulator>;
  providers: RoutingProvider[];
  /** Per provider: its webhook secret (to sign capacity reports) and, on the first seed only, its key. */
  providerSecrets: Map<string, { key: string | null; webhook_secret: string }>;
  startupId: string;
  lenderId: string;
  lenderKey: string | null;
  facilityId: string;
  startupKey: string;
  stop(): Promise<void>;
}

export interface DemoOptions {
  /** Options for every simulator (latency, pacing), e.g. { ttftMs: 150, tokensPerSecond: 80 }. */
  simulator?: SimulatorOptions;
  /** The facility's principal (default 10,000 USD). */
  principalMicros?: number;
  /** Seed seven weeks of past traffic, SLA probes and last month's settlement (local/demo-history.ts), once per table. */
  history?: boolean;
  /** List capacity blocks on each provider for the coming two weeks, so a startup can quote and book at once. */
  blocks?: boolean;
}

/** Days of blocks the demo lists ahead, and their GPUs: a dedicated block, and a burst over its first two days. */
const DEMO_BLOCK_DAYS = 14;
const DEMO_BLOCK_GPUS = 16;
const DEMO_BURST_GPUS = 8;

/** The demo provider's blocks from the next whole hour: what `npm start` lists for bookings. */
export function demoBlocks(p: DemoProvider, atMs: number): CapacityBlock[] {
  const start = floorHour(atMs) + HOUR_MS;
  const place = { accelerator: p.accelerator, region: p.region, availability_zone: `${p.region}a`, interconnect: p.accelerator === 'A100' ? 'roce' : 'infiniband' } as const;
  return [
    { ...place, capacity_type: 'dedicated', start: new Date(start).toISOString(), end: new Date(start + DEMO_BLOCK_DAYS * 24 * HOUR_MS).toISOString(), gpus: DEMO_BLOCK_GPUS },
    { ...place, capacity_type: 'dedicated', start: new Date(start).toISOString(), end: new Date(start + 48 * HOUR_MS).toISOString(), gpus: DEMO_BURST_GPUS, burst: true },
  ];
}

function providerRecord(p: DemoProvider, url: string, at: string): ProviderRecord {
  return {
    id: p.id, name: p.name, contact_email: `ops@${p.id.slice(4).toLowerCase()}.example`, regions: [p.region], accelerators: [p.accelerator],
    status: 'live', sla_tier: 'standard', capacity_interval_s: MIN_CAPACITY_INTERVAL_S,
    endpoints: [{ id: `${p.id}_ep1`, url: `${url}/v1`, region: p.region, availability_zone: `${p.region}a`, capacity_type: 'dedicated', accelerators: [p.accelerator] }],
    models: p.models.map((m) => ({ ...m, accelerator: p.accelerator })),
    steps: [{ step: 'live', result: 'recorded', at, detail: 'seeded by the local demo (simulated provider; validation skipped)' }],
    created_at: at, updated_at: at,
  };
}

/** Writes (or refreshes) a demo provider as a live provider record with one applied capacity report. */
async function seedProvider(providers: DynamoProviders, p: DemoProvider, url: string, at: string) {
  const fresh = providerRecord(p, url, at);
  const existing = await providers.get(p.id);
  let key: string | null = null;
  let record: ProviderRecord;
  if (!existing) {
    const k = unlimitedKey('provider', p.id, `${p.name} (demo)`, at);
    key = k.secret;
    record = fresh;
    await providers.create(record, k.record, newSecretKey('whsec'));
  } else {
    // Its simulator listens on a new port each start.
    record = { ...existing.value, endpoints: fresh.endpoints, status: 'live', updated_at: at };
    await providers.save(record, existing.version);
  }
  const state = await providers.capacityState(p.id);
  const report = {
    event_id: `evt_demo_${at}`, provider_id: p.id, reported_at: at,
    capacity: [{ accelerator: p.accelerator, region: p.region, availability_zone: `${p.region}a`, available_gpu_hours: 2_000 }], burst_windows: [], maintenance_windows: [],
  };
  const prev = await providers.routing(p.id);
  await providers.saveCapacity(record, prev, { last_applied_reported_at: at, last_applied_at: at, pending: null }, state.version, report, at);
  // The routing record saveCapacity just wrote.
  return { routing: routingOf(record, prev, report, at), key, webhook_secret: (await providers.webhookSecret(p.id))! };
}

async function api(rt: Runtime, method: string, path: string, key: string, body?: unknown): Promise<any> {
  const res = await fetch(`${rt.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`seeding: ${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

export async function seedDemoWorld(rt: Runtime, opts: DemoOptions = {}): Promise<DemoWorld> {
  const doc = documentClient({ endpoint: rt.endpoints.dynamodb });
  const catalog = new DynamoCatalog(doc, rt.tableName);
  const providerStore = new DynamoProviders(doc, rt.tableName);
  const providerSecrets: DemoWorld['providerSecrets'] = new Map();
  const simulators = new Map<string, Simulator>();
  const stop = async () => {
    await Promise.all([...simulators.values()].map((s) => s.stop()));
    doc.destroy();
  };
  try {
    const at = nowIso();
    const providers: RoutingProvider[] = [];
    for (const p of DEMO_PROVIDERS) {
      const models: SimModel[] = p.models.map((m) => ({ id: m.model, embedding: m.kind === 'embedding', context_length: m.context_length, accelerator: p.accelerator }));
      // Like a real provider, each simulator serves only requests carrying a relay token minted for it,
      // checked with the provider kit against the marketplace's published keys (on the marketplace's clock,
      // which COMPUX_NOW may shift away from this machine's).
      const relay = new RelayVerifier({ providerId: p.id, jwksUrl: `${rt.baseUrl}/v1/relay/keys`, nowS });
      const sim = await startSimulator({ models, verifyToken: async (token) => (await relay.verify(token)).ok, ...(opts.simulator ?? {}) });
      simulators.set(p.id, sim);
      const seeded = await seedProvider(providerStore, p, sim.url, at);
      providers.push(seeded.routing);
      providerSecrets.set(p.id, { key: seeded.key, webhook_secret: seeded.webhook_secret });
    }
    for (const [acc, micros] of Object.entries(DEMO_SPOT) as [Accelerator, number][]) await catalog.setSpotPrice(acc, micros, at);
    if (opts.blocks) {
      // Written as the capacity consumer writes a report's blocks: only the hours that change, bookings kept.
      const hours = new DynamoBookings(doc, rt.tableName);
      for (const p of DEMO_PROVIDERS) await hours.applyBlocks(p.id, await hours.planBlocks(p.id, demoBlocks(p, Date.parse(at)), at), at);
    }

    const markerKey = { pk: 'SEED#demo', sk: 'SEED' };
    const marker = (await doc.send(new GetCommand({ TableName: rt.tableName, Key: markerKey, ConsistentRead: true }))).Item;
    let startupId: string;
    let lenderId: string;
    let lenderKey: string | null = null;
    let facilityId: string;
    if (marker) {
      ({ startup_id: startupId, lender_id: lenderId, facility_id: facilityId } = marker as { startup_id: string; lender_id: string; facility_id: string });
    } else {
      startupId = (await api(rt, 'POST', '/v1/admin/startups', rt.adminKey, { name: 'Demo Startup', segment: 'series_a' })).id;
      const lender = await api(rt, 'POST', '/v1/admin/lenders', rt.adminKey, { name: 'Demo Capital' });
      lenderId = lender.id;
      lenderKey = lender.key;
      facilityId = (
        await api(rt, 'POST', '/v1/facilities', lender.key, {
          startup_id: startupId, principal_micros: opts.principalMicros ?? 10_000_000_000, multiplier: 1.25, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 75,
        })
      ).id;
      await doc.send(new PutCommand({ TableName: rt.tableName, Item: { ...markerKey, type: 'seed_marker', startup_id: startupId, lender_id: lenderId, facility_id: facilityId, created_at: at } }));
    }
    const startupKey = (await api(rt, 'POST', `/v1/admin/startups/${startupId}/keys`, rt.adminKey, { name: `demo ${at}` })).key as string;
    if (opts.history) await seedDemoHistory(rt, doc, (method, path, key, body) => api(rt, method, path, key, body), { startupId, lenderId });
    return { simulators, providers, providerSecrets, startupId, lenderId, lenderKey, facilityId, startupKey, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
