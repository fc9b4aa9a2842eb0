/** The provider kit, offline: relay-token checks and capacity-report signing, against core's signer. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RelayVerifier, SIGNATURE_HEADER, publicKeyOf, signCapacityReport, signRelayToken, verifyRelayToken, verifySignature } from '../src/index.js';
import { RELAY_PUBLISH_LEAD_S, RelaySigner, firstKeySet, jwksOf, nowIso, nowMs, nowS, rotateKeySet, ROTATION_OVERLAP_S, type RelayKeySet } from '../../core/src/index.js';

const AT = '2026-11-21T12:00:00.000Z';
const NOW_S = Date.parse(AT) / 1000;
const keysOf = (set: RelayKeySet) => new Map(jwksOf(set, AT).keys.map((k) => [k.kid, publicKeyOf(k)!]));
const tokenFrom = (set: RelayKeySet, over: Partial<{ aud: string; iat: number; exp: number; iss: string }> = {}) => {
  const k = set.keys.find((x) => x.kid === set.active_kid)!;
  return signRelayToken({ iss: 'compux', aud: 'prv_a', sub: 'req_1', iat: NOW_S, exp: NOW_S + 60, ...over }, k.kid, k.private_pem);
};

describe('relay tokens', () => {
  it('a token verifies for its provider within its lifetime, and for nobody else', () => {
    // Prepare
    const set = firstKeySet(AT);
    const token = tokenFrom(set);
    const keys = keysOf(set);
    // Act + Assess
    expect(verifyRelayToken(token, keys, { audience: 'prv_a', nowS: NOW_S + 30 })).toMatchObject({ ok: true, kid: set.active_kid, claims: { aud: 'prv_a', sub: 'req_1' } });
    expect(verifyRelayToken(token, keys, { audience: 'prv_b', nowS: NOW_S })).toEqual({ ok: false, reason: 'wrong_audience' });
    expect(verifyRelayToken(token, keys, { audience: 'prv_a', nowS: NOW_S + 66 })).toEqual({ ok: false, reason: 'expired' });
    expect(verifyRelayToken(token, keys, { audience: 'prv_a', nowS: NOW_S + 64 })).toMatchObject({ ok: true }); // 5 s leeway
    expect(verifyRelayToken(token, keys, { audience: 'prv_a', nowS: NOW_S - 10 })).toEqual({ ok: false, reason: 'not_yet_valid' });
    expect(verifyRelayToken(tokenFrom(set, { iss: 'evil' }), keys, { audience: 'prv_a', nowS: NOW_S })).toEqual({ ok: false, reason: 'wrong_issuer' });
  });

  it('a token that is tampered with, signed by another key, missing or garbage is refused', () => {
    // Prepare
    const set = firstKeySet(AT);
    const other = firstKeySet(AT);
    const [h, c, s] = tokenFrom(set).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString()) as Record<string, unknown>;
    const raised = `${h}.${Buffer.from(JSON.stringify({ ...claims, aud: 'prv_b' })).toString('base64url')}.${s}`;
    // Same kid, another private key: what a forger without the marketplace's key can do at best.
    const k = other.keys[0]!;
    const forged = signRelayToken({ iss: 'compux', aud: 'prv_a', sub: 'x', iat: NOW_S, exp: NOW_S + 60 }, set.active_kid, k.private_pem);
    const keys = keysOf(set);
    const opts = { audience: 'prv_a', nowS: NOW_S };
    // Act + Assess
    expect(verifyRelayToken(raised, keys, { ...opts, audience: 'prv_b' })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyRelayToken(forged, keys, opts)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyRelayToken(tokenFrom(other), keys, opts)).toEqual({ ok: false, reason: 'unknown_key' });
    expect(verifyRelayToken(undefined, keys, opts)).toEqual({ ok: false, reason: 'missing' });
    expect(verifyRelayToken('a.b', keys, opts)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyRelayToken('x'.repeat(5_000), keys, opts)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('rotation keeps the old key published for the overlap, then drops it; a third key waits', () => {
    // Prepare
    const one = firstKeySet(AT);
    // Act
    const two = rotateKeySet(one, AT);
    if (!two.ok) throw new Error(two.code);
    const later = new Date(Date.parse(AT) + 60_000).toISOString();
    const three = rotateKeySet(two.set, later);
    if (!three.ok) throw new Error(three.code);
    const four = rotateKeySet(three.set, later);
    // The first key signs until the second's lead has passed, then stays published for the overlap.
    const past = new Date(Date.parse(AT) + (RELAY_PUBLISH_LEAD_S + ROTATION_OVERLAP_S) * 1000 + 1).toISOString();
    // Assess
    expect(two.set.active_kid).not.toBe(one.active_kid);
    expect(jwksOf(two.set, AT).keys.map((k) => k.kid)).toEqual([one.active_kid, two.set.active_kid]);
    expect(verifyRelayToken(tokenFrom(one), keysOf(two.set), { audience: 'prv_a', nowS: NOW_S })).toMatchObject({ ok: true });
    expect(four).toEqual({ ok: false, code: 'rotation_in_progress' });
    expect(jwksOf(three.set, past).keys.map((k) => k.kid)).toEqual([two.set.active_kid, three.set.active_kid]);
  });

  it('a rotated key is published at once and signs only from its lead on; the old key signs until then', async () => {
    // Prepare: a signer on a clock the test moves.
    let t = Date.parse(AT);
    const one = firstKeySet(AT);
    const two = rotateKeySet(one, AT);
    if (!two.ok) throw new Error(two.code);
    const signer = new RelaySigner({ load: async () => two.set }, () => t);
    const kidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;
    // Act
    const justAfter = kidOf(await signer.token('prv_a', 'r1'));
    t += RELAY_PUBLISH_LEAD_S * 1000 - 1;
    const beforeLead = kidOf(await signer.token('prv_a', 'r2'));
    t += 1;
    const atLead = kidOf(await signer.token('prv_a', 'r3'));
    // Assess
    expect(jwksOf(two.set, AT).keys.map((k) => k.kid)).toContain(two.set.active_kid);
    expect([justAfter, beforeLead]).toEqual([one.active_kid, one.active_kid]);
    expect(atLead).toBe(two.set.active_kid);
  });

  it('a burst of requests meeting a new kid together waits for one JWKS fetch: none is refused', async () => {
    // Prepare: a verifier that has just fetched (its forced-refetch throttle at its default 10 s), then a rotation
    // without lead, as if the verifier's cache outlived the marketplace's lead.
    let set = firstKeySet(nowIso());
    let fetches = 0;
    const server = createServer((_req, res) => {
      fetches++;
      // A slow JWKS: the burst arrives while the fetch is under way.
      setTimeout(() => res.end(JSON.stringify(jwksOf(set, nowIso()))), 50);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/relay/keys`;
    const verifier = new RelayVerifier({ providerId: 'prv_a', jwksUrl: url, nowS });
    try {
      await verifier.check(`Bearer ${await new RelaySigner({ load: async () => set }).token('prv_a', 'r0')}`);
      const r = rotateKeySet(set, nowIso(), 0);
      if (!r.ok) throw new Error(r.code);
      set = r.set;
      const signer = new RelaySigner({ load: async () => set }, () => nowMs() + 1);
      const tokens = await Promise.all(Array.from({ length: 30 }, (_, i) => signer.token('prv_a', `r${i + 1}`)));
      // Act
      const checks = await Promise.all(tokens.map((tk) => verifier.check(`Bearer ${tk}`)));
      // Assess
      expect(checks.filter((c) => !c.ok)).toEqual([]);
      expect(fetches).toBe(2);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('the verifier fetches the JWKS, and fetches it again when a rotation brings a kid it does not know', async () => {
    // Prepare: a JWKS server whose key set the test rotates.
    let set = firstKeySet(nowIso());
    let fetches = 0;
    const server = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(jwksOf(set, nowIso())));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/relay/keys`;
    // The signer mints on the CompuX clock (COMPUX_NOW may shift it); the verifier checks on the same one.
    const verifier = new RelayVerifier({ providerId: 'prv_a', jwksUrl: url, minRefetchMs: 0, nowS });
    const signer = () => new RelaySigner({ load: async () => set });
    try {
      // Act
      const before = await verifier.check(`Bearer ${await signer().token('prv_a', 'r1')}`);
      const oldSigner = signer();
      await oldSigner.ready();
      // No lead: the new key signs at once, so only the refetch on an unknown kid can know it.
      const r = rotateKeySet(set, nowIso(), 0);
      if (!r.ok) throw new Error(r.code);
      set = r.set;
      const fresh = await verifier.check(`Bearer ${await signer().token('prv_a', 'r2')}`);
      const stale = await verifier.check(`Bearer ${await oldSigner.token('prv_a', 'r3')}`);
      const other = await verifier.check(`Bearer ${await signer().token('prv_b', 'r4')}`);
      const none = await verifier.check(undefined);
      // Assess
      expect(before.ok).toBe(true);
      expect(fresh.ok).toBe(true); // new kid → one more fetch
      expect(stale.ok).toBe(true); // the old key is still published during the overlap
      expect(other).toEqual({ ok: false, reason: 'wrong_audience' });
      expect(none).toEqual({ ok: false, reason: 'missing' });
      expect(fetches).toBe(2);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('capacity report signing', () => {
  it('signs the exact body sent, and the marketplace check accepts it', () => {
    // Prepare
    const report = { event_id: 'evt_1', provider_id: 'prv_a', reported_at: AT, capacity: [], burst_windows: [], maintenance_windows: [] };
    // Act
    const { body, headers } = signCapacityReport('whsec_test', report, NOW_S);
    // Assess
    expect(JSON.parse(body)).toEqual(report);
    expect(verifySignature(headers[SIGNATURE_HEADER], 'whsec_test', body, NOW_S + 100)).toEqual({ ok: true, timestamp: NOW_S });
    expect(verifySignature(headers[SIGNATURE_HEADER], 'whsec_other', body, NOW_S)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(headers[SIGNATURE_HEADER], 'whsec_test', body, NOW_S + 301)).toEqual({ ok: false, reason: 'stale' });
  });
});
