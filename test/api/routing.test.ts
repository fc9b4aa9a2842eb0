/**
 * Routing preferences and model fallbacks end to end (SPEC §4, issue 15 point 5), against the demo world's three
 * simulated providers serving llama-3.1-70b-instruct — by default Cirrus (cheapest), then Aurora, then Basalt —
 * plus llama-3.1-8b-instruct (Basalt only) and llama-3.1-405b-instruct (Cirrus only): the `provider` object picks,
 * filters and sorts, `models` falls back, a key's defaults apply and a request's own win, failover stays within
 * the preferences, and the reply headers say which provider, which model and why.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';
import { requestRecord } from '../setup/records.js';
import { DEMO_PROVIDERS, DEMO_SPOT } from '../../local/demo.js';
import { Bookings, requestEconomics } from '../../packages/core/src/index.js';
import { DynamoCatalog } from '../../packages/core/src/adapters/dynamodb/index.js';

// Routing reads the catalog as it is written (a provider's health is changed below), and gives up on a held provider fast.
process.env.COMPUX_CATALOG_CACHE_TTL_MS = '0';
process.env.COMPUX_UPSTREAM_FIRST_BYTE_TIMEOUT_MS = '1500';

const LLAMA = 'llama-3.1-70b-instruct';
const SMALL = 'llama-3.1-8b-instruct';
const LARGE = 'llama-3.1-405b-instruct';
const [AURORA, BASALT, CIRRUS] = ['prv_demoAurora01', 'prv_demoBasalt01', 'prv_demoCirrus01'];
const messages = [{ role: 'user' as const, content: 'Which provider are you?' }];

let rt: TestRuntime;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  rt = await startTestRuntime('routing', { demo: {} });
  call = client(rt.baseUrl);
});
afterAll(async () => rt?.stop());
afterEach(() => {
  for (const s of rt.world!.simulators.values()) s.setOptions({ fault: null, ttftMs: 0 });
});

const sim = (id: string) => rt.world!.simulators.get(id)!;

/** A chat request with routing fields; what came back and the headers that explain it. */
async function chat(extra: Record<string, unknown>, key = rt.world!.startupKey, path = '/v1/chat/completions') {
  const body = path === '/v1/completions' ? { model: LLAMA, prompt: 'hi', max_tokens: 8, ...extra } : { model: LLAMA, messages, max_tokens: 8, ...extra };
  const r = await call('POST', path, { key, body });
  return { ...r, provider: r.headers.get('x-compux-provider'), model: r.headers.get('x-compux-model'), reason: r.headers.get('x-compux-route-reason'), attempts: r.headers.get('x-compux-attempts') };
}

async function credits() {
  return (await call('GET', '/v1/credits', { key: rt.world!.startupKey })).body as { reserved_micros: number; spent_micros: number };
}

