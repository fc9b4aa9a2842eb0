/**
 * One mapping from a zod issue to the error OpenAI's API answers for the same mistake: its `code`
 * (missing_required_parameter, invalid_type, integer_above_max_value, empty_array, ...), its wording, and
 * `param` as a JS-style path (`messages[0].role`). OpenAI reports the first problem only; so does this.
 * Used by every OpenAI-compatible route (openai-errors.ts); the management routes keep `fromZod` (errors.ts).
 */
import { z } from 'zod';
import { isInferenceErrorCode, type ErrorSpec, type InferenceErrorCode } from '../../packages/core/src/index.js';

type Issue = z.core.$ZodIssue;
type Key = PropertyKey;

/** Longest `param` answered: a path into the body, never a payload (object keys are the caller's strings). */
const PARAM_MAX_CHARS = 256;
/** Longest value quoted back in a message. */
const QUOTED_VALUE_MAX_CHARS = 64;
/** Union branches explored for the deepest mistake, and how deep (a union inside a union inside ...). */
const MAX_UNION_DEPTH = 4;

/** What the mapping answers: the OpenAI fields of a 400, before the status and type are put on. */
export interface OpenAiIssue {
  code: InferenceErrorCode;
  message: string;
  param: string | null;
}

/** `messages[0].role`: OpenAI's spelling of a path into the body. */
export function paramOf(path: readonly Key[]): string | null {
  if (path.length === 0) return null;
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out === '' ? String(k) : `.${String(k)}`;
  return out.length > PARAM_MAX_CHARS ? `${out.slice(0, PARAM_MAX_CHARS)}…` : out;
}

// ------------------------------------------------------------------------------------------------------------
// Integer or decimal: zod's bound issues say "number" for both; OpenAI's codes differ (integer_above_max_value vs
// decimal_above_max_value), so the schema's JSON Schema says which it is at the issue's path.

interface JsonNode {
  type?: string | string[];
  properties?: Record<string, JsonNode>;
  additionalProperties?: JsonNode | boolean;
  items?: JsonNode | JsonNode[];
  anyOf?: JsonNode[];
  oneOf?: JsonNode[];
  allOf?: JsonNode[];
}

const jsonSchemas = new WeakMap<z.ZodType, JsonNode>();

function jsonSchemaOf(schema: z.ZodType): JsonNode {
  let node = jsonSchemas.get(schema);
  if (!node) {
    try {
      node = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonNode;
    } catch {
      node = {};
    }
    jsonSchemas.set(schema, node);
  }
  return node;
}

function alternatives(nodes: JsonNode[]): JsonNode[] {
  const out: JsonNode[] = [];
  const visit = (n: JsonNode, depth: number) => {
    out.push(n);
    if (depth >= MAX_UNION_DEPTH) return;
    for (const alt of [...(n.anyOf ?? []), ...(n.oneOf ?? []), ...(n.allOf ?? [])]) visit(alt, depth + 1);
  };
  for (const n of nodes) visit(n, 0);
  return out;
}

function isIntegerAt(schema: z.ZodType, path: readonly Key[]): boolean {
  let nodes = [jsonSchemaOf(schema)];
  for (const k of path) {
    const next: JsonNode[] = [];
    for (const n of alternatives(nodes)) {
      if (typeof k === 'number') {
        if (n.items && !Array.isArray(n.items)) next.push(n.items);
      } else if (n.properties?.[String(k)]) next.push(n.properties[String(k)]!);
      else if (typeof n.additionalProperties === 'object') next.push(n.additionalProperties);
    }
    nodes = next;
  }
  return alternatives(nodes).some((n) => n.type === 'integer' || (Array.isArray(n.type) && n.type.includes('integer')));
}

// ------------------------------------------------------------------------------------------------------------
// Wording

const EXPECTED: Record<string, string> = {
  string: 'a string', int: 'an integer', boolean: 'a boolean', array: 'an array', object: 'an object', null: 'null',
};

function expectedOf(expected: string, integer: boolean): string {
  if (expected === 'number') return integer ? 'an integer' : 'a decimal';
  return EXPECTED[expected] ?? `a ${expected}`;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a decimal';
  if (typeof v === 'object') return 'an object';
  return typeof v === 'string' ? 'a string' : typeof v === 'boolean' ? 'a boolean' : `a ${typeof v}`;
}

function quoted(v: unknown): string {
  const text = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return `'${text.length > QUOTED_VALUE_MAX_CHARS ? `${text.slice(0, QUOTED_VALUE_MAX_CHARS)}…` : text}'`;
}

/** a, b, and c — or a, b, or c. */
function listed(items: readonly string[], conjunction: 'and' | 'or'): string {
  return items.length <= 2 ? items.join(` ${conjunction} `) : `${items.slice(0, -1).join(', ')}, ${conjunction} ${items[items.length - 1]}`;
}

/** 'a', 'b', and 'c' (OpenAI's list of supported values). */
function supported(values: readonly unknown[]): string {
  return listed(values.map(quoted), 'and');
}

function sizeOf(v: unknown): number {
  return Array.isArray(v) || typeof v === 'string' ? v.length : 0;
}

/** OpenAI's codes for a value out of its bounds, by what the value is. */
export const BOUND_CODES = {
  array: { below: 'array_below_min_length', above: 'array_above_max_length', empty: 'empty_array' },
  string: { below: 'string_below_min_length', above: 'string_above_max_length', empty: 'empty_string' },
  integer: { below: 'integer_below_min_value', above: 'integer_above_max_value' },
  decimal: { below: 'decimal_below_min_value', above: 'decimal_above_max_value' },
} as const satisfies Record<string, Record<string, InferenceErrorCode>>;

