/**
 * Stored responses (OpenAI's `store`, on by default): each Response with the conversation that led to it, kept for
 * RESPONSE_RETENTION_S and readable only by the startup that made it, so `previous_response_id`, `item_reference`
 * and GET /v1/responses/{id} work. The adapter is packages/core/src/adapters/dynamodb/responses.ts.
 */
import type { ConversationItem } from './items.js';
import type { ResponseObject } from './response.js';

/** OpenAI keeps stored responses for 30 days. */
export const RESPONSE_RETENTION_S = 30 * 86_400;
/**
 * The most JSON a stored conversation (the items before this response's output) may hold. Checked before the
 * provider is called, so a response that could not be stored whole is refused up front (send `store: false`),
 * never stored cut: with its output, the item stays under DynamoDB's 400 KB item limit (RESPONSE_ITEM_MAX_BYTES).
 */
export const MAX_STORED_CONVERSATION_BYTES = 256 * 1024;
/** The stored item's compressed body, at most: under DynamoDB's 400 KB, with room for its keys and attributes. */
export const RESPONSE_ITEM_MAX_BYTES = 380 * 1024;

export interface StoredResponse {
  startup_id: string;
  response: ResponseObject;
  /** The input items that led to it: the previous response's conversation and output, then this request's input. */
  conversation: ConversationItem[];
  /** Epoch seconds after which it is gone (a DynamoDB TTL; reads treat it as gone from then on). */
  expires_at_s: number;
}

export type StoreResult = { ok: true } | { ok: false; code: 'too_large' };

export interface ResponseStore {
  /** The stored response, for its own startup only (another startup's id reads as absent), unexpired. */
  get(startupId: string, responseId: string): Promise<StoredResponse | null>;
  /** Writes it (after the reply); too_large when even compressed it would pass RESPONSE_ITEM_MAX_BYTES. */
  put(stored: StoredResponse): Promise<StoreResult>;
  /** Deletes it; false when there was none for this startup. */
  delete(startupId: string, responseId: string): Promise<boolean>;
}
