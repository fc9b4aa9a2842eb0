/**
 * THE schedule table: EventBridge rules in stacks/Schedules.ts, the local scheduler in local/scheduler.ts.
 * Expressions are EventBridge's own rate()/cron() syntax.
 */
import type { RelayKeyUse, TableAccess } from './access.js';

export interface ScheduleDef {
  name: string;
  expression: string;
  description: string;
  /** Either a handler to invoke (with the table access it needs) or a workflow (infra/workflows.ts name) to start. */
  /** `sends`: infra/queues.ts names the handler sends to (sqs:SendMessage on exactly those, and their urlEnv). */
  /** `relayKey`: the handler signs relay tokens (its probes; infra/access.ts RelayKeyUse). */
  target: { handler: string; access: readonly TableAccess[]; timeout_s?: number; sends?: readonly string[]; relayKey?: RelayKeyUse } | { workflow: string };
  /**
   * false: runs must never overlap. On AWS the handler gets reserved concurrency 1 (a fire during a run is
   * throttled, waits in Lambda's async queue at most a minute, then is dropped); the local scheduler skips a
   * fire that finds the previous run still going. Only handler targets may set it.
   */
  overlap?: false;
}

export const SCHEDULES: readonly ScheduleDef[] = [
  {
    name: 'hold-sweeper',
    expression: 'rate(1 minute)',
    overlap: false,
    // Writes: a booking's state when it refuses an abandoned placing or expires a pending one its state machine lost.
    target: { handler: 'functions/sweeper.sweepHolds', access: ['query', 'read', 'write', 'transact'], sends: ['webhook-deliveries'] },
    description: 'Releases reservations whose expiry passed without a settlement (a crashed request), and what capacity bookings no longer need (booking.expired to the startup).',
  },
  {
    name: 'capacity-flush',
    expression: 'rate(1 minute)',
    overlap: false,
    target: { handler: 'functions/capacity.flush', access: ['query', 'read', 'write', 'transact'], sends: ['webhook-deliveries'] },
    description: "Applies providers' coalesced capacity reports once their interval (at least 15 minutes) has passed.",
  },
  {
    name: 'sla-probe',
    expression: 'rate(1 minute)',
    overlap: false,
    // 320 probes, 32 at a time, 5 s each at worst: under a minute, so runs do not pile up.
    target: { handler: 'functions/sla.probeAll', access: ['read', 'write', 'query', 'transact'], timeout_s: 60, sends: ['webhook-deliveries'], relayKey: 'sign' },
    description: "Probes every live provider endpoint, then recomputes each live provider's 30-day SLA standing and its routing priority (alerts on breach and recovery, sent to the provider as sla.breach / sla.recovered).",
  },
  {
    name: 'loan-servicing',
    expression: 'rate(15 minutes)',
    overlap: false,
    target: { handler: 'functions/loans.service', access: ['query', 'read', 'write', 'transact'], timeout_s: 300, sends: ['webhook-deliveries'] },
    description: "Services every facility's loan (SPEC §3, §12): posts the monthly servicing fees that fell due, matures a facility at its term end (no new spend; its unspent credit recovered once nothing is reserved or leased on it; facility.matured), and issues each month's loan statement (statement.issued).",
  },
  {
    name: 'covenant-check',
    expression: 'rate(5 minutes)',
    overlap: false,
    target: { handler: 'functions/covenants.check', access: ['query', 'read', 'write', 'transact'], timeout_s: 120, sends: ['webhook-deliveries'] },
    description: "Evaluates every facility's covenants and every startup's credits.low thresholds (SPEC §12); a new breach emits facility.covenant_breached and, with action freeze, freezes the facility with the covenant as reason; a fall below a threshold emits credits.low; a key's spend reaching its soft threshold emits key.budget_low (once a period).",
  },
  {
    name: 'webhook-sweeper',
    expression: 'rate(1 minute)',
    overlap: false,
    target: { handler: 'functions/webhooks.sweep', access: ['query', 'read', 'transact'], sends: ['webhook-deliveries'] },
    description: 'Queues the webhook deliveries of events whose dispatch did not finish (a crash between writing an event and queueing it).',
  },
  {
    name: 'ledger-audit',
    expression: 'cron(15 3 * * ? *)',
    target: { workflow: 'ledger-audit' },
    description: 'Nightly: every cached balance equals the sum of its lines and all accounts sum to zero.',
  },
  {
    name: 'provider-settlement',
    // 02:00 UTC on the 1st: past the hour of grace after the month ends (SETTLEMENT_GRACE_S).
    expression: 'cron(0 2 1 * ? *)',
    target: { workflow: 'provider-settlement' },
    description: "Monthly: settles the month that just ended (each provider's statement, volume true-up and payable; the month reconciled to the micro).",
  },
];
