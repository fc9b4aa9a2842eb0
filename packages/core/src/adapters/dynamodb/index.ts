/** DynamoDB adapter: the only place in core that imports the AWS SDK. */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { guardClient } from '../clients.js';

export { DynamoCreditStore } from './store.js';
export { ContentionError } from './table.js';
export { BadCursorError } from './cursor.js';
export { transact, MAX_ATTEMPTS } from './transact.js';
export { storeCapacityReport } from './capacity.js';

/**
 * Endpoints come from the SDK's own AWS_ENDPOINT_URL_DYNAMODB, so local and AWS share this code path.
 * The client carries the call guard (../clients.ts): the local runtime checks each call against the calling
 * function's grant there; on AWS it does nothing.
 */
export function documentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(guardClient(new DynamoDBClient({ maxAttempts: 3, ...config }), 'dynamodb'), {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
}
export { DynamoCatalog, routingEpoch } from './catalog.js';
export { DynamoRateLimiter } from './ratelimit.js';
export { DynamoTickets } from './tickets.js';
export { UsageTooLargeError } from './usage-store.js';
export { DynamoProviders, VersionConflictError } from './providers.js';
export { DynamoRelayKeys } from './relay-keys.js';
export { DynamoSla } from './sla.js';
export { DynamoSettlement } from './settlement.js';
export { DynamoDashboard } from './dashboard.js';
export { DynamoBookings, type BlockPlan } from './bookings.js';
export { DynamoWebhookStore } from './webhooks.js';
export { DynamoCovenantStore } from './covenants.js';
export { DynamoCreditAlertStore } from './credit-alerts.js';
export { DynamoKeyBudgetStore } from './key-budgets.js';
export { DynamoLoanBook } from './loan-store.js';
export { DynamoResponseStore } from './responses.js';
