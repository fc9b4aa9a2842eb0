/**
 * Adversarial values for the bad-input suite (test/api/bad-input.test.ts): for path parameters by kind, and for query
 * and body fields from their zod schemas (via JSON Schema, as /openapi.json is made). Each value says whether it can
 * never be valid (`sure`: the reply must be a 4xx naming the field) or only might be odd yet acceptable (NUL or
 * right-to-left marks in free text: the reply must only not be a 5xx, and is sent only where nothing can be written).
 */
import { z } from 'zod';

export interface BadValue {
  label: string;
  value: unknown;
  /** Never valid for this field: the refusal must name it. */
  sure: boolean;
}

/** Path segments are written into the URL as given: `raw` ones are already encoded (or deliberately malformed). */
export interface BadSegment {
  label: string;
  segment: string;
  /** The runtime itself refuses it before any handler (a malformed percent-encoding): its error names the path. */
  refusedByServer?: boolean;
}

const enc = (s: string) => encodeURIComponent(s);

/** Oversized, unicode, NUL and control characters, with and without the kind's prefix. */
export function badPathSegments(prefix: string): BadSegment[] {
  const p = prefix === '' ? '' : `${prefix}_`;
  return [
    { label: '3,000 characters', segment: enc(`${p}${'a'.repeat(3_000)}`) },
    { label: '2,049 bytes of 2-byte characters', segment: enc(`${p}${'é'.repeat(1_025)}`) },
    { label: '65 characters', segment: enc(`${p}${'b'.repeat(65)}`) },
    { label: 'CJK', segment: enc(`${p}日本語の識別子`) },
    { label: 'emoji', segment: enc(`${p}😀😀`) },
    { label: 'right-to-left override', segment: enc(`${p}abc\u202edef`) },
    { label: 'combining accent', segment: enc(`${p}e\u0301e\u0301`) },
    { label: 'fullwidth letters', segment: enc(`ｆａｃ＿ａｂｃ`) },
    { label: 'NUL', segment: enc(`${p}abc\u0000def`) },
    { label: 'control characters', segment: enc(`${p}a\u0001b\u001fc\u007f`) },
    { label: 'newline', segment: enc(`${p}abc\ndef`) },
    { label: 'encoded slash', segment: enc(`${p}abc/def`) },
    { label: 'space and quote', segment: enc(`${p}a b"c'`) },
    { label: 'another prefix', segment: enc(`zzz_abcdefghij0123456789`) },
    { label: 'malformed percent-encoding', segment: `${p}%zz`, refusedByServer: true },
  ];
}

/** A model id may hold `/` and `.` (the greedy {id+}): these never are one. */
export function badModelSegments(): BadSegment[] {
  return [
    { label: '3,000 characters', segment: 'a'.repeat(3_000) },
    { label: 'a literal percent', segment: enc('llama%zz') },
    { label: 'NUL', segment: enc('llama\u0000') },
    { label: 'leading dot', segment: '.hidden' },
    { label: 'unicode', segment: enc('модель-70b') },
    { label: 'space', segment: enc('llama 3') },
    { label: 'malformed percent-encoding', segment: '%zz', refusedByServer: true },
  ];
}

export function badPeriodSegments(): BadSegment[] {
  return ['9999-99', '0000-00', '2026-13', '2026-00', '1999-12', '3000-01', '2026-1', '202601', '2026-01-01', '2026-01\u0000', '２０２６-０１', 'x'.repeat(3_000)]
    .map((v) => ({ label: JSON.stringify(v.slice(0, 20)), segment: enc(v) }));
}

export function badAcceleratorSegments(): BadSegment[] {
  return ['h100', 'H100 ', 'H100\u0000', 'H1OO', 'Ｈ100', 'B200', 'x'.repeat(3_000)].map((v) => ({ label: JSON.stringify(v.slice(0, 20)), segment: enc(v) }));
}

type Json = Record<string, any>;

/** JSON Schema of a zod schema, as the server documents it (input side: what a caller sends). */
export function jsonSchemaOf(schema: z.ZodType): Json {
  return z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Json;
}

/** A schema's alternatives folded into one description: its type(s), bounds, enum, pattern, format. */
function flat(s: Json): Json {
  if (Array.isArray(s.type)) {
    // `nullable()` is written type: [T, "null"].
    const types = (s.type as string[]).filter((t) => t !== 'null');
    return types.length === 1 ? { ...s, type: types[0], nullable: true } : { ...s, mixed: true };
  }
  if (Array.isArray(s.anyOf)) {
    const parts = (s.anyOf as Json[]).filter((x) => x.type !== 'null');
    return parts.length === 1 ? { ...flat(parts[0]!), nullable: true } : { ...s, mixed: true };
  }
  return s;
}

