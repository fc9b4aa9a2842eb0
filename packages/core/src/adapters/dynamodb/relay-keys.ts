/**
 * Relay-token keys on the table: created on first use, rotated under the item's version, every private key
 * sealed (relay-at-rest.ts) by the KeyWrapper given: the item holds no private key in clear.
 *
 * Who needs the KEK: load() opens the keys (the signers); rotate() seals the new key and carries the others over
 * sealed, never opening one; publicKeys() (the JWKS) reads only the public halves. Creating the first set and
 * sealing back a set stored before sealing (plain `private_pem`) seal, so load() and rotate() both may do it.
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  RELAY_PUBLISH_LEAD_S, checkKeySet, firstKeySet, newRelayKey, rotateWith, rotationInProgress,
  type RelayKeyMeta, type RelayKeySet, type RelayKeyStore, type RotateResult,
} from '../../relay.js';
import { isPlainKey, openSet, publicSet, sealRelayKey, sealSet, type SealedRelayKey, type StoredRelayKey } from '../../relay-at-rest.js';
import type { KeyWrapper } from '../../envelope.js';
import { assert } from '../../money.js';
import { relayKeySetKey } from './entities/relay-keys.js';
import { unlessConditionFailed } from './transact.js';
import { nowIso } from '../../clock.js';

const MAX_ATTEMPTS = 3;

export class DynamoRelayKeys implements RelayKeyStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly wrapper: KeyWrapper,
  ) {}

  private async read(): Promise<{ set: RelayKeySet<StoredRelayKey>; version: number } | null> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: relayKeySetKey(), ConsistentRead: true }));
    return out.Item ? { set: out.Item.set as RelayKeySet<StoredRelayKey>, version: out.Item.version as number } : null;
  }

  /** Writes `set` if the item is still at `version` (0: absent); false when someone else wrote first. */
  private async write(set: RelayKeySet<SealedRelayKey>, version: number): Promise<boolean> {
    checkKeySet(set);
    assert(!set.keys.some((k) => isPlainKey(k as StoredRelayKey)), 'only sealed relay keys are written');
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

  /** The stored set, every key sealed: created when absent, sealed back when it holds plain keys from before. */
  private async current(): Promise<{ set: RelayKeySet<SealedRelayKey>; version: number }> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const cur = await this.read();
      if (cur && !cur.set.keys.some(isPlainKey)) return cur as { set: RelayKeySet<SealedRelayKey>; version: number };
      const sealed = await sealSet(cur ? cur.set : firstKeySet(nowIso()), this.wrapper);
      const version = cur ? cur.version : 0;
      if (await this.write(sealed, version)) return { set: sealed, version: version + 1 };
    }
    throw new Error('could not create or seal the relay key set');
  }

  /**
   * The set with its private keys opened: for signers only (it needs the KEK's Decrypt). Keys already retired are
   * left out (they sign nothing, and stay in the item until the next rotation drops them: one Decrypt saved a reload).
   */
  async load(): Promise<RelayKeySet> {
    const { set } = await this.current();
    const at = nowIso();
    return openSet({ active_kid: set.active_kid, keys: set.keys.filter((k) => k.retire_at === null || k.retire_at > at) }, this.wrapper);
  }

  /** The public halves (the JWKS): no secret read, nothing opened; null before the first key exists. */
  async publicKeys(): Promise<RelayKeySet<RelayKeyMeta> | null> {
    const cur = await this.read();
    return cur ? publicSet(cur.set) : null;
  }

  check(): void {
    this.wrapper.check();
  }

  /**
   * `leadS`: seconds between publishing the new key and its first signature (relay.ts). The new key is sealed
   * before it is written; the others are carried over sealed, so a rotation never opens a private key.
   */
  async rotate(at: string, leadS: number = RELAY_PUBLISH_LEAD_S): Promise<RotateResult<SealedRelayKey>> {
    let fresh: SealedRelayKey | null = null;
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const cur = await this.current();
      if (rotationInProgress(cur.set, at)) return { ok: false, code: 'rotation_in_progress' };
      fresh ??= await sealRelayKey(newRelayKey(at), this.wrapper);
      const r = rotateWith(cur.set, at, leadS, fresh);
      if (!r.ok) return r;
      if (await this.write(r.set, cur.version)) return r;
    }
    return { ok: false, code: 'rotation_in_progress' };
  }
}
