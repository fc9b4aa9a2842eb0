/**
 * Test world for the ledger tests connected to DynamoDB Local: a fresh table, the real DynamoDB store,
 * and an optional fault injector (DynamoDB Local never throttles nor raises TransactionConflict).
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { freshTable } from '../setup/table.js';
import { DynamoCreditStore } from '../../packages/core/src/adapters/dynamodb/index.js';
import { Credits, Lending, Tenants, now, type Clock } from '../../packages/core/src/index.js';
import { rng as prng } from '../../packages/simulator/src/generate.js';

export interface Faults {
  /** Probability a TransactWriteItems is refused with TransactionConflict before it reaches the table. */
  conflictBefore: number;
  /** Probability it is throttled before it reaches the table. */
  throttleBefore: number;
  /** Probability it IS applied but the caller sees an error (a lost response): the retry must replay, not re-apply. */
  lostReplyAfter: number;
}

/** The writes faults are injected into: every transaction, and the lease flushes (single PutItems: a conflict there is a throttle). */
function faulted(commandName: string, input: { Item?: { type?: unknown } }): 'transaction' | 'put' | null {
  if (commandName === 'TransactWriteItemsCommand' || commandName === 'TransactWriteCommand') return 'transaction';
  if ((commandName === 'PutCommand' || commandName === 'PutItemCommand') && input.Item?.type === 'lease_flush') return 'put';
  return null;
}

export interface FaultCounts { conflicts: number; throttles: number; lostReplies: number }

/** Deterministic PRNG so a failing run can be replayed with the same seed (the simulator's mulberry32). */
export { prng };

export function injectFaults(doc: DynamoDBDocumentClient, faults: Faults, seed = 42): FaultCounts {
  const counts: FaultCounts = { conflicts: 0, throttles: 0, lostReplies: 0 };
  const rand = prng(seed);
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const kind = faulted(context.commandName ?? '', args.input as { Item?: { type?: unknown } });
      if (!kind) return next(args);
      const r = rand();
      if (r < faults.conflictBefore && kind === 'transaction') {
        counts.conflicts++;
        throw new TransactionCanceledException({
          message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]',
          $metadata: {},
          CancellationReasons: [{ Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }],
        });
      }
      if (r < faults.conflictBefore + faults.throttleBefore) {
        counts.throttles++;
        throw Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException', $metadata: {} });
      }
      const out = await next(args);
      if (r < faults.conflictBefore + faults.throttleBefore + faults.lostReplyAfter) {
        counts.lostReplies++;
        throw Object.assign(new Error('We encountered an internal error. Please try again.'), { name: 'InternalServerError', $metadata: {} });
      }
      return out;
    },
    { step: 'initialize', name: 'compuxFaultInjector', override: true },
  );
  return counts;
}

export async function world(prefix: string, opts: { faults?: Faults; seed?: number; clock?: Clock } = {}) {
  const t = await freshTable(prefix);
  const counts = opts.faults ? injectFaults(t.doc, opts.faults, opts.seed) : { conflicts: 0, throttles: 0, lostReplies: 0 };
  const store = new DynamoCreditStore(t.doc, t.tableName);
  const clock = opts.clock ?? now;
  const tenants = new Tenants(store, undefined, clock);
  const lending = new Lending(store, clock);
  const credits = new Credits(store, clock);

  /** A startup funded by one or more facilities from one lender. */
  async function fundedStartup(facilities: { principal_micros: number; multiplier_bps?: number; term_months?: number }[]) {
    const s = await tenants.createStartup({ name: `${prefix} startup`, segment: 'seed' });
    const l = await tenants.createLender({ name: `${prefix} lender` });
    if (!s.ok || s.replayed || !l.ok || l.replayed) throw new Error('setup failed');
    const caller = { role: 'lender' as const, lender_id: l.value.id };
    const opened = [];
    for (const f of facilities) {
      const r = await lending.open(caller, {
        startup_id: s.value.id, principal_micros: f.principal_micros, multiplier_bps: f.multiplier_bps ?? 12_500, term_months: f.term_months ?? 12,
        origination_fee_bps: 200, servicing_fee_bps: 50,
      });
      if (!r.ok || r.replayed) throw new Error('open failed');
      opened.push(r.value);
    }
    return { startup: s.value, lender: l.value, caller, facilities: opened };
  }

  return { ...t, store, tenants, lending, credits, counts, fundedStartup };
}
