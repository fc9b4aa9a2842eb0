/**
 * Monthly settlement (SPEC §7): the task handlers of infra/asl/provider-settlement.asl.json and the routes
 * that start it, show its runs, set a provider's custom rate and read statements.
 *
 * The machine: begin (the month's run; a settled month ends here, unchanged) → for each provider, read its
 * billed records page by page (readRecords loops until done) and issue its statement (issueStatement) →
 * reconcile the month against the marketplace's ledger accounts (reconcile), failing loudly if it does not add up.
 * Each statement issued is told to its provider (statement.issued).
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import {
  ACCRUAL_SHARDS, MAX_PROVIDERS_PER_SETTLEMENT, MAX_REASONS, MAX_STATEMENT_LINES, accruedAccount, addRecord, buildStatement, emptyMonth, marketAccounts, parsePeriod,
  previousPeriod, reconcileMonth, settleableAt, STALE_RUN_S, type ProviderMonth,
} from '../packages/core/src/index.js';
import { now as clockNow, nowIso, nowMs } from '../packages/core/src/clock.js';
import { apiRoute, providerIdOf } from './lib/api.js';
import { deps, sfnClient } from './lib/deps.js';
import { periodParam } from './lib/params.js';
import { badRequest, conflict, notFound } from './lib/errors.js';
import { logger } from './lib/powertools.js';
import { Period, StatementFigures, StatementLine, type CustomRateBody, type StatementsQuery } from './lib/pricing-schemas.js';
import { ProviderId } from './lib/provider-schemas.js';
import { emitStatementIssued } from './lib/webhooks.js';

/** Records one readRecords call folds: 10 pages of 1,000, a few seconds of reads, so a month of any size is many short calls. */
const RECORDS_PAGE = 1_000;
const PAGES_PER_CALL = 10;

// ---------- tasks ----------

/** Started by the route ({period}) or by the schedule (EventBridge's event: the month before its `time`). */
const BeginInput = z.object({
  input: z.object({ period: Period.optional(), time: z.string().optional() }).loose(),
  execution_id: z.string().max(2_048).nullable().default(null),
});

export const begin = middy(async (event: unknown) => {
  const { input, execution_id } = BeginInput.parse(event);
  const now = clockNow();
  const p = parsePeriod(input.period ?? previousPeriod(input.time ? new Date(input.time) : now));
  if (!p) throw new Error('no period to settle');
  // The route refuses an open month; the check is repeated for any other starter.
  if (now.toISOString() < settleableAt(p)) throw new Error(`${p.period} may be settled from ${settleableAt(p)}`);
  // Listed first: a run that cannot list its providers fails before it marks the month running.
  const providers = await deps().settlement.providerIds();
  const run = await deps().settlement.begin(p.period, execution_id, now.toISOString());
  if (run.status === 'settled') {
    logger.info('month already settled; nothing changes', { period: p.period });
    return { period: p.period, already_settled: true, providers: [] };
  }
  // Another execution is settling this month: two at once would race on the same statements.
  if (run.execution_id !== execution_id) throw new Error(`SettlementRunning: ${p.period} is being settled by ${run.execution_id} (started ${run.started_at})`);
  return { period: p.period, already_settled: false, providers };
}).use(injectLambdaContext(logger));

const MonthState = z.object({
  provider_id: ProviderId,
  period: Period,
  shard: z.number().int().min(0).max(ACCRUAL_SHARDS).default(0),
  cursor: z.string().max(2_000).nullable().default(null),
  done: z.boolean().default(false),
  issued: z.boolean().optional(),
  totals: StatementFigures.optional(),
  lines: z.array(StatementLine).max(MAX_STATEMENT_LINES).optional(),
  shard_earnings_micros: z.array(z.number().int()).length(ACCRUAL_SHARDS).optional(),
});

