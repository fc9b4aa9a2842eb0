/**
 * EventBridge schedules, locally: every row of infra/schedules.ts, with the same rate()/cron() expression.
 *
 * - rate(N unit): EventBridge's syntax exactly (value a positive integer; unit minute/hour/day, singular for
 *   1 and plural otherwise). Fires every N units from the scheduler's start.
 * - cron(min hour day-of-month month day-of-week year): six fields, UTC, one of day-of-month/day-of-week
 *   must be "?" (EventBridge's rule); the fields are checked here and by aws-cron-parser, which computes
 *   the next fire time.
 *
 * A handler target is invoked with EventBridge's "Scheduled Event"; a workflow target is started with that
 * event as its input (what an EventBridge rule targeting a state machine passes). One run at a time per
 * schedule: a fire that finds the previous run still going is skipped (logged). On AWS the rows declared
 * `overlap: false` get the same guarantee from reserved concurrency 1 (the throttled fire expires from
 * Lambda's async queue after 60 s); the other rows (workflows) end long before their next fire. Timers are
 * unref'd (they never keep the process alive) and capped in length, so far-off fire times are re-armed in steps.
 */
import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';
import awsCronParser from 'aws-cron-parser';
import type { ScheduleDef } from '../infra/schedules.js';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './aws.js';
import type { LocalGrants } from './grants.js';
// Fire times and each event's `time` are on the CompuX clock (COMPUX_NOW); timer delays are their differences.
import { now as clockNow, nowMs } from '../packages/core/src/clock.js';
import {
  DEFAULT_FUNCTION_TIMEOUT_SECONDS,
  createLambdaContext,
  functionNameFor,
  invokeHandler,
  logInvokeError,
  type HandlerResolver,
} from './lambda.js';

const MINUTE_MS = 60_000;
const UNIT_MS = { minute: MINUTE_MS, hour: 60 * MINUTE_MS, day: 24 * 60 * MINUTE_MS } as const;
/** Largest rate accepted: ten years. Beyond that it is surely a typo (EventBridge has no documented cap). */
const MAX_RATE_MS = 3650 * UNIT_MS.day;
/** Longest single timer; setTimeout overflows past 2^31-1 ms, and shorter steps tolerate clock changes. */
const MAX_TIMER_MS = 60 * MINUTE_MS;
/** How long stop() waits for runs in progress. */
const STOP_GRACE_MS = DEFAULT_FUNCTION_TIMEOUT_SECONDS * 1000;

export class ScheduleExpressionError extends Error {
  constructor(expression: string, reason: string) {
    super(`invalid schedule expression ${JSON.stringify(expression)}: ${reason}`);
    this.name = 'ScheduleExpressionError';
  }
}

/** Parses `rate(N unit)` into milliseconds. Strict: EventBridge's exact grammar. */
export function parseRate(expression: string): number {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!m) throw new ScheduleExpressionError(expression, 'expected rate(<positive integer> minute(s)|hour(s)|day(s))');
  const digits = m[1] as string;
  const unitWord = m[2] as string;
  if (digits.length > 1 && digits.startsWith('0')) throw new ScheduleExpressionError(expression, 'value must not have leading zeros');
  const value = Number(digits);
  if (!Number.isSafeInteger(value) || value < 1) throw new ScheduleExpressionError(expression, 'value must be a positive integer');
  const plural = unitWord.endsWith('s');
  if (value === 1 && plural) throw new ScheduleExpressionError(expression, `a value of 1 takes the singular unit (${unitWord.slice(0, -1)})`);
  if (value > 1 && !plural) throw new ScheduleExpressionError(expression, `a value above 1 takes the plural unit (${unitWord}s)`);
  const unit = (plural ? unitWord.slice(0, -1) : unitWord) as keyof typeof UNIT_MS;
  const ms = value * UNIT_MS[unit];
  if (ms > MAX_RATE_MS) throw new ScheduleExpressionError(expression, 'rate longer than ten years');
  return ms;
}

