/**
 * The per-source-address rate limit of the public routes (SPEC §10): the provider application and the revenue
 * calculator. One window item per (route bucket, address) a minute, counted by the table's rate limiter
 * (DynamoRateLimiter: one conditional UpdateItem, so a row using this needs 'write' access); over the limit the
 * caller gets 429 with Retry-After.
 */
import { now } from '../../packages/core/src/clock.js';
import { deps } from './deps.js';
import { HttpError } from './errors.js';
import type { ApiRequest } from './api.js';

/** A per-minute limit from the environment (1–1000), else the default. */
export function perMinuteFromEnv(name: string, fallback: number): number {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n >= 1 && n <= 1_000 ? n : fallback;
}

/**
 * Admits one request from the caller's address into `bucket`'s window, or throws 429. The address is the one
 * API Gateway saw (requestContext.identity.sourceIp), never X-Forwarded-For, which the caller writes.
 */
export async function limitPerAddress(req: ApiRequest<unknown, unknown>, bucket: string, perMinute: number, what: string): Promise<void> {
  const ip = req.event.requestContext?.identity?.sourceIp ?? 'unknown';
  const rate = await deps().limiter.admit(`ip:${bucket}:${ip}`, { rpm: perMinute, tpm: null }, 0, now());
  if (!rate.ok) {
    throw new HttpError(429, `At most ${perMinute} ${what} a minute from one address.`, 'rate_limited', 'rate_limit_error', null, true, { 'retry-after': String(rate.retry_after_s) });
  }
}
