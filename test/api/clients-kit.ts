/**
 * Shared pieces of the client-compatibility suites (clients-*.test.ts): the three real clients pointed at the
 * local runtime with only their base URL and key changed (the official `openai` client, the Vercel AI SDK's
 * `@ai-sdk/openai` provider, LangChain's `ChatOpenAI`), a fetch that records every reply the client got
 * (request id, status, billed cost header), and the billing check: the startup's available credits fall by
 * exactly the cost of the requests the client made, as their records hold it, each metered from the
 * provider's usage (not estimated). The Responses-API suites reuse these with `vercelProvider(...)` directly.
 */
import OpenAI from 'openai';
import { createOpenAI, type OpenAIProvider } from '@ai-sdk/openai';
import { ChatOpenAI, type ChatOpenAIFields } from '@langchain/openai';
import { z } from 'zod';
import { expect } from 'vitest';
import { requestRecord, type RecordItem } from '../setup/records.js';
import { client } from './client.js';
import type { TestRuntime } from './runtime.js';

export const LLAMA = 'llama-3.1-70b-instruct';

/** One reply a client received. `cost_micros` is the header's (null on streams, billed only at their end). */
export interface Seen {
  request_id: string;
  status: number;
  cost_micros: number | null;
  stream: boolean;
}

/** A fetch for a client's options that records each reply; `seen` lists them in order. */
export class Recorder {
  readonly seen: Seen[] = [];
  readonly fetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const cost = res.headers.get('x-compux-cost-micros');
    this.seen.push({
      request_id: res.headers.get('x-request-id') ?? '',
      status: res.status,
      cost_micros: cost === null ? null : Number(cost),
      stream: (res.headers.get('content-type') ?? '').startsWith('text/event-stream'),
    });
    return res;
  };
}

export const officialClient = (rt: TestRuntime, recorder?: Recorder): OpenAI =>
  new OpenAI({ apiKey: rt.world!.startupKey, baseURL: `${rt.baseUrl}/v1`, maxRetries: 0, timeout: 30_000, ...(recorder ? { fetch: recorder.fetch } : {}) });

/** The Vercel AI SDK's OpenAI provider: `.chat(model)` is chat completions, `(model)` / `.responses(model)` the Responses API. */
export const vercelProvider = (rt: TestRuntime, recorder: Recorder): OpenAIProvider =>
  createOpenAI({ baseURL: `${rt.baseUrl}/v1`, apiKey: rt.world!.startupKey, fetch: recorder.fetch });

export const langchainChat = (rt: TestRuntime, recorder: Recorder, fields: Partial<ChatOpenAIFields> = {}): ChatOpenAI =>
  new ChatOpenAI({ model: LLAMA, apiKey: rt.world!.startupKey, maxRetries: 0, configuration: { baseURL: `${rt.baseUrl}/v1`, fetch: recorder.fetch }, ...fields });

interface CreditView {
  available_micros: number;
  reserved_micros: number;
}

export async function credits(rt: TestRuntime): Promise<CreditView> {
  return (await client(rt.baseUrl)('GET', '/v1/credits', { key: rt.world!.startupKey })).body as CreditView;
}

/** The credits once no hold is open (a stream settles as its response ends). */
export async function settledCredits(rt: TestRuntime): Promise<CreditView> {
  for (let i = 0; i < 100; i++) {
    const c = await credits(rt);
    if (c.reserved_micros === 0) return c;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('a hold stayed open');
}

/** The records of the replies seen, waiting (bounded) for each to be written. */
export async function recordsOf(rt: TestRuntime, seen: readonly Seen[]): Promise<RecordItem[]> {
  const out: RecordItem[] = [];
  for (const s of seen) {
    let rec: RecordItem | undefined;
    for (let i = 0; i < 100 && !rec; i++) {
      rec = await requestRecord(rt.doc, rt.tableName, rt.world!.startupId, s.request_id);
      if (!rec) await new Promise((r) => setTimeout(r, 50));
    }
    if (!rec) throw new Error(`no record for ${s.request_id}`);
    out.push(rec);
  }
  return out;
}

/** What the client's requests were billed, from their records, and the tokens metered. */
export interface Billed {
  requests: number;
  cost_micros: number;
  prompt_tokens: number;
  completion_tokens: number;
}

/**
 * Runs `act` and checks it was billed as it should be: every reply a 200 metered on the provider's usage
 * (estimated false), each non-streamed reply's x-compux-cost-micros equal to its record's cost, and the
 * startup's available credits down by exactly the records' costs. Returns what `act` returned and the bill.
 */
export async function billed<T>(rt: TestRuntime, recorder: Recorder, act: () => Promise<T>): Promise<{ value: T; bill: Billed }> {
  const from = recorder.seen.length;
  const before = await settledCredits(rt);
  const value = await act();
  const after = await settledCredits(rt);
  const seen = recorder.seen.slice(from);
  const records = await recordsOf(rt, seen);
  expect(seen.map((s) => s.status)).toEqual(seen.map(() => 200));
  expect(records.map((r) => [r.outcome, r.estimated])).toEqual(records.map(() => ['ok', false]));
  seen.forEach((s, i) => {
    if (!s.stream) expect(s.cost_micros).toBe(records[i]!.cost_micros);
  });
  const bill: Billed = {
    requests: records.length,
    cost_micros: records.reduce((n, r) => n + (r.cost_micros as number), 0),
    prompt_tokens: records.reduce((n, r) => n + (r.prompt_tokens as number), 0),
    completion_tokens: records.reduce((n, r) => n + (r.completion_tokens as number), 0),
  };
  expect(bill.cost_micros).toBeGreaterThan(0);
  expect(before.available_micros - after.available_micros).toBe(bill.cost_micros);
  return { value, bill };
}

// ---------- what the suites ask the model for ----------

export const WeatherArgs = z.object({
  city: z.string().min(2).describe('City name'),
  unit: z.enum(['celsius', 'fahrenheit']),
  days: z.int().min(1).max(7),
});
export const TimeArgs = z.object({ zone: z.string(), offset_minutes: z.int().min(-720).max(840) });

/** What the tools answer (their result goes back to the model). */
export const weatherOf = (a: z.infer<typeof WeatherArgs>) => ({ city: a.city, unit: a.unit, forecast: Array.from({ length: a.days }, (_, i) => ({ day: i + 1, temp: 20 + i })) });
export const timeOf = (a: z.infer<typeof TimeArgs>) => ({ zone: a.zone, iso: new Date(Date.UTC(2027, 0, 1, 12, a.offset_minutes)).toISOString() });

export const Recipe = z.object({
  title: z.string(),
  servings: z.int().min(1).max(12),
  vegetarian: z.boolean(),
  ingredients: z.array(z.object({ name: z.string(), grams: z.number().min(0).max(5000) })).min(2),
  difficulty: z.enum(['easy', 'medium', 'hard']),
  note: z.string().nullable(),
});
