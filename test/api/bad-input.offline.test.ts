/**
 * The pieces that refuse bad input, without a runtime: path parameter kinds (functions/lib/params.ts), duplicate keys
 * and depth (functions/lib/json.ts), sealed cursors (core cursor.ts, functions/lib/cursors.ts) and usage days.
 * test/api/bad-input.test.ts drives the same through HTTP on every route.
 */
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../infra/routes.js';
import { checkPathParams, routeParams } from '../../functions/lib/params.js';
import { jsonProblem } from '../../functions/lib/json.js';
import { BadCursorError, openCursor, sealCursor, withCursor } from '../../packages/core/src/adapters/dynamodb/cursor.js';
import { cursorBinding, cursorKey } from '../../functions/lib/cursors.js';
import { usageDay } from '../../functions/lib/days.js';
import { HttpError } from '../../functions/lib/errors.js';

const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e as HttpError;
  }
  throw new Error('not refused');
};

describe('path parameters', () => {
  it('every parameter of every row has a kind', () => {
    // Act, Assess: routeParams throws for a parameter with no kind.
    for (const row of ROUTES) expect(() => routeParams(row), `${row.method} ${row.path}`).not.toThrow();
  });

  it('refuses ids that cannot exist with a 404 naming the param, a bad month with a 400', () => {
    // Prepare
    const facility = { method: 'GET', path: '/v1/facilities/{id}/statements/{period}' } as const;
    // Act
    const long = refusal(() => checkPathParams(facility, { id: `fac_${'a'.repeat(3_000)}`, period: '2027-01' }));
    const nul = refusal(() => checkPathParams(facility, { id: 'fac_ab\u0000c', period: '2027-01' }));
    const prefix = refusal(() => checkPathParams(facility, { id: 'stu_abcdefgh', period: '2027-01' }));
    const month = refusal(() => checkPathParams(facility, { id: 'fac_abcdefgh', period: '9999-99' }));
    // Assess
    for (const e of [long, nul, prefix]) expect([e.status, e.code, e.param]).toEqual([404, 'not_found', 'id']);
    expect([month.status, month.code, month.param]).toEqual([400, 'invalid_period', 'period']);
    expect(checkPathParams(facility, { id: 'fac_abcdefgh', period: '2027-01' })).toEqual({ id: 'fac_abcdefgh', period: '2027-01' });
  });

  it('throws for a parameter of no kind (a new route fails at import)', () => {
    expect(() => routeParams({ method: 'GET', path: '/v1/widgets/{id}' })).toThrow(/no kind/);
  });
});

describe('JSON bodies', () => {
  it.each([
    ['{"a":1,"a":2}', 'a'],
    ['{"a":1,"\\u0061":2}', 'a'],
    ['{"x":{"b":1,"c":{"d":1},"b":2}}', 'x.b'],
    ['{"alerts":[{"f":1},{"f":1,"f":2}]}', 'alerts.1.f'],
  ])('finds the duplicate key in %s', (text, path) => {
    expect(jsonProblem(text)).toEqual({ kind: 'duplicate_key', path });
  });

  it('lets the same key through in sibling objects, and keys inside strings', () => {
    expect(jsonProblem('{"a":[{"k":1},{"k":2}],"s":"{\\"a\\":1,\\"a\\":2}","b":{"a":1}}')).toBeNull();
  });

  it('refuses nesting past the bound, without recursion', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(jsonProblem(deep)?.kind).toBe('too_deep');
    expect(jsonProblem(`${'['.repeat(64)}${']'.repeat(64)}`)).toBeNull();
  });
});

describe('sealed cursors', () => {
  const key = cursorKey('k'.repeat(40));
  const binding = cursorBinding({ method: 'GET', path: '/v1/keys' }, { role: 'startup', tenant_id: 'stu_a' }, {}, { limit: '5' });

  it('open for the list they were sealed for, whatever the page size', () => {
    // Act
    const sealed = sealCursor('abc', binding, key);
    const again = cursorBinding({ method: 'GET', path: '/v1/keys' }, { role: 'startup', tenant_id: 'stu_a' }, {}, { limit: '50', cursor: sealed });
    // Assess
    expect(openCursor(sealed, again, key)).toBe('abc');
  });

  it.each([
    ['another caller', cursorBinding({ method: 'GET', path: '/v1/keys' }, { role: 'startup', tenant_id: 'stu_b' }, {}, {})],
    ['another list', cursorBinding({ method: 'GET', path: '/v1/bookings' }, { role: 'startup', tenant_id: 'stu_a' }, {}, {})],
    ['another filter', cursorBinding({ method: 'GET', path: '/v1/keys' }, { role: 'startup', tenant_id: 'stu_a' }, {}, { lender_id: 'len_x' })],
  ])('refuse %s', (_n, other) => {
    expect(() => openCursor(sealCursor('abc', binding, key), other, key)).toThrow(BadCursorError);
  });

  it('refuse a truncated, edited or unsealed cursor, and another key', () => {
    const sealed = sealCursor('abc', binding, key);
    for (const bad of [sealed.slice(0, -1), sealed.replace('abc', 'abd'), 'abc', '', 'c1..', `c1.abc.${'A'.repeat(43)}`]) {
      expect(() => openCursor(bad, binding, key), bad).toThrow(BadCursorError);
    }
    expect(() => openCursor(sealed, binding, cursorKey('z'.repeat(40)))).toThrow(BadCursorError);
  });

  it('refuse to work with a short secret', () => {
    expect(() => cursorKey('short')).toThrow(/COMPUX_CURSOR_SECRET/);
  });

  it('turn a start key DynamoDB refuses into a 400, and nothing else', async () => {
    const refused = Object.assign(new Error('The provided starting key is invalid: x'), { name: 'ValidationException' });
    await expect(withCursor(true, () => Promise.reject(refused))).rejects.toBeInstanceOf(BadCursorError);
    await expect(withCursor(false, () => Promise.reject(refused))).rejects.toBe(refused);
    const other = Object.assign(new Error('Item size has exceeded the maximum allowed size'), { name: 'ValidationException' });
    await expect(withCursor(true, () => Promise.reject(other))).rejects.toBe(other);
  });
});

describe('usage days', () => {
  it.each(['9999-99-99', '0000-00-00', '2027-02-30', '2027-13-01', '2027-01-01garbage', '1999-12-31', '3000-01-01', '2027-01-01T25:00:00Z', 'x'.repeat(50)])(
    'refuses %s naming the field',
    (text) => {
      const e = refusal(() => usageDay(text, 'to'));
      expect([e.status, e.code, e.param]).toEqual([400, 'invalid_date', 'to']);
    },
  );

  it('takes a day or an instant on one, as its UTC day', () => {
    expect(usageDay('2027-02-28', 'from')).toBe('2027-02-28');
    expect(usageDay('2028-02-29T23:30:00-01:00', 'from')).toBe('2028-03-01');
  });
});
