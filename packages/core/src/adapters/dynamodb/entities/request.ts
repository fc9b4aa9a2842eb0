/**
 * A request's own record item, under its startup and id: GET /v1/requests/{id} reads it with one GetItem, and
 * another startup's key names a different item, so it can never read it. Written in the same write that bills
 * the request (the lease's flush transaction, or the hold's close), so a billed request always has it; booked
 * hours (workload `reserved`) are not requests and have none.
 */
import type { UsageRecord } from '../../../usage.js';
import type { Key } from './keys.js';

export const requestKey = (startupId: string, requestId: string): Key => ({ pk: `REQ#${startupId}#${requestId}`, sk: 'REQ' });

/** One JSON attribute, not a map: nothing reads the record by part, and DynamoDB Local spends its CPU per attribute. */
export function requestItem(r: UsageRecord) {
  return { ...requestKey(r.startup_id, r.request_id), type: 'request', record: JSON.stringify(r) };
}

export function toRequestRecord(item: Record<string, unknown>): UsageRecord {
  return JSON.parse(item.record as string) as UsageRecord;
}

export const hasRequestItem = (r: Pick<UsageRecord, 'workload'>): boolean => r.workload !== 'reserved';
