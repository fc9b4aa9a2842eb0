/**
 * The relay signing keys at rest (issue 14, point 6), through the local runtime on DynamoDB Local: the key-set item
 * holds every private key sealed under the runtime's key file (local/relay-kek.ts), never in clear, from the first
 * signature on and after each rotation; signing still works end to end (the demo simulators verify every token
 * against the JWKS); a set stored in clear from before is read once and sealed back; only the functions granted
 * the key (infra/access.ts relayKey) open it, as IAM allows KMS on AWS.
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowS, type RelayKeySet, type SealedRelayKey, type StoredRelayKey } from '../../packages/core/src/index.js';
import { relayKeySetKey } from '../../packages/core/src/adapters/dynamodb/entities/relay-keys.js';
import { RelayVerifier } from '../../packages/provider-kit/src/index.js';
import { ROUTES } from '../../infra/routes.js';
import { withGrant } from '../../local/grants.js';
import { RELAY_KMS_KEY_ENV } from '../../functions/lib/settings.js';
import type { Deps } from '../../functions/lib/deps.js';
import { startTestRuntime, type TestRuntime } from './runtime.js';
import { client } from './client.js';

let rt: TestRuntime;
let call: ReturnType<typeof client>;
let deps: () => Deps;

beforeAll(async () => {
  rt = await startTestRuntime('relay-at-rest', { demo: {} });
  call = client(rt.baseUrl);
  ({ deps } = await import('../../functions/lib/deps.js'));
});
afterAll(async () => {
  await rt?.world?.stop();
  await rt?.stop();
});

const chat = () =>
  call('POST', '/v1/chat/completions', { key: rt.world!.startupKey, body: { model: 'llama-3.1-70b-instruct', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] } });

/** The key-set item as stored, and its text (what anyone with read access to the table sees). */
async function stored(): Promise<{ set: RelayKeySet<StoredRelayKey>; text: string; version: number } | null> {
  const item = (await rt.doc.send(new GetCommand({ TableName: rt.tableName, Key: relayKeySetKey(), ConsistentRead: true }))).Item;
  return item ? { set: item.set as RelayKeySet<StoredRelayKey>, text: JSON.stringify(item), version: item.version as number } : null;
}

/** What the runtime's grants give the row of `method path` (the way the runtime runs its handler). */
const grantOfRoute = (method: string, path: string) => {
  const row = ROUTES.find((r) => r.method === method && r.path === path)!;
  return rt.grants.for({ handler: row.handler, access: row.access, ...(row.relayKey ? { relayKey: row.relayKey } : {}) });
};
/**
 * Writes the set back as it was stored before sealing: the same keys, their private keys in clear (opened by the
 * test's own call, outside any function's grant), so the verifiers already know every kid.
 */
async function storeInClear(): Promise<{ plain: RelayKeySet; version: number }> {
  const plain = await deps().relayKeys.load();
  const cur = (await stored())!;
  await rt.doc.send(new PutCommand({ TableName: rt.tableName, Item: { ...relayKeySetKey(), type: 'relay_keys', version: cur.version + 1, set: plain } }));
  expect((await stored())!.text).toContain('PRIVATE KEY');
  return { plain, version: cur.version + 1 };
}
const outcome = (p: Promise<unknown>) => p.then(() => 'allowed', (e: Error & { name: string }) => `${e.name}: ${e.message}`);

