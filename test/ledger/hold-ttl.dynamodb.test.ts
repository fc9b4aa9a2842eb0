/**
 * COMPUX_HOLD_TTL_S (issue 14, point 5): the hold expiry as a setting. Read by the wiring (functions/lib/settings.ts,
 * functions/lib/deps.ts) and given to core's Credits; bounded, with an error naming it when out of bounds; and the
 * scheduled hold-sweeper releases a request's unsettled hold (a crash) once that expiry has passed, not before.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ScheduledEvent } from 'aws-lambda';
import { Credits, DEFAULT_HOLD_TTL_S, MAX_HOLD_TTL_S, MIN_HOLD_TTL_S, facilityAccount, nowMs } from '../../packages/core/src/index.js';
import { holdTtlS } from '../../functions/lib/settings.js';
import { setDeps, deps } from '../../functions/lib/deps.js';
import { sweepHolds } from '../../functions/sweeper.js';
import { createLambdaContext } from '../../local/lambda.js';
import { sleep } from '../../local/aws.js';
import { startRuntime } from '../../local/runtime.js';
import { world } from './world.js';

const saved = { ttl: process.env.COMPUX_HOLD_TTL_S, table: process.env.TABLE_NAME };
afterAll(() => {
  for (const [k, v] of [['COMPUX_HOLD_TTL_S', saved.ttl], ['TABLE_NAME', saved.table]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  setDeps(undefined);
});

const BOUNDS_ERROR = /^COMPUX_HOLD_TTL_S must be a whole number of seconds from 5 to 3600 \(default 600\), not ".*"$/;

async function runSweeper() {
  const event = { version: '0', id: 'hold-ttl', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '123456789012', time: new Date().toISOString(), region: 'us-east-1', resources: [], detail: {} } as ScheduledEvent;
  return (await sweepHolds(event, createLambdaContext({ functionName: 'hold-sweeper', timeoutMs: 60_000 }))) as { expired: number; skipped: number };
}

describe('COMPUX_HOLD_TTL_S', () => {
  it('bounds are 5 s to an hour, 600 s by default', () => {
    expect([MIN_HOLD_TTL_S, DEFAULT_HOLD_TTL_S, MAX_HOLD_TTL_S]).toEqual([5, 600, 3_600]);
  });

  it.each([
    [undefined, 600], ['', 600], ['5', 5], ['30', 30], [' 42 ', 42], ['3600', 3_600],
  ])('%j gives a hold expiry of %i s', (text, seconds) => {
    expect(holdTtlS(text)).toBe(seconds);
  });

  it.each(['4', '0', '3601', '-30', '1.5', '1e3', '30s', 'ten', '99999999'])('%j is refused with an error naming the setting and its bounds', (text) => {
    expect(() => holdTtlS(text)).toThrow(BOUNDS_ERROR);
  });

  it('core refuses an expiry outside the bounds even without the wiring', async () => {
    const w = await world('hold-ttl-core');
    expect(() => new Credits(w.store, undefined, { hold_ttl_s: MIN_HOLD_TTL_S - 1 })).toThrow(/hold_ttl_s must be a whole number in \[5, 3600\]/);
    expect(() => new Credits(w.store, undefined, { hold_ttl_s: MAX_HOLD_TTL_S + 1 })).toThrow(/hold_ttl_s must be a whole number in \[5, 3600\]/);
  });

  it('npm start refuses it out of bounds before starting anything', async () => {
    // Prepare
    process.env.COMPUX_HOLD_TTL_S = '3601';
    // Act
    const started = startRuntime({ port: 0, inMemory: true, scheduler: false });
    // Assess
    await expect(started).rejects.toThrow(BOUNDS_ERROR);
    delete process.env.COMPUX_HOLD_TTL_S;
  });

  it('the hold-sweeper releases an unsettled hold once the set expiry has passed, not before', { timeout: 60_000 }, async () => {
    // Prepare: the wiring on a fresh table with a 5 s expiry; a request's hold that is never settled (a crash), and
    // one taken with the default expiry.
    const w = await world('hold-ttl');
    const { startup, facilities } = await w.fundedStartup([{ principal_micros: 1_000_000 }]);
    Object.assign(process.env, { TABLE_NAME: w.tableName, COMPUX_HOLD_TTL_S: String(MIN_HOLD_TTL_S) });
    setDeps(undefined);
    const crashed = await deps().credits.reserve({ startup_id: startup.id, amount_micros: 100_000, idempotency_key: 'crashed', request_hash: 'h' });
    const usual = await w.credits.reserve({ startup_id: startup.id, amount_micros: 200_000, idempotency_key: 'usual', request_hash: 'h' });
    if (!crashed.ok || !usual.ok) throw new Error('reserve failed');
    // Act
    const early = await runSweeper();
    const openEarly = (await w.store.getHold(crashed.hold.id))?.status;
    // Past the hold's expiry, but never longer than the set expiry allows (a hold that ignored it fails, not hangs).
    await sleep(Math.min(Date.parse(crashed.hold.expires_at) - nowMs(), MIN_HOLD_TTL_S * 1_000) + 200);
    const late = await runSweeper();
    // Assess
    expect(Date.parse(crashed.hold.expires_at) - Date.parse(crashed.hold.created_at)).toBe(MIN_HOLD_TTL_S * 1_000);
    expect(Date.parse(usual.hold.expires_at) - Date.parse(usual.hold.created_at)).toBe(DEFAULT_HOLD_TTL_S * 1_000);
    expect(early).toMatchObject({ expired: 0, skipped: 0 });
    expect(openEarly).toBe('open');
    expect(late).toMatchObject({ expired: 1, skipped: 0 });
    expect((await w.store.getHold(crashed.hold.id))?.status).toBe('expired');
    expect((await w.store.getHold(usual.hold.id))?.status).toBe('open');
    const reserved = facilityAccount(facilities[0]!.id, 'reserved');
    expect((await w.store.getBalances([reserved])).get(reserved)?.balance_micros).toBe(200_000);
  });
});
