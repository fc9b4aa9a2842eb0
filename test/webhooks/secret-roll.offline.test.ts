/**
 * Offline: rolling a webhook signing secret (packages/core/src/signing-secrets.ts) and the wire format with two
 * secrets (packages/provider-kit/src/signature.ts). What it proves: a roll keeps the replaced secret valid for the
 * overlap asked (default 1 h, at most 24 h) and not a millisecond longer; at most two secrets are ever valid (a roll
 * during an overlap is refused, unless it keeps none, which ends every older secret); a header signed by two secrets
 * verifies with either, and a verifier holding two secrets accepts a signature by either.
 */
import { describe, expect, it } from 'vitest';
import {
  SECRET_OVERLAP_DEFAULT_S, SECRET_OVERLAP_MAX_S, firstSecrets, overlapRunning, rollSecrets, signPayload, validSecrets, verifySignature,
} from '../../packages/core/src/index.js';

const T0 = '2026-12-07T12:00:00.000Z';
const t0 = Date.parse(T0);
const s = (ms: number) => new Date(t0 + ms).toISOString();

describe('rolling a signing secret', () => {
  it('keeps the replaced secret valid for the overlap, then only the new one', () => {
    // Prepare
    const first = firstSecrets('whsec_A');
    // Act
    const r = rollSecrets(first, T0, 2, 'whsec_B');
    // Assess
    expect(r).toEqual({ ok: true, secrets: { secret: 'whsec_B', previous_secret: 'whsec_A', previous_secret_expires_at: s(2_000), rolled_at: T0 } });
    const next = r.ok ? r.secrets : first;
    expect(validSecrets(next, t0)).toEqual(['whsec_B', 'whsec_A']);
    expect(validSecrets(next, t0 + 1_999)).toEqual(['whsec_B', 'whsec_A']);
    expect(validSecrets(next, t0 + 2_000)).toEqual(['whsec_B']);
    expect(overlapRunning(next, t0 + 2_000)).toBe(false);
    expect(validSecrets(first, t0)).toEqual(['whsec_A']);
  });

  it('a new secret is generated when none is given, prefixed whsec_', () => {
    const r = rollSecrets(firstSecrets('whsec_A'), T0, SECRET_OVERLAP_DEFAULT_S);
    expect(r.ok && r.secrets.secret).toMatch(/^whsec_[A-Za-z0-9]{32}$/);
    expect(r.ok && r.secrets.previous_secret_expires_at).toBe(s(3_600_000));
  });

  it('at most two valid: a roll during an overlap is refused; one after it, or one keeping no overlap, is not', () => {
    // Prepare
    const rolled = rollSecrets(firstSecrets('whsec_A'), T0, 60, 'whsec_B');
    const cur = rolled.ok ? rolled.secrets : firstSecrets('x');
    // Act
    const during = rollSecrets(cur, s(59_999), 60, 'whsec_C');
    const after = rollSecrets(cur, s(60_000), 60, 'whsec_C');
    const emergency = rollSecrets(cur, s(1_000), 0, 'whsec_C');
    // Assess
    expect(during).toEqual({ ok: false, code: 'rotation_in_progress' });
    expect(after).toMatchObject({ ok: true, secrets: { secret: 'whsec_C', previous_secret: 'whsec_B' } });
    expect(emergency).toEqual({ ok: true, secrets: { secret: 'whsec_C', previous_secret: null, previous_secret_expires_at: null, rolled_at: s(1_000) } });
    expect(validSecrets(emergency.ok ? emergency.secrets : cur, t0 + 1_000)).toEqual(['whsec_C']);
  });

  it.each([[-1], [SECRET_OVERLAP_MAX_S + 1], [1.5], [Number.NaN]])('refuses an overlap of %s s (out of 0..86,400, whole)', (bad) => {
    expect(() => rollSecrets(firstSecrets('whsec_A'), T0, bad)).toThrow(/0\.\.86,400/);
  });

  it('accepts the bounds: 0 and 86,400 s', () => {
    expect(rollSecrets(firstSecrets('whsec_A'), T0, 0).ok).toBe(true);
    const max = rollSecrets(firstSecrets('whsec_A'), T0, SECRET_OVERLAP_MAX_S);
    expect(max.ok && max.secrets.previous_secret_expires_at).toBe(s(86_400_000));
  });
});

describe('signatures by two secrets', () => {
  const body = '{"id":"evt_x"}';
  const now = 1_800_000_000;

  it('one header, one v1 entry per secret: a verifier on either secret accepts it', () => {
    // Act
    const header = signPayload(['whsec_new', 'whsec_old'], now, body);
    // Assess
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    expect(verifySignature(header, 'whsec_new', body, now)).toEqual({ ok: true, timestamp: now });
    expect(verifySignature(header, 'whsec_old', body, now)).toEqual({ ok: true, timestamp: now });
    expect(verifySignature(header, 'whsec_other', body, now)).toEqual({ ok: false, reason: 'mismatch' });
    expect(signPayload('whsec_new', now, body)).toBe(header.split(',').slice(0, 2).join(','));
  });

  it('a verifier holding two secrets accepts a signature by either, and nothing else', () => {
    const both = ['whsec_new', 'whsec_old'] as const;
    expect(verifySignature(signPayload('whsec_old', now, body), both, body, now).ok).toBe(true);
    expect(verifySignature(signPayload('whsec_new', now, body), both, body, now).ok).toBe(true);
    expect(verifySignature(signPayload('whsec_other', now, body), both, body, now)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses no secret or more than two (a caller mistake, not a verdict)', () => {
    expect(() => signPayload([], now, body)).toThrow(RangeError);
    expect(() => verifySignature('t=1,v1=00', ['a', 'b', 'c'], body, now)).toThrow(RangeError);
  });
});
