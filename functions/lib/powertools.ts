/** The one logger, metrics and tracer every function shares (Powertools for AWS Lambda). */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'compux';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ namespace: 'CompuX', serviceName });
// Disabled by Powertools itself outside Lambda (no AWS_EXECUTION_ENV), so the local runtime sends nothing.
export const tracer = new Tracer({ serviceName });
