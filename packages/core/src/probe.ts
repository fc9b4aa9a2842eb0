/**
 * Probes (SPEC §6): a small streamed request sent to a provider endpoint the way real traffic is (relay
 * token included), measuring time to first token and the decode rate. Used by onboarding validation and
 * by the SLA probe schedule. Everything is bounded by one deadline; a probe never throws.
 */
import { choiceText, type Upstream } from './gateway.js';
import { sseData } from './sse.js';
import { countTokens } from './tokens.js';

export const PROBE_PROMPT = 'CompuX probe: answer with one short sentence about the sea.';

export interface ProbeTarget {
  base_url: string;
  model: string;
  kind: 'chat' | 'embedding';
  /** Authorization header value, e.g. "Bearer <relay token>"; null to send none. */
  authorization: string | null;
  request_id: string;
}

export interface ProbeResult {
  ok: boolean;
  /** Why it failed (or "ok"). */
  detail: string;
  /** Status the provider answered, when it answered. */
  status: number | null;
  /** From sending to the first content token (embeddings: to the whole reply). */
  ttft_ms: number | null;
  completion_tokens: number;
  /** From the first to the last content token. */
  decode_ms: number | null;
  total_ms: number;
}

export async function probe(upstream: Upstream, t: ProbeTarget, opts: { max_tokens: number; timeout_ms: number }): Promise<ProbeResult> {
  const started = Date.now();
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), opts.timeout_ms);
  const fail = (detail: string, status: number | null = null): ProbeResult => ({ ok: false, detail, status, ttft_ms: null, completion_tokens: 0, decode_ms: null, total_ms: Date.now() - started });
  try {
    const body =
      t.kind === 'chat'
        ? { model: t.model, messages: [{ role: 'user', content: PROBE_PROMPT }], max_tokens: opts.max_tokens, stream: true, stream_options: { include_usage: true } }
        : { model: t.model, input: PROBE_PROMPT };
    const opened = await upstream.open({
      base_url: t.base_url,
      path: t.kind === 'chat' ? '/chat/completions' : '/embeddings',
      body: JSON.stringify(body),
      headers: { 'x-compux-request-id': t.request_id, 'x-compux-probe': '1', ...(t.authorization ? { authorization: t.authorization } : {}) },
      signal: ac.signal,
      headers_timeout_ms: opts.timeout_ms,
    });
    if (!opened.ok) return fail(ac.signal.aborted ? `no answer within ${opts.timeout_ms} ms` : `${opened.failure}: ${opened.message}`);
    if (opened.status < 200 || opened.status >= 300) {
      for await (const _ of opened.body) {
        // drain, so the connection can be reused
      }
      return fail(`answered ${opened.status}`, opened.status);
    }
    if (t.kind === 'embedding') {
      const parts: Uint8Array[] = [];
      for await (const c of opened.body) parts.push(c);
      const json = JSON.parse(Buffer.concat(parts).toString('utf8')) as { data?: unknown[] };
      if (!Array.isArray(json.data) || json.data.length === 0) return fail('embedding reply without data', opened.status);
      const ms = Date.now() - started;
      return { ok: true, detail: 'ok', status: opened.status, ttft_ms: ms, completion_tokens: 0, decode_ms: null, total_ms: ms };
    }
    let first: number | null = null;
    let last: number | null = null;
    let counted = 0;
    let reported: number | null = null;
    let done = false;
    for await (const data of sseData(opened.body)) {
      if (data.trim() === '[DONE]') {
        done = true;
        break;
      }
      const chunk = JSON.parse(data) as { error?: unknown; usage?: { completion_tokens?: unknown }; choices?: unknown[] };
      if (chunk.error) return fail('the stream carried an error event', opened.status);
      if (typeof chunk.usage?.completion_tokens === 'number') reported = chunk.usage.completion_tokens;
      for (const c of chunk.choices ?? []) {
        // Counted as the gateway meters a stream, so a probe's rate is in the tokens a request is billed for.
        const n = countTokens(choiceText(c));
        if (n === 0) continue;
        const now = Date.now();
        first ??= now;
        last = now;
        counted += n;
      }
    }
    if (!done) return fail('the stream ended without [DONE]', opened.status);
    if (first === null) return fail('the stream carried no content', opened.status);
    return { ok: true, detail: 'ok', status: opened.status, ttft_ms: first - started, completion_tokens: reported ?? counted, decode_ms: last! - first, total_ms: Date.now() - started };
  } catch (err) {
    return fail(ac.signal.aborted ? `no complete answer within ${opts.timeout_ms} ms` : `broken reply: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

/** Runs fn over items with at most `limit` in flight; results in item order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** The model a probe of an endpoint asks for: a chat model it carries, else an embedding model; null if none. */
export function probeModelFor(models: readonly { model: string; kind: 'chat' | 'embedding'; accelerator: string }[], endpoint: { accelerators: readonly string[] }): { model: string; kind: 'chat' | 'embedding' } | null {
  const on = models.filter((m) => endpoint.accelerators.includes(m.accelerator));
  const m = on.find((x) => x.kind === 'chat') ?? on[0];
  return m ? { model: m.model, kind: m.kind } : null;
}
