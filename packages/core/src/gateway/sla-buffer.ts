/**
 * SLA samples from real traffic, written in batches (SPEC §2: hot items take at most one write per ten
 * requests). A provider's hourly SLA counter is shared by every request it serves, so each request adding
 * to it would make it the hottest item in the table. Samples are buffered and written once SLA_FLUSH_SAMPLES
 * have gathered or the oldest is SLA_FLUSH_AGE_MS old, after a reply. A container dropped while idle loses
 * at most one batch of samples: standing is a statistic, not money.
 */
import type { SlaRecorder, SlaSample } from '../sla.js';

export const SLA_FLUSH_SAMPLES = 32;
export const SLA_FLUSH_AGE_MS = 10_000;
/** Samples kept at most while writes fail: the oldest are dropped past it (a bound, not a queue that grows). */
export const SLA_BUFFER_MAX = 1_024;

export class SlaBuffer {
  private samples: SlaSample[] = [];
  private oldestMs: number | null = null;
  private writing: Promise<void> | null = null;

  constructor(
    private readonly sla: SlaRecorder,
    private readonly elapsedMs: () => number,
    private readonly onError: (err: unknown) => void,
    /** Samples that make a batch due: SLA_FLUSH_SAMPLES, or 1 to write after every reply. */
    private readonly flushSamples: number = SLA_FLUSH_SAMPLES,
  ) {}

  add(samples: readonly SlaSample[]): void {
    if (samples.length === 0) return;
    this.oldestMs ??= this.elapsedMs();
    this.samples.push(...samples);
    if (this.samples.length > SLA_BUFFER_MAX) this.samples.splice(0, this.samples.length - SLA_BUFFER_MAX);
  }

  /** Writes the buffer when it is due (or when `force`), one write at a time. */
  async maybeFlush(force = false): Promise<void> {
    // A write in flight is waited for, then what gathered meanwhile is judged again (bounded: two rounds).
    for (let round = 0; round < 2; round++) {
      if (this.writing) await this.writing;
      const due = this.samples.length >= this.flushSamples || (this.oldestMs !== null && this.elapsedMs() - this.oldestMs >= SLA_FLUSH_AGE_MS);
      if (this.samples.length === 0 || (!due && !force) || this.writing) return;
      const batch = this.samples;
      this.samples = [];
      this.oldestMs = null;
      this.writing = this.sla.record(batch).catch(this.onError).finally(() => (this.writing = null));
    }
    await this.writing;
  }
}
