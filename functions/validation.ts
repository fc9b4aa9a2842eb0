/**
 * Task handlers of the provider-validation state machine (infra/asl/provider-validation.asl.json):
 * each step probes the provider's endpoints the way real traffic would (relay token included), judges
 * the result (packages/core/src/validation.ts), records it on the provider and returns {passed, detail}
 * for the ASL's Choice states. A failure anywhere ends in returnToIntegration, which sends the provider
 * back to integration with the reasons. Either end is told to the provider (provider.validation.completed) once
 * it is stored.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { z } from 'zod';
import {
  VALIDATION, addStep, judgeHandshake, judgeLatency, judgePricing, judgeReliability, judgeThroughput, mapBounded, probeModelFor,
  type OnboardingStep, type ProbeResult, type ProviderEndpoint, type ProviderRecord, type StepVerdict,
} from '../packages/core/src/index.js';
import { deps } from './lib/deps.js';
import { probeEndpoint } from './lib/probe.js';
import { logger } from './lib/powertools.js';
import { ProviderId } from './lib/provider-schemas.js';
import { emitValidationCompleted } from './lib/webhooks.js';

const Input = z.object({ provider_id: ProviderId });
/** Probes in flight at once against one provider. */
const PROBE_CONCURRENCY = 4;

/** Env override of a probe count (tests and small stages), bounded. */
function count(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v >= 1 && v <= 200 ? v : fallback;
}

async function validating(id: string): Promise<ProviderRecord> {
  const found = await deps().providers.get(id);
  if (!found) throw new Error(`provider ${id} does not exist`);
  if (found.value.status !== 'validating') throw new Error(`provider ${id} is ${found.value.status}, not validating`);
  return found.value;
}

async function record(id: string, step: OnboardingStep['step'], v: StepVerdict, patch: Partial<ProviderRecord> = {}): Promise<StepVerdict> {
  await deps().providers.modify(id, (p, at) => ({ ...addStep(p, { step, result: v.passed ? 'passed' : 'failed', at, detail: v.detail }), ...patch }));
  return v;
}

const probeOn = (p: ProviderRecord, e: ProviderEndpoint, model: { model: string; kind: 'chat' | 'embedding' }, maxTokens: number, forged = false) =>
  probeEndpoint(p.id, e, model, { max_tokens: maxTokens, timeout_ms: VALIDATION.probe_timeout_ms, forged_token: forged });

/** Every endpoint with the model a probe of it uses (endpoints carrying no model are reported as failed probes). */
function targets(p: ProviderRecord) {
  return p.endpoints.map((e) => ({ e, model: probeModelFor(p.models, e) }));
}

const failedProbe = (detail: string): ProbeResult => ({ ok: false, detail, status: null, ttft_ms: null, completion_tokens: 0, decode_ms: null, total_ms: 0 });
const noModel = (e: ProviderEndpoint) => failedProbe(`endpoint ${e.id} carries none of the provider's models`);

/** n one-token probes round-robin over the endpoints: each is probed at least once when there are fewer endpoints than probes. */
function probeRoundRobin(p: ProviderRecord, n: number): Promise<ProbeResult[]> {
  const ts = targets(p);
  return mapBounded(Array.from({ length: Math.max(n, ts.length) }, (_, i) => ts[i % ts.length]!), PROBE_CONCURRENCY, ({ e, model }) => (model ? probeOn(p, e, model, 1) : Promise.resolve(noModel(e))));
}

const task = <T>(fn: (p: ProviderRecord) => Promise<T>) =>
  middy(async (event: unknown) => fn(await validating(Input.parse(event).provider_id))).use(injectLambdaContext(logger));

