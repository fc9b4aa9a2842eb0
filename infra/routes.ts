/**
 * THE route table. stacks/Api.ts deploys one Lambda per row (granted only the table access listed),
 * local/http.ts serves the same rows through the same handlers, and functions/openapi.ts documents
 * them from the same zod schemas the handlers validate with.
 *
 * handler: "<file without extension>.<export>", relative to the repo root (SST v2's own format).
 */
import type { z } from 'zod';
import type { TableAccess } from './access.js';
import * as S from '../functions/lib/schemas.js';

export type Role = 'operator' | 'lender' | 'startup' | 'provider' | 'public';
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteDef {
  method: Method;
  /** API Gateway path syntax: /v1/facilities/{id} */
  path: string;
  handler: string;
  /** Who may call it; 'public' needs no key. */
  auth: readonly Role[];
  access: readonly TableAccess[];
  summary: string;
  /** Served as a response stream (deployed: API Gateway REST response streaming, see stacks/Api.ts). */
  streaming?: boolean;
  /** Money-moving: honours Idempotency-Key. */
  idempotent?: boolean;
  timeoutSeconds?: number;
  /**
   * Queues (infra/queues.ts names) this route sends to: stacks/Api.ts grants it sqs:SendMessage on exactly
   * those queues and sets their QueueDef.urlEnv. Optional, additive (e.g. the capacity webhook).
   */
  sends?: readonly string[];
  /**
   * Workflows (infra/workflows.ts names) this route starts: stacks/Api.ts grants it states:StartExecution
   * on exactly those state machines and sets their WorkflowDef.arnEnv. Optional, additive.
   */
  starts?: readonly string[];
  body?: z.ZodType;
  query?: z.ZodType;
  reply?: z.ZodType;
  replyStatus?: number;
}

const LENDER_OR_OPERATOR = ['lender', 'operator'] as const;

export const ROUTES: readonly RouteDef[] = [
  {
    method: 'GET', path: '/openapi.json', handler: 'functions/openapi.handler', auth: ['public'], access: [],
    summary: 'OpenAPI 3.1 description of every management route',
  },
  {
    method: 'POST', path: '/v1/admin/startups', handler: 'functions/admin.createStartup', auth: ['operator'],
    access: ['transact'], summary: 'Create a startup', body: S.CreateStartupBody, reply: S.CreateStartupReply, replyStatus: 201, idempotent: true,
  },
  {
    method: 'POST', path: '/v1/admin/startups/{id}/keys', handler: 'functions/admin.createStartupKey', auth: ['operator'],
    access: ['read', 'query', 'transact'], summary: 'Create an API key for a startup (shown once)', body: S.CreateKeyBody, reply: S.KeyReply, replyStatus: 201, idempotent: true,
  },
  {
    method: 'POST', path: '/v1/admin/lenders', handler: 'functions/admin.createLender', auth: ['operator'],
    access: ['transact'], summary: 'Create a lender and its API key (shown once)', body: S.CreateLenderBody, reply: S.CreateLenderReply, replyStatus: 201, idempotent: true,
  },
  {
    method: 'POST', path: '/v1/keys', handler: 'functions/keys.create', auth: ['startup'],
    access: ['read', 'query', 'transact'], summary: 'Create one of your keys (shown once)', body: S.CreateKeyBody, reply: S.KeyReply, replyStatus: 201, idempotent: true,
  },
  {
    method: 'GET', path: '/v1/keys', handler: 'functions/keys.list', auth: ['startup'],
    access: ['query'], summary: 'List your keys (never the secrets)', query: S.ListQuery, reply: S.Page(S.KeyReply),
  },
  {
    method: 'DELETE', path: '/v1/keys/{id}', handler: 'functions/keys.revoke', auth: ['startup'],
    access: ['read', 'query', 'transact'], summary: 'Revoke one of your keys: it stops working at once', reply: S.KeyReply,
  },
  {
    method: 'GET', path: '/v1/credits', handler: 'functions/credits.get', auth: ['startup'],
    access: ['read', 'query'], summary: 'Your credits: available, reserved, frozen, granted and spent, per facility', reply: S.CreditsReply,
  },
  {
    method: 'POST', path: '/v1/facilities', handler: 'functions/facilities.open', auth: LENDER_OR_OPERATOR,
    access: ['read', 'transact'], summary: 'Open a credit facility: grants floor(principal × multiplier) credits', body: S.OpenFacilityBody, reply: S.FacilityReply, replyStatus: 201, idempotent: true,
  },
  {
    method: 'GET', path: '/v1/facilities', handler: 'functions/facilities.list', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query'], summary: "List the caller's facilities with visibility figures (an operator names lender_id)", query: S.FacilityListQuery, reply: S.Page(S.FacilityReply),
  },
  {
    method: 'GET', path: '/v1/facilities/{id}', handler: 'functions/facilities.get', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query'], summary: "A facility's visibility figures", reply: S.FacilityReply,
  },
  {
    method: 'GET', path: '/v1/facilities/{id}/stream', handler: 'functions/facilities.stream', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query'], streaming: true, timeoutSeconds: 120,
    summary: "Server-sent events: the facility's visibility figures, pushed when they change (bounded to 60 s a connection)",
  },
  {
    method: 'POST', path: '/v1/facilities/{id}/freeze', handler: 'functions/facilities.freeze', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query', 'transact'], summary: 'Freeze a facility: no new reservation may draw on it', body: S.FreezeBody, reply: S.FacilityReply, idempotent: true,
  },
  {
    method: 'POST', path: '/v1/facilities/{id}/unfreeze', handler: 'functions/facilities.unfreeze', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query', 'transact'], summary: 'Unfreeze a facility', reply: S.FacilityReply, idempotent: true,
  },
  {
    method: 'POST', path: '/v1/facilities/{id}/recover', handler: 'functions/facilities.recover', auth: LENDER_OR_OPERATOR,
    access: ['read', 'query', 'transact'], summary: "Recover a defaulted facility's unspent credits, valued at principal", reply: S.RecoveryReply, idempotent: true,
  },
];

export function routeKey(r: Pick<RouteDef, 'method' | 'path'>): string {
  return `${r.method} ${r.path}`;
}
