/**
 * Provider entities under PROVIDER#<id>: the profile (status, catalog, onboarding steps), the webhook
 * secret (kept apart so no read of the profile carries it), and the capacity state of the consumer.
 * Capacity reports (entities/capacity-report.ts) sit in the same partition.
 */
import type { Key } from './keys.js';

export const providerKey = (id: string): Key => ({ pk: `PROVIDER#${id}`, sk: 'PROFILE' });
export const providerSecretKey = (id: string): Key => ({ pk: `PROVIDER#${id}`, sk: 'SECRET' });
export const capacityStateKey = (id: string): Key => ({ pk: `PROVIDER#${id}`, sk: 'CAPSTATE' });