/** Allowed characters per cron field (EventBridge: minutes, hours, day-of-month, month, day-of-week, year). */
const CRON_FIELDS: ReadonlyArray<{ name: string; re: RegExp }> = [
  { name: 'minutes', re: /^[\d,\-*/]+$/ },
  { name: 'hours', re: /^[\d,\-*/]+$/ },
  { name: 'day-of-month', re: /^([\d,\-*?/LW]+)$/ },
  { name: 'month', re: /^[\d,\-*/A-Za-z]+$/ },
  { name: 'day-of-week', re: /^[\d,\-*?/L#A-Za-z]+$/ },
  { name: 'year', re: /^[\d,\-*/]+$/ },
];

export type ParsedCron = ReturnType<typeof awsCronParser.parse>;

/** Parses `cron(...)`: EventBridge's structural rules here, value ranges by aws-cron-parser. */
export function parseCron(expression: string): ParsedCron {
  const m = /^cron\((.*)\)$/.exec(expression);
  if (!m) throw new ScheduleExpressionError(expression, 'expected cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)');
  const fields = (m[1] as string).trim().split(/\s+/);
  if (fields.length !== 6) throw new ScheduleExpressionError(expression, `cron needs 6 fields, got ${fields.length}`);
  fields.forEach((f, i) => {
    const spec = CRON_FIELDS[i]!;
    if (!spec.re.test(f)) throw new ScheduleExpressionError(expression, `bad ${spec.name} field "${f}"`);
  });
  const dom = fields[2] as string;
  const dow = fields[4] as string;
  if ((dom === '?') === (dow === '?')) {
    throw new ScheduleExpressionError(expression, 'exactly one of day-of-month and day-of-week must be "?"');
  }
  let parsed: ParsedCron;
  try {
    parsed = awsCronParser.parse(fields.join(' '));
  } catch (err) {
    throw new ScheduleExpressionError(expression, (err as Error).message);
  }
  // The parser is lenient with garbage it cannot read (it yields empty or NaN lists); catch that here.
  for (const [name, rule] of Object.entries(parsed)) {
    if (name === 'daysOfMonth' || name === 'daysOfWeek') continue; // one of them is legitimately empty ("?")
    if (!Array.isArray(rule) || rule.length === 0 || rule.some((v) => typeof v === 'number' && Number.isNaN(v))) {
      throw new ScheduleExpressionError(expression, `cannot read the ${name} field`);
    }
  }
  return parsed;
}

/** Throws ScheduleExpressionError unless the expression is a valid rate() or cron(). */
export function validateScheduleExpression(expression: string): void {
  if (expression.startsWith('rate(')) parseRate(expression);
  else if (expression.startsWith('cron(')) {
    const parsed = parseCron(expression);
    if (awsCronParser.next(parsed, clockNow()) === null) throw new ScheduleExpressionError(expression, 'never fires again');
  } else throw new ScheduleExpressionError(expression, 'expected rate(...) or cron(...)');
}

/**
 * The next fire time strictly after `from`: from + period for rate(), the next matching UTC minute for cron().
 * Throws for an invalid expression or a cron that never fires again.
 */
export function nextFireTime(expression: string, from: Date): Date {
  if (expression.startsWith('rate(')) return new Date(from.getTime() + parseRate(expression));
  if (expression.startsWith('cron(')) {
    const next = awsCronParser.next(parseCron(expression), from);
    if (!next) throw new ScheduleExpressionError(expression, `no fire time after ${from.toISOString()}`);
    return next;
  }
  throw new ScheduleExpressionError(expression, 'expected rate(...) or cron(...)');
}

/** EventBridge's "Scheduled Event" for a rule. */
export function scheduledEvent(ruleName: string, at: Date): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT_ID,
    time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LOCAL_REGION,
    resources: [`arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:rule/${ruleName}`],
    detail: {},
  };
}