async function settled() {
  for (let i = 0; i < 100; i++) {
    const c = await credits();
    if (c.reserved_micros === 0) return c;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('a hold stayed open');
}

function expectedCost(providerId: string, model: string, prompt: number, completion: number): number {
  const p = DEMO_PROVIDERS.find((x) => x.id === providerId)!;
  return requestEconomics(prompt, completion, p.models.find((x) => x.model === model)!, DEMO_SPOT[p.accelerator]).cost_micros;
}

describe('the provider object picks the provider', () => {
  it('serves by the default ranking without preferences, and says so', async () => {
    // Act
    const r = await chat({});
    // Assess
    expect(r.status).toBe(200);
    expect([r.provider, r.model, r.reason]).toEqual([CIRRUS, LLAMA, 'default']);
  });

  it.each([
    ['order', { order: [BASALT, AURORA] }, BASALT, 'order'],
    ['only', { only: [AURORA, BASALT] }, AURORA, 'default'],
    ['ignore', { ignore: [CIRRUS, AURORA] }, BASALT, 'default'],
    ['region', { region: 'us-west-2' }, BASALT, 'region'],
  ])('%s', async (_n, provider, served, reason) => {
    // Act
    const r = await chat({ provider });
    // Assess
    expect(r.status).toBe(200);
    expect([r.provider, r.reason]).toEqual([served, reason]);
  });

  it("takes the startup's opaque provider_ref (as booking offers show it) as well as the id", async () => {
    // Prepare
    const ref = Bookings.providerRef(rt.world!.startupId, BASALT);
    // Act
    const r = await chat({ provider: { only: [ref] } });
    // Assess
    expect(r.status).toBe(200);
    expect(r.provider).toBe(BASALT);
  });

  it('applies to legacy completions and embeddings too', async () => {
    // Act
    const completion = await chat({ provider: { order: [AURORA] } }, undefined, '/v1/completions');
    const embedding = await call('POST', '/v1/embeddings', { key: rt.world!.startupKey, body: { model: 'text-embedding-3-small', input: 'x', provider: { ignore: [AURORA] } } });
    // Assess
    expect([completion.status, completion.provider, completion.reason]).toEqual([200, AURORA, 'order']);
    expect(embedding.status).toBe(503);
    expect(embedding.body.error).toMatchObject({ type: 'server_error', code: 'no_allowed_provider' });
  });

  it('tells it on a stream too', async () => {
    // Act
    const r = await chat({ provider: { order: [AURORA] }, stream: true });
    // Assess
    expect(r.status).toBe(200);
    expect(String(r.body)).toContain('data: [DONE]');
    expect([r.provider, r.model, r.reason]).toEqual([AURORA, LLAMA, 'order']);
  });
});

describe('sort', () => {
  it('price: the cheapest first even when the default ranking puts a healthier one first', async () => {
    // Prepare: Cirrus (the cheapest) shows recent errors, which the default ranking weighs before price.
    const catalog = new DynamoCatalog(rt.doc, rt.tableName);
    const cirrus = (await catalog.load()).providers.find((p) => p.id === CIRRUS)!;
    await catalog.putProvider({ ...cirrus, recent_error_ppm: 50_000 });
    try {
      // Act
      const plain = await chat({});
      const byPrice = await chat({ provider: { sort: 'price' } });
      // Assess
      expect(plain.provider).toBe(AURORA);
      expect([byPrice.provider, byPrice.reason]).toEqual([CIRRUS, 'sort:price']);
    } finally {
      await catalog.putProvider(cirrus);
    }
  });

  it('latency: the endpoint that answered fastest in this process first', async () => {
    // Prepare: Cirrus answers its first byte after 600 ms, Aurora at once. Three of each move the mean (which weighs
    // the newest 0.3) past any sample earlier tests left: Cirrus above 400 ms, Aurora near its own. Basalt is left
    // out: earlier tests may have seen it answer fast, or not at all (its tier's 500 ms).
    sim(CIRRUS).setOptions({ ttftMs: 600 });
    for (let i = 0; i < 3; i++) {
      // Streams: their first event is what the latency sort measures.
      await chat({ provider: { only: [CIRRUS] }, stream: true });
      await chat({ provider: { only: [AURORA] }, stream: true });
    }
    // Act
    const r = await chat({ provider: { sort: 'latency', ignore: [BASALT] } });
    // Assess
    expect([r.provider, r.reason]).toEqual([AURORA, 'sort:latency']);
  });

  it('throughput: the fastest declared generation first', async () => {
    // Act: Cirrus declares 90 completion tokens a GPU-second, Aurora 60, Basalt 25.
    const r = await chat({ provider: { sort: 'throughput', ignore: [CIRRUS] } });
    // Assess
    expect([r.provider, r.reason]).toEqual([AURORA, 'sort:throughput']);
  });
});

describe('max_price (USD per million tokens)', () => {
  it('leaves out the providers above it', async () => {
    // Act: Aurora's completion is 11.53 USD a million tokens, Basalt's 14.33.
    const r = await chat({ provider: { ignore: [CIRRUS], max_price: { completion: 12 }, sort: 'throughput' } });
    const dearOnly = await chat({ provider: { only: [BASALT, AURORA], order: [BASALT], max_price: { prompt: '0.18', completion: 12 } } });
    // Assess
    expect(r.provider).toBe(AURORA);
    expect([dearOnly.provider, dearOnly.reason]).toEqual([AURORA, 'default']);
  });

  it('refuses with the cheapest price when none is within it, holding nothing', async () => {
    // Prepare
    const before = await settled();
    // Act
    const r = await chat({ provider: { max_price: { completion: 1 } } });
    // Assess: Cirrus, the cheapest, at 3.59 USD/h and 90 tokens/s: 11.080247 USD per million completion tokens.
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'max_price_exceeded', param: 'provider.max_price' });
    expect(r.body.error.message).toContain('11.080247 USD per million completion tokens');
    expect(await credits()).toEqual(before);
  });
});

