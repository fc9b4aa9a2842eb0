/**
 * Relay-token keys on the table: created on first use, rotated under the item's version, every private key
 * sealed (relay-at-rest.ts) by the KeyWrapper given: the item holds no private key in clear.
 *
 * Who needs the KEK: load() opens the keys (the signers); rotate() seals the new key and carries the others over
 * sealed, never opening one; publicKeys() (the JWKS) reads only the public halves. Creating the first set seals, so
 * load() and rotate() both may do it.
 *
 * A set holding a key in clear (plain `private_pem`, as stored before sealing) is refused unless `sealPlainKeys()`
 * says to seal it back (COMPUX_RELAY_SEAL_PLAIN_KEYS=1, once, to migrate): otherwise any function that may write the
 * table could plant a signing key of its own, and every signer would adopt it without the KEK.
 *
 * load() opens each sealed key once per process (by kid and ciphertext): a signer's reload every minute costs no KMS
 * call unless a rotation brought a new key.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  RELAY_PUBLISH_LEAD_S, checkKeySet, firstKeySet, newRelayKey, rotateWith, rotationInProgress,
  type RelayKey, type RelayKeyMeta, type RelayKeySet, type RelayKeyStore, type RotateResult,
} from '../../relay.js';
import { isPlainKey, openRelayKey, publicSet, sealRelayKey, sealSet, type SealedRelayKey, type StoredRelayKey } from '../../relay-at-rest.js';
import type { KeyWrapper } from '../../envelope.js';
import { assert } from '../../money.js';
import { relayKeySetKey } from './entities/relay-keys.js';
import { putVersion } from './transact.js';
import { nowIso } from '../../clock.js';

const MAX_ATTEMPTS = 3;

export interface RelayKeysOptions {
  /** Whether a set holding keys in clear is sealed back (a one-time migration) or refused (default). */
  sealPlainKeys?: () => boolean;
}

export class DynamoRelayKeys implements RelayKeyStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly wrapper: KeyWrapper,
    private readonly opts: RelayKeysOptions = {},
  ) {}

  /** Opened keys by kid and sealed form, pruned to the set last loaded (at most MAX_RELAY_KEYS). */
  private readonly opened = new Map<string, RelayKey>();

  private async read(): Promise<{ set: RelayKeySet<StoredRelayKey>; version: number } | null> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: relayKeySetKey(), ConsistentRead: true }));
    return out.Item ? { set: out.Item.set as RelayKeySet<StoredRelayKey>, version: out.Item.version as number } : null;
  }

  /** Writes `set` if the item is still at `version` (0: absent); false when someone else wrote first. */
  private async write(set: RelayKeySet<SealedRelayKey>, version: number): Promise<boolean> {
    checkKeySet(set);
    assert(!set.keys.some((k) => isPlainKey(k as StoredRelayKey)), 'only sealed relay keys are written');
    return putVersion(this.doc, this.tableName, { ...relayKeySetKey(), type: 'relay_keys', version: version + 1, set });
  }

  /** The stored set, every key sealed: created when absent, sealed back when it holds plain keys from before. */
  private async current(): Promise<{ set: RelayKeySet<SealedRelayKey>; version: number }> {
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const cur = await this.read();
      if (cur && !cur.set.keys.some(isPlainKey)) return cur as { set: RelayKeySet<SealedRelayKey>; version: number };
      if (cur && !(this.opts.sealPlainKeys?.() ?? false)) throw new Error('the relay key set holds a private key in clear: refused (set COMPUX_RELAY_SEAL_PLAIN_KEYS=1 once to seal it back)');
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
    // A key opened before is served from memory only to a caller who may open it (locally one process runs every
    // function; on AWS a container runs one): the check the KEK makes, without its call.
    this.wrapper.check();
    const { set } = await this.current();
    const at = nowIso();
    const live = set.keys.filter((k) => k.retire_at === null || k.retire_at > at);
    const keys = await Promise.all(live.map(async (k) => {
      const id = `${k.kid}|${JSON.stringify(k.sealed)}`;
      const key = this.opened.get(id) ?? (await openRelayKey(k, this.wrapper));
      this.opened.set(id, key);
      return [id, key] as const;
    }));
    const ids = new Set(keys.map(([id]) => id));
    for (const id of [...this.opened.keys()]) if (!ids.has(id)) this.opened.delete(id);
    return { active_kid: set.active_kid, keys: keys.map(([, key]) => key) };
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
