/**
 * The bad requests of one route row, generated from the row itself (its path parameters' kinds, its query and body
 * schemas, whether it takes a cursor): every one is refused before anything is written, and says what it breaks so
 * the suite can check that the refusal names it.
 */
import type { Role, RouteDef } from '../../../infra/routes.js';
import { takesCursor } from '../../../infra/routes.js';
import { routeParams } from '../../../functions/lib/params.js';
import { nowMs } from '../../../packages/core/src/index.js';
import { badAcceleratorSegments, badBodyValues, badModelSegments, badPathSegments, badPeriodSegments, badQueryValues, fieldsOf, jsonSchemaOf, type BadSegment } from './inputs.js';
import { cursorCases, type CursorWorld } from './cursors.js';

export interface BadCase {
  label: string;
  role: Exclude<Role, 'public'> | 'public';
  method: string;
  /** Path and query, encoded. */
  url: string;
  body?: string | Buffer;
  contentType?: string;
  /** What it breaks: the refusal must name it (`param`, or the message). */
  names: string;
  /** The refusal's code, where only one is right. */
  code?: string;
  /** Only no 5xx (and no write) is asked: the value may be odd yet acceptable. */
  lenient?: boolean;
  /** The runtime itself refuses it (malformed percent-encoding): its message names the path. */
  byServer?: boolean;
}

/** Per path parameter kind (its noun in functions/lib/params.ts): an id that exists for the callers, one that does not, the prefix. */
export interface KindValues {
  prefix: string;
  /** Exists and is readable by the row's callers (GET rows page real lists). */
  existing: string;
  /** Well formed, names nothing: rows that change state use it, so even a valid body could only be a 404. */
  unknown: string | null;
}

export interface World extends CursorWorld {
  keys: Partial<Record<BadCase['role'], string>>;
  kinds: Record<string, KindValues>;
}

/** 64 KiB is the management bodies' limit, 1 MiB the inference bodies' and the server's. */
const MANAGEMENT_BODY_LIMIT_BYTES = 64 * 1024;
const SERVER_BODY_LIMIT_BYTES = 1024 * 1024;

/** The roles a row's cases are sent with, in turn: every role the row allows that the world has a key for. */
function rolesOf(row: RouteDef, world: World): Array<BadCase['role']> {
  if (row.auth.includes('public')) return ['public'];
  const roles = row.auth.filter((r) => world.keys[r as BadCase['role']] !== undefined) as Array<BadCase['role']>;
  if (roles.length === 0) throw new Error(`${row.method} ${row.path}: no key for any of ${row.auth.join(', ')}`);
  return roles;
}

function segmentsOf(noun: string, prefix: string): BadSegment[] {
  if (noun === 'model') return badModelSegments();
  if (noun === 'period') return badPeriodSegments();
  if (noun === 'accelerator') return badAcceleratorSegments();
  return badPathSegments(prefix);
}

