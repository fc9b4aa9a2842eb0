/**
 * The cells of one route row: who calls, with what, and what SPEC §10 says they get. Refused cells (no key 401, a role
 * the row does not allow 403, another tenant naming the owner's object 404 exactly as an unknown id) must change
 * nothing; allowed cells (the owner, the operator, each tenant on its own data) must get through. No reply may hold
 * the other side's ids, keys or names.
 */
import { routeKey, type Role, type RouteDef } from '../../../infra/routes.js';
import { routeParams } from '../../../functions/lib/params.js';
import { pathWith, type World } from '../bad-input/cases.js';
import { MATRIX, OWNED_NOUNS, type MatrixEntry, type Request } from './rows.js';
import type { MatrixWorld, Objects, Side } from './world.js';

/** One request as sent: the values it names (ids it put in the path or body) are not leaks if the reply echoes them. */
export interface Sent {
  method: string;
  url: string;
  body?: string;
  named: string[];
}

export interface Cell {
  label: string;
  /** Refused cells run first, with the table's items counted around them; allowed cells after. */
  refused: boolean;
  /** 'through': a 2xx, or the entry's domain refusal. */
  expect: 401 | 403 | 404 | 400 | 'through';
  domain?: string;
  key?: string;
  /** A webhook secret that signs the body instead of a key. */
  signWith?: string;
  /** The side whose data the caller may see: its replies are scanned for the other side's (operator: not scanned). */
  sees: Side | 'nobody' | 'operator';
  sent: Sent;
  /** For a 404 cell: the same caller naming ids that exist nowhere; the two replies must be the same. */
  unknown?: Sent;
}

const ROLES_WITH_KEYS = ['operator', 'lender', 'startup', 'provider'] as const;
const other = (s: Side): Side => (s === 'A' ? 'B' : 'A');

/** The row's line of the matrix, or an error saying what to add. */
export function entryFor(row: RouteDef): MatrixEntry {
  const entry = MATRIX[routeKey(row)];
  if (!entry) {
    throw new Error(
      `${routeKey(row)} has no line in test/api/tenant-matrix/rows.ts: add '${routeKey(row)}': { owner, request } — owner is the role whose tenant ` +
        `owns what the request names (null if it names nothing of a tenant's), request a call that succeeds for that owner`,
    );
  }
  return entry;
}

/** Why a row's line cannot make meaningful cells, or null. */
export function meaninglessness(row: RouteDef, entry: MatrixEntry): string | null {
  const owned = routeParams(row).filter((p) => OWNED_NOUNS.has(p.kind.noun));
  if (owned.length > 0 && entry.owner === null) return `its path names a ${owned[0]!.kind.noun} but its line declares no owner`;
  if (entry.owner !== null && !entry.signed && !row.auth.includes(entry.owner)) return `its owner ${entry.owner} is not one of the roles it allows (${row.auth.join(', ')})`;
  if (routeParams(row).length > 0 && !entry.request) return 'its path has parameters but its line has no request to fill them';
  if (entry.signed && !row.rawBody) return 'it is declared signed but the row does not read a raw, signed body';
  return null;
}

/** String leaves of a body that are ids (prefix_…, `resp_` too): a reply echoing them is not a leak. */
function idsIn(v: unknown): string[] {
  if (typeof v === 'string') return /^[a-z]{3,4}_[A-Za-z0-9_-]+$/.test(v) ? [v] : [];
  if (Array.isArray(v)) return v.flatMap(idsIn);
  if (v && typeof v === 'object') return Object.values(v).flatMap(idsIn);
  return [];
}

/** The row's URL with the request's values, encoded as bad-input.test.ts encodes them (`pathWith`). */
function sentOf(row: RouteDef, r: Request): Sent {
  const params = r.params ?? {};
  const kinds = Object.fromEntries(routeParams(row).map(({ name, kind }) => [kind.noun, { prefix: '', existing: params[name]!, unknown: null }]));
  const { path } = pathWith(row, { kinds } as unknown as World);
  return {
    method: row.method,
    url: r.query ? `${path}?${r.query}` : path,
    ...(r.body !== undefined ? { body: JSON.stringify(r.body) } : {}),
    named: [...Object.values(params), ...idsIn(r.body)],
  };
}

