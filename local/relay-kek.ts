/**
 * The local runtime's relay key-encryption key (issue 14, point 6): what KMS is on AWS, a key file outside the table.
 * $COMPUX_RELAY_KEK_FILE when set, else `<data folder>/relay-kek` (made once: 32 random bytes, base64url, readable by
 * this user only, as the cursor secret is kept), else, in memory or on an outside table, a file in a private
 * temporary folder for this run (removed at stop: the table it sealed for does not outlive the run either).
 *
 * The handlers get the file and the key's ARN (arn:aws:kms:<region>:<account>:key/<fingerprint>); the runtime's
 * grants (local/grants.ts) allow that ARN only to the functions whose row has `relayKey`, as IAM does on AWS.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { localKekId, parseKekFile } from '../packages/core/src/adapters/kek/file.js';
import { RELAY_KEK_FILE_ENV } from '../functions/lib/settings.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './aws.js';

export const RELAY_KEK_FILE = 'relay-kek';

export interface LocalRelayKek {
  file: string;
  /** The key's ARN: what the handlers name it by and the grants allow. */
  keyArn: string;
  /** Removes a key made for this run only. */
  remove(): void;
  /** Made for this run only (no data folder, no file given): removed at stop. */
  temporary: boolean;
}

const arnOf = (file: string) => `arn:aws:kms:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:key/${localKekId(parseKekFile(readFileSync(file, 'utf8')))}`;

/** Writes a new key to `file`, failing if one is there (never replaces a key sealed keys depend on). */
function makeKey(file: string): void {
  writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
}

export function localRelayKek(dataDir: string | null): LocalRelayKek {
  const given = process.env[RELAY_KEK_FILE_ENV]?.trim();
  if (given) return { file: given, keyArn: arnOf(given), remove: () => {}, temporary: false };
  if (!dataDir) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'compux-relay-kek-'));
    const file = path.join(dir, RELAY_KEK_FILE);
    makeKey(file);
    return { file, keyArn: arnOf(file), remove: () => rmSync(dir, { recursive: true, force: true }), temporary: true };
  }
  const file = path.join(dataDir, RELAY_KEK_FILE);
  mkdirSync(dataDir, { recursive: true });
  try {
    makeKey(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // A malformed kept file is an error, not replaced: the relay keys sealed under it would never open again.
  return { file, keyArn: arnOf(file), remove: () => {}, temporary: false };
}
