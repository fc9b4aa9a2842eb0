/**
 * The dashboards' built files (web/dist), served by the local HTTP server (local/http.ts) at the API's origin for
 * GET/HEAD paths no route claims, as CloudFront serves the static site beside the API when deployed (stacks/Web.ts).
 */
import { readFile } from 'node:fs/promises';
import nodePath from 'node:path';
import type { ServerResponse } from 'node:http';

const STATIC_TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon' };
/** The dashboards' policy: scripts and data from this origin only; inline style attributes (charts) allowed. */
const STATIC_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Serves one file of `dir` ("/" is index.html); false when there is no such file. Never leaves `dir`. */
export async function serveStatic(dir: string, urlPath: string, head: boolean, res: ServerResponse): Promise<boolean> {
  const rel = urlPath === '/' ? 'index.html' : urlPath.slice(1);
  if (rel.includes('..') || rel.includes('\\') || rel.includes('\0')) return false;
  const file = nodePath.join(dir, rel);
  if (!file.startsWith(nodePath.resolve(dir) + nodePath.sep)) return false;
  const type = STATIC_TYPES[nodePath.extname(file)];
  if (!type) return false;
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return false;
  }
  res.writeHead(200, {
    'content-type': type,
    'content-length': body.length,
    // index.html is revalidated (it names the bundle); the rest may be cached briefly.
    'cache-control': rel === 'index.html' ? 'no-cache' : 'public, max-age=300',
    'content-security-policy': STATIC_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(head ? undefined : body);
  return true;
}
