/** Key layout of the single table (see README "Table design"). Every key builder lives here or in its entity file. */
import { createHash } from 'node:crypto';

export type Key = { pk: string; sk: string };

/** Stable shard of an id in [0, n): spreads sparse-index partitions so no single GSI key gets hot. */
export function shardOf(id: string, n: number): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % n;
}

/** An hour bucket key for spend: 2026-11-21T17. */
export const hourOf = (iso: string): string => iso.slice(0, 13);