/** Bad values of a query parameter (always strings on the wire), from its JSON Schema. */
export function badQueryValues(name: string, schema: Json): BadValue[] {
  const s = flat(schema);
  const out: BadValue[] = [
    { label: '3,000 characters', value: 'x'.repeat(3_000), sure: s.type !== 'string' || s.maxLength !== undefined || s.enum !== undefined || s.pattern !== undefined || s.format !== undefined },
    { label: 'NUL', value: 'a\u0000b', sure: s.type !== 'string' || s.enum !== undefined || s.pattern !== undefined },
  ];
  if (s.type === 'integer' || s.type === 'number') {
    out.push(
      { label: 'fractional', value: '1.5', sure: s.type === 'integer' },
      { label: 'huge', value: '1e309', sure: true },
      { label: '30 digits', value: '9'.repeat(30), sure: true },
      { label: 'not a number', value: 'abc', sure: true },
      { label: 'hex', value: '0x7fffffff', sure: s.maximum !== undefined && s.maximum < 0x7fffffff },
    );
    if (typeof s.minimum === 'number') out.push({ label: 'below the minimum', value: String(s.minimum - 1), sure: true });
    if (typeof s.maximum === 'number') out.push({ label: 'above the maximum', value: String(s.maximum + 1), sure: true });
  }
  if (Array.isArray(s.enum)) out.push({ label: 'not one of the values', value: `${String(s.enum[0])}x`, sure: true }, { label: 'other case', value: String(s.enum[0]).toUpperCase() + 'Z', sure: true });
  if (/date|from|to/.test(name) && s.type === 'string') {
    for (const v of ['9999-99-99', '0000-00-00', '2027-02-30', '2027-13-01', '2027-01-32', '1999-12-31', '2027-01-01garbage', '2027-01-01T25:00:00Z', '+275760-09-13', '２０２７-01-01']) {
      out.push({ label: `date ${v}`, value: v, sure: true });
    }
  }
  return out;
}

/** A value of the schema's type that a field of it never accepts: the wrong JSON type. */
function wrongType(s: Json): unknown {
  if (s.type === 'string' || s.enum || s.const !== undefined) return 12345;
  if (s.type === 'array') return { not: 'an array' };
  if (s.type === 'object') return ['not', 'an', 'object'];
  return 'not-a-number-or-bool';
}

/** Bad values of a body field, from its JSON Schema (micros fields get huge and fractional amounts). */
export function badBodyValues(name: string, schema: Json): BadValue[] {
  const s = flat(schema);
  if (s.mixed || (s.type === undefined && !s.enum && s.const === undefined)) {
    // A union of shapes or anything at all: only values no union of ours takes.
    return [{ label: 'a 100,000-character string', value: 'x'.repeat(100_000), sure: false }];
  }
  const out: BadValue[] = [{ label: 'wrong type', value: wrongType(s), sure: true }];
  if (s.type === 'string' && !s.enum) {
    out.push({ label: 'oversized string', value: 'a'.repeat(typeof s.maxLength === 'number' ? s.maxLength + 1 : 20_000), sure: typeof s.maxLength === 'number' || s.pattern !== undefined || s.format !== undefined });
    out.push({ label: 'NUL and control characters', value: `ok\u0000\u0001\u001b[31m`, sure: s.pattern !== undefined || s.format !== undefined });
    out.push({ label: 'right-to-left override', value: `abc\u202egnp.exe`, sure: s.pattern !== undefined || s.format !== undefined });
    if (s.format === 'date-time' || /_at$|start|end/.test(name)) {
      for (const v of ['2027-02-30T00:00:00Z', '9999-99-99T99:99:99Z', '2027-01-01T24:00:00Z', '0000-00-00T00:00:00Z']) out.push({ label: `date ${v}`, value: v, sure: true });
    }
  }
  if (s.enum) out.push({ label: 'not one of the values', value: `${String(s.enum[0])}\u0000`, sure: true });
  if (s.type === 'integer' || s.type === 'number') {
    const integer = s.type === 'integer';
    out.push(
      { label: 'fractional', value: 1.5, sure: integer },
      { label: '1e308', value: 1e308, sure: s.maximum !== undefined },
      { label: '-1e308', value: -1e308, sure: s.minimum !== undefined },
      { label: '2^53 + 2', value: 2 ** 53 + 2, sure: s.maximum !== undefined && s.maximum < 2 ** 53 },
      { label: 'a numeric string', value: '1000', sure: true },
    );
    if (typeof s.minimum === 'number') out.push({ label: 'below the minimum', value: s.minimum - (integer ? 1 : 0.5), sure: true });
    if (typeof s.maximum === 'number') out.push({ label: 'above the maximum', value: s.maximum + 1, sure: true });
    if (name.endsWith('_micros')) out.push({ label: 'micros with a fraction', value: 1_000_000.5, sure: true }, { label: 'negative micros', value: -1, sure: true });
  }
  if (s.type === 'array') {
    if (typeof s.maxItems === 'number' && s.maxItems < 5_000) out.push({ label: 'too many items', value: new Array(s.maxItems + 1).fill(0), sure: true });
    else out.push({ label: '5,000 nulls', value: new Array(5_000).fill(null), sure: true });
    // Items of any kind (a tool, passed through) may be null; items of a declared kind may not.
    out.push({ label: 'an array of nulls', value: [null, null], sure: typeof s.items === 'object' && s.items !== null && Object.keys(s.items).length > 0 });
  }
  if (s.type === 'object') out.push({ label: 'a nested unknown key', value: { zzz_unknown: 1 }, sure: s.additionalProperties === false || Array.isArray(s.required) });
  return out;
}

/** The top-level fields of an object schema: name → JSON Schema; required names. */
export function fieldsOf(schema: z.ZodType): { fields: Record<string, Json>; required: string[]; strict: boolean } {
  const s = jsonSchemaOf(schema);
  return { fields: (s.properties ?? {}) as Record<string, Json>, required: (s.required ?? []) as string[], strict: s.additionalProperties === false };
}
