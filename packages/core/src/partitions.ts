/** Walking items spread over sharded partitions, a page at a time, for schedules that visit every one (bounded). */

export type PartitionPage<T> = (shard: number, cursor: string | undefined) => Promise<{ items: T[]; cursor: string | null }>;

/** Calls `each` for every item of shards 0..shards−1, at most `maxPages` pages a shard (a bound, not a need). */
export async function forEachInPartitions<T>(shards: number, maxPages: number, page: PartitionPage<T>, each: (item: T) => Promise<void>): Promise<void> {
  for (let shard = 0; shard < shards; shard++) {
    let cursor: string | undefined;
    for (let n = 0; n < maxPages; n++) {
      const got = await page(shard, cursor);
      for (const item of got.items) await each(item);
      if (!got.cursor) break;
      cursor = got.cursor;
    }
  }
}
