/**
 * A deterministic JSON value that fits a JSON Schema: what the simulated model "writes" for a tool call's
 * arguments (the tool's `parameters`) and for `response_format: json_schema`. It covers what clients send
 * (OpenAI's structured-output subset, zod's and pydantic's output): type (one or a list), enum, const,
 * anyOf / oneOf / allOf, $ref into $defs / definitions, objects (every property, so `required` and strict
 * mode hold), arrays (minItems..maxItems, prefixItems), strings (length bounds, common formats), numbers and
 * integers (minimum / maximum, exclusive bounds, multipleOf), booleans and null. `pattern` is not honoured
 * (a generator for any regex is out of scope); a schema that asks for one gets a plain word.
 */
import { rng } from './generate.js';

type Schema = Record<string, unknown>;

/** Nesting followed before a value is cut short (null, or an empty object / array): a recursive $ref ends. */
const MAX_DEPTH = 12;
/** Items an array gets when its schema sets no minimum: enough to show it is a list, few enough to stay short. */
const DEFAULT_ITEMS = 2;
/** Most items generated, whatever minItems says: a reply stays bounded. */
const MAX_ITEMS = 64;
/** Most characters a generated string has, whatever minLength says. */
const MAX_STRING_CHARS = 4_096;

const WORDS = ('alpha bravo delta echo gpu node rack spot price cost model token cache layer batch queue ' +
  'north south east west red green blue small large fast slow paris tokyo lagos lima oslo').split(' ');

const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Walk {
  root: Schema;
  random: () => number;
}

/** A value for `schema` (anything, or a JSON Schema object), the same for the same seed. */
export function valueForSchema(schema: unknown, seed: number): unknown {
  const root = isSchema(schema) ? schema : {};
  return valueAt(root, { root, random: rng(seed) }, 0);
}