describe('models: fallbacks', () => {
  it('falls back when the first model has no provider, and bills the model that served', async () => {
    // Prepare
    const before = await settled();
    // Act
    const r = await chat({ model: 'no-such-model', models: [SMALL, LLAMA] });
    const after = await settled();
    // Assess
    expect(r.status).toBe(200);
    expect([r.provider, r.model, r.reason]).toEqual([BASALT, SMALL, 'fallback_model']);
    expect(r.body.model).toBe(SMALL);
    const record = await requestRecord(rt.doc, rt.tableName, rt.world!.startupId, r.headers.get('x-request-id')!);
    expect(record).toMatchObject({ model: SMALL, provider_id: BASALT });
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(BASALT, SMALL, r.body.usage.prompt_tokens, r.body.usage.completion_tokens));
  });

  it("falls back when every provider of the first model fails before the first byte, billed once", async () => {
    // Prepare: the 405b is served by Cirrus alone, which fails.
    sim(CIRRUS).setOptions({ fault: 'http_503' });
    const before = await settled();
    // Act
    const r = await chat({ model: LARGE, models: [SMALL] });
    const after = await settled();
    // Assess
    expect(r.status).toBe(200);
    expect([r.provider, r.model, r.reason, r.attempts]).toEqual([BASALT, SMALL, 'fallback_model', '2']);
    expect(after.spent_micros - before.spent_micros).toBe(expectedCost(BASALT, SMALL, r.body.usage.prompt_tokens, r.body.usage.completion_tokens));
  });

  it('answers model_not_found when no model of the list is served', async () => {
    // Act
    const r = await chat({ model: 'no-such-model', models: ['nor-this-one'] });
    // Assess
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ code: 'model_not_found', param: 'model' });
  });
});

describe('failover within the preferences', () => {
  it('falls over only to providers the preferences allow', async () => {
    // Prepare: Cirrus fails; the default ranking's next is Aurora, which `only` leaves out.
    sim(CIRRUS).setOptions({ fault: 'http_503' });
    const auroraBefore = sim(AURORA).stats().requests;
    // Act
    const r = await chat({ provider: { only: [CIRRUS, BASALT] } });
    // Assess
    expect(r.status).toBe(200);
    expect([r.provider, r.reason, r.attempts]).toEqual([BASALT, 'failover', '2']);
    expect(sim(AURORA).stats().requests).toBe(auroraBefore);
  });

  it('with allow_fallbacks false and every listed provider down: 503 no_allowed_provider, nothing billed', async () => {
    // Prepare
    sim(CIRRUS).setOptions({ fault: 'http_503' });
    const before = await settled();
    const others = [AURORA, BASALT].map((id) => sim(id).stats().requests);
    // Act
    const r = await chat({ provider: { order: [CIRRUS], allow_fallbacks: false } });
    // Assess
    expect(r.status).toBe(503);
    expect(r.body.error).toMatchObject({ type: 'server_error', code: 'no_allowed_provider', param: null });
    expect([AURORA, BASALT].map((id) => sim(id).stats().requests)).toEqual(others);
    expect((await settled()).spent_micros).toBe(before.spent_micros);
  });
});

