/**
 * Offline: the envelope relay keys are sealed with at rest (packages/core/src/envelope.ts, relay-at-rest.ts) through
 * both key-encryption key sources: the local key file (adapters/kek/file.ts) and KMS (adapters/kek/kms.ts, its
 * requests answered by an in-memory KMS that binds the EncryptionContext as KMS does), and the local grant check
 * that stands for IAM on the key (local/grants.ts).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KMSClient } from '@aws-sdk/client-kms';
import { KeyWrapper, RELAY_KEY_PURPOSE, firstKeySet, newRelayKey, nowIso, openRelayKey, relayKeyContext, sealRelayKey, signingKey, type Sealed } from '../../packages/core/src/index.js';
import { FileDataKeys, localKekId, parseKekFile } from '../../packages/core/src/adapters/kek/file.js';
import { KmsDataKeys } from '../../packages/core/src/adapters/kek/kms.js';
import { LocalGrants, withGrant } from '../../local/grants.js';
import { localRelayKek } from '../../local/relay-kek.js';
import { RELAY_KEY_ACTIONS } from '../../infra/access.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A key file of 32 random bytes in a fresh folder, and the file source on it. */
function fileSource(): { source: FileDataKeys; file: string; arn: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'compux-kek-test-'));
  dirs.push(dir);
  const file = path.join(dir, 'relay-kek');
  writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  const arn = `arn:aws:kms:us-east-1:123456789012:key/${localKekId(parseKekFile(readFileSync(file, 'utf8')))}`;
  return { source: new FileDataKeys(file, arn), file, arn };
}

const CTX = relayKeyContext('rk_20270101_00000001');
const flip = (b64: string) => {
  const b = Buffer.from(b64, 'base64');
  b[0] = (b[0] ?? 0) ^ 0x01;
  return b.toString('base64');
};

describe('the envelope, with the local key file', () => {
  it('opens what it sealed; each seal draws a fresh data key and IV', async () => {
    // Prepare
    const w = new KeyWrapper(fileSource().source);
    const secret = Buffer.from('-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n');
    // Act
    const a = await w.seal(secret, CTX);
    const b = await w.seal(secret, CTX);
    const opened = await w.open(a, CTX);
    // Assess
    expect(opened.equals(secret)).toBe(true);
    expect(a.wrapped_key).not.toBe(b.wrapped_key);
    expect(a.iv).not.toBe(b.iv);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(JSON.stringify(a)).not.toContain('PRIVATE KEY');
    expect(Buffer.from(a.ciphertext, 'base64').includes(secret.subarray(0, 16))).toBe(false);
  });

  it.each([
    ['ciphertext', (s: Sealed) => ({ ...s, ciphertext: flip(s.ciphertext) })],
    ['tag', (s: Sealed) => ({ ...s, tag: flip(s.tag) })],
    ['iv', (s: Sealed) => ({ ...s, iv: flip(s.iv) })],
    ['wrapped data key', (s: Sealed) => ({ ...s, wrapped_key: flip(s.wrapped_key) })],
  ])('refuses a sealed secret whose %s was changed', async (_, tamper) => {
    // Prepare
    const w = new KeyWrapper(fileSource().source);
    const sealed = await w.seal(Buffer.from('secret'), CTX);
    // Act
    const r = await w.open(tamper(sealed), CTX).then(() => 'opened', (e: Error) => e.message);
    // Assess
    expect(r).not.toBe('opened');
  });

  it('refuses to open under another kid or purpose, or with another key file', async () => {
    // Prepare
    const { source, arn } = fileSource();
    const w = new KeyWrapper(source);
    const sealed = await w.seal(Buffer.from('secret'), CTX);
    const other = fileSource().file;
    // Act
    const otherKid = await w.open(sealed, relayKeyContext('rk_20270101_00000002')).then(() => 'opened', (e: Error) => e.message);
    const otherPurpose = await w.open(sealed, { purpose: 'something-else', kid: CTX.kid }).then(() => 'opened', (e: Error) => e.message);
    // The other file under the same ARN: only the key's bytes decide.
    const otherFile = await new KeyWrapper(new FileDataKeys(other, arn)).open(sealed, CTX).then(() => 'opened', (e: Error) => e.message);
    const otherId = await new KeyWrapper(new FileDataKeys(other, `${arn}x`)).open(sealed, CTX).then(() => 'opened', (e: Error) => e.message);
    // Assess
    expect(otherKid).toMatch(/unable to authenticate/i);
    expect(otherPurpose).toMatch(/unable to authenticate/i);
    expect(otherFile).toMatch(/unable to authenticate/i);
    expect(otherId).toMatch(/sealed under key-encryption key/);
  });

  it('a relay key as stored holds its public half and times in clear and no private key; it opens to the same PEM', async () => {
    // Prepare
    const w = new KeyWrapper(fileSource().source);
    const key = newRelayKey(nowIso());
    // Act
    const stored = await sealRelayKey(key, w);
    const opened = await openRelayKey(stored, w);
    const moved = await openRelayKey({ ...stored, kid: 'rk_20270101_deadbeef' }, w).then(() => 'opened', (e: Error) => e.message);
    // Assess
    expect(Object.keys(stored).sort()).toEqual(['created_at', 'kid', 'retire_at', 'sealed', 'x']);
    expect(JSON.stringify(stored)).not.toMatch(/PRIVATE KEY|private_pem/);
    expect(stored.x).toBe(key.x);
    expect(opened).toEqual(key);
    expect(moved).not.toBe('opened');
  });
});

