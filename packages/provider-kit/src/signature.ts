/**
 * Webhook signatures (SPEC §6): HMAC-SHA256 over `<timestamp>.<raw body>`, sent as
 * `x-compux-signature: t=<unix seconds>,v1=<hex>`. Verification is constant-time, accepts any v1 entry
 * (a provider rotating its secret may send two), and refuses a timestamp more than 300 s away.
 * Secret rotation: a signer holding two secrets (during a roll's overlap) sends one v1 entry per secret in the one
 * header, and a verifier may hold two secrets too; either side on either secret then verifies.
 * This file is the wire format: the marketplace verifies with it, providers sign with it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_TOLERANCE_S = 300;
export const SIGNATURE_HEADER = 'x-compux-signature';
const MAX_HEADER_CHARS = 1_024;

const hmacHex = (secret: string, t: number, body: string) => createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest('hex');

/** Secrets one header may carry or be checked against: the current one and the one a roll keeps for its overlap. */
export const MAX_SIGNING_SECRETS = 2;

const secretsOf = (secret: string | readonly string[]): readonly string[] => {
  const list = typeof secret === 'string' ? [secret] : secret;
  if (list.length < 1 || list.length > MAX_SIGNING_SECRETS) throw new RangeError(`between 1 and ${MAX_SIGNING_SECRETS} signing secrets, not ${list.length}`);
  return list;
};

/** The header value: one v1 entry per secret (two during a secret roll's overlap), over the same timestamp. */
export function signPayload(secret: string | readonly string[], unixSeconds: number, body: string): string {
  return [`t=${unixSeconds}`, ...secretsOf(secret).map((s) => `v1=${hmacHex(s, unixSeconds, body)}`)].join(',');
}

export type SignatureCheck = { ok: true; timestamp: number } | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

/**
 * Any v1 entry matching any of `secret` (one, or the two valid during a roll's overlap) verifies. Every secret's
 * HMAC is computed whatever matches, so the work does not depend on which secret (if any) signed.
 */
export function verifySignature(header: string | undefined, secret: string | readonly string[], body: string, nowSeconds: number, toleranceS = SIGNATURE_TOLERANCE_S): SignatureCheck {
  const secrets = secretsOf(secret);
  if (!header) return { ok: false, reason: 'missing' };
  if (header.length > MAX_HEADER_CHARS) return { ok: false, reason: 'malformed' };
  let t: number | null = null;
  const sigs: string[] = [];
  for (const part of header.split(',')) {
    const [k, v] = part.trim().split('=', 2);
    if (k === 't' && v && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === 'v1' && v && /^[0-9a-f]{64}$/.test(v)) sigs.push(v);
  }
  if (t === null || sigs.length === 0) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowSeconds - t) > toleranceS) return { ok: false, reason: 'stale' };
  const expected = secrets.map((k) => Buffer.from(hmacHex(k, t, body), 'hex'));
  const match = sigs.some((s) => expected.some((e) => timingSafeEqual(Buffer.from(s, 'hex'), e)));
  return match ? { ok: true, timestamp: t } : { ok: false, reason: 'mismatch' };
}

/** A capacity report (SPEC §6), as the webhook expects it. */
export interface CapacityReport {
  event_id: string;
  provider_id: string;
  reported_at: string;
  capacity: { accelerator: 'H100' | 'A100' | 'H200'; region: string; availability_zone: string; available_gpu_hours: number }[];
  burst_windows: { start: string; end: string; extra_gpu_hours: number }[];
  maintenance_windows: { start: string; end: string }[];
  /**
   * Blocks of whole GPUs that startups may book (hour-aligned, at most 90 days ahead); a burst window is a block
   * with burst: true. Absent: the blocks sent before stay; present: they replace every block from this hour on.
   */
  capacity_blocks?: {
    accelerator: 'H100' | 'A100' | 'H200';
    region: string;
    availability_zone: string;
    capacity_type: 'dedicated' | 'shared';
    interconnect: 'infiniband' | 'roce' | 'nvlink' | 'ethernet';
    start: string;
    end: string;
    gpus: number;
    burst?: boolean;
  }[];
}

/**
 * The exact body and headers to POST to `/v1/providers/{id}/capacity`: sign the bytes you send. After rolling your
 * secret, `[next, previous]` signs with both until your own switch is done (either is accepted during the overlap).
 */
export function signCapacityReport(secret: string | readonly string[], report: CapacityReport, nowSeconds = Math.floor(Date.now() / 1000)): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(report);
  return { body, headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(secret, nowSeconds, body) } };
}

/** Signs and sends a report; resolves with the marketplace's status (202 once queued) and reply. */
export async function sendCapacityReport(baseUrl: string, secret: string | readonly string[], report: CapacityReport, opts: { fetch?: typeof fetch; timeoutMs?: number; nowSeconds?: number } = {}): Promise<{ status: number; body: unknown }> {
  const { body, headers } = signCapacityReport(secret, report, opts.nowSeconds);
  const res = await (opts.fetch ?? fetch)(`${baseUrl.replace(/\/+$/, '')}/v1/providers/${encodeURIComponent(report.provider_id)}/capacity`, {
    method: 'POST', headers, body, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // a non-JSON reply is returned as text
  }
  return { status: res.status, body: parsed };
}
