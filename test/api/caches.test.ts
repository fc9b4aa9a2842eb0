/**
 * The request path's caches through the runtime (demo world): a warm inference request reads neither its key,
 * nor the routing catalog, nor the relay signing keys from the table; a key revoked on this instance stops
 * at once. Every DynamoDB call the handlers make is seen by a middleware on the handlers' document client.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deps } from '../../functions/lib/deps.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';

// Bounds generous enough that a loaded machine's request stays inside them (the defaults are 5 s and 2 s).
process.env.COMPUX_KEY_CACHE_TTL_MS = '60000';
process.env.COMPUX_CATALOG_CACHE_TTL_MS = '10000';

const LLAMA = 'llama-3.1-70b-instruct';
let rt: TestRuntime;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  rt = await startTestRuntime('caches', { demo: {} });
  call = client(rt.baseUrl);
});
afterAll(async () => {
  await rt?.world?.stop();
  await rt?.stop();
});

interface SeenCall { command: string; pks: string[] }

/** Every call the handlers' client makes while `f` runs: its (low-level) command and the partitions it names. */
async function callsDuring(f: () => Promise<unknown>): Promise<SeenCall[]> {
  const seen: SeenCall[] = [];
  const doc = deps().doc;
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: { pk?: string }; ExpressionAttributeValues?: Record<string, unknown>; RequestItems?: Record<string, { Keys?: { pk?: string }[] }> };
      const pks = [input.Key?.pk, input.ExpressionAttributeValues?.[':pk'], ...Object.values(input.RequestItems ?? {}).flatMap((r) => (r.Keys ?? []).map((k) => k.pk))];
      seen.push({ command: String(context.commandName), pks: pks.filter((pk): pk is string => typeof pk === 'string') });
      return next(args);
    },
    { step: 'initialize', name: 'seeCalls' },
  );
  try {
    await f();
  } finally {
    doc.middlewareStack.remove('seeCalls');
  }
  return seen;
}

const isRead = (c: SeenCall) => ['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'ScanCommand'].includes(c.command);

const chat = (key: string) =>
  new OpenAI({ apiKey: key, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0, timeout: 30_000 }).chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });

describe('a warm inference request', () => {
  it('reads no key, no catalog and no relay key from the table', async () => {
    // Prepare: a first request fills the caches.
    const key = rt.world!.startupKey;
    await chat(key);
    // Act
    const seen = await callsDuring(() => chat(key));
    // Assess: the money path still writes (so the middleware sees the calls), but none of the three reads happen.
    expect(seen.filter((c) => c.command === 'TransactWriteItemsCommand').length).toBeGreaterThan(0);
    expect(seen.filter((c) => isRead(c) && c.pks.some((pk) => pk.startsWith('APIKEY#')))).toEqual([]);
    expect(seen.filter((c) => isRead(c) && c.pks.includes('ROUTING'))).toEqual([]);
    expect(seen.filter((c) => isRead(c) && c.pks.includes('RELAYKEYS'))).toEqual([]);
  });
});

describe('a key revoked on this instance', () => {
  it('stops being accepted at once, though it was cached', async () => {
    // Prepare: a second key of the demo startup, used once so its record is cached.
    const made = await call('POST', '/v1/keys', { key: rt.world!.startupKey, body: { name: 'to revoke' } });
    await chat(made.body.key);
    const cached = await callsDuring(() => chat(made.body.key));
    // Act
    const revoked = await call('DELETE', `/v1/keys/${made.body.id}`, { key: rt.world!.startupKey });
    const after = await chat(made.body.key).then(() => 200, (err: { status?: number }) => err.status);
    // Assess
    expect(cached.filter((c) => isRead(c) && c.pks.some((pk) => pk.startsWith('APIKEY#')))).toEqual([]);
    expect(revoked.status).toBe(200);
    expect(after).toBe(401);
  });
});