describe('the local key file', () => {
  it('is made once in the data folder, 32 bytes readable by this user only, and kept across starts', () => {
    // Prepare
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'compux-kek-dir-'));
    dirs.push(dataDir);
    // Act
    const first = localRelayKek(dataDir);
    const second = localRelayKek(dataDir);
    // Assess
    expect(first.file).toBe(path.join(dataDir, 'relay-kek'));
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    expect(second.keyArn).toBe(first.keyArn);
    expect(first.keyArn).toMatch(/^arn:aws:kms:us-east-1:123456789012:key\/local-[0-9a-f]{16}$/);
  });

  it('refuses a malformed key file instead of replacing it (the keys sealed under it would never open again)', () => {
    // Prepare
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'compux-kek-dir-'));
    dirs.push(dataDir);
    writeFileSync(path.join(dataDir, 'relay-kek'), 'short');
    // Act
    const r = (() => {
      try {
        return localRelayKek(dataDir).keyArn;
      } catch (e) {
        return (e as Error).message;
      }
    })();
    // Assess
    expect(r).toMatch(/holds 32 bytes/);
  });
});

describe('the grant on the key, locally as IAM on AWS', () => {
  const { source, arn } = fileSource();
  const w = new KeyWrapper(source);
  const grants = new LocalGrants({ tableName: 't', queueArn: () => 'q', stateMachineArn: () => 's', relayKeyArn: arn });
  const under = <T>(relayKey: 'sign' | 'rotate' | undefined, fn: () => Promise<T>) =>
    withGrant(grants.for({ handler: `functions/test.${relayKey ?? 'none'}`, access: ['read'], ...(relayKey ? { relayKey } : {}) }), fn).then(
      () => 'allowed',
      (e: Error & { name: string }) => `${e.name}: ${e.message}`,
    );

  it('a function without it can neither open nor seal; the signer can both; the rotation only seals', async () => {
    // Prepare
    const sealed = await w.seal(Buffer.from('secret'), CTX);
    const before = grants.denials.length;
    // Act
    const none = { open: await under(undefined, () => w.open(sealed, CTX)), seal: await under(undefined, () => w.seal(Buffer.from('x'), CTX)), check: await under(undefined, async () => w.check()) };
    const sign = { open: await under('sign', () => w.open(sealed, CTX)), seal: await under('sign', () => w.seal(Buffer.from('x'), CTX)), check: await under('sign', async () => w.check()) };
    const rotate = { open: await under('rotate', () => w.open(sealed, CTX)), seal: await under('rotate', () => w.seal(Buffer.from('x'), CTX)) };
    // Assess
    expect(none.open).toMatch(/^AccessDeniedException: .* kms:Decrypt on resource: arn:aws:kms:/);
    expect(none.seal).toMatch(/^AccessDeniedException: .* kms:GenerateDataKey on resource: arn:aws:kms:/);
    expect(none.check).toMatch(/^AccessDeniedException: .* kms:Decrypt/);
    expect(sign).toEqual({ open: 'allowed', seal: 'allowed', check: 'allowed' });
    expect(rotate.open).toMatch(/^AccessDeniedException: .* kms:Decrypt/);
    expect(rotate.seal).toBe('allowed');
    expect(grants.denials.slice(before).map((d) => d.action)).toEqual(['kms:Decrypt', 'kms:GenerateDataKey', 'kms:Decrypt', 'kms:Decrypt']);
    expect(RELAY_KEY_ACTIONS.rotate).not.toContain('kms:Decrypt');
  });

  it('grants the key by ARN: the same actions on another key are refused', async () => {
    // Prepare
    const elsewhere = new KeyWrapper(new FileDataKeys(fileSource().file, arn.replace(/key\/local-/, 'key/other-')));
    // Act
    const r = await under('sign', () => elsewhere.seal(Buffer.from('x'), CTX));
    // Assess
    expect(r).toMatch(/^AccessDeniedException: .* kms:GenerateDataKey/);
  });
});