function resolveRef(ref: string, w: Walk): Schema {
  if (ref === '#') return w.root;
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (!m) return {};
  const defs = w.root[m[1]!];
  let node: unknown = isSchema(defs) ? defs : {};
  for (const part of m[2]!.split('/')) node = isSchema(node) ? node[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  return isSchema(node) ? node : {};
}

function pick<T>(list: readonly T[], w: Walk): T {
  return list[Math.floor(w.random() * list.length)]!;
}

function typeOf(s: Schema): string | undefined {
  const t = s.type;
  if (typeof t === 'string') return t;
  // A list of types (['string', 'null'] is how strict mode writes optional): the first that is not null.
  if (Array.isArray(t)) return (t.find((x) => x !== 'null') ?? t[0]) as string | undefined;
  if (isSchema(s.properties)) return 'object';
  if (s.items !== undefined || s.prefixItems !== undefined) return 'array';
  return undefined;
}

function valueAt(s: Schema, w: Walk, depth: number): unknown {
  if (depth > MAX_DEPTH) return null;
  if (typeof s.$ref === 'string') return valueAt(resolveRef(s.$ref, w), w, depth + 1);
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return pick(s.enum, w);
  const alternatives = (Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : null)?.filter(isSchema);
  if (alternatives && alternatives.length > 0) {
    // The first alternative that is not plain null: an optional field still gets a value.
    const chosen = alternatives.find((a) => a.type !== 'null') ?? alternatives[0]!;
    return valueAt({ ...withoutKeys(s, ['anyOf', 'oneOf']), ...chosen }, w, depth + 1);
  }
  if (Array.isArray(s.allOf) && s.allOf.length > 0) {
    const merged = s.allOf.filter(isSchema).reduce<Schema>((acc, part) => mergeSchemas(acc, part), withoutKeys(s, ['allOf']));
    return valueAt(merged, w, depth + 1);
  }
  switch (typeOf(s)) {
    case 'object':
      return objectValue(s, w, depth);
    case 'array':
      return arrayValue(s, w, depth);
    case 'string':
      return stringValue(s, w);
    case 'integer':
      return numberValue(s, w, true);
    case 'number':
      return numberValue(s, w, false);
    case 'boolean':
      return w.random() < 0.5;
    case 'null':
      return null;
    default:
      // No type said: any JSON is valid; a word reads best.
      return pick(WORDS, w);
  }
}

function withoutKeys(s: Schema, keys: string[]): Schema {
  const out: Schema = { ...s };
  for (const k of keys) delete out[k];
  return out;
}

function mergeSchemas(a: Schema, b: Schema): Schema {
  const props = { ...(isSchema(a.properties) ? a.properties : {}), ...(isSchema(b.properties) ? b.properties : {}) };
  const required = [...(Array.isArray(a.required) ? a.required : []), ...(Array.isArray(b.required) ? b.required : [])];
  return { ...a, ...b, ...(Object.keys(props).length > 0 ? { properties: props, required } : {}) };
}

function objectValue(s: Schema, w: Walk, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const props = isSchema(s.properties) ? s.properties : {};
  // Every declared property: required ones must be there, and optional ones show the client a full object.
  for (const [key, sub] of Object.entries(props)) out[key] = valueAt(isSchema(sub) ? sub : {}, w, depth + 1);
  if (Array.isArray(s.required)) {
    for (const key of s.required) if (typeof key === 'string' && !(key in out)) out[key] = pick(WORDS, w);
  }
  const min = typeof s.minProperties === 'number' ? Math.min(s.minProperties, MAX_ITEMS) : 0;
  const extra = isSchema(s.additionalProperties) ? s.additionalProperties : {};
  for (let i = 0; Object.keys(out).length < min && s.additionalProperties !== false; i++) out[`key_${i}`] = valueAt(extra, w, depth + 1);
  return out;
}

function arrayValue(s: Schema, w: Walk, depth: number): unknown[] {
  const prefix = Array.isArray(s.prefixItems) ? s.prefixItems.filter(isSchema) : [];
  const min = typeof s.minItems === 'number' ? s.minItems : 0;
  const max = typeof s.maxItems === 'number' ? s.maxItems : Infinity;
  const count = Math.min(Math.max(min, prefix.length, Math.min(DEFAULT_ITEMS, max)), max, MAX_ITEMS);
  const items = isSchema(s.items) ? s.items : {};
  const out: unknown[] = [];
  for (let i = 0; i < count; i++) out.push(valueAt(prefix[i] ?? items, w, depth + 1));
  if (s.uniqueItems === true) return [...new Map(out.map((v) => [JSON.stringify(v), v])).values()].slice(0, Math.max(count, 0));
  return out;
}

const FORMATS: Record<string, (w: Walk) => string> = {
  'date-time': (w) => new Date(Date.UTC(2026, Math.floor(w.random() * 12), 1 + Math.floor(w.random() * 28), 12)).toISOString(),
  date: (w) => `2026-${String(1 + Math.floor(w.random() * 12)).padStart(2, '0')}-${String(1 + Math.floor(w.random() * 28)).padStart(2, '0')}`,
  time: () => '12:00:00Z',
  email: (w) => `${pick(WORDS, w)}@example.com`,
  uri: (w) => `https://example.com/${pick(WORDS, w)}`,
  url: (w) => `https://example.com/${pick(WORDS, w)}`,
  uuid: (w) => {
    const hex = Array.from({ length: 32 }, () => Math.floor(w.random() * 16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  },
  ipv4: (w) => `10.0.${Math.floor(w.random() * 256)}.${Math.floor(w.random() * 256)}`,
};

function stringValue(s: Schema, w: Walk): string {
  const format = typeof s.format === 'string' ? FORMATS[s.format] : undefined;
  if (format) return format(w);
  const min = typeof s.minLength === 'number' ? Math.min(s.minLength, MAX_STRING_CHARS) : 0;
  const max = typeof s.maxLength === 'number' ? Math.min(s.maxLength, MAX_STRING_CHARS) : MAX_STRING_CHARS;
  let text = pick(WORDS, w);
  while ([...text].length < min) text += ' ' + pick(WORDS, w);
  return [...text].slice(0, max).join('');
}

function numberValue(s: Schema, w: Walk, integer: boolean): number {
  let lo = typeof s.minimum === 'number' ? s.minimum : -Infinity;
  let hi = typeof s.maximum === 'number' ? s.maximum : Infinity;
  const step = typeof s.multipleOf === 'number' && s.multipleOf > 0 ? s.multipleOf : integer ? 1 : 0;
  if (typeof s.exclusiveMinimum === 'number') lo = Math.max(lo, s.exclusiveMinimum + (step || 1e-6));
  if (typeof s.exclusiveMaximum === 'number') hi = Math.min(hi, s.exclusiveMaximum - (step || 1e-6));
  // A small range around the bounds (or 0..100): readable numbers that fit.
  const from = Number.isFinite(lo) ? lo : Number.isFinite(hi) ? hi - 100 : 0;
  const to = Number.isFinite(hi) ? hi : from + 100;
  let v = from + w.random() * (to - from);
  if (step > 0) {
    v = Math.ceil(from / step) * step + Math.floor(w.random() * Math.max(1, Math.floor((to - from) / step))) * step;
    if (v > to) v = Math.ceil(from / step) * step;
    // multipleOf of a decimal step: round off binary noise so the value divides exactly as JSON reads it.
    const decimals = (String(step).split('.')[1] ?? '').length;
    v = Number(v.toFixed(decimals));
  } else v = Math.round(v * 100) / 100;
  if (integer) v = Math.round(v);
  return Object.is(v, -0) ? 0 : v;
}
