/** Simulator options, their defaults and their bounds. */
import type { IncomingMessage } from 'node:http';
import { parseFaultRates, toFault, type Fault, type FaultTable } from './faults.js';

export interface SimModel {
  id: string;
  /** An embedding model (served by /v1/embeddings only); otherwise a chat/completions model. */
  embedding?: boolean;
  /** Context window in tokens (prompt + completion). Default 8192 for generative models, 8191 input tokens for embedding models. */
  context_length?: number;
  /** Embedding models: vector length (default 1536); requests may ask for fewer with `dimensions`. */
  dimensions?: number;
  /** Informational (e.g. 'H100'); not part of OpenAI's model object. */
  accelerator?: string;
  /** owned_by in /v1/models (default 'compux-simulator'). */
  owned_by?: string;
}

export type VerifyToken = (token: string, req: IncomingMessage) => boolean | Promise<boolean>;

export interface SimulatorOptions {
  /** Interface to listen on (default 127.0.0.1). Fixed at start. */
  host?: string;
  /** Port (default 0: a free port). Fixed at start. */
  port?: number;
  /** Models served. */
  models?: SimModel[];
  /** Time to first token in ms (default 0). Non-streamed replies wait ttftMs + tokens / tokensPerSecond. */
  ttftMs?: number;
  /** Generation speed per choice (default Infinity: no pacing). */
  tokensPerSecond?: number;
  /** Content tokens per streamed frame (default 1). */
  tokensPerFrame?: number;
  /** Natural reply length in tokens, or a range picked per prompt (default 16). Cut by max_tokens. */
  completionTokens?: number | { min: number; max: number };
  /** Hard cap on tokens per choice, whatever is asked (default 4096). */
  maxTokensPerReply?: number;
  /** Largest request body; bigger → 413 (default 1 MiB). */
  maxBodyBytes?: number;
  /** Streams in flight at once; one more → 503 with Retry-After (default 256). */
  maxConcurrentStreams?: number;
  /** A fault applied to every inference request (chat, completions, embeddings), e.g. 'reset_after_frames:3'. */
  fault?: Fault | string | null;
  /** Fault probabilities per inference request, e.g. { http_503: 0.05, 'rate_limit;retry_after=2': 0.1 }. Sum ≤ 1. */
  faultRates?: Record<string, number>;
  /** Seed for the fault draws (default: random). */
  seed?: number;
  /** Retry-After seconds for rate_limit and overload replies (default 1). */
  retryAfterSeconds?: number;
  /** timeout_before_headers: the socket is closed after this long (default 30 000 ms). */
  holdMs?: number;
  /** Frames written before reset_after_frames / malformed_chunk strike when the spec gives no k (defaults 3 and 2). */
  resetAfterFrames?: number;
  malformedAfterFrames?: number;
  /** Expected bearer token: any other (or none) → 401. */
  apiKey?: string | null;
  /** Bearer-token check (e.g. the marketplace's signed relay token); wins over apiKey. A throw counts as a refusal. */
  verifyToken?: VerifyToken | null;
  /** Honour x-sim-* request headers (fault, ttft, tps, completion tokens). Default true. */
  headerOverrides?: boolean;
}

export const DEFAULT_MODELS: SimModel[] = [
  { id: 'llama-3.1-70b-instruct', context_length: 131072, accelerator: 'H100' },
  { id: 'text-embedding-3-small', embedding: true, dimensions: 1536 },
];

export interface ResolvedOptions {
  host: string;
  port: number;
  models: SimModel[];
  ttftMs: number;
  tokensPerSecond: number;
  tokensPerFrame: number;
  completionTokens: { min: number; max: number };
  maxTokensPerReply: number;
  maxBodyBytes: number;
  maxConcurrentStreams: number;
  fault: Fault | undefined;
  faultTable: FaultTable;
  seed: number | undefined;
  retryAfterSeconds: number;
  holdMs: number;
  resetAfterFrames: number;
  malformedAfterFrames: number;
  apiKey: string | undefined;
  verifyToken: VerifyToken | undefined;
  headerOverrides: boolean;
}

