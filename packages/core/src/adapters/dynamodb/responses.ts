/** Stored responses on the table (the ResponseStore port of packages/core/src/responses/store.ts). */
import { gunzipSync, gzipSync } from 'node:zlib';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { nowMs } from '../../clock.js';
import { RESPONSE_ITEM_MAX_BYTES, type ResponseStore, type StoreResult, type StoredResponse } from '../../responses/store.js';
import { responseItem, responseKey, responseTombstone } from './entities/response.js';
import { unlessConditionFailed } from './transact.js';

export class DynamoResponseStore implements ResponseStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private async item(startupId: string, responseId: string): Promise<Record<string, unknown> | null> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: responseKey(startupId, responseId), ConsistentRead: true }));
    const item = out.Item as Record<string, unknown> | undefined;
    // Past its ttl it is gone, whether or not DynamoDB has deleted it yet.
    if (!item || typeof item.ttl !== 'number' || item.ttl * 1000 <= nowMs()) return null;
    return item;
  }

  async get(startupId: string, responseId: string): Promise<StoredResponse | null> {
    const item = await this.item(startupId, responseId);
    if (!item || item.deleted === true || !(item.body instanceof Uint8Array)) return null;
    const body = JSON.parse(gunzipSync(item.body).toString('utf8')) as Pick<StoredResponse, 'response' | 'conversation'>;
    return { startup_id: startupId, response: body.response, conversation: body.conversation, expires_at_s: item.ttl as number };
  }

  async put(s: StoredResponse): Promise<StoreResult> {
    const body = gzipSync(JSON.stringify({ response: s.response, conversation: s.conversation }));
    if (body.byteLength > RESPONSE_ITEM_MAX_BYTES) return { ok: false, code: 'too_large' };
    const item = responseItem({ startup_id: s.startup_id, response_id: s.response.id, created_at_s: s.response.created_at, expires_at_s: s.expires_at_s, body });
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: item }));
    return { ok: true };
  }

  async delete(startupId: string, responseId: string): Promise<boolean> {
    const item = await this.item(startupId, responseId);
    if (!item || item.deleted === true) return false;
    // Conditioned on the body still there: two deletes at once answer one true.
    const written = await unlessConditionFailed(
      this.doc.send(new PutCommand({ TableName: this.tableName, Item: responseTombstone(startupId, responseId, item.ttl as number), ConditionExpression: 'attribute_exists(body)' })),
    );
    return written !== null;
  }
}
