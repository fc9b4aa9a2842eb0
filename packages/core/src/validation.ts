/**
 * Onboarding validation (SPEC §6), the judging half: given what the probes measured, did the provider
 * pass each step, and why not. The probing half runs in the state machine's task handlers.
 *
 * - relay handshake: a request with a valid relay token is served, one with a forged token is refused
 *   (401/403) — the provider verifies tokens, so nobody else can spend its capacity through it.
 * - reliability: N probe calls, all must succeed.
 * - throughput: per chat model, K concurrent streamed probes; each one's decode rate is
 *   (completion tokens − 1) ÷ (seconds from first to last token); the median must be at least the
 *   declared completion tokens per GPU-second less THROUGHPUT_TOLERANCE (20 %). A provider that declares
 *   more than it delivers would bill startups too little GPU time and its buyers too much latency.
 * - SLA latency: the p95 of M probes' time to first token must be under the chosen tier's bound.
 * - pricing review: every model's accelerator has a spot price, and the price per million completion
 *   tokens its declared rates imply is within PRICE_BAND× of the median of live providers of that model.
 */
import type { Catalog, CatalogModel, SlaTier } from './catalog.js';
import type { ProbeResult } from './probe.js';
import { SLA_TIERS } from './sla.js';

export const VALIDATION = {
  reliability_probes: 20,
  throughput_streams: 4,
  throughput_max_tokens: 64,
  latency_probes: 20,
  probe_timeout_ms: 30_000,
  /** Most chat models measured for throughput (the rest are covered by the reliability probes). */
  max_models_measured: 8,
} as const;
export const THROUGHPUT_TOLERANCE_PERCENT = 20;
export const PRICE_BAND = 4;

export interface StepVerdict {
  passed: boolean;
  detail: string;
}

export function judgeHandshake(valid: ProbeResult, forged: ProbeResult): StepVerdict {
  if (!valid.ok) return { passed: false, detail: `a request carrying a valid relay token failed: ${valid.detail}` };
  if (forged.ok || (forged.status !== 401 && forged.status !== 403)) {
    return { passed: false, detail: `a request with a forged relay token was ${forged.ok ? 'served' : `answered with ${forged.detail}`}; the endpoint must verify relay tokens and answer 401` };
  }
  return { passed: true, detail: 'valid relay token accepted, forged token refused' };
}

export function judgeReliability(results: readonly ProbeResult[], required: number): StepVerdict {
  const failed = results.filter((r) => !r.ok);
  if (results.length < required) return { passed: false, detail: `only ${results.length} of ${required} probes could be sent` };
  if (failed.length > 0) {
    const why = [...new Set(failed.map((f) => f.detail))].slice(0, 3).join('; ');
    return { passed: false, detail: `${failed.length} of ${results.length} probe calls failed (${why})` };
  }
  return { passed: true, detail: `${results.length} of ${results.length} probe calls succeeded` };
}

/** Decode rate of one stream in tokens per second (Infinity when all tokens came at once). */
export function decodeRate(r: ProbeResult): number | null {
  if (!r.ok || r.decode_ms === null || r.completion_tokens < 2) return null;
  return r.decode_ms === 0 ? Infinity : ((r.completion_tokens - 1) * 1000) / r.decode_ms;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function judgeThroughput(perModel: ReadonlyArray<{ model: CatalogModel; results: readonly ProbeResult[] }>): StepVerdict {
  const lines: string[] = [];
  let passed = perModel.length > 0;
  if (!passed) return { passed: false, detail: 'no chat model to measure' };
  for (const { model, results } of perModel) {
    const rates = results.map(decodeRate).filter((r): r is number => r !== null);
    const floor = (model.completion_tokens_per_gpu_second * (100 - THROUGHPUT_TOLERANCE_PERCENT)) / 100;
    if (rates.length < results.length) {
      passed = false;
      const bad = results.find((r) => decodeRate(r) === null)!;
      lines.push(`${model.model}: ${results.length - rates.length} of ${results.length} streams gave no measurable rate (${bad.ok ? 'fewer than 2 tokens' : bad.detail})`);
      continue;
    }
    const m = median(rates);
    const shown = m === Infinity ? 'unpaced' : `${m.toFixed(1)} tokens/s`;
    if (m < floor) {
      passed = false;
      lines.push(`${model.model}: measured ${shown}, declared ${model.completion_tokens_per_gpu_second} tokens/s; below the ${THROUGHPUT_TOLERANCE_PERCENT} % tolerance (at least ${floor.toFixed(1)})`);
    } else lines.push(`${model.model}: measured ${shown}, declared ${model.completion_tokens_per_gpu_second} tokens/s (within ${THROUGHPUT_TOLERANCE_PERCENT} %)`);
  }
  return { passed, detail: lines.join('; ') };
}

/** Nearest-rank p95 of exact values. */
export function p95(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(s.length * 0.95) - 1)]!;
}

export function judgeLatency(results: readonly ProbeResult[], tier: SlaTier): StepVerdict {
  const bound = SLA_TIERS[tier].latency_ms_p95;
  const failed = results.filter((r) => !r.ok || r.ttft_ms === null);
  if (failed.length > 0) return { passed: false, detail: `${failed.length} of ${results.length} latency probes failed (${failed[0]!.detail})` };
  const v = p95(results.map((r) => r.ttft_ms!));
  return v < bound
    ? { passed: true, detail: `p95 time to first token ${v} ms over ${results.length} probes, under the ${tier} tier's ${bound} ms` }
    : { passed: false, detail: `p95 time to first token ${v} ms over ${results.length} probes; the ${tier} tier needs under ${bound} ms` };
}

/** Micros per million completion tokens that declared rates imply at a spot price. */
export function completionPricePerMillion(m: CatalogModel, spotMicrosPerGpuHour: number): number {
  return (spotMicrosPerGpuHour / 3600 / m.completion_tokens_per_gpu_second) * 1_000_000;
}

export function judgePricing(providerId: string, models: readonly CatalogModel[], catalog: Catalog): StepVerdict {
  const problems: string[] = [];
  const notes: string[] = [];
  for (const m of models) {
    const spot = catalog.spot_micros_per_gpu_hour[m.accelerator];
    if (spot === undefined) {
      problems.push(`${m.model}: no spot price is set for ${m.accelerator}, so it cannot be priced`);
      continue;
    }
    if (m.kind !== 'chat') continue;
    const mine = completionPricePerMillion(m, spot);
    const peers: number[] = [];
    for (const p of catalog.providers) {
      if (p.id === providerId || p.status !== 'live') continue;
      for (const o of p.models) {
        const s = catalog.spot_micros_per_gpu_hour[o.accelerator];
        if (o.model === m.model && o.kind === 'chat' && s !== undefined) peers.push(completionPricePerMillion(o, s));
      }
    }
    if (peers.length === 0) {
      notes.push(`${m.model}: first provider of this model`);
      continue;
    }
    const ref = median(peers);
    const ratio = mine / ref;
    if (ratio > PRICE_BAND || ratio < 1 / PRICE_BAND) {
      problems.push(`${m.model}: ${Math.round(mine / 1e6)} USD per million completion tokens is ${ratio.toFixed(2)}× the market median (${Math.round(ref / 1e6)} USD); the declared rates look wrong`);
    } else notes.push(`${m.model}: ${ratio.toFixed(2)}× the market median`);
  }
  return problems.length > 0 ? { passed: false, detail: problems.join('; ') } : { passed: true, detail: notes.join('; ') || 'priced' };
}
