/**
 * Path parameters, bounded in one place: every `{param}` of every row of infra/routes.ts has a kind here (its charset
 * and length), checked by the one wrapper (functions/lib/api.ts `prepareRequest`) after the key and before the
 * handler, so no handler ever sees, stores or sends to DynamoDB a path value no id could be (DynamoDB refuses key
 * values over 2,048 bytes: a 3,000-character id used to be a 500).
 *
 * An id that cannot exist (wrong prefix, too long, a character ids are never made of: unicode, NUL, control
 * characters, a slash) is answered as an unknown id is, 404, with `param` naming the path parameter (Stripe's
 * `resource_missing` does the same). A value with a format of its own (a month) that does not parse is a 400 naming it.
 */
import { MODEL_ID, modelNotFound, parsePeriod } from '../../packages/core/src/index.js';
import type { RouteDef } from '../../infra/routes.js';
import { Accelerator } from '../../events/capacity.js';
import { HttpError, badRequest } from './errors.js';
import { httpErrorOf, responseNotFound } from './openai-errors.js';

/**
 * The characters after an id's prefix and how many: ids are made base62 (20 or 24 characters, packages/core/src/ids.ts);
 * `_` and `-` and up to 64 leave room for the fixed ids of seeds and tests, far below DynamoDB's 2,048-byte key limit.
 */
const ID_BODY = '[A-Za-z0-9_-]{1,64}';

interface PathParamKind {
  /** What the value names, in the refusal's message. */
  noun: string;
  /** Whether a value could be one. Never echoes it: a bad value may be 3,000 characters of anything. */
  valid(value: string): boolean;
  /** A value that cannot be one: 404 as an unknown one, or 400 for a value with a format of its own. */
  refusal: 'not_found' | 'invalid';
  /** The refusal's code (default `not_found`, or `invalid_path_parameter` for a 400). */
  code?: string;
  /** The refusal's message when not the default. */
  message?: string;
  /** The refusal itself when the route answers in another shape (a model: OpenAI's one not-found, `param: "model"`). */
  refuse?: (value: string) => HttpError;
  /** The name the refusal gives the parameter, when not its own. */
  errorParam?: string;
}

const idOf = (prefix: string, noun: string): PathParamKind => {
  const re = new RegExp(`^${prefix}_${ID_BODY}$`);
  return { noun, valid: (v) => re.test(v), refusal: 'not_found' };
};

const STARTUP = idOf('stu', 'startup');
const KEY = idOf('key', 'key');
const FACILITY = idOf('fac', 'facility');
const PROVIDER = idOf('prv', 'provider');
const BOOKING = idOf('bkg', 'booking');
const ENDPOINT = idOf('whe', 'webhook endpoint');
const EVENT = idOf('evt', 'event');
/** A request id is the reply's x-request-id: API Gateway's (a UUID) or the local runtime's, never prefixed. */
const REQUEST_ID = new RegExp(`^${ID_BODY}$`);
const REQUEST: PathParamKind = { noun: 'request', valid: (v) => REQUEST_ID.test(v), refusal: 'not_found' };
/** A model id that cannot be one is answered as OpenAI answers any unknown model (quoted, cut at 64 characters). */
const MODEL: PathParamKind = { noun: 'model', valid: (v) => MODEL_ID.test(v), refusal: 'not_found', refuse: (v) => httpErrorOf(modelNotFound(v)), errorParam: 'model' };
/** A stored response's id (resp_ and base62): one that cannot be one is answered as an unknown one, in OpenAI's shape. */
const RESPONSE: PathParamKind = { ...idOf('resp', 'response'), refuse: (v) => responseNotFound(v), errorParam: 'response_id' };
const ACCELERATOR: PathParamKind = { noun: 'accelerator', valid: (v) => Accelerator.safeParse(v).success, refusal: 'not_found' };
/** The period is checked whole by periodParam below: the same 400 as ever. */
const PERIOD: PathParamKind = {
  noun: 'period', valid: (v) => v.length <= 7 && parsePeriod(v) !== null, refusal: 'invalid', code: 'invalid_period',
  message: 'The period is a UTC month, YYYY-MM (2000-01 to 2999-12).',
};

/**
 * Each path parameter by the literal segment before it and its own name (`segment/{param}`). A new route whose
 * parameter is not here fails at import (`checkRouteParams`): the runtime preloads every handler, and so does the test.
 */
const KINDS: Readonly<Record<string, PathParamKind>> = {
  'startups/{id}': STARTUP,
  'keys/{id}': KEY,
  'facilities/{id}': FACILITY,
  'providers/{id}': PROVIDER,
  'bookings/{id}': BOOKING,
  'bookings/{booking}': BOOKING,
  'webhook-endpoints/{id}': ENDPOINT,
  'events/{id}': EVENT,
  'requests/{id}': REQUEST,
  'models/{id+}': MODEL,
  'responses/{id}': RESPONSE,
  'spot-prices/{accelerator}': ACCELERATOR,
  'settlements/{period}': PERIOD,
  'statements/{period}': PERIOD,
};

/** Every path parameter of a row: its name and kind. Throws for a parameter with no kind. */
export function routeParams(route: Pick<RouteDef, 'method' | 'path'>): Array<{ name: string; kind: PathParamKind }> {
  const parts = route.path.split('/').filter(Boolean);
  const out: Array<{ name: string; kind: PathParamKind }> = [];
  parts.forEach((part, i) => {
    const m = /^\{([A-Za-z0-9_]+)\+?\}$/.exec(part);
    if (!m) return;
    const kind = KINDS[`${parts[i - 1] ?? ''}/${part}`];
    if (!kind) throw new Error(`${route.method} ${route.path}: the path parameter ${part} has no kind in functions/lib/params.ts (its charset and length)`);
    out.push({ name: m[1] as string, kind });
  });
  return out;
}

/** Fails at import for a row with a parameter of no kind (functions/lib/api.ts calls it for every handler it builds). */
export function checkRouteParams(route: Pick<RouteDef, 'method' | 'path'>): void {
  routeParams(route);
}

/**
 * The row's path parameters, each checked against its kind: the first that cannot be one is refused (404 or 400, with
 * `param` naming it). A parameter the row declares but the event lacks is refused likewise.
 */
export function checkPathParams(route: Pick<RouteDef, 'method' | 'path'>, given: Record<string, string | undefined> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { name, kind } of routeParams(route)) {
    const value = given?.[name];
    if (value === undefined || !kind.valid(value)) throw kind.refuse ? kind.refuse(value ?? '') : refusal(kind, name);
    out[name] = value;
  }
  return out;
}

function refusal(kind: PathParamKind, param: string): HttpError {
  if (kind.refusal === 'invalid') return badRequest(kind.message ?? `The path parameter ${param} is not a valid ${kind.noun}.`, param, kind.code ?? 'invalid_path_parameter');
  return new HttpError(404, kind.message ?? `No such ${kind.noun}.`, kind.code ?? 'not_found', 'not_found_error', param);
}

/** A `{period}` path parameter: a UTC month, YYYY-MM; else a 400 naming it. */
export function periodParam(raw: string | undefined) {
  const p = raw === undefined || raw.length > 7 ? null : parsePeriod(raw);
  if (!p) throw refusal(PERIOD, 'period');
  return p;
}
