/** Covenants offline (covenants.ts): validation, what each kind measures, and a breach told once per breach. */
import { describe, expect, it } from 'vitest';
import { checkCovenants, evaluate, measure, statesFor, type CovenantSet } from '../../packages/core/src/index.js';

const figures = (burn24h: number, burn7d: number, runway: number | null) => ({ burn_24h_micros: burn24h, burn_7d_micros: burn7d, runway_days: runway });

describe('covenants', () => {
  it('measure each kind, an undefined figure (no spend) never breaching', () => {
    // Act / Assess
    expect(measure({ kind: 'min_runway_days', threshold: 30, action: 'notify' }, figures(10, 70, 12.5))).toEqual({ value: 12.5, breached: true });
    expect(measure({ kind: 'min_runway_days', threshold: 30, action: 'notify' }, figures(0, 0, null))).toEqual({ value: null, breached: false });
    expect(measure({ kind: 'max_spend_24h_micros', threshold: 100, action: 'notify' }, figures(100, 700, 1))).toEqual({ value: 100, breached: false });
    expect(measure({ kind: 'max_spend_24h_micros', threshold: 100, action: 'notify' }, figures(101, 700, 1))).toEqual({ value: 101, breached: true });
    expect(measure({ kind: 'max_burn_ratio', threshold: 3, action: 'freeze' }, figures(40, 70, 1))).toEqual({ value: 4, breached: true });
    expect(measure({ kind: 'max_burn_ratio', threshold: 3, action: 'freeze' }, figures(5, 0, null))).toEqual({ value: null, breached: false });
  });

  it('refuse a kind twice, more than three, and thresholds out of bounds or fractional micros, naming the field', () => {
    // Act / Assess
    expect(checkCovenants([{ kind: 'min_runway_days', threshold: 5, action: 'notify' }, { kind: 'min_runway_days', threshold: 6, action: 'notify' }])).toMatchObject({ ok: false, field: 'covenants[1].kind' });
    expect(checkCovenants([{ kind: 'max_burn_ratio', threshold: 0.9, action: 'notify' }])).toMatchObject({ ok: false, field: 'covenants[0].threshold' });
    expect(checkCovenants([{ kind: 'max_spend_24h_micros', threshold: 1.5, action: 'notify' }])).toMatchObject({ ok: false, field: 'covenants[0].threshold' });
    expect(checkCovenants([{ kind: 'min_runway_days', threshold: Number.NaN, action: 'notify' }])).toMatchObject({ ok: false });
    expect(checkCovenants([{ kind: 'min_runway_days', threshold: 30, action: 'freeze' }, { kind: 'max_burn_ratio', threshold: 3, action: 'notify' }])).toEqual({ ok: true });
  });

  it('a breach is new once: it keeps its start while it lasts, ends when met, and a later breach is new again', () => {
    // Prepare
    const covenants = [{ kind: 'max_spend_24h_micros' as const, threshold: 100, action: 'notify' as const }];
    let set: CovenantSet = { facility_id: 'fac_x', lender_id: 'len_x', startup_id: 'stu_x', covenants, states: statesFor(covenants, []), updated_at: 't0', version: 1 };
    const step = (burn: number, at: string) => {
      const e = evaluate(set, figures(burn, burn, 1), at);
      set = { ...set, states: e.map((x) => ({ ...x.state, notified: x.state.breached })) };
      return e[0]!;
    };
    // Act / Assess
    expect(step(150, 't1')).toMatchObject({ new_breach: true, state: { breached_since: 't1' } });
    expect(step(160, 't2')).toMatchObject({ new_breach: false, state: { breached_since: 't1', notified: true } });
    expect(step(50, 't3')).toMatchObject({ new_breach: false, state: { breached: false, breached_since: null } });
    expect(step(150, 't4')).toMatchObject({ new_breach: true, state: { breached_since: 't4', notified: false } });
  });

  it('keep the state of a kind the lender keeps when replacing the set', () => {
    // Prepare
    const prev = [{ kind: 'min_runway_days' as const, value: 3, breached: true, breached_since: 't1', notified: true, evaluated_at: 't1' }];
    // Act
    const states = statesFor([{ kind: 'min_runway_days', threshold: 10, action: 'freeze' }, { kind: 'max_burn_ratio', threshold: 3, action: 'notify' }], prev);
    // Assess
    expect(states).toEqual([prev[0], { kind: 'max_burn_ratio', value: null, breached: false, breached_since: null, notified: false, evaluated_at: null }]);
  });
});
