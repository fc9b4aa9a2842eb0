/** Small helpers of the benchmarks: a bounded closed-loop runner, percentiles and a plain-text table. */

export interface PhaseRun {
  /** Operations started and finished (≤ the number asked when the time limit stopped the phase). */
  done: number;
  seconds: number;
  /** Per-operation latency in ms, in completion order. */
  latenciesMs: Float64Array;
  /** Result code → count (e.g. ok, contention, exceeds_credit, error:InvariantError). */
  codes: Map<string, number>;
  timedOut: boolean;
  firstError: string | null;
}

/**
 * Runs op(0..total-1) with `concurrency` operations in flight (a closed loop: each worker starts the next
 * operation when its previous one finishes). No new operation starts after `limitMs` or once `stop()` says
 * so; those in flight are awaited. An exception counts as `error:<name>` and does not stop the phase.
 */
export async function runPhase(
  total: number,
  concurrency: number,
  limitMs: number,
  op: (i: number) => Promise<string>,
  stop: () => boolean = () => false,
): Promise<PhaseRun> {
  const latencies = new Float64Array(total);
  const codes = new Map<string, number>();
  let next = 0;
  let done = 0;
  let timedOut = false;
  let firstError: string | null = null;
  const start = performance.now();
  const deadline = start + limitMs;

  async function worker(): Promise<void> {
    for (;;) {
      if (stop()) return;
      if (performance.now() >= deadline) {
        if (next < total) timedOut = true;
        return;
      }
      const i = next++;
      if (i >= total) return;
      const t0 = performance.now();
      let code: string;
      try {
        code = await op(i);
      } catch (err) {
        const e = err as { name?: string; message?: string };
        code = `error:${e.name ?? 'Error'}`;
        firstError ??= `${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
      }
      latencies[done++] = performance.now() - t0;
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
  }

  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return { done, seconds: (performance.now() - start) / 1000, latenciesMs: latencies.subarray(0, done), codes, timedOut, firstError };
}

/** Nearest-rank percentile (p in (0, 100]) of unsorted values; NaN when empty. */
export function percentile(values: Float64Array, p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** A left/right aligned plain-text table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number>): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