function bound(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>, param: string, integer: boolean): OpenAiIssue {
  const below = issue.code === 'too_small';
  const limit = Number(below ? (issue as { minimum: number | bigint }).minimum : (issue as { maximum: number | bigint }).maximum);
  const input = issue.input;
  if (issue.origin === 'array' || issue.origin === 'string') {
    const noun = issue.origin as 'array' | 'string';
    const codes = BOUND_CODES[noun];
    const a = noun === 'array' ? 'an array' : 'a string';
    const got = sizeOf(input);
    if (below && got === 0) {
      return { code: codes.empty, param, message: `Invalid '${param}': empty ${noun}. Expected ${a} with minimum length ${limit}, but got an empty ${noun} instead.` };
    }
    return {
      code: below ? codes.below : codes.above, param,
      message: `Invalid '${param}': ${noun} too ${below ? 'short' : 'long'}. Expected ${a} with ${below ? 'minimum' : 'maximum'} length ${limit}, but got ${a} with length ${got} instead.`,
    };
  }
  const kind = integer ? 'integer' : 'decimal';
  const op = below ? (issue.inclusive === false ? '>' : '>=') : issue.inclusive === false ? '<' : '<=';
  return {
    code: below ? BOUND_CODES[kind].below : BOUND_CODES[kind].above, param,
    message: `Invalid '${param}': ${kind} ${below ? 'below minimum' : 'above maximum'} value. Expected a value ${op} ${limit}, but got ${typeof input === 'number' ? input : quoted(input)} instead.`,
  };
}

// ------------------------------------------------------------------------------------------------------------
// Unions: when every branch refused the value's type, the value has the wrong type; otherwise the branch that
// took its type holds the real mistake (an array of the right kind with a bad element), reported at its full path.

function unionIssue(issue: Extract<Issue, { code: 'invalid_union' }>, schema: z.ZodType, depth: number): OpenAiIssue {
  const name = paramOf(issue.path) ?? 'body';
  const typeOnly = (branch: readonly Issue[]) => branch.every((i) => i.code === 'invalid_type' && i.path.length === 0);
  const deeper = depth < MAX_UNION_DEPTH ? issue.errors.filter((b) => b.length > 0 && !typeOnly(b)).sort((a, b) => a.length - b.length)[0] : undefined;
  if (deeper) {
    const first = deeper[0]!;
    return describe({ ...first, path: [...issue.path, ...first.path] } as Issue, schema, depth + 1);
  }
  const kinds = [...new Set(issue.errors.flat().filter((i) => i.code === 'invalid_type').map((i) => expectedOf((i as { expected: string }).expected, isIntegerAt(schema, issue.path))))];
  return { code: 'invalid_type', param: paramOf(issue.path), message: `Invalid type for '${name}': expected one of ${listed(kinds, 'or')}, but got ${kindOf(issue.input)} instead.` };
}

function describe(issue: Issue, schema: z.ZodType, depth: number): OpenAiIssue {
  const param = paramOf(issue.path);
  const name = param ?? 'body';
  // zod reports an absent key as the wrong type (or no union branch) for `undefined`; JSON has no undefined.
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && issue.input === undefined) {
    return { code: 'missing_required_parameter', param, message: `Missing required parameter: '${name}'.` };
  }
  switch (issue.code) {
    case 'invalid_type':
      return { code: 'invalid_type', param, message: `Invalid type for '${name}': expected ${expectedOf(issue.expected, isIntegerAt(schema, issue.path))}, but got ${kindOf(issue.input)} instead.` };
    case 'too_small':
    case 'too_big':
      return bound(issue, name, isIntegerAt(schema, issue.path));
    case 'invalid_value':
      return { code: 'invalid_value', param, message: `Invalid value: ${quoted(issue.input)}. Supported values are: ${supported(issue.values)}.` };
    case 'invalid_union':
      return unionIssue(issue, schema, depth);
    case 'unrecognized_keys': {
      // Only the strict objects (the routing preferences) refuse keys: OpenAI's wording for a nested unknown field.
      const unknown = paramOf([...issue.path, issue.keys[0] ?? '']) ?? name;
      return { code: 'unknown_parameter', param: unknown, message: `Unknown parameter: '${unknown}'.` };
    }
    case 'custom': {
      // A refinement names its own OpenAI code (params.code) and words its own message, but for a missing
      // parameter: only here is its full path known.
      const code = isInferenceErrorCode(issue.params?.code) ? issue.params.code : 'invalid_value';
      if (code === 'missing_required_parameter') return { code, param, message: `Missing required parameter: '${name}'.` };
      return { code, param, message: issue.message };
    }
    default:
      return { code: 'invalid_value', param, message: `Invalid '${name}': ${issue.message}.` };
  }
}

/** The first of zod's issues, as OpenAI words it (`schema` tells integer from decimal fields). */
export function openAiIssue(error: z.ZodError, schema: z.ZodType): OpenAiIssue {
  const first = error.issues[0];
  if (!first) return { code: 'invalid_value', param: null, message: 'Invalid request body.' };
  return describe(first, schema, 0);
}

/** A 400 in OpenAI's shape from an issue. */
export function invalidRequest(i: OpenAiIssue): ErrorSpec {
  return { status: 400, type: 'invalid_request_error', code: i.code, param: i.param, message: i.message };
}
