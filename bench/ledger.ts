/**
 * Ledger benchmark: reservations and settlements through the real Credits → DynamoCreditStore path,
 * against an in-memory DynamoDB Local started here (on a free port) and stopped at the end.
 *
 *   npm run bench:ledger -- [--concurrency 32] [--ops 3000] [--startups 16] [--warmup 1000] [--phase-seconds 120]
 *
 * A warm-up (reserve + settle on 2 other startups, not reported) runs first: a cold JVM is much slower.
 * Two scenarios, each in two phases (reserve N holds with distinct idempotency keys, then settle each
 * hold to 60 % of its amount):
 *   A. one hot startup: every operation touches the same facility balance items;
 *   B. --startups startups (one facility each), operations spread round-robin.
 * Reported per phase: ops, seconds, ops/s, latency p50/p99, the most writes any single item received in
 * one wall-clock second (and which item; the same per partition key), result codes, and TransactWriteItems attempts by outcome.
 * Then the books are checked (per-facility balances against what the bench did, and auditAll over every
 * account): the exit code is 1 if they do not balance, if any operation threw, or if the whole run overruns
 * its bound (6 × --phase-seconds + 300 s); a phase cut by --phase-seconds is reported, with what it did.
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ACCOUNT_SHARDS } from '../infra/table.js';
import { localClientConfig } from '../local/aws.js';
import { createTable, dynamoDbLocalDir, startDynamoDbLocal, type DynamoDbLocal } from '../local/dynamodb.js';
import { DynamoCreditStore, documentClient } from '../packages/core/src/adapters/dynamodb/index.js';
import { Credits, Lending, MAX_HOLD_TTL_S, Tenants, auditAll, facilityAccount, type Facility } from '../packages/core/src/index.js';
import { percentile, runPhase, table, type PhaseRun } from './lib/stats.js';
import { WriteRecorder, type AttemptCounts, type HottestItem } from './lib/writes.js';
import { leasedScenario } from './lib/leased.js';

// ---------- parameters (every one bounded) ----------

const LIMITS = {
  concurrency: { def: 32, min: 1, max: 512 },
  ops: { def: 3_000, min: 1, max: 200_000 },
  startups: { def: 16, min: 2, max: 256 },
  warmup: { def: 1_000, min: 0, max: 50_000 },
  'phase-seconds': { def: 120, min: 1, max: 3_600 },
} as const;
type Flag = keyof typeof LIMITS;

const USAGE = `usage: npm run bench:ledger -- [options]
  --concurrency N     operations in flight (default ${LIMITS.concurrency.def}, ${LIMITS.concurrency.min}..${LIMITS.concurrency.max})
  --ops N             operations per phase (default ${LIMITS.ops.def}, ${LIMITS.ops.min}..${LIMITS.ops.max})
  --startups N        startups of scenario B (default ${LIMITS.startups.def}, ${LIMITS.startups.min}..${LIMITS.startups.max})
  --warmup N          reservations + settlements on 2 separate startups before measuring, to warm the JVM (default ${LIMITS.warmup.def})
  --phase-seconds S   no new operation starts in a phase after S seconds (default ${LIMITS['phase-seconds'].def}); a cut phase is reported as such
  --help`;

const OPTIONS = {
  concurrency: { type: 'string' },
  ops: { type: 'string' },
  startups: { type: 'string' },
  warmup: { type: 'string' },
  'phase-seconds': { type: 'string' },
  help: { type: 'boolean' },
} as const;

function parseFlags(): Record<Flag, number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>['values'];
  try {
    values = parseArgs({ options: OPTIONS, strict: true }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const out = {} as Record<Flag, number>;
  for (const flag of Object.keys(LIMITS) as Flag[]) {
    const raw = values[flag];
    const { def, min, max } = LIMITS[flag];
    const n = raw === undefined ? def : Number(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${flag} must be an integer in [${min}, ${max}], got ${raw}`);
    out[flag] = n;
  }
  return out;
}

class UsageError extends Error {}

// ---------- workload ----------

const TABLE_NAME = 'compux-bench';
/** 10^12 micros of principal (× 1.25 = 1.25·10^12 micros of credit): never runs out at these sizes. */
const PRINCIPAL_MICROS = 1_000_000_000_000;
const MULTIPLIER_BPS = 12_500;
/** 1.000000 to 1.996000 USD per hold, so postings are not all identical. */
const holdAmount = (i: number) => 1_000_000 + (i % 997) * 1_000;
/** Settled to 60 % of the hold; the other 40 % goes back to available. */
const settleAmount = (amount: number) => Math.floor((amount * 3) / 5);
/** Setup, the audit and shutdown on top of the four phases; past this the whole run is abandoned. */
const OVERHEAD_LIMIT_S = 300;

