/**
 * The REST proxy event (payload v1) the local HTTP server (local/http.ts) gives a handler, built as API Gateway
 * builds it: see local/http.ts's file comment for what each field holds.
 */
import type { IncomingMessage } from 'node:http';
import { isUtf8 } from 'node:buffer';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { LOCAL_ACCOUNT_ID } from './aws.js';
import type { HttpRoute } from './http.js';

const TEXT_TYPES = /^(text\/|application\/(json|([\w.+-]+\+json)|xml|([\w.+-]+\+xml)|javascript|x-www-form-urlencoded|graphql|x-ndjson|yaml|x-yaml|csv)\b)/i;

/** A body is passed as a string when it is UTF-8 text (by content type, or undeclared but valid UTF-8); else base64. */
export function encodeBody(buf: Buffer, contentType: string | undefined): { body: string | null; isBase64Encoded: boolean } {
  if (buf.length === 0) return { body: null, isBase64Encoded: false };
  const textual = contentType ? TEXT_TYPES.test(contentType.trim()) : true;
  if (textual && isUtf8(buf)) return { body: buf.toString('utf8'), isBase64Encoded: false };
  return { body: buf.toString('base64'), isBase64Encoded: true };
}

function requestTime(d: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export interface BuildEventInput {
  req: IncomingMessage;
  route: HttpRoute;
  path: string;
  params: Record<string, string>;
  search: URLSearchParams;
  body: Buffer;
  requestId: string;
  stage: string;
  now: Date;
}

export function buildProxyEvent(i: BuildEventInput): APIGatewayProxyEvent {
  // Headers as sent (rawHeaders keeps names and order); the same name in any case is one header.
  const multiValueHeaders: Record<string, string[]> = {};
  const canonical = new Map<string, string>();
  const raw = i.req.rawHeaders;
  for (let n = 0; n + 1 < raw.length; n += 2) {
    const name = raw[n] as string;
    const key = canonical.get(name.toLowerCase()) ?? name;
    canonical.set(name.toLowerCase(), key);
    (multiValueHeaders[key] ??= []).push(raw[n + 1] as string);
  }
  const sourceIp = i.req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
  // API Gateway appends the caller to X-Forwarded-For and sets the forwarding headers.
  const xff = canonical.get('x-forwarded-for');
  if (xff) multiValueHeaders[xff] = [`${(multiValueHeaders[xff] ?? []).join(', ')}, ${sourceIp}`];
  else multiValueHeaders['X-Forwarded-For'] = [sourceIp];
  if (!canonical.has('x-forwarded-proto')) multiValueHeaders['X-Forwarded-Proto'] = ['http'];
  if (!canonical.has('x-forwarded-port')) multiValueHeaders['X-Forwarded-Port'] = [String(i.req.socket.localPort ?? '')];
  const headers = Object.fromEntries(Object.entries(multiValueHeaders).map(([k, v]) => [k, v.at(-1) as string]));

  const mvq: Record<string, string[]> = {};
  for (const [k, v] of i.search) (mvq[k] ??= []).push(v);
  const hasQuery = Object.keys(mvq).length > 0;
  const query = hasQuery ? Object.fromEntries(Object.entries(mvq).map(([k, v]) => [k, v.at(-1) as string])) : null;
  const hasParams = Object.keys(i.params).length > 0;

  const contentType = headers[canonical.get('content-type') ?? 'Content-Type'];
  const { body, isBase64Encoded } = encodeBody(i.body, contentType);
  const host = headers[canonical.get('host') ?? 'Host'] ?? 'localhost';
  const userAgent = headers[canonical.get('user-agent') ?? 'User-Agent'] ?? null;

  return {
    resource: i.route.path,
    path: i.path,
    httpMethod: i.route.method,
    headers,
    multiValueHeaders,
    queryStringParameters: query,
    multiValueQueryStringParameters: hasQuery ? mvq : null,
    pathParameters: hasParams ? { ...i.params } : null,
    stageVariables: null,
    body,
    isBase64Encoded,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: 'local',
      authorizer: undefined,
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      extendedRequestId: i.requestId,
      httpMethod: i.route.method,
      path: `/${i.stage}${i.path}`,
      protocol: `HTTP/${i.req.httpVersion}`,
      requestId: i.requestId,
      requestTime: requestTime(i.now),
      requestTimeEpoch: i.now.getTime(),
      resourceId: 'local',
      resourcePath: i.route.path,
      stage: i.stage,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp,
        user: null,
        userAgent,
        userArn: null,
      },
    },
  };
}
