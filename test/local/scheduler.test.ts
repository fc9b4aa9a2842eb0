import { describe, expect, it } from 'vitest';
import { SCHEDULES } from '../../infra/schedules.js';
import { WORKFLOWS } from '../../infra/workflows.js';
import { now } from '../../packages/core/src/clock.js';
import {
  ScheduleExpressionError,
  nextFireTime,
  parseCron,
  parseRate,
  scheduledEvent,
  startScheduler,
  validateScheduleExpression,
} from '../../local/scheduler.js';

const MIN = 60_000;

describe('rate() parsing', () => {
  it.each([
    ['rate(1 minute)', MIN],
    ['rate(5 minutes)', 5 * MIN],
    ['rate(1 hour)', 60 * MIN],
    ['rate(12 hours)', 12 * 60 * MIN],
    ['rate(1 day)', 24 * 60 * MIN],
    ['rate(7 days)', 7 * 24 * 60 * MIN],
  ])('%s is %d ms', (expression, ms) => {
    // Prepare / Act
    const parsed = parseRate(expression);
    // Assess
    expect(parsed).toBe(ms);
  });

  it.each([
    ['rate(0 minutes)', 'zero'],
    ['rate(1 minutes)', 'plural unit for 1'],
    ['rate(5 minute)', 'singular unit above 1'],
    ['rate(-1 minute)', 'negative'],
    ['rate(1.5 hours)', 'fraction'],
    ['rate(05 minutes)', 'leading zero'],
    ['rate(1 week)', 'unknown unit'],
    ['rate(1 second)', 'seconds are not a unit'],
    ['rate(minute)', 'no value'],
    ['rate( 1 minute)', 'stray space'],
    ['rate(1  minute)', 'double space'],
    ['rate(1 Minute)', 'case'],
    ['rate 1 minute', 'no parentheses'],
    ['rate(99999999 days)', 'absurdly long'],
    ['', 'empty'],
  ])('rejects %s (%s)', (expression) => {
    // Prepare / Act / Assess
    expect(() => parseRate(expression)).toThrow(ScheduleExpressionError);
  });
});

describe('cron() parsing and next fire time', () => {
  it('fires at the next matching UTC minute, strictly after from', () => {
    // Prepare
    const expression = 'cron(15 3 * * ? *)';
    // Act
    const before = nextFireTime(expression, new Date('2025-01-01T03:14:59.500Z'));
    const at = nextFireTime(expression, new Date('2025-01-01T03:15:00.000Z'));
    // Assess
    expect(before.toISOString()).toBe('2025-01-01T03:15:00.000Z');
    expect(at.toISOString()).toBe('2025-01-02T03:15:00.000Z');
  });

  it('handles steps, ranges and named days', () => {
    // Prepare / Act
    const everyQuarter = nextFireTime('cron(0/15 * * * ? *)', new Date('2025-03-10T10:07:00Z'));
    const weekdays = nextFireTime('cron(0 9 ? * MON-FRI *)', new Date('2025-03-08T12:00:00Z')); // a Saturday
    // Assess
    expect(everyQuarter.toISOString()).toBe('2025-03-10T10:15:00.000Z');
    expect(weekdays.toISOString()).toBe('2025-03-10T09:00:00.000Z'); // the Monday
  });

  it.each([
    ['cron(15 3 * * * *)', 'both day fields set'],
    ['cron(15 3 ? * ? *)', 'both day fields "?"'],
    ['cron(15 3 * * ?)', 'five fields'],
    ['cron(61 3 * * ? *)', 'minute out of range'],
    ['cron(15 25 * * ? *)', 'hour out of range'],
    ['cron(foo bar * * ? *)', 'garbage'],
    ['cron()', 'empty'],
    ['cron(0 0 1 1 ? 1999)', 'never fires again'],
    ['every day', 'neither rate nor cron'],
  ])('rejects %s (%s)', (expression) => {
    // Prepare / Act / Assess
    expect(() => validateScheduleExpression(expression)).toThrow(ScheduleExpressionError);
  });

  it('parseCron returns the parsed fields', () => {
    // Prepare / Act
    const parsed = parseCron('cron(15 3 * * ? *)');
    // Assess
    expect(parsed.minutes).toEqual([15]);
    expect(parsed.hours).toEqual([3]);
  });

  it('rate fire times count from the given instant', () => {
    // Prepare
    const from = new Date('2025-01-01T00:00:30Z');
    // Act
    const next = nextFireTime('rate(1 minute)', from);
    // Assess
    expect(next.toISOString()).toBe('2025-01-01T00:01:30.000Z');
  });
});

