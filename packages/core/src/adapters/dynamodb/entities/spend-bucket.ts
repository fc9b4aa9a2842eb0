/**
 * Spend bucket entities, in the facility's SPEND# partition: its spend per UTC hour (H#…), so burn over 7 days is one
 * bounded query (168 items); and its spend per UTC day, provider and model (M#…), for the lender's spend by provider
 * and by model (SPEC §3).
 */
import { hourOf, type Key } from './keys.js';

export const spendBucketKey = (facilityId: string, iso: string): Key => ({ pk: `SPEND#${facilityId}`, sk: `H#${hourOf(iso)}` });
export const SPEND_PREFIX = (facilityId: string) => `SPEND#${facilityId}`;

/** Adds to a facility's spend in the hour of `iso` (an instant, or an hour YYYY-MM-DDTHH). */
export function spendBucketUpdate(tableName: string, facilityId: string, iso: string, spentMicros: number, at: string) {
  return {
    Update: {
      TableName: tableName,
      Key: spendBucketKey(facilityId, iso),
      UpdateExpression: 'ADD spent_micros :s SET #t = :t, updated_at = :at',
      ExpressionAttributeNames: { '#t': 'type' },
      ExpressionAttributeValues: { ':s': spentMicros, ':t': 'spend_bucket', ':at': at },
    },
  };
}
export const facilityModelKey = (facilityId: string, day: string, providerId: string, model: string): Key => ({ pk: `SPEND#${facilityId}`, sk: `M#${day}#${providerId}#${model}` });

/** What a facility spent on one provider and model in one day. */
export interface FacilityModelChange { facility_id: string; day: string; provider_id: string; model: string; spent_micros: number }

export function facilityModelUpdate(tableName: string, c: FacilityModelChange) {
  return {
    Update: {
      TableName: tableName,
      Key: facilityModelKey(c.facility_id, c.day, c.provider_id, c.model),
      UpdateExpression: 'ADD spent_micros :s SET #t = :t, #d = :day, provider_id = :p, model = :m',
      ExpressionAttributeNames: { '#t': 'type', '#d': 'day' },
      ExpressionAttributeValues: { ':s': c.spent_micros, ':t': 'facility_model_day', ':day': c.day, ':p': c.provider_id, ':m': c.model },
    },
  };
}
