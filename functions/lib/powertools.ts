/** The one logger, metrics and tracer every function shares (Powertools for AWS Lambda). */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'compux';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ namespace: 'CompuX', serviceName });

/** What the functions use of the tracer. */
export type SharedTracer = Pick<Tracer, 'captureAWSv3Client'>;

/**
 * Powertools' own rule for whether the Tracer traces: in Lambda (AWS_EXECUTION_ENV set), not under SAM or the
 * Amplify mock, and not turned off by POWERTOOLS_TRACE_ENABLED=false.
 */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const exec = env.AWS_EXECUTION_ENV ?? '';
  return exec !== '' && exec !== 'AWS_Lambda_amplify-mock' && (env.AWS_SAM_LOCAL ?? '') === '' && (env.POWERTOOLS_TRACE_ENABLED ?? '').toLowerCase() !== 'false';
}

/**
 * Loaded only where it traces. Where it does not (the local runtime, tests), a disabled Tracer captures
 * nothing, but importing it still loads the X-Ray SDK, whose cls-hooked context registers an async_hooks
 * destroy hook for every promise in the process: a fifth of a proxied chat request's CPU here. The stand-in
 * is what the disabled Tracer is: captureAWSv3Client hands the client back unchanged.
 */
export const tracer: SharedTracer = tracingEnabled()
  ? new (await import('@aws-lambda-powertools/tracer')).Tracer({ serviceName })
  : { captureAWSv3Client: <T>(client: T): T => client };
