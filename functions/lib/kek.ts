/**
 * The relay key-encryption key of this function, from its environment: KMS on AWS (RELAY_KMS_KEY_ENV, set only on
 * the functions granted it), the key file on the local runtime (RELAY_KEK_FILE_ENV with the runtime's key ARN).
 * A function with neither cannot seal or open a relay key: it says so instead of failing somewhere deeper.
 */
import { KeyWrapper, type DataKeySource } from '../../packages/core/src/index.js';
import { KmsDataKeys } from '../../packages/core/src/adapters/kek/kms.js';
import { FileDataKeys } from '../../packages/core/src/adapters/kek/file.js';
import { RELAY_KEK_FILE_ENV, RELAY_KMS_KEY_ENV } from './settings.js';

const refuse = (): never => {
  throw new Error(`no relay key-encryption key here: ${RELAY_KMS_KEY_ENV} is set only on the functions whose row grants relayKey (infra/access.ts)`);
};
const UNCONFIGURED: DataKeySource = { generate: async () => refuse(), unwrap: async () => refuse(), check: refuse };

export function relayKeyWrapper(env: Readonly<Record<string, string | undefined>> = process.env): KeyWrapper {
  const keyId = env[RELAY_KMS_KEY_ENV]?.trim();
  const file = env[RELAY_KEK_FILE_ENV]?.trim();
  if (keyId && file) return new KeyWrapper(new FileDataKeys(file, keyId));
  if (keyId) return new KeyWrapper(new KmsDataKeys(keyId));
  return new KeyWrapper(UNCONFIGURED);
}
