/**
 * Bad cursors for a row that takes one: unsealed ones in the old format that keep the caller's own partition but change
 * the key's shape (they were 500s), forged seals, real cursors truncated, edited or taken from another list or another
 * caller, and — sealed with the real key, as if it had leaked — inner keys of the wrong shape or another partition:
 * every one a 400 `invalid_cursor` (or zod's refusal of an oversized one) naming `cursor`.
 */
import type { Role, RouteDef } from '../../../infra/routes.js';
import { routeKey } from '../../../infra/routes.js';
import { cursorBinding, sealReplyCursor } from '../../../functions/lib/cursors.js';
import type { BadCase } from './cases.js';

/** A cursor the server handed out: its list (row, role, path) and the request that got it. */
export interface RealCursor {
  row: string;
  role: Exclude<Role, 'public'>;
  path: string;
  cursor: string;
}

export interface CursorWorld {
  /** Tenant ids by role, for the partitions a forger would guess and for sealing as the caller. */
  tenants: Partial<Record<Exclude<Role, 'public'>, string | null>>;
  realCursors: RealCursor[];
  /** `<row key> <role>` of each list the role can read as is (no filter needed): where a cursor reaches the query. */
  listable: Set<string>;
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** The inner key of a sealed cursor (`c1.<inner>.<mac>`), decoded. */
export function innerOf(sealed: string): Record<string, string> {
  const inner = sealed.slice(3, sealed.lastIndexOf('.'));
  return JSON.parse(Buffer.from(inner, 'base64url').toString('utf8')) as Record<string, string>;
}

/** Key shapes around a partition: every one DynamoDB would refuse as the start of some list's query. */
function shapes(field: string, partition: string): Array<Record<string, string>> {
  const gsi = field.replace(/pk$/, '');
  return [
    { [field]: partition },
    { [field]: partition, sk: 'ZZZ' },
    { [field]: partition, [`${gsi}sk`]: 'ZZZ' },
    { pk: partition, sk: 'X', gsi1pk: partition, gsi1sk: 'X' },
    { [field]: partition, [`${gsi}sk`]: 'Z'.repeat(500), pk: 'Y'.repeat(500), sk: 'Y'.repeat(500) },
  ];
}

/** Partitions a forger would try: the tenant's own, as each kind of list names it, and a real cursor's. */
function partitions(world: CursorWorld, real: RealCursor | undefined): Array<{ field: string; value: string }> {
  const out: Array<{ field: string; value: string }> = [];
  const ids = world.tenants;
  if (ids.startup) out.push({ field: 'gsi2pk', value: `STARTUP#${ids.startup}` }, { field: 'pk', value: `STARTUP#${ids.startup}` });
  if (ids.lender) out.push({ field: 'gsi1pk', value: `LENDER#${ids.lender}` });
  if (ids.provider) out.push({ field: 'pk', value: `PROVIDER#${ids.provider}` }, { field: 'gsi1pk', value: `PROVIDER#${ids.provider}` });
  if (real) {
    const inner = innerOf(real.cursor);
    for (const [field, value] of Object.entries(inner)) if (field.endsWith('pk')) out.push({ field, value });
  }
  return out;
}

export function cursorCases(row: RouteDef, world: CursorWorld, path: string): Array<Omit<BadCase, 'role'> & { role?: BadCase['role'] }> {
  const key = routeKey(row);
  const url = (cursor: string) => `${path}?${new URLSearchParams({ cursor, limit: '1' }).toString()}`;
  const out: Array<Omit<BadCase, 'role'> & { role?: BadCase['role'] }> = [];
  const add = (label: string, cursor: string, role?: BadCase['role'], lenient = false) =>
    out.push({
      label: `cursor: ${label}`, method: row.method, url: url(cursor), names: 'cursor', ...(role ? { role } : {}),
      // Over 2,000 characters zod refuses it before it is opened; every other bad cursor is `invalid_cursor`.
      ...(lenient ? { lenient } : { code: cursor.length > 2_000 ? 'invalid_request' : 'invalid_cursor' }),
    });

  const own = world.realCursors.find((c) => c.row === key);
  const parts = partitions(world, own);
  // The old format (what the measured 500s were): unsealed, the caller's partition, another shape.
  parts.slice(0, 4).forEach((p, i) => shapes(p.field, p.value).forEach((s, j) => add(`unsealed, own partition ${i}, shape ${j}`, b64(s))));
  add('forged seal', `c1.${b64({ pk: 'X', sk: 'Y' })}.${'A'.repeat(43)}`);
  add('seal without a mac', `c1.${b64({ pk: 'X' })}.`);
  add('only the prefix', 'c1..');
  add('empty', '');
  add('3,000 characters', 'c'.repeat(3_000));
  add('NUL', 'c1.\u0000.x');
  add('unicode', 'c1.ключ.подпись');
  add('not base64', 'c1.!!!!.????');

  if (own) {
    add('a real one truncated by one', own.cursor.slice(0, -1), own.role);
    add('a real one cut in half', own.cursor.slice(0, Math.floor(own.cursor.length / 2)), own.role);
    add('a real one with its key edited', `c1.${b64({ ...innerOf(own.cursor), sk: 'ZZZ' })}${own.cursor.slice(own.cursor.lastIndexOf('.'))}`, own.role);
    add('a real one unsealed', own.cursor.slice(3, own.cursor.lastIndexOf('.')), own.role);
    // The same list for another caller of the row: another binding.
    const other = row.auth.find((r) => r !== own.role && r !== 'public' && world.tenants[r as Exclude<Role, 'public'>] !== undefined);
    if (other) add(`a real one from the ${own.role}, sent by the ${other}`, own.cursor, other as BadCase['role']);
  }
  // From other lists (another row or another caller): each cursor is sealed to its own.
  for (const c of world.realCursors.filter((c) => c.row !== key).slice(0, 4)) {
    const role = row.auth.includes(c.role) ? c.role : undefined;
    add(`from ${c.row} (${c.role})`, c.cursor, role);
  }
  // As if the key leaked: sealed for this very list and caller, the inner key of another shape or partition. A key of
  // the list's own shape in its own partition is only a start position in the caller's own list (lenient: no 5xx);
  // another tenant's partition never opens.
  for (const role of row.auth.filter((r) => world.listable.has(`${key} ${r}`)) as Array<Exclude<Role, 'public'>>) {
    const principal = { role, tenant_id: world.tenants[role] ?? null };
    const params = paramsOf(row.path, path);
    const binding = cursorBinding(row, principal, params, {});
    for (const [i, p] of parts.entries()) {
      for (const [j, s] of shapes(p.field, p.value).entries()) add(`sealed with the key, partition ${i}, shape ${j}`, sealReplyCursor(b64(s), binding), role, true);
    }
    add('sealed with the key, another tenant\'s partition', sealReplyCursor(b64({ pk: 'STARTUP#stu_someoneelse0000000000', sk: 'KEY#x' }), binding), role);
  }
  return out;
}

/** The decoded path parameters of `path` against the row's template (what the wrapper binds a cursor to). */
function paramsOf(template: string, path: string): Record<string, string> {
  const t = template.split('/');
  const p = path.split('/');
  const out: Record<string, string> = {};
  t.forEach((seg, i) => {
    const m = /^\{([A-Za-z0-9_]+)(\+)?\}$/.exec(seg);
    if (m) out[m[1]!] = decodeURIComponent(m[2] ? p.slice(i).join('/') : p[i]!);
  });
  return out;
}