describe('the relay key set at rest', () => {
  it('the first signature creates the set sealed: no private key in the item, and the token verifies', async () => {
    // Prepare
    const before = await stored();
    const jwksBefore = await call('GET', '/v1/relay/keys');
    // Act
    const first = await chat();
    const after = (await stored())!;
    // Assess
    expect(before).toBeNull();
    expect(jwksBefore).toMatchObject({ status: 200, body: { keys: [] } });
    expect(first.status).toBe(200);
    expect(after.set.keys).toHaveLength(1);
    expect(after.text).not.toMatch(/PRIVATE KEY|private_pem/);
    const key = after.set.keys[0] as SealedRelayKey;
    expect(Object.keys(key.sealed).sort()).toEqual(['ciphertext', 'iv', 'kek_id', 'tag', 'v', 'wrapped_key']);
    expect(key.sealed.kek_id).toBe(rt.env[RELAY_KMS_KEY_ENV]);
    expect((await call('GET', '/v1/relay/keys')).body.keys.map((k: { kid: string; x: string }) => [k.kid, k.x])).toEqual([[key.kid, key.x]]);
    expect(rt.denials).toEqual([]);
  });

  it('a rotation seals the new key and carries the old one over sealed as it was; the new key signs', async () => {
    // Prepare: the new key signs at once (no publish lead), so the next tokens are its.
    const before = (await stored())!;
    process.env.COMPUX_RELAY_PUBLISH_LEAD_S = '0';
    try {
      // Act
      const rotated = await call('POST', '/v1/admin/relay-keys/rotate', { key: rt.adminKey });
      const after = (await stored())!;
      const served = await chat();
      const token = await deps().relay.token('prv_relay_at_rest', 'req_relay_at_rest');
      const verified = await new RelayVerifier({ providerId: 'prv_relay_at_rest', jwksUrl: `${rt.baseUrl}/v1/relay/keys`, nowS }).verify(token);
      // Assess
      expect(rotated.status).toBe(200);
      expect(after.text).not.toMatch(/PRIVATE KEY|private_pem/);
      expect(after.set.keys).toHaveLength(2);
      const old = after.set.keys.find((k) => k.kid === before.set.active_kid) as SealedRelayKey;
      expect(old.sealed).toEqual((before.set.keys[0] as SealedRelayKey).sealed);
      expect((after.set.keys.find((k) => k.kid === rotated.body.active_kid) as SealedRelayKey).sealed.kek_id).toBe(rt.env[RELAY_KMS_KEY_ENV]);
      expect(served.status).toBe(200);
      expect(verified).toMatchObject({ ok: true, kid: rotated.body.active_kid });
      expect(rt.denials).toEqual([]);
    } finally {
      delete process.env.COMPUX_RELAY_PUBLISH_LEAD_S;
    }
  });

  it('a set holding a key in clear is refused: nothing signs with it, nothing seals it (a table writer could plant one)', async () => {
    // Prepare: the item as it was written before keys were sealed, or as anyone who may write the table could write it.
    const { version } = await storeInClear();
    deps().relay.invalidate();
    try {
      // Act
      const served = await chat();
      const after = (await stored())!;
      // Assess
      expect(served.status).toBeGreaterThanOrEqual(500);
      expect(after.version).toBe(version);
      expect(after.text).toMatch(/PRIVATE KEY/);
    } finally {
      // Seal it back for the next tests.
      process.env.COMPUX_RELAY_SEAL_PLAIN_KEYS = '1';
      deps().relay.invalidate();
      expect((await chat()).status).toBe(200);
      delete process.env.COMPUX_RELAY_SEAL_PLAIN_KEYS;
    }
  });

  it('with COMPUX_RELAY_SEAL_PLAIN_KEYS=1, a set stored in clear before sealing still signs, and the load that reads it seals it back', async () => {
    // Prepare: the item as it was written before keys were sealed (private_pem in clear).
    const { plain, version } = await storeInClear();
    deps().relay.invalidate();
    process.env.COMPUX_RELAY_SEAL_PLAIN_KEYS = '1';
    // Act
    const served = await chat().finally(() => delete process.env.COMPUX_RELAY_SEAL_PLAIN_KEYS);
    const after = (await stored())!;
    // Assess
    expect(served.status).toBe(200);
    expect(after.text).not.toMatch(/PRIVATE KEY|private_pem/);
    expect(after.version).toBe(version + 1);
    expect(after.set.keys.map((k) => [k.kid, k.x])).toEqual(plain.keys.map((k) => [k.kid, k.x]));
    expect(after.set.keys.every((k) => 'sealed' in k)).toBe(true);
    expect(rt.denials).toEqual([]);
  });

  it('with COMPUX_RELAY_SEAL_PLAIN_KEYS=1, a set stored in clear is sealed back by a rotation too (which never opens a key)', async () => {
    // Prepare
    const { plain } = await storeInClear();
    process.env.COMPUX_RELAY_SEAL_PLAIN_KEYS = '1';
    // Act
    const rotated = await call('POST', '/v1/admin/relay-keys/rotate', { key: rt.adminKey }).finally(() => delete process.env.COMPUX_RELAY_SEAL_PLAIN_KEYS);
    const after = (await stored())!;
    // Assess
    expect(rotated.status).toBe(200);
    expect(after.text).not.toMatch(/PRIVATE KEY|private_pem/);
    expect(after.set.keys.map((k) => k.kid)).toEqual([...plain.keys.map((k) => k.kid), rotated.body.active_kid]);
    expect(after.set.keys.every((k) => 'sealed' in k)).toBe(true);
    expect(rt.denials).toEqual([]);
  });
});

describe('who may open the keys', () => {
  it('a function without the grant cannot unseal them, nor sign with keys another function opened; the signers can', async () => {
    // Prepare: the signer holds opened keys (a chat just signed).
    expect((await chat()).status).toBe(200);
    const before = rt.denials.length;
    // Act
    const models = grantOfRoute('GET', '/v1/models');
    const jwks = grantOfRoute('GET', '/v1/relay/keys');
    const rotate = grantOfRoute('POST', '/v1/admin/relay-keys/rotate');
    const chatGrant = grantOfRoute('POST', '/v1/chat/completions');
    const byModels = { load: await outcome(withGrant(models, () => deps().relayKeys.load())), sign: await outcome(withGrant(models, () => deps().relay.token('prv_x', 'r1'))) };
    const byJwks = await outcome(withGrant(jwks, () => deps().relayKeys.load()));
    const byRotate = await outcome(withGrant(rotate, () => deps().relayKeys.load()));
    const byChat = { load: await outcome(withGrant(chatGrant, () => deps().relayKeys.load())), sign: await outcome(withGrant(chatGrant, () => deps().relay.token('prv_x', 'r1'))) };
    const published = await call('GET', '/v1/relay/keys');
    // Assess
    expect(byModels.load).toMatch(/^AccessDeniedException: .*is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:/);
    expect(byModels.sign).toMatch(/^AccessDeniedException: .*kms:Decrypt/);
    expect(byJwks).toMatch(/^AccessDeniedException: .*kms:Decrypt/);
    expect(byRotate).toMatch(/^AccessDeniedException: .*kms:Decrypt/);
    expect(byChat).toEqual({ load: 'allowed', sign: 'allowed' });
    // One refusal per key a load tried to open (each is its own Decrypt), all of them recorded.
    const refused = rt.denials.slice(before);
    expect([...new Set(refused.map((d) => `${d.handler} ${d.action} ${d.resource}`))]).toEqual(
      ['functions/inference.listModels', 'functions/relay.jwks', 'functions/relay.rotate'].map((h) => `${h} kms:Decrypt ${rt.env[RELAY_KMS_KEY_ENV]}`),
    );
    // The JWKS route itself opens nothing: it answers under its grant (no key) without a refusal.
    expect(published.status).toBe(200);
    expect(published.body.keys.length).toBeGreaterThan(0);
    expect(rt.denials.length).toBe(before + refused.length);
  });
});
