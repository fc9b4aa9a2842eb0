/** The one clock (packages/core/src/clock.ts): COMPUX_NOW starts it, children share it, bad values throw. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLOCK_OFFSET_ENV, CLOCK_START_ENV, monthOf, nowMs, parseClockStart, previousPeriod, shiftPeriod } from '../../packages/core/src/index.js';

/** Runs a snippet in a fresh Node process (tsx) with `env` and returns what it prints. */
function inChild(code: string, env: Record<string, string | undefined>): string {
  const clean = { ...process.env, [CLOCK_START_ENV]: undefined, [CLOCK_OFFSET_ENV]: undefined, ...env };
  return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env: clean as NodeJS.ProcessEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}
const CLOCK = JSON.stringify(new URL('../../packages/core/src/clock.ts', import.meta.url).href);

describe('the clock', () => {
  it('COMPUX_NOW starts the clock at the instant, which then advances', () => {
    // Act
    const out = inChild(`const c = await import(${CLOCK}); const a = c.nowMs(); await new Promise((r) => setTimeout(r, 50)); console.log(JSON.stringify([a, c.nowMs()]));`, { [CLOCK_START_ENV]: '2027-12-31T23:59:00Z' });
    const [first, later] = JSON.parse(out) as [number, number];
    // Assess
    const start = Date.parse('2027-12-31T23:59:00Z');
    expect(first - start).toBeGreaterThanOrEqual(0);
    expect(first - start).toBeLessThan(5_000);
    expect(later - first).toBeGreaterThanOrEqual(45);
  });

  it('a child process inherits the offset, so it reads the same now as its parent', () => {
    // Act: the parent anchors, waits 300 ms, then a child starts and both read the clock.
    const code = `import { execFileSync } from 'node:child_process';
      const c = await import(${CLOCK}); c.nowMs(); await new Promise((r) => setTimeout(r, 300));
      const child = Number(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', 'const c = await import(${CLOCK.replace(/"/g, '\\"')}); console.log(c.nowMs())'], { encoding: 'utf8' }));
      console.log(JSON.stringify([c.nowMs(), child]));`;
    const [parent, child] = JSON.parse(inChild(code, { [CLOCK_START_ENV]: '2027-02-28T23:59:00Z' })) as [number, number];
    // Assess: within the child's start-up time, not 300 ms or more behind (as a fresh anchor would be).
    expect(Math.abs(parent - child)).toBeLessThan(3_000);
    expect(child - Date.parse('2027-02-28T23:59:00Z')).toBeGreaterThanOrEqual(300);
  });

  it.each(['tomorrow', '2027-12-31', '2027-13-01T00:00:00Z', '1735689600000'])('COMPUX_NOW=%s is refused with a clear error', (value) => {
    expect(() => parseClockStart(value)).toThrow(/COMPUX_NOW=.* is not an ISO instant/);
    expect(() => inChild(`await import(${CLOCK});`, { [CLOCK_START_ENV]: value })).toThrow(/is not an ISO instant/);
  });

  it('unset, it is real time', () => {
    if (process.env[CLOCK_START_ENV]) return; // a calendar-check run shifts this process on purpose
    expect(Math.abs(nowMs() - Date.now())).toBeLessThan(5);
  });

  it.each([
    ['2027-01', -1, '2026-12'],
    ['2026-12', 1, '2027-01'],
    ['2027-03', -13, '2026-02'],
    ['2027-02', 0, '2027-02'],
  ])('shiftPeriod(%s, %i) is %s', (period, months, out) => expect(shiftPeriod(period, months)).toBe(out));

  it.each([
    ['2027-01-01T00:00:30Z', '2027-01', '2026-12'],
    ['2027-02-28T23:59:00Z', '2027-02', '2027-01'],
    ['2027-12-31T23:59:59.999Z', '2027-12', '2027-11'],
  ])('at %s the month is %s and the one before %s', (at, month, before) => {
    expect(monthOf(at)).toBe(month);
    expect(previousPeriod(new Date(at))).toBe(before);
  });
});