interface Scenario {
  label: string;
  key: string;
  startups: { startup_id: string; facility: Facility }[];
}

interface PhaseReport {
  scenario: string;
  operation: 'reserve' | 'settle';
  asked: number;
  run: PhaseRun;
  hottest: HottestItem;
  hottestPk: HottestItem;
  truncated: boolean;
  attempts: AttemptCounts;
}

interface Hold {
  id: string;
  startup: number;
  amount: number;
}

// ---------- lifecycle: DynamoDB Local is always stopped ----------

let ddb: DynamoDbLocal | undefined;
let stopRequested = false;

async function shutdown(): Promise<void> {
  const d = ddb;
  ddb = undefined;
  if (d) await d.stop();
}

function onSignal(signal: NodeJS.Signals): void {
  if (stopRequested) return;
  stopRequested = true;
  console.error(`\n${signal}: stopping DynamoDB Local and exiting`);
  void shutdown().finally(() => process.exit(130));
}

function dynamoDbLocalVersion(): string {
  try {
    // The jar's README starts its release notes with "<date> (<version>)", newest first.
    const readme = readFileSync(path.join(dynamoDbLocalDir(), 'README.txt'), 'utf8');
    return /^\s*\d{4}-\d{2}-\d{2} \(([^)]+)\)/m.exec(readme)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const fmt = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
/** ACCT#facility:fac_3kT9Qx…:available — ids shortened to 6 characters; the sk shown unless it is BALANCE. */
function shortItem(item: string): string {
  const [pk = item, sk = ''] = item.split('|');
  const short = (s: string) => s.replace(/\b(fac|stu|hold|pst|len)_([0-9A-Za-z]{6})[0-9A-Za-z]+/g, '$1_$2…');
  return sk === 'BALANCE' || sk === '' ? short(pk) : `${short(pk)} ${short(sk)}`;
}

async function main(): Promise<number> {
  const flags = parseFlags();
  const concurrency = flags.concurrency;
  const ops = flags.ops;
  const phaseMs = flags['phase-seconds'] * 1000;
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // The whole run is bounded too: six phases (warm-up included), plus setup/audit/shutdown.
  const watchdog = setTimeout(() => {
    console.error(`bench: still running after ${6 * flags['phase-seconds'] + OVERHEAD_LIMIT_S} s, abandoning`);
    void shutdown().finally(() => process.exit(1));
  }, (6 * flags['phase-seconds'] + OVERHEAD_LIMIT_S) * 1000);
  watchdog.unref();

  const loadStart = os.loadavg().map((x) => x.toFixed(1)).join(' ');
  const t0 = performance.now();
  ddb = await startDynamoDbLocal({ inMemory: true });
  const startupS = (performance.now() - t0) / 1000;
  await createTable(ddb.client, TABLE_NAME);

  const doc = documentClient({
    ...localClientConfig(ddb.endpoint),
    // At least one socket per operation in flight (the SDK default is 50), and no request may hang forever.
    requestHandler: { httpAgent: { keepAlive: true, maxSockets: Math.max(50, concurrency * 2) }, requestTimeout: 30_000 },
  });
  const recorder = new WriteRecorder();
  recorder.install(doc);
  const store = new DynamoCreditStore(doc, TABLE_NAME);
  const tenants = new Tenants(store, undefined);
  const lending = new Lending(store);
  const credits = new Credits(store);

  async function scenario(key: string, label: string, count: number): Promise<Scenario> {
    const lender = await tenants.createLender({ name: `bench ${key} lender` });
    if (!lender.ok || lender.replayed) throw new Error('bench setup: createLender failed');
    const caller = { role: 'lender' as const, lender_id: lender.value.id };
    const startups: Scenario['startups'] = [];
    for (let s = 0; s < count; s++) {
      const st = await tenants.createStartup({ name: `bench ${key} startup ${s}`, segment: 'seed' });
      if (!st.ok || st.replayed) throw new Error('bench setup: createStartup failed');
      const f = await lending.open(caller, {
        startup_id: st.value.id, principal_micros: PRINCIPAL_MICROS, multiplier_bps: MULTIPLIER_BPS, term_months: 12,
        origination_fee_bps: 200, servicing_fee_bps: 50,
      });
      if (!f.ok || f.replayed) throw new Error(`bench setup: open facility failed (${f.ok ? 'replayed' : f.code})`);
      startups.push({ startup_id: st.value.id, facility: f.value });
    }
    return { key, label, startups };
  }

  const bookProblems: string[] = [];

  /** Reserve `count` holds round-robin over the scenario's startups, then settle each; checks that scenario's books. */
  async function runScenario(sc: Scenario, count: number): Promise<PhaseReport[]> {
    const n = sc.startups.length;
    // Phase 1: reservations, distinct idempotency keys, round-robin over the scenario's startups.
    const holds: (Hold | undefined)[] = new Array(count);
    recorder.reset();
    const reserve = await runPhase(count, concurrency, phaseMs, async (i) => {
      const s = i % n;
      const amount = holdAmount(i);
      const r = await credits.reserve({
        startup_id: sc.startups[s]!.startup_id, amount_micros: amount, idempotency_key: `bench-${sc.key}-${i}`,
        request_hash: `bench-${amount}`, ttl_s: MAX_HOLD_TTL_S,
      });
      if (!r.ok) return r.code;
      holds[i] = { id: r.hold.id, startup: s, amount };
      return r.replayed ? 'replayed' : 'ok';
    }, () => stopRequested);
    const out: PhaseReport[] = [
      { scenario: sc.label, operation: 'reserve', asked: count, run: reserve, hottest: recorder.hottest(), hottestPk: recorder.hottestPk(), truncated: recorder.truncated, attempts: recorder.attempts },
    ];

    // Phase 2: settle every hold that was made, to 60 % of its amount.
    const made = holds.filter((h): h is Hold => h !== undefined);
    const settled = new Array<boolean>(made.length).fill(false);
    recorder.reset();
    const settle = await runPhase(made.length, concurrency, phaseMs, async (i) => {
      const h = made[i]!;
      const r = await credits.settle(h.id, settleAmount(h.amount));
      if (!r.ok) return r.code;
      settled[i] = !r.replayed;
      return r.replayed ? 'replayed' : 'ok';
    }, () => stopRequested);
    out.push({ scenario: sc.label, operation: 'settle', asked: made.length, run: settle, hottest: recorder.hottest(), hottestPk: recorder.hottestPk(), truncated: recorder.truncated, attempts: recorder.attempts });

    // The books of this scenario, against what the bench did: per facility, reserved = open holds,
    // spent = settled parts, available + reserved + spent = granted.
    const expect = sc.startups.map((x) => ({ reserved: 0, spent: 0, granted: x.facility.granted_micros }));
    made.forEach((h, i) => {
      const e = expect[h.startup]!;
      if (settled[i]) e.spent += settleAmount(h.amount);
      else e.reserved += h.amount;
    });
    for (const [s, x] of sc.startups.entries()) {
      const f = x.facility.id;
      const names = (['available', 'reserved', 'spent'] as const).map((k) => facilityAccount(f, k));
      const b = await store.getBalances(names);
      const [available, reserved, spent] = names.map((a) => b.get(a)?.balance_micros ?? Number.NaN) as [number, number, number];
      const e = expect[s]!;
      if (reserved !== e.reserved || spent !== e.spent || available + reserved + spent !== e.granted) {
        bookProblems.push(
          `${sc.label}, facility ${f}: available ${available} reserved ${reserved} spent ${spent}; expected reserved ${e.reserved} spent ${e.spent} and a sum of ${e.granted}`,
        );
      }
    }
    return out;
  }

  // Warm-up (not reported, but its books are checked and audited like the rest): a cold JVM is several
  // times slower for its first thousand requests, which would otherwise penalise whichever scenario runs first.
  const reports: PhaseReport[] = [];
  const warmup = flags.warmup > 0 ? await runScenario(await scenario('W', 'warm-up', 2), flags.warmup) : [];
  const a = await scenario('A', 'A: 1 hot startup', 1);
  const b = await scenario('B', `B: ${flags.startups} startups`, flags.startups);
  reports.push(...(await runScenario(a, ops)), ...(await runScenario(b, ops)));
  // C: the same hot startup's traffic paid through credit leases (what the gateway does since issue 13).
  const leasedRuns = [];
  for (const holderCount of [concurrency, 1]) {
    const c = await scenario(`C${holderCount}`, `C: 1 hot startup, leased, ${holderCount} holder(s)`, 1);
    const run = await leasedScenario(store, c.startups[0]!.startup_id, c.startups[0]!.facility, ops, concurrency, holderCount, holdAmount, settleAmount);
    bookProblems.push(...run.problems);
    leasedRuns.push({ holderCount, run });
  }

  const a0 = performance.now();
  const audit = await auditAll(store, ACCOUNT_SHARDS);
  const auditS = (performance.now() - a0) / 1000;
  const totalS = (performance.now() - t0) / 1000;

  // ---------- report ----------
  const cpus = os.cpus();
  console.log('CompuX ledger benchmark: Credits.reserve / Credits.settle → DynamoCreditStore → DynamoDB Local');
  console.log(`machine: ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.release()}`);
  console.log(`load average (1/5/15 min): ${loadStart} at start, ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at end (other processes share these CPUs)`);
  console.log(`software: node ${process.version}; DynamoDB Local ${dynamoDbLocalVersion()} (java, in memory, -sharedDb, started in ${startupS.toFixed(1)} s)`);
  console.log(
    `parameters: --concurrency ${concurrency} --ops ${ops} --startups ${flags.startups} --warmup ${flags.warmup} --phase-seconds ${flags['phase-seconds']}; ` +
      `1 facility per startup, credit ${(PRINCIPAL_MICROS * MULTIPLIER_BPS) / 10_000} micros each; hold 1.000–1.996 USD, settled to 60 %`,
  );
  if (warmup.length > 0) {
    console.log(`warm-up (not in the table): ${warmup.map((r) => `${r.run.done} ${r.operation} in ${r.run.seconds.toFixed(1)} s`).join(', ')}, on 2 other startups`);
  }
  console.log('');
  console.log(
    table(
      ['scenario', 'operation', 'ops', 'seconds', 'ops/s', 'p50 ms', 'p99 ms', 'max writes/item/s', 'hottest item'],
      reports.map((r) => [
        r.scenario,
        r.operation,
        r.run.timedOut ? `${r.run.done} (cut)` : String(r.run.done),
        fmt(r.run.seconds, 1),
        fmt(r.run.done / r.run.seconds, 0),
        fmt(percentile(r.run.latenciesMs, 50), 1),
        fmt(percentile(r.run.latenciesMs, 99), 1),
        `${r.hottest.writes}${r.truncated ? '+' : ''}`,
        `${shortItem(r.hottest.item)}${r.hottest.ties > 0 ? ` (+${r.hottest.ties} tied)` : ''}`,
      ]),
      new Set([2, 3, 4, 5, 6, 7]),
    ),
  );
  const aReserve = reports.find((r) => r.scenario === a.label && r.operation === 'reserve')!;
  const aRate = aReserve.run.done / aReserve.run.seconds;
  for (const { holderCount, run } of leasedRuns) {
    const how = holderCount === 1 ? `1 holder shared by ${concurrency} requests in flight, as one process serves them (flushes batch)` : `${holderCount} holders, one request at a time each, as Lambda's environments (a flush per request)`;
    console.log(
      `C: 1 hot startup on credit leases, ${how}: ${run.ops} requests in ${run.seconds.toFixed(1)} s = ${run.ops_per_s.toFixed(0)} reservations/s with their settlements ` +
        `(${(run.ops_per_s / aRate).toFixed(1)}× A's ${aRate.toFixed(0)} holds/s, which do not include settling); ${run.leases_taken} leases, ` +
        `${run.records_flushed} records flushed, ${run.records_lost} lost, ${run.refused} refused`,
    );
  }
  console.log('');
  console.log('partition keys (an account\'s ledger lines share its balance item\'s pk, so its partition takes 2 writes per posting line):');
  console.log(
    table(
      ['scenario', 'operation', 'max writes/pk/s', 'hottest pk'],
      reports.map((r) => [
        r.scenario,
        r.operation,
        `${r.hottestPk.writes}${r.truncated ? '+' : ''}`,
        `${shortItem(r.hottestPk.item)}${r.hottestPk.ties > 0 ? ` (+${r.hottestPk.ties} tied)` : ''}`,
      ]),
      new Set([2]),
    ),
  );
  console.log('');
  console.log('outcomes (result codes of Credits; TransactWriteItems attempts seen by the SDK middleware, retries included):');
  console.log(
    table(
      ['scenario', 'operation', 'results', 'tx ok', 'tx TransactionConflict', 'tx condition failed', 'tx throttled', 'tx other error'],
      reports.map((r) => [
        r.scenario,
        r.operation,
        [...r.run.codes].sort(([a], [b]) => a.localeCompare(b)).map(([c, k]) => `${c} ${k}`).join(', ') || '-',
        String(r.attempts.ok),
        String(r.attempts.transaction_conflict),
        String(r.attempts.condition_failed),
        String(r.attempts.throttled),
        String(r.attempts.other_error),
      ]),
      new Set([3, 4, 5, 6, 7]),
    ),
  );
  console.log('');

  const failures: string[] = [];
  for (const r of [...warmup, ...reports]) {
    // A cut phase still measured what it ran (ops/s over the operations done); it is flagged, not failed.
    if (r.run.timedOut) console.log(`note: ${r.scenario} ${r.operation} was cut by --phase-seconds after ${r.run.done} of ${r.asked} operations`);
    if (r.run.firstError) failures.push(`${r.scenario} ${r.operation}: an operation threw (${r.run.firstError})`);
  }
  console.log(
    `books: per-facility balances ${bookProblems.length === 0 ? 'as expected' : 'WRONG'}; auditAll over ${ACCOUNT_SHARDS} shards: ` +
      `${audit.ok ? 'ok' : 'NOT OK'} (${audit.accounts_checked} accounts, balances sum to ${audit.balance_sum_micros}, ${audit.mismatches.length} mismatches, ${auditS.toFixed(1)} s)`,
  );
  for (const p of bookProblems) console.log(`  ${p}`);
  for (const m of audit.mismatches) console.log(`  mismatch: ${m.account} cached ${m.cached_micros} ≠ lines ${m.lines_sum_micros}`);
  if (!audit.ok) failures.push('auditAll: the ledger does not balance');
  if (bookProblems.length > 0) failures.push('facility balances differ from what the bench did');
  console.log(`total: ${totalS.toFixed(1)} s`);
  if (failures.length > 0) {
    console.log('\nFAILED:');
    for (const f of failures) console.log(`  ${f}`);
    return 1;
  }
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(err instanceof UsageError ? `${err.message}\n${USAGE}` : err);
  code = err instanceof UsageError ? 2 : 1;
} finally {
  await shutdown();
}
process.exit(stopRequested ? 130 : code);