/** Folds up to PAGES_PER_CALL pages of one provider's month; `done` once every accrual shard is read. */
export const readRecords = middy(async (event: unknown): Promise<ProviderMonth & { issued: boolean }> => {
  const s = MonthState.parse(event);
  const { settlement } = deps();
  if (!s.totals && (await settlement.getStatement(s.provider_id, s.period))) {
    // Issued by an earlier run of this month (one that failed later, or a concurrent one): keep it as it is.
    return { ...emptyMonth(s.provider_id, s.period), done: true, issued: true };
  }
  const m: ProviderMonth = s.totals ? { ...(s as ProviderMonth) } : { ...emptyMonth(s.provider_id, s.period) };
  for (let page = 0; page < PAGES_PER_CALL && !m.done; page++) {
    const got = await settlement.recordsPage(m.provider_id, m.period, m.shard, m.cursor, RECORDS_PAGE);
    const segments = await settlement.segments(got.records.map((r) => r.startup_id));
    for (const r of got.records) addRecord(m, r, m.shard, segments.get(r.startup_id)!);
    m.cursor = got.cursor;
    if (!m.cursor) {
      m.shard += 1;
      m.done = m.shard >= ACCRUAL_SHARDS;
    }
  }
  return { ...m, issued: false };
}).use(injectLambdaContext(logger));

/** What a provider's branch of the Map returns: small, since the reasons of a failure are on the run record. */
export interface ProviderOutcome {
  provider_id: string;
  ok: boolean;
  code: string | null;
}

/**
 * The provider's statement and its payable posting, in one transaction. A provider that cannot be
 * settled (records ≠ ledger, custom rate missing) gets no statement: its outcome says why, and reconcile
 * fails the run with it.
 */
export const issueStatement = middy(async (event: unknown): Promise<ProviderOutcome> => {
  const s = MonthState.parse(event);
  const ok = (): ProviderOutcome => ({ provider_id: s.provider_id, ok: true, code: null });
  const { settlement, providers } = deps();
  // Issued already: by this call before a lost reply (its retry would find the accruals emptied), or earlier. Told
  // again: a call that stored it may have ended before its event; the provider and period make the same event.
  const issued = await settlement.getStatement(s.provider_id, s.period);
  if (issued) await emitStatementIssued(issued);
  if (s.issued || issued) return ok();
  if (!s.done || !s.totals) throw new Error('issueStatement needs a fully read month');
  const accounts = Array.from({ length: ACCRUAL_SHARDS }, (_, i) => accruedAccount(s.provider_id, s.period, i));
  const [accrued, provider] = await Promise.all([settlement.balances(accounts), providers.get(s.provider_id)]);
  const built = buildStatement(s as ProviderMonth, accrued, provider?.value.custom_premium_bps ?? null, nowIso());
  if (!built.ok) return failed(s.period, s.provider_id, built.code, built.reasons);
  const r = await settlement.issue(built.statement, built.posting, built.expect, built.close);
  if (r.ok) {
    await emitStatementIssued(built.statement);
    return ok();
  }
  // contention: thrown, so the state's Retry runs it again. Anything else means the ledger moved under us.
  if (r.code === 'contention') throw new Error('the ledger is busy; retry');
  return failed(s.period, s.provider_id, 'reconciliation_failed', [`the accrual accounts changed while the statement was issued (${r.code}); settle again`]);
}).use(injectLambdaContext(logger));

/**
 * A provider not settled: its reasons go on the run record (the state machine's payload only carries a
 * small outcome, so a month of many failing providers stays within Step Functions' 256 KB).
 */
async function failed(period: string, providerId: string, code: string, reasons: string[]): Promise<ProviderOutcome> {
  logger.error('provider not settled', { provider_id: providerId, period, code, reasons });
  await deps().settlement.addFailure(period, { provider_id: providerId, code, reasons: reasons.slice(0, MAX_REASONS).map((x) => x.slice(0, 500)) });
  return { provider_id: providerId, ok: false, code };
}

const CaughtInput = z.object({
  period: Period,
  provider_id: ProviderId.optional(),
  error: z.object({ Error: z.string().max(256).optional(), Cause: z.string().optional() }).loose(),
});

/** The Catch of a provider's states: a task that failed after its retries (a corrupt record, a crash) is that provider's failure. */
export const providerFailed = middy(async (event: unknown): Promise<ProviderOutcome> => {
  const e = CaughtInput.parse(event);
  return failed(e.period, e.provider_id ?? 'unknown', e.error.Error ?? 'task_failed', [(e.error.Cause ?? 'a task failed after its retries').slice(0, 500)]);
}).use(injectLambdaContext(logger));

/** The Catch of the whole run: the month is marked failed with the error, so no run is left `running`. */
export const markFailed = middy(async (event: unknown) => {
  const e = CaughtInput.parse(event);
  const run = await deps().settlement.finish(e.period, 'failed', null, [{ provider_id: null, code: e.error.Error ?? 'task_failed', reasons: [(e.error.Cause ?? '').slice(0, 500)] }], nowIso());
  logger.error('settlement failed', { period: e.period, error: e.error });
  return { period: e.period, status: run.status };
}).use(injectLambdaContext(logger));