export function cellsOf(row: RouteDef, entry: MatrixEntry, w: MatrixWorld): Cell[] {
  const side = entry.side ?? 'A';
  const ownerObjects = w.objects[side];
  const send = (o: Objects, as: Role, override?: Record<string, string>) => {
    const r = entry.request?.(o, w, as) ?? {};
    return sentOf(row, override ? { ...r, params: { ...r.params, ...override } } : r);
  };
  if (entry.signed) return signedCells(w, send, side);
  const through = { refused: false, expect: 'through' as const, ...(entry.domain ? { domain: entry.domain } : {}) };
  if (row.auth.includes('public')) return [{ ...through, label: 'no key (a public row)', sees: 'nobody', sent: send(w.objects.A, 'public') }];

  const cells: Cell[] = [
    { label: 'no key', refused: true, expect: 401, sees: 'nobody', sent: send(ownerObjects, row.auth[0]!) },
    { label: "startup A's revoked key", refused: true, expect: 401, key: w.revokedKey, sees: 'nobody', sent: send(ownerObjects, row.auth[0]!) },
  ];
  for (const role of ROLES_WITH_KEYS) {
    if (row.auth.includes(role)) continue;
    const key = role === 'operator' ? w.operatorKey : w.tenants[side][role].key;
    cells.push({ label: `${role} ${side} (the row does not allow ${role})`, refused: true, expect: 403, key, sees: role === 'operator' ? 'operator' : side, sent: send(ownerObjects, role) });
  }
  for (const role of row.auth) {
    if (role === 'public') continue;
    if (role === 'operator') {
      cells.push({ ...through, label: 'operator', key: w.operatorKey, sees: 'operator', sent: send(entry.owner === null ? w.objects.A : ownerObjects, role) });
      continue;
    }
    if (entry.owner === null) {
      for (const s of ['A', 'B'] as const) cells.push({ ...through, label: `${role} ${s} on its own data`, key: w.tenants[s][role].key, sees: s, sent: send(w.objects[s], role) });
      continue;
    }
    if (entry.owner === role) {
      cells.push({ ...through, label: `${role} ${side}, the owner`, key: w.tenants[side][role].key, sees: side, sent: send(ownerObjects, role) });
    }
    // Every tenant of this role that does not own the object: the owner's other of the same role, or both of another role.
    for (const s of entry.owner === role ? [other(side)] : (['A', 'B'] as const)) {
      const t = w.tenants[s][role];
      const base = { refused: true, expect: entry.missing ?? (404 as const), key: t.key, sees: s };
      cells.push({ ...base, label: `${role} ${s} naming ${entry.owner} ${side}'s`, sent: send(ownerObjects, role), unknown: send(w.objects.unknown, role) });
      if (entry.self && entry.owner === role) {
        const own = { [entry.self]: t.id };
        cells.push({ ...base, label: `${role} ${s} under its own ${entry.self}, naming ${entry.owner} ${side}'s`, sent: send(ownerObjects, role, own), unknown: send(w.objects.unknown, role, own) });
      }
    }
  }
  return cells;
}

/** The capacity webhook: a signature, not a key. Another provider's secret on the owner's id is refused as an unknown id is. */
function signedCells(w: MatrixWorld, send: (o: Objects, as: Role) => Sent, side: Side): Cell[] {
  const owner = w.tenants[side].provider;
  const stranger = w.tenants[other(side)].provider;
  return [
    { label: 'no signature', refused: true, expect: 401, sees: 'nobody', sent: send(w.objects[side], 'public') },
    {
      label: `signed by provider ${stranger.side}, naming provider ${side}`, refused: true, expect: 401, signWith: stranger.webhookSecret!, sees: stranger.side,
      sent: send(w.objects[side], 'public'), unknown: send(w.objects.unknown, 'public'),
    },
    { label: `signed by provider ${side}, the owner`, refused: false, expect: 'through', signWith: owner.webhookSecret!, sees: side, sent: send(w.objects[side], 'public') },
  ];
}
