/**
 * The relay key-encryption key of the local runtime: 32 random bytes in a file outside the table
 * (`.compux-data/relay-kek`, mode 0600, made at first start by local/relay-kek.ts), doing KMS's part of the
 * envelope in-process: a data key is 32 random bytes, wrapped with AES-256-GCM under the file's key with the
 * seal's purpose and kid as AAD (as KMS binds its EncryptionContext).
 *
 * Every use is shown to the call guards first as the KMS call it stands for (kms:GenerateDataKey or kms:Decrypt
 * on the key's ARN, ../clients.ts checkCall), so the local runtime refuses a function without the grant exactly
 * as IAM would refuse it KMS (local/grants.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DATA_KEY_BYTES, decryptWith, encryptWith, type DataKey, type DataKeySource, type SealContext } from '../../envelope.js';
import { checkCall } from '../clients.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The key's bytes from the file's text (base64url of 32 bytes, as the cursor secret is kept). */
export function parseKekFile(text: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64url');
  if (key.length !== DATA_KEY_BYTES) throw new Error(`a relay key-encryption key file holds ${DATA_KEY_BYTES} bytes (base64url), not ${key.length}`);
  return key;
}

/** The local key's id: a fingerprint of its bytes, so a blob sealed under another file is told apart before trying it. */
export function localKekId(key: Buffer): string {
  return `local-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

export class FileDataKeys implements DataKeySource {
  #kek: Buffer | null = null;

  constructor(
    private readonly file: string,
    /** The ARN the guard checks grants against (the runtime's arn:aws:kms:…:key/<localKekId>). */
    private readonly keyArn: string,
  ) {}

  private kek(): Buffer {
    return (this.#kek ??= parseKekFile(readFileSync(this.file, 'utf8')));
  }

  private authorize(operation: 'GenerateDataKey' | 'Decrypt'): void {
    checkCall({ service: 'kms', operation, input: { KeyId: this.keyArn } });
  }

  async generate(context: SealContext): Promise<DataKey> {
    this.authorize('GenerateDataKey');
    const plaintext = randomBytes(DATA_KEY_BYTES);
    const { iv, ciphertext, tag } = encryptWith(this.kek(), plaintext, context);
    return { plaintext, wrapped: Buffer.concat([iv, tag, ciphertext]), kek_id: this.keyArn };
  }

  async unwrap(wrapped: Buffer, kekId: string, context: SealContext): Promise<Buffer> {
    this.authorize('Decrypt');
    if (kekId !== this.keyArn) throw new Error(`sealed under key-encryption key ${kekId}, not this runtime's ${this.keyArn}`);
    const iv = wrapped.subarray(0, IV_BYTES);
    const tag = wrapped.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
    return decryptWith(this.kek(), { iv, tag, ciphertext: wrapped.subarray(IV_BYTES + TAG_BYTES) }, context);
  }

  /** A signer holding opened keys asks here before each token: the same grant as opening them. */
  check(): void {
    this.authorize('Decrypt');
  }
}
