/**
 * Settlement entities: one run record per month (SETTLEMENT#<YYYY-MM>), and one statement per provider and
 * month under the provider (STATEMENT#<provider>, sorted by period so a list reads newest first).
 */
import type { MonthTotals, Statement } from '../../../settlement.js';
import type { Key } from './keys.js';

export type RunStatus = 'running' | 'settled' | 'failed';

export interface SettlementRun {
  period: string;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  execution_id: string | null;
  totals: MonthTotals | null;
  /** Why it failed: per provider (custom rate missing, records ≠ ledger) or the month's reconciliation. */
  failures: { provider_id: string | null; code: string; reasons: string[] }[];
}

export const runKey = (period: string): Key => ({ pk: `SETTLEMENT#${period}`, sk: 'RUN' });
export const statementKey = (providerId: string, period: string): Key => ({ pk: `STATEMENT#${providerId}`, sk: `P#${period}` });

export function runItem(r: SettlementRun) {
  return { ...runKey(r.period), type: 'settlement_run', ...r };
}

export function toRun(i: Record<string, unknown>): SettlementRun {
  return {
    period: i.period as string, status: i.status as RunStatus, started_at: i.started_at as string, finished_at: (i.finished_at as string | null) ?? null,
    execution_id: (i.execution_id as string | null) ?? null, totals: (i.totals as MonthTotals | null) ?? null, failures: (i.failures as SettlementRun['failures']) ?? [],
  };
}

export function statementItem(s: Statement) {
  return { ...statementKey(s.provider_id, s.period), type: 'statement', statement: s };
}

export const toStatement = (i: Record<string, unknown>): Statement => i.statement as Statement;
