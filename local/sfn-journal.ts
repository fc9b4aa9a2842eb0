/**
 * The local Step Functions' record of running executions, so a restart of the runtime does not lose them (on AWS an
 * execution outlives everything but its own timeout: a booking's lifecycle runs for weeks). One JSON line per start
 * and per end, appended to a file in the runtime's data folder; on load, the executions started and not ended are
 * what was running when the runtime stopped (a crash, Ctrl-C), and the file is rewritten to just those.
 *
 * A torn last line (the process died mid-write) is skipped: the execution it named is either already recorded
 * (an end: it ran again from its start, which resumable workflows allow) or was never acknowledged to its starter.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface JournalEntry {
  machine: string;
  name: string;
  input: string;
}

/** Lines appended before the file is rewritten to the running executions only: bounds its size. */
const MAX_LINES_BEFORE_COMPACTION = 10_000;

type Line = ({ op: 'start'; arn: string } & JournalEntry) | { op: 'end'; arn: string };

export class ExecutionJournal {
  readonly #running = new Map<string, JournalEntry>();
  #lines = 0;

  constructor(readonly file: string) {}

  /** The executions running when the runtime last stopped, by execution ARN; the file is compacted to them. */
  load(): Map<string, JournalEntry> {
    this.#running.clear();
    const text = existsSync(this.file) ? readFileSync(this.file, 'utf8') : '';
    for (const raw of text.split('\n')) {
      const line = parseLine(raw);
      if (line?.op === 'start') this.#running.set(line.arn, { machine: line.machine, name: line.name, input: line.input });
      else if (line?.op === 'end') this.#running.delete(line.arn);
    }
    this.#compact();
    return new Map(this.#running);
  }

  started(arn: string, e: JournalEntry): void {
    this.#running.set(arn, e);
    this.#append({ op: 'start', arn, ...e });
  }

  ended(arn: string): void {
    if (this.#running.delete(arn)) this.#append({ op: 'end', arn });
  }

  #append(line: Line): void {
    appendFileSync(this.file, `${JSON.stringify(line)}\n`);
    if (++this.#lines > MAX_LINES_BEFORE_COMPACTION) this.#compact();
  }

  /** Rewrites the file to the running executions (a rename: a crash leaves the old file or the new, never half). */
  #compact(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, [...this.#running].map(([arn, e]) => `${JSON.stringify({ op: 'start', arn, ...e })}\n`).join(''));
    renameSync(tmp, this.file);
    this.#lines = this.#running.size;
  }
}

function parseLine(raw: string): Line | null {
  if (raw.trim() === '') return null;
  try {
    const v = JSON.parse(raw) as Partial<Line & JournalEntry>;
    if (typeof v.arn !== 'string') return null;
    if (v.op === 'end') return { op: 'end', arn: v.arn };
    if (v.op === 'start' && typeof v.machine === 'string' && typeof v.name === 'string' && typeof v.input === 'string') {
      return { op: 'start', arn: v.arn, machine: v.machine, name: v.name, input: v.input };
    }
  } catch {
    // a torn line: see the module comment
  }
  return null;
}