describe('key defaults', () => {
  it("apply to the key's requests, and a request's own values win field by field", async () => {
    // Prepare
    const made = await call('POST', '/v1/keys', { key: rt.world!.startupKey, body: { name: 'routed', routing: { provider: { order: [BASALT], ignore: [CIRRUS] }, models: [SMALL] } } });
    expect(made.status).toBe(201);
    expect(made.body.routing).toEqual({ provider: { order: [BASALT], ignore: [CIRRUS] }, models: [SMALL] });
    // Act
    const byDefault = await chat({}, made.body.key);
    const overridden = await chat({ provider: { order: [AURORA] } }, made.body.key);
    const orderOnly = await chat({ provider: { order: [CIRRUS, AURORA] } }, made.body.key);
    const fallback = await chat({ model: 'no-such-model' }, made.body.key);
    // Assess: the key's `ignore` still holds when the request gives only `order`.
    expect([byDefault.provider, byDefault.reason]).toEqual([BASALT, 'order']);
    expect([overridden.provider, overridden.reason]).toEqual([AURORA, 'order']);
    expect(orderOnly.provider).toBe(AURORA);
    expect([fallback.provider, fallback.model]).toEqual([BASALT, SMALL]);
  });

  it('are set by the operator too, and refused with an unknown provider', async () => {
    // Act
    const ok = await call('POST', `/v1/admin/startups/${rt.world!.startupId}/keys`, { key: rt.adminKey, body: { name: 'ops-routed', routing: { provider: { sort: 'price', region: 'us-east-1' } } } });
    const unknown = await call('POST', '/v1/keys', { key: rt.world!.startupKey, body: { name: 'bad', routing: { provider: { ignore: [CIRRUS, 'prv_nobody'] } } } });
    // Assess
    expect(ok.status).toBe(201);
    expect(ok.body.routing).toEqual({ provider: { sort: 'price', region: 'us-east-1' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'unknown_provider', param: 'routing.provider.ignore[1]' });
  });
});

describe('validation', () => {
  it.each([
    ['an unknown reference', { provider: { only: [AURORA, 'prv_nobody'] } }, 'unknown_provider', 'provider.only[1]'],
    ['an unknown field', { provider: { odrer: [AURORA] } }, 'unknown_parameter', 'provider.odrer'],
    ['more than 16 references', { provider: { ignore: Array(17).fill(AURORA) } }, 'array_above_max_length', 'provider.ignore'],
    ['more than 8 models', { models: Array(9).fill(SMALL) }, 'array_above_max_length', 'models'],
    ['an unknown sort', { provider: { sort: 'speed' } }, 'invalid_value', 'provider.sort'],
    ['a negative price', { provider: { max_price: { prompt: -1 } } }, 'decimal_below_min_value', 'provider.max_price.prompt'],
    ['a price finer than a micro-dollar', { provider: { max_price: { prompt: 0.0000001 } } }, 'invalid_value', 'provider.max_price.prompt'],
  ])('%s is a 400 naming the param', async (_n, extra, code, param) => {
    // Act
    const r = await chat(extra);
    // Assess
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code, param });
  });

  it('names no provider in any refusal', async () => {
    // Act
    const r = await chat({ provider: { only: [CIRRUS], max_price: { completion: 1 } } });
    // Assess
    expect(r.status).toBe(400);
    for (const p of DEMO_PROVIDERS) expect(JSON.stringify(r.body)).not.toContain(p.name.split(' ')[0]);
  });
});

describe('the official openai client', () => {
  it('sends provider and models as extra body fields', async () => {
    // Prepare
    const ai = new OpenAI({ apiKey: rt.world!.startupKey, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0 });
    const params = { model: 'no-such-model', messages, max_tokens: 8, models: [LLAMA], provider: { order: [AURORA] } };
    // Act
    const { data, response } = await ai.chat.completions.create(params as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
    // Assess
    expect(data.model).toBe(LLAMA);
    expect(response.headers.get('x-compux-provider')).toBe(AURORA);
    expect(response.headers.get('x-compux-route-reason')).toBe('fallback_model');
  });
});
