/**
 * Envelope encryption of secrets kept at rest (the relay signing keys, relay-at-rest.ts).
 *
 * Each seal draws a fresh 256-bit data key from a DataKeySource, encrypts the secret with it (AES-256-GCM, the
 * context's purpose and kid as additional authenticated data, so a sealed secret moved under another kid or
 * purpose does not open) and
 * keeps only the data key as the source wrapped it with its key-encryption key (KEK). What is stored is the
 * ciphertext, its IV and tag, the wrapped data key and the KEK's id: nothing that opens without the KEK.
 *
 * The sources (packages/core/src/adapters/kek): AWS KMS (GenerateDataKey / Decrypt, the context as KMS's
 * EncryptionContext, so IAM and CloudTrail see the purpose and kid of every use), and a key file outside the table
 * for the local runtime (the same envelope in-process, checked against the calling function's grant first).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { assert } from './money.js';

/** What a sealed secret is for: bound into the data key's wrapping (KMS EncryptionContext) and into the AAD. */
export interface SealContext {
  purpose: string;
  kid: string;
}

/** A secret as stored: no field of it opens without the KEK. Binary fields are base64. */
export interface Sealed {
  /** Format version. */
  v: 1;
  /** The KEK that wrapped the data key (a KMS key ARN, or the local key's id). */
  kek_id: string;
  wrapped_key: string;
  iv: string;
  ciphertext: string;
  tag: string;
}

/** A fresh data key: in clear (used once, then dropped) and as the KEK wrapped it. */
export interface DataKey {
  plaintext: Buffer;
  wrapped: Buffer;
  kek_id: string;
}

/** The port a KEK is reached through: only these two operations, both bound to the context. */
export interface DataKeySource {
  /** A fresh 256-bit data key for `context`. */
  generate(context: SealContext): Promise<DataKey>;
  /** The data key back from its wrapping; fails when the context or the KEK differ from the seal's. */
  unwrap(wrapped: Buffer, kekId: string, context: SealContext): Promise<Buffer>;
  /**
   * Throws when the caller may not open secrets at all (the local runtime's grant check, for material a process
   * already holds in memory); absent where the KEK's own access control is the only gate (KMS and IAM).
   */
  check?(): void;
}

export const DATA_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Bound on a sealed secret's size (a PEM is a few hundred bytes): anything larger is not ours. */
export const MAX_SEALED_PLAINTEXT_BYTES = 16 * 1024;

/** The purpose and kid as AAD: the ciphertext opens only under the purpose and kid it was sealed for. */
const aadOf = (context: SealContext) => Buffer.from(`${context.purpose}\n${context.kid}`, 'utf8');

/** AES-256-GCM of `plaintext` under `key` with the context as AAD (a fresh IV). */
export function encryptWith(key: Buffer, plaintext: Buffer, context: SealContext): { iv: Buffer; ciphertext: Buffer; tag: Buffer } {
  assert(key.length === DATA_KEY_BYTES, 'a 256-bit key');
  assert(plaintext.length <= MAX_SEALED_PLAINTEXT_BYTES, 'a sealed secret in bounds');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadOf(context));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

/** The inverse of encryptWith; throws when anything (key, context, IV, ciphertext, tag) differs. */
export function decryptWith(key: Buffer, parts: { iv: Buffer; ciphertext: Buffer; tag: Buffer }, context: SealContext): Buffer {
  assert(key.length === DATA_KEY_BYTES && parts.iv.length === IV_BYTES && parts.tag.length === TAG_BYTES, 'well-formed sealed parts');
  const decipher = createDecipheriv('aes-256-gcm', key, parts.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aadOf(context));
  decipher.setAuthTag(parts.tag);
  return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
}

/** Seals and opens secrets with a fresh data key each, from one source. */
export class KeyWrapper {
  constructor(private readonly source: DataKeySource) {}

  async seal(plaintext: Buffer, context: SealContext): Promise<Sealed> {
    const dk = await this.source.generate(context);
    try {
      const { iv, ciphertext, tag } = encryptWith(dk.plaintext, plaintext, context);
      const b64 = (b: Buffer) => b.toString('base64');
      return { v: 1, kek_id: dk.kek_id, wrapped_key: b64(dk.wrapped), iv: b64(iv), ciphertext: b64(ciphertext), tag: b64(tag) };
    } finally {
      dk.plaintext.fill(0);
    }
  }

  async open(sealed: Sealed, context: SealContext): Promise<Buffer> {
    assert(isSealed(sealed), 'a sealed secret of a known version');
    const b = (s: string) => Buffer.from(s, 'base64');
    const key = await this.source.unwrap(b(sealed.wrapped_key), sealed.kek_id, context);
    try {
      return decryptWith(key, { iv: b(sealed.iv), ciphertext: b(sealed.ciphertext), tag: b(sealed.tag) }, context);
    } finally {
      key.fill(0);
    }
  }

  /** See DataKeySource.check. */
  check(): void {
    this.source.check?.();
  }
}

export function isSealed(v: unknown): v is Sealed {
  const s = v as Partial<Sealed> | null;
  return !!s && s.v === 1 && [s.kek_id, s.wrapped_key, s.iv, s.ciphertext, s.tag].every((f) => typeof f === 'string' && f.length > 0);
}
