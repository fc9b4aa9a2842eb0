/**
 * The marketplace's side of relay tokens (SPEC §6; the format is in packages/provider-kit): the signing
 * key set, its rotation, the published JWKS, and a signer that caches the set.
 *
 * Rotation without a failed request: rotate() publishes a new key at once but signs with it only from
 * `signs_from`, a publish lead later (RELAY_PUBLISH_LEAD_S, default 7 minutes: longer than the provider kit's
 * longest key cache, 5 minutes, plus the JWKS reply's HTTP max-age, 1 minute), so every verifier already holds
 * it when the first token names it (and the kit refetches at once on an unknown kid besides). The previous key
 * signs until then and stays published for ROTATION_OVERLAP_S after, longer than a token lives plus a
 * signer's staleness, then drops out. Signers reload the set every SIGNER_RELOAD_MS and pick the signing key
 * by time at each token.
 *
 * Staleness of a signer's set: at most SIGNER_RELOAD_MS while the table answers (no read in between, so a
 * warm request reads no key); when a reload fails the held set keeps signing until it is SIGNER_MAX_STALE_MS
 * old, then requests fail instead. Both stay far inside the overlap, so a signer never signs with a key the
 * JWKS has already dropped: SIGNER_MAX_STALE_MS + RELAY_TOKEN_TTL_S < ROTATION_OVERLAP_S.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { RELAY_ISSUER, RELAY_TOKEN_TTL_S, signRelayToken, type RelayJwk } from '../../provider-kit/src/relay.js';
import { assert } from './money.js';
import { nowMs } from './clock.js';

export const ROTATION_OVERLAP_S = 15 * 60;
/** The kit's longest key cache (RELAY_KEYS_MAX_CACHE_MS) + the JWKS max-age (60 s) + a minute of margin. */
export const RELAY_PUBLISH_LEAD_S = 7 * 60;
/** Bounds of the lead a deployment may set (COMPUX_RELAY_PUBLISH_LEAD_S): 0 leaves only the kit's refetch. */
export const MIN_RELAY_PUBLISH_LEAD_S = 0;
export const MAX_RELAY_PUBLISH_LEAD_S = 3_600;
/** The JWKS reply's HTTP cache lifetime: part of the publish lead. */
export const JWKS_MAX_AGE_S = 60;
export const MAX_RELAY_KEYS = 3;
export const SIGNER_RELOAD_MS = 60_000;
export const SIGNER_MAX_STALE_MS = 5 * 60_000;

/** What is known of a key without its secret: enough to publish it (JWKS) and to pick the one that signs. */
export interface RelayKeyMeta {
  kid: string;
  /** Ed25519 public key, base64url (the JWK's x). */
  x: string;
  created_at: string;
  /** When it starts signing (published before): absent on keys from before the lead, which sign from created_at. */
  signs_from?: string;
  /** When it stops being published; null while it is the active key. */
  retire_at: string | null;
}

/** A key with its secret, opened (in a signer's memory only: at rest it is sealed, relay-at-rest.ts). */
export interface RelayKey extends RelayKeyMeta {
  /** Ed25519 private key, PKCS#8 PEM. */
  private_pem: string;
}

export interface RelayKeySet<K extends RelayKeyMeta = RelayKey> {
  active_kid: string;
  keys: K[];
}

export function newRelayKey(at: string): RelayKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const x = publicKey.export({ format: 'jwk' }).x!;
  return { kid: `rk_${at.slice(0, 10).replace(/-/g, '')}_${randomBytes(4).toString('hex')}`, x, private_pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), created_at: at, retire_at: null };
}

export function firstKeySet(at: string): RelayKeySet {
  const k = newRelayKey(at);
  return { active_kid: k.kid, keys: [k] };
}

export type RotateResult<K extends RelayKeyMeta = RelayKey> = { ok: true; set: RelayKeySet<K> } | { ok: false; code: 'rotation_in_progress' };

const liveAt = <K extends RelayKeyMeta>(set: RelayKeySet<K>, at: string) => set.keys.filter((k) => k.retire_at === null || k.retire_at > at);

/** Whether a rotation at `at` is refused: the set still holds MAX_RELAY_KEYS live keys (the last one's overlap). */
export function rotationInProgress(set: RelayKeySet<RelayKeyMeta>, at: string): boolean {
  return liveAt(set, at).length >= MAX_RELAY_KEYS;
}

/**
 * A new active key, published now and signing from `at + leadS`; the old one signs until then and retires the
 * overlap after; keys already past retirement are dropped.
 */
export function rotateKeySet(set: RelayKeySet, at: string, leadS: number = RELAY_PUBLISH_LEAD_S): RotateResult {
  return rotateWith(set, at, leadS, newRelayKey(at));
}

