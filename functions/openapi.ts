/** GET /openapi.json: OpenAPI 3.1 generated from infra/routes.ts and the same zod schemas the handlers validate with. */
import { z } from 'zod';
import { ROUTES, type RouteDef } from '../infra/routes.js';
import { apiRoute } from './lib/api.js';
import { ErrorReply } from './lib/schemas.js';

const jsonSchema = (s: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;

const ERROR_STATUSES: Record<string, string> = {
  '400': 'Invalid request: the message names the field and the problem',
  '401': 'Missing or invalid API key',
  '403': 'The key may not call this route',
  '404': 'No such object (or it belongs to another tenant)',
  '409': 'Conflict (state, or an Idempotency-Key reused with another body)',
  '503': 'Busy: retry with the same Idempotency-Key',
};

function operation(r: RouteDef) {
  const pathParams = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  const queryParams: unknown[] = [];
  if (r.query) {
    const schema = jsonSchema(r.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
    for (const [name, s] of Object.entries(schema.properties ?? {})) queryParams.push({ name, in: 'query', required: schema.required?.includes(name) ?? false, schema: s });
  }
  const headerParams = r.idempotent
    ? [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 }, description: 'Replays return the first reply and move nothing; the same key with another body is a 409.' }]
    : [];
  const ok = String(r.replyStatus ?? 200);
  const responses: Record<string, unknown> = {
    [ok]: r.streaming
      ? { description: 'Server-sent events', content: { 'text/event-stream': { schema: { type: 'string' } } } }
      : { description: 'Success', ...(r.reply ? { content: { 'application/json': { schema: jsonSchema(r.reply, 'output') } } } : {}) },
  };
  for (const [status, description] of Object.entries(ERROR_STATUSES)) {
    if (r.auth.includes('public') && (status === '401' || status === '403')) continue;
    responses[status] = { description, content: { 'application/json': { schema: jsonSchema(ErrorReply, 'output') } } };
  }
  return {
    summary: r.summary,
    operationId: r.handler.replace(/^functions\//, '').replace(/[./]/g, '_'),
    tags: [r.path.split('/')[2] ?? 'meta'],
    'x-roles': r.auth,
    security: r.auth.includes('public') ? [] : [{ bearer: [] }],
    parameters: [...pathParams, ...queryParams, ...headerParams],
    ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } } } : {}),
    responses,
  };
}

export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) (paths[r.path] ??= {})[r.method.toLowerCase()] = operation(r);
  return {
    openapi: '3.1.0',
    info: { title: 'CompuX management API', version: '1.0.0', description: 'Amounts are integer micro-US-dollars (fields ending in _micros).' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}

// Built once per container: the routes and schemas are static.
let doc: ReturnType<typeof openApiDocument> | undefined;

export const handler = apiRoute('functions/openapi.handler', async () => ({ status: 200, body: (doc ??= openApiDocument()) }));
