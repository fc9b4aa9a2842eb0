/**
 * What shapes the text a choice writes: `response_format` (text; json_object: a JSON object; json_schema:
 * JSON that validates against the schema) and `stop` (a string or up to 4: the text ends before the first
 * one, and the choice finishes with "stop", as OpenAI's do — the stop sequence itself is not returned).
 */
import { bad, isObject } from './errors.js';
import { seedFrom } from './generate.js';
import { valueForSchema } from './json-schema-values.js';

const MAX_STOP_SEQUENCES = 4;
const SCHEMA_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** The format a choice's content takes: free text, or JSON of a schema (json_object: any object). */
export type ContentFormat = { kind: 'text' } | { kind: 'json'; schema: unknown };

/** What json_object mode writes: an object of a few fields, so a client's JSON.parse gets an object. */
const JSON_OBJECT_SCHEMA = { type: 'object', properties: { answer: { type: 'string', minLength: 12 }, confidence: { type: 'number', minimum: 0, maximum: 1 } } };

export function parseResponseFormat(v: unknown): ContentFormat {
  if (v === undefined || v === null) return { kind: 'text' };
  if (!isObject(v)) throw bad("Invalid type for 'response_format': expected an object.", 'response_format', 'invalid_type');
  switch (v.type) {
    case 'text':
      return { kind: 'text' };
    case 'json_object':
      return { kind: 'json', schema: JSON_OBJECT_SCHEMA };
    case 'json_schema': {
      const js = v.json_schema;
      if (!isObject(js)) throw bad("Missing required parameter: 'response_format.json_schema'.", 'response_format.json_schema', 'missing_required_parameter');
      if (typeof js.name !== 'string' || !SCHEMA_NAME.test(js.name)) {
        throw bad("Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", 'response_format.json_schema.name', 'invalid_value');
      }
      if (js.schema !== undefined && !isObject(js.schema)) throw bad("Invalid type for 'response_format.json_schema.schema': expected an object.", 'response_format.json_schema.schema', 'invalid_type');
      return { kind: 'json', schema: js.schema ?? {} };
    }
    default:
      throw bad("Invalid value for 'response_format.type': supported values are 'text', 'json_object' and 'json_schema'.", 'response_format.type', 'invalid_value');
  }
}

/** The JSON text a choice writes in JSON mode (compact, as models write it). */
export function jsonContent(format: { schema: unknown }, seed: number): string {
  return JSON.stringify(valueForSchema(format.schema, seedFrom('json', String(seed))));
}

/** `stop` as a list (0–4 non-empty strings). */
export function parseStop(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string')) throw bad("Invalid type for 'stop': expected a string or an array of strings.", 'stop', 'invalid_type');
  if (list.length > MAX_STOP_SEQUENCES) {
    throw bad(`Invalid 'stop': array too long. Expected an array with maximum length ${MAX_STOP_SEQUENCES}, but got an array with length ${list.length} instead.`, 'stop', 'array_above_max_length');
  }
  return (list as string[]).filter((s) => s.length > 0);
}

/** `text` up to the first stop sequence, and whether one was met. */
export function cutAtStop(text: string, stops: readonly string[]): { text: string; stopped: boolean } {
  let at = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at < 0 ? { text, stopped: false } : { text: text.slice(0, at), stopped: true };
}