/** The row's path with each parameter's baseline value, or `override` for one of them. */
export function pathWith(row: RouteDef, world: World, override?: { name: string; segment: string }): { path: string; canWrite: boolean } {
  const changes = row.method !== 'GET';
  let canWrite = false;
  const path = row.path.replace(/\{([A-Za-z0-9_]+)\+?\}/g, (_m, name: string) => {
    if (override?.name === name) return override.segment;
    const kind = routeParams(row).find((p) => p.name === name)!.kind;
    const v = world.kinds[kind.noun];
    if (!v) throw new Error(`${row.method} ${row.path}: the suite has no values for the path parameter kind "${kind.noun}" (test/api/bad-input.test.ts)`);
    if (changes && v.unknown !== null) return encodeURIComponent(v.unknown);
    if (changes) canWrite = true;
    return kind.noun === 'model' ? v.existing : encodeURIComponent(v.existing);
  });
  // A row that changes state and names only unknown ids can never write, whatever the body.
  return { path, canWrite: canWrite || (changes && !/\{/.test(row.path)) };
}

const qs = (q: Record<string, string>) => {
  const s = new URLSearchParams(q).toString();
  return s ? `?${s}` : '';
};

type Draft = Omit<BadCase, 'role'> & { role?: BadCase['role'] };

export function casesFor(row: RouteDef, world: World): BadCase[] {
  const roles = rolesOf(row, world);
  const out: Draft[] = [];
  const base = pathWith(row, world);

  // Path parameters: each one bad in turn, the others at their baseline.
  for (const { name, kind } of routeParams(row)) {
    const v = world.kinds[kind.noun];
    for (const s of segmentsOf(kind.noun, v?.prefix ?? '')) {
      // A signed webhook answers an id that cannot exist as a bad signature (an unknown id looks the same).
      const names = row.rawBody ? 'signature' : (kind.errorParam ?? name);
      out.push({ label: `path ${name}: ${s.label}`, method: row.method, url: pathWith(row, world, { name, segment: s.segment }).path, names, ...(s.refusedByServer ? { byServer: true } : {}) });
    }
  }

  // Query: each field bad in turn; an unknown parameter; a NUL in a parameter's name.
  if (row.query) {
    const props = (jsonSchemaOf(row.query).properties ?? {}) as Record<string, Record<string, unknown>>;
    for (const [name, schema] of Object.entries(props)) {
      if (name === 'cursor') continue;
      for (const v of badQueryValues(name, schema)) {
        out.push({ label: `query ${name}: ${v.label}`, method: row.method, url: `${base.path}${qs({ [name]: v.value as string })}`, names: name, lenient: !v.sure });
      }
    }
    if ('from' in props && 'to' in props) {
      out.push({ label: 'query: from after to', method: row.method, url: `${base.path}${qs({ from: '2027-03-01', to: '2027-01-01' })}`, names: 'from' });
      out.push({ label: 'query: from 9999-99-99 to 0000-00-00', method: row.method, url: `${base.path}${qs({ from: '9999-99-99', to: '0000-00-00' })}`, names: 'from' });
    }
  }
  // The OpenAI-compatible paid routes ignore query parameters, as OpenAI's API does (clients add their own).
  if (!(row.streaming && row.body)) {
    out.push({ label: 'query: an unknown parameter', method: row.method, url: `${base.path}?zz_unknown=1`, names: 'zz_unknown' });
    out.push({ label: 'query: NUL in a name', method: row.method, url: `${base.path}?a%00b=1`, names: 'a\u0000b', lenient: true });
  }

  if (takesCursor(row)) for (const c of cursorCases(row, world, base.path)) out.push(c);

  if (row.method !== 'GET') out.push(...bodyCases(row, base, openAiBaseline(row, world)));

  // Each case with the role it names (a cursor from another caller), else the row's roles in turn.
  return out.map((c, i) => ({ ...c, role: c.role ?? roles[i % roles.length]! }));
}

/**
 * The OpenAI-compatible routes name only the first problem, as OpenAI does: a field is tried bad in a body whose
 * required fields are good, so the problem named is its own. Management routes name every problem (up to 10), so a
 * field is tried alone there.
 */
function openAiBaseline(row: RouteDef, world: World): Record<string, unknown> {
  if (!row.openai || !row.body) return {};
  const model = world.kinds.model?.existing ?? 'llama-3.1-70b-instruct';
  const { required } = fieldsOf(row.body);
  const good: Record<string, unknown> = { model, messages: [{ role: 'user', content: 'hi' }], prompt: 'hi', input: 'hi' };
  const missing = required.filter((r) => !(r in good));
  if (missing.length > 0) throw new Error(`${row.method} ${row.path}: the suite has no good value for the required field(s) ${missing.join(', ')}`);
  return Object.fromEntries(required.map((r) => [r, good[r]]));
}

function bodyCases(row: RouteDef, base: { path: string; canWrite: boolean }, baseline: Record<string, unknown>): Draft[] {
  const out: Draft[] = [];
  const m = row.method;
  const url = base.path;
  const limit = row.streaming ? SERVER_BODY_LIMIT_BYTES : MANAGEMENT_BODY_LIMIT_BYTES;
  const whole = (label: string, body: string | Buffer, names = 'body', contentType = 'application/json', code?: string) =>
    out.push({ label: `body: ${label}`, method: m, url, body, contentType, names, ...(code ? { code } : {}) });

  if (row.rawBody) {
    // A signed webhook: any body without a valid signature is refused alike (the message names the signature).
    whole('unsigned JSON', '{"a":1}', 'signature');
    whole('empty', '', 'signature');
    whole('binary', Buffer.from([0xff, 0xfe, 0x00, 0x01]), 'signature', 'application/octet-stream');
    return out;
  }
  whole(`over the limit (${limit + 1} bytes)`, `{"a":"${'x'.repeat(limit + 1 - 8)}"}`);
  whole('over the server limit (1 MiB + 1)', `"${'y'.repeat(SERVER_BODY_LIMIT_BYTES - 1)}"`);
  whole('not JSON', '{"a":');
  whole('a byte-order mark', '\ufeff{}');
  whole('NUL', '\u0000');
  whole('form-encoded', 'name=x&segment=seed', 'body', 'application/x-www-form-urlencoded');
  whole('binary', Buffer.from([0xff, 0xfe, 0xfd, 0x00, 0x80]), 'body', 'application/octet-stream');
  whole('multipart', '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--b--\r\n', 'body', 'multipart/form-data; boundary=b');
  whole('UTF-16', Buffer.from('{"name":"x"}', 'utf16le'), 'body', 'application/json; charset=utf-16');
  whole('text/plain garbage', 'hello', 'body', 'text/plain');
  whole('nested 5,000 deep', `{"a":${'['.repeat(5_000)}${']'.repeat(5_000)}}`);

  if (!row.body) {
    // A row that takes no body: anything but nothing or {} is refused (nothing or {} would be a valid call).
    whole('a body where none is taken', '{"x":1}');
    whole('an array where none is taken', '[]');
    return out;
  }
  whole('empty', '');
  whole('only whitespace', '  \n ');
  for (const root of ['null', '[]', '"x"', '1', 'true']) whole(`JSON ${root}`, root);

  const { fields, required, strict } = fieldsOf(row.body);
  const first = Object.keys(fields)[0];
  if (first) {
    whole('a key given twice', `{"${first}":1,"${first}":2}`, first, 'application/json', 'duplicate_key');
    whole('a key given twice, escaped', `{"${first}":1,"\\u00${first.charCodeAt(0).toString(16)}${first.slice(1)}":2}`, first, 'application/json', 'duplicate_key');
  }
  if (strict) out.push({ label: 'body: an unknown field', method: m, url, body: JSON.stringify({ zz_unknown: 1 }), contentType: 'application/json', names: 'zz_unknown' });
  if (required.length > 0) out.push({ label: 'body: {} (every required field missing)', method: m, url, body: '{}', contentType: 'application/json', names: required[0]! });

  out.push(...invertedDates(row, url, fields, required));

  const filled = Object.keys(baseline).length > 0;
  for (const [name, schema] of Object.entries(fields)) {
    for (const v of badBodyValues(name, schema)) {
      // A value that might be acceptable goes only where no write can follow: unknown ids, or a required field left out.
      if (!v.sure && base.canWrite && (filled || required.every((r) => r === name))) continue;
      const body = JSON.stringify({ ...baseline, [name]: v.value });
      out.push({ label: `body ${name}: ${v.label}`, method: m, url, body, contentType: 'application/json', names: name, ...(v.sure ? {} : { lenient: true }) });
    }
  }
  return out;
}

/** Good values of the required fields a window of dates comes with (a quote's accelerator and sizes). */
const GOOD_BESIDE_DATES: Record<string, unknown> = { accelerator: 'H100', gpus: 1, hours: 1 };
const HOUR_MS = 3_600_000;

/**
 * A body with two instants (a window): both real whole hours ahead, the first after the second; every other required
 * field good, so the window is what is refused. Only where the suite knows good values of the other fields.
 */
function invertedDates(row: RouteDef, url: string, fields: Record<string, Record<string, unknown>>, required: string[]): Draft[] {
  const dates = Object.entries(fields).filter(([, s]) => s.format === 'date-time').map(([n]) => n);
  if (dates.length < 2) return [];
  const others = required.filter((r) => !dates.includes(r));
  if (others.some((r) => !(r in GOOD_BESIDE_DATES))) return [];
  const hour = Math.floor(nowMs() / HOUR_MS) * HOUR_MS;
  const body = { ...Object.fromEntries(others.map((r) => [r, GOOD_BESIDE_DATES[r]])), [dates[0]!]: new Date(hour + 72 * HOUR_MS).toISOString(), [dates[1]!]: new Date(hour + 48 * HOUR_MS).toISOString() };
  return [{ label: `body: ${dates[0]} after ${dates[1]}`, method: row.method, url, body: JSON.stringify(body), contentType: 'application/json', names: dates[0]! }];
}
