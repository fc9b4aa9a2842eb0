/**
 * Offline: what provider.validation.completed says (SPEC §12), read from the provider's record as the workflow's
 * last task stored it: the run's steps only, its end, and details cut so the data stays within the event limit.
 */
import { describe, expect, it } from 'vitest';
import { MAX_EVENT_DATA_BYTES, type OnboardingStep, type ProviderRecord } from '../../packages/core/src/index.js';
import { validationCompletedData } from '../../functions/lib/webhooks.js';

const step = (s: OnboardingStep['step'], result: OnboardingStep['result'], at: string, detail = `${s} ${result}`): OnboardingStep => ({ step: s, result, at, detail });

function provider(status: ProviderRecord['status'], steps: OnboardingStep[]): ProviderRecord {
  return {
    id: 'prv_workflowEvents01', name: 'Events GPU', contact_email: 'ops@events.example', regions: ['us-east-1'], accelerators: ['H100'], status,
    sla_tier: 'standard', capacity_interval_s: 900, endpoints: [], models: [], steps, created_at: '2030-01-01T00:00:00.000Z', updated_at: steps.at(-1)!.at,
  };
}

/** An earlier run that failed, then a run that passed every step. */
const PASSED_RUN = [
  step('validation', 'recorded', '2030-01-02T00:00:00.000Z', 'validation started'),
  step('relay_handshake', 'failed', '2030-01-02T00:00:01.000Z'),
  step('validation', 'failed', '2030-01-02T00:00:02.000Z', 'back to integration: relay_handshake failed'),
  step('validation', 'recorded', '2030-01-03T00:00:00.000Z', 'validation started'),
  ...(['relay_handshake', 'reliability', 'throughput', 'sla_latency', 'pricing_review'] as const).map((s, i) => step(s, 'passed', `2030-01-03T00:00:0${i + 1}.000Z`)),
  step('live', 'passed', '2030-01-03T00:00:09.000Z', 'live on the standard tier'),
];

describe('provider.validation.completed data', () => {
  it("carries the run's steps only, its result, the status after it and when it ended", () => {
    // Prepare
    const p = provider('live', PASSED_RUN);

    // Act
    const data = validationCompletedData(p, 'passed');

    // Assess
    expect(data).toEqual({
      provider_id: p.id,
      result: 'passed',
      status: 'live',
      steps: PASSED_RUN.slice(4).map(({ step: s, result, at, detail }) => ({ step: s, result, at, detail })),
      completed_at: '2030-01-03T00:00:09.000Z',
    });
  });

  it('is nothing when the record does not show that end (a stray retry on a live provider is not a failed run)', () => {
    // Prepare
    const live = provider('live', PASSED_RUN);
    const validating = provider('validating', PASSED_RUN.slice(0, 6));

    // Act
    const asFailed = validationCompletedData(live, 'failed');
    const unfinished = [validationCompletedData(validating, 'passed'), validationCompletedData(validating, 'failed')];

    // Assess
    expect(asFailed).toBeNull();
    expect(unfinished).toEqual([null, null]);
  });

  it(`cuts long details so the data stays within ${MAX_EVENT_DATA_BYTES} bytes, and keeps short ones whole`, () => {
    // Prepare: a handshake over many endpoints writes one long detail (multi-byte characters included).
    const long = 'endpoint ε: a forged relay token was served; '.repeat(2_000);
    const steps = [
      step('validation', 'recorded', '2030-02-01T00:00:00.000Z', 'validation started'),
      step('relay_handshake', 'failed', '2030-02-01T00:00:01.000Z', long),
      step('validation', 'failed', '2030-02-01T00:00:02.000Z', `back to integration: relay_handshake: ${long}`),
    ];
    const p = provider('integration', steps);

    // Act
    const data = validationCompletedData(p, 'failed')!;
    const details = (data.steps as OnboardingStep[]).map((s) => s.detail);

    // Assess
    expect(Buffer.byteLength(JSON.stringify(data))).toBeLessThanOrEqual(MAX_EVENT_DATA_BYTES);
    expect(Buffer.byteLength(JSON.stringify({ ...data, steps: steps.slice(1) }))).toBeGreaterThan(MAX_EVENT_DATA_BYTES);
    expect(details[0]!.length).toBeGreaterThan(100);
    expect(details[0]!.endsWith('…')).toBe(true);
    expect(long.startsWith(details[0]!.slice(0, -1))).toBe(true);
    expect(data).toMatchObject({ result: 'failed', status: 'integration', completed_at: '2030-02-01T00:00:02.000Z' });
  });
});