export const relayHandshake = task(async (p) => {
  const verdicts = await mapBounded(targets(p), PROBE_CONCURRENCY, async ({ e, model }) => {
    if (!model) return { passed: false, detail: noModel(e).detail };
    const v = judgeHandshake(await probeOn(p, e, model, 1), await probeOn(p, e, model, 1, true));
    return { passed: v.passed, detail: `${e.id}: ${v.detail}` };
  });
  return record(p.id, 'relay_handshake', { passed: verdicts.every((v) => v.passed), detail: verdicts.map((v) => v.detail).join('; ') });
});

export const reliability = task(async (p) => {
  const n = count('COMPUX_VALIDATION_RELIABILITY_PROBES', VALIDATION.reliability_probes);
  return record(p.id, 'reliability', judgeReliability(await probeRoundRobin(p, n), n));
});

export const throughput = task(async (p) => {
  const k = count('COMPUX_VALIDATION_THROUGHPUT_STREAMS', VALIDATION.throughput_streams);
  const chat = p.models.filter((m) => m.kind === 'chat').slice(0, VALIDATION.max_models_measured);
  const perModel = [];
  for (const m of chat) {
    const e = p.endpoints.find((x) => x.accelerators.includes(m.accelerator));
    if (!e) {
      perModel.push({ model: m, results: [failedProbe(`no endpoint carries ${m.accelerator}`)] });
      continue;
    }
    // Concurrent streams: what the endpoint delivers per stream while busy, not an idle best case.
    const results = await mapBounded(Array.from({ length: k }), k, () => probeOn(p, e, { model: m.model, kind: 'chat' }, VALIDATION.throughput_max_tokens));
    perModel.push({ model: m, results });
  }
  // A provider of embedding models only has nothing to decode: its reliability and latency steps cover it.
  const v = chat.length === 0 ? { passed: true, detail: 'embedding models only: no decode rate to measure' } : judgeThroughput(perModel);
  return record(p.id, 'throughput', v);
});

export const slaLatency = task(async (p) => {
  const n = count('COMPUX_VALIDATION_LATENCY_PROBES', VALIDATION.latency_probes);
  return record(p.id, 'sla_latency', judgeLatency(await probeRoundRobin(p, n), p.sla_tier ?? 'standard'));
});

export const pricingReview = task(async (p) => record(p.id, 'pricing_review', judgePricing(p.id, p.models, await deps().catalog.load())));

export const goLive = task(async (p) => {
  const v = { passed: true, detail: `live on the ${p.sla_tier ?? 'standard'} tier` };
  const live = await deps().providers.modify(p.id, (q, at) => ({ ...addStep(q, { step: 'live', result: 'passed', at, detail: v.detail }), status: 'live' }));
  if (live) await emitValidationCompleted(live, 'passed');
  return v;
});

const FailureInput = z.object({
  provider_id: Input.shape.provider_id,
  results: z.record(z.string(), z.unknown()),
});

/** Any failed step (or a task that crashed): back to integration, with every reason recorded. */
export const returnToIntegration = middy(async (event: unknown) => {
  const { provider_id, results } = FailureInput.parse(event);
  const reasons: string[] = [];
  for (const [step, r] of Object.entries(results)) {
    const v = r as { passed?: unknown; detail?: unknown; Error?: unknown; Cause?: unknown };
    if (step === 'error') reasons.push(`a validation step could not run: ${String(v.Error)} ${String(v.Cause ?? '').slice(0, 300)}`);
    else if (v.passed === false) reasons.push(`${step}: ${String(v.detail)}`);
  }
  const detail = reasons.join(' | ') || 'validation failed';
  const after = await deps().providers.modify(provider_id, (p, at) =>
    p.status === 'validating' ? { ...addStep(p, { step: 'validation', result: 'failed', at, detail: `back to integration: ${detail}` }), status: 'integration' } : p,
  );
  // Also when this is a retry that finds the provider already back (stored, then a crash before the event): the
  // record's end makes the same event. A provider that is not back in integration is told nothing.
  if (after) await emitValidationCompleted(after, 'failed');
  return { provider_id, status: 'integration', reasons };
}).use(injectLambdaContext(logger));