function num(name: string, v: number, min: number, max: number, integer: boolean): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new RangeError(`simulator option ${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

function checkModels(models: SimModel[]): SimModel[] {
  const ids = new Set<string>();
  for (const m of models) {
    if (typeof m.id !== 'string' || m.id.length === 0) throw new RangeError('simulator model ids must be non-empty strings');
    if (ids.has(m.id)) throw new RangeError(`simulator model "${m.id}" listed twice`);
    ids.add(m.id);
    if (m.context_length !== undefined) num(`models[${m.id}].context_length`, m.context_length, 1, 10_000_000, true);
    if (m.dimensions !== undefined) num(`models[${m.id}].dimensions`, m.dimensions, 1, 65_536, true);
  }
  return models.map((m) => ({ ...m }));
}

/** Applies `patch` over `base` (or the defaults), validating every value. Throws RangeError / FaultSpecError. */
export function resolveOptions(patch: SimulatorOptions, base?: ResolvedOptions): ResolvedOptions {
  const o: ResolvedOptions = base
    ? { ...base }
    : {
        host: '127.0.0.1',
        port: 0,
        models: DEFAULT_MODELS.map((m) => ({ ...m })),
        ttftMs: 0,
        tokensPerSecond: Infinity,
        tokensPerFrame: 1,
        completionTokens: { min: 16, max: 16 },
        maxTokensPerReply: 4096,
        maxBodyBytes: 1024 * 1024,
        maxConcurrentStreams: 256,
        fault: undefined,
        faultTable: [],
        seed: undefined,
        retryAfterSeconds: 1,
        holdMs: 30_000,
        resetAfterFrames: 3,
        malformedAfterFrames: 2,
        apiKey: undefined,
        verifyToken: undefined,
        headerOverrides: true,
      };
  if (patch.host !== undefined) o.host = patch.host;
  if (patch.port !== undefined) o.port = num('port', patch.port, 0, 65535, true);
  if (patch.models !== undefined) o.models = checkModels(patch.models);
  if (patch.ttftMs !== undefined) o.ttftMs = num('ttftMs', patch.ttftMs, 0, 600_000, false);
  if (patch.tokensPerSecond !== undefined) {
    o.tokensPerSecond = patch.tokensPerSecond === Infinity ? Infinity : num('tokensPerSecond', patch.tokensPerSecond, 0.001, 1e9, false);
  }
  if (patch.tokensPerFrame !== undefined) o.tokensPerFrame = num('tokensPerFrame', patch.tokensPerFrame, 1, 10_000, true);
  if (patch.maxTokensPerReply !== undefined) o.maxTokensPerReply = num('maxTokensPerReply', patch.maxTokensPerReply, 1, 1_000_000, true);
  if (patch.completionTokens !== undefined) {
    const c = patch.completionTokens;
    const range = typeof c === 'number' ? { min: c, max: c } : { min: c.min, max: c.max };
    num('completionTokens.min', range.min, 0, 1_000_000, true);
    num('completionTokens.max', range.max, range.min, 1_000_000, true);
    o.completionTokens = range;
  }
  if (patch.maxBodyBytes !== undefined) o.maxBodyBytes = num('maxBodyBytes', patch.maxBodyBytes, 1, 256 * 1024 * 1024, true);
  if (patch.maxConcurrentStreams !== undefined) o.maxConcurrentStreams = num('maxConcurrentStreams', patch.maxConcurrentStreams, 0, 1_000_000, true);
  if (patch.fault !== undefined) o.fault = toFault(patch.fault);
  if (patch.faultRates !== undefined) o.faultTable = parseFaultRates(patch.faultRates);
  if (patch.seed !== undefined) o.seed = num('seed', patch.seed, 0, 2 ** 32 - 1, true);
  if (patch.retryAfterSeconds !== undefined) o.retryAfterSeconds = num('retryAfterSeconds', patch.retryAfterSeconds, 0, 86_400, true);
  if (patch.holdMs !== undefined) o.holdMs = num('holdMs', patch.holdMs, 0, 600_000, true);
  if (patch.resetAfterFrames !== undefined) o.resetAfterFrames = num('resetAfterFrames', patch.resetAfterFrames, 0, 100_000, true);
  if (patch.malformedAfterFrames !== undefined) o.malformedAfterFrames = num('malformedAfterFrames', patch.malformedAfterFrames, 0, 100_000, true);
  if (patch.apiKey !== undefined) o.apiKey = patch.apiKey ?? undefined;
  if (patch.verifyToken !== undefined) o.verifyToken = patch.verifyToken ?? undefined;
  if (patch.headerOverrides !== undefined) o.headerOverrides = patch.headerOverrides;
  return o;
}
