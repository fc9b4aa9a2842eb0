/**
 * Per-request economics (SPEC §7), exact in micros:
 *   GPU-seconds = prompt ÷ declared prompt tokens per GPU-second + completion ÷ declared completion tokens per GPU-second
 *   startup pays spot (USD per GPU-hour) for those GPU-seconds; the provider accrues 85 % of that; the
 *   marketplace keeps the difference — computed as a difference, so cost = provider + margin to the micro.
 * Rounding: one rounding, half to even, at the last step of each figure (SPEC §2).
 */
import { assert, divHalfEven } from './money.js';

export const PROVIDER_SHARE_PERCENT = 85n;
const SECONDS_PER_HOUR = 3_600n;
const MICRO = 1_000_000n;
/** Declared throughput bounds: a typo of 10^9 tokens/s must not make requests free. */
export const MAX_DECLARED_TOKENS_PER_GPU_SECOND = 1_000_000;
export const MAX_TOKENS_PER_REQUEST = 10_000_000;

export interface DeclaredRates {
  prompt_tokens_per_gpu_second: number;
  completion_tokens_per_gpu_second: number;
}

export interface RequestEconomics {
  /** GPU time in micro-GPU-seconds (1e-6 s), half to even. */
  gpu_microseconds: number;
  cost_micros: number;
  provider_micros: number;
  margin_micros: number;
}

function checkTokens(n: number, what: string) {
  assert(Number.isSafeInteger(n) && n >= 0 && n <= MAX_TOKENS_PER_REQUEST, `${what} must be an integer in [0, ${MAX_TOKENS_PER_REQUEST}]`);
}

export function checkRates(r: DeclaredRates) {
  for (const v of [r.prompt_tokens_per_gpu_second, r.completion_tokens_per_gpu_second]) {
    assert(Number.isSafeInteger(v) && v >= 1 && v <= MAX_DECLARED_TOKENS_PER_GPU_SECOND, `declared tokens per GPU-second must be an integer in [1, ${MAX_DECLARED_TOKENS_PER_GPU_SECOND}]`);
  }
}

/**
 * GPU-seconds as an exact fraction: (p·rc + c·rp) / (rp·rc). Everything below works on this fraction so
 * nothing is rounded before the last step.
 */
function gpuSecondsFraction(promptTokens: number, completionTokens: number, r: DeclaredRates): { num: bigint; den: bigint } {
  checkTokens(promptTokens, 'prompt tokens');
  checkTokens(completionTokens, 'completion tokens');
  checkRates(r);
  const rp = BigInt(r.prompt_tokens_per_gpu_second);
  const rc = BigInt(r.completion_tokens_per_gpu_second);
  return { num: BigInt(promptTokens) * rc + BigInt(completionTokens) * rp, den: rp * rc };
}

export function requestEconomics(promptTokens: number, completionTokens: number, rates: DeclaredRates, spotMicrosPerGpuHour: number): RequestEconomics {
  assert(Number.isSafeInteger(spotMicrosPerGpuHour) && spotMicrosPerGpuHour >= 0, 'spot price must be a non-negative integer of micros per GPU-hour');
  const { num, den } = gpuSecondsFraction(promptTokens, completionTokens, rates);
  const spot = BigInt(spotMicrosPerGpuHour);
  const cost = divHalfEven(num * spot, den * SECONDS_PER_HOUR);
  const provider = divHalfEven(num * spot * PROVIDER_SHARE_PERCENT, den * SECONDS_PER_HOUR * 100n);
  const gpuUs = divHalfEven(num * MICRO, den);
  assert(provider <= cost, 'the provider never earns more than the startup pays');
  return { gpu_microseconds: Number(gpuUs), cost_micros: Number(cost), provider_micros: Number(provider), margin_micros: Number(cost - provider) };
}

/**
 * The most a request can cost, for its hold: `promptTokensMax` is an upper bound on the prompt (see
 * tokens.ts: bytes bound every tokenizer) and `completionTokensMax` the completion tokens it may ask for
 * (max_tokens × n). Each is capped by the model's context separately, because the prompt figure is only a
 * bound: capping the completion by `context − bound` could under-reserve when the real prompt is shorter.
 * Rounded UP, so the hold always covers the metered cost.
 */
export function maxCostMicros(promptTokensMax: number, completionTokensMax: number, contextLength: number, rates: DeclaredRates, spotMicrosPerGpuHour: number, sequences = 1): number {
  assert(Number.isSafeInteger(contextLength) && contextLength >= 1, 'context length must be a positive integer');
  assert(Number.isSafeInteger(sequences) && sequences >= 1, 'sequences must be a positive integer');
  const prompt = Math.max(0, Math.min(promptTokensMax, contextLength));
  // Each generated sequence (a choice, a prompt's completion) may run to the context: n of them, n contexts.
  const completion = Math.max(0, Math.min(completionTokensMax, contextLength * sequences));
  const { num, den } = gpuSecondsFraction(prompt, completion, rates);
  const d = den * SECONDS_PER_HOUR;
  return Number((num * BigInt(spotMicrosPerGpuHour) + d - 1n) / d);
}
