/**
 * THE schedule table: EventBridge rules in stacks/Schedules.ts, the local scheduler in local/scheduler.ts.
 * Expressions are EventBridge's own rate()/cron() syntax.
 */
import type { TableAccess } from './access.js';

export interface ScheduleDef {
  name: string;
  expression: string;
  description: string;
  /** Either a handler to invoke (with the table access it needs) or a workflow (infra/workflows.ts name) to start. */
  target: { handler: string; access: readonly TableAccess[] } | { workflow: string };
}

export const SCHEDULES: readonly ScheduleDef[] = [
  {
    name: 'hold-sweeper',
    expression: 'rate(1 minute)',
    target: { handler: 'functions/sweeper.sweepHolds', access: ['query', 'read', 'transact'] },
    description: 'Releases reservations whose expiry passed without a settlement (a crashed request).',
  },
  {
    name: 'capacity-flush',
    expression: 'rate(1 minute)',
    target: { handler: 'functions/capacity.flush', access: ['query', 'read', 'transact'] },
    description: "Applies providers' coalesced capacity reports once their interval (at least 15 minutes) has passed.",
  },
  {
    name: 'ledger-audit',
    expression: 'cron(15 3 * * ? *)',
    target: { workflow: 'ledger-audit' },
    description: 'Nightly: every cached balance equals the sum of its lines and all accounts sum to zero.',
  },
];