const ReconcileInput = z.object({
  period: Period,
  providers: z.array(ProviderId).max(MAX_PROVIDERS_PER_SETTLEMENT),
  results: z.array(z.object({ provider_id: z.string(), ok: z.boolean(), code: z.string().nullable() })).max(MAX_PROVIDERS_PER_SETTLEMENT),
});

/** S3 over the month, then the run's end: settled, or failed with every reason. */
export const reconcile = middy(async (event: unknown) => {
  const { period: p, providers, results } = ReconcileInput.parse(event);
  const { settlement } = deps();
  // Provider failures were recorded on the run with their reasons as they happened; any outcome not
  // recorded (the record was full) still counts.
  const recorded = (await settlement.getRun(p))?.failures ?? [];
  const failures: { provider_id: string | null; code: string; reasons: string[] }[] = [...recorded];
  for (const r of results) if (!r.ok && !recorded.some((f) => f.provider_id === r.provider_id)) failures.push({ provider_id: r.provider_id, code: r.code ?? 'failed', reasons: [] });
  const accounts = marketAccounts(p);
  const [statements, balances] = await Promise.all([settlement.statementsOf(p, providers), settlement.balances([...accounts.sales, ...accounts.margin, accounts.premium])]);
  const month = reconcileMonth(p, statements, balances);
  // With a provider unsettled the month cannot add up; its own reason says why, so only a clean month's mismatch is reported.
  if (failures.length === 0 && !month.ok) failures.push({ provider_id: null, code: 'reconciliation_failed', reasons: month.reasons.slice(0, MAX_REASONS) });
  const status = failures.length === 0 ? 'settled' : 'failed';
  if (status === 'failed') logger.error('settlement failed', { period: p, failures });
  const run = await settlement.finish(p, status, month.totals, failures, nowIso());
  return { period: p, status: run.status, totals: run.totals, failures: run.failures };
}).use(injectLambdaContext(logger));

// ---------- routes ----------

/** Starts the month's settlement. A settled month may be started again: the machine finds it settled and changes nothing. */
export const start = apiRoute('functions/settlement.start', async (req) => {
  const arn = process.env.PROVIDER_SETTLEMENT_ARN;
  if (!arn) throw new Error('PROVIDER_SETTLEMENT_ARN is not set');
  const p = periodParam(req.params.period);
  if (nowIso() < settleableAt(p)) throw conflict(`${p.period} ends at ${p.end}; it may be settled from ${settleableAt(p)}.`, 'period_open');
  const run = await deps().settlement.getRun(p.period);
  if (run?.status === 'running' && Date.parse(run.started_at) > nowMs() - STALE_RUN_S * 1000) {
    throw conflict(`${p.period} is being settled (started ${run.started_at}); wait for it to end.`, 'settlement_running');
  }
  const out = await sfnClient().send(new StartExecutionCommand({ stateMachineArn: arn, name: `settle-${p.period}-${nowMs()}`, input: JSON.stringify({ period: p.period }) }));
  return { status: 202, body: { period: p.period, execution_id: out.executionArn!, previous_status: run?.status ?? null } };
});

export const getRun = apiRoute('functions/settlement.getRun', async (req) => {
  const run = await deps().settlement.getRun(periodParam(req.params.period).period);
  if (!run) throw notFound('settlement run');
  return { status: 200, body: run };
});

export const setCustomRate = apiRoute<z.infer<typeof CustomRateBody>>('functions/settlement.setCustomRate', async (req) => {
  const id = req.params.id!;
  const saved = await deps().providers.modify(id, (p, at) => ({ ...p, custom_premium_bps: req.body.premium_bps, updated_at: at }));
  if (!saved) throw notFound('provider');
  return { status: 200, body: { provider_id: id, custom_premium_bps: saved.custom_premium_bps ?? null } };
});

export const listStatements = apiRoute<unknown, z.infer<typeof StatementsQuery>>('functions/settlement.listStatements', async (req) => ({
  status: 200,
  body: await deps().settlement.listStatements(providerIdOf(req), req.query.limit, req.query.cursor),
}));

export const getStatement = apiRoute('functions/settlement.getStatement', async (req) => {
  const s = await deps().settlement.getStatement(providerIdOf(req), periodParam(req.params.period).period);
  if (!s) throw notFound('statement');
  return { status: 200, body: s };
});
