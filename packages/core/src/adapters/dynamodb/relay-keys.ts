/** Relay-token keys on the table: created on first use, rotated under the item's version. */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { checkKeySet, firstKeySet, rotateKeySet, type RelayKeySet, type RelayKeyStore, type RotateResult } from '../../relay.js';
import { relayKeySetKey } from './entities/relay-keys.js';
import { unlessConditionFailed } from './transact.js';
import { nowIso } from '../../clock.js';

const MAX_ATTEMPTS = 3;

export class DynamoRelayKeys implements RelayKeyStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private async read(): Promise<{ set: RelayKeySet; version: number } | null> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: relayKeySetKey(), ConsistentRead: true }));
    return out.Item ? { set: out.Item.set as RelayKeySet, version: out.Item.version as number } : null;
  }

  /** Writes `set` if the item is still at `version` (0: absent); false when someone else wrote first. */
  private async write(set: RelayKeySet, version: number): Promise<boolean> {
    checkKeySet(set);
    const written = await unlessConditionFailed(
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...relayKeySetKey(), type: 'relay_keys', version: version + 1, set },
          ConditionExpression: version === 0 ? 'attribute_not_exists(pk)' : 'version = :v',
          ...(version === 0 ? {} : { ExpressionAttributeValues: { ':v': version } }),
        }),
      ),
    );
    return written !== null;
  }

  async load(): Promise<RelayKeySet> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const cur = await this.read();
      if (cur) return cur.set;
      const first = firstKeySet(nowIso());
      if (await this.write(first, 0)) return first;
    }
    throw new Error('could not create the relay key set');
  }

  /** `leadS`: seconds between publishing the new key and its first signature (relay.ts). */
  async rotate(at: string, leadS?: number): Promise<RotateResult> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const cur = await this.read();
      if (!cur) {
        await this.load();
        continue;
      }
      const r = rotateKeySet(cur.set, at, leadS);
      if (!r.ok) return r;
      if (await this.write(r.set, cur.version)) return r;
    }
    return { ok: false, code: 'rotation_in_progress' };
  }
}
