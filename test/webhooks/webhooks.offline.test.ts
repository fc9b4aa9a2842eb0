/**
 * Offline: the parts of outbound webhooks (SPEC §12) that need no engine — the backoff schedule, where a webhook
 * may be sent (SSRF: IPv4, IPv6, literal addresses and DNS names, with the local allowance off and on, and the
 * connect-time lookup that defeats DNS rebinding), a delivery's state machine, event ids, and the provider kit's
 * verifier against the marketplace's signer.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BACKOFF, afterAttempt, attemptOffsetsS, checkWebhookUrl, eventId, isNonPublicAddress, judgeJob, newEvent, nextAttemptMs, parseWebhookUrl, pendingDelivery,
  retryDelayS, signPayload, subscribes, type DeliveryJob, type LookupAll,
} from '../../packages/core/src/index.js';
import { checkedLookup } from '../../packages/core/src/adapters/http/webhook-sender.js';
import { verifyWebhook } from '../../packages/provider-kit/src/index.js';

const OFF = { allow_local: false };
const ON = { allow_local: true };
const resolvesTo = (...addresses: string[]): LookupAll => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('the backoff schedule', () => {
  it('doubles from a minute, caps each wait at 12 h and stops within 3 days', () => {
    // Act
    const offsets = attemptOffsetsS();
    const waits = offsets.slice(1).map((o, i) => o - offsets[i]!);
    // Assess
    expect(waits.slice(0, 5)).toEqual([60, 120, 240, 480, 960]);
    expect(Math.max(...waits)).toBe(12 * 3600);
    expect(offsets[offsets.length - 1]!).toBeLessThanOrEqual(3 * 24 * 3600);
    expect(offsets[offsets.length - 1]! + retryDelayS(offsets.length)).toBeGreaterThan(3 * 24 * 3600);
    expect(offsets.length).toBeLessThanOrEqual(DEFAULT_BACKOFF.max_attempts);
  });

  it('gives no next attempt past the window or past the attempt bound', () => {
    const day = 86_400_000;
    expect(nextAttemptMs(0, 3, 2.99 * 3 * day)).toBeNull();
    expect(nextAttemptMs(0, 1, 0)).toBe(60_000);
    expect(nextAttemptMs(0, DEFAULT_BACKOFF.max_attempts, 0)).toBeNull();
    expect(retryDelayS(1_000)).toBe(DEFAULT_BACKOFF.cap_s);
  });

  it('a test setting shortens it to seconds', () => {
    const fast = { ...DEFAULT_BACKOFF, base_s: 1 };
    expect(attemptOffsetsS(fast).slice(0, 4)).toEqual([0, 1, 3, 7]);
  });
});

describe('where a webhook may be sent (SSRF)', () => {
  it.each([
    '127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'fec0::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::127.0.0.1', '64:ff9b::a00:1', '2001:db8::1',
  ])('%s is not public', (ip) => expect(isNonPublicAddress(ip)).toBe(true));

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '2a00:1450:4001::200e'])('%s is public', (ip) => expect(isNonPublicAddress(ip)).toBe(false));

  it.each([
    ['https://127.0.0.1/hook', 'private_address'],
    ['https://[::1]:8443/hook', 'private_address'],
    ['https://[fe80::1]/hook', 'private_address'],
    ['https://[fd00::1]/hook', 'private_address'],
    ['https://[::ffff:169.254.169.254]/latest', 'private_address'],
    ['https://169.254.169.254/latest/meta-data', 'private_address'],
    ['https://0x7f.1/hook', 'private_address'], // WHATWG URL reads this as 127.0.0.1
    ['https://2130706433/hook', 'private_address'], // …and this
    ['https://localhost/hook', 'private_address'],
    ['https://api.localhost/hook', 'private_address'],
    ['https://printer.local/hook', 'private_address'],
    ['http://93.184.216.34/hook', 'insecure_scheme'],
    ['ftp://93.184.216.34/hook', 'insecure_scheme'],
    ['https://user:pw@93.184.216.34/hook', 'credentials_in_url'],
    ['not a url', 'invalid_url'],
  ])('refuses %s as %s when the local allowance is off', async (url, code) => {
    expect(await checkWebhookUrl(url, OFF, resolvesTo('93.184.216.34'))).toEqual({ ok: false, code });
  });

  it('refuses a DNS name with any non-public address, or none', async () => {
    expect(await checkWebhookUrl('https://evil.example/h', OFF, resolvesTo('10.1.2.3'))).toEqual({ ok: false, code: 'private_address' });
    expect(await checkWebhookUrl('https://evil.example/h', OFF, resolvesTo('93.184.216.34', '::1'))).toEqual({ ok: false, code: 'private_address' });
    expect(await checkWebhookUrl('https://evil.example/h', OFF, resolvesTo('fd00::7'))).toEqual({ ok: false, code: 'private_address' });
    expect(await checkWebhookUrl('https://gone.example/h', OFF, async () => { throw new Error('ENOTFOUND'); })).toEqual({ ok: false, code: 'unresolvable' });
  });

  it('accepts https to public addresses, literal or by name', async () => {
    expect((await checkWebhookUrl('https://hooks.example.com/compux', OFF, resolvesTo('93.184.216.34', '2606:4700::1'))).ok).toBe(true);
    expect((await checkWebhookUrl('https://[2606:4700:4700::1111]/h', OFF, resolvesTo())).ok).toBe(true);
  });

  it('the local runtime allowance accepts http to loopback', async () => {
    expect((await checkWebhookUrl('http://127.0.0.1:9999/hook', ON, resolvesTo())).ok).toBe(true);
    expect(parseWebhookUrl('ftp://127.0.0.1/', ON)).toEqual({ ok: false, code: 'insecure_scheme' });
  });

  it('checks at connect time the very addresses the connection will use (DNS rebinding)', async () => {
    // localhost resolves through the system resolver to a loopback address: refused before any connection.
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => checkedLookup('localhost', {}, (e) => resolve(e)));
    expect(err?.code).toBe('EPRIVATE');
  });
});

describe('events and deliveries', () => {
  it('the same happening has the same id; another tenant or instant another one', () => {
    const a = eventId('facility.frozen', 'len_A', 'fac_1', 'frozen:2026-01-01T00:00:00.000Z');
    expect(eventId('facility.frozen', 'len_A', 'fac_1', 'frozen:2026-01-01T00:00:00.000Z')).toBe(a);
    expect(eventId('facility.frozen', 'stu_B', 'fac_1', 'frozen:2026-01-01T00:00:00.000Z')).not.toBe(a);
    expect(eventId('facility.frozen', 'len_A', 'fac_1', 'frozen:2026-01-02T00:00:00.000Z')).not.toBe(a);
    expect(a).toMatch(/^evt_[A-Za-z0-9]{24}$/);
  });

  it('refuses unknown types and oversized data; subscriptions match names, booking.* and *', () => {
    const t = { role: 'lender', id: 'len_A' } as const;
    expect(newEvent('facility.exploded' as never, t, [], {}, '2026-01-01T00:00:00.000Z')).toEqual({ ok: false, code: 'unknown_event_type' });
    expect(newEvent('facility.frozen', t, [], { x: 'y'.repeat(20_000) }, '2026-01-01T00:00:00.000Z')).toEqual({ ok: false, code: 'data_too_large' });
    expect(subscribes(['facility.frozen'], 'facility.frozen')).toBe(true);
    expect(subscribes(['facility.frozen'], 'facility.unfrozen')).toBe(false);
    expect(subscribes(['booking.*'], 'booking.confirmed')).toBe(true);
    expect(subscribes(['*'], 'sla.breach')).toBe(true);
  });

  it('a job attempts once, waits for its time, and drops when stale, duplicate or done', () => {
    const d = pendingDelivery('whe_1', 1, '2026-01-01T00:00:00.000Z');
    const job: DeliveryJob = { tenant_id: 'len_A', event_id: 'evt_1', endpoint_id: 'whe_1', round: 1, attempt: 1, not_before: '2026-01-01T00:00:00.000Z' };
    const t0 = Date.parse(job.not_before);
    expect(judgeJob(d, job, t0)).toBe('attempt');
    expect(judgeJob(d, job, t0 - 1)).toBe('wait');
    expect(judgeJob({ ...d, round: 2 }, job, t0)).toBe('drop');
    expect(judgeJob({ ...d, attempts: 1 }, job, t0)).toBe('drop');
    const failed = afterAttempt(d, job, { status_code: 500, error: null }, t0, DEFAULT_BACKOFF);
    expect(failed).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 500, next_attempt_at: new Date(t0 + 60_000).toISOString() });
    const ok = afterAttempt(failed, { ...job, attempt: 2 }, { status_code: 204, error: null }, t0 + 60_000, DEFAULT_BACKOFF);
    expect(ok).toMatchObject({ status: 'succeeded', attempts: 2, next_attempt_at: null });
    expect(judgeJob(ok, { ...job, attempt: 3 }, t0 + 1e9)).toBe('drop');
    const late = afterAttempt({ ...failed, first_attempt_at: new Date(t0 - 3 * 86_400_000).toISOString() }, { ...job, attempt: 2 }, { status_code: null, error: 'timeout' }, t0, DEFAULT_BACKOFF);
    expect(late).toMatchObject({ status: 'failed', last_error: 'timeout', next_attempt_at: null });
  });
});

describe('the provider kit verifies what the marketplace signs', () => {
  const secret = 'whsec_test';
  const body = JSON.stringify({ id: 'evt_abcdefgh12345678', object: 'event', type: 'facility.frozen', created_at: '2026-01-01T00:00:00.000Z', data: { facility_id: 'fac_1' } });
  const now = 1_800_000_000;
  const headers = (b = body, s = secret, t = now) => ({ 'x-compux-signature': signPayload(s, t, b), 'x-compux-event-id': 'evt_abcdefgh12345678', 'content-type': 'application/json' });

  it('accepts a delivery signed with the endpoint secret (node headers and fetch Headers alike)', () => {
    const check = verifyWebhook(headers(), body, secret, { nowSeconds: now + 10 });
    expect(check).toMatchObject({ ok: true, timestamp: now, event: { id: 'evt_abcdefgh12345678', type: 'facility.frozen' } });
    expect(verifyWebhook(new Headers(headers()), Buffer.from(body), secret, { nowSeconds: now }).ok).toBe(true);
  });

  it.each([
    ['a changed body', () => verifyWebhook(headers(), body.replace('fac_1', 'fac_2'), secret, { nowSeconds: now }), 'mismatch'],
    ['another secret', () => verifyWebhook(headers(body, 'whsec_other'), body, secret, { nowSeconds: now }), 'mismatch'],
    ['an old timestamp (replay)', () => verifyWebhook(headers(), body, secret, { nowSeconds: now + 301 }), 'stale'],
    ['no signature', () => verifyWebhook({ 'x-compux-event-id': 'evt_abcdefgh12345678' }, body, secret, { nowSeconds: now }), 'missing'],
    ['an id header naming another event', () => verifyWebhook({ ...headers(), 'x-compux-event-id': 'evt_other000000000' }, body, secret, { nowSeconds: now }), 'id_mismatch'],
  ])('refuses %s', (_n, run, reason) => expect(run()).toEqual({ ok: false, reason }));
});
