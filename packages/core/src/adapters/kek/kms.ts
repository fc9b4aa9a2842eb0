/**
 * The relay key-encryption key on AWS: a KMS key (stacks/Storage.ts, rotation on). GenerateDataKey gives each seal
 * a fresh AES-256 data key and its wrapping, Decrypt unwraps it; both carry the seal's purpose and kid as KMS's
 * EncryptionContext, so a wrapped key opens only for the key it was made for, and CloudTrail names both on every use.
 * IAM decides who may call them: only the functions whose row says `relayKey` (infra/access.ts).
 */
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { DATA_KEY_BYTES, type DataKey, type DataKeySource, type SealContext } from '../../envelope.js';
import { guardClient } from '../clients.js';

const encryptionContext = (c: SealContext): Record<string, string> => ({ purpose: c.purpose, kid: c.kid });

export class KmsDataKeys implements DataKeySource {
  constructor(
    /** The key's id or ARN (COMPUX_RELAY_KMS_KEY_ID). */
    private readonly keyId: string,
    private readonly kms: KMSClient = guardClient(new KMSClient({ maxAttempts: 3 }), 'kms'),
  ) {}

  async generate(context: SealContext): Promise<DataKey> {
    const out = await this.kms.send(new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: encryptionContext(context) }));
    if (out.Plaintext?.length !== DATA_KEY_BYTES || !out.CiphertextBlob || !out.KeyId) throw new Error('KMS GenerateDataKey returned no 256-bit data key');
    return { plaintext: Buffer.from(out.Plaintext), wrapped: Buffer.from(out.CiphertextBlob), kek_id: out.KeyId };
  }

  async unwrap(wrapped: Buffer, kekId: string, context: SealContext): Promise<Buffer> {
    // KeyId pins the key the data key was wrapped by: KMS refuses a blob of another key instead of trying it.
    const out = await this.kms.send(new DecryptCommand({ CiphertextBlob: wrapped, KeyId: kekId, EncryptionContext: encryptionContext(context) }));
    if (out.Plaintext?.length !== DATA_KEY_BYTES) throw new Error('KMS Decrypt returned no 256-bit data key');
    return Buffer.from(out.Plaintext);
  }
}