/**
 * KMS's part, in memory: GenerateDataKey wraps a random key under a master key with the EncryptionContext as AAD,
 * Decrypt opens only with the same context and key id, as KMS does. Requests are answered inside the SDK client
 * (no network): what is checked is what the adapter asks KMS for.
 */
function memoryKms(keyArn: string) {
  const master = randomBytes(32);
  const calls: Array<{ op: string; input: Record<string, unknown> }> = [];
  const aad = (ctx: unknown) => Buffer.from(JSON.stringify(Object.entries(ctx as Record<string, string>).sort()));
  const client = new KMSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  client.middlewareStack.add(
    ((_next: unknown, context: { commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
      const op = (context.commandName ?? '').replace(/Command$/, '');
      calls.push({ op, input: args.input });
      if (op === 'GenerateDataKey') {
        const key = randomBytes(32);
        const iv = randomBytes(12);
        const c = createCipheriv('aes-256-gcm', master, iv).setAAD(aad(args.input.EncryptionContext));
        const blob = Buffer.concat([iv, c.update(key), c.final(), c.getAuthTag()]);
        return { output: { KeyId: keyArn, Plaintext: new Uint8Array(key), CiphertextBlob: new Uint8Array(blob), $metadata: {} }, response: {} };
      }
      if (args.input.KeyId !== keyArn) throw Object.assign(new Error('IncorrectKeyException'), { name: 'IncorrectKeyException' });
      const blob = Buffer.from(args.input.CiphertextBlob as Uint8Array);
      const d = createDecipheriv('aes-256-gcm', master, blob.subarray(0, 12)).setAAD(aad(args.input.EncryptionContext));
      d.setAuthTag(blob.subarray(-16));
      const key = Buffer.concat([d.update(blob.subarray(12, -16)), d.final()]);
      return { output: { KeyId: keyArn, Plaintext: new Uint8Array(key), $metadata: {} }, response: {} };
    }) as never,
    { step: 'initialize', name: 'memoryKms', priority: 'low' } as never,
  );
  return { client, calls };
}

describe('the envelope, with KMS', () => {
  const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-0000-4000-8000-000000000000';

  it('asks GenerateDataKey for an AES-256 key and Decrypt for it back, both with the purpose and kid as EncryptionContext', async () => {
    // Prepare
    const kms = memoryKms(ARN);
    const w = new KeyWrapper(new KmsDataKeys('alias/compux-relay', kms.client));
    const set = firstKeySet(nowIso());
    const key = signingKey(set, nowIso());
    // Act
    const stored = await sealRelayKey(key, w);
    const opened = await openRelayKey(stored, w);
    // Assess
    expect(opened.private_pem).toBe(key.private_pem);
    expect(stored.sealed.kek_id).toBe(ARN);
    expect(kms.calls).toEqual([
      { op: 'GenerateDataKey', input: { KeyId: 'alias/compux-relay', KeySpec: 'AES_256', EncryptionContext: { purpose: RELAY_KEY_PURPOSE, kid: key.kid } } },
      { op: 'Decrypt', input: { CiphertextBlob: expect.any(Uint8Array), KeyId: ARN, EncryptionContext: { purpose: RELAY_KEY_PURPOSE, kid: key.kid } } },
    ]);
  });

  it('a data key wrapped for one kid does not open for another (KMS refuses the EncryptionContext)', async () => {
    // Prepare
    const kms = memoryKms(ARN);
    const w = new KeyWrapper(new KmsDataKeys(ARN, kms.client));
    const stored = await sealRelayKey(newRelayKey(nowIso()), w);
    // Act
    const r = await openRelayKey({ ...stored, kid: 'rk_20270101_deadbeef' }, w).then(() => 'opened', (e: Error) => e.message);
    // Assess
    expect(r).toMatch(/unable to authenticate/i);
  });
});
