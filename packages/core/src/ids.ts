import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(bytes: Uint8Array, length: number): string {
  let out = '';
  for (let i = 0; out.length < length; i++) {
    const b = bytes[i % bytes.length]!;
    // Rejection sampling keeps the alphabet uniform (248 = 62 × 4).
    if (b < 248) out += ALPHABET[b % 62];
    if (i > bytes.length * 4) break;
  }
  return out.padEnd(length, '0');
}

/** bkg: a capacity booking; quo: a quote; ofr: an offer of a quote; cpr: a provider's opaque reference in offers; evt: an event; whe: a webhook endpoint; resp: a Responses API response. */
export type IdPrefix = 'stu' | 'len' | 'fac' | 'key' | 'hold' | 'pst' | 'prv' | 'req' | 'lse' | 'hld' | 'bkg' | 'quo' | 'ofr' | 'cpr' | 'evt' | 'whe' | 'flh' | 'resp';

/** A random id such as fac_3kT9…, 20 base62 characters (~119 bits). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${base62(randomBytes(40), 20)}`;
}

/** A deterministic id from a scope and key: replays of the same key land on the same record. */
export function derivedId(prefix: IdPrefix, ...parts: string[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  return `${prefix}_${base62(digest, 24)}`;
}

/** Stable shard of an id in [0, n): spreads hot keys (index partitions, ledger accounts) over n items. */
export function shardOf(id: string, n: number): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % n;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** A secret API key: prefix + 32 base62 characters (~190 bits). Only its sha256 is stored. */
export function newSecretKey(prefix: 'cx_op' | 'cx_lender' | 'cx_startup' | 'cx_provider' | 'whsec'): string {
  return `${prefix}_${base62(randomBytes(64), 32)}`;
}

/** Canonical JSON (sorted keys) so two equal bodies hash alike whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function requestHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
