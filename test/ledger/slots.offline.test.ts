/** In-process concurrency slots (packages/core/src/concurrency.ts), offline: caps, all or none, give back. */
import { describe, expect, it } from 'vitest';
import { InProcessSlots } from '../../packages/core/src/index.js';

describe('in-process slots', () => {
  it('take in the key and the startup together or in neither; a slot given back frees its place', () => {
    // Prepare: the startup's cap is 2, each key's 5.
    const slots = new InProcessSlots();
    const of = (key: string) => [{ scope: `key:${key}`, max: 5 }, { scope: 'startup:s', max: 2 }];
    // Act
    const a = slots.take(of('a'));
    const b = slots.take(of('b'));
    const c = slots.take(of('c'));
    slots.give(['key:a', 'startup:s']);
    const d = slots.take(of('c'));
    // Assess
    expect([a, b]).toEqual([{ ok: true }, { ok: true }]);
    expect(c).toEqual({ ok: false, scope: 'startup:s' });
    expect(d).toEqual({ ok: true });
  });

  it("a key's own cap refuses before the startup's", () => {
    // Prepare
    const slots = new InProcessSlots();
    const scopes = [{ scope: 'key:a', max: 1 }, { scope: 'startup:s', max: 10 }];
    // Act
    const first = slots.take(scopes);
    const second = slots.take(scopes);
    // Assess
    expect(first).toEqual({ ok: true });
    expect(second).toEqual({ ok: false, scope: 'key:a' });
  });
});