/** rotateKeySet with the new key given (`fresh`, minted at `at`): the store seals it before it rotates. */
export function rotateWith<K extends RelayKeyMeta>(set: RelayKeySet<K>, at: string, leadS: number, fresh: K): RotateResult<K> {
  assert(Number.isInteger(leadS) && leadS >= MIN_RELAY_PUBLISH_LEAD_S && leadS <= MAX_RELAY_PUBLISH_LEAD_S, 'publish lead in bounds');
  assert(fresh.created_at === at && set.keys.every((k) => k.kid !== fresh.kid), 'a fresh key minted for this rotation');
  const live = liveAt(set, at);
  if (live.length >= MAX_RELAY_KEYS) return { ok: false, code: 'rotation_in_progress' };
  const signsFrom = new Date(Date.parse(at) + leadS * 1000).toISOString();
  const retireAt = new Date(Date.parse(signsFrom) + ROTATION_OVERLAP_S * 1000).toISOString();
  const next = { ...fresh, signs_from: signsFrom };
  const keys = [...live.map((k) => (k.kid === set.active_kid ? { ...k, retire_at: retireAt } : k)), next];
  const out = { active_kid: next.kid, keys };
  checkKeySet(out);
  return { ok: true, set: out };
}

export function checkKeySet(set: RelayKeySet<RelayKeyMeta>): void {
  assert(set.keys.length >= 1 && set.keys.length <= MAX_RELAY_KEYS, `1..${MAX_RELAY_KEYS} relay keys`);
  const active = set.keys.filter((k) => k.kid === set.active_kid);
  assert(active.length === 1 && active[0]!.retire_at === null, 'exactly one active relay key, not retiring');
}

/** The key that signs at `at`: of the keys published then, the one that began signing last. */
export function signingKey<K extends RelayKeyMeta>(set: RelayKeySet<K>, at: string): K {
  const from = (k: RelayKeyMeta) => k.signs_from ?? k.created_at;
  const live = set.keys.filter((k) => k.retire_at === null || k.retire_at > at).sort((a, b) => from(b).localeCompare(from(a)));
  // A clock behind every key's start (a skewed container) signs with the oldest live key: published longest.
  const signing = live.find((k) => from(k) <= at) ?? live.at(-1) ?? set.keys.find((k) => k.kid === set.active_kid);
  assert(signing !== undefined, 'a key set holds its active key');
  return signing;
}

/** The published keys (JWKS): every key not yet retired. */
export function jwksOf(set: RelayKeySet<RelayKeyMeta>, at: string): { keys: RelayJwk[] } {
  return {
    keys: set.keys
      .filter((k) => k.retire_at === null || k.retire_at > at)
      .map((k) => ({ kty: 'OKP' as const, crv: 'Ed25519' as const, x: k.x, kid: k.kid, use: 'sig' as const, alg: 'EdDSA' as const })),
  };
}

/** Where the key set lives (the DynamoDB adapter: one item, created on first use, its private keys sealed). */
export interface RelayKeyStore {
  /** The set with its private keys opened. */
  load(): Promise<RelayKeySet>;
  /**
   * Throws when this caller may not use the private keys (the local runtime, where one process holds a signer
   * for every function, checks the calling function's grant here); absent where each function has its own
   * process and opening the keys is the only gate (AWS: KMS Decrypt under IAM).
   */
  check?(): void;
}

/** Mints relay tokens with the active key, reloading the set every SIGNER_RELOAD_MS (see the staleness bounds above). */
export class RelaySigner {
  private set: RelayKeySet | null = null;
  private loadedAt = 0;
  private loading: Promise<RelayKeySet> | null = null;

  constructor(
    private readonly store: RelayKeyStore,
    private readonly clock: () => number = nowMs,
  ) {}

  /**
   * Loads the set if it is missing or old; a failed reload keeps signing with the set already held while it
   * is younger than SIGNER_MAX_STALE_MS, and fails past that.
   */
  async ready(): Promise<RelayKeySet> {
    this.store.check?.();
    const held = this.set;
    const age = this.clock() - this.loadedAt;
    if (held && age < SIGNER_RELOAD_MS) return held;
    if (held) {
      return this.reload().catch((err: unknown) => {
        if (this.clock() - this.loadedAt < SIGNER_MAX_STALE_MS) return this.set ?? held;
        throw err;
      });
    }
    return this.reload();
  }

  private reload(): Promise<RelayKeySet> {
    this.loading ??= this.store.load().then(
      (s) => {
        checkKeySet(s);
        this.set = s;
        this.loadedAt = this.clock();
        this.loading = null;
        return s;
      },
      (err: unknown) => {
        this.loading = null;
        throw err;
      },
    );
    return this.loading;
  }

  /** Drops the held set: the next token reloads it (the container that rotated switches at once, the others within SIGNER_RELOAD_MS). */
  invalidate(): void {
    this.set = null;
    this.loadedAt = 0;
  }

  /** A token for one forwarded request: audience the provider, subject the request id. */
  async token(providerId: string, requestId: string): Promise<string> {
    const set = await this.ready();
    const key = signingKey(set, new Date(this.clock()).toISOString());
    const iat = Math.floor(this.clock() / 1000);
    return signRelayToken({ iss: RELAY_ISSUER, aud: providerId, sub: requestId, iat, exp: iat + RELAY_TOKEN_TTL_S }, key.kid, key.private_pem);
  }
}
