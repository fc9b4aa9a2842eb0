/**
 * Concurrency caps (issue 14, packages/core/src/concurrency.ts) through the one-machine runtime: a key's requests in
 * flight (streams included) are capped at its `max_in_flight`, over it a 429 `concurrency_limit_key` with
 * Retry-After at once, and the place comes back when a request ends; a tenant holds at most 10 event streams open.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_EVENT_STREAMS_PER_TENANT } from '../../packages/core/src/index.js';
import { client } from './client.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';

let rt: TestRuntime;
let call: ReturnType<typeof client>;
const MODEL = 'llama-3.1-70b-instruct';

beforeAll(async () => {
  // Every simulated provider takes 1.5 s to its first token, then 4 tokens a second: requests stay in flight long
  // enough to overlap, and a stream stays open for seconds after its first event.
  rt = await startTestRuntime('concurrency', { demo: { simulator: { ttftMs: 1_500, tokensPerSecond: 4 } } });
  call = client(rt.baseUrl);
});
afterAll(async () => {
  await rt?.world?.stop();
  await rt?.stop();
});

/** A startup with credit and a key holding at most `maxInFlight` requests at once; and its lender's key. */
async function startupWithKey(name: string, maxInFlight: number) {
  const s = (await call('POST', '/v1/admin/startups', { key: rt.adminKey, body: { name, segment: 'seed' } })).body.id as string;
  const lender = (await call('POST', '/v1/admin/lenders', { key: rt.adminKey, body: { name: `${name} lender` } })).body;
  const f = await call('POST', '/v1/facilities', { key: lender.key, body: { startup_id: s, principal_micros: 100_000_000, multiplier: 1.25, term_months: 12, origination_fee_bps: 200, servicing_fee_bps: 75 } });
  expect(f.status).toBe(201);
  const k = await call('POST', `/v1/admin/startups/${s}/keys`, { key: rt.adminKey, body: { name: 'capped', max_in_flight: maxInFlight } });
  return { key: k.body.key as string, keyReply: k.body, lenderKey: lender.key as string, facilityId: f.body.id as string };
}

const chat = (key: string) => fetch(`${rt.baseUrl}/v1/chat/completions`, {
  method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
});

describe('requests in flight', () => {
  it('a key with max_in_flight 2: two requests at once are served, a third is refused 429 at once, and one after they end is served', async () => {
    // Prepare
    const s = await startupWithKey('Capped Co', 2);
    // Act
    const started = Date.now();
    const [a, b, c] = await Promise.all([chat(s.key), chat(s.key), chat(s.key)]);
    const refused = [a, b, c].find((r) => r.status === 429)!;
    const refusedBody = (await refused.json()) as { error: unknown };
    // The places come back as the replies' last bytes leave: a request just after may still meet them, briefly.
    let later = await chat(s.key);
    for (let i = 0; later.status === 429 && i < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      later = await chat(s.key);
    }
    // Assess
    expect(s.keyReply.max_in_flight).toBe(2);
    expect([a, b, c].map((r) => r.status).sort()).toEqual([200, 200, 429]);
    expect(refusedBody.error).toMatchObject({ code: 'concurrency_limit_key', type: 'requests' });
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(later.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
  });

  it('streams count as in flight until their last event, through the official client', async () => {
    // Prepare
    const s = await startupWithKey('Streaming Co', 1);
    const openai = new OpenAI({ apiKey: s.key, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0 });
    const stream = await openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 16, stream: true });
    const events = stream[Symbol.asyncIterator]();
    // Act: the first event has arrived and 15 more tokens are to come (about 4 s): the stream is still in flight.
    const first = await events.next();
    const during = await chat(s.key);
    let left = 0;
    while (!(await events.next()).done) left++;
    let after = await chat(s.key);
    for (let i = 0; after.status === 429 && i < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await chat(s.key);
    }
    // Assess
    expect(first.done).toBe(false);
    expect(left).toBeGreaterThan(0);
    expect(during.status).toBe(429);
    expect(after.status).toBe(200);
  });

  it('a key without max_in_flight shows the default, 64', async () => {
    // Prepare / Act
    const s = (await call('POST', '/v1/admin/startups', { key: rt.adminKey, body: { name: 'Default Co', segment: 'seed' } })).body.id as string;
    const k = await call('POST', `/v1/admin/startups/${s}/keys`, { key: rt.adminKey, body: { name: 'plain' } });
    const tooMany = await call('POST', `/v1/admin/startups/${s}/keys`, { key: rt.adminKey, body: { name: 'huge', max_in_flight: 100_000 } });
    // Assess
    expect(k.body.max_in_flight).toBe(64);
    expect(tooMany.status).toBe(400);
  });
});

describe('event streams', () => {
  it(`a lender holds at most ${MAX_EVENT_STREAMS_PER_TENANT} facility streams open; one more is refused 429, and closing one makes room within the keep-alive`, async () => {
    // Prepare
    const s = await startupWithKey('Watched Co', 2);
    const open = (signal: AbortSignal) => fetch(`${rt.baseUrl}/v1/facilities/${s.facilityId}/stream`, { headers: { authorization: `Bearer ${s.lenderKey}` }, signal });
    const aborts = Array.from({ length: MAX_EVENT_STREAMS_PER_TENANT }, () => new AbortController());
    const streams = await Promise.all(aborts.map((a) => open(a.signal)));
    try {
      // Act
      const extra = await open(new AbortController().signal);
      const extraBody = (await extra.json()) as { error: unknown };
      aborts[0]!.abort();
      let again = await open(new AbortController().signal);
      // A closed stream is noticed at its next write (the keep-alive, every 15 s at most): its place comes back then.
      for (let i = 0; again.status === 429 && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 250));
        again = await open(new AbortController().signal);
      }
      // Assess
      expect(streams.map((r) => r.status)).toEqual(Array(MAX_EVENT_STREAMS_PER_TENANT).fill(200));
      expect(extra.status).toBe(429);
      expect(extraBody.error).toMatchObject({ code: 'too_many_streams' });
      expect(again.status).toBe(200);
      await again.body?.cancel();
    } finally {
      for (const a of aborts) a.abort();
    }
  });
});
