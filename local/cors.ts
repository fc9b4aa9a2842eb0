/**
 * CORS in the local HTTP server (local/http.ts), from the same rows and policy as the stack (infra/cors.ts):
 *
 * - A preflight (OPTIONS) on a path whose most specific matching template has `cors` rows is answered 204 with
 *   what the stack's OPTIONS mock sends (stacks/Api.ts `addCorsPreflights`), whatever method it asks about, as
 *   the mock does. On any other path OPTIONS is a method like another: 405.
 * - The server's own replies (404, 405, 413, 500, 502, 504) play API Gateway's own 4XX/5XX replies, which carry
 *   GATEWAY_RESPONSE_CORS_HEADERS once any row has `cors`.
 * - A handler's reply is written as the handler shaped it (functions/lib/reply.ts): no header is added here, so a
 *   row without `cors` has none, as on AWS.
 */
import type { RouteDef } from '../infra/routes.js';
import { GATEWAY_RESPONSE_CORS_HEADERS, corsMethodsByPath, preflightHeaders } from '../infra/cors.js';

/** The preflight's status (CDK's addCorsPreflight default, which the stack keeps). */
export const PREFLIGHT_STATUS = 204;

export interface LocalCors {
  /** The headers of a preflight on this path template, or null when no `cors` row has that template. */
  preflight(pathTemplate: string): Record<string, string> | null;
  /** What the server's own error replies carry. */
  readonly gatewayResponseHeaders: Readonly<Record<string, string>>;
}

export function localCors(rows: readonly Pick<RouteDef, 'method' | 'path' | 'cors'>[]): LocalCors {
  const methods = corsMethodsByPath(rows);
  return {
    preflight: (pathTemplate) => {
      const allowed = methods.get(pathTemplate);
      return allowed ? preflightHeaders(allowed) : null;
    },
    gatewayResponseHeaders: methods.size > 0 ? GATEWAY_RESPONSE_CORS_HEADERS : {},
  };
}
