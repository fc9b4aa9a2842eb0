import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { tracingEnabled, tracer } from '../../functions/lib/powertools.js';

// The shared Tracer is loaded only where Powertools would trace (its X-Ray SDK costs every promise a destroy hook).
describe('the shared tracer', () => {
  it('traces in Lambda unless turned off, as Powertools decides', () => {
    // Prepare
    const lambda = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' };
    // Act
    const cases = [
      tracingEnabled(lambda),
      tracingEnabled({ ...lambda, POWERTOOLS_TRACE_ENABLED: 'FALSE' }),
      tracingEnabled({ ...lambda, AWS_SAM_LOCAL: 'true' }),
      tracingEnabled({ AWS_EXECUTION_ENV: 'AWS_Lambda_amplify-mock' }),
      tracingEnabled({}),
    ];
    // Assess
    expect(cases).toEqual([true, false, false, false, false]);
  });

  it('outside Lambda hands an SDK client back unchanged, without loading the X-Ray SDK', () => {
    // Prepare
    const client = { send: () => undefined };
    // Act
    const captured = tracer.captureAWSv3Client(client as never);
    // Assess
    expect(captured).toBe(client);
    expect(Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('aws-xray-sdk'))).toEqual([]);
  });
});
