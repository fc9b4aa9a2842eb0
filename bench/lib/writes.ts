/**
 * SDK middleware (initialize step) on the document client that watches every TransactWriteItems:
 *
 * - for each one that SUCCEEDS, every item it wrote (Put.Item / Update.Key / Delete.Key; ConditionCheck is
 *   not a write) is counted under (item pk+sk, wall-clock second of completion), so the bench can report
 *   the most writes any single item took in one second, and which item that was; the same per partition
 *   key (an account's ledger lines share the pk of its balance item);
 * - every attempt is classified (ok, TransactionConflict, ConditionalCheckFailed, throttled, other error)
 *   so retries and contention inside transact() are visible even when the caller finally succeeds.
 *
 * The initialize step runs before lib-dynamodb marshalls the input, so keys are plain strings; marshalled
 * ({ S: "…" }) keys are accepted too, in case that order ever changes.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface AttemptCounts {
  ok: number;
  transaction_conflict: number;
  condition_failed: number;
  throttled: number;
  other_error: number;
}

export interface HottestItem {
  /** Most writes one item received within one wall-clock second (0 when nothing was written). */
  writes: number;
  item: string;
  /** The second (epoch s) it happened in. */
  second: number;
  /** Other (item, second) pairs with the same count. */
  ties: number;
}

/** Bound on (key, second) pairs kept per counter and phase (memory): an op writes 6–9 items, so this covers ~200 k ops. */
const MAX_TRACKED_PAIRS = 2_000_000;

type Written = Record<string, unknown>;

/** A key attribute's value, plain (document client, before marshalling) or marshalled ({ S: "…" }). */
export function keyPart(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && 'S' in v && typeof (v as { S: unknown }).S === 'string') return (v as { S: string }).S;
  return String(v);
}

/** The items a TransactWriteItems input writes (ConditionCheck is not a write). */
export function writtenKeys(input: unknown): { pk: string; sk: string }[] {
  const items = (input as { TransactItems?: Written[] } | undefined)?.TransactItems ?? [];
  const out: { pk: string; sk: string }[] = [];
  for (const t of items) {
    const put = t.Put as { Item?: Written } | undefined;
    const upd = t.Update as { Key?: Written } | undefined;
    const del = t.Delete as { Key?: Written } | undefined;
    const key = put?.Item ?? upd?.Key ?? del?.Key;
    if (key) out.push({ pk: keyPart(key.pk), sk: keyPart(key.sk) });
  }
  return out;
}

function classify(err: unknown): keyof AttemptCounts {
  const name = (err as { name?: string }).name ?? '';
  if (name === 'TransactionCanceledException') {
    const codes = ((err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? []).map((r) => r.Code);
    if (codes.includes('ConditionalCheckFailed')) return 'condition_failed';
    if (codes.includes('TransactionConflict')) return 'transaction_conflict';
    if (codes.includes('ThrottlingError') || codes.includes('ProvisionedThroughputExceeded')) return 'throttled';
    return 'other_error';
  }
  if (name === 'TransactionConflictException') return 'transaction_conflict';
  if (/Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded/.test(name)) return 'throttled';
  return 'other_error';
}

/** Counts per (key, wall-clock second), bounded; reports the hottest pair. */
class SecondCounter {
  private counts = new Map<string, number>();
  truncated = false;

  add(second: number, key: string): void {
    const slot = `${second}|${key}`;
    const prev = this.counts.get(slot);
    if (prev === undefined && this.counts.size >= MAX_TRACKED_PAIRS) {
      this.truncated = true;
      return;
    }
    this.counts.set(slot, (prev ?? 0) + 1);
  }

  hottest(): HottestItem {
    let best: HottestItem = { writes: 0, item: '-', second: 0, ties: 0 };
    for (const [slot, n] of this.counts) {
      if (n < best.writes) continue;
      const cut = slot.indexOf('|');
      if (n > best.writes) best = { writes: n, item: slot.slice(cut + 1), second: Number(slot.slice(0, cut)), ties: 0 };
      else best.ties++;
    }
    return best;
  }
}

export class WriteRecorder {
  /** Per item (pk|sk). */
  private items = new SecondCounter();
  /** Per partition key: DynamoDB's throughput limits are per partition, and an account's lines share its balance's pk. */
  private pks = new SecondCounter();
  attempts: AttemptCounts = { ok: 0, transaction_conflict: 0, condition_failed: 0, throttled: 0, other_error: 0 };

  /** Starts a new phase: forgets the counts of the previous one. */
  reset(): void {
    this.items = new SecondCounter();
    this.pks = new SecondCounter();
    this.attempts = { ok: 0, transaction_conflict: 0, condition_failed: 0, throttled: 0, other_error: 0 };
  }

  record(keys: readonly { pk: string; sk: string }[], atMs: number): void {
    const second = Math.floor(atMs / 1000);
    for (const k of keys) {
      this.items.add(second, `${k.pk}|${k.sk}`);
      this.pks.add(second, k.pk);
    }
  }

  /** True if the bound on tracked pairs was hit (the maxima are then lower bounds). */
  get truncated(): boolean {
    return this.items.truncated || this.pks.truncated;
  }

  /** The item (pk|sk) written most often within one second. */
  hottest(): HottestItem {
    return this.items.hottest();
  }

  /** The partition key written most often within one second (all its items together). */
  hottestPk(): HottestItem {
    return this.pks.hottest();
  }

  install(doc: DynamoDBDocumentClient): void {
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'TransactWriteItemsCommand' && context.commandName !== 'TransactWriteCommand') return next(args);
        try {
          const out = await next(args);
          this.attempts.ok++;
          this.record(writtenKeys(args.input), Date.now());
          return out;
        } catch (err) {
          this.attempts[classify(err)]++;
          throw err;
        }
      },
      { step: 'initialize', name: 'compuxBenchWriteRecorder', override: true },
    );
  }
}
