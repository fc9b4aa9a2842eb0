/**
 * A stored Responses API response (packages/core/src/responses/store.ts): one item under its startup, so another
 * startup's read of the same id finds nothing. The Response and its conversation are one gzipped JSON attribute
 * (`body`), which keeps a long conversation well under DynamoDB's 400 KB item; `ttl` lets DynamoDB delete it after
 * the retention (reads treat it as gone from then on, as DynamoDB's deletion may lag). A deleted response stays as
 * a tombstone (no body) until its ttl: DELETE needs no DeleteItem grant.
 */
import type { Key } from './keys.js';

export const responseKey = (startupId: string, responseId: string): Key => ({ pk: `RESP#${startupId}#${responseId}`, sk: 'RESP' });

export function responseItem(s: { startup_id: string; response_id: string; created_at_s: number; expires_at_s: number; body: Uint8Array }) {
  return { ...responseKey(s.startup_id, s.response_id), type: 'response', startup_id: s.startup_id, response_id: s.response_id, created_at_s: s.created_at_s, ttl: s.expires_at_s, body: s.body };
}

export function responseTombstone(startupId: string, responseId: string, expiresAtS: number) {
  return { ...responseKey(startupId, responseId), type: 'response', startup_id: startupId, response_id: responseId, deleted: true, ttl: expiresAtS };
}