describe('infra/schedules.ts', () => {
  it.each(SCHEDULES.map((s) => [s.name, s]))('%s has a valid expression and a known target', (_name, s) => {
    // Prepare / Act
    const from = now();
    const next = nextFireTime(s.expression, from);
    // Assess
    expect(next.getTime()).toBeGreaterThan(from.getTime());
    if ('workflow' in s.target) {
      const wf = s.target.workflow;
      expect(WORKFLOWS.map((w) => w.name)).toContain(wf);
    } else {
      expect(s.target.handler).toMatch(/^functions\/[\w/-]+\.\w+$/);
    }
  });
});

describe('scheduler', () => {
  it('builds an EventBridge Scheduled Event', () => {
    // Prepare / Act
    const event = scheduledEvent('hold-sweeper', new Date('2025-01-01T00:01:00.123Z'));
    // Assess
    expect(event).toMatchObject({
      version: '0',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      time: '2025-01-01T00:01:00Z',
      detail: {},
      resources: ['arn:aws:events:us-east-1:123456789012:rule/hold-sweeper'],
    });
  });

  it('runs one invocation at a time per schedule and skips a fire while one is running', async () => {
    // Prepare
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const events: unknown[] = [];
    const outcomes: Array<{ ok: boolean; skipped?: boolean }> = [];
    const scheduler = startScheduler({
      schedules: [{ name: 'slow', expression: 'rate(1 day)', description: 'test', target: { handler: 'fake.handler', access: [] } }],
      resolveHandler: async () => async (event: unknown) => {
        events.push(event);
        await gate;
      },
      runWorkflow: async () => {},
      onRun: (_n, o) => outcomes.push(o),
    });
    // Act
    const first = scheduler.fire('slow');
    await scheduler.fire('slow'); // while the first is still running
    release();
    await first;
    await scheduler.stop();
    // Assess
    expect(events).toHaveLength(1);
    expect(outcomes).toEqual([{ ok: true, skipped: true }, { ok: true }]);
  });

  it.each(SCHEDULES.filter((s) => s.overlap === false).map((s) => [s.name, s]))(
    '%s (overlap: false) never starts a second run while one is running',
    async (_name, def) => {
      // Prepare
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let active = 0;
      let maxActive = 0;
      let runs = 0;
      const outcomes: Array<{ ok: boolean; skipped?: boolean }> = [];
      const scheduler = startScheduler({
        schedules: [def],
        resolveHandler: async () => async () => {
          runs += 1;
          active += 1;
          maxActive = Math.max(maxActive, active);
          await gate;
          active -= 1;
        },
        runWorkflow: async () => {},
        onRun: (_n, o) => outcomes.push(o),
      });
      // Act: three fires while the first run holds (as three minutes of an overrunning sweep would).
      const first = scheduler.fire(def.name);
      await scheduler.fire(def.name);
      await scheduler.fire(def.name);
      release();
      await first;
      await scheduler.fire(def.name); // once it ended, the next fire runs again
      await scheduler.stop();
      // Assess
      expect(maxActive).toBe(1);
      expect(runs).toBe(2);
      expect(outcomes).toEqual([{ ok: true, skipped: true }, { ok: true, skipped: true }, { ok: true }, { ok: true }]);
    },
  );

  it('every rate(1 minute) schedule is a handler declared overlap: false', () => {
    // Prepare / Act
    const everyMinute = SCHEDULES.filter((s) => s.expression === 'rate(1 minute)');
    // Assess
    expect(everyMinute.length).toBeGreaterThan(0);
    for (const s of everyMinute) {
      expect(s.overlap, s.name).toBe(false);
      expect('handler' in s.target, s.name).toBe(true);
    }
  });

  it('starts a workflow target with the scheduled event as input', async () => {
    // Prepare
    const started: Array<{ name: string; input: unknown }> = [];
    const scheduler = startScheduler({
      schedules: [{ name: 'audit', expression: 'cron(15 3 * * ? *)', description: 'test', target: { workflow: 'ledger-audit' } }],
      resolveHandler: async () => {
        throw new Error('no handler expected');
      },
      runWorkflow: async (name, input) => {
        started.push({ name, input });
      },
    });
    // Act
    await scheduler.fire('audit');
    await scheduler.stop();
    // Assess
    expect(started).toHaveLength(1);
    expect(started[0]?.name).toBe('ledger-audit');
    expect(started[0]?.input).toMatchObject({ 'detail-type': 'Scheduled Event' });
  });

  it('refuses to start with an invalid expression', () => {
    // Prepare / Act / Assess
    expect(() =>
      startScheduler({
        schedules: [{ name: 'bad', expression: 'rate(1 minutes)', description: 'x', target: { workflow: 'w' } }],
        resolveHandler: async () => () => undefined,
        runWorkflow: async () => {},
      }),
    ).toThrow(ScheduleExpressionError);
  });
});
