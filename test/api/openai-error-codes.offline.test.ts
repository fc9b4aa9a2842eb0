/**
 * The docs and the code agree on every error code of the OpenAI-compatible routes: docs/api.md's error table lists
 * exactly INFERENCE_ERROR_CODES, each listed code is raised somewhere on the inference path, and every code that
 * path raises is listed. No runtime: it reads the sources and the docs.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INFERENCE_ERROR_CODES } from '../../packages/core/src/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

const GATEWAY_FILES = readdirSync(join(ROOT, 'packages/core/src/gateway')).filter((f) => f.endsWith('.ts')).map((f) => `packages/core/src/gateway/${f}`);
/** The handler-side files an OpenAI-compatible request goes through. */
/** The Responses API's files that raise codes (its schema file, like openai.ts, holds zod's own `code: 'custom'` sites). */
const RESPONSES_FILES = ['functions/responses.ts', 'functions/lib/responses.ts', 'packages/core/src/responses/prepare.ts', 'packages/core/src/responses/sink.ts'];
const HANDLER_FILES = ['functions/inference.ts', 'functions/lib/api.ts', 'functions/lib/errors.ts', 'functions/lib/openai.ts', 'functions/lib/openai-errors.ts', 'functions/lib/openai-issues.ts', 'functions/lib/responses-schemas.ts', ...RESPONSES_FILES];

/** Literals on those paths that are not codes an OpenAI-compatible route answers, each with why. */
const NOT_ANSWERED = new Set([
  'rejected_upstream', // attempts.ts: the gateway's outcome for a provider's 4xx, whose own body is passed through
  'invalid_cursor', // api.ts: cursors are on management list routes only
  'invalid_request', // errors.ts: fromZod's code, the management routes' validation (openai routes use openai-issues.ts)
  'not_found', // errors.ts: notFound(), management routes
  'range_too_large', // inference.ts: GET /v1/usage, a management route
]);
/** A string argument: a template, a quoted string, null, or an expression without a comma. */
const ARG = "(?:`[^`]*`|'[^']*'|\"[^\"]*\"|[^,'`\"]+)";
/** Where a code is written: a `code:` field or default, and the code argument of HttpError and badRequest. */
const CODE_SITES = [
  /code: '([a-z_]+)'/g,
  /code = '([a-z_]+)'/g,
  new RegExp(`new HttpError\\(\\d+, ${ARG}, '([a-z_]+)'`, 'g'),
  new RegExp(`badRequest\\(${ARG}, ${ARG}, '([a-z_]+)'\\)`, 'g'),
];

/** The codes in docs/api.md's error table (third column), between "### Errors" and the next section. */
function documentedCodes(): Set<string> {
  const doc = read('docs/api.md');
  const section = doc.slice(doc.indexOf('### Errors'), doc.indexOf('\n## ', doc.indexOf('### Errors')));
  const codes = new Set<string>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (!/^\d{3}$/.test(cells[1] ?? '')) continue;
    for (const m of (cells[3] ?? '').matchAll(/`([a-z_]+)`/g)) codes.add(m[1]!);
  }
  return codes;
}

/** Every code written at a code site in the given files. */
function raisedCodes(files: string[]): Set<string> {
  const codes = new Set<string>();
  for (const file of files) {
    // The list itself is not a use of its codes.
    const text = read(file).replace(/export const INFERENCE_ERROR_CODES = \[[\s\S]*?\] as const;/, '');
    for (const site of CODE_SITES) for (const m of text.matchAll(site)) codes.add(m[1]!);
  }
  return codes;
}

describe('error codes: docs/api.md and the code', () => {
  it("docs/api.md's error table lists exactly INFERENCE_ERROR_CODES", () => {
    // Act
    const documented = documentedCodes();
    // Assess
    expect([...documented].sort()).toEqual([...INFERENCE_ERROR_CODES].sort());
  });

  it('every listed code is raised somewhere on the inference path', () => {
    // Prepare
    const sources = [...GATEWAY_FILES, ...HANDLER_FILES].map((f) => read(f).replace(/export const INFERENCE_ERROR_CODES = \[[\s\S]*?\] as const;/, '')).join('\n');
    // Act
    const unused = INFERENCE_ERROR_CODES.filter((code) => !sources.includes(`'${code}'`));
    // Assess
    expect(unused).toEqual([]);
  });

  it('every code raised on the inference path is listed', () => {
    // Act
    const raised = [...raisedCodes([...GATEWAY_FILES, ...RESPONSES_FILES, 'functions/inference.ts', 'functions/lib/api.ts', 'functions/lib/errors.ts', 'functions/lib/openai-errors.ts'])];
    // Assess: the scan sees each kind of site (else it would pass by seeing nothing), and nothing unlisted
    expect(raised).toEqual(expect.arrayContaining(['model_not_found', 'invalid_request', 'body_too_large', 'invalid_idempotency_key', 'unexpected_query']));
    expect(raised.filter((c) => !NOT_ANSWERED.has(c) && !(INFERENCE_ERROR_CODES as readonly string[]).includes(c))).toEqual([]);
  });
});
