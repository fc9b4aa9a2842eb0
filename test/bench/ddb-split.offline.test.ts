import { describe, expect, it } from 'vitest';
import { splitByReply, type DdbCall } from '../../bench/lib/ddb-counter.js';

// bench:proxy's "DynamoDB calls before the reply": a call counts only if the reply could have waited for it.
describe('splitByReply', () => {
  const windows = [{ startMs: 0, endMs: 10 }, { startMs: 20, endMs: 30 }];

  it('counts a call answered before the reply ended as before', () => {
    // Prepare
    const calls: DdbCall[] = [{ op: 'GetItem', atMs: 2, endMs: 8 }];
    // Act
    const { before, after } = splitByReply(calls, windows, 40);
    // Assess
    expect(before.get('GetItem')).toBe(1);
    expect(after.size).toBe(0);
  });

  it('counts a call that arrived before the reply ended but was answered after it as after', () => {
    // Prepare: the flush starts as the server writes the last byte, and lands once the client has it.
    const calls: DdbCall[] = [{ op: 'TransactWriteItems', atMs: 9.9, endMs: 14 }];
    // Act
    const { before, after } = splitByReply(calls, windows, 40);
    // Assess
    expect(before.size).toBe(0);
    expect(after.get('TransactWriteItems')).toBe(1);
  });

  it('counts a call still unanswered as after, and attributes calls to their own request', () => {
    // Prepare
    const calls: DdbCall[] = [
      { op: 'Query', atMs: 12, endMs: 13 },
      { op: 'Query', atMs: 21, endMs: 29 },
      { op: 'UpdateItem', atMs: 25, endMs: null },
      { op: 'Query', atMs: 50, endMs: 51 },
    ];
    // Act
    const { before, after } = splitByReply(calls, windows, 40);
    // Assess: the one at 50 is past untilMs and ignored
    expect(Object.fromEntries(before)).toEqual({ Query: 1 });
    expect(Object.fromEntries(after)).toEqual({ Query: 1, UpdateItem: 1 });
  });
});
