/**
 * SLA entities: one counter item per provider per UTC hour (samples, errors, latency bucket counts
 * l0..l31), read with one Query over the 30-day window (at most 721 small items), expired by TTL after
 * the window; and the breach / recovery alerts in the provider's partition, newest first.
 */
import type { Key } from './keys.js';

export const slaBucketKey = (providerId: string, hour: string): Key => ({ pk: `SLA#${providerId}`, sk: `HOUR#${hour}` });
export const SLA_ALERT_PREFIX = 'SLAALERT#';
export const slaAlertKey = (providerId: string, at: string, suffix: string): Key => ({ pk: `PROVIDER#${providerId}`, sk: `${SLA_ALERT_PREFIX}${at}#${suffix}` });
/** Buckets outlive the window by a day, then DynamoDB's TTL removes them. */
export const SLA_BUCKET_TTL_DAYS = 31;