export interface SchedulerOptions {
  schedules: readonly ScheduleDef[];
  resolveHandler: HandlerResolver;
  /** Starts a workflow (infra/workflows.ts name) and resolves when the execution ends. */
  runWorkflow: (name: string, input: unknown) => Promise<void>;
  /** Enforce each handler target's grant (its access and sends) on its SDK calls (local/grants.ts). */
  grants?: LocalGrants;
  /** Called after each run (tests and logs). */
  onRun?: (name: string, outcome: { ok: boolean; skipped?: boolean; error?: unknown }) => void;
}

export interface Scheduler {
  /** When each schedule fires next (for logs). */
  nextFires(): Record<string, Date>;
  /**
   * Runs a schedule now, as a fire would (skipped if already running). `at` is the event's `time` (default: the
   * clock's now): a test replays a fire that was due then, e.g. the monthly settlement's on the 1st at 02:00.
   */
  fire(name: string, at?: Date): Promise<void>;
  stop(): Promise<void>;
}

export function startScheduler(opts: SchedulerOptions): Scheduler {
  for (const s of opts.schedules) validateScheduleExpression(s.expression);
  let stopped = false;
  const timers = new Map<string, NodeJS.Timeout>();
  const next = new Map<string, Date>();
  const running = new Map<string, Promise<void>>();

  const run = async (s: ScheduleDef, at: Date): Promise<void> => {
    if (running.has(s.name)) {
      console.warn(`[scheduler] ${s.name}: previous run still going, this fire is skipped`);
      opts.onRun?.(s.name, { ok: true, skipped: true });
      return;
    }
    const p = (async () => {
      const event = scheduledEvent(s.name, at);
      try {
        if ('handler' in s.target) {
          const handler = await opts.resolveHandler(s.target.handler);
          const timeoutMs = (s.target.timeout_s ?? DEFAULT_FUNCTION_TIMEOUT_SECONDS) * 1000;
          const context = createLambdaContext({ functionName: functionNameFor(s.target.handler), timeoutMs });
          await invokeHandler(handler, event, context, timeoutMs, opts.grants?.for({ handler: s.target.handler, access: s.target.access, sends: s.target.sends ?? [], ...(s.target.relayKey ? { relayKey: s.target.relayKey } : {}) }));
        } else {
          await opts.runWorkflow(s.target.workflow, event);
        }
        opts.onRun?.(s.name, { ok: true });
      } catch (err) {
        logInvokeError(`scheduler ${s.name}`, err);
        opts.onRun?.(s.name, { ok: false, error: err });
      }
    })();
    running.set(s.name, p);
    try {
      await p;
    } finally {
      running.delete(s.name);
    }
  };

  const arm = (s: ScheduleDef, at: Date) => {
    if (stopped) return;
    next.set(s.name, at);
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at.getTime() - nowMs()));
    const timer = setTimeout(() => {
      if (stopped) return;
      if (nowMs() < at.getTime()) return arm(s, at); // a capped step: keep waiting
      // The next fire counts from this one's scheduled time (no drift for rate), but never lies in the past.
      let following = nextFireTime(s.expression, at);
      const now = clockNow();
      while (following.getTime() <= now.getTime()) following = nextFireTime(s.expression, following);
      arm(s, following);
      void run(s, at);
    }, delay);
    timer.unref();
    timers.set(s.name, timer);
  };

  const start = clockNow();
  for (const s of opts.schedules) arm(s, nextFireTime(s.expression, start));

  return {
    nextFires: () => Object.fromEntries(next),
    fire: async (name, at = clockNow()) => {
      const s = opts.schedules.find((x) => x.name === name);
      if (!s) throw new Error(`no schedule named ${name}`);
      await run(s, at);
    },
    stop: async () => {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      // Let runs in progress finish, but not for longer than a handler may run (a workflow run may take
      // longer; the runtime aborts its execution when it stops Step Functions next).
      const grace = new Promise<void>((r) => setTimeout(r, STOP_GRACE_MS).unref());
      await Promise.race([Promise.allSettled([...running.values()]), grace]);
    },
  };
}
