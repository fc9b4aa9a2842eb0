/**
 * Relay signing keys at rest (issue 14, point 6): the stored set keeps each key's public half and times in clear
 * (the JWKS route publishes them with no secret) and its private key sealed (envelope.ts): the PKCS#8 PEM under a
 * fresh data key, with the kid as AAD, the data key wrapped by the key-encryption key. Only functions that may use
 * that KEK open them: the signers and, to seal a new key, the rotation.
 *
 * A set stored before sealing holds plain `private_pem` keys: they are read as they are, once, and sealed back by
 * the first load or rotation that meets them (DynamoRelayKeys).
 */
import type { KeyWrapper, Sealed, SealContext } from './envelope.js';
import type { RelayKey, RelayKeyMeta, RelayKeySet } from './relay.js';

/** The purpose bound into every relay key's sealing (KMS EncryptionContext and the AAD). */
export const RELAY_KEY_PURPOSE = 'compux-relay-signing-key';

export interface SealedRelayKey extends RelayKeyMeta {
  sealed: Sealed;
}

/** A key as the table may hold it: sealed, or plain from before sealing. */
export type StoredRelayKey = SealedRelayKey | RelayKey;

export const relayKeyContext = (kid: string): SealContext => ({ purpose: RELAY_KEY_PURPOSE, kid });

export function isPlainKey(k: StoredRelayKey): k is RelayKey {
  return typeof (k as Partial<RelayKey>).private_pem === 'string';
}

/** The key without any secret, sealed or plain. */
export function metaOf(k: StoredRelayKey): RelayKeyMeta {
  const { kid, x, created_at, signs_from, retire_at } = k;
  return { kid, x, created_at, ...(signs_from !== undefined ? { signs_from } : {}), retire_at };
}

export async function sealRelayKey(k: RelayKey, wrapper: KeyWrapper): Promise<SealedRelayKey> {
  return { ...metaOf(k), sealed: await wrapper.seal(Buffer.from(k.private_pem, 'utf8'), relayKeyContext(k.kid)) };
}

/** The key with its private key: a plain one as it is, a sealed one opened (fails on another kid or KEK). */
export async function openRelayKey(k: StoredRelayKey, wrapper: KeyWrapper): Promise<RelayKey> {
  if (isPlainKey(k)) return { ...metaOf(k), private_pem: k.private_pem };
  const pem = await wrapper.open(k.sealed, relayKeyContext(k.kid));
  return { ...metaOf(k), private_pem: pem.toString('utf8') };
}

/** Every plain key of the set sealed (sealed ones kept as they are: never opened to be carried over). */
export async function sealSet(set: RelayKeySet<StoredRelayKey>, wrapper: KeyWrapper): Promise<RelayKeySet<SealedRelayKey>> {
  const keys = await Promise.all(set.keys.map((k) => (isPlainKey(k) ? sealRelayKey(k, wrapper) : k)));
  return { active_kid: set.active_kid, keys };
}

export function publicSet(set: RelayKeySet<StoredRelayKey>): RelayKeySet<RelayKeyMeta> {
  return { active_kid: set.active_kid, keys: set.keys.map(metaOf) };
}
